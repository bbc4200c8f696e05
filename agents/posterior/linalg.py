"""Dense algebra helpers. Heavy algebra runs in torch only: numpy's BLAS threads and torch's fight over the
two cores otherwise."""
from __future__ import annotations

import numpy as np
import torch


def _tensor(a) -> torch.Tensor:
    """A tensor viewing ``a`` (a transposed array stays a view: the product reads it transposed, no copy)."""
    if isinstance(a, torch.Tensor):
        return a
    try:
        return torch.from_numpy(a)
    except ValueError:  # negative strides
        return torch.from_numpy(np.ascontiguousarray(a))


def mm(a, b) -> np.ndarray:
    """Matrix product through torch (numpy arrays or tensors in, numpy out)."""
    return (_tensor(a) @ _tensor(b)).numpy()


def trsm(lower: np.ndarray, b: np.ndarray, transpose: bool = False) -> np.ndarray:
    """Solve L x = b (or L^T x = b) with L lower-triangular, through torch."""
    tl = torch.from_numpy(lower)
    if transpose:
        tl = tl.T
    return torch.linalg.solve_triangular(tl, torch.from_numpy(np.ascontiguousarray(b)), upper=transpose).numpy()
