"""The posterior mean ``mean(x) = m0 + sum_j alpha_j k(c_xj)`` of every candidate, split at each candidate's
``mean_neighbors`` most similar observed concepts: those terms are exact (near field), the rest use a quadratic
in c fitted to ``exp(c / l^2)`` on the cosines where far pairs lie (``far_fit_range``), which is a sum over
moments of the observations (``sum alpha``, ``sum alpha x``, ``sum alpha x x^T`` = a 384 x 384 matrix, applied
through its ``taylor_rank`` largest eigenpairs once it has full rank). Far pairs have small cosines (median 0.05
over random MiniLM concept pairs), where a quadratic is accurate."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from agents.posterior.config import GPConfig
from agents.posterior.kernel import kernel
from agents.posterior.linalg import mm


@lru_cache(maxsize=64)
def far_poly(lengthscale: float, lo: float, hi: float) -> tuple[float, float, float]:
    """Coefficients (p0, p1, p2) of the quadratic stand-in for exp(c / l^2) on cosines [lo, hi] (least
    squares; the Taylor expansion at c = 0 when hi <= lo)."""
    inv = 1.0 / lengthscale ** 2
    if hi <= lo:
        return 1.0, inv, 0.5 * inv * inv  # Taylor at c = 0
    grid = np.linspace(lo, hi, 200)
    p2, p1, p0 = np.polyfit(grid, np.exp(inv * grid), 2)
    return float(p0), float(p1), float(p2)


def quadratic_term(emb_t: torch.Tensor, x: np.ndarray, alpha: np.ndarray, rank: int) -> np.ndarray:
    """sum_j alpha_j (e . x_j)^2 for every row e of the embeddings. Fewer points than dimensions: directly
    (M x n GEMM; LAPACK's eigh takes seconds on such rank-deficient matrices here). Otherwise through the
    ``rank`` largest-magnitude eigenpairs of the d x d matrix sum_j alpha_j x_j x_j^T."""
    if len(x) < x.shape[1]:
        proj = mm(emb_t, x.T.astype(np.float32))  # (M, n)
        proj *= proj
        return mm(proj, alpha.astype(np.float32)[:, None])[:, 0]
    a2 = mm(x.T * alpha, x)
    with threadpool_limits(1, user_api="blas"):  # OpenBLAS threads fight torch's spinning OpenMP ones
        evals, evecs = np.linalg.eigh(a2)       # (torch's eigh takes seconds in this build)
    keep = np.argsort(-np.abs(evals), kind="stable")[:rank]
    proj = mm(emb_t, evecs[:, keep].astype(np.float32))  # (M, r)
    proj *= proj
    return mm(proj, evals[keep].astype(np.float32)[:, None])[:, 0]


def standardized_mean(emb_t: torch.Tensor, x: np.ndarray, alpha: np.ndarray, nbr_idx: np.ndarray,
                      nbr_sim: np.ndarray, cfg: GPConfig) -> np.ndarray:
    """``sum_j alpha_j k(c_xj)`` for every candidate (float64, in standardised units).

    Args:
        emb_t: (M, D) candidate embeddings.
        x: (n, D) float64 embeddings of the observed concepts by slot; ``alpha`` their weights.
        nbr_idx, nbr_sim: (M, k) each candidate's nearest observed slots (-1 = none) and cosines.
        cfg: the current hyper-parameters.
    """
    # far field: second-order expansion of exp(c / l^2) through the moments of the observations
    inv = 1.0 / cfg.lengthscale ** 2
    scale = cfg.signal_variance * np.exp(-inv)
    a0 = alpha.sum()
    a1 = mm(x.T, alpha[:, None])[:, 0].astype(np.float32)
    quad = quadratic_term(emb_t, x, alpha, cfg.taylor_rank)
    p0, p1, p2 = far_poly(cfg.lengthscale, *cfg.far_fit_range)
    far = scale * (p0 * a0 + p1 * mm(emb_t, a1[:, None])[:, 0] + p2 * quad)
    # near field: exact terms for each candidate's neighbours, minus their quadratic stand-ins
    c = np.where(nbr_idx >= 0, nbr_sim, np.float32(0.0))
    resid = kernel(c, cfg).astype(np.float32)
    resid -= np.float32(scale) * (np.float32(p0) + c * (np.float32(p1) + np.float32(p2) * c))
    resid *= np.append(alpha, 0.0).astype(np.float32)[nbr_idx]  # slot -1 -> weight 0
    near = resid.sum(axis=1, dtype=np.float64)
    return far + near
