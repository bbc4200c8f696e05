"""Learned query policies: stable-baselines3 PPO and DQN acting through the candidate-set wrapper.

The policy is trained on episodes of the environment it is given (``train_steps`` env steps through
:class:`agents.candidates.CandidateSetWrapper`), then acts: each step it sees ``k`` proposed concepts with their
features (text-embedding projection, GP posterior mean and std, visits) and picks one.
"""
from __future__ import annotations

import numpy as np

from agents.base import Agent, AgentContext, Query
from agents.candidates import CandidateConfig, CandidateSetWrapper


class SB3Agent(Agent):
    """Shared logic of the PPO and DQN agents.

    Args:
        context: the agents' shared context (vocabulary, concept embeddings).
        env: the :class:`ie_env.envs.env.InternetExplorerEnv` to train on (required).
        train_steps: env steps of training before acting.
        k: candidates per step.
        refit_every: observations between posterior refits while acting (the env's iteration length).
        seed: seed of the policy's training.
    """

    name = "sb3"
    algo = ""

    def __init__(self, context: AgentContext, env=None, train_steps: int = 2048, k: int = 16,
                 refit_every: int = 32, seed: int = 0):
        if env is None:
            raise ValueError(f"agent {self.name} needs env=: the environment its policy trains on")
        self.context = context
        self.refit_every = refit_every
        self.train_steps = train_steps
        wrapped = CandidateSetWrapper(env, np.asarray(context.concept_embeddings), CandidateConfig(k=k))
        self.model = self._make_model(wrapped, seed)
        self.model.learn(total_timesteps=train_steps)
        self.cands = wrapped.cands

    def _make_model(self, env, seed):
        raise NotImplementedError

    def reset(self, seed: int) -> None:
        self.cands.reset(np.random.default_rng(seed))
        self.n_obs = 0

    def act(self) -> Query:
        action, _ = self.model.predict(self.cands.features(), deterministic=True)
        concept = int(self.cands.candidates[int(action)])
        return Query(concept, -1, self.context.vocab.lemmas[concept])

    def observe(self, query: Query, reward: float, info: dict | None = None) -> None:
        self.cands.observe(query.concept, reward)
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

    def _make_model(self, env, seed):
        from stable_baselines3 import PPO

        return PPO("MlpPolicy", env, n_steps=min(256, self.train_steps), batch_size=min(64, self.train_steps), n_epochs=4, learning_rate=3e-4, seed=seed,
                   device="cpu", verbose=0)


class DQNAgent(SB3Agent):
    name = "dqn"

    def _make_model(self, env, seed):
        from stable_baselines3 import DQN

        return DQN("MlpPolicy", env, learning_starts=min(256, self.train_steps // 2), buffer_size=20_000, train_freq=4, batch_size=64,
                   exploration_fraction=0.3, target_update_interval=256, seed=seed, device="cpu", verbose=0)
