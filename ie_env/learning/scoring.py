"""The scoring stage of the env: images -> relevance rewards, and (full mode) the learner's training.

``FrozenScorer``: a fixed encoder; every web image of an offline world and the reward's target set are
embedded once (cached on disk by :mod:`ie_env.learning.frozen`), so a query's reward is a table look-up.
``LearnerScorer``: the self-supervised learner (the image-level :class:`ie_env.learning.learner.Learner`, or the
``head`` learner of :mod:`ie_env.learning.head` when the env's ``learner`` options say ``kind: head``) embeds each
answer's images with its current weights (the head learner: with its ``reward_features``), trains at every
iteration end, refreshes the target embeddings and measures kNN accuracy on the target's test split.
Both score raw images too (``rewards_of``), which the live environment uses, and give the reward's ``baseline``:
the mean and standard deviation of the image reward over a fixed random sample of the world's images under the
current model. A learner's rewards move as it trains (an untrained head scores every image higher than a trained
one); measured against the baseline of the same model, rewards of different iterations are comparable, which is
what an agent learning from all of them needs (:func:`agents.base.learning_signal`, signal ``calibrated``).

Every scorer keeps ``seconds``: wall time spent scoring (embedding answers, refreshing the reward's target
embeddings), training and evaluating (kNN, linear probe) since its last ``reset``; the env reports it as the
episode's time split.
"""
from __future__ import annotations

import time

import numpy as np

from ie_env.failpoints import failpoint
from ie_env.learning.evaluation import knn_accuracy, linear_probe
from ie_env.learning.frozen import FrozenRewards, get_encoder
from ie_env.learning.head import learner_from_state_dict, make_learner
from ie_env.learning.reward import RelevanceReward, RewardConfig

TIME_KEYS = ("scoring", "training", "evaluation")
BASELINE_IMAGES = 1000
"""World images in the reward's baseline sample (a fixed random subset)."""


def _new_seconds() -> dict:
    return dict.fromkeys(TIME_KEYS, 0.0)


def reference_subset(n: int, size: int, seed: int) -> np.ndarray:
    """A fixed random subset of ``size`` positions out of ``n`` (all when ``size`` is 0 or too large)."""
    if size <= 0 or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


