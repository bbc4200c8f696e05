"""Relevance reward and frozen-mode embeddings on synthetic vectors and images."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ie_env.learning.reward import (
    RelevanceReward,
    RewardConfig,
    RewardError,
    numpy_image_rewards,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and OpenMP spin-waits crawl on a busy shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered_targets(n: int = 200, dim: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = unit(rng.normal(size=(1, dim)))
    return unit(centre + 0.3 * rng.normal(size=(n, dim)) / np.sqrt(dim)), centre


def test_image_equal_to_a_target_scores_about_one_and_beats_random():
    targets, _ = clustered_targets()
    rng = np.random.default_rng(1)
    one_nn = RelevanceReward(RewardConfig(k=1))
    one_nn.set_target(targets)
    r = one_nn.image_rewards(targets[[3, 7]])
    assert np.allclose(r, 1.0, atol=1e-5)
    reward = RelevanceReward()  # k = 15
    reward.set_target(targets)
    images = np.concatenate([targets[[3]], unit(rng.normal(size=(5, 32)))])
    r = reward.image_rewards(images)
    assert r.shape == (6,) and r.dtype == np.float32
    assert r[0] > 0.8 and r[0] > r[1:].max() + 0.5
    assert np.all(r <= 1.0 + 1e-5)


def test_unnormalised_inputs_are_normalised():
    targets, _ = clustered_targets()
    reward = RelevanceReward(RewardConfig(k=1))
    reward.set_target(targets * 7.0)
    assert np.isclose(reward.image_rewards(targets[:1] * 0.1)[0], 1.0, atol=1e-5)


def test_faiss_matches_numpy_reference():
    targets, _ = clustered_targets(300)
    queries = unit(np.random.default_rng(2).normal(size=(50, 32)))
    reward = RelevanceReward(RewardConfig(k=15))
    reward.set_target(targets)
    assert np.allclose(reward.image_rewards(queries), numpy_image_rewards(queries, targets, k=15), atol=1e-5)


def test_query_aggregations():
    reward = RelevanceReward(RewardConfig(query_top=3))
    values = np.array([0.1, 0.9, 0.5, 0.7, 0.2])
    assert np.isclose(reward.query_reward(values), (0.9 + 0.7 + 0.5) / 3)
    assert np.isclose(reward.query_reward(values[:2]), 0.5)  # fewer images than query_top: mean of all
    assert reward.query_reward(np.array([])) == 0.0
    assert np.isclose(RelevanceReward(RewardConfig(aggregation="max")).query_reward(values), 0.9)
    assert np.isclose(RelevanceReward(RewardConfig(aggregation="mean")).query_reward(values), 0.48)


def test_errors_are_clear():
    targets, _ = clustered_targets(10)
    with pytest.raises(RewardError, match="k=15 exceeds the 10 target embeddings"):
        RelevanceReward().set_target(targets)
    reward = RelevanceReward(RewardConfig(k=5))
    with pytest.raises(RewardError, match="set_target"):
        reward.image_rewards(targets)
    reward.set_target(targets)
    with pytest.raises(RewardError, match="dimension 8"):
        reward.image_rewards(np.ones((2, 8), np.float32))
    with pytest.raises(RewardError, match="NaN"):
        reward.image_rewards(np.full((1, 32), np.nan, np.float32))
    with pytest.raises(RewardError, match="aggregation"):
        RewardConfig(aggregation="median")
    assert reward.image_rewards(np.zeros((0, 32), np.float32)).shape == (0,)


class FakeWorld:
    """The part of offline_cache.tinyweb.World that frozen mode reads."""

    def __init__(self, images: np.ndarray):
        self.images = images
        self.name = "fake"
        self.sha256 = [f"{i:064x}" for i in range(len(images))]
        self.calls = 0

    def __len__(self) -> int:
        return len(self.images)

    def load_images(self, indices, size: int) -> np.ndarray:
        self.calls += 1
        assert size == self.images.shape[1]
        return self.images[list(indices)]


def test_frozen_embeddings_are_cached_and_rewards_tabulated(tmp_path, monkeypatch):
    monkeypatch.setenv("IE_CACHE_DIR", str(tmp_path))
    import ie_env.learning.frozen as frozen
    from ie_env.learning.frozen import FrozenEncoder, FrozenError, FrozenRewards

    rng = np.random.default_rng(0)
    web = rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    world = FakeWorld(web)
    enc = FrozenEncoder("random@1", image_size=16, chunk=8, progress=False)
    first = enc.world_embeddings(world)
    assert first.shape == (20, enc.dim) and world.calls == 3
    again = FrozenEncoder("random@1", image_size=16, progress=False).world_embeddings(world)
    assert world.calls == 3 and np.array_equal(first, again)  # second time from the disk cache
    assert np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-5)
    other = FrozenEncoder("random@2", image_size=16, progress=False)
    assert other.key != enc.key  # different weights, different cache entry
    with pytest.raises(FrozenError, match="unknown frozen encoder"):
        FrozenEncoder("alexnet")

    class Target:
        name = "synthetic"
        train = web[:16]

    frozen._ENCODERS.clear()
    frozen._ENCODERS[("random@1", 16)] = enc
    table = FrozenRewards(world, Target(), "random@1", 16, RewardConfig(k=1, query_top=2))
    assert table.rewards.shape == (20,)
    assert np.allclose(table.rewards[:16], 1.0, atol=1e-4)  # web images that are target images
    assert table.query_reward([0, 1, 18]) == pytest.approx(1.0, abs=1e-4)
