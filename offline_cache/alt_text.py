"""Per-image alt text for an offline web: grounded pixel words plus LAION-like ungrounded noise.

Real alt text (LAION) is one caption per image, and most of it is not about the picture: owners, places,
dates, camera jargon, file names. Some of it is true of the pixels (colours, "black and white"). This module
gives every image of a world its own caption of that kind, so a caption-by-caption text search (one image per
nearest caption) behaves like the paper's LAION engine rather than like a search over a few thousand templates.

Two halves:

* :func:`pixel_words` / :func:`pixel_words_batch` read words off the pixels only: the 1-2 dominant basic
  colour terms of the central region (Berlin & Kay's eleven), "dark" / "bright", "black and white", and
  "busy background" / "plain background" from the edge density of a border ring. Thresholds are deliberately
  strict, so a word is true of the images that get it, and many images get none.
* :func:`alt_text` writes one caption from the names of a concept, its hypernym, the pixel words and a
  generator seeded by ``(cfg.seed, key)``: a name variant (synonym, hypernym, plural, longer phrase) in one of
  many sentence frames together with ungrounded pieces (places, owners, dates, photo jargon, file names,
  social-media tails), with the case variety of real alt text.

The caller decides what a caption is about: :func:`caption_kind` draws the noise kind of an image
("true", "other_class", "other_noun", "generic"); for the two wrong-concept kinds the caller passes that
concept's names, for "generic" it passes ``generic=True``.

Only the standard library, numpy and Pillow are used (Pillow only by callers that decode images).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "COLOURS", "AltTextConfig", "pixel_words", "pixel_words_batch", "pixel_word_list", "colour_codes", "alt_text",
    "caption_kind", "plural", "article", "PLACES", "JARGON", "OWNERS", "SOCIAL", "FRAMES",
]

# ----------------------------------------------------------------------------------------------------------
# Pixel words
# ----------------------------------------------------------------------------------------------------------

COLOURS = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
"""Berlin & Kay's eleven basic colour terms, in the order of the colour codes used below."""
_ACHROMATIC = 3                       # codes 0..2 are black, white, grey
_NONE = len(COLOURS)                  # code of a pixel no basic term fits well (beige, olive, skin, khaki ...)
_BLACK, _WHITE, _GREY, _RED, _ORANGE, _YELLOW, _GREEN, _BLUE, _PURPLE, _PINK, _BROWN = range(len(COLOURS))
_BITS = 5                             # colour lookup table resolution per channel

# Thresholds, on 0..255 values unless said otherwise. Calibrated on 20,000 Tiny ImageNet train photos by looking at
# image grids per word, strict rather than generous so a word is clearly true of the images that get it. On the
# 100,000 photos: busy background 12%, grey 7.6%, blue 7.3%, black 6.7%, green 4.8%, brown 3.9%, black and white
# 3.8%, white 3.7%, plain background 3.6%, bright 3.5%, dark 2.8%, red 2.5%, orange 2.1%, yellow 1.3%, pink 0.6%,
# purple 0.1%; 48% of the images get no pixel word at all.
CENTRE = 0.5            # the central region is the middle CENTRE x CENTRE of the image (a quarter of its area)
FIRST_MIN = np.array([.50, .45, .55, .30, .30, .30, .30, .30, .30, .30, .40])
"""Share of the central region a colour must cover to be named (per COLOURS entry): chromatic 30%, brown 40%,
white 45%, black 50%, grey 55%."""
SECOND_MIN = np.array([.30, .30, .35, .20, .20, .20, .20, .20, .20, .20, .25])
"""Share a second colour must cover to be named as well."""
GREY_SKIP = 0.20        # grey is never named when any chromatic colour covers >= 20% of the centre
BW_CHROMA = 16          # "black and white": at most BW_SHARE of the pixels have chroma (max-min) > 16
BW_SHARE = 0.03
DARK_MEAN = 52          # "dark": mean luminance < 52 (0.20)
BRIGHT_MEAN = 180       # "bright": mean luminance > 180 (0.71)
RING = 0.125            # the border ring is the outer 1/8 of the image on each side
EDGE_STEP = 20          # a ring pixel is an edge when a neighbour differs by > 20 in luminance
BUSY_MIN = 0.64         # "busy background": >= 64% of ring pixels are edges
PLAIN_MAX = 0.07        # "plain background": <= 7% of ring pixels are edges
CHUNK = 2048            # images per vectorised chunk


