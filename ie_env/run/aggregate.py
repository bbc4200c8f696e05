"""Reliable aggregates of normalised scores over tasks and seeds, as rliable computes them (Agarwal et al., "Deep
Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021), in numpy.

Scores are an array ``(runs, tasks)``: one row per seed, one column per task. The interquartile mean (IQM) is the
mean of the middle 50% of all runs' scores (``scipy.stats.trim_mean(x, 0.25)``): robust to an outlying run, less
noisy than the median. Intervals are 95% percentile intervals of a stratified bootstrap: each resample draws the
runs of every task with replacement within that task, so tasks stay tasks. The performance profile is the share of
runs whose score exceeds ``tau``, per ``tau``. The probability of improvement ``P(X > Y)`` is, per task, the share
of pairs (a run of X, a run of Y) where X scored higher (ties count half: the Mann-Whitney U statistic over the
number of pairs), averaged over tasks; its interval resamples X's and Y's runs independently within each task.

rliable itself is not a dependency: it pulls arch, statsmodels, pandas and seaborn (tens of MB) for these few lines.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

REPS = 2000
"""Bootstrap resamples by default (rliable's examples use 2,000 to 50,000)."""


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of every score in ``scores`` (any shape)."""
    return float(stats.trim_mean(np.asarray(scores, float).ravel(), 0.25))


def _iqm_rows(samples: np.ndarray) -> np.ndarray:
    """IQM of each resample (first axis) over its other axes."""
    return stats.trim_mean(samples.reshape(len(samples), -1), 0.25, axis=1)


def _mean_rows(samples: np.ndarray) -> np.ndarray:
    return samples.reshape(len(samples), -1).mean(1)


STATISTICS: dict[str, tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray]]] = {
    "iqm": (iqm, _iqm_rows),
    "mean": (lambda s: float(np.mean(s)), _mean_rows),
    "median": (lambda s: float(np.median(s)), lambda b: np.median(b.reshape(len(b), -1), axis=1)),
}
"""Aggregate name -> (on one score array, on each resample of a stack)."""


def _check(scores) -> np.ndarray:
    s = np.asarray(scores, float)
    if s.ndim != 2 or s.size == 0:
        raise ValueError(f"scores must be a non-empty (runs, tasks) array, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores hold NaN or infinite values: leave out the tasks that could not be normalised")
    return s


def resample(scores: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """``reps`` stratified bootstrap resamples of ``(runs, tasks)`` scores: ``(reps, runs, tasks)``, each task's
    runs drawn with replacement from that task's own runs."""
    runs, tasks = scores.shape
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    return scores[idx, np.arange(tasks)]


def interval(scores, statistic: str = "iqm", reps: int = REPS, seed: int = 0, alpha: float = 0.05) -> dict:
    """``{"mean", "lo", "hi"}``: the ``statistic`` (``iqm``, ``mean``, ``median``) of the scores and its
    stratified bootstrap ``1 - alpha`` percentile interval (``mean`` is the point estimate, whatever the
    statistic)."""
    s = _check(scores)
    point, per_rep = STATISTICS[statistic]
    boot = per_rep(resample(s, reps, np.random.default_rng(seed)))
    lo, hi = np.percentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return {"mean": point(s), "lo": float(lo), "hi": float(hi)}


def profile_taus(*score_sets, n: int = 81) -> np.ndarray:
    """Thresholds spanning every score given and [0, 1]."""
    values = np.concatenate([np.asarray(s, float).ravel() for s in score_sets]) if score_sets else np.zeros(1)
    return np.linspace(min(0.0, values.min()), max(1.0, values.max()), n)


def performance_profile(scores, taus, reps: int = REPS, seed: int = 0, alpha: float = 0.05) -> dict:
    """Share of runs scoring above each ``tau`` (averaged over tasks), with stratified bootstrap percentile bands:
    ``{"tau": [...], "mean": [...], "lo": [...], "hi": [...]}``."""
    s = _check(scores)
    taus = np.asarray(taus, float)
    point = (s[..., None] > taus).mean(axis=(0, 1))
    boot = (resample(s, reps, np.random.default_rng(seed))[..., None] > taus).mean(axis=(1, 2))
    lo, hi = np.percentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return {"tau": taus.tolist(), "mean": point.tolist(), "lo": lo.tolist(), "hi": hi.tolist()}


def _improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) per leading batch: x ``(..., runs_x, tasks)``, y ``(..., runs_y, tasks)`` -> ``(...)``."""
    diff = x[..., :, None, :] - y[..., None, :, :]
    pairs = (diff > 0) + 0.5 * (diff == 0)
    return pairs.mean(axis=(-3, -2)).mean(axis=-1)


def probability_of_improvement(x, y, reps: int = REPS, seed: int = 0, alpha: float = 0.05) -> dict:
    """``P(X > Y)`` over tasks (see the module docstring) with its bootstrap percentile interval; ``x`` and ``y``
    are ``(runs, tasks)`` arrays over the same tasks (their numbers of runs may differ)."""
    x, y = _check(x), _check(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has {x.shape[1]} tasks and y {y.shape[1]}: compare over the same tasks")
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // (x.shape[0] * y.shape[0] * x.shape[1]))  # resamples at a time: bounded memory
    boot = np.concatenate([_improvement(resample(x, n, rng), resample(y, n, rng))
                           for n in [min(chunk, reps - i) for i in range(0, reps, chunk)]])
    lo, hi = np.percentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return {"mean": float(_improvement(x, y)), "lo": float(lo), "hi": float(hi)}
