"""Which word list should the offensive-vocabulary filter use? Measures candidate PyPI packages on WordNet's nouns.

For each candidate that is installed (``pip install badwords-py better-profanity profanityfilter glin-profanity
profanex magic-profanity pyobscenity alt-profanity-check``; the project depends on the chosen one only) it prints,
over the 146,347 lemma-synset pairs:

- ``list``: entries of its English word list (those spelled with letters, digits, spaces, hyphens, apostrophes);
- ``strings`` / ``concepts``: distinct lemma strings and concepts it removes, matching whole words of a lemma (the
  same plain matcher, :func:`word_matches`, for every list; ``badwords-py (its matcher)`` is what the project runs:
  :func:`ie_env.data.vocabulary_filter.offensive`; the packages without a plain list with their own detector);
- ``marked``: how many of the lemma strings WordNet itself marks (usage domain obscenity, ethnic slur,
  disparagement) it catches as well;
- ``probes``: how many of :data:`MUST_GO` (offensive lemmas WordNet does not mark) it catches;
- ``ordinary``: how many of :data:`MUST_STAY` (ordinary nouns with an offensive substring or sense) it removes:
  each is a false positive;
- ``seconds``: time to test every distinct lemma string.

Then a sample of the removals of each. Run: ``python experiments/vocabulary_filter.py [--sample 25]``.
"""
from __future__ import annotations

import argparse
import importlib.resources
import importlib.util
import json
import re
import time

from ie_env.data.vocabulary import load_vocabulary
from ie_env.data.vocabulary_filter import USAGE_DOMAINS, filter_summary, offensive

MUST_GO = ("fuckup", "motherfucker", "cocksucker", "bullshit", "asshole", "shithead", "dickhead", "whore",
           "jerk-off", "blowjob", "cunt", "twat", "wanker", "nigger", "faggot", "kike", "spic", "bitch", "pussy",
           "shitter", "arse", "prick", "fucker", "slut", "piss")
"""Offensive WordNet lemmas, most of them carrying no usage-domain mark."""
MUST_STAY = ("cocktail", "assassin", "Essex", "Sussex", "Hancock", "shiitake", "analysis", "therapist", "grape",
             "title", "cockatoo", "peacock", "dickens", "cumin", "Dickinson", "class", "passage", "bass", "document",
             "button", "organ", "slope", "stroke", "homo sapiens", "pawn", "Komodo dragon", "pelican", "kumquat",
             "buckwheat", "sniper", "uterus", "screw", "god", "Uranus", "bastard wing")
"""Ordinary nouns whose spelling holds an offensive word, or that a word list names for another sense."""


def normalise_words(entries) -> frozenset[str]:
    """A word list as the set of its entries' words joined by one space; entries spelled with other characters
    than letters, digits, spaces, hyphens and apostrophes (leetspeak such as ``a$$``) are left out: no lemma is."""
    out = set()
    for entry in entries:
        entry = entry.strip().lower()
        if entry and re.match(r"^[a-z0-9][a-z0-9 '\-]*$", entry):
            out.add(" ".join(re.findall(r"[a-z0-9]+", entry)))
    out.discard("")
    return frozenset(out)


