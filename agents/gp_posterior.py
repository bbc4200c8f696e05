"""Gaussian-process posterior over every concept of the vocabulary, updated in about a second.

Why not the textbook GP: with N observations and M = 146,347 candidates the exact predictive variance costs
M x N^2 (69-80 s at N = 5,000 here, see DESIGN.md) and even the exact mean needs the M x N cross-kernel
(5.8 GB in float32 at N = 10,000, or M x N x 384 flops to recompute it at every refit).

The kernel is an RBF on L2-normalised text embeddings, a function of the cosine c between two concepts:
``k(c) = s2 * exp(-(1 - c) / l^2) = s2 * exp(-1/l^2) * exp(c / l^2)``. Method (``GPPosterior.update``):

- **Weights, exact.** The representer weights ``alpha = (K + D)^-1 (y - m0)`` over all observations are exact:
  a float64 Cholesky factor over the observation rows grows by one block per batch (a triangular solve,
  O(N^2 b)); repeated queries of a concept are rows of their own, which gives the same posterior as merging
  them (mean reward, noise / count). The factor is rebuilt over the merged distinct concepts when the rows
  reach twice their number and whenever the hyper-parameters change.
- **Mean, exact near / quadratic far.** ``mean(x) = m0 + sum_j alpha_j k(c_xj)`` is split at each
  candidate's ``mean_neighbors`` most similar observed concepts: those terms are exact, the rest use a
  quadratic in c fitted to ``exp(c / l^2)`` on the cosines where far pairs lie (``far_fit_range``), which is
  a sum over moments of the observations (``sum alpha``, ``sum alpha x``, ``sum alpha x x^T`` = a 384 x 384
  matrix, applied through its ``taylor_rank`` largest eigenpairs once it has full rank). Far pairs have
  small cosines (median 0.05 over random MiniLM concept pairs), where a quadratic is accurate.
- **Variance, local.** Every candidate is conditioned exactly on its ``neighbors`` most similar observed
  concepts S(x), as in local approximate GPs (Gramacy & Apley) and NNGP:
  ``var(x) = s2 - k_S (K_SS + D_S)^-1 k_S``, a batched k x k Cholesky in torch. Conditioning
  on fewer observations can only raise the variance, so this is an upper bound of the exact variance (it
  errs towards exploration); with at most ``neighbors`` distinct observations it is exact.
- **Nothing from scratch.** Neighbour lists (M x 64 slots and cosines, sorted) are merged with the cosines to
  the new concepts only (one M x b x 384 GEMM, then a top-k over the rows the new concepts enter); the cosines
  among observed concepts grow by one row block; the factor grows by one row block (stored as contiguous
  row blocks, solved block by block); the local variances are recomputed only for candidates whose first
  ``neighbors`` changed or whose neighbours' counts changed.

Measured here (``python experiments/bench_gp.py``; 2 cores shared with other jobs): an update (32 new
observations, mean and std of all 146,347 concepts) takes 1.4-1.6 s at 1,000 observations and 2.1 s at 10,000
at load average ~3.5, 2.8 and 2.9 s at load ~6 (1.6 s of CPU time over both threads); a cold build from
10,000 observations 70-110 s. Against the exact GP (20,855 candidates, 1,000 MiniLM observations): mean error 0.0016 on average (sd of the mean 0.047), std error 0.003 (mean std 0.09), top-250
overlap of the mean+std scores 238/250. Memory at N = 10,000: the float64 factor 0.4-0.8 GB, cosines among
observations 0.4 GB, neighbour lists 75 MB.

Rewards are standardised (``normalize_y``): ``m0`` is the mean of the per-concept mean rewards and the signal
and noise variances are in units of their variance, like scikit-learn's ``normalize_y``. The hyper-parameters can
optionally be chosen by exact marginal likelihood on a subset of the observations (a small grid,
``select_hyperparameters``). :func:`exact_posterior` is the textbook GP for checking the approximation on smaller problems.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np
import torch
from threadpoolctl import threadpool_limits

_PAD = -1


@dataclass
class GPConfig:
    """Hyper-parameters and approximation settings of :class:`GPPosterior`."""

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
    neighbors: int = 16
    """Most similar observed concepts each candidate's variance is conditioned on (exact up to this many)."""
    mean_neighbors: int = 64
    """Most similar observed concepts whose terms of each candidate's mean are exact (the rest: Taylor)."""
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
                             f"{self.mean_neighbors}); the defaults are 16 and 64")
        self.fit_lengthscales = tuple(float(x) for x in self.fit_lengthscales)
        self.fit_noises = tuple(float(x) for x in self.fit_noises)
        self.far_fit_range = tuple(float(x) for x in self.far_fit_range)


