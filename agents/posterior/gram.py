"""Cosines among the observed concepts, in slot order (the order concepts were first observed), grown by one
row block per batch of new concepts inside a matrix with spare capacity."""
from __future__ import annotations

import numpy as np

from agents.posterior.linalg import mm


class ObservedCosines:
    """The symmetric float32 matrix of cosines between observed concepts; ``matrix[:n, :n]`` is valid."""

    def __init__(self):
        self.matrix = np.zeros((0, 0), np.float32)
        self.n = 0

    def grow(self, e_new: np.ndarray, e_all: np.ndarray) -> None:
        """Add the concepts with embeddings ``e_new``; ``e_all`` are the embeddings of every observed concept,
        old and new, in slot order (the new ones last)."""
        n0, b = self.n, len(e_new)
        n1 = n0 + b
        if n1 > self.matrix.shape[0]:
            cap = n1 + max(256, n1 // 8)
            g = np.zeros((cap, cap), np.float32)
            g[:n0, :n0] = self.matrix[:n0, :n0]
            self.matrix = g
        block = mm(e_new, e_all.T)  # (b, n1), one GEMM per batch
        diag = block[:, n0:n1]
        block[:, n0:n1] = np.triu(diag) + np.triu(diag, 1).T  # exactly symmetric
        self.matrix[n0:n1, :n1] = block
        self.matrix[:n1, n0:n1] = block.T
        self.n = n1

    def between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosines between slots ``a`` (rows) and ``b`` (columns), float64."""
        return self.matrix[np.ix_(a, b)].astype(np.float64)
