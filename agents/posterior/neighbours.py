"""Each candidate's most similar observed concepts: a sorted list of slots and cosines per candidate, merged
with every batch of new concepts."""
from __future__ import annotations

import numpy as np
import torch

PAD = -1
"""Slot of an empty list entry."""

MERGE_STEP = 256
"""New concepts per merge: bounds the M x step similarity block."""


class NeighbourLists:
    """Per candidate, the ``k`` most similar observed concepts (slots ``idx``, cosines ``sim``), most similar
    first; ``PAD`` / -inf fill lists while fewer concepts are observed. The variance uses the first ``kv``."""

    def __init__(self, m: int, k: int, kv: int):
        self.k, self.kv = k, kv
        self.idx = np.full((m, k), PAD, np.int32)
        self.sim = np.full((m, k), -np.inf, np.float32)

    def restore(self, idx, sim) -> None:
        """Take lists saved from another instance (a checkpoint)."""
        self.idx = np.asarray(idx, np.int32).copy()
        self.sim = np.asarray(sim, np.float32).copy()

    def merge(self, emb_t: torch.Tensor, e_new: np.ndarray, first_slot: int) -> np.ndarray:
        """Merge new concepts (embeddings ``e_new``, slots ``first_slot``, ``first_slot + 1``, ...) into every
        list (one M x b GEMM, then a top-k over the rows they enter). Returns, per candidate, whether its first
        ``kv`` entries changed."""
        m, b, k = len(self.idx), len(e_new), self.k
        changed = np.zeros(m, bool)
        for s0 in range(0, b, MERGE_STEP):
            s1 = min(b, s0 + MERGE_STEP)
            sims = emb_t @ torch.from_numpy(np.ascontiguousarray(e_new[s0:s1].T))  # (M, step)
            cur_sim, cur_idx = torch.from_numpy(self.sim), torch.from_numpy(self.idx)
            # only rows where a new concept beats the list's last (least similar) entry change
            rows = torch.nonzero(sims.max(dim=1).values > cur_sim[:, -1]).flatten()
            if len(rows) == 0:
                continue
            all_sim = torch.cat([cur_sim[rows], sims[rows]], dim=1)
            all_idx = torch.cat([cur_idx[rows], torch.arange(
                first_slot + s0, first_slot + s1, dtype=torch.int32).expand(len(rows), s1 - s0)], dim=1)
            # lists stay sorted by similarity, most similar first (the variance uses the first `kv`)
            top_sim, pos = torch.topk(all_sim, k, dim=1, sorted=True)
            top_idx = torch.gather(all_idx, 1, pos)
            cur_sim[rows] = top_sim
            cur_idx[rows] = top_idx
            r = rows.numpy()
            changed[r] |= (top_idx[:, :self.kv] >= first_slot + s0).any(dim=1).numpy()
        return changed

    def containing(self, slots: np.ndarray) -> np.ndarray:
        """Per candidate, whether any of ``slots`` is in its list."""
        return np.isin(self.idx, slots).any(axis=1)