def _check_embeddings(embeddings) -> np.ndarray:
    e = np.ascontiguousarray(embeddings, dtype=np.float32)
    if not e.flags.writeable:  # e.g. the cached read-only memory map: torch wants a writable array
        e = e.copy()
    if e.ndim != 2 or len(e) == 0:
        raise ValueError(f"embeddings must be a non-empty (N, D) array, got shape {e.shape}")
    norms = np.linalg.norm(e[: min(len(e), 1000)], axis=1)
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise ValueError("embeddings must be L2-normalised rows (the RBF is on unit vectors): divide each row by its norm")
    return e


def _mm(a, b) -> np.ndarray:
    """Matrix product through torch (numpy arrays or tensors in, numpy out)."""
    ta = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    tb = b if isinstance(b, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(b))
    return (ta @ tb).numpy()


def _trsm(lower: np.ndarray, b: np.ndarray, transpose: bool = False) -> np.ndarray:
    """Solve L x = b (or L^T x = b) with L lower-triangular, through torch."""
    tl = torch.from_numpy(lower)
    if transpose:
        tl = tl.T
    return torch.linalg.solve_triangular(tl, torch.from_numpy(np.ascontiguousarray(b)), upper=transpose).numpy()


def _quadratic_term(emb_t: torch.Tensor, x: np.ndarray, alpha: np.ndarray, rank: int) -> np.ndarray:
    """sum_j alpha_j (e . x_j)^2 for every row e of the embeddings. Fewer points than dimensions: directly
    (M x n GEMM; LAPACK's eigh takes seconds on such rank-deficient matrices here). Otherwise through the
    ``rank`` largest-magnitude eigenpairs of the d x d matrix sum_j alpha_j x_j x_j^T."""
    if len(x) < x.shape[1]:
        proj = _mm(emb_t, x.T.astype(np.float32))  # (M, n)
        proj *= proj
        return _mm(proj, alpha.astype(np.float32)[:, None])[:, 0]
    a2 = _mm(x.T * alpha, x)
    with threadpool_limits(1, user_api="blas"):  # OpenBLAS threads fight torch's spinning OpenMP ones
        evals, evecs = np.linalg.eigh(a2)       # (torch's eigh takes seconds in this build)
    keep = np.argsort(-np.abs(evals), kind="stable")[:rank]
    proj = _mm(emb_t, evecs[:, keep].astype(np.float32))  # (M, r)
    proj *= proj
    return _mm(proj, evals[keep].astype(np.float32)[:, None])[:, 0]


@lru_cache(maxsize=64)
def _far_poly(lengthscale: float, lo: float, hi: float) -> tuple[float, float, float]:
    inv = 1.0 / lengthscale ** 2
    if hi <= lo:
        return 1.0, inv, 0.5 * inv * inv  # Taylor at c = 0
    grid = np.linspace(lo, hi, 200)
    p2, p1, p0 = np.polyfit(grid, np.exp(inv * grid), 2)
    return float(p0), float(p1), float(p2)


def _kernel(cos, cfg: GPConfig):
    """RBF on unit vectors as a function of cosine similarity (numpy or torch)."""
    if isinstance(cos, torch.Tensor):
        return cfg.signal_variance * torch.exp((cos - 1.0) / cfg.lengthscale ** 2)
    return cfg.signal_variance * np.exp((cos - 1.0) / cfg.lengthscale ** 2)


