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


def product_operand(emb: np.ndarray, products: str) -> torch.Tensor:
    """The candidate embeddings as the left operand of the products with all candidates: float32, or bfloat16
    (``products``: ``bf16``, ``fp32`` or ``auto``, see :class:`agents.posterior.GPConfig`)."""
    from ie_env.data.text_embedding import bf16_supported

    t = torch.from_numpy(emb)
    return t.to(torch.bfloat16) if products == "bf16" or products == "auto" and bf16_supported() else t


def times(left: torch.Tensor, right: np.ndarray) -> torch.Tensor:
    """``left @ right`` in ``left``'s precision (and dtype)."""
    return left @ torch.from_numpy(np.ascontiguousarray(right)).to(left.dtype)
