""":class:`GPPosterior`: wires the parts of the method (package docstring) into update / predict / checkpoints."""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, fields, replace

import numpy as np

from agents.posterior.cholesky import BlockCholesky
from agents.posterior.config import GPConfig
from agents.posterior.gram import ObservedCosines
from agents.posterior.hyperparameters import select_hyperparameters
from agents.posterior.kernel import kernel
from agents.posterior.linalg import product_operand
from agents.posterior.mean import standardized_mean
from agents.posterior.neighbours import PAD, NeighbourLists
from agents.posterior.variance import explained_variance

_BACKGROUND = ThreadPoolExecutor(1, thread_name_prefix="gp-variance")
"""Runs the local-variance recomputation of an update beside the rest of it."""


def check_embeddings(embeddings) -> np.ndarray:
    """The candidate embeddings as a writable C-contiguous float32 (M, D) array of unit rows."""
    e = np.ascontiguousarray(embeddings, dtype=np.float32)
    if not e.flags.writeable:  # e.g. the cached read-only memory map: torch wants a writable array
        e = e.copy()
    if e.ndim != 2 or len(e) == 0:
        raise ValueError(f"embeddings must be a non-empty (N, D) array, got shape {e.shape}")
    norms = np.linalg.norm(e[: min(len(e), 1000)], axis=1)
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise ValueError("embeddings must be L2-normalised rows (the RBF is on unit vectors): "
                         "divide each row by its norm")
    return e


