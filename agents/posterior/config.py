"""Hyper-parameters and approximation settings of the GP posterior (a frozen value: see :class:`GPConfig`)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GPConfig:
    """Hyper-parameters and approximation settings of :class:`agents.posterior.GPPosterior`.

    Frozen: the posterior never changes it. When the marginal-likelihood fit picks other hyper-parameters the
    posterior holds them as its current values (``GPPosterior.current``, a copy made with
    ``dataclasses.replace``); this config stays what the caller asked for (and what a checkpoint records).
    """

    lengthscale: float = 0.6
    """RBF length-scale on unit-norm embeddings: k = s2 * exp(-(1 - cos) / lengthscale^2). At 0.6 a concept with
    cosine 0.6 to an observed one (tabby / Persian cat in MiniLM) shares 33% of its prior covariance, an
    unrelated one (cosine 0.05, the median over random pairs) 7%."""
    signal_variance: float = 1.0
    """Prior variance of the latent reward, in units of the observed rewards' variance when normalize_y."""
    noise_variance: float = 0.1
    """Observation-noise variance of one query's reward (same units as signal_variance); a concept observed n
    times has noise noise_variance / n."""
    normalize_y: bool = True
    """Standardise the rewards (mean and std of the per-concept mean rewards) before the GP."""
    neighbors: int = 8
    """Most similar observed concepts each candidate's variance is conditioned on (exact up to this many; 16
    before 2026-12-07: what 8 costs is measured by ``experiments/gp_approximation.py``)."""
    mean_neighbors: int = 16
    """Most similar observed concepts whose terms of each candidate's mean are exact (the rest: the fitted
    quadratic; 64 before 2026-12-07)."""
    taylor_rank: int = 64
    """Eigenpairs of the second-moment matrix used for the far-field part of the mean once there are more
    distinct observations than dimensions (before that the term is computed exactly)."""
    far_fit_range: tuple = (-0.05, 0.3)
    """Cosine range on which the far-field quadratic is fitted to exp(c / l^2) by least squares (where most
    far pairs lie); (0, 0) means the plain Taylor expansion at c = 0."""
    rebuild_factor: float = 2.0
    """Rebuild the Cholesky factor over distinct concepts when rows (observations) exceed this times their number."""
    fit_hyperparameters: bool = False
    """Choose lengthscale and noise_variance by exact marginal likelihood on a subset at every update."""
    fit_subset: int = 800
    """Distinct observed concepts used for the marginal-likelihood fit (a seeded random subset)."""
    fit_lengthscales: tuple = (0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
    """Length-scale grid of the fit."""
    fit_noises: tuple = (0.01, 0.03, 0.1, 0.3, 1.0)
    """Noise-variance grid of the fit."""
    factor_float64: bool = False
    """Keep the Cholesky factor of the representer weights in float64 (twice the time and memory of float32,
    whose relative error in the weights is ~1e-5 here)."""
    products: str = "auto"
    """Precision of the two products with all M candidates (their cosines to each batch of new concepts, which
    fill the neighbour lists, and the far-field projections): ``bf16`` (bfloat16 inputs and outputs, ~8x
    faster than float32 on a CPU with AMX; cosines off by ~1e-3), ``fp32``, or ``auto`` (bf16 where the CPU
    runs it natively, as for the concept embeddings). The cosines among observed concepts, the Cholesky
    factor and the representer weights stay float32 either way (``experiments/bench_gp.py --accuracy``
    measures both against the exact GP)."""
    chunk: int = 8192
    """Candidates per batched Cholesky (bounds memory: chunk x neighbors^2 floats)."""

    def __post_init__(self):
        if not self.lengthscale > 0:
            raise ValueError(f"GPConfig.lengthscale must be > 0 (got {self.lengthscale}); try 0.5 for MiniLM vectors")
        if not self.signal_variance > 0:
            raise ValueError(f"GPConfig.signal_variance must be > 0 (got {self.signal_variance}); the default is 1.0")
        if not self.noise_variance > 0:
            raise ValueError(f"GPConfig.noise_variance must be > 0 (got {self.noise_variance}); the default is 0.1")
        if int(self.neighbors) < 1 or int(self.mean_neighbors) < 1:
            raise ValueError(f"GPConfig.neighbors and mean_neighbors must be >= 1 (got {self.neighbors}, "
                             f"{self.mean_neighbors}); the defaults are 8 and 16")
        if self.products not in ("auto", "bf16", "fp32"):
            raise ValueError(f"GPConfig.products={self.products!r}: use 'auto', 'bf16' or 'fp32'")
        # grids may come as lists (JSON, checkpoints): normalise to tuples of floats (frozen: set through object)
        for name in ("fit_lengthscales", "fit_noises", "far_fit_range"):
            object.__setattr__(self, name, tuple(float(x) for x in getattr(self, name)))
