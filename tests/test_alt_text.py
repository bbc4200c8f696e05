"""Per-image alt text: pixel words on synthetic images, and caption properties (determinism, variety, noise)."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from offline_cache.alt_text import (
    COLOURS,
    JARGON,
    OWNERS,
    PLACES,
    SOCIAL,
    AltTextConfig,
    alt_text,
    article,
    caption_kind,
    pixel_word_list,
    pixel_words,
    pixel_words_batch,
    plural,
)

NAMES = [
    "goldfish", "tabby cat", "sports car", "lemon", "teapot", "box", "fly", "mouse", "ox", "golden retriever",
    "umbrella", "acorn", "iPod", "bullfrog", "tarantula", "centipede", "goose", "jellyfish", "snail", "scorpion",
    "albatross", "koala", "cockroach", "mantis", "bison", "gazelle", "baboon", "abacus", "apron", "backpack",
    "barrel", "beaker", "broom", "bucket", "candle", "cannon", "cardigan", "chest", "desk", "dumbbell",
    "fountain", "hourglass", "kimono", "lampshade", "limousine", "obelisk", "oboe", "poncho", "sombrero", "wok",
]
HYPERNYM = "thing"


def flat(rgb, size=64):
    return np.broadcast_to(np.asarray(rgb, np.uint8), (size, size, 3)).copy()


def words_of(img):
    return pixel_word_list(pixel_words(img))


def has(text: str, word: str) -> bool:
    return re.search(r"(?<![\w-])" + re.escape(word.lower()) + r"(?![\w-])", text.lower()) is not None


# -- pixel words ------------------------------------------------------------------------------------------

def test_basic_colours_of_flat_images():
    expect = {"red": (220, 20, 20), "green": (30, 160, 40), "blue": (30, 60, 200), "yellow": (240, 220, 30),
              "orange": (250, 140, 20), "purple": (120, 40, 170), "pink": (250, 130, 200), "brown": (120, 70, 25),
              "white": (250, 250, 250), "black": (5, 5, 5)}
    for name, rgb in expect.items():
        w = pixel_words(flat(rgb))
        if name in ("white", "black"):
            assert w["black_and_white"], (name, w)
        else:
            assert w["colours"] == [name], (name, rgb, w)


def test_pure_red_image_is_red_and_not_black_and_white():
    w = pixel_words(flat((255, 0, 0)))
    assert w["colours"][0] == "red" and not w["black_and_white"]


def test_grey_image_is_black_and_white():
    rng = np.random.default_rng(0)
    img = np.clip(128 + rng.normal(0, 25, (64, 64, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    w = pixel_words(img)
    assert w["black_and_white"] and w["colours"] == []
    assert "black and white" in words_of(img)
    assert not pixel_words(flat((200, 40, 40)))["black_and_white"]


def test_dark_and_bright():
    assert pixel_words(flat((20, 15, 30)))["brightness"] == "dark"
    assert pixel_words(flat((245, 240, 235)))["brightness"] == "bright"
    assert pixel_words(flat((120, 110, 100)))["brightness"] is None


def test_busy_and_plain_background():
    rng = np.random.default_rng(1)
    img = flat((90, 120, 160))
    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ring = np.ones((64, 64), bool)
    ring[10:54, 10:54] = False
    img[ring] = noise[ring]
    assert pixel_words(img)["background"] == "busy background"
    assert pixel_words(flat((90, 120, 160)))["background"] == "plain background"
    # a smooth gradient is still plain
    grad = np.linspace(40, 220, 64).astype(np.uint8)[None, :, None].repeat(64, 0).repeat(3, 2)
    assert pixel_words(grad)["background"] == "plain background"


def test_two_colours_and_grey_skipped_next_to_a_colour():
    img = flat((128, 128, 128))
    img[16:48, 16:32] = (220, 20, 20)
    img[16:48, 32:48] = (30, 60, 200)
    w = pixel_words(img)
    assert sorted(w["colours"]) == ["blue", "red"]
    img = flat((128, 128, 128))
    img[16:48, 16:28] = (30, 160, 40)           # green covers 37.5% of the centre, grey the rest
    assert pixel_words(img)["colours"] == ["green"]


def test_small_colour_patch_is_not_named():
    img = flat((128, 128, 128))
    img[28:36, 28:36] = (255, 0, 0)             # 6% of the centre
    assert "red" not in pixel_words(img)["colours"]


def test_batch_matches_single_and_accepts_greyscale():
    rng = np.random.default_rng(2)
    imgs = rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    imgs[0] = flat((220, 20, 20))
    batch = pixel_words_batch(imgs)
    assert batch == [pixel_words(im) for im in imgs]
    grey = pixel_words_batch(np.full((3, 32, 32), 100, np.uint8))
    assert all(w["black_and_white"] for w in grey)
    with pytest.raises(TypeError):
        pixel_words(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError):
        pixel_words_batch(np.zeros((2, 64, 64, 5), np.uint8))


def test_batch_across_chunks():
    imgs = np.zeros((2100, 16, 16, 3), np.uint8)
    imgs[::2] = (220, 20, 20)
    out = pixel_words_batch(imgs)
    assert len(out) == 2100 and out[2048]["colours"] == ["red"] and out[2049]["black_and_white"]
    assert set(COLOURS) >= {c for w in out for c in w["colours"]}


# -- English helpers --------------------------------------------------------------------------------------

def test_plural_and_article():
    cases = {"box": "boxes", "fly": "flies", "mouse": "mice", "goldfish": "goldfish", "sports car": "sports cars",
             "ox": "oxen", "bus": "buses", "wok": "woks", "day": "days", "cup of coffee": "cups of coffee",
             "go-kart": "go-karts", "knife": "knives", "ATM": "ATMs", "binoculars": "binoculars",
             "goose": "geese", "German shepherd": "German shepherds", "potato": "potatoes"}
    for sing, plur in cases.items():
        assert plural(sing) == plur, sing
    assert article("apple") == "an" and article("lemon") == "a" and article("hourglass") == "an"
    assert article("European fire salamander") == "a" and article("unicorn") == "a" and article("HDR") == "an"
    assert article("umbrella") == "an" and article("iPod") == "an"


# -- captions ---------------------------------------------------------------------------------------------

def test_caption_is_deterministic_per_key_and_differs_across_keys():
    cfg = AltTextConfig(seed=3)
    w = pixel_words(flat((220, 20, 20)))
    a = alt_text("n01443537_7", ["goldfish", "Carassius auratus"], "cyprinid", w, cfg)
    assert a == alt_text("n01443537_7", ["goldfish", "Carassius auratus"], "cyprinid", w, AltTextConfig(seed=3))
    others = {alt_text(f"n01443537_{i}", ["goldfish", "Carassius auratus"], "cyprinid", w, cfg) for i in range(50)}
    assert len(others) >= 49
    other_seed = [alt_text(f"k{i}", ["goldfish"], "cyprinid", w, AltTextConfig(seed=4)) for i in range(50)]
    assert sum(a != b for a, b in zip(other_seed, [alt_text(f"k{i}", ["goldfish"], "cyprinid", w, cfg)
                                                   for i in range(50)])) >= 45


def test_ten_thousand_captions_are_nearly_all_distinct():
    cfg = AltTextConfig()
    rng = np.random.default_rng(0)
    bank = [{"colours": [], "brightness": None, "black_and_white": False, "background": None},
            {"colours": ["red"], "brightness": "dark", "black_and_white": False, "background": "busy background"},
            {"colours": ["blue", "white"], "brightness": "bright", "black_and_white": False,
             "background": "plain background"},
            {"colours": [], "brightness": None, "black_and_white": True, "background": None}]
    caps = [alt_text(f"img_{i}", [NAMES[i % 50]], HYPERNYM, bank[int(rng.integers(4))], cfg) for i in range(10_000)]
    assert len(set(caps)) / len(caps) >= 0.99
    assert len({c.lower() for c in caps}) / len(caps) >= 0.98
    assert 4 < np.mean([len(c.split()) for c in caps]) < 14


def test_true_captions_name_the_object():
    cfg = AltTextConfig()
    w = {"colours": ["green"], "brightness": None, "black_and_white": False, "background": "busy background"}
    for i in range(3000):
        name = NAMES[i % 50]
        cap = alt_text(f"k{i}", [name, "synonym" + str(i % 3)], HYPERNYM, w, cfg).lower()
        forms = [name, plural(name), "synonym" + str(i % 3), plural("synonym" + str(i % 3)), HYPERNYM]
        assert any(f.lower() in cap for f in forms), cap


def test_generic_captions_name_nothing():
    cfg = AltTextConfig()
    w = {"colours": ["orange"], "brightness": "dark", "black_and_white": True, "background": "busy background"}
    caps = [alt_text(f"g{i}", [NAMES[i % 50]], HYPERNYM, w, cfg, generic=True) for i in range(2000)]
    assert len(set(caps)) > 1500
    for c in caps:
        for word in NAMES + list(COLOURS) + [HYPERNYM, "black and white"]:
            assert not has(c, word), (c, word)


def test_ungrounded_lists_name_no_colour():
    assert len(PLACES) >= 60 and len(JARGON) >= 40 and len(OWNERS) >= 30
    for piece in PLACES + JARGON + OWNERS + SOCIAL:
        for colour in COLOURS:
            assert not has(piece, colour), (piece, colour)


def test_pixel_words_appear_only_when_true():
    cfg = AltTextConfig()
    none = {"colours": [], "brightness": None, "black_and_white": False, "background": None}
    red = {"colours": ["red"], "brightness": "dark", "black_and_white": False, "background": "plain background"}
    bw = {"colours": [], "brightness": None, "black_and_white": True, "background": None}
    plain = [alt_text(f"k{i}", ["teapot"], "pot", none, cfg) for i in range(2000)]
    for c in plain:
        assert not any(has(c, w) for w in list(COLOURS) + ["dark", "bright", "busy background", "plain background"])
    reds = [alt_text(f"k{i}", ["teapot"], "pot", red, cfg) for i in range(2000)]
    share = lambda caps, w: np.mean([has(c, w) for c in caps])  # noqa: E731
    assert 0.2 < share(reds, "red") < 0.5 and 0.15 < share(reds, "dark") < 0.45
    assert 0.1 < share(reds, "plain background") < 0.4
    assert 0.4 < share([alt_text(f"k{i}", ["teapot"], "pot", bw, cfg) for i in range(2000)], "black and white") < 0.8
    # a colour already in the name is not doubled ("green black stork")
    stork = [alt_text(f"s{i}", ["black stork"], "stork", {**red, "colours": ["green"]}, cfg) for i in range(500)]
    assert not any(has(c, "green") for c in stork)


def test_forms_and_case_variety():
    cfg = AltTextConfig()
    caps = [alt_text(f"k{i}", ["box", "crate"], "container", {}, cfg) for i in range(4000)]
    low = [c.lower() for c in caps]
    assert any("boxes" in c for c in low) and any("crate" in c for c in low) and any("container" in c for c in low)
    assert any(c == c.lower() for c in caps) and any(c[:1].isupper() for c in caps)
    assert any(c.isupper() for c in caps if any(ch.isalpha() for ch in c))
    assert any(re.search(r"\b[Aa] box\b", c) for c in caps)
    assert not any(re.search(r"\b[Aa]n (box|crate|container)\b", c) for c in caps)
    apples = [alt_text(f"k{i}", ["apple", "hourglass"], "fruit", {}, cfg) for i in range(500)]
    assert any(re.search(r"\b[Aa]n (apple|hourglass)\b", c) for c in apples)
    assert not any(re.search(r"\b[Aa] (apple|hourglass)\b", c) for c in apples)


def test_caption_kind_shares():
    cfg = AltTextConfig()
    kinds = Counter(caption_kind(f"n02123045_{i}", cfg) for i in range(20_000))
    assert abs(kinds["other_class"] / 20_000 - 0.05) < 0.01
    assert abs(kinds["other_noun"] / 20_000 - 0.03) < 0.008
    assert abs(kinds["generic"] / 20_000 - 0.02) < 0.006
    assert caption_kind("x", cfg) == caption_kind("x", AltTextConfig())
    clean = AltTextConfig(other_class=0, other_noun=0, generic=0)
    assert {caption_kind(f"k{i}", clean) for i in range(500)} == {"true"}


def test_config_validation():
    with pytest.raises(ValueError):
        AltTextConfig(other_class=0.7, other_noun=0.3, generic=0.2)
    with pytest.raises(ValueError):
        AltTextConfig(p_colour=1.5)
    with pytest.raises(ValueError):
        AltTextConfig(piece_weights=(0, 0, 0, 0))
    with pytest.raises(ValueError):
        alt_text("k", [], "", {}, AltTextConfig())
    assert AltTextConfig().noise == pytest.approx(0.10)
