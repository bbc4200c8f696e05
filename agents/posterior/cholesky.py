"""The Cholesky factor of the observations' kernel matrix K + D, grown by row blocks.

Block i holds ``L[s_i:e_i, :e_i]`` as one contiguous array, so appending b rows costs one forward solve of the
new cross-kernel (O(N^2 b)) and a b x b Cholesky, and no block is ever copied. Solves run block by block.
"""
from __future__ import annotations

import numpy as np
import torch

from agents.posterior.linalg import mm


class BlockCholesky:
    """Lower-triangular factor L (float64) of a symmetric positive-definite matrix that grows by rows."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.blocks: list[np.ndarray] = []  # block i = L[s_i:e_i, :e_i]
        self.starts: list[int] = []
        self.n = 0

    def append(self, k22: np.ndarray, k12: np.ndarray | None = None) -> None:
        """Add b rows: ``k22`` is the new rows' own b x b block (noise included), ``k12`` the n x b block of the
        rows already factored against the new ones (None when there are none)."""
        b = len(k22)
        n0, n1 = self.n, self.n + b
        block = np.zeros((b, n1), np.float64)
        if n0:
            l21t = self.forward(k12)  # L11^-1 K12, O(n0^2 b)
            k22 = k22 - mm(l21t.T, l21t)
            block[:, :n0] = l21t.T
        block[:, n0:] = torch.linalg.cholesky(torch.from_numpy(k22)).numpy()
        self.blocks.append(block)
        self.starts.append(n0)
        self.n = n1

    def rebuild(self, k: np.ndarray) -> None:
        """Start over with the factor of ``k`` (noise included)."""
        self.clear()
        if len(k):
            self.append(k)

    def forward(self, rhs: np.ndarray) -> np.ndarray:
        """L^-1 rhs by block forward substitution (row blocks are contiguous: no copy of the factor)."""
        out = np.empty_like(rhs)
        t_out = torch.from_numpy(out)
        for start, block in zip(self.starts, self.blocks):
            end = start + len(block)
            tb = torch.from_numpy(block)
            r = torch.from_numpy(rhs[start:end])
            if start:
                r = r - tb[:, :start] @ t_out[:start]
            t_out[start:end] = torch.linalg.solve_triangular(tb[:, start:end].contiguous(), r, upper=False)
        return out

    def backward(self, rhs: np.ndarray) -> np.ndarray:
        """L^-T rhs by block backward substitution."""
        rest = torch.from_numpy(rhs.copy())
        out = torch.empty_like(rest)
        for start, block in zip(reversed(self.starts), reversed(self.blocks)):
            end = start + len(block)
            tb = torch.from_numpy(block)
            x = torch.linalg.solve_triangular(tb[:, start:end].T.contiguous(), rest[start:end], upper=True)
            out[start:end] = x
            if start:
                rest[:start] -= tb[:, :start].T @ x
        return out.numpy()

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """(L L^T)^-1 rhs."""
        return self.backward(self.forward(rhs))
