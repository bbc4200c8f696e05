"""The offline text-to-image engine of a world (tinyweb): MiniLM query embedding + faiss over captions.

Works like the paper's LAION engine, with text captions in place of CLIP embeddings: the query is embedded and
answered by the images of its ``n`` nearest captions, one image each (every image of tinyweb 2 has its own
alt text; the rare images sharing a caption are separate entries). The search is exact: faiss's flat inner
product proposes the ``n + 32`` nearest images, whose similarities are then recomputed in float64 and rounded
to 1e-5; equal ones are broken by the image's position in the catalogue, so the same query always gets the same
answer and repeating it finds nothing new. A query for a concept the world lacks returns its nearest neighbours.

A flat search over tinyweb's 100,000 captions costs ~20-30 ms a query on two cores, the most of a frozen env
step. The texts agents query are mostly the vocabulary's lemmas, so :meth:`CaptionIndexEngine.use_answer_table`
answers all of them at once (batched, ~2.5 minutes for the 119,034 lemmas here, cached on disk by world and table):
the proposals of those texts are then read from the table, and the float64 re-ranking makes the answer the same
as a search's.

Worlds of version 1 (``tinyweb-v1``: many images per template caption) keep their engine: the nearest distinct
captions, each expanded into all its images (by sha256) until ``n`` are collected, so earlier figures reproduce.
"""
from __future__ import annotations

import hashlib
import sys
import time
from collections import OrderedDict
from dataclasses import replace

import faiss
import numpy as np
from tqdm.auto import tqdm

from ie_env.atomic import atomic_save_npy
from ie_env.data.text_embedding import TextEmbedder, duration
from ie_env.paths import cache_dir
from ie_env.types import SearchResult
from ie_env.web.search.base import SearchError
from offline_cache.tinyweb import open_world
from offline_cache.world import World

MARGIN = 32
"""Extra proposals beyond ``n`` re-ranked exactly, so that ties and rounding at the cut are decided in float64."""
ANSWER_DEPTH = 100 + MARGIN
"""Proposals stored per text by :meth:`CaptionIndexEngine.use_answer_table` (serves ``n`` up to 100, the paper's
cap on an answer's results)."""


