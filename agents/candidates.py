"""Wrappers that let learned policies act at full-vocabulary scale.

:class:`CandidateSetWrapper` turns the ``Discrete(146,347)`` action into a choice among ``k`` proposed
concepts. Each step it proposes ``k`` concepts (half the best by posterior mean + std, half uniformly at random),
and the observation holds one feature row per candidate: a PCA projection of its text embedding, the GP
posterior mean and std of its reward, and log(1 + visits). The posterior is refit at each iteration end.
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.base import SIGNALS, learning_signal
from agents.posterior import GPPosterior
from ie_env.data.text_embedding import concept_embeddings


@dataclass
class CandidateConfig:
    """How candidate sets are proposed and described."""

    k: int = 16
    """Candidates per step (the size of the policy's action space)."""
    explore_share: float = 0.5
    """Share of candidates drawn uniformly at random; the rest are the top by mean + std."""
    embedding_dim: int = 16
    """PCA dimensions of the text embedding kept in each candidate's features."""
    reward: str = "new_reward"
    """What the policy is rewarded with and the posterior learns from (``agents.base.learning_signal``):
    ``new_reward`` (the reward of the answer's new images: a repeated query earns 0) or the env's ``reward``
    (which a repeated query earns again, so a policy trained on it learns to repeat its best query)."""

    def __post_init__(self):
        if self.reward not in SIGNALS:
            raise ValueError(f"reward={self.reward!r}: use one of {', '.join(SIGNALS)}")


class CandidateSet:
    """Proposes candidate concepts and their features from a GP posterior over concept embeddings."""

    def __init__(self, embeddings: np.ndarray, config: CandidateConfig | None = None):
        from sklearn.decomposition import PCA

        self.config = cfg = config or CandidateConfig()
        n = len(embeddings)
        if not 1 <= cfg.k <= n:
            raise ValueError(f"k={cfg.k} candidates: choose between 1 and the vocabulary size {n}")
        fit_rows = np.random.default_rng(0).choice(n, min(n, 20_000), replace=False)
        pca = PCA(cfg.embedding_dim, random_state=0).fit(embeddings[fit_rows])
        proj = pca.transform(embeddings).astype(np.float32)
        self.text = proj / (np.abs(proj).max() + 1e-8)
        self.posterior = GPPosterior(np.asarray(embeddings, np.float32))
        self.n_features = cfg.embedding_dim + 3

    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.visits = np.zeros(len(self.text), np.float32)
        self.observed: list[tuple[int, float]] = []
        self.refit()
        self.propose()

    def observe(self, concept: int, reward: float) -> None:
        self.visits[concept] += 1
        self.observed.append((concept, reward))

    def refit(self) -> None:
        c, r = (np.asarray(x) for x in zip(*self.observed)) if self.observed else (np.zeros(0, int), np.zeros(0))
        self.posterior.fit(c.astype(np.int64), r.astype(np.float32))
        self.mean, self.std = self.posterior.mean_std()
        k = self.config.k
        n_top = k - int(round(k * self.config.explore_share))
        score = self.mean + self.std  # changes only here, so the top candidates are chosen once per refit
        self.top = np.argpartition(-score, n_top)[:n_top].astype(np.int64) if n_top else np.zeros(0, np.int64)

    def propose(self) -> np.ndarray:
        """The top candidates by mean + std, then distinct uniformly drawn others (by rejection: O(k))."""
        rest: list[int] = []
        taken = set(self.top.tolist())
        while len(rest) < self.config.k - len(self.top):
            c = int(self.rng.integers(len(self.mean)))
            if c not in taken:
                taken.add(c)
                rest.append(c)
        self.candidates = np.concatenate([self.top, np.asarray(rest, np.int64)])
        return self.candidates

    def features(self) -> np.ndarray:
        c = self.candidates
        return np.concatenate([self.text[c], self.mean[c, None], self.std[c, None],
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
        self.cands = CandidateSet(embeddings, config)
        k = self.cands.config.k
        self.action_space = spaces.Discrete(k)
        self.observation_space = spaces.Box(-np.inf, np.inf, (k, self.cands.n_features), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        _, info = self.env.reset(seed=seed, options=options)
        self.cands.reset(np.random.default_rng(self.env.unwrapped.np_random.integers(2**31)))
        return self.cands.features(), info

    def step(self, action):
        concept = int(self.cands.candidates[int(action)])
        plain = (concept, 0) if self.env.unwrapped.config.descriptors else concept  # no descriptor
        _, reward, terminated, truncated, info = self.env.step(plain)
        reward = learning_signal(reward, info, self.cands.config.reward)
        self.cands.observe(concept, reward)
        if info["iteration_end"]:
            self.cands.refit()
        self.cands.propose()
        return self.cands.features(), reward, terminated, truncated, info
