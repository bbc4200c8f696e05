"""The head learner and its view cache: views are keyed by content and kept on disk, the head learns, resumes
bit for bit, keeps the top candidates' views for replay, and its preset runs the loop with a reward on
trunk + head features."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from ie_env.learning import views as views_module
from ie_env.learning.head import HeadConfig, HeadLearner, learner_from_state_dict, make_learner
from ie_env.learning.learner import Learner, LearnerError
from ie_env.learning.views import ViewStore


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    """Each test gets its own cache folder and no view stores shared from an earlier test."""
    monkeypatch.setenv("IE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(views_module, "_STORES", {})
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def photos(n: int, seed: int = 0, size: int = 32) -> np.ndarray:
    """Images of 4 kinds (a colour and a stripe direction each) with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        k = i % 4
        stripe = np.sin((xx if k % 2 else yy) * 12 + rng.uniform(0, 6))
        colour = np.eye(3)[k % 3] * 150 + 50
        img = colour * (0.6 + 0.4 * stripe[..., None]) + rng.normal(0, 20, (size, size, 3))
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def small(**kw) -> HeadConfig:
    return HeadConfig(**{**dict(image_size=32, views=3, batch_size=16, hidden=32, dim=16, proj_dim=8,
                                steps_per_iteration=5, target_pool=24), **kw})


def test_views_depend_on_the_image_only_and_persist_on_disk(tmp_path):
    images = photos(6)
    store = ViewStore("efficientnet_lite0", image_size=32, views=3)
    together = store.features(images)
    assert together.shape == (6, 3, 1280) and together.dtype == np.float16 and store.computed == 6
    assert not np.array_equal(together[0, 0], together[0, 1])  # the views differ
    alone = ViewStore("efficientnet_lite0", image_size=32, views=3)  # no part written yet: computes again
    assert alone.computed == 0 and len(alone) == 0
    one = alone.features(images[3:4])
    np.testing.assert_allclose(one[0].astype(np.float32), together[3].astype(np.float32), atol=2e-2)
    store.flush()
    reopened = ViewStore("efficientnet_lite0", image_size=32, views=3)
    assert len(reopened) == 6
    np.testing.assert_array_equal(reopened.features(images), together)
    assert reopened.computed == 0  # every image came from the part on disk
    (next((tmp_path / "cache" / "views").glob("*/part-*.npz"))).write_bytes(b"damaged")
    assert len(ViewStore("efficientnet_lite0", image_size=32, views=3)) == 0  # a damaged part is recomputed
    other_seed = ViewStore("efficientnet_lite0", image_size=32, views=3, view_seed=1)
    assert other_seed.key != store.key and not np.array_equal(other_seed.features(images[:1]), together[:1])


def test_many_parts_are_merged_into_one_when_a_store_opens(tmp_path, monkeypatch):
    monkeypatch.setattr(views_module, "MERGE_PARTS", 2)
    images = photos(3)
    store = ViewStore("efficientnet_lite0", image_size=32, views=0)
    for i in range(3):  # three parts of one image each
        store.features(images[i:i + 1])
        store.flush()
    folder = store.folder
    assert len(list(folder.glob("part-*.npz"))) == 3
    merged = ViewStore("efficientnet_lite0", image_size=32, views=0)
    assert len(list(folder.glob("part-*.npz"))) == 1 and len(merged) == 3
    np.testing.assert_array_equal(ViewStore("efficientnet_lite0", image_size=32, views=0).features(images),
                                  store.features(images))


def test_head_learns_keeps_top_views_and_resumes_bit_for_bit():
    learner = HeadLearner(small())
    images, target = photos(24, 1), photos(24, 2)
    rewards = np.linspace(0, 1, 24, dtype=np.float32)
    stats = learner.train(images, rewards, target, steps=30)
    assert stats.steps == 30 and np.mean(stats.losses[-5:]) < np.mean(stats.losses[:5])
    assert len(learner.replay) == 12 and np.allclose(learner.replay_rewards, rewards[12:])  # the top half
    emb = learner.embed(images)
    assert emb.shape == (24, 16) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    both = learner.reward_embed(images)
    assert both.shape == (24, 1280 + 16) and np.allclose(np.linalg.norm(both, axis=1), 1, atol=1e-5)

    state = copy.deepcopy(learner.state_dict())  # as a checkpoint holds it (the live one shares tensors)
    again = learner_from_state_dict(state)
    assert isinstance(again, HeadLearner)
    a = learner.train(images[:8], None, target, steps=4).losses
    b = again.train(images[:8], None, target, steps=4).losses
    assert a == b and np.array_equal(learner.embed(target), again.embed(target))

    fresh = HeadLearner(small())  # same seed, same data: the same run
    assert fresh.train(images, rewards, target, steps=30).losses == stats.losses


def test_moco_objective_and_reward_feature_kinds():
    learner = HeadLearner(small(objective="moco", reward_features="hidden"))
    images = photos(16, 3)
    learner.train(images, None, images, steps=3)
    assert learner.reward_embed(images).shape == (16, 32)
    t = learner.reward_embed(images, "trunk")
    assert t.shape == (16, 1280) and np.allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)


