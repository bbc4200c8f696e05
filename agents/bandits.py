"""Bandit baselines on the same GP posterior as the paper's agent: GP-UCB and GP-Thompson sampling.

- GP-UCB scores every candidate ``mean + beta * std`` at each refit and queries the best ones in order, never
  twice within an iteration (top-k without repeats).
- GP-Thompson draws, for every query, one sample of the reward of every candidate from the posterior and
  queries its argmax (not yet used in the iteration). The sample is the tractable approximation over all
  146k candidates: independent marginals ``N(mean, std^2)`` (the local posterior gives no joint covariance at
  that scale). With many unseen candidates this explores widely: the maximum of many independent draws
  favours high-variance concepts. ``pool`` restricts the draws to the best concepts by mean + beta * std.
- GP-gain (``gp_gain``) is GP-UCB that refits every ``refit_batch`` observations (32) rather than once an
  iteration, and learns from what each query added (``signal="new_gain"``, :func:`agents.base.learning_signal`): a
  query whose images were all downloaded before is worth nothing, where the mean reward of its images scores it as
  high as they are. ``hierarchy_weight`` puts WordNet's hierarchy into the kernel (:mod:`agents.hierarchy`; the
  ``gp_tree`` preset: 0.5). No ground truth, no target class names: only the vocabulary and the rewards.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.base import Query
from agents.gp_base import GPDrivenAgent, GPDrivenConfig
from agents.hierarchy import hierarchy_embeddings, joint_embeddings


@dataclass
class BanditConfig(GPDrivenConfig):
    """Options of :class:`GPUCBAgent` and :class:`GPThompsonAgent` (GP hyper-parameters may be given flat)."""

    beta: float = 2.0
    """UCB exploration weight: score = mean + beta * std (GP-UCB; also ranks the Thompson pool)."""
    pool: int = 0
    """GP-Thompson only: sample among the `pool` best concepts by mean + beta * std (0: all candidates)."""


class GPUCBAgent(GPDrivenAgent):
    """GP-UCB: the highest ``mean + beta * std`` concepts, in order, without repeats within an iteration.
    Before any observation all scores tie and it starts from a seeded random permutation."""

    name = "gp_ucb"
    config_class = BanditConfig

    def after_refit(self) -> None:
        post = self.posterior
        score = post.mean.astype(np.float64) + self.config.beta * post.std.astype(np.float64)
        # ties (e.g. before any data) broken by a seeded random permutation, not by vocabulary order
        tiebreak = np.random.Generator(np.random.PCG64([self.iteration, int(self.rng.integers(2**31))]))
        perm = tiebreak.permutation(len(score))
        self._order = perm[np.argsort(-score[perm], kind="stable")]
        self._cursor = 0

    def draw(self) -> Query:
        used, order, n = set(self.used), self._order, len(self._order)
        for _ in range(n):  # skip candidates used this iteration or with every variant issued
            i = int(order[self._cursor % n])
            if i not in used and not self.exhausted(int(self.candidates[i])):
                break
            self._cursor += 1
        i = int(order[self._cursor % n])
        self._cursor += 1
        self.used.append(i)
        return self.make_query(int(self.candidates[i]), self.config.p_descriptor)

    def state_dict(self) -> dict:
        d = super().state_dict()
        d.update({"order": self._order.copy(), "cursor": self._cursor})
        return d

    def load_state_dict(self, d: dict) -> None:
        super().load_state_dict(d)
        self._order = np.asarray(d["order"], np.int64).copy()
        self._cursor = int(d["cursor"])


class GPThompsonAgent(GPDrivenAgent):
    """GP-Thompson sampling with independent marginals (see the module docstring)."""

    name = "gp_thompson"
    config_class = BanditConfig

    def after_refit(self) -> None:
        post = self.posterior
        if self.config.pool and self.config.pool < len(self.candidates):
            score = post.mean.astype(np.float64) + self.config.beta * post.std.astype(np.float64)
            self._pool = np.sort(np.argsort(-score, kind="stable")[: self.config.pool])
        else:
            self._pool = np.arange(len(self.candidates))

    def draw(self) -> Query:
        post = self.posterior
        pool = self._pool
        draw = post.mean[pool].astype(np.float64) + post.std[pool].astype(np.float64) * self.rng.standard_normal(len(pool))
        used = np.isin(pool, self.used)
        if used.any() and not used.all():
            draw[used] = -np.inf
        best = int(np.argmax(draw))
        while self.exhausted(int(self.candidates[pool[best]])) and np.isfinite(draw).sum() > 1:  # the next
            draw[best] = -np.inf
            best = int(np.argmax(draw))
        i = int(pool[best])  # a candidate position
        self.used.append(i)
        return self.make_query(int(self.candidates[i]), self.config.p_descriptor)

    def load_state_dict(self, d: dict) -> None:
        super().load_state_dict(d)
        self.after_refit()  # the pool is a function of the posterior (no randomness)


@dataclass
class GainConfig(BanditConfig):
    """Options of :class:`GPGainAgent` (GP hyper-parameters may be given flat, e.g. lengthscale=0.5)."""

    signal: str = "new_gain"
    """What the posterior learns from (see agents.base.learning_signal): by default what each query added."""
    refit_batch: int = 32
    """Most observations between two refits, whatever the env's iteration (``refit_every``): the paper refits once
    an iteration, but a refit uses what the agent saw sooner (0: once an iteration)."""
    hierarchy_weight: float = 0.0
    """Share of the kernel's cosine that comes from WordNet's hierarchy (agents.hierarchy; 0: the text embeddings
    alone, as the paper)."""
    hierarchy_dim: int = 256
    """Dimensions of the hierarchy vectors (random projection; cosines within ~1/sqrt(dim))."""

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= float(self.hierarchy_weight) <= 1.0:
            raise ValueError(f"hierarchy_weight must be in [0, 1] (got {self.hierarchy_weight})")
        if int(self.refit_batch) < 0:
            raise ValueError(f"refit_batch must be >= 0 (got {self.refit_batch}); 0 refits once an iteration")
        if self.refit_batch:
            self.refit_every = min(int(self.refit_every), int(self.refit_batch))


class GPGainAgent(GPUCBAgent):
    """GP-UCB refitted every ``refit_batch`` observations on what each query added (see the module docstring)."""

    name = "gp_gain"
    config_class = GainConfig

    def kernel_features(self, candidates: np.ndarray) -> np.ndarray:
        text = super().kernel_features(candidates)
        if self.config.hierarchy_weight == 0:
            return text
        tree = hierarchy_embeddings(self.context.vocab, self.config.hierarchy_dim)[candidates]
        return joint_embeddings(text, tree, self.config.hierarchy_weight)
