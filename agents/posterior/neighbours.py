"""Each candidate's most similar observed concepts: a sorted list of slots and cosines per candidate, merged
with every batch of new concepts."""
from __future__ import annotations

import numpy as np
import torch

from agents.posterior.linalg import times

PAD = -1
"""Slot of an empty list entry."""

MERGE_STEP = 256
"""New concepts per merge: bounds the M x step similarity block (at most 256: a column takes 8 bits of the sort key)."""


def descending_bits(values: np.ndarray) -> np.ndarray:
    """Non-negative int64 codes of float32 values that sort in the opposite order (largest value first)."""
    bits = values.astype(np.float32).view(np.int32).astype(np.int64)
    ordered = np.where(bits < 0, bits ^ 0x7FFFFFFF, bits)  # increasing with the value
    return (2**31 - 1) - ordered


def value_of_bits(codes: np.ndarray) -> np.ndarray:
    """The float32 values of :func:`descending_bits` codes."""
    ordered = (2**31 - 1) - codes
    bits = np.where(ordered < 0, ordered ^ 0x7FFFFFFF, ordered)
    return bits.astype(np.int32).view(np.float32)


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
        (sparse), sorted within their list, and inserted: an entry's place is its rank among the new ones plus
        the number of old entries at least as similar (a batched binary search), an old entry moves down by the
        number of new ones placed before it. Equal cosines keep the older slot first. While fewer than
        ``6 k`` concepts are observed the new entries are taken densely (each row's best k)."""
        m, b, k = len(self.idx), len(e_new), self.k
        changed = np.zeros(m, bool)
        cur_sim_t, cur_idx_t = torch.from_numpy(self.sim), torch.from_numpy(self.idx)
        for s0 in range(0, b, MERGE_STEP):
            s1 = min(b, s0 + MERGE_STEP)
            sims = times(emb_t, e_new[s0:s1].T)  # (M, step), in the products' precision
            if first_slot + s0 < 6 * k:  # short lists: every row's best new entries, densely
                q = min(k, s1 - s0)
                rows = torch.arange(m)
                new_sim, pos = torch.topk(sims, q, dim=1, sorted=False)
                new_sim, new_idx = new_sim.float(), pos.to(torch.int32)
                # the new entries of a row by similarity (ties: older slot = lower column first)
                new_sim, order = torch.sort(new_sim, dim=1, descending=True, stable=True)
                new_idx = torch.gather(new_idx, 1, order)
            else:
                # the lists hold values of the products' precision: the comparison in it is exact
                hit_t = torch.nonzero(sims > cur_sim_t[:, -1:].to(sims.dtype))  # (E, 2): row, column, by row
                if len(hit_t) == 0:
                    continue
                values = sims[hit_t[:, 0], hit_t[:, 1]].float().numpy()
                hit = hit_t.numpy()
                # one sort of unique int64 keys (row, similarity descending, column) puts each row's new entries
                # in order; the hits come row by row, so the keys are in runs that the stable sort (timsort /
                # radix) merges ~3x faster than the default quicksort
                key = np.sort((hit[:, 0] << 40) | (descending_bits(values) << 8) | hit[:, 1], kind="stable")
                hr = key >> 40
                starts = np.flatnonzero(np.diff(hr, prepend=-1))
                count = np.diff(np.append(starts, len(hr)))
                col = np.arange(len(hr)) - np.repeat(starts, count)
                keep = col < k  # only a row's best k new entries can enter its list
                key, col = key[keep], col[keep]
                at = np.repeat(np.arange(len(starts)), np.minimum(count, k))
                rows = torch.from_numpy(hr[starts])
                hc = key & 0xFF
                new_sim = np.full((len(starts), int(min(count.max(), k))), -np.inf, np.float32)
                new_idx = np.full(new_sim.shape, PAD, np.int32)
                new_sim[at, col] = value_of_bits((key >> 8) & 0xFFFFFFFF)
                new_idx[at, col] = hc
                new_sim, new_idx = torch.from_numpy(new_sim), torch.from_numpy(new_idx)
            new_idx += first_slot + s0
            cur_sim, cur_idx = cur_sim_t[rows], cur_idx_t[rows]
            # place of each new entry: old entries at least as similar + its rank among the new ones
            before = torch.searchsorted(-cur_sim, -new_sim, right=True)  # (R, q), non-decreasing along q
            dest_new = before + torch.arange(new_sim.shape[1])
            dest_new[(dest_new >= k) | (new_sim == -np.inf)] = k  # dropped: a spare column
            # an old entry moves down by the new entries placed before it
            shift = torch.searchsorted(before, torch.arange(k).expand(len(rows), k).contiguous(), right=True)
            dest_old = (torch.arange(k) + shift).clamp_(max=k)
            out_sim = torch.empty((len(rows), k + 1))
            out_idx = torch.empty((len(rows), k + 1), dtype=torch.int32)
            out_sim.scatter_(1, dest_old, cur_sim)
            out_idx.scatter_(1, dest_old, cur_idx)
            out_sim.scatter_(1, dest_new, new_sim)
            out_idx.scatter_(1, dest_new, new_idx)
            cur_sim_t[rows] = out_sim[:, :k]
            cur_idx_t[rows] = out_idx[:, :k]
            changed[rows.numpy()] |= (dest_new < self.kv).any(dim=1).numpy()
        return changed

    def containing(self, slots: np.ndarray) -> np.ndarray:
        """Per candidate, whether any of ``slots`` is in its list."""
        return np.isin(self.idx, slots).any(axis=1)
