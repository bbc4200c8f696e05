"""The local variance: every candidate conditioned exactly on its few most similar observed concepts S(x), as
in local approximate GPs (Gramacy & Apley) and NNGP: ``var(x) = s2 - k_S (K_SS + D_S)^-1 k_S``. Conditioning on
fewer observations can only raise the variance, so this is an upper bound of the exact variance (it errs
towards exploration); with at most ``neighbors`` distinct observations it is exact."""
from __future__ import annotations

import numpy as np
import torch

from agents.posterior.config import GPConfig


def explained_variance(idx: np.ndarray, sim: np.ndarray, cos: np.ndarray, counts: np.ndarray,
                       cfg: GPConfig) -> np.ndarray:
    """``k_S (K_SS + D_S)^-1 k_S`` per candidate (float32), by one batched Cholesky of the bordered matrix
    ``[[K_SS + D_S, k_S], [k_S^T, s2]]``: its last pivot squared is the variance ``s2 - k_S (K_SS + D_S)^-1 k_S``.

    Args:
        idx, sim: (r, k) neighbour slots (-1 = none) and their cosines to each candidate, most similar first.
        cos: cosines among observed concepts by slot (at least as large as the largest slot).
        counts: observations per slot (a concept observed n times has noise noise_variance / n).
        cfg: the current hyper-parameters.
    """
    r, kv = idx.shape
    valid = idx >= 0
    safe = np.where(valid, idx, 0)
    inv = np.float32(1.0 / cfg.lengthscale ** 2)
    s2 = np.float32(cfg.signal_variance)
    iu, ju = np.triu_indices(kv, 1)
    # the random reads: each pair once (the matrix is symmetric); a missing neighbour's cosines are -inf, so its
    # kernel entries are 0 and it stays a decoupled dummy with variance s2 + 1
    cap = cos.shape[1]
    flat = (safe * cap if cap * cap < 2**31 else safe.astype(np.int64) * cap)
    upper = np.take(cos.reshape(-1), flat[:, iu] + safe[:, ju])
    upper[~(valid[:, iu] & valid[:, ju])] = -np.inf
    ks = np.where(valid, sim, np.float32(-np.inf))
    for t in (upper, ks):  # the kernel of a cosine, in place
        t -= 1.0
        t *= inv
        np.exp(t, out=t)
        t *= s2
    a = np.empty((r, kv + 1, kv + 1), np.float32)
    a[:, iu, ju] = upper
    a[:, ju, iu] = upper
    diag = np.arange(kv)
    a[:, diag, diag] = s2 + np.where(valid, cfg.noise_variance / np.maximum(counts[safe], 1), 1.0)
    a[:, kv, :kv] = ks
    a[:, :kv, kv] = ks
    a[:, kv, kv] = s2
    at = torch.from_numpy(a)
    chol, info = torch.linalg.cholesky_ex(at)
    var = chol[:, kv, kv] ** 2
    var[info == kv + 1] = 0.0  # only the last pivot failed: the variance is zero up to rounding
    bad = (info > 0) & (info <= kv)
    if bool(bad.any()):  # float32 trouble on near-duplicates: redo those in float64
        chol64, info64 = torch.linalg.cholesky_ex(at[bad].double())
        v64 = chol64[:, kv, kv] ** 2
        v64[info64 > 0] = 0.0
        var[bad] = v64.float()
    return (s2 - var).numpy()
