"""Wrappers that let learned policies act at full-vocabulary scale.

:class:`CandidateSetWrapper` turns the ``Discrete(146,347)`` action into a choice among ``k`` proposed
concepts. Each step it proposes ``k`` concepts: half the best by the GP agent's score (posterior mean + std for a
concept never queried, mean for one already queried) among those not queried since the last refit, half drawn
uniformly at random. The observation holds one feature row per candidate, best score first: a PCA projection
of its text embedding, its posterior mean and std (the mean standardised over all concepts, the std divided by
the largest std, so the scale does not depend on the target's rewards), and log(1 + visits). The posterior is
refit at each iteration end. Concepts the env's vocabulary filter removes are never proposed. A policy that always
takes the first row is greedy by mean + std (GP-UCB with
beta = 1); one that takes any row at random is between that and the random agent.
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.base import SIGNALS, learning_signal
from agents.posterior import GPPosterior
from ie_env.data.text_embedding import concept_embeddings

REWARDS = ("new_excess", *SIGNALS)
"""What a learned policy can be rewarded with (:attr:`CandidateConfig.reward`)."""


@dataclass
class CandidateConfig:
    """How candidate sets are proposed and described."""

    k: int = 16
    """Candidates per step (the size of the policy's action space)."""
    explore_share: float = 0.5
    """Share of candidates drawn uniformly at random; the rest are the best by score not yet queried since the
    last refit."""
    embedding_dim: int = 16
    """PCA dimensions of the text embedding kept in each candidate's features."""
    reward: str = "new_excess"
    """What the policy is rewarded with: ``new_excess`` (each new image's reward minus a baseline, summed: the
    baseline is the median image reward of the episode's first iteration, whose candidates carry no posterior
    yet, so an image earns more than 0 when it is more relevant than what the agent found before it knew
    anything; the first iteration earns 0), or a :func:`agents.base.learning_signal`: ``new_reward`` (the mean
    of the answer's best new image rewards; it pays for many new images of middling relevance, so a policy
    trained on it learns to act at random) or the env's ``reward`` (which a repeated query earns again, so a
    policy trained on it learns to repeat its best query)."""
    signal: str = "calibrated"
    """What the posterior learns from (``agents.base.learning_signal``), as the GP agents' ``signal``."""

    def __post_init__(self):
        if self.reward not in REWARDS:
            raise ValueError(f"reward={self.reward!r}: use one of {', '.join(REWARDS)}")
        if self.signal not in SIGNALS:
            raise ValueError(f"signal={self.signal!r}: use one of {', '.join(SIGNALS)}")


class CandidateSet:
    """Proposes candidate concepts and their features from a GP posterior over concept embeddings; with
    ``allowed`` (a mask over the concepts, the vocabulary filter's), only allowed concepts."""

    def __init__(self, embeddings: np.ndarray, config: CandidateConfig | None = None,
                 allowed: np.ndarray | None = None):
        from sklearn.decomposition import PCA

        self.config = cfg = config or CandidateConfig()
        n = len(embeddings)
        self.allowed = None if allowed is None else np.asarray(allowed, bool)
        self.pool = None if allowed is None else np.flatnonzero(self.allowed)  # the concepts random draws come from
        n_allowed = n if allowed is None else len(self.pool)
        if not 1 <= cfg.k <= n_allowed:
            raise ValueError(f"k={cfg.k} candidates: choose between 1 and the {n_allowed} concepts the vocabulary "
                             "(and its filter) allow")
        fit_rows = np.random.default_rng(0).choice(n, min(n, 20_000), replace=False)
        pca = PCA(cfg.embedding_dim, random_state=0).fit(embeddings[fit_rows])
        proj = pca.transform(embeddings).astype(np.float32)
        self.text = proj / (np.abs(proj).max() + 1e-8)
        self.posterior = GPPosterior(np.asarray(embeddings, np.float32))
        self.n_features = cfg.embedding_dim + 3

    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.tiebreak = rng.permutation(len(self.text))  # equal scores (before any observation) in random order
        self.visits = np.zeros(len(self.text), np.float32)
        self.observed: list[tuple[int, float]] = []
        self.refit()
        self.propose()

    def observe(self, concept: int, signal: float) -> None:
        """Count a query of ``concept``; ``signal`` is what the posterior learns from at the next refit."""
        self.visits[concept] += 1
        self.observed.append((concept, signal))
        self.queried.add(int(concept))

    def refit(self) -> None:
        """Update the posterior with every observation so far; rank the concepts by score once."""
        c, r = (np.asarray(x) for x in zip(*self.observed)) if self.observed else (np.zeros(0, int), np.zeros(0))
        self.posterior.fit(c.astype(np.int64), r.astype(np.float32))
        mean, std = self.posterior.mean_std()
        self.score = np.where(self.visits > 0, mean, mean + std).astype(np.float32)
        self.mean_feature = (mean - mean.mean()) / (mean.std() + 1e-8)
        self.std_feature = std / (std.max() + 1e-8)
        self.order = self.tiebreak[np.argsort(-self.score[self.tiebreak], kind="stable")]  # changes only here
        if self.allowed is not None:
            self.order = self.order[self.allowed[self.order]]
        self.next_best = 0  # concepts before this position in order were all queried since the refit
        self.queried: set[int] = set()

    def propose(self) -> np.ndarray:
        """The best unqueried concepts by score, then distinct uniformly drawn others (by rejection: O(k)), all
        ordered by score (best first)."""
        n_top = self.config.k - int(round(self.config.k * self.config.explore_share))
        top: list[int] = []
        i = self.next_best
        while len(top) < n_top and i < len(self.order):
            c = int(self.order[i])
            if c not in self.queried:
                top.append(c)
            elif not top:
                self.next_best = i + 1
            i += 1
        taken = set(top)
        while len(taken) < self.config.k:
            taken.add(int(self.rng.integers(len(self.order))) if self.pool is None
                      else int(self.pool[self.rng.integers(len(self.pool))]))
        c = np.fromiter(taken, np.int64, len(taken))
        c = c[np.lexsort((c, -self.score[c]))]  # best score first, ties by concept
        self.candidates = c
        return c

    def features(self) -> np.ndarray:
        c = self.candidates
        return np.concatenate([self.text[c], self.mean_feature[c, None], self.std_feature[c, None],
                               np.log1p(self.visits[c, None])], axis=1).astype(np.float32)


class CandidateSetWrapper(gym.Wrapper):
    """Observation ``Box(k, F)``: per-candidate features; action ``Discrete(k)``: which candidate to query.

    Args:
        env: an :class:`ie_env.envs.env.InternetExplorerEnv` (not descriptor mode).
        embeddings: concept text embeddings in vocabulary order (default: the cached MiniLM embeddings).
        config: :class:`CandidateConfig`.
    """

    def __init__(self, env, embeddings: np.ndarray | None = None, config: CandidateConfig | None = None):
        super().__init__(env)
        base = env.unwrapped
        if embeddings is None:
            embeddings = np.asarray(concept_embeddings(base.vocab))
        self.cands = CandidateSet(embeddings, config, allowed=getattr(base, "allowed", None))
        k = self.cands.config.k
        self.action_space = spaces.Discrete(k)
        self.observation_space = spaces.Box(-np.inf, np.inf, (k, self.cands.n_features), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        _, info = self.env.reset(seed=seed, options=options)
        self.cands.reset(np.random.default_rng(self.env.unwrapped.np_random.integers(2**31)))
        self.first_iteration: list[float] = []  # image rewards of the first iteration (the new_excess baseline)
        self.baseline: float | None = None
        return self.cands.features(), info

    def step(self, action):
        concept = int(self.cands.candidates[int(action)])
        plain = (concept, 0) if self.env.unwrapped.config.descriptors else concept  # no descriptor
        _, reward, terminated, truncated, info = self.env.step(plain)
        self.env_reward = float(reward)  # the env's own reward of the step, before the policy reward replaces it
        self.cands.observe(concept, learning_signal(reward, info, self.cands.config.signal))
        reward = self._reward(reward, info)
        if info["iteration_end"]:
            self.cands.refit()
        self.cands.propose()
        return self.cands.features(), reward, terminated, truncated, info

    def _reward(self, reward: float, info: dict) -> float:
        if self.cands.config.reward != "new_excess":
            return learning_signal(reward, info, self.cands.config.reward)
        if self.baseline is None:
            self.first_iteration += info["image_rewards"]
            if info["iteration_end"]:
                self.baseline = float(np.median(self.first_iteration)) if self.first_iteration else 0.0
            return 0.0
        return float(np.sum(np.asarray(info["new_image_rewards"], np.float64) - self.baseline))