class FrozenScorer:
    """Rewards from a frozen encoder, precomputed for every web image of the world."""

    trains = False

    def __init__(self, cfg, world, target):
        reward = RewardConfig(k=cfg.reward_k, query_top=cfg.reward_top)
        if world is not None:
            self.table = FrozenRewards(world, target, cfg.frozen_encoder, cfg.image_size, reward, cfg.reward_targets)
            self.reward = self.table.reward
        else:  # live web: nothing to precompute
            self.reward = RelevanceReward(reward)
            ref = get_encoder(cfg.frozen_encoder, cfg.image_size).target_embeddings(target, "train")
            self.reward.set_target(np.ascontiguousarray(ref[reference_subset(len(ref), cfg.reward_targets, 0)]))
        self.encoder = get_encoder(cfg.frozen_encoder, cfg.image_size)
        self.seconds = _new_seconds()

    def reset(self, seed: int) -> None:
        self.seconds = _new_seconds()

    def image_rewards(self, idx: np.ndarray) -> np.ndarray:
        return self.table.image_rewards(idx)

    def baseline(self) -> tuple[float, float] | None:
        """Mean and standard deviation of the image reward over the world's images (fixed: the encoder is
        frozen); ``None`` on the live web."""
        if not hasattr(self, "table"):
            return None
        r = self.table.rewards
        return float(r.mean()), float(r.std()) or 1.0

    def rewards_of(self, images: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = self.reward.image_rewards(self.encoder.embed(images)) if len(images) else np.zeros(0, np.float32)
        self.seconds["scoring"] += time.perf_counter() - start
        return out

    def end_iteration(self, images, rewards: np.ndarray) -> dict:
        return {}

    def state_dict(self) -> dict:
        return {"seconds": dict(self.seconds)}

    def load_state_dict(self, state: dict) -> None:
        self.seconds = {**_new_seconds(), **state.get("seconds", {})}


class LearnerScorer:
    """Rewards from the self-supervised learner, which trains at every iteration end."""

    trains = True

    def __init__(self, cfg, world, target):
        self.cfg, self.world, self.target = cfg, world, target
        self.reward = RelevanceReward(RewardConfig(k=cfg.reward_k, query_top=cfg.reward_top))
        self.test_idx = reference_subset(len(target.test), cfg.eval_images, 1)
        self.bank_idx = reference_subset(len(target.probe_train), 5 * cfg.eval_images, 2)
        self.learner = None
        self.seconds = _new_seconds()
        self._baseline: tuple[float, float] | None = None

    def reset(self, seed: int) -> None:
        self.seconds = _new_seconds()
        self.learner = make_learner({**self.cfg.learner, "image_size": self.cfg.image_size, "seed": seed,
                                     "device": self.cfg.device})
        self.ref_idx = reference_subset(len(self.target.train), self.cfg.reward_targets, seed)
        self._refresh_reward()

    def _refresh_reward(self) -> None:
        start = time.perf_counter()
        self.reward.set_target(self._reward_features(self.target.train[self.ref_idx]))
        self._baseline = None  # the model moved: its baseline is measured again when asked for
        self.seconds["scoring"] += time.perf_counter() - start

    def baseline(self) -> tuple[float, float] | None:
        """Mean and standard deviation of the image reward over a fixed random sample of
        :data:`BASELINE_IMAGES` world images under the current model (measured once per model); ``None`` on the
        live web."""
        if self.world is None:
            return None
        if self._baseline is None:
            r = self.image_rewards(reference_subset(len(self.world.sha256), BASELINE_IMAGES, 3))
            self._baseline = (float(r.mean()), float(r.std()) or 1.0)
        return self._baseline

    def _reward_features(self, images: np.ndarray) -> np.ndarray:
        """The learner's features the reward compares."""
        return self.learner.reward_embed(images)

    def image_rewards(self, idx: np.ndarray) -> np.ndarray:
        return self.rewards_of(self.world.load_images(idx, self.cfg.image_size))

    def rewards_of(self, images: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = self.reward.image_rewards(self._reward_features(images)) if len(images) else np.zeros(0, np.float32)
        self.seconds["scoring"] += time.perf_counter() - start
        return out

    def end_iteration(self, images, rewards: np.ndarray) -> dict:
        start = time.perf_counter()
        stats = self.learner.train(images, rewards if len(rewards) else None, self.target.train)
        self.seconds["training"] += time.perf_counter() - start
        failpoint("evaluate")
        self._refresh_reward()
        start = time.perf_counter()
        t = self.target
        acc = knn_accuracy(self.learner.embed(t.probe_train[self.bank_idx]), t.probe_train_labels[self.bank_idx],
                           self.learner.embed(t.test[self.test_idx]), t.test_labels[self.test_idx])
        self.seconds["evaluation"] += time.perf_counter() - start
        return {"knn_accuracy": float(acc), "train_loss": float(stats.loss), "train_steps": stats.steps}

    def linear_probe(self, seed: int = 0) -> dict:
        """Linear probe (logistic regression, C chosen on held-out train) on the learner's frozen features: the
        labelled probe_train split (the kNN bank's subset) to fit, the kNN test subset to score."""
        start = time.perf_counter()
        t = self.target
        acc, C = linear_probe(self.learner.embed(t.probe_train[self.bank_idx]), t.probe_train_labels[self.bank_idx],
                              self.learner.embed(t.test[self.test_idx]), t.test_labels[self.test_idx], seed=seed)
        self.seconds["evaluation"] += time.perf_counter() - start
        return {"linear_probe": float(acc), "linear_probe_C": float(C)}

    def state_dict(self) -> dict:
        return {"learner": self.learner.state_dict(), "ref_idx": self.ref_idx.copy(), "seconds": dict(self.seconds)}

    def load_state_dict(self, state: dict) -> None:
        self.learner = learner_from_state_dict(state["learner"])
        self.ref_idx = np.asarray(state["ref_idx"], np.int64)
        self.reward.set_target(self._reward_features(self.target.train[self.ref_idx]))
        self._baseline = None
        self.seconds = {**_new_seconds(), **state.get("seconds", {})}


def make_scorer(cfg, world, target):
    return FrozenScorer(cfg, world, target) if cfg.mode == "frozen" else LearnerScorer(cfg, world, target)