class GPPosterior:
    """Posterior mean and std of the reward of every candidate concept (method: module docstring).

    Args:
        embeddings: (M, D) L2-normalised concept embeddings, one row per candidate (vocabulary order).
        config: hyper-parameters and approximation settings.

    Use :meth:`add` for observations (concept index, reward), then :meth:`update`; read :attr:`mean` and
    :attr:`std` (float32, shape (M,), in reward units).
    """

    def __init__(self, embeddings, config: GPConfig | None = None):
        self.emb = _check_embeddings(embeddings)
        self.config = config or GPConfig()
        self._initial_config = asdict(self.config)
        self.m = len(self.emb)
        self._emb_t = torch.from_numpy(self.emb)  # heavy algebra runs in torch only: numpy's BLAS threads
        self._clear()                             # and torch's fight over the two cores otherwise

    # --- state ---------------------------------------------------------------------------------
    def _clear(self) -> None:
        self.kv = int(self.config.neighbors)
        k = max(self.kv, int(self.config.mean_neighbors))
        self.k = k
        self.slot_of = np.full(self.m, _PAD, np.int64)  # concept -> slot among observed concepts
        self.obs_concept = np.zeros(0, np.int64)  # slot -> concept
        self.obs_sum = np.zeros(0, np.float64)
        self.obs_count = np.zeros(0, np.int64)
        self.gram = np.zeros((0, 0), np.float32)  # cosines among observed concepts (capacity grows)
        self.n_slots = 0
        self.nbr_idx = np.full((self.m, k), _PAD, np.int32)
        self.nbr_sim = np.full((self.m, k), -np.inf, np.float32)
        self.explained = np.zeros(self.m, np.float32)  # k_S (K_SS + D_S)^-1 k_S
        # raw observation log (the checkpoint) and the exact weights' Cholesky factor over "rows"
        self.log_concepts: list[int] = []
        self.log_rewards: list[float] = []
        self.n_folded = 0  # log entries already in the posterior
        self.events: list[dict] = []  # how the factor was built: appends and rebuilds (replayed on load)
        self._batches: list[int] = []  # log length at each update
        self._reset_factor()
        self.y_mean = 0.0
        self.y_std = 1.0
        self.alpha = np.zeros(0, np.float64)  # per slot
        self.mean = np.zeros(self.m, np.float32)
        self.std = np.full(self.m, np.sqrt(self.config.signal_variance), np.float32)
        self.fitted: dict = {}

    def _reset_factor(self) -> None:
        self.row_slot = np.zeros(0, np.int64)
        self.row_y = np.zeros(0, np.float64)
        self.row_noise = np.zeros(0, np.float64)
        self.blocks: list[np.ndarray] = []  # the Cholesky factor as row blocks: block i = L[s_i:e_i, :e_i]
        self.block_starts: list[int] = []
        self.n_rows = 0

    @property
    def n_unique(self) -> int:
        """Distinct concepts observed so far."""
        return self.n_slots

    @property
    def n_observations(self) -> int:
        return len(self.log_concepts)

    def add(self, concepts, rewards) -> None:
        """Queue observations (concept positions and their rewards) for the next :meth:`update`."""
        c = np.atleast_1d(np.asarray(concepts)).astype(np.int64)
        r = np.atleast_1d(np.asarray(rewards, dtype=np.float64))
        if c.shape != r.shape:
            raise ValueError(f"concepts and rewards must have the same length (got {c.shape} and {r.shape})")
        if len(c) and (c.min() < 0 or c.max() >= self.m):
            raise ValueError(f"concept index out of range 0..{self.m - 1}: pass positions in the candidate embeddings")
        if not np.all(np.isfinite(r)):
            raise ValueError("rewards must be finite numbers (got NaN or inf)")
        self.log_concepts.extend(int(x) for x in c)
        self.log_rewards.extend(float(x) for x in r)

    def fit(self, concepts, rewards) -> None:
        """Condition on exactly these observations (all of them, in order) and update. When they extend the
        observations already held, only the new ones are folded in (the usual case); otherwise it starts over."""
        c = np.atleast_1d(np.asarray(concepts)).astype(np.int64)
        r = np.atleast_1d(np.asarray(rewards, dtype=np.float64))
        n = len(self.log_concepts)
        held_c = np.asarray(self.log_concepts, np.int64)
        held_r = np.asarray(self.log_rewards, np.float64)
        if len(c) < n or not (np.array_equal(c[:n], held_c) and np.array_equal(r[:n], held_r)):
            cfg = self._initial_config
            self.config = GPConfig(**cfg)
            self._clear()
            n = 0
        self.add(c[n:], r[n:])
        self.update()

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """The posterior mean and std of every candidate (float32, reward units)."""
        return self.mean, self.std

    # --- the update ----------------------------------------------------------------------------
    def update(self) -> None:
        """Fold the queued observations into the posterior and refresh :attr:`mean` and :attr:`std`."""
        self._fold()

    def _fold_light(self, event_iter) -> None:
        self._fold(event_iter)

    def _fold(self, event_iter=None) -> None:
        replay = event_iter is not None
        lo, hi = self.n_folded, len(self.log_concepts)
        concepts = np.asarray(self.log_concepts[lo:hi], np.int64)
        rewards = np.asarray(self.log_rewards[lo:hi], np.float64)
        self.n_folded = hi
        if not replay:
            self._batches.append(hi)
        dirty = np.zeros(self.m, bool)
        if len(concepts):
            uniq = np.unique(concepts)
            known = uniq[self.slot_of[uniq] != _PAD]
            new = uniq[self.slot_of[uniq] == _PAD]
            counted = self.slot_of[known]
            n0 = self.n_slots
            self.slot_of[new] = np.arange(n0, n0 + len(new))
            self.obs_sum = np.concatenate([self.obs_sum, np.zeros(len(new))])
            self.obs_count = np.concatenate([self.obs_count, np.zeros(len(new), np.int64)])
            slots = self.slot_of[concepts]
            np.add.at(self.obs_sum, slots, rewards)
            np.add.at(self.obs_count, slots, 1)
            if len(counted) and not replay:  # a neighbour's noise changed: they need new local weights
                dirty |= np.isin(self.nbr_idx, counted).any(axis=1)
            if len(new):
                dirty |= self._add_concepts(new, merge_neighbours=not replay)
        else:
            slots = np.zeros(0, np.int64)
        cfg = self.config
        if replay:
            # the checkpointed history says what happened to the factor after this batch
            ev = next(event_iter, None)
            if ev is None:
                raise ValueError("checkpoint history is shorter than its batches: it is damaged")
            if ev["op"] == "append":
                self._append_rows(slots, rewards)
            else:
                cfg.lengthscale, cfg.noise_variance = ev["lengthscale"], ev["noise_variance"]
                self._rebuild()
            self.events.append(ev)
            return
        refit_all = False
        if cfg.fit_hyperparameters and self.n_slots >= 3:
            refit_all = self.select_hyperparameters()
        if refit_all or (self.n_rows + len(slots) > cfg.rebuild_factor * max(self.n_slots, 1)
                         and self.n_rows + len(slots) > 64):
            self._rebuild()
            self.events.append({"op": "rebuild", "lengthscale": cfg.lengthscale,
                                "noise_variance": cfg.noise_variance})
        else:
            self._append_rows(slots, rewards)
            self.events.append({"op": "append"})
        if refit_all:
            dirty[:] = True
        idx = np.flatnonzero(dirty)
        for start in range(0, len(idx), cfg.chunk):
            self._solve(idx[start:start + cfg.chunk])
        self._predict()

    def _add_concepts(self, new: np.ndarray, merge_neighbours: bool = True) -> np.ndarray:
        """Give new concepts slots: grow the gram matrix and merge them into every neighbour list."""
        n0, b = self.n_slots, len(new)
        n1 = n0 + b
        self.obs_concept = np.concatenate([self.obs_concept, new])
        if n1 > self.gram.shape[0]:
            cap = n1 + max(256, n1 // 8)
            g = np.zeros((cap, cap), np.float32)
            g[:n0, :n0] = self.gram[:n0, :n0]
            self.gram = g
        e_new = self.emb[new]
        block = _mm(e_new, self.emb[self.obs_concept[:n1]].T)  # (b, n1), one GEMM per batch
        diag = block[:, n0:n1]
        block[:, n0:n1] = np.triu(diag) + np.triu(diag, 1).T  # exactly symmetric
        self.gram[n0:n1, :n1] = block
        self.gram[:n1, n0:n1] = block.T
        self.n_slots = n1
        changed = np.zeros(self.m, bool)
        if not merge_neighbours:
            return changed
        k = self.k
        step = 256  # new concepts per merge: bounds the M x step similarity block
        for s0 in range(0, b, step):
            s1 = min(b, s0 + step)
            sims = self._emb_t @ torch.from_numpy(np.ascontiguousarray(e_new[s0:s1].T))  # (M, step)
            cur_sim, cur_idx = torch.from_numpy(self.nbr_sim), torch.from_numpy(self.nbr_idx)
            # only rows where a new concept beats the list's last (least similar) entry change
            rows = torch.nonzero(sims.max(dim=1).values > cur_sim[:, -1]).flatten()
            if len(rows) == 0:
                continue
            all_sim = torch.cat([cur_sim[rows], sims[rows]], dim=1)
            all_idx = torch.cat([cur_idx[rows], torch.arange(
                n0 + s0, n0 + s1, dtype=torch.int32).expand(len(rows), s1 - s0)], dim=1)
            # lists stay sorted by similarity, most similar first (the variance uses the first `neighbors`)
            top_sim, pos = torch.topk(all_sim, k, dim=1, sorted=True)
            top_idx = torch.gather(all_idx, 1, pos)
            cur_sim[rows] = top_sim
            cur_idx[rows] = top_idx
            r = rows.numpy()
            changed[r] |= (top_idx[:, :self.kv] >= n0 + s0).any(dim=1).numpy()
        return changed

    def _row_kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _kernel(self.gram[np.ix_(a, b)].astype(np.float64), self.config)

    def _append_rows(self, slots: np.ndarray, ys: np.ndarray, noise: np.ndarray | None = None) -> None:
        """Grow the Cholesky factor of K + D by rows (one per observation), O(N^2 b)."""
        b = len(slots)
        if b == 0:
            return
        noise = np.full(b, self.config.noise_variance) if noise is None else noise
        n0, n1 = self.n_rows, self.n_rows + b
        k22 = self._row_kernel(slots, slots) + np.diag(noise)
        block = np.zeros((b, n1), np.float64)
        if n0:
            k12 = self._row_kernel(self.row_slot[:n0], slots)
            l21t = self._forward(k12)  # L11^-1 K12, O(n0^2 b)
            k22 = k22 - _mm(l21t.T, l21t)
            block[:, :n0] = l21t.T
        block[:, n0:] = torch.linalg.cholesky(torch.from_numpy(k22)).numpy()
        self.blocks.append(block)
        self.block_starts.append(n0)
        self.row_slot = np.concatenate([self.row_slot[:n0], slots])
        self.row_y = np.concatenate([self.row_y[:n0], ys])
        self.row_noise = np.concatenate([self.row_noise[:n0], noise])
        self.n_rows = n1

    def _forward(self, rhs: np.ndarray) -> np.ndarray:
        """L^-1 rhs by block forward substitution (row blocks are contiguous: no copy of the factor)."""
        out = np.empty_like(rhs)
        t_out = torch.from_numpy(out)
        for start, block in zip(self.block_starts, self.blocks):
            end = start + len(block)
            tb = torch.from_numpy(block)
            r = torch.from_numpy(rhs[start:end])
            if start:
                r = r - tb[:, :start] @ t_out[:start]
            t_out[start:end] = torch.linalg.solve_triangular(tb[:, start:end].contiguous(), r, upper=False)
        return out

    def _backward(self, rhs: np.ndarray) -> np.ndarray:
        """L^-T rhs by block backward substitution."""
        rest = torch.from_numpy(rhs.copy())
        out = torch.empty_like(rest)
        for start, block in zip(reversed(self.block_starts), reversed(self.blocks)):
            end = start + len(block)
            tb = torch.from_numpy(block)
            x = torch.linalg.solve_triangular(tb[:, start:end].T.contiguous(), rest[start:end], upper=True)
            out[start:end] = x
            if start:
                rest[:start] -= tb[:, :start].T @ x
        return out.numpy()

    def _rebuild(self) -> None:
        """Factor over the distinct concepts (merged: mean reward, noise / count) from scratch."""
        n = self.n_slots
        self._reset_factor()
        if n:
            self._append_rows(np.arange(n), self.obs_sum[:n] / self.obs_count[:n],
                              self.config.noise_variance / self.obs_count[:n])

    def _solve(self, rows: np.ndarray) -> None:
        """Recompute the local variance of candidates ``rows`` (batched k x k Cholesky, float32)."""
        cfg = self.config
        idx = self.nbr_idx[rows, :self.kv]  # lists are sorted: the `neighbors` most similar come first
        sim = self.nbr_sim[rows, :self.kv]
        valid = idx >= 0
        safe = np.where(valid, idx, 0)
        inv = np.float32(1.0 / cfg.lengthscale ** 2)
        kss = self.gram[safe[:, :, None], safe[:, None, :]]
        kss -= 1.0
        kss *= inv
        np.exp(kss, out=kss)
        kss *= np.float32(cfg.signal_variance)
        kss *= valid[:, :, None] & valid[:, None, :]
        noise = np.where(valid, cfg.noise_variance / np.maximum(self.obs_count[safe], 1), 1.0).astype(np.float32)
        diag = np.arange(self.kv)
        kss[:, diag, diag] += noise
        ks = np.where(valid, _kernel(sim, cfg), 0.0).astype(np.float32)
        kss_t, ks_t = torch.from_numpy(kss), torch.from_numpy(ks)
        chol, info = torch.linalg.cholesky_ex(kss_t)
        u = torch.cholesky_solve(ks_t[:, :, None], chol)[:, :, 0]
        bad = info != 0
        if bool(bad.any()):  # float32 trouble on near-duplicates: redo those in float64
            chol64 = torch.linalg.cholesky(kss_t[bad].double())
            u[bad] = torch.cholesky_solve(ks_t[bad].double()[:, :, None], chol64)[:, :, 0].float()
        self.explained[rows] = (u * ks_t).sum(dim=1).numpy()

    def _predict(self) -> None:
        cfg = self.config
        n = self.n_slots
        if n == 0:
            self.mean[:] = 0.0
            self.std[:] = np.sqrt(cfg.signal_variance)
            return
        ybar = self.obs_sum[:n] / self.obs_count[:n]
        if cfg.normalize_y:
            self.y_mean = float(ybar.mean())
            sd = float(ybar.std()) if n >= 2 else 0.0
            self.y_std = sd if sd > 1e-8 else max(abs(self.y_mean), 1e-3)
        else:
            self.y_mean, self.y_std = 0.0, 1.0
        # exact weights over the rows, summed per concept
        z = (self.row_y[:self.n_rows] - self.y_mean) / self.y_std
        a_rows = self._backward(self._forward(z[:, None]))[:, 0]
        alpha = np.bincount(self.row_slot[:self.n_rows], weights=a_rows, minlength=n)
        self.alpha = alpha
        # far field: second-order Taylor expansion of exp(c / l^2) through the moments of the observations
        inv = 1.0 / cfg.lengthscale ** 2
        scale = cfg.signal_variance * np.exp(-inv)
        x = self.emb[self.obs_concept[:n]].astype(np.float64)
        a0 = alpha.sum()
        a1 = _mm(x.T, alpha[:, None])[:, 0].astype(np.float32)
        quad = _quadratic_term(self._emb_t, x, alpha, cfg.taylor_rank)
        p0, p1, p2 = self._far_poly()
        far = scale * (p0 * a0 + p1 * _mm(self._emb_t, a1[:, None])[:, 0] + p2 * quad)
        # near field: exact terms for each candidate's neighbours, minus their Taylor stand-ins
        c = np.where(self.nbr_idx >= 0, self.nbr_sim, np.float32(0.0))
        resid = _kernel(c, cfg).astype(np.float32)
        resid -= np.float32(scale) * (np.float32(p0) + c * (np.float32(p1) + np.float32(p2) * c))
        resid *= np.append(alpha, 0.0).astype(np.float32)[self.nbr_idx]  # slot -1 -> weight 0
        near = resid.sum(axis=1, dtype=np.float64)
        self.mean = (self.y_mean + self.y_std * (far + near)).astype(np.float32)
        var = np.maximum(cfg.signal_variance - self.explained, 0.0)
        self.std = (self.y_std * np.sqrt(var)).astype(np.float32)

    def _far_poly(self) -> tuple[float, float, float]:
        """Quadratic stand-in for exp(c / l^2) on the cosines of far pairs."""
        return _far_poly(self.config.lengthscale, *self.config.far_fit_range)

    # --- hyper-parameters ----------------------------------------------------------------------
    def select_hyperparameters(self) -> bool:
        """Pick lengthscale and noise_variance on the grid by exact log marginal likelihood over a seeded
        subset of the distinct observed concepts. Returns whether they changed."""
        cfg = self.config
        n = self.n_slots
        rng = np.random.default_rng(n)
        sub = np.sort(rng.choice(n, size=min(n, cfg.fit_subset), replace=False))
        ybar = self.obs_sum[sub] / self.obs_count[sub]
        y = ybar - ybar.mean()
        sd = y.std()
        y = y / (sd if sd > 1e-8 else 1.0)
        cos = self.gram[np.ix_(sub, sub)].astype(np.float64)
        best = None
        for ls in cfg.fit_lengthscales:
            kk = cfg.signal_variance * np.exp((cos - 1.0) / ls ** 2)
            for nv in cfg.fit_noises:
                try:
                    with threadpool_limits(1, user_api="blas"):
                        lch = np.linalg.cholesky(kk + np.diag(nv / self.obs_count[sub]))
                except np.linalg.LinAlgError:
                    continue
                w = _trsm(lch, y[:, None])[:, 0]
                lml = -0.5 * w @ w - np.log(np.diag(lch)).sum()
                if best is None or lml > best[0]:
                    best = (lml, ls, nv)
        if best is None:
            return False
        self.fitted = {"log_marginal_likelihood": float(best[0]), "lengthscale": best[1], "noise_variance": best[2]}
        changed = (best[1], best[2]) != (cfg.lengthscale, cfg.noise_variance)
        cfg.lengthscale, cfg.noise_variance = best[1], best[2]
        return changed

    # --- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """What is needed to continue bit for bit: numpy arrays and primitives only, about
        M x mean_neighbors x 8 bytes (75 MB for the full vocabulary) plus the observation log. The cosines
        among observed concepts and the Cholesky factor are not stored: :meth:`load_state_dict` replays their
        history batch by batch (same operations, same bits; ~N^3/3 flops, seconds at N = 10,000)."""
        return {
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self._initial_config.items()},
            "current": {"lengthscale": self.config.lengthscale, "noise_variance": self.config.noise_variance},
            "m": self.m,
            "log_concepts": np.asarray(self.log_concepts, np.int64), "log_rewards": np.asarray(self.log_rewards),
            "n_folded": self.n_folded, "events": [dict(e) for e in self.events], "batches": list(self._batches),
            "nbr_idx": self.nbr_idx.copy(), "nbr_sim": self.nbr_sim.copy(),
            "explained": self.explained.copy(), "fitted": dict(self.fitted),
        }

    def load_state_dict(self, d: dict) -> None:
        if int(d["m"]) != self.m:
            raise ValueError(f"checkpoint has {d['m']} candidates but this posterior has {self.m}: "
                             "load it with the same vocabulary and embeddings")
        names = {f.name for f in fields(GPConfig)}
        self.config = GPConfig(**{k: v for k, v in d["config"].items() if k in names})
        self._initial_config = asdict(self.config)
        self._clear()
        concepts = [int(x) for x in d["log_concepts"]]
        rewards = [float(x) for x in d["log_rewards"]]
        # replay the factor's history batch by batch (same operations, same bits); the neighbour lists and
        # local variances are restored from the checkpoint instead of being recomputed
        events = iter(d["events"])
        pos = 0
        for end in d["batches"]:
            self.log_concepts = concepts[:end]
            self.log_rewards = rewards[:end]
            self._fold_light(events)
            self._batches.append(end)
            pos = end
        self.log_concepts, self.log_rewards = concepts, rewards
        self.nbr_idx = np.asarray(d["nbr_idx"], np.int32).copy()
        self.nbr_sim = np.asarray(d["nbr_sim"], np.float32).copy()
        self.explained = np.asarray(d["explained"], np.float32).copy()
        self.config.lengthscale = float(d["current"]["lengthscale"])
        self.config.noise_variance = float(d["current"]["noise_variance"])
        self.fitted = dict(d.get("fitted", {}))
        self.n_folded = int(d["n_folded"])
        if pos != self.n_folded:
            raise ValueError("checkpoint history does not reach its folded observations: it is damaged")
        self._predict()
def exact_posterior(embeddings, concepts, rewards, config: GPConfig | None = None,
                    chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """The textbook GP (float64, repeats merged as in :class:`GPPosterior`): mean and std for every row of
    ``embeddings``. Costs M x N^2: for checking the approximation on problems of a few thousand."""
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
    kxx = _kernel(x @ x.T, cfg) + np.diag(cfg.noise_variance / count)
    lch = np.linalg.cholesky(kxx)
    alpha = np.linalg.solve(lch.T, np.linalg.solve(lch, (ybar - m0) / sd))
    mean = np.empty(len(e))
    std = np.empty(len(e))
    for s in range(0, len(e), chunk):
        ks = _kernel(e[s:s + chunk] @ x.T, cfg)
        mean[s:s + chunk] = m0 + sd * (ks @ alpha)
        v = np.linalg.solve(lch, ks.T)
        std[s:s + chunk] = sd * np.sqrt(np.maximum(cfg.signal_variance - (v * v).sum(axis=0), 0.0))
    return mean, std