class GPPosterior:
    """Posterior mean and std of the reward of every candidate concept (method: :mod:`agents.posterior`).

    Args:
        embeddings: (M, D) L2-normalised concept embeddings, one row per candidate (vocabulary order).
        config: hyper-parameters and approximation settings (never changed; :attr:`current` holds the
            hyper-parameters in use, which the marginal-likelihood fit may change).

    Use :meth:`add` for observations (concept index, reward), then :meth:`update`; read :attr:`mean` and
    :attr:`std` (float32, shape (M,), in reward units).
    """

    def __init__(self, embeddings, config: GPConfig | None = None):
        self.emb = check_embeddings(embeddings)
        self.config = config or GPConfig()
        self.m = len(self.emb)
        self._emb_t = product_operand(self.emb, self.config.products)
        self._clear()

    # --- state ---------------------------------------------------------------------------------
    def _clear(self) -> None:
        cfg = self.config
        self.current = cfg  # the hyper-parameters in use (the fit replaces lengthscale and noise_variance)
        self.kv = int(cfg.neighbors)
        self.slot_of = np.full(self.m, PAD, np.int64)  # concept -> slot among observed concepts
        self.obs_concept = np.zeros(0, np.int64)  # slot -> concept
        self.obs_sum = np.zeros(0, np.float64)
        self.obs_count = np.zeros(0, np.int64)
        self.gram = ObservedCosines()
        self.nbrs = NeighbourLists(self.m, max(self.kv, int(cfg.mean_neighbors)), self.kv)
        self.explained = np.zeros(self.m, np.float32)  # k_S (K_SS + D_S)^-1 k_S
        # raw observation log (the checkpoint) and the exact weights' Cholesky factor over "rows"
        self.log_concepts: list[int] = []
        self.log_rewards: list[float] = []
        self.n_folded = 0  # log entries already in the posterior
        self.events: list[dict] = []  # how the factor was built: appends and rebuilds (replayed on load)
        self._batches: list[int] = []  # log length at each update
        self.factor = BlockCholesky(np.float64 if cfg.factor_float64 else np.float32)
        self._clear_rows()
        self.y_mean = 0.0
        self.y_std = 1.0
        self.alpha = np.zeros(0, np.float64)  # per slot
        self.mean = np.zeros(self.m, np.float32)
        self.std = np.full(self.m, np.sqrt(cfg.signal_variance), np.float32)
        self.fitted: dict = {}

    def _clear_rows(self) -> None:
        self.row_slot = np.zeros(0, np.int64)
        self.row_y = np.zeros(0, np.float64)
        self.row_noise = np.zeros(0, np.float64)

    @property
    def n_slots(self) -> int:
        return self.gram.n

    @property
    def n_unique(self) -> int:
        """Distinct concepts observed so far."""
        return self.gram.n

    @property
    def n_rows(self) -> int:
        """Rows of the Cholesky factor (observations since its last rebuild over distinct concepts)."""
        return self.factor.n

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

    def _fold(self, event_iter=None) -> None:
        """Fold the queued observations in. With ``event_iter`` (a checkpoint's history) it replays what the
        factor did after this batch instead of deciding, and leaves neighbour lists, local variances and the
        prediction to the caller."""
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
            known = uniq[self.slot_of[uniq] != PAD]
            new = uniq[self.slot_of[uniq] == PAD]
            counted = self.slot_of[known]
            n0 = self.n_slots
            self.slot_of[new] = np.arange(n0, n0 + len(new))
            self.obs_sum = np.concatenate([self.obs_sum, np.zeros(len(new))])
            self.obs_count = np.concatenate([self.obs_count, np.zeros(len(new), np.int64)])
            slots = self.slot_of[concepts]
            np.add.at(self.obs_sum, slots, rewards)
            np.add.at(self.obs_count, slots, 1)
            if len(counted) and not replay:  # a neighbour's noise changed: they need new local weights
                dirty |= self.nbrs.containing(counted)
            if len(new):
                self.obs_concept = np.concatenate([self.obs_concept, new])
                e_new = self.emb[new]
                self.gram.grow(e_new, self.emb[self.obs_concept])
                if not replay:
                    dirty |= self.nbrs.merge(self._emb_t, e_new, n0)
        else:
            slots = np.zeros(0, np.int64)
        if replay:
            # the checkpointed history says what happened to the factor after this batch
            ev = next(event_iter, None)
            if ev is None:
                raise ValueError("checkpoint history is shorter than its batches: it is damaged")
            if ev["op"] == "append":
                self._append_rows(slots, rewards)
            else:
                self.current = replace(self.config, lengthscale=ev["lengthscale"], noise_variance=ev["noise_variance"])
                self._rebuild()
            self.events.append(ev)
            return
        cfg = self.config
        refit_all = False
        if cfg.fit_hyperparameters and self.n_slots >= 3:
            refit_all = self._select_hyperparameters()
        if refit_all:
            dirty[:] = True
        # the local variances need only the neighbour lists and the cosines, which are final now: they run in a
        # second thread (mostly numpy on one core) while the factor grows and the mean is computed (torch)
        idx = np.flatnonzero(dirty)
        variances = _BACKGROUND.submit(lambda: [self._solve(idx[s:s + cfg.chunk])
                                                for s in range(0, len(idx), cfg.chunk)])
        if refit_all or (self.n_rows + len(slots) > cfg.rebuild_factor * max(self.n_slots, 1)
                         and self.n_rows + len(slots) > 64):
            self._rebuild()
            self.events.append({"op": "rebuild", "lengthscale": self.current.lengthscale,
                                "noise_variance": self.current.noise_variance})
        else:
            self._append_rows(slots, rewards)
            self.events.append({"op": "append"})
        self._predict(variances)

    def _row_kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return kernel(self.gram.between(a, b), self.current)

    def _append_rows(self, slots: np.ndarray, ys: np.ndarray, noise: np.ndarray | None = None) -> None:
        """Grow the Cholesky factor of K + D by rows (one per observation), O(N^2 b)."""
        if len(slots) == 0:
            return
        noise = np.full(len(slots), self.current.noise_variance) if noise is None else noise
        n0 = self.n_rows
        k22 = self._row_kernel(slots, slots) + np.diag(noise)
        # the old rows against the new ones, in the factor's precision (the factor takes them so)
        k12 = kernel(self.gram.matrix[np.ix_(self.row_slot[:n0], slots)].astype(self.factor.dtype),
                     self.current) if n0 else None
        self.factor.append(k22, k12, np.stack([ys, np.ones(len(ys))], axis=1))  # carries L^-1 [y, 1]
        self.row_slot = np.concatenate([self.row_slot[:n0], slots])
        self.row_y = np.concatenate([self.row_y[:n0], ys])
        self.row_noise = np.concatenate([self.row_noise[:n0], noise])

    def _rebuild(self) -> None:
        """Factor over the distinct concepts (merged: mean reward, noise / count) from scratch."""
        n = self.n_slots
        self.factor.clear()
        self._clear_rows()
        if n:
            self._append_rows(np.arange(n), self.obs_sum[:n] / self.obs_count[:n],
                              self.current.noise_variance / self.obs_count[:n])

    def _solve(self, rows: np.ndarray) -> None:
        """Recompute the local variance of candidates ``rows`` (lists are sorted: the first ``kv`` are the
        ``neighbors`` most similar)."""
        self.explained[rows] = explained_variance(self.nbrs.idx[rows, :self.kv], self.nbrs.sim[rows, :self.kv],
                                                  self.gram.matrix, self.obs_count, self.current)

    def _predict(self, variances: Future | None = None) -> None:
        """Mean and std of every candidate; ``variances``: the pending recomputation of local variances."""
        cfg = self.current
        n = self.n_slots
        if n == 0:
            if variances is not None:
                variances.result()
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
        # exact weights over the rows, summed per concept: L^-T L^-1 (y - m0) / sd, with L^-1 y and L^-1 1 carried
        # by the factor (only the backward pass is left)
        w = self.factor.solved
        z = (w[:, 0] - self.y_mean * w[:, 1]) / self.y_std
        a_rows = self.factor.backward(z[:, None])[:, 0]
        self.alpha = np.bincount(self.row_slot[:self.n_rows], weights=a_rows, minlength=n)
        x = self.emb[self.obs_concept[:n]]
        mean = standardized_mean(self._emb_t, x, self.alpha, self.nbrs.idx, self.nbrs.sim, cfg)
        self.mean = (self.y_mean + self.y_std * mean).astype(np.float32)
        if variances is not None:
            variances.result()
        var = np.maximum(cfg.signal_variance - self.explained, 0.0)
        self.std = (self.y_std * np.sqrt(var)).astype(np.float32)

    # --- hyper-parameters ----------------------------------------------------------------------
    def _select_hyperparameters(self) -> bool:
        """Pick lengthscale and noise_variance on the grid (:mod:`agents.posterior.hyperparameters`); returns
        whether they changed."""
        n = self.n_slots
        best = select_hyperparameters(self.gram.matrix[:n, :n], self.obs_sum[:n], self.obs_count[:n], self.config)
        if best is None:
            return False
        lml, ls, nv = best
        self.fitted = {"log_marginal_likelihood": float(lml), "lengthscale": ls, "noise_variance": nv}
        changed = (ls, nv) != (self.current.lengthscale, self.current.noise_variance)
        self.current = replace(self.config, lengthscale=ls, noise_variance=nv)
        return changed

    # --- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """What is needed to continue bit for bit: numpy arrays and primitives only, about
        M x mean_neighbors x 8 bytes (75 MB for the full vocabulary) plus the observation log. The cosines
        among observed concepts and the Cholesky factor are not stored: :meth:`load_state_dict` replays their
        history batch by batch (same operations, same bits; ~N^3/3 flops, seconds at N = 10,000)."""
        return {
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.config).items()},
            "current": {"lengthscale": self.current.lengthscale, "noise_variance": self.current.noise_variance},
            "m": self.m,
            "log_concepts": np.asarray(self.log_concepts, np.int64), "log_rewards": np.asarray(self.log_rewards),
            "n_folded": self.n_folded, "events": [dict(e) for e in self.events], "batches": list(self._batches),
            "nbr_idx": self.nbrs.idx.copy(), "nbr_sim": self.nbrs.sim.copy(),
            "explained": self.explained.copy(), "fitted": dict(self.fitted),
        }

    def load_state_dict(self, d: dict) -> None:
        if int(d["m"]) != self.m:
            raise ValueError(f"checkpoint has {d['m']} candidates but this posterior has {self.m}: "
                             "load it with the same vocabulary and embeddings")
        names = {f.name for f in fields(GPConfig)}
        self.config = GPConfig(**{k: v for k, v in d["config"].items() if k in names})
        self._emb_t = product_operand(self.emb, self.config.products)
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
            self._fold(events)
            self._batches.append(end)
            pos = end
        self.log_concepts, self.log_rewards = concepts, rewards
        self.nbrs.restore(d["nbr_idx"], d["nbr_sim"])
        self.explained = np.asarray(d["explained"], np.float32).copy()
        self.current = replace(self.config, lengthscale=float(d["current"]["lengthscale"]),
                               noise_variance=float(d["current"]["noise_variance"]))
        self.fitted = dict(d.get("fitted", {}))
        self.n_folded = int(d["n_folded"])
        if pos != self.n_folded:
            raise ValueError("checkpoint history does not reach its folded observations: it is damaged")
        self._predict()
