"""Relevance reward (Internet Explorer, section 3.2): how close a web image lies to the target in feature space.

Per image: the mean cosine similarity of its embedding to its ``k`` nearest target train embeddings (paper:
k = 15; its ablation compares 1-NN). Per query: the mean of its top ``query_top`` image rewards (paper: 10).
Nearest neighbours come from a faiss ``IndexFlatIP`` (exact inner product) over L2-normalised vectors, so inner
product = cosine similarity. Call :meth:`RelevanceReward.set_target` again whenever the encoder changes.
"""
from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

AGGREGATIONS = ("mean_top", "max", "mean")


class RewardError(ValueError):
    """Bad reward configuration or embeddings that do not fit the target."""


@dataclass
class RewardConfig:
    """How image and query rewards are computed."""

    k: int = 15
    """Target neighbours averaged into an image's reward (paper: 15; 1 = nearest-neighbour similarity)."""
    query_top: int = 10
    """A query's reward averages its best ``query_top`` image rewards (``mean_top`` aggregation)."""
    aggregation: str = "mean_top"
    """Query aggregation: ``mean_top`` (mean of the top ``query_top``, the paper's), ``max`` or ``mean``."""
    empty_query_reward: float = 0.0
    """Reward of a query that brought no usable image."""

    def __post_init__(self) -> None:
        if self.k < 1:
            raise RewardError(f"k={self.k} must be >= 1")
        if self.query_top < 1:
            raise RewardError(f"query_top={self.query_top} must be >= 1")
        if self.aggregation not in AGGREGATIONS:
            raise RewardError(f"aggregation {self.aggregation!r} unknown: use one of {', '.join(AGGREGATIONS)}")


def _normalised(emb: np.ndarray, name: str) -> np.ndarray:
    emb = np.asarray(emb)
    if emb.ndim != 2:
        raise RewardError(f"{name} must be a 2-D array (N, D) of embeddings, got shape {emb.shape}")
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    if not np.isfinite(emb).all():
        raise RewardError(f"{name} holds NaN or infinite values: check the encoder")
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.maximum(norms, 1e-12)


class RelevanceReward:
    """Scores images by their similarity to the target's embeddings.

    Args:
        config: reward options.
    """

    def __init__(self, config: RewardConfig | None = None):
        self.config = config or RewardConfig()
        self.index: faiss.IndexFlatIP | None = None

    @property
    def dim(self) -> int | None:
        return None if self.index is None else self.index.d

    def set_target(self, target_emb: np.ndarray) -> None:
        """Index the target train embeddings ``(M, D)`` (normalised here; M must be >= k)."""
        emb = _normalised(target_emb, "target_emb")
        if len(emb) < self.config.k:
            raise RewardError(f"k={self.config.k} exceeds the {len(emb)} target embeddings: lower RewardConfig.k "
                              f"or give at least {self.config.k} target images")
        index = faiss.IndexFlatIP(emb.shape[1])
        index.add(emb)
        self.index = index

    def neighbours(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarities and indices ``(N, k)`` of each image's k nearest target embeddings."""
        if self.index is None:
            raise RewardError("no target set: call set_target(target_embeddings) first")
        emb = _normalised(emb, "emb")
        if emb.shape[1] != self.index.d:
            raise RewardError(f"embeddings have dimension {emb.shape[1]} but the target has {self.index.d}: "
                              "embed images and target with the same encoder")
        if len(emb) == 0:
            return np.zeros((0, self.config.k), np.float32), np.zeros((0, self.config.k), np.int64)
        return self.index.search(emb, self.config.k)

    def image_rewards(self, emb: np.ndarray) -> np.ndarray:
        """Per-image reward ``(N,)`` float32: mean cosine similarity to the k nearest target embeddings."""
        sims, _ = self.neighbours(emb)
        return sims.mean(axis=1).astype(np.float32) if len(sims) else np.zeros(0, np.float32)

    def query_reward(self, image_rewards: np.ndarray) -> float:
        """A query's reward from its images' rewards (``empty_query_reward`` when there are none)."""
        r = np.asarray(image_rewards, dtype=np.float64).reshape(-1)
        if len(r) == 0:
            return float(self.config.empty_query_reward)
        agg = self.config.aggregation
        if agg == "max":
            return float(r.max())
        if agg == "mean":
            return float(r.mean())
        top = min(self.config.query_top, len(r))
        return float(np.partition(r, len(r) - top)[len(r) - top:].mean())


def numpy_image_rewards(emb: np.ndarray, target_emb: np.ndarray, k: int = 15, chunk: int = 1024) -> np.ndarray:
    """The same per-image reward with a plain numpy matmul + argpartition (reference and benchmark baseline)."""
    emb, target = _normalised(emb, "emb"), _normalised(target_emb, "target_emb")
    if len(target) < k:
        raise RewardError(f"k={k} exceeds the {len(target)} target embeddings")
    out = np.empty(len(emb), np.float32)
    for i in range(0, len(emb), chunk):
        sims = emb[i:i + chunk] @ target.T
        top = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
        out[i:i + chunk] = top.mean(axis=1)
    return out