def word_matches(text: str, entries: frozenset[str]) -> bool:
    """Whether a run of whole words of ``text`` (hyphens, spaces and apostrophes break words) is an entry."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return any(" ".join(words[i:i + n]) in entries for n in range(1, min(len(words), 4) + 1)
               for i in range(len(words) - n + 1))


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


WORD_LISTS = {"better-profanity": ("better_profanity", "profanity_wordlist.txt"),
              "profanityfilter": ("profanityfilter", "data/badwords.txt"),
              "badwords-py": ("badwords", "resource/words/en.txt"),
              "magic-profanity": ("magic_profanity", "wordlist.txt"),
              "glin-profanity": ("glin_profanity", "data/dictionaries/english.json"),
              "profanex": ("profanex", "data/banned_words.yaml")}
"""Candidate -> (module, its English word list file); the candidates are optional: imported by name when installed."""


def word_lists() -> dict[str, list[str]]:
    """The English word list of each installed candidate that ships one."""
    out: dict[str, list[str]] = {}
    for name, (module, path) in WORD_LISTS.items():
        if not _installed(module):
            continue
        text = importlib.resources.files(module).joinpath(path).read_text(encoding="utf-8")
        if path.endswith(".json"):
            out[name] = json.loads(text)["words"]
        elif path.endswith(".yaml"):  # category: [- word, ...]
            out[name] = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")]
        else:
            out[name] = text.splitlines()
    return out


def detectors() -> dict:
    """Candidates with a matcher of their own, on a list of lemma strings."""
    out = {}
    if _installed("badwords"):
        out["badwords-py (its matcher)"] = offensive  # what the project runs
    if _installed("pyobscenity"):
        check = importlib.import_module("pyobscenity").check
        out["pyobscenity (its matcher)"] = lambda texts: [check(t) for t in texts]
    if _installed("profanity_check"):
        predict_prob = importlib.import_module("profanity_check").predict_prob
        out["alt-profanity-check (p >= 0.5)"] = lambda texts: predict_prob(texts) >= 0.5
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sample", type=int, default=25, help="removals shown per candidate")
    p.add_argument("--json", action="store_true", help="one JSON document of the counts on the last line")
    args = p.parse_args(argv)
    vocab = load_vocabulary()
    strings = sorted({lem.lower() for lem in vocab.lemmas})
    by_string: dict[str, int] = {}
    for lem in vocab.lemmas:
        by_string[lem.lower()] = by_string.get(lem.lower(), 0) + 1
    marked_at = vocab.usage_marked(tuple(USAGE_DOMAINS.values()))
    marked = {vocab.lemmas[i].lower() for i in marked_at}
    print(f"{len(vocab)} concepts, {len(strings)} distinct lemma strings; WordNet marks {len(marked_at)} concepts "
          f"({len(marked)} strings) with a usage domain among {', '.join(USAGE_DOMAINS)}")
    rows = {}
    for name, words in word_lists().items():
        entries = normalise_words(words)
        start = time.perf_counter()
        removed = {s for s in strings if word_matches(s, entries)}
        rows[name] = (len(entries), removed, time.perf_counter() - start)
    for name, detect in detectors().items():
        start = time.perf_counter()
        removed = {s for s, flag in zip(strings, detect(strings)) if flag}
        rows[name] = (None, removed, time.perf_counter() - start)
    if not rows:
        raise SystemExit("no candidate installed: pip install badwords-py better-profanity profanityfilter "
                         "glin-profanity profanex magic-profanity pyobscenity alt-profanity-check")
    head = f"{'candidate':32} {'list':>5} {'strings':>7} {'concepts':>8} {'marked':>7} {'probes':>6} {'ordinary':>8} " \
           f"{'seconds':>7}"
    print(head)
    summary = {}
    for name, (size, removed, secs) in rows.items():
        go = sum(s.lower() in removed for s in MUST_GO)
        stay = [s for s in MUST_STAY if s.lower() in removed]
        concepts = sum(by_string[s] for s in removed)
        print(f"{name:32} {size if size is not None else '-':>5} {len(removed):>7} {concepts:>8} "
              f"{len(removed & marked):>3}/{len(marked):<3} {go:>3}/{len(MUST_GO):<2} "
              f"{len(stay):>3}/{len(MUST_STAY):<4} {secs:>7.1f}")
        missed = [s for s in MUST_GO if s.lower() not in removed]
        summary[name] = {"list": size, "strings": len(removed), "concepts": concepts, "marked": len(removed & marked),
                         "probes": go, "ordinary_removed": stay, "missed_probes": missed}
    for name, (_, removed, _) in rows.items():
        extra = sorted(removed - marked)
        step = max(1, len(extra) // max(1, args.sample))
        sample = ", ".join(extra[::step][:args.sample])
        print(f"\n{name}: removes {len(extra)} strings WordNet does not mark, e.g. {sample}")
        print(f"  misses of the probes: {', '.join(summary[name]['missed_probes']) or '-'}; ordinary nouns removed: "
              f"{', '.join(summary[name]['ordinary_removed']) or '-'}")
    total = filter_summary(vocab, "offensive")
    print(f"\nthe project's filter (WordNet's marks + {total['word_list']}): {total['filtered']} concepts "
          f"({total['filtered_strings']} strings) of {len(vocab)}")
    if args.json:
        print(json.dumps(summary | {"offensive_filter": total}))


if __name__ == "__main__":
    main()
