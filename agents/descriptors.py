"""Offline descriptors ("baby duck"): adjectives an agent can put before a concept to vary its query.

Repeating a query brings back the same results, so an agent gets more out of a good concept by varying it.
Sources, chosen by name with :func:`load_descriptors` (per agent):

- ``visual``: a curated list of ~50 words that change what a photo shows (age, colour, setting, framing).
- ``wordnet``: the most frequent WordNet 3.0 adjectives (sense-tagged counts of ``cntlist.rev``).
- ``wordnet-attribute``: the WordNet adjectives that value a noun attribute (``=`` pointers in ``data.adj``,
  e.g. large -> size, young -> age), most frequent first.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ie_env.data.vocabulary import descriptor_text  # noqa: F401  (agents import it from here)
from ie_env.paths import wordnet_dir

VISUAL_DESCRIPTORS: tuple[str, ...] = (
    "baby", "young", "adult", "old", "small", "large", "giant", "tiny", "wild", "domestic",
    "red", "black", "white", "brown", "grey", "yellow", "green", "blue", "spotted", "striped",
    "close-up of", "photo of", "side view of", "front view of", "portrait of", "group of", "two", "flying",
    "running", "sleeping", "swimming", "standing", "jumping", "eating", "in the snow", "in the grass",
    "on the road", "in the water", "in a field", "at night", "in the forest", "on the beach", "in the city",
    "cute", "furry", "wet", "vintage", "toy", "cartoon", "painting of",
)
"""Curated visual descriptors (50)."""

SOURCES = ("visual", "wordnet", "wordnet-attribute")


def _clean(word: str) -> str:
    word = word.split("(")[0]  # syntactic markers: galore(ip)
    return word.replace("_", " ").strip()


@lru_cache(maxsize=4)
def _adjective_counts(wn: str) -> dict[str, int]:
    """Sense-tagged frequency of each adjective lemma (cntlist.rev; 0 when the file is missing)."""
    counts: dict[str, int] = {}
    path = Path(wn) / "cntlist.rev"
    if not path.exists():
        return counts
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            lemma, _, rest = parts[0].partition("%")
            if rest[:1] in ("3", "5"):  # adjective, adjective satellite
                counts[lemma] = counts.get(lemma, 0) + int(parts[2])
    return counts


@lru_cache(maxsize=4)
def _adjectives(wn: str) -> tuple[list[str], set[str]]:
    """All adjective lemmas of data.adj (file order) and those of synsets with attribute pointers."""
    path = Path(wn) / "data.adj"
    if not path.exists():
        raise FileNotFoundError(f"WordNet adjectives not found at {path}: install Debian's wordnet-base or set IE_WORDNET_DIR")
    words: list[str] = []
    attribute: set[str] = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("  "):
                continue
            parts = line.split(" | ")[0].split()
            n = int(parts[3], 16)
            lemmas = [parts[4 + 2 * i] for i in range(n)]
            pos = 4 + 2 * n
            ptrs = [parts[pos + 1 + 4 * j] for j in range(int(parts[pos]))]
            words.extend(lemmas)
            if "=" in ptrs:
                attribute.update(lemmas)
    return words, attribute


def wordnet_adjectives(n: int = 200, attribute_only: bool = False, wordnet: Path | None = None) -> list[str]:
    """The ``n`` most frequent WordNet adjectives (optionally only attribute values), one word each."""
    wn = str(wordnet or wordnet_dir())
    words, attribute = _adjectives(wn)
    counts = _adjective_counts(wn)
    seen: dict[str, int] = {}
    for i, w in enumerate(words):
        key = w.split("(")[0].lower()
        if attribute_only and w not in attribute:
            continue
        if key not in seen:
            seen[key] = i
    ranked = sorted(seen, key=lambda w: (-counts.get(w, 0), seen[w]))
    out = []
    for w in ranked:
        text = _clean(w)
        if text and text.replace(" ", "").replace("-", "").isalpha():
            out.append(text)
        if len(out) >= n:
            break
    return out


def load_descriptors(source: str, n: int = 200) -> list[str]:
    """Descriptors from ``source`` ("visual", "wordnet", "wordnet-attribute"); ``n`` caps the WordNet lists."""
    if source == "visual":
        return list(VISUAL_DESCRIPTORS)
    if source == "wordnet":
        return wordnet_adjectives(n)
    if source == "wordnet-attribute":
        return wordnet_adjectives(n, attribute_only=True)
    raise ValueError(f"unknown descriptor source {source!r}: choose one of {', '.join(SOURCES)}, 'context' or 'none'")
