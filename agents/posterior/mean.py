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
from agents.posterior.linalg import mm, times


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


def far_projections(emb_t: torch.Tensor, x: np.ndarray, alpha: np.ndarray, rank: int) -> tuple[np.ndarray,
                                                                                                np.ndarray]:
    """For every row e of the embeddings: the linear moment ``sum_j alpha_j (e . x_j)`` and the quadratic one
    ``sum_j alpha_j (e . x_j)^2``, from one M x (1 + r) GEMM. Fewer points than dimensions: r = n, exactly;
    otherwise through the ``rank`` largest-magnitude eigenpairs of the d x d matrix sum_j alpha_j x_j x_j^T
    (numpy's eigh on one thread: ~50 ms; torch's takes seconds in this build)."""
    a32 = alpha.astype(np.float32)
    a1 = mm(x.T, a32[:, None])  # (D, 1)
    if len(x) < x.shape[1]:
        basis, weights = x.T, a32
    else:
        a2 = mm(x.T * a32, x).astype(np.float64)
        with threadpool_limits(1, user_api="blas"):  # OpenBLAS threads fight torch's OpenMP ones
            evals, evecs = np.linalg.eigh((a2 + a2.T) / 2)
        keep = np.argsort(-np.abs(evals), kind="stable")[:rank]
        basis, weights = evecs[:, keep].astype(np.float32), evals[keep].astype(np.float32)
    proj = times(emb_t, np.concatenate([a1, basis], axis=1)).float()  # (M, 1 + r)
    lin = proj[:, 0].numpy().astype(np.float64)
    sq = proj[:, 1:]
    sq *= sq
    return lin, (sq @ torch.from_numpy(weights)).numpy().astype(np.float64)


def standardized_mean(emb_t: torch.Tensor, x: np.ndarray, alpha: np.ndarray, nbr_idx: np.ndarray,
                      nbr_sim: np.ndarray, cfg: GPConfig) -> np.ndarray:
    """``sum_j alpha_j k(c_xj)`` for every candidate (float64, in standardised units).

    Args:
        emb_t: (M, D) candidate embeddings.
        x: (n, D) float32 embeddings of the observed concepts by slot; ``alpha`` their weights.
        nbr_idx, nbr_sim: (M, k) each candidate's nearest observed slots (-1 = none) and cosines.
        cfg: the current hyper-parameters.
    """
    # far field: second-order expansion of exp(c / l^2) through the moments of the observations
    inv = 1.0 / cfg.lengthscale ** 2
    scale = cfg.signal_variance * np.exp(-inv)
    p0, p1, p2 = far_poly(cfg.lengthscale, *cfg.far_fit_range)
    lin, quad = far_projections(emb_t, x, alpha, cfg.taylor_rank)
    far = scale * (p0 * alpha.sum() + p1 * lin + p2 * quad)
    # near field: exact terms for each candidate's neighbours, minus their quadratic stand-ins (torch, in place)
    idx = torch.from_numpy(nbr_idx)
    c = torch.from_numpy(nbr_sim).masked_fill(idx < 0, 0.0)
    resid = torch.exp((c - 1.0) * inv).mul_(cfg.signal_variance)
    poly = c * p2
    poly.add_(p1).mul_(c).add_(p0).mul_(scale)
    resid.sub_(poly)
    weights = torch.from_numpy(np.append(alpha, 0.0).astype(np.float32))  # slot -1 -> the appended 0
    resid.mul_(weights[idx])
    return far + resid.sum(dim=1).numpy().astype(np.float64)
