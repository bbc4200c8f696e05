"""Each candidate's most similar observed concepts: a sorted list of slots and cosines per candidate, merged
with every batch of new concepts."""
from __future__ import annotations

import numpy as np
import torch

PAD = -1
"""Slot of an empty list entry."""

MERGE_STEP = 256
"""New concepts per merge: bounds the M x step similarity block."""

DENSE_ENTRIES = 4_000_000
"""Above this many new entries in a merge (short lists, early on) they are taken densely, k per row."""


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
        list. Returns, per candidate, whether its first ``kv`` entries changed.

        One M x b GEMM gives the cosines to the new concepts; only those above a list's last (least similar)
        entry can enter it, about b k / n per list once n concepts are observed. Those few are gathered
        (sparse; while lists are short, each row's best k instead), laid beside each changed list and merged by
        one stable sort per list: equal cosines keep the older slot first."""
        m, b, k = len(self.idx), len(e_new), self.k
        changed = np.zeros(m, bool)
        for s0 in range(0, b, MERGE_STEP):
            s1 = min(b, s0 + MERGE_STEP)
            sims = emb_t @ torch.from_numpy(np.ascontiguousarray(e_new[s0:s1].T))  # (M, step)
            above = sims > torch.from_numpy(self.sim[:, -1:])
            count = above.sum(dim=1, dtype=torch.int32).numpy()
            rows = np.flatnonzero(count)
            if len(rows) == 0:
                continue
            if count.sum() > DENSE_ENTRIES:  # short lists early on: every row's best new entries, densely
                q = min(k, s1 - s0)
                top_sim, top_pos = torch.topk(sims[torch.from_numpy(rows)], q, dim=1, sorted=False)
                new_sim, new_idx = top_sim.numpy(), top_pos.to(torch.int32).numpy() + (first_slot + s0)
            else:
                hit = torch.nonzero(above).numpy()  # (E, 2): row, column, by row
                c = count[rows]
                at = np.repeat(np.arange(len(rows)), c)
                col = np.arange(len(hit)) - np.repeat(np.cumsum(c) - c, c)
                new_sim = np.full((len(rows), int(c.max())), -np.inf, np.float32)
                new_idx = np.full(new_sim.shape, PAD, np.int32)
                new_sim[at, col] = sims.numpy()[hit[:, 0], hit[:, 1]]
                new_idx[at, col] = hit[:, 1] + (first_slot + s0)
            all_sim = np.concatenate([self.sim[rows], new_sim], axis=1)
            all_idx = np.concatenate([self.idx[rows], new_idx], axis=1)
            order = np.argsort(-all_sim, axis=1, kind="stable")[:, :k]  # most similar first
            self.sim[rows] = np.take_along_axis(all_sim, order, axis=1)
            self.idx[rows] = np.take_along_axis(all_idx, order, axis=1)
            changed[rows] |= (order[:, :self.kv] >= k).any(axis=1)
        return changed

    def containing(self, slots: np.ndarray) -> np.ndarray:
        """Per candidate, whether any of ``slots`` is in its list."""
        return np.isin(self.idx, slots).any(axis=1)
