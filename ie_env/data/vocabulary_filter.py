"""Which concepts a query may never name, and which texts a person is never shown: the vocabulary filter.

``offensive`` removes a concept when

- WordNet itself marks it: its synset (or that one lemma of it) belongs to the usage domain obscenity
  (``n07124340``), ethnic slur (``n06718862``) or disparagement (``n06717170``), a ``;u`` pointer of ``data.noun``;
  only the marked sense goes ("boy" as a slur, not "boy" the male child);
- or a whole word or phrase of its lemma is on the English word list of the PyPI package ``badwords-py`` (the
  LDNOOBW list and others, maintained), matched by that package in whole-word mode: "giant fuckup", "jerk-off" and
  "mother fucker" are caught, "cocktail", "assassin" and "Essex" are not (a whole-word match has no Scunthorpe
  problem). The list catches what WordNet leaves unmarked ("fuckup", "cunt", "whore"); every sense of such a lemma
  goes, since the text sent is the lemma.

``none`` keeps everything (the paper's vocabulary). The live env filters by default, the offline env does not (an
offline world's episodes stay those of the paper's vocabulary); the report page hides filtered queries by default.
The filter is a mask over vocabulary positions (:func:`allowed_concepts`), so action spaces, concept embeddings and
their caches stay those of the whole vocabulary; agents draw only allowed concepts and the env refuses the others.
Why this list: ``experiments/vocabulary_filter.py`` measures the candidates on WordNet's lemmas.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

FILTERS = ("none", "offensive")
"""The vocabulary filters, by name."""

USAGE_DOMAINS = {"obscenity": "n07124340", "ethnic slur": "n06718862", "disparagement": "n06717170"}
"""WordNet usage domains whose members the ``offensive`` filter removes (name -> wnid)."""

WORD_LIST = "badwords-py"
"""The PyPI package whose English word list (and whole-word matcher) the ``offensive`` filter uses."""

MATCH_OPTIONS = {"match_mode": "token", "split_on_punctuation": True, "phrases": True}
"""How texts are matched against the list (``badwords.Options``): whole words only, hyphenated and apostrophe
compounds also tested piece by piece ("diddly-shit", "wren-tit"), multi-word entries against consecutive words."""


def check_filter(name: str) -> str:
    """``name`` if it is a vocabulary filter, else a one-line ``ValueError`` naming the valid ones."""
    if name not in FILTERS:
        raise ValueError(f"vocabulary_filter={name!r}: use one of {', '.join(FILTERS)}")
    return name


@lru_cache(maxsize=1)
def _matcher():
    try:
        from badwords import Options, ProfanityFilter
    except ModuleNotFoundError:
        raise RuntimeError("the offensive vocabulary filter needs the package badwords-py: pip install "
                           "'badwords-py>=3,<4' (or choose vocabulary_filter='none')") from None
    matcher = ProfanityFilter()
    matcher.init(languages=["en"])
    return matcher, Options(**MATCH_OPTIONS)


def offensive(texts: list[str]) -> list[bool]:
    """For each text (a lemma, a query, a descriptor, a caption): whether a whole word or phrase of it is on the
    word list."""
    matcher, options = _matcher()
    return [bool(x) for x in matcher.is_profane_many(list(texts), options)] if texts else []


def is_offensive(text: str) -> bool:
    """Whether a whole word or phrase of ``text`` is on the word list."""
    return offensive([text])[0]


def may_show(text: str, name: str = "offensive") -> bool:
    """Whether filter ``name`` lets ``text`` be sent as a query or shown to a person."""
    return check_filter(name) == "none" or not is_offensive(text)


_MASKS: dict[tuple[str, str], np.ndarray] = {}


def filtered_concepts(vocab, name: str = "offensive") -> np.ndarray:
    """A boolean mask over ``vocab``'s positions: ``True`` where filter ``name`` removes the concept."""
    check_filter(name)
    key = (vocab.fingerprint, name)
    if key not in _MASKS:
        mask = np.zeros(len(vocab), bool)
        if name == "offensive":
            mask[vocab.usage_marked(tuple(USAGE_DOMAINS.values()))] = True
            strings = sorted({lemma.lower() for lemma in vocab.lemmas})
            hit = dict(zip(strings, offensive(strings)))
            mask |= np.fromiter((hit[lemma.lower()] for lemma in vocab.lemmas), bool, len(vocab))
        mask.setflags(write=False)
        _MASKS[key] = mask
    return _MASKS[key]


def allowed_concepts(vocab, name: str) -> np.ndarray | None:
    """A boolean mask over ``vocab``'s positions, ``True`` where a query may name the concept; ``None`` when the
    filter removes nothing (``none``). Raises ``ValueError`` when it would remove every concept."""
    if check_filter(name) == "none":
        return None
    allowed = ~filtered_concepts(vocab, name)
    if not allowed.any():
        raise ValueError(f"the vocabulary filter {name!r} removes every one of the {len(vocab)} concepts: "
                         "widen the vocabulary or use vocabulary_filter='none'")
    return allowed


def filter_summary(vocab, name: str) -> dict:
    """How many concepts filter ``name`` removes from ``vocab``, and why (WordNet's mark, the word list), with a
    sample of the removed lemmas."""
    if check_filter(name) == "none":
        return {"vocabulary_filter": name, "filtered": 0}
    mask = filtered_concepts(vocab, name)
    marked = np.zeros(len(vocab), bool)
    marked[vocab.usage_marked(tuple(USAGE_DOMAINS.values()))] = True
    removed = sorted({vocab.lemmas[i] for i in np.flatnonzero(mask)}, key=str.lower)
    return {"vocabulary_filter": name, "filtered": int(mask.sum()),
            "filtered_strings": len({r.lower() for r in removed}),
            "sample": removed[:: max(1, len(removed) // 12)][:12],  # spread over the alphabet
            "filtered_by": {"wordnet_usage_domain": int(marked.sum()), "word_list_only": int((mask & ~marked).sum())},
            "word_list": f"{WORD_LIST} ({_matcher()[0].word_count()} English entries)"}
