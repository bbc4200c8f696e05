"""The concept vocabulary: every WordNet 3.0 noun lemma, read straight from WordNet's data files.

Debian's ``wordnet-base`` ships ``data.noun`` and ``index.noun`` (format: WordNet's wndb(5) manual) but not
the ``index.sense``/``lexnames`` files nltk's reader wants, so this module parses them directly. The result
is 146,347 (lemma, synset) pairs over 82,115 noun synsets; each concept carries its wnid (``n`` + the
8-digit offset, as ImageNet uses), the synset's nltk-style name (``dog.n.01``), its first hypernym's lemma,
its definition, and the text ``"{lemma} ({hypernym}): {definition}"`` that the paper embeds.
The parser also keeps WordNet's usage-domain pointers (``;u``: "this synset, or one of its lemmas, is an
obscenity / ethnic slur / trade name ..."), which :mod:`ie_env.data.vocabulary_filter` reads.
The parsed vocabulary is cached as JSON under the cache directory, keyed by the data file's size and mtime.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from collections import deque
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ie_env.atomic import atomic_write_bytes
from ie_env.paths import cache_dir, wordnet_dir

FORMAT = 3


@dataclass(frozen=True)
class Concept:
    """One (lemma, synset) pair of the vocabulary."""

    index: int
    lemma: str
    wnid: str
    synset: str
    hypernym: str
    definition: str

    @property
    def text(self) -> str:
        return f"{self.lemma} ({self.hypernym}): {self.definition}"


def _parse(wn: Path) -> dict:
    """Parse data.noun and index.noun into plain columns (lists) and the synset graph."""
    synsets: dict[str, dict] = {}
    order: list[str] = []
    with open(wn / "data.noun", encoding="utf-8") as f:
        for line in f:
            if line.startswith("  "):  # licence header
                continue
            data, _, gloss = line.partition(" | ")
            parts = data.split()
            offset = parts[0]
            n_words = int(parts[3], 16)
            words = [parts[4 + 2 * i] for i in range(n_words)]
            pos = 4 + 2 * n_words
            n_ptrs = int(parts[pos])
            parents, usage = [], []
            for j in range(n_ptrs):
                symbol, target, target_pos, source_target = parts[pos + 1 + 4 * j: pos + 5 + 4 * j]
                if symbol in ("@", "@i") and target_pos == "n":
                    parents.append("n" + target)
                elif symbol == ";u":  # member of a usage domain; source word 0 = the whole synset (wndb(5))
                    usage.append(["n" + target, int(source_target[:2], 16)])
            definition = gloss.strip().split('; "')[0].strip().strip('"').strip()
            wnid = "n" + offset
            synsets[wnid] = {"words": words, "parents": parents, "definition": definition, "usage": usage}
            order.append(wnid)
    # Synset names (dog.n.01): the sense number of the synset among its first lemma's senses in index.noun.
    senses: dict[str, list[str]] = {}
    with open(wn / "index.noun", encoding="utf-8") as f:
        for line in f:
            if line.startswith("  "):
                continue
            parts = line.split()
            n_synsets = int(parts[2])
            senses[parts[0]] = ["n" + o for o in parts[-n_synsets:]]
    names: dict[str, str] = {}
    for wnid in order:
        first = synsets[wnid]["words"][0].lower()
        # Adjective-marker-free nouns; the index lowercases lemmas.
        offsets = senses.get(first, [])
        number = offsets.index(wnid) + 1 if wnid in offsets else 1
        names[wnid] = f"{first}.n.{number:02d}"

    def lemma_text(word: str) -> str:
        return word.replace("_", " ")

    cols: dict[str, list] = {"lemma": [], "wnid": [], "hypernym": []}
    for wnid in order:
        s = synsets[wnid]
        hyper = lemma_text(synsets[s["parents"][0]]["words"][0]) if s["parents"] else lemma_text(s["words"][0])
        for word in s["words"]:
            cols["lemma"].append(lemma_text(word))
            cols["wnid"].append(wnid)
            cols["hypernym"].append(hyper)
    return {
        "format": FORMAT,
        "concepts": cols,
        "senses": senses,
        "synsets": {w: {"name": names[w], "parents": s["parents"], "definition": s["definition"],
                        "lemmas": [lemma_text(x) for x in s["words"]]} for w, s in synsets.items()},
        "usage": {w: s["usage"] for w, s in synsets.items() if s["usage"]},
    }


class Vocabulary:
    """All WordNet noun concepts, indexable by position (the env's action) and searchable by name.

    Args:
        data: the parsed columns from :func:`load_vocabulary` (use that function rather than this class).
        subset: optional positions to keep (a narrowed vocabulary, e.g. for tests or label-set mode).
    """

    def __init__(self, data: dict, subset: list[int] | None = None):
        self._synsets: dict[str, dict] = data["synsets"]
        cols = data["concepts"]
        idx = range(len(cols["lemma"])) if subset is None else subset
        self.lemmas: list[str] = [cols["lemma"][i] for i in idx]
        self.wnids: list[str] = [cols["wnid"][i] for i in idx]
        self.hypernyms: list[str] = [cols["hypernym"][i] for i in idx]
        self._data = data
        if not self.lemmas:
            raise ValueError("the vocabulary is empty: the filter left no concept; widen it")

    def __len__(self) -> int:
        return len(self.lemmas)

    def __getitem__(self, i: int) -> Concept:
        w = self.wnids[i]
        s = self._synsets[w]
        return Concept(i, self.lemmas[i], w, s["name"], self.hypernyms[i], s["definition"])

    @cached_property
    def texts(self) -> list[str]:
        """The paper's concept texts, ``"{lemma} ({hypernym}): {definition}"``, in vocabulary order."""
        return [f"{lem} ({hyp}): {self._synsets[w]['definition']}"
                for lem, hyp, w in zip(self.lemmas, self.hypernyms, self.wnids)]

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the concept texts: changes whenever the vocabulary does."""
        h = hashlib.sha256()
        for t in self.texts:
            h.update(t.encode())
            h.update(b"\0")
        return h.hexdigest()[:16]

    @property
    def n_synsets(self) -> int:
        return len(set(self.wnids))

    def subset(self, positions: list[int]) -> Vocabulary:
        """A narrowed vocabulary (positions are re-numbered from 0)."""
        base = self._data["concepts"]
        # Map back to the full table through lemma/wnid pairs so subsets of subsets work.
        full = {(l, w): i for i, (l, w) in enumerate(zip(base["lemma"], base["wnid"]))}
        return Vocabulary(self._data, [full[(self.lemmas[p], self.wnids[p])] for p in positions])

    # --- the synset graph -------------------------------------------------------------------------
    def synset_name(self, wnid: str) -> str:
        return self._synsets[wnid]["name"]

    def synset_lemmas(self, wnid: str) -> list[str]:
        return list(self._synsets[wnid]["lemmas"])

    def definition(self, wnid: str) -> str:
        return self._synsets[wnid]["definition"]

    def parents(self, wnid: str) -> list[str]:
        return list(self._synsets[wnid]["parents"])

    @property
    def synset_ids(self) -> list[str]:
        """Every noun synset of WordNet (wnids), whether or not this vocabulary keeps one of its lemmas."""
        return list(self._synsets)

    @cached_property
    def _by_name(self) -> dict[str, str]:
        return {s["name"]: w for w, s in self._synsets.items()}

    def wnid(self, name: str) -> str:
        """The wnid of a synset given as ``dog.n.01`` or as a wnid (``n02084071``)."""
        if name in self._synsets:
            return name
        if name in self._by_name:
            return self._by_name[name]
        raise KeyError(f"unknown synset {name!r}: give a WordNet noun synset name like 'dog.n.01' or a wnid like 'n02084071'")

    def ancestors(self, wnid: str) -> set[str]:
        """All hypernyms (class and instance) of a synset, transitively, including itself."""
        seen = {wnid}
        todo = deque([wnid])
        while todo:
            for p in self._synsets[todo.popleft()]["parents"]:
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen

    def usage_marked(self, domains) -> list[int]:
        """Positions of the concepts WordNet puts in one of the usage ``domains`` (wnids, e.g. ``n07124340``,
        obscenity): every lemma of a synset marked as a whole, or the one lemma a lexical pointer names."""
        domains = {self.wnid(d) for d in domains}
        usage = self._data.get("usage", {})
        out = []
        for i, (lemma, w) in enumerate(zip(self.lemmas, self.wnids)):
            for domain, word in usage.get(w, ()):
                if domain in domains and (word == 0 or self._synsets[w]["lemmas"][word - 1] == lemma):
                    out.append(i)
                    break
        return out

    def is_under(self, wnid: str, ancestor: str) -> bool:
        return ancestor in self.ancestors(wnid)

    def under(self, synsets) -> list[int]:
        """Positions of the concepts whose synset is one of ``synsets`` (names like ``dog.n.01`` or wnids) or
        lies under one. Raises ``ValueError`` when that leaves no concept."""
        roots = [self.wnid(s.strip()) for s in synsets if s.strip()]
        children: dict[str, list[str]] = {}
        for w, s in self._synsets.items():
            for p in s["parents"]:
                children.setdefault(p, []).append(w)
        keep, todo = set(roots), deque(roots)
        while todo:
            for c in children.get(todo.popleft(), []):
                if c not in keep:
                    keep.add(c)
                    todo.append(c)
        out = [i for i, w in enumerate(self.wnids) if w in keep]
        if not out:
            raise ValueError(f"the vocabulary filter {list(synsets)} leaves no concept: give synsets that have noun "
                             "lemmas in this vocabulary, e.g. animal.n.01")
        return out

    @cached_property
    def _lemma_index(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, lem in enumerate(self.lemmas):
            out.setdefault(lem.lower(), []).append(i)
        return out

    def find(self, text: str) -> list[int]:
        """Positions of the concepts whose lemma is ``text`` (case-insensitive), most common sense first."""
        key = text.strip().lower().replace("_", " ")
        senses = self._data["senses"].get(key.replace(" ", "_"), [])
        rank = {w: i for i, w in enumerate(senses)}
        return sorted(self._lemma_index.get(key, []), key=lambda i: rank.get(self.wnids[i], len(rank)))


def load_vocabulary(wordnet: Path | None = None) -> Vocabulary:
    """Parse (or load from cache) the full WordNet noun vocabulary."""
    wn = Path(wordnet) if wordnet else wordnet_dir()
    st = (wn / "data.noun").stat()
    path = cache_dir() / f"vocabulary-v{FORMAT}-{st.st_size}-{int(st.st_mtime)}.json.gz"
    if path.exists():
        try:
            return Vocabulary(json.loads(gzip.decompress(path.read_bytes())))
        except (OSError, ValueError, EOFError):
            path.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
    data = _parse(wn)
    atomic_write_bytes(path, gzip.compress(json.dumps(data).encode(), compresslevel=3))
    return Vocabulary(data)


_SUFFIX_PREFIXES = ("in ", "on ", "at ", "with ", "under ", "near ")


def descriptor_text(descriptor: str, lemma: str) -> str:
    """The query text of a concept with a descriptor: ``descriptor_text("baby", "duck") == "baby duck"``;
    a prepositional descriptor goes after it: ``descriptor_text("in the snow", "fox") == "fox in the snow"``."""
    descriptor, lemma = descriptor.strip(), lemma.strip()
    if not descriptor:
        return lemma
    if descriptor.lower().startswith(_SUFFIX_PREFIXES):
        return f"{lemma} {descriptor}"
    return f"{descriptor} {lemma}"
