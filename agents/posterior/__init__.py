"""Gaussian-process posterior over every concept of the vocabulary, updated in about a second.

Why not the textbook GP: with N observations and M = 146,347 candidates the exact predictive variance costs
M x N^2 (69-80 s at N = 5,000 here, see docs/architecture.md) and even the exact mean needs the M x N cross-kernel
(5.8 GB in float32 at N = 10,000, or M x N x 384 flops to recompute it at every refit).

The kernel is an RBF on L2-normalised text embeddings, a function of the cosine c between two concepts
(:mod:`~agents.posterior.kernel`): ``k(c) = s2 * exp(-(1 - c) / l^2) = s2 * exp(-1/l^2) * exp(c / l^2)``.
Method (``GPPosterior.update``), one module per part:

- **Weights, exact** (:mod:`~agents.posterior.cholesky`). The representer weights ``alpha = (K + D)^-1 (y - m0)``
  over all observations are exact up to the factor's rounding: a Cholesky factor over the observation rows
  (float32, relative error of the weights ~1e-5; ``factor_float64`` for float64) grows by one block per batch (a
  triangular solve, O(N^2 b)) and carries ``L^-1 y`` and ``L^-1 1``, so the weights cost one backward pass;
  repeated queries of a concept are rows of their own, which gives the same posterior as merging them (mean
  reward, noise / count). The factor is rebuilt over the merged distinct concepts when the rows reach twice
  their number and whenever the hyper-parameters change.
- **Mean, exact near / quadratic far** (:mod:`~agents.posterior.mean`): exact over each candidate's
  ``mean_neighbors`` most similar observed concepts, a fitted quadratic in the cosine (moments of the
  observations) beyond.
- **Variance, local** (:mod:`~agents.posterior.variance`): every candidate conditioned exactly on its
  ``neighbors`` most similar observed concepts (an upper bound of the exact variance; exact up to that many).
- **Nothing from scratch.** Neighbour lists (:mod:`~agents.posterior.neighbours`: M x ``mean_neighbors`` slots and
  cosines, sorted) are merged with the cosines to the new concepts only (one M x b x 384 GEMM; only cosines above a list's
  last entry are inserted, by binary search); the cosines among observed concepts (:mod:`~agents.posterior.gram`)
  grow by one row block; the factor grows by one row block; the local variances are recomputed only for
  candidates whose first ``neighbors`` changed or whose neighbours' counts changed.

Products with all M candidates (the neighbour GEMM, the far-field projections) run in bfloat16 where the CPU has
native support (``GPConfig.products``; AMX makes them ~8x faster than float32 here); the cosines among observed
concepts, the factor and the weights stay float32. Measured here (``python experiments/bench_env.py --json``, 2
cores): an update folding 256 new observations into 1,000 (10,000) and recomputing mean and std of all 146,347
concepts takes ~0.3 (~0.45) s wall, and the GP agent runs ~500 env steps/s at the paper's cadence
(``make bench`` prints the current figures). ``experiments/gp_approximation.py`` measures what the settings
(8 variance neighbours, 16 exact mean terms, bfloat16 products) cost against the exact GP
(:mod:`~agents.posterior.exact`) and in the agent's relevant images, beside the previous ones (16 / 64, float32:
2-4x slower); docs/results.md has the figures. Memory at N = 10,000: the float32 factor 0.2-0.4 GB, cosines among
observations 0.4 GB, neighbour lists 19 MB.

Rewards are standardised (``normalize_y``): ``m0`` is the mean of the per-concept mean rewards and the signal
and noise variances are in units of their variance, like scikit-learn's ``normalize_y``. The hyper-parameters can
optionally be chosen by exact marginal likelihood on a subset of the observations (a small grid,
:mod:`~agents.posterior.hyperparameters`); the posterior then holds them as its current values
(``GPPosterior.current``), the frozen :class:`GPConfig` stays as given.
"""
from agents.posterior.config import GPConfig
from agents.posterior.exact import exact_posterior
from agents.posterior.posterior import GPPosterior

__all__ = ["GPConfig", "GPPosterior", "exact_posterior"]
