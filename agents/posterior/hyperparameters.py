"""Choice of the length-scale and noise variance by exact log marginal likelihood on a grid."""
from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from agents.posterior.config import GPConfig
from agents.posterior.linalg import trsm


def select_hyperparameters(cos: np.ndarray, sums: np.ndarray, counts: np.ndarray,
                           cfg: GPConfig) -> tuple[float, float, float] | None:
    """The best ``(log marginal likelihood, lengthscale, noise_variance)`` on the grid of ``cfg`` over a seeded
    subset (``fit_subset``) of the distinct observed concepts, or None when no grid point factors.

    Args:
        cos: (n, n) cosines among the observed concepts (slot order).
        sums, counts: per slot, the sum of its rewards and its number of observations.
    """
    n = len(counts)
    rng = np.random.default_rng(n)
    sub = np.sort(rng.choice(n, size=min(n, cfg.fit_subset), replace=False))
    ybar = sums[sub] / counts[sub]
    y = ybar - ybar.mean()
    sd = y.std()
    y = y / (sd if sd > 1e-8 else 1.0)
    c = cos[np.ix_(sub, sub)].astype(np.float64)
    best = None
    for ls in cfg.fit_lengthscales:
        kk = cfg.signal_variance * np.exp((c - 1.0) / ls ** 2)
        for nv in cfg.fit_noises:
            try:
                with threadpool_limits(1, user_api="blas"):
                    lch = np.linalg.cholesky(kk + np.diag(nv / counts[sub]))
            except np.linalg.LinAlgError:
                continue
            w = trsm(lch, y[:, None])[:, 0]
            lml = -0.5 * w @ w - np.log(np.diag(lch)).sum()
            if best is None or lml > best[0]:
                best = (lml, ls, nv)
    return best