def _classify_hsv(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Colour code (index into COLOURS, or _NONE) of RGB values in [0, 1], by simple HSV rules."""
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    c = mx - mn
    v = mx
    s = np.where(mx > 0, c / np.maximum(mx, 1e-9), 0.0)
    safe = np.maximum(c, 1e-9)
    h = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
    h = np.where(c > 0, h, 0.0)
    out = np.full(r.shape, _NONE, np.uint8)

    achrom = (s < 0.18) | (c < 0.09)
    out[achrom & (v >= 0.80)] = _WHITE
    out[achrom & (v > 0.30) & (v < 0.80)] = _GREY
    out[achrom & (v <= 0.30)] = _BLACK
    out[v < 0.13] = _BLACK

    chrom = ~achrom & (v >= 0.13)
    # red: hue near 0; a dark red is maroon (left unnamed), a pale one pink
    red = chrom & ((h < 12) | (h >= 345))
    out[red & (s >= 0.50) & (v >= 0.40)] = _RED
    out[red & (s >= 0.25) & (s < 0.50) & (v >= 0.70)] = _PINK
    # orange / brown: hue 12-42; orange when vivid and light, brown when darker and clearly saturated
    orng = chrom & (h >= 12) & (h < 42)
    out[orng & (s >= 0.55) & (v >= 0.72)] = _ORANGE
    out[orng & (h >= 15) & (h < 40) & (s >= 0.40) & (v >= 0.20) & (v < 0.60)] = _BROWN
    # yellow: hue 42-66, vivid and light; olive and khaki are unnamed
    yel = chrom & (h >= 42) & (h < 66)
    out[yel & (s >= 0.45) & (v >= 0.65)] = _YELLOW
    # green, blue, purple
    out[chrom & (h >= 72) & (h < 165) & (s >= 0.25)] = _GREEN
    out[chrom & (h >= 180) & (h < 255) & (s >= 0.25)] = _BLUE
    out[chrom & (h >= 262) & (h < 292) & (s >= 0.35)] = _PURPLE
    # magenta: pink when light, purple when dark
    mag = chrom & (h >= 292) & (h < 345) & (s >= 0.25)
    out[mag & (v >= 0.55)] = _PINK
    out[mag & (v < 0.55) & (h < 330) & (s >= 0.40)] = _PURPLE
    return out


def _build_lut() -> np.ndarray:
    n = 1 << _BITS
    centres = (np.arange(n) + 0.5) * (256 / n) / 255.0
    r, g, b = np.meshgrid(centres, centres, centres, indexing="ij")
    return _classify_hsv(r.ravel(), g.ravel(), b.ravel())


_LUT = _build_lut()   # code of each quantised (r, g, b): index (r >> 3) << 10 | (g >> 3) << 5 | (b >> 3)


def colour_codes(images: np.ndarray) -> np.ndarray:
    """The colour code (index into COLOURS; 11 = no basic term) of every pixel of ``(..., 3)`` uint8 RGB."""
    shift = 8 - _BITS
    q = images >> shift
    idx = (q[..., 0].astype(np.uint16) << (2 * _BITS)) | (q[..., 1].astype(np.uint16) << _BITS) | q[..., 2]
    return _LUT[idx]


def _as_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8, got {images.dtype}")
    if images.ndim == 3:                     # (N, H, W) greyscale
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images must be (N, H, W, 3) uint8 RGB, got shape {images.shape}")
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    elif images.shape[-1] == 4:
        images = images[..., :3]
    if images.shape[1] < 4 or images.shape[2] < 4:
        raise ValueError(f"images of {images.shape[1]}x{images.shape[2]} are too small for pixel words")
    return images


def _measure(images: np.ndarray) -> dict[str, np.ndarray]:
    """Raw per-image measurements of a (n, H, W, 3) uint8 chunk."""
    n, hgt, wid, _ = images.shape
    # colour shares in the central region
    h0, w0 = int(round(hgt * (1 - CENTRE) / 2)), int(round(wid * (1 - CENTRE) / 2))
    centre = images[:, h0:hgt - h0, w0:wid - w0]
    codes = colour_codes(centre).reshape(n, -1).astype(np.intp)
    codes += (np.arange(n, dtype=np.intp) * (_NONE + 1))[:, None]
    shares = np.bincount(codes.ravel(), minlength=n * (_NONE + 1)).reshape(n, _NONE + 1) / codes.shape[1]
    # chroma over the whole image
    r, g, b = images[..., 0], images[..., 1], images[..., 2]
    chroma = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    colourful = (chroma > BW_CHROMA).reshape(n, -1).mean(axis=1)
    # luminance (ITU-R 601 weights in 8-bit fixed point)
    lum = (r.astype(np.uint16) * 77 + g.astype(np.uint16) * 150 + b.astype(np.uint16) * 29) >> 8
    mean_lum = lum.reshape(n, -1).mean(axis=1)
    # edge density in the border ring: a pixel is an edge when its right or lower neighbour differs a lot
    lum = lum.astype(np.int16)
    dx = np.abs(lum[:, :-1, 1:] - lum[:, :-1, :-1])
    dy = np.abs(lum[:, 1:, :-1] - lum[:, :-1, :-1])
    edge = (dx > EDGE_STEP) | (dy > EDGE_STEP)
    ring = _ring_mask(hgt - 1, wid - 1, max(1, int(round(min(hgt, wid) * RING))))
    edges = edge[:, ring].mean(axis=1)
    return {"shares": shares, "colourful": colourful, "mean_lum": mean_lum, "edges": edges}


def _ring_mask(h: int, w: int, b: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[:b], m[-b:], m[:, :b], m[:, -b:] = True, True, True, True
    return m


def _colour_picks(shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second colour code per image (-1 for none) from (n, 12) central-region shares."""
    sh = shares[:, :_NONE]
    no_grey = sh[:, _ACHROMATIC:].max(axis=1) >= GREY_SKIP
    rows = np.arange(len(sh))
    s1 = np.where(sh >= FIRST_MIN, sh, -1.0)
    s1[no_grey, _GREY] = -1.0
    first = s1.argmax(axis=1)
    has1 = s1[rows, first] > 0
    s2 = np.where(sh >= SECOND_MIN, sh, -1.0)
    s2[no_grey, _GREY] = -1.0
    s2[rows, first] = -1.0
    second = s2.argmax(axis=1)
    has2 = has1 & (s2[rows, second] > 0)
    return np.where(has1, first, -1), np.where(has2, second, -1)


def _words(first: int, second: int, colourful: float, mean_lum: float, edges: float) -> dict:
    bw = bool(colourful <= BW_SHARE)
    colours = [] if bw else [COLOURS[c] for c in (first, second) if c >= 0]
    brightness = "dark" if mean_lum < DARK_MEAN else "bright" if mean_lum > BRIGHT_MEAN else None
    background = "busy background" if edges >= BUSY_MIN else "plain background" if edges <= PLAIN_MAX else None
    return {"colours": colours, "brightness": brightness, "black_and_white": bw, "background": background}


def pixel_words_batch(images: np.ndarray) -> list[dict]:
    """Pixel words of every image of an ``(N, H, W, 3)`` uint8 RGB batch (greyscale ``(N, H, W)`` is accepted).

    Each result is ``{"colours": [...0-2 of COLOURS, most covered first], "brightness": "dark" | "bright" |
    None, "black_and_white": bool, "background": "busy background" | "plain background" | None}``.
    Vectorised in chunks of CHUNK images: 100,000 images of 64x64 take 5-15 s on one core (colour lookup table).
    """
    images = _as_batch(images)
    out: list[dict] = []
    for start in range(0, len(images), CHUNK):
        m = _measure(images[start:start + CHUNK])
        first, second = _colour_picks(m["shares"])
        for row in zip(first.tolist(), second.tolist(), m["colourful"].tolist(), m["mean_lum"].tolist(),
                       m["edges"].tolist()):
            out.append(_words(*row))
    return out


def pixel_words(rgb: np.ndarray) -> dict:
    """Pixel words of one ``(H, W, 3)`` uint8 RGB image; see :func:`pixel_words_batch`."""
    rgb = np.asarray(rgb)
    if rgb.ndim not in (2, 3):
        raise ValueError(f"one image must be (H, W, 3), got shape {rgb.shape}")
    return pixel_words_batch(rgb[None])[0]


def pixel_word_list(words: dict) -> list[str]:
    """All the words of a :func:`pixel_words` result as a flat list (colours, brightness, b&w, background)."""
    out = list(words.get("colours", []))
    if words.get("brightness"):
        out.append(words["brightness"])
    if words.get("black_and_white"):
        out.append("black and white")
    if words.get("background"):
        out.append(words["background"])
    return out


# ----------------------------------------------------------------------------------------------------------
# Ungrounded word lists (written for this world; none of them names a Tiny ImageNet class or a colour)
# ----------------------------------------------------------------------------------------------------------

PLACES = [
    "at the lake", "in Lisbon", "Grandma's garden", "in the backyard", "at the zoo", "in Kyoto",
    "on holiday in Crete", "near Oslo", "at the farmers market", "downtown", "in the living room",
    "at the cottage", "on the farm", "at the park", "in Central Park", "in Brooklyn", "at the museum",
    "in the studio", "at home", "in the kitchen", "on the balcony", "at the harbour", "in the mountains",
    "at the festival", "at the flea market", "in Marrakesh", "in Cape Town", "in Melbourne", "at the aquarium",
    "in the woods", "near the river", "on the porch", "at the county fair", "in the garage", "at school",
    "in Vancouver", "in Prague", "on the road to Sintra", "in Tuscany", "at Uncle Bob's", "in Dad's workshop",
    "at the office", "at the airport", "in Hanoi", "on the way to work", "in the city centre", "at the campsite",
    "in the desert", "at the botanical gardens", "in Reykjavik", "in Buenos Aires", "at the wedding",
    "on the pier", "in Nairobi", "in my room", "on the windowsill", "at the state park", "by the canal",
    "in Montreal", "in the snow", "at the weekend market", "in the hallway", "behind the house",
    "at Grandpa's place", "in Seoul", "in Bavaria", "at the summer house", "on the island", "in the countryside",
    "in Austin, TX", "at the Louvre", "in Edinburgh", "on a hike near Banff",
]
"""Where the photo was (not) taken."""

JARGON = [
    "f/2.8", "f/1.8", "f/8", "50mm", "85mm", "24-70mm", "35mm film", "HDR", "bokeh", "edited", "raw", "unedited",
    "#nofilter", "ISO 800", "ISO 100", "1/250s", "long exposure", "macro", "wide angle", "shot on iPhone",
    "shot on Pixel", "Canon EOS 5D", "Nikon D750", "Sony a7 III", "Fujifilm X-T3", "Lightroom preset", "VSCO",
    "HD wallpaper", "4K", "high resolution", "stock image", "royalty free", "close-up", "telephoto", "film grain",
    "Kodak Portra 400", "polaroid", "tilt-shift", "natural light", "flash", "handheld", "tripod", "panorama",
    "DSLR", "point and shoot", "portrait mode", "night mode", "double exposure", "cross-processed",
    "vintage filter", "sharpened", "denoised", "uncropped", "cropped", "1920x1080", "jpeg", "RAW+JPEG",
]
"""Camera and photo-editing jargon."""

OWNERS = [
    "my", "our", "my neighbour's", "Tom's", "Grandma's", "my sister's", "our neighbours'", "Anna's", "Dad's",
    "Mom's", "my friend's", "the kids'", "Uncle Bob's", "Maria's", "a friend's", "my cousin's", "Jake's",
    "Sophie's", "the school's", "our new", "my old", "Lucy's", "Mr. Patel's", "Kenji's", "the museum's",
    "grandpa's", "Aunt May's", "my boss's", "Ahmed's", "Olga's", "my roommate's", "the Smiths'",
]
"""Owners: a possessive put before a bare noun phrase."""

SOCIAL = [
    "via Flickr", "for sale", "free shipping", "#photography", "#instagood", "on Etsy", "| Pinterest",
    "see more", "Free Stock Photo", "(click to enlarge)", "– Wikimedia Commons", "please share", "lol",
    "new listing", "gallery", "#weekend", "image credit: me", "all rights reserved", "CC BY-SA", "best of 2015",
]
"""Tails of web pages and social media."""

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
SEASONS = ["summer", "spring", "autumn", "fall", "winter", "Christmas", "Easter", "Thanksgiving", "New Year"]

FRAMES: dict[int, list[str]] = {
    0: ["{np}", "{bare}", "photo of {np}", "{np}!", "{bare} close up", "just {np}", "{bare}?"],
    1: [
        "{own} {bare}", "{np} {place}", "{bare} {place}", "{place}: {np}", "{np}, {date}", "{date} - {bare}",
        "{bare} – {jargon}", "{np} ({jargon})", "{file} {bare}", "{bare} {file}", "{np} {social}",
        "{bare} {social}", "photo of {np} {place}", "{own} {bare}!", "{bare} | {date}", "{jargon} shot of {np}",
        "{bare} [{file}]", "Look at {own} {bare}", "{np} I saw {place}", "{date}: {own} {bare}",
    ],
    2: [
        "{own} {bare} {place}", "{np} {place}, {date}", "{bare} {place} ({jargon})", "{date} | {bare} | {jargon}",
        "{own} {bare}, {date}", "{file} - {bare} {place}", "stock photo: {bare} {social}, {date}",
        "{bare} {place} {social}", "{place}, {date}: {np}", "{jargon}, {jargon2}: {bare}",
        "{np} {place} #{tag}", "{own} {bare} – {jargon}", "Photo of {np} taken {place}, {date}",
        "{bare} ({date}) {file}", "{date} {own} {bare}", "{place} - {bare} - {jargon}",
    ],
    3: [
        "{own} {bare} {place}, {date}", "{np} {place} | {jargon} | {date}", "{date} – {own} {bare} ({jargon})",
        "{file}: {bare} {place}, {date}", "{bare} {place}. {jargon}, {jargon2}", "{own} {bare} {social} {date}",
        "{place}, {date}. {np}. {jargon}", "{bare} #{tag} #{tag2} {place}", "{file} {own} {bare} {social}",
        "{date}: {np} {place}, {jargon}",
    ],
}
"""Sentence frames by number of ungrounded pieces. {np}: noun phrase with article; {bare}: without article."""

_GENERIC_FRAMES = ["{file}", "{file}", "{file}", "{file} {place}", "{file} ({date})", "{file} {jargon}",
                   "{date} {file}", "untitled {n}", "image {n}", "{file} {social}", "{place} {date}",
                   "{date}", "photo {n}", "{file} - {jargon2}, {jargon}"]

_BG_TAILS = ["{bg}", "on a {bg}", "against a {bg}", "({bg})", "- {bg}", "with {bg}"]
_COLOUR_FORMS = ["{np}, mostly {c}", "{np} ({c})", "{np} – {c} tones", "{c} photo of {np}", "{np} in {c} colours",
                 "{np}, {c}"]
_COLOURISH = {"golden", "gold", "silver", "scarlet", "crimson", "violet", "gray", "tan", "ivory"}
_BW_FORMS = ["black and white photo of {np}", "{np} in black and white", "{np} (black and white)",
             "black and white {bare}", "{np}, black and white"]


@dataclass
class AltTextConfig:
    """How per-image alt text is written (every draw comes from ``random.Random(f"{seed}:{key}")``)."""

    seed: int = 0
    """Seed of the caption draws; a caption is a pure function of (seed, key, names, hypernym, words)."""
    other_class: float = 0.05
    """Share of images whose caption names another class of the world (drawn by :func:`caption_kind`)."""
    other_noun: float = 0.03
    """Share of images whose caption names a random noun of the vocabulary."""
    generic: float = 0.02
    """Share of images with a generic caption naming nothing (a file name, a date)."""
    p_synonym: float = 0.35
    """Probability of naming the object by a synonym drawn from ``names[1:]`` instead of ``names[0]``."""
    p_hypernym: float = 0.08
    """Probability of naming the object by its hypernym instead ("a cyprinid" for a goldfish)."""
    p_plural: float = 0.12
    """Probability of the plural form ("goldfishes" -> "goldfish", "boxes", "flies")."""
    p_phrase: float = 0.10
    """Probability of a longer phrase naming both ("goldfish (cyprinid)", "a goldfish, a kind of cyprinid")."""
    piece_weights: tuple[float, float, float, float] = (0.01, 0.30, 0.44, 0.25)
    """Weights of using 0, 1, 2 or 3 ungrounded pieces (place, owner, date, jargon, file name, tail)."""
    p_colour: float = 0.35
    """Probability of naming the dominant colour(s) when the image has any."""
    p_colour_adjective: float = 0.5
    """Given a colour is named: probability it is an adjective of the object ("red goldfish") rather than said of
    the picture ("goldfish, mostly red"); the colour is that of the image centre, not always the object's."""
    p_second_colour: float = 0.5
    """Probability of naming the second colour too ("red and white"), when there is one and colour is named."""
    p_brightness: float = 0.3
    """Probability of saying "dark" / "bright" when the image is."""
    p_bw: float = 0.6
    """Probability of saying "black and white" when the image is."""
    p_background: float = 0.25
    """Probability of saying "busy background" / "plain background" when the image has one."""
    case_weights: tuple[float, float, float, float, float] = (0.55, 0.22, 0.14, 0.06, 0.03)
    """Weights of keeping the case, capitalising the first letter, all lower, Title Case, ALL CAPS."""

    def __post_init__(self):
        for f in ("other_class", "other_noun", "generic", "p_synonym", "p_hypernym", "p_plural", "p_phrase",
                  "p_colour", "p_colour_adjective", "p_second_colour", "p_brightness", "p_bw", "p_background"):
            v = getattr(self, f)
            if not 0 <= v <= 1:
                raise ValueError(f"{f}={v} must lie in [0, 1]")
        if self.noise > 1:
            raise ValueError(f"other_class + other_noun + generic = {self.noise} exceeds 1")
        if self.p_hypernym + self.p_plural + self.p_phrase > 1:
            raise ValueError("p_hypernym + p_plural + p_phrase must not exceed 1")
        for f in ("piece_weights", "case_weights"):
            w = getattr(self, f)
            if any(x < 0 for x in w) or sum(w) <= 0:
                raise ValueError(f"{f}={w} must be non-negative with a positive sum")

    @property
    def noise(self) -> float:
        """The total share of images whose caption is not about them."""
        return self.other_class + self.other_noun + self.generic


def caption_kind(key: str, cfg: AltTextConfig) -> str:
    """The kind of an image's caption: "true", "other_class", "other_noun" or "generic".

    Drawn from its own stream ``random.Random(f"{seed}:{key}:kind")``; a caller picking the other concept
    deterministically can use ``random.Random(f"{seed}:{key}:about")``.
    """
    u = random.Random(f"{cfg.seed}:{key}:kind").random()
    if u < cfg.other_class:
        return "other_class"
    if u < cfg.other_class + cfg.other_noun:
        return "other_noun"
    if u < cfg.noise:
        return "generic"
    return "true"


# ----------------------------------------------------------------------------------------------------------
# English helpers
# ----------------------------------------------------------------------------------------------------------

_AN_EXCEPTIONS = ("hour", "honest", "honou", "heir", "herb")     # silent h: "an hour"
_A_EXCEPTIONS = ("uni", "use", "usu", "uti", "ura", "ure", "eu", "one", "once", "ewe", "ubiq", "ukulele", "uk")
_LETTER_AN = set("aefhilmnorsx")                               # "an F", "an HDR" (letters said with a vowel)
_IRREGULAR = {"mouse": "mice", "louse": "lice", "goose": "geese", "foot": "feet", "tooth": "teeth",
              "child": "children", "person": "people", "ox": "oxen", "man": "men", "woman": "women",
              "cactus": "cacti", "fungus": "fungi", "octopus": "octopuses", "leaf": "leaves", "loaf": "loaves",
              "wolf": "wolves", "calf": "calves", "half": "halves", "shelf": "shelves", "thief": "thieves",
              "knife": "knives", "wife": "wives", "life": "lives", "potato": "potatoes", "tomato": "tomatoes",
              "hero": "heroes", "echo": "echoes", "volcano": "volcanoes", "mosquito": "mosquitoes",
              "torpedo": "torpedoes", "genus": "genera", "die": "dice", "criterion": "criteria"}
_UNCHANGED = ("fish", "sheep", "deer", "moose", "bison", "series", "species", "salmon", "trout", "cattle",
              "swine", "aircraft", "offspring", "shrimp", "squid", "cod", "elk", "binoculars", "trunks",
              "glasses", "sunglasses", "scissors", "pants", "trousers", "shorts", "news", "means", "chassis",
              "guacamole", "rice", "sand", "grass", "milk", "coffee", "tea", "bread", "cheese", "snow", "thatch",
              "water", "wine", "honey", "furniture", "equipment", "mashed potato", "jeans", "pliers", "tongs")
_PLURALIA = ("binoculars", "glasses", "trunks", "scissors", "pants", "trousers", "shorts", "jeans", "pliers",
             "tongs", "clothes")
"""Nouns that are plural in form: no article ("binoculars", not "a binoculars")."""
_MASS = ("guacamole", "rice", "sand", "grass", "milk", "coffee", "bread", "cheese", "snow", "thatch", "water",
         "wine", "honey", "furniture", "equipment", "mashed potato")
"""Common mass nouns: no article and no plural ("guacamole", not "a guacamole")."""
_CH_K = ("monarch", "stomach", "epoch", "patriarch", "matriarch", "oligarch", "loch", "eunuch")
_MAN_NOT_MEN = ("human", "german", "roman", "shaman", "caiman", "cayman", "ottoman", "talisman", "norman", "walkman",
                "doberman", "desman", "dolman", "hetman")


def article(phrase: str) -> str:
    """"a" or "an" for the phrase that follows (by its first word's sound, with the common exceptions)."""
    word = phrase.strip().split(" ", 1)[0].strip("\"'([")
    if not word:
        return "a"
    low = word.lower()
    if word.isupper() and len(word) <= 5 and word.isalpha():       # acronyms said letter by letter: "an HDR"
        return "an" if low[0] in _LETTER_AN else "a"
    if low[0].isdigit():
        return "an" if low.startswith(("8", "11", "18")) and not low.startswith(("80", "800")) else "a"
    if low.startswith(_AN_EXCEPTIONS):
        return "an"
    if low.startswith(_A_EXCEPTIONS):
        return "a"
    return "an" if low[0] in "aeiou" else "a"


def _plural_word(word: str) -> str:
    low = word.lower()
    for sing, plur in _IRREGULAR.items():
        if low == sing or (low.endswith(sing) and sing in ("mouse", "louse", "goose", "man", "woman", "foot",
                                                            "tooth", "wife", "knife", "leaf")
                           and len(low) > len(sing) and not low.endswith(_MAN_NOT_MEN)):
            out = word[:len(word) - len(sing)] + plur
            return out.upper() if word.isupper() else out
    if low.endswith(_UNCHANGED):
        return word
    if low.endswith(_CH_K):
        return word + "s"
    if word.isupper() and len(word) > 1:                    # ATM -> ATMs
        return word + "s"
    if re.search(r"(s|x|z|ch|sh)$", low):
        return word + "es"
    if re.search(r"[^aeiou]y$", low):
        return word[:-1] + "ies"
    return word + "s"


def plural(name: str) -> str:
    """A simple English plural of a noun phrase: its head word is inflected ("cup of tea" -> "cups of tea").

    box -> boxes, fly -> flies, mouse -> mice, goldfish -> goldfish, sports car -> sports cars.
    """
    name = name.strip()
    m = re.match(r"^(.*?)(\s+(?:of|in|on|for|with|de|du)\s.*)$", name)
    head, tail = (m.group(1), m.group(2)) if m else (name, "")
    parts = head.rsplit(" ", 1)
    last = parts[-1]
    if "-" in last and not tail:                           # go-kart -> go-karts, bow-tie -> bow-ties
        pre, _, post = last.rpartition("-")
        last = pre + "-" + _plural_word(post)
    else:
        last = _plural_word(last)
    return (parts[0] + " " + last if len(parts) == 2 else last) + tail


# ----------------------------------------------------------------------------------------------------------
# Captions
# ----------------------------------------------------------------------------------------------------------

def _ordinal(d: int) -> str:
    return f"{d}{'th' if 10 <= d % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th')}"


def _date(rng: random.Random) -> str:
    y, m, d = rng.randint(1995, 2023), rng.randint(1, 12), rng.randint(1, 28)
    mon = MONTHS[m - 1]
    return rng.choice([
        f"{y}", f"{y}", f"{rng.choice(SEASONS)} {y}", f"{mon} {_ordinal(d)}", f"{mon} {_ordinal(d)}, {y}",
        f"{d:02d}/{m:02d}/{y}", f"{m}/{d}/{y % 100:02d}", f"{y}-{m:02d}-{d:02d}", f"{mon[:3]} {y}",
        f"{rng.choice(SEASONS)} '{y % 100:02d}", f"({y})", f"{d} {mon} {y}", f"{mon} {y}",
    ])


def _file(rng: random.Random) -> str:
    n4, n5 = rng.randint(1, 9999), rng.randint(1000, 99999)
    y, m, d = rng.randint(2008, 2023), rng.randint(1, 12), rng.randint(1, 28)
    hh, mm, ss = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    ext = rng.choice([".jpg", ".JPG", ".jpeg", ".png", "", "", ""])
    return rng.choice([
        f"IMG_{n4:04d}{ext}", f"DSC_{n4:04d}{ext}", f"DSC{n5:05d}{ext}", f"photo ({rng.randint(1, 40)}){ext or '.png'}",
        f"image-{y}-{m:02d}-{d:02d}{ext}", f"P10{n5:05d}{ext}", f"{y}{m:02d}{d:02d}_{hh:02d}{mm:02d}{ss:02d}{ext}",
        f"Screenshot {y}-{m:02d}-{d:02d} at {hh:02d}.{mm:02d}.{ss:02d}", f"download ({rng.randint(1, 30)}).jpeg",
        f"WhatsApp Image {y}-{m:02d}-{d:02d} at {hh:02d}.{mm:02d}.{ss:02d}", f"untitled-{rng.randint(1, 99)}",
        f"scan{n4:04d}.tif", f"GOPR{n4:04d}{ext}", f"PXL_{y}{m:02d}{d:02d}_{hh:02d}{mm:02d}{ss:02d}{n4 % 1000:03d}",
        f"_MG_{n4:04d}{ext}", f"DSCF{n4:04d}{ext}", f"image{rng.randint(0, 9)} ({rng.randint(1, 9)}){ext}",
        f"FB_IMG_{n5}{n4:04d}{ext}",
    ])


def _tag(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text.title() if " " in text else text)


_FIELDS = re.compile(r"\{(\w+)\}")


def _fill(frame: str, rng: random.Random, slots: dict[str, str]) -> str:
    """Fill a frame; ungrounded fields are drawn on first use (in frame order, from ``rng``)."""
    def draw(m):
        f = m.group(1)
        if f not in slots:
            if f == "place":
                slots[f] = rng.choice(PLACES)
            elif f == "own":
                slots[f] = rng.choice(OWNERS)
            elif f == "date":
                slots[f] = _date(rng)
            elif f in ("jargon", "jargon2"):
                other = slots.get("jargon2" if f == "jargon" else "jargon")
                slots[f] = rng.choice([j for j in JARGON if j != other])
            elif f == "file":
                slots[f] = _file(rng)
            elif f == "social":
                slots[f] = rng.choice(SOCIAL)
            elif f in ("tag", "tag2"):
                pool = [_tag(x) for x in PLACES[:20]] + ["photooftheday", "nature", "picoftheday", "love",
                                                         "instadaily", "travel", "home", "explore"]
                other = slots.get("tag2" if f == "tag" else "tag")
                slots[f] = rng.choice([t for t in pool if t != other])
            elif f == "n":
                slots[f] = str(rng.randint(1, 9999))
            else:
                raise KeyError(f"unknown field {{{f}}} in frame {frame!r}")
        return slots[f]
    return _FIELDS.sub(draw, frame)


def _recase(text: str, rng: random.Random, weights) -> str:
    mode = rng.choices(range(5), weights=weights)[0]
    if mode == 1:
        return text[:1].upper() + text[1:]
    if mode == 2:
        return text.lower()
    if mode == 3:
        return re.sub(r"(^|\s)([(\[\"'#]?)([a-z])", lambda m: m.group(1) + m.group(2) + m.group(3).upper(), text)
    if mode == 4:
        return text.upper()
    return text


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _generic(rng: random.Random) -> str:
    return _tidy(_fill(rng.choice(_GENERIC_FRAMES), rng, {}))


def alt_text(key: str, names: list[str], hypernym: str, words: dict, cfg: AltTextConfig,
             noise_name: str | None = None, generic: bool = False) -> str:
    """The alt text of one image: deterministic from ``random.Random(f"{cfg.seed}:{key}")`` and the inputs.

    Args:
        key: the image's key (its identity in the world).
        names: synonyms of the concept the caption is about, preferred name first (for noise captions the
            caller passes the other concept's names).
        hypernym: a name of that concept's parent (used by the hypernym and long-phrase forms); "" for none.
        words: the image's :func:`pixel_words`.
        cfg: the :class:`AltTextConfig`.
        noise_name: if given, this name is used instead of a draw from ``names`` (a caller that has already
            chosen the wrong concept's name); the draws are otherwise the same.
        generic: write a generic caption (file name, date, place, jargon) that names no concept.
    """
    rng = random.Random(f"{cfg.seed}:{key}")
    if generic:
        return _generic(rng)
    names = [n.replace("_", " ").strip() for n in names if n and n.strip()]
    if not names and not noise_name:
        raise ValueError("alt_text needs at least one name (or generic=True)")
    hypernym = (hypernym or "").replace("_", " ").strip()

    # 1. the name and its form
    if noise_name:
        name = noise_name.replace("_", " ").strip()
        rng.random()
    else:
        name = rng.choice(names[1:]) if len(names) > 1 and rng.random() < cfg.p_synonym else names[0]
        if len(names) == 1:
            rng.random()
    u = rng.random()
    is_plural = False
    if hypernym and hypernym.lower() != name.lower() and u < cfg.p_hypernym:
        head = hypernym
    elif u < cfg.p_hypernym + cfg.p_plural:
        head, is_plural = plural(name), True
    elif hypernym and hypernym.lower() != name.lower() and u < cfg.p_hypernym + cfg.p_plural + cfg.p_phrase:
        head = rng.choice(["{n} ({h})", "{n}, a kind of {h}", "{h} / {n}", "{h} ({n})", "{h}: {n}",
                           "{n} - {h}"]).format(n=name, h=hypernym)
    else:
        head = name

    # 2. grounded adjectives from the pixels
    adjs: list[str] = []
    bw = bool(words.get("black_and_white")) and rng.random() < cfg.p_bw
    bright = words.get("brightness")
    if bright and rng.random() < cfg.p_brightness:
        adjs.append(bright)
    colours = list(words.get("colours") or [])
    if set(re.findall(r"[a-z]+", f"{name} {head}".lower())) & (set(COLOURS) | _COLOURISH):  # no "green black stork"
        colours = []
    scene = ""                        # the colour said of the picture rather than of the object
    if colours and not words.get("black_and_white") and rng.random() < cfg.p_colour:
        if len(colours) > 1 and rng.random() < cfg.p_second_colour:
            colour = rng.choice([f"{colours[0]} and {colours[1]}", f"{colours[0]}-{colours[1]}"])
        else:
            colour = colours[0]
        if rng.random() < cfg.p_colour_adjective:
            adjs.append(colour)
        else:
            scene = colour
    if len(adjs) == 2 and rng.random() < 0.5:                 # "red, dark goldfish" / "dark red goldfish"
        adjs = [adjs[0] + ","] + adjs[1:] if rng.random() < 0.3 else adjs
    bare = " ".join(adjs + [head])
    lead = hypernym if hypernym and head.startswith(hypernym) else name     # the noun the article goes with
    if not is_plural and lead.lower().endswith(_PLURALIA + _MASS):
        is_plural = True                                        # "binoculars", "guacamole": no article
    np_ = bare if is_plural or rng.random() < 0.15 else f"{article(bare)} {bare}"
    if rng.random() < 0.12 and not is_plural:
        np_ = f"the {bare}"
    if scene:
        form = rng.choice(_COLOUR_FORMS)
        np_, bare = form.format(np=np_, c=scene), form.format(np=bare, c=scene)
    if bw:
        form = rng.choice(_BW_FORMS)
        np_, bare = form.format(np=np_, bare=bare), form.format(np=bare, bare=bare)

    # 3. the background: after the noun phrase ("goldfish on a plain background"), as a tail, or stock-photo style
    bg = words.get("background")
    bg_mode = None
    if bg and rng.random() < cfg.p_background:
        bg_mode = rng.choices(["inline", "tail", "stock"], weights=[0.35, 0.5, 0.15])[0]
        if bg_mode in ("inline", "stock"):
            phrase = rng.choice([f"on {article(bg)} {bg}", f"against {article(bg)} {bg}", f"with {article(bg)} {bg}"])
            np_, bare = f"{np_} {phrase}", f"{bare} {phrase}"

    # 4. the frame and its ungrounded pieces
    k = rng.choices(range(len(cfg.piece_weights)), weights=cfg.piece_weights)[0]
    frame = rng.choice(FRAMES[min(k, max(FRAMES))])
    text = _fill(frame, rng, {"np": np_, "bare": bare})
    if bg_mode == "stock":
        text = rng.choice(["stock photo: ", "Stock Photo - ", "stock image of "]) + text
    elif bg_mode == "tail":
        tail = rng.choice(_BG_TAILS).replace("a {bg}", f"{article(bg)} {bg}").replace("{bg}", bg)
        text = f"{text} {tail}" if not text.endswith(("!", "?")) else f"{text[:-1]} {tail}{text[-1]}"

    return _tidy(_recase(text, rng, cfg.case_weights))
