"""Training a learned query policy (PPO or DQN) on frozen-mode environments, for ``policy=PATH`` agents.

    result = train_policy(TrainConfig(algo="ppo", steps=200_000, targets="tiny-imagenet:dog.n.01", out="runs/ppo"))

One frozen-mode :class:`~ie_env.envs.env.InternetExplorerEnv` per target, each behind the candidate-set wrapper
and a :class:`~stable_baselines3.common.monitor.Monitor` (episode returns and lengths in ``OUT/monitor/``), train
together as one vector env. An :class:`~stable_baselines3.common.callbacks.EvalCallback` scores the policy on
separate environments of the evaluation targets, seeded apart from training, and keeps the best policy
(``OUT/best_model.zip``; scores in ``OUT/evaluations.npz``). The final policy goes to ``OUT/model.zip``,
the options to ``OUT/train_config.json``; TensorBoard logs to ``OUT/tensorboard`` when the package is installed.
``experiments/train_policy.py`` is the command line.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.candidates import CandidateConfig, CandidateSetWrapper
from agents.sb3_policy import ALGOS, make_model, tensorboard_available
from ie_env.atomic import atomic_write_json
from ie_env.data.text_embedding import concept_embeddings
from ie_env.envs.env import EnvConfig, InternetExplorerEnv

EVAL_SEED_OFFSET = 10_000
"""Evaluation environments are seeded ``seed + EVAL_SEED_OFFSET``: episodes training never saw."""


@dataclass
class TrainConfig:
    """One policy training run."""

    algo: str = "ppo"
    """``ppo`` or ``dqn`` (stable-baselines3)."""
    steps: int = 200_000
    """Env steps of training, over all training environments together."""
    targets: str = "cifar10"
    """Comma-separated targets, one training environment each (``cifar10``, ``tiny-imagenet:<synset>``, ...)."""
    eval_targets: str = ""
    """Comma-separated targets of the evaluation environments ("" = the training targets, other seeds)."""
    out: str = "runs/policy"
    """Output folder: model.zip, best_model.zip, evaluations.npz, monitor/, train_config.json, tensorboard/."""
    world: str = "tinyweb"
    """Offline world."""
    budget: int = 1024
    """Queries per episode (as in the frozen comparison the policy is scored in)."""
    queries_per_iteration: int = 256
    """Queries between posterior refits of the candidate features (the env's iteration; the comparison's)."""
    results_per_query: int = EnvConfig.results_per_query
    """Images per answer."""
    frozen_encoder: str = EnvConfig.frozen_encoder
    """Frozen mode's encoder."""
    image_size: int = 0
    """Image side the encoder sees (0 = frozen mode's default)."""
    vocabulary_under: str = ""
    """Keep only the concepts under these comma-separated synsets (default: all 146,347 nouns); a policy acts on
    the vocabulary it was trained on."""
    k: int = 16
    """Candidates per step (the policy's action space)."""
    embedding_dim: int = 16
    """PCA dimensions of each candidate's text embedding in its features."""
    seed: int = 0
    """Seed of the model and of the training environments."""
    eval_freq: int = 20_000
    """Training steps between two evaluations (over all training environments; at least one evaluation runs;
    each costs ``eval_episodes x budget`` env steps)."""
    eval_episodes: int = 2
    """Episodes per evaluation."""
    tensorboard: bool = True
    """Write TensorBoard logs to OUT/tensorboard when the tensorboard package is installed."""
    env_options: dict = field(default_factory=dict)
    """Other :class:`~ie_env.envs.env.EnvConfig` fields (``reward_targets``, ``concepts``, ...)."""

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo={self.algo!r}: choose ppo or dqn")
        for name in ("steps", "eval_freq", "eval_episodes", "k", "embedding_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be a positive integer")
        if not self.target_list:
            raise ValueError("targets is empty: give at least one target, e.g. tiny-imagenet:dog.n.01")

    @property
    def target_list(self) -> list[str]:
        return [t.strip() for t in self.targets.split(",") if t.strip()]

    @property
    def eval_target_list(self) -> list[str]:
        return [t.strip() for t in self.eval_targets.split(",") if t.strip()] or self.target_list


def _env(cfg: TrainConfig, target: str, monitor_file: str | None) -> Monitor:
    env = InternetExplorerEnv(world=cfg.world, target=target, mode="frozen", budget=cfg.budget,
                              queries_per_iteration=cfg.queries_per_iteration,
                              results_per_query=cfg.results_per_query, frozen_encoder=cfg.frozen_encoder,
                              image_size=cfg.image_size,
                              vocabulary_under=tuple(s for s in cfg.vocabulary_under.split(",") if s),
                              **cfg.env_options)
    wrapped = CandidateSetWrapper(env, np.asarray(concept_embeddings(env.vocab)),
                                  CandidateConfig(k=cfg.k, embedding_dim=cfg.embedding_dim))
    return Monitor(wrapped, monitor_file)


def train_policy(cfg: TrainConfig) -> dict:
    """Train, evaluate and save a policy (see the module docstring); returns where everything went and the
    last evaluation's mean episode reward."""
    out = Path(cfg.out)
    (out / "monitor").mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "train_config.json", asdict(cfg))
    train = DummyVecEnv([lambda t=t, i=i: _env(cfg, t, str(out / "monitor" / f"train-{i}"))
                         for i, t in enumerate(cfg.target_list)])
    evaluation = DummyVecEnv([lambda t=t, i=i: _env(cfg, t, str(out / "monitor" / f"eval-{i}"))
                              for i, t in enumerate(cfg.eval_target_list)])
    evaluation.seed(cfg.seed + EVAL_SEED_OFFSET)
    tensorboard = str(out / "tensorboard") if cfg.tensorboard and tensorboard_available() else ""
    if cfg.tensorboard and not tensorboard:
        print("note: tensorboard is not installed, so no TensorBoard logs (pip install tensorboard)")
    model = make_model(cfg.algo, train, cfg.seed, cfg.steps, tensorboard)
    callback = EvalCallback(evaluation, n_eval_episodes=cfg.eval_episodes,
                            eval_freq=max(1, min(cfg.eval_freq, cfg.steps) // train.num_envs), best_model_save_path=str(out),
                            log_path=str(out), deterministic=True, verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=cfg.steps, callback=callback, tb_log_name=cfg.algo)
    seconds = time.perf_counter() - start
    model.save(out / "model.zip")
    train.close()
    evaluation.close()
    return {"model": str(out / "model.zip"), "best_model": str(out / "best_model.zip"),
            "evaluations": str(out / "evaluations.npz"), "monitor": str(out / "monitor"),
            "tensorboard": tensorboard, "steps": int(model.num_timesteps), "seconds": round(seconds, 3),
            "last_eval_mean_reward": float(callback.last_mean_reward)}
