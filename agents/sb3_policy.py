"""Learned query policies: stable-baselines3 PPO and DQN acting through the candidate-set wrapper.

Each step the policy sees ``k`` proposed concepts with their features (text-embedding projection, GP posterior
mean and std, visits) and picks one (:class:`agents.candidates.CandidateSetWrapper`). The agent either trains
its policy on the environment it is given (``train_steps`` env steps, with a :class:`Monitor`), or loads one
saved by :meth:`SB3Agent.save` or ``experiments/train_policy.py`` (``policy=PATH``; ``ie-explore run --agent ppo
--policy PATH``). A saved policy fixes ``k`` and the feature size; it should act on the vocabulary it was
trained on (the text features are a PCA projection of that vocabulary's embeddings).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.monitor import Monitor

from agents.base import Agent, AgentContext, Query, learning_signal
from agents.candidates import CandidateConfig, CandidateSet, CandidateSetWrapper

ALGOS = {"ppo": PPO, "dqn": DQN}
"""Algorithm name -> stable-baselines3 class."""


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package (which SB3's ``tensorboard_log`` needs) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def make_model(algo: str, env, seed: int, steps: int, tensorboard_log: str = "") -> BaseAlgorithm:
    """A fresh PPO or DQN model with this project's hyperparameters for ``env`` (a wrapped env or a VecEnv),
    sized for ``steps`` env steps of training; ``tensorboard_log``: a folder for TensorBoard logs."""
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}: choose ppo or dqn")
    if tensorboard_log and not tensorboard_available():
        raise ValueError("tensorboard_log needs the tensorboard package: pip install tensorboard")
    common = dict(seed=seed, device="cpu", verbose=0, tensorboard_log=tensorboard_log or None)
    if algo == "ppo":
        return PPO("MlpPolicy", env, n_steps=min(256, steps), batch_size=min(64, steps), n_epochs=4,
                   learning_rate=3e-4, **common)
    return DQN("MlpPolicy", env, learning_starts=min(256, steps // 2), buffer_size=20_000, train_freq=4,
               batch_size=64, exploration_fraction=0.3, target_update_interval=256, **common)


def load_model(algo: str, path: str | Path) -> BaseAlgorithm:
    """A policy saved with ``model.save`` (``.zip``), checked to be of ``algo``; one-line errors otherwise."""
    path = Path(path)
    if not path.is_file() and path.with_suffix(".zip").is_file():
        path = path.with_suffix(".zip")
    if not path.is_file():
        raise ValueError(f"no saved policy at {path}: train one with experiments/train_policy.py")
    try:
        model = ALGOS[algo].load(path, device="cpu")
    except Exception as e:  # noqa: BLE001 - SB3 raises many kinds for a file of another algorithm or format
        raise ValueError(f"{path} is not a saved {algo.upper()} policy ({type(e).__name__}: "
                         f"{str(e).strip().splitlines()[0][:160] if str(e).strip() else ''})") from None
    shape = model.observation_space.shape
    if len(shape) != 2 or shape[1] < 4:
        raise ValueError(f"{path}: observations of shape {shape} are not candidate features (k, embedding_dim + 3)")
    return model


class SB3Agent(Agent):
    """Shared logic of the PPO and DQN agents.

    Args:
        context: the agents' shared context (vocabulary, concept embeddings).
        env: the :class:`ie_env.envs.env.InternetExplorerEnv` to train on (required unless ``policy`` is given).
        train_steps: env steps of training before acting.
        k: candidates per step (a loaded policy brings its own).
        refit_every: observations between posterior refits while acting (the env's iteration length).
        seed: seed of the policy's training.
        policy: a saved policy (``.zip``) to act with instead of training one.
        tensorboard_log: folder for TensorBoard logs of the training ("" = none).
    """

    name = "sb3"

    def __init__(self, context: AgentContext, env=None, train_steps: int = 2048, k: int = 16,
                 refit_every: int = 32, seed: int = 0, policy: str = "", tensorboard_log: str = ""):
        self.context = context
        self.refit_every = refit_every
        embeddings = np.asarray(context.concept_embeddings)
        if policy:
            self.model = load_model(self.name, policy)
            k, features = self.model.observation_space.shape
            self.cands = CandidateSet(embeddings, CandidateConfig(k=k, embedding_dim=features - 3),
                                      allowed=context.allowed)
            return
        if env is None:
            raise ValueError(f"agent {self.name} needs env= (the environment its policy trains on) or policy=PATH")
        wrapped = CandidateSetWrapper(env, embeddings, CandidateConfig(k=k))
        self.model = make_model(self.name, Monitor(wrapped), seed, train_steps, tensorboard_log)
        self.model.learn(total_timesteps=train_steps)
        self.cands = wrapped.cands

    def save(self, path: str | Path) -> None:
        """Save the policy (a stable-baselines3 ``.zip``) for ``policy=PATH``."""
        self.model.save(path)

    def reset(self, seed: int) -> None:
        self.cands.reset(np.random.default_rng(seed))
        self.n_obs = 0

    def act(self) -> Query:
        action, _ = self.model.predict(self.cands.features(), deterministic=True)
        concept = int(self.cands.candidates[int(action)])
        return Query(concept, -1, self.context.vocab.lemmas[concept])

    def observe(self, query: Query, reward: float, info: dict | None = None) -> None:
        self.cands.observe(query.concept, learning_signal(reward, info, self.cands.config.signal))
        self.n_obs += 1
        if self.n_obs % self.refit_every == 0:
            self.cands.refit()
        self.cands.propose()

    def state_dict(self) -> dict:
        return {"observed": [list(o) for o in self.cands.observed], "n_obs": self.n_obs}

    def load_state_dict(self, state: dict) -> None:
        for c, r in state["observed"]:
            self.cands.observe(int(c), float(r))
        self.n_obs = int(state["n_obs"])
        self.cands.refit()
        self.cands.propose()


class PPOAgent(SB3Agent):
    name = "ppo"


class DQNAgent(SB3Agent):
    name = "dqn"
