"""The textbook GP, the reference the approximate posterior is checked against."""
from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from agents.posterior.config import GPConfig
from agents.posterior.kernel import kernel


def exact_posterior(embeddings, concepts, rewards, config: GPConfig | None = None,
                    chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """The textbook GP (float64, repeats merged as in :class:`agents.posterior.GPPosterior`): mean and std for
    every row of ``embeddings``. Costs M x N^2: for checking the approximation on problems of a few thousand."""
    cfg = config or GPConfig()
    e = np.asarray(embeddings, np.float64)
    concepts = np.asarray(concepts, np.int64)
    rewards = np.asarray(rewards, np.float64)
    uniq, inv = np.unique(concepts, return_inverse=True)
    count = np.bincount(inv).astype(np.float64)
    ybar = np.bincount(inv, weights=rewards) / count
    if cfg.normalize_y:
        m0 = ybar.mean()
        sd = ybar.std() if len(ybar) >= 2 else 0.0
        sd = sd if sd > 1e-8 else max(abs(m0), 1e-3)
    else:
        m0, sd = 0.0, 1.0
    x = e[uniq]
    kxx = kernel(x @ x.T, cfg) + np.diag(cfg.noise_variance / count)
    lch = np.linalg.cholesky(kxx)
    alpha = solve_triangular(lch, solve_triangular(lch, (ybar - m0) / sd, lower=True), lower=True, trans="T")
    mean = np.empty(len(e))
    std = np.empty(len(e))
    for s in range(0, len(e), chunk):
        ks = kernel(e[s:s + chunk] @ x.T, cfg)
        mean[s:s + chunk] = m0 + sd * (ks @ alpha)
        v = solve_triangular(lch, ks.T, lower=True)
        std[s:s + chunk] = sd * np.sqrt(np.maximum(cfg.signal_variance - (v * v).sum(axis=0), 0.0))
    return mean, std