class CaptionIndexEngine:
    """Search engine over an offline world's captions.

    Args:
        world: a world name (``tinyweb``), folder, or an opened :class:`offline_cache.tinyweb.World`.
        n: default number of results per query (20: an anonymous Openverse page; the paper's engine returned 100).
        cache_size: answers kept in memory (a repeated query costs nothing).
    """

    def __init__(self, world="tinyweb", n: int = 20, cache_size: int = 100_000):
        if n < 1:
            raise SearchError(f"n={n}: an engine must return at least one result per query")
        self.world = world if isinstance(world, World) else open_world(str(world))
        self.name = self.world.name
        self.n = n
        self.per_image = int((self.world.snapshot.get_meta("build") or {}).get("version", 1)) >= 2
        self._embed = TextEmbedder()
        emb = np.ascontiguousarray(self.world.caption_embeddings, dtype=np.float32)
        if self.per_image:
            emb = np.ascontiguousarray(emb[self.world.caption_ids])  # one entry per image
        self._index = faiss.IndexFlatIP(emb.shape[1])
        self._index.add(emb)
        if not self.per_image:
            order = np.lexsort((np.asarray(self.world.sha256), self.world.caption_ids))
            counts = np.bincount(self.world.caption_ids, minlength=len(self.world.caption_texts))
            self._groups = np.split(order, np.cumsum(counts)[:-1])  # image positions per caption, fixed order
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._emb = emb
        self._answers: tuple[dict[str, int], np.ndarray, str] | None = None

    def use_answer_table(self, name: str, rows: dict[str, int], embeddings: np.ndarray, progress: bool = True) -> None:
        """Answer every text of an embedding table (``name``, e.g. the vocabulary's lemmas; ``rows``: text ->
        row of ``embeddings``) at once, or load the answers cached on disk for this world and table: a query
        with one of these texts then costs a look-up. Per-image worlds only (version 1 keeps its searches)."""
        if not self.per_image or self._answers is not None and self._answers[2] == name:
            return
        digest = hashlib.blake2b(self._emb.tobytes(), digest_size=8).hexdigest()
        path = cache_dir() / "answers" / f"{self.name}-{digest}-{name}-{ANSWER_DEPTH}.npy"
        depth = min(ANSWER_DEPTH, self._index.ntotal)
        ids = np.load(path, mmap_mode="r", allow_pickle=False) if path.exists() else None
        if ids is None or ids.shape != (len(embeddings), depth):
            start = time.perf_counter()
            ids = np.empty((len(embeddings), depth), np.int32)
            block = 2048
            for n, s in enumerate(tqdm(range(0, len(embeddings), block), desc="answer table", unit="block",
                                       disable=not progress)):
                ids[s:s + block] = self._index.search(np.ascontiguousarray(embeddings[s:s + block], np.float32),
                                                      depth)[1]
                if n == 0 and progress and len(embeddings) > block:  # the notice's estimate: the first block's rate
                    left = (time.perf_counter() - start) * (len(embeddings) - block) / block
                    tqdm.write(f"answering the {len(embeddings):,} query texts of {name} over the "
                               f"{self._index.ntotal:,} captions of {self.name} once (about {duration(left)} more, "
                               "measured on the first block; cached): every such query is then a look-up",
                               file=sys.stderr)
            atomic_save_npy(path, ids)
            if progress:
                print(f"answer table ready in {time.perf_counter() - start:.0f} s: {path}", file=sys.stderr, flush=True)
        self._answers = (rows, ids, name)

    def search(self, query: str, n: int | None = None) -> list[SearchResult]:
        return self.search_batch([query], n)[0]

    def search_batch(self, queries: list[str], n: int | None = None) -> list[list[SearchResult]]:
        return [self._results(ids, sims) for ids, sims in self.search_ids_batch(queries, n)]

    def search_ids(self, query: str, n: int | None = None) -> np.ndarray:
        """The catalogue positions of the answer's images, best first (the fast path of :meth:`search`)."""
        return self.search_ids_batch([query], n)[0][0]

    def search_ids_batch(self, queries: list[str], n: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(positions, similarities)`` of each query's answer; answers are cached by (query, n)."""
        n = n or self.n
        known = {q: self._cache[(q, n)] for q in set(queries) if (q, n) in self._cache}  # read before answering:
        known.update(self._answer(set(queries) - known.keys(), n))  # a large batch may push them out of the cache
        return [known[q] for q in queries]

    def prefetch(self, queries: list[str], n: int | None = None) -> None:
        """Answer ``queries`` in one batch (one pass of the text model, one faiss search; ~3 ms a text here
        instead of ~10-40 ms one at a time) and keep the answers for the searches that follow. Answers kept from
        before are replaced: a batched text vector differs from a one-text one in the last bits (~1e-7), so the
        coming answers depend only on this batch, not on what was searched before: a run resumed at an iteration
        end answers alike when the agent's batches start there too (the GP agents' do when ``refit_every``
        divides the iteration, as by default; the oracle's when the iteration is a multiple of 256 queries)."""
        self._answer(set(queries), n or self.n)

    def _answer(self, texts: set[str], n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Rank ``texts`` in one batch (sorted: the batch depends only on the set), keep their answers, the
        newest last (an older answer to the same text is replaced), and return them."""
        texts = sorted(texts)
        answers = dict(zip(texts, self._rank(texts, n) if texts else []))
        for q, res in answers.items():
            self._cache.pop((q, n), None)
            self._cache[(q, n)] = res
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return answers

    @property
    def dim(self) -> int:
        """Dimension of the caption embeddings (384: MiniLM)."""
        return self._index.d

    def search_embedding(self, embedding: np.ndarray, n: int | None = None) -> list[SearchResult]:
        """The images of the captions nearest a query embedding given directly (``(dim,)``, L2-normalised)."""
        emb = np.asarray(embedding, np.float32).reshape(1, -1)
        if emb.shape[1] != self.dim:
            raise SearchError(f"embedding of dimension {emb.shape[1]}: the caption index has dimension {self.dim}")
        return self._results(*self._nearest(emb, n or self.n)[0])

    def _results(self, ids: np.ndarray, sims: np.ndarray) -> list[SearchResult]:
        rows = self.world.rows
        return [replace(rows[i], rank=r, meta={"wnid": rows[i].meta.get("wnid", ""), "similarity": float(s)})
                for r, (i, s) in enumerate(zip(ids.tolist(), sims.tolist()))]

    def _rank(self, queries: list[str], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        for q in queries:
            if not q.strip():
                raise SearchError("empty query: give a concept name such as 'tabby'")
        return self._nearest(self._embed(queries), n, texts=queries)

    def _nearest(self, emb: np.ndarray, n: int, texts: list[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(positions, similarities)`` of the answer to each row of ``emb`` (whose ``texts``, when given, are
        looked up in the answer table first)."""
        if not self.per_image:
            return self._rank_groups(emb, n)
        k = min(self._index.ntotal, n + MARGIN)
        table = self._answers if texts is not None and self._answers is not None else None
        rows = table[0] if table is not None and k <= table[1].shape[1] else {}
        proposals: list = [table[1][rows[t], :k] if t in rows else None for t in (texts or [None] * len(emb))]
        todo = [j for j, p in enumerate(proposals) if p is None]
        if todo:
            for j, ids in zip(todo, self._index.search(np.ascontiguousarray(emb[todo], np.float32), k)[1]):
                proposals[j] = ids
        return [self._exact(e, ids, n) for e, ids in zip(emb, proposals)]

    def _exact(self, emb: np.ndarray, ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``n`` of proposed positions ``ids``: similarities recomputed in float64 and rounded to 1e-5,
        ties by position."""
        ids = np.asarray(ids, np.int64)
        ids = ids[ids >= 0]
        sims = np.round(self._emb[ids].astype(np.float64) @ emb.astype(np.float64), 5)
        order = np.lexsort((ids, -sims))[:n]
        return ids[order], sims[order].astype(np.float32)

    def _rank_groups(self, emb: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Version 1: nearest distinct captions, each expanded into its images (widening k until n are found)."""
        n_caps = self._index.ntotal
        k = min(n_caps, 64)
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        rows = list(range(len(emb)))
        while rows:
            sims, ids = self._index.search(np.ascontiguousarray(emb[rows], dtype=np.float32), k)
            again = []
            for j, row in enumerate(rows):
                res = self._expand(sims[j], ids[j], n)
                if res is None and k < n_caps:
                    again.append(row)
                else:
                    out[row] = res if res is not None else self._expand(sims[j], ids[j], n, partial=True)
            rows = again
            k = min(n_caps, k * 4)
        return [out[r] for r in range(len(emb))]

    def _expand(self, sims, ids, n, partial=False):
        keep = ids >= 0
        sims, ids = np.round(sims[keep], 4), ids[keep]
        pos, sim = [], []
        for neg_sim, cid in sorted(zip(-sims, ids)):  # similarity first, caption id breaks ties
            for p in self._groups[cid]:
                pos.append(p)
                sim.append(-neg_sim)
                if len(pos) == n:
                    return np.asarray(pos, np.int64), np.asarray(sim, np.float32)
        return (np.asarray(pos, np.int64), np.asarray(sim, np.float32)) if partial else None
