"""The local variance: every candidate conditioned exactly on its few most similar observed concepts S(x), as
in local approximate GPs (Gramacy & Apley) and NNGP: ``var(x) = s2 - k_S (K_SS + D_S)^-1 k_S``. Conditioning on
fewer observations can only raise the variance, so this is an upper bound of the exact variance (it errs
towards exploration); with at most ``neighbors`` distinct observations it is exact."""
from __future__ import annotations

import numpy as np
import torch

from agents.posterior.config import GPConfig
from agents.posterior.kernel import kernel


def explained_variance(idx: np.ndarray, sim: np.ndarray, cos: np.ndarray, counts: np.ndarray,
                       cfg: GPConfig) -> np.ndarray:
    """``k_S (K_SS + D_S)^-1 k_S`` per candidate (float32) by a batched k x k Cholesky in torch.

    Args:
        idx, sim: (r, k) neighbour slots (-1 = none) and their cosines to each candidate, most similar first.
        cos: cosines among observed concepts by slot (at least as large as the largest slot).
        counts: observations per slot (a concept observed n times has noise noise_variance / n).
        cfg: the current hyper-parameters.
    """
    kv = idx.shape[1]
    valid = idx >= 0
    safe = np.where(valid, idx, 0)
    inv = np.float32(1.0 / cfg.lengthscale ** 2)
    kss = cos[safe[:, :, None], safe[:, None, :]]
    kss -= 1.0
    kss *= inv
    np.exp(kss, out=kss)
    kss *= np.float32(cfg.signal_variance)
    kss *= valid[:, :, None] & valid[:, None, :]
    noise = np.where(valid, cfg.noise_variance / np.maximum(counts[safe], 1), 1.0).astype(np.float32)
    diag = np.arange(kv)
    kss[:, diag, diag] += noise
    ks = np.where(valid, kernel(sim, cfg), 0.0).astype(np.float32)
    kss_t, ks_t = torch.from_numpy(kss), torch.from_numpy(ks)
    chol, info = torch.linalg.cholesky_ex(kss_t)
    u = torch.cholesky_solve(ks_t[:, :, None], chol)[:, :, 0]
    bad = info != 0
    if bool(bad.any()):  # float32 trouble on near-duplicates: redo those in float64
        chol64 = torch.linalg.cholesky(kss_t[bad].double())
        u[bad] = torch.cholesky_solve(ks_t[bad].double()[:, :, None], chol64)[:, :, 0].float()
    return (u * ks_t).sum(dim=1).numpy()