def test_bad_head_configs_fail_with_a_clear_message():
    with pytest.raises(LearnerError, match="at least 2 views"):
        HeadConfig(views=1)
    with pytest.raises(LearnerError, match="reward_features"):
        HeadConfig(reward_features="pixels")
    with pytest.raises(LearnerError, match="objective"):
        HeadConfig(objective="byol")
    with pytest.raises(LearnerError, match="target_train is empty"):
        HeadLearner(small()).train(photos(4), None, np.zeros((0, 32, 32, 3), np.uint8), steps=1)
    with pytest.raises(LearnerError, match="one reward per candidate"):
        HeadLearner(small()).train(photos(4), np.ones(3), photos(4), steps=1)
    assert isinstance(make_learner({"image_size": 16, "width": 0.125}), Learner)


def test_compare_with_the_head_preset_reports_the_interface_fields(tiny_world, tmp_path):
    from experiments.compare_agents import main

    out = tmp_path / "head"
    main(["--world", str(tiny_world.path), "--target", "tiny-imagenet:dog.n.01", "--agents", "random,gp",
          "--seeds", "2", "--budget", "4", "--queries-per-iteration", "2", "--results-per-query", "10",
          "--steps-per-iteration", "2", "--preset", "head", "--vocabulary-under", "dog.n.01,cat.n.01",
          "--out", str(out)])
    s = json.loads((out / "summary.json").read_text())
    assert s["learner"]["kind"] == "head" and s["learner"]["reward_features"] == "trunk+head"
    for arm in ("random", "gp", "target_only"):
        for key in ("knn_accuracy", "linear_probe"):
            assert s[arm][key]["lo"] <= s[arm][key]["mean"] <= s[arm][key]["hi"]
    for metric in ("knn_accuracy", "linear_probe"):
        assert {"gp-random", "random-target_only", "gp-target_only"} <= set(s["paired"][metric])
        assert s["paired"][metric]["gp-random"]["seeds"] == 2
    assert s["episode_seconds"] > 0 and s["target_only"]["time_split"]["training"] > 0
    for arm in ("random", "gp"):  # per iteration: new candidates' and replay's relevant shares, relevant reached
        curve = s["enrichment_curves"][arm]
        assert len(curve["precision"]) == len(curve["replay"]) == len(curve["relevant_images"]) == 2
        assert all(0 <= v <= 1 for v in curve["precision"] + curve["replay"])
        assert curve["relevant_images"][0] <= curve["relevant_images"][1] == s[arm]["relevant_images"]["mean"]


def test_reward_baseline_follows_the_model_and_the_frozen_one_stays(tiny_world):
    from ie_env.envs.env import InternetExplorerEnv

    env = InternetExplorerEnv(world=str(tiny_world.path), target="tiny-imagenet:dog.n.01", mode="full", preset="",
                              budget=4, queries_per_iteration=2, results_per_query=5, image_size=32,
                              learner={"kind": "head", "image_size": 32, "views": 2, "batch_size": 16, "hidden": 32,
                                       "dim": 16, "proj_dim": 8, "steps_per_iteration": 3, "target_pool": 24},
                              vocabulary_under=("dog.n.01", "cat.n.01"))
    env.reset(seed=0)
    first = [env.step(a)[4]["reward_baseline"] for a in (0, 1)]
    after = env.step(2)[4]["reward_baseline"]  # the learner trained at the iteration end: a new baseline
    assert first[0] == first[1] and after != first[0] and all(b[1] > 0 for b in (first[0], after))
    frozen = InternetExplorerEnv(world=str(tiny_world.path), target="tiny-imagenet:dog.n.01", mode="frozen",
                                 budget=4, queries_per_iteration=2, results_per_query=5,
                                 vocabulary_under=("dog.n.01", "cat.n.01"))
    frozen.reset(seed=0)
    assert frozen.step(0)[4]["reward_baseline"] == frozen.step(3)[4]["reward_baseline"]


def test_trunk_precision_is_part_of_the_cache_key_and_bf16_stays_close(monkeypatch):
    from ie_env.learning.frozen import FrozenEncoder, FrozenError, trunk_precision

    images = photos(8)
    fp32 = FrozenEncoder("efficientnet_lite0", 32, precision="fp32")
    bf16 = FrozenEncoder("efficientnet_lite0", 32, precision="bf16")
    assert fp32.key != bf16.key and bf16.key.endswith("-bf16")
    cos = (fp32.embed(images) * bf16.embed(images)).sum(1)  # both L2-normalised
    assert cos.min() > 0.98
    monkeypatch.setenv("IE_TRUNK_PRECISION", "fp32")
    assert trunk_precision("auto") == "fp32" and trunk_precision("bf16") == "bf16"
    monkeypatch.setenv("IE_TRUNK_PRECISION", "fp8")
    with pytest.raises(FrozenError, match="trunk precision 'fp8' unknown"):
        trunk_precision("auto")


def test_world_views_are_built_ahead_once_and_found_by_the_learner(tiny_world):
    from ie_env.learning.views import build_world_views, get_store

    first = build_world_views(tiny_world, image_size=32, views=2, chunk=20)
    n = len(tiny_world.sha256)
    assert first["images"] == n and first["computed"] == n
    views_module._STORES.clear()  # a new process: everything comes from disk
    assert build_world_views(tiny_world, image_size=32, views=2, chunk=20)["computed"] == 0
    store = get_store("efficientnet_lite0", 32, 2)
    store.features(tiny_world.load_images(range(n), 32))
    assert store.computed == 0 and len(store) == n
