"""The offline text-to-image engine of a world (tinyweb): MiniLM query embedding + faiss over captions.

Works like the paper's LAION engine, with text captions in place of CLIP image embeddings: the query is
embedded, the nearest distinct captions are found with an exact inner-product index, and their images are
returned in caption order until ``n`` results are collected. Images sharing one caption come in a fixed order
(by the sha256 of their bytes), and captions with equal similarity by caption id, so the same query always
gets the same answer. A query for a concept the world lacks returns its nearest neighbours.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

import faiss
import numpy as np

from ie_env.data.text_embedding import TextEmbedder
from ie_env.types import SearchResult
from ie_env.web.search.base import SearchError
from offline_cache.tinyweb import open_world
from offline_cache.world import World


class CaptionIndexEngine:
    """Search engine over an offline world's captions.

    Args:
        world: a world name (``tinyweb``), folder, or an opened :class:`offline_cache.tinyweb.World`.
        n: default number of results per query (the paper's engine returns 100).
        cache_size: answers kept in memory (a repeated query costs nothing).
    """

    def __init__(self, world="tinyweb", n: int = 100, cache_size: int = 100_000):
        if n < 1:
            raise SearchError(f"n={n}: an engine must return at least one result per query")
        self.world = world if isinstance(world, World) else open_world(str(world))
        self.name = self.world.name
        self.n = n
        self._embed = TextEmbedder()
        self._index = faiss.IndexFlatIP(self.world.caption_embeddings.shape[1])
        self._index.add(np.ascontiguousarray(self.world.caption_embeddings, dtype=np.float32))
        order = np.lexsort((np.asarray(self.world.sha256), self.world.caption_ids))
        counts = np.bincount(self.world.caption_ids, minlength=len(self.world.caption_texts))
        self._groups = np.split(order, np.cumsum(counts)[:-1])  # image positions per caption, fixed order
        self._cache: OrderedDict[tuple[str, int], list[SearchResult]] = OrderedDict()
        self._cache_size = cache_size

    def search(self, query: str, n: int | None = None) -> list[SearchResult]:
        return self.search_batch([query], n)[0]

    def search_batch(self, queries: list[str], n: int | None = None) -> list[list[SearchResult]]:
        n = n or self.n
        todo = sorted({q for q in queries if (q, n) not in self._cache})
        if todo:
            for q, res in zip(todo, self._rank(todo, n)):
                self._cache[(q, n)] = res
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return [self._cache[(q, n)] for q in queries]

    @property
    def dim(self) -> int:
        """Dimension of the caption embeddings (384: MiniLM)."""
        return self._index.d

    def search_embedding(self, embedding: np.ndarray, n: int | None = None) -> list[SearchResult]:
        """The images of the captions nearest a query embedding given directly (``(dim,)``, L2-normalised)."""
        emb = np.asarray(embedding, np.float32).reshape(1, -1)
        if emb.shape[1] != self.dim:
            raise SearchError(f"embedding of dimension {emb.shape[1]}: the caption index has dimension {self.dim}")
        return self._nearest(["<embedding>"], emb, n or self.n)[0]

    def _rank(self, queries: list[str], n: int) -> list[list[SearchResult]]:
        for q in queries:
            if not q.strip():
                raise SearchError("empty query: give a concept name such as 'tabby'")
        return self._nearest(queries, self._embed(queries), n)

    def _nearest(self, queries: list[str], emb: np.ndarray, n: int) -> list[list[SearchResult]]:
        """Results for each row of ``emb`` (labelled by the distinct ``queries``), in sorted query order."""
        n_caps = self._index.ntotal
        k = min(n_caps, 64)
        out = []
        while queries:
            sims, ids = self._index.search(emb, k)
            again = []
            for qi, q in enumerate(queries):
                res = self._expand(q, sims[qi], ids[qi], n)
                if res is None and k < n_caps:
                    again.append(qi)
                else:
                    out.append((q, res if res is not None else self._expand(q, sims[qi], ids[qi], n, partial=True)))
            queries = [queries[i] for i in again]
            emb = emb[again]
            k = min(n_caps, k * 4)
        order = {q: r for q, r in out}
        return [order[q] for q in sorted(order)]

    def _expand(self, query, sims, ids, n, partial=False):
        keep = ids >= 0
        sims, ids = np.round(sims[keep], 4), ids[keep]
        ranked = sorted(zip(-sims, ids))  # similarity first, caption id breaks ties
        results: list[SearchResult] = []
        for neg_sim, cid in ranked:
            for pos in self._groups[cid]:
                row = self.world.rows[pos]
                results.append(replace(row, rank=len(results), meta={"wnid": row.meta.get("wnid", ""),
                                                                     "similarity": float(-neg_sim)}))
                if len(results) == n:
                    return results
        return results if partial else None
