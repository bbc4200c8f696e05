"""Rendering (rgb_array pictures, ansi lines) and the episode length following ``budget`` through ``gym.make``."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from ie_env.envs.env import InternetExplorerEnv
from ie_env.envs.render import BORDER, GAP, HEADER, frame_size, reward_colour


def opts(tiny_world, concepts, **kw) -> dict:
    return dict(world=str(tiny_world.path), target="tiny-imagenet:dog.n.01", mode="frozen",
                frozen_encoder="resnet18", image_size=32, results_per_query=10, reward_targets=300,
                concepts=concepts) | kw


def test_render_modes_accepted_by_gym_make(tiny_world, concepts):
    from gymnasium.utils.env_checker import check_env

    for mode in (None, "rgb_array", "ansi"):
        env = gym.make("InternetExplorer-v0", render_mode=mode, **opts(tiny_world, concepts, budget=4))
        assert env.render_mode == mode and env.unwrapped.render_mode == mode
        if mode == "rgb_array":
            check_env(env.unwrapped)  # Gymnasium's render checks included
    with pytest.raises(ValueError, match="render_mode='rgb': use None, 'rgb_array' or 'ansi'"):
        InternetExplorerEnv(render_mode="rgb", **opts(tiny_world, concepts))


def test_render_rgb_array_shows_the_last_step(tiny_world, concepts):
    env = gym.make("InternetExplorer-v0", render_mode="rgb_array", **opts(tiny_world, concepts, budget=8))
    env.reset(seed=0)
    before = env.render()
    dog = env.unwrapped.vocab.find("golden retriever")[0]
    _, reward, _, _, info = env.step(dog)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == before.shape == (*frame_size(10), 3)
    assert not np.array_equal(frame, before)
    # the first tile's frame is drawn in the colour of its reward
    assert tuple(frame[HEADER + 1, GAP + 1]) == reward_colour(info["image_rewards"][0])
    env.step(dog)  # a repeat: same images, all seen before, so the tiles are dimmed
    again = env.render()
    assert again.shape == frame.shape and not np.array_equal(again, frame)
    inner = (slice(HEADER + BORDER, HEADER + BORDER + 8), slice(GAP + BORDER, GAP + BORDER + 8))
    assert again[inner].astype(int).mean() > frame[inner].astype(int).mean()  # blended towards light grey


def test_render_ansi_is_one_line_with_the_counts(tiny_world, concepts):
    env = gym.make("InternetExplorer-v0", render_mode="ansi", **opts(tiny_world, concepts, budget=8))
    env.reset(seed=0)
    assert "no query yet" in env.render()
    env.step(env.unwrapped.vocab.find("tabby")[0])
    line = env.render()
    m = env.unwrapped.metrics()
    assert "\n" not in line and 'query "tabby"' in line and "step 1/8" in line
    assert f"distinct images {m['distinct_images']}" in line and f"relevant {m['relevant_images']}" in line


def test_render_colour_scale_runs_red_to_green():
    assert reward_colour(-1) == reward_colour(0) == (215, 48, 39)
    assert reward_colour(2) == reward_colour(1) == (26, 152, 80)
    assert reward_colour(0.5) == (254, 224, 139)


def test_render_budget_sets_the_episode_length(tiny_world, concepts):
    """The registered id carries no TimeLimit of its own: ``budget`` decides, an explicit max_episode_steps too."""
    env = gym.make("InternetExplorer-v0", **opts(tiny_world, concepts, budget=2048))
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    flags = [env.step(int(rng.integers(len(concepts))))[3] for _ in range(2048)]
    assert not any(flags[:-1]) and flags[-1]
    short = gym.make("InternetExplorer-v0", max_episode_steps=3, **opts(tiny_world, concepts, budget=2048))
    short.reset(seed=0)
    assert [short.step(0)[3] for _ in range(3)] == [False, False, True]


def test_render_live_env_keeps_the_last_answer_drawable(tiny_world):
    from ie_env.data.vocabulary import load_vocabulary
    from ie_env.envs.live_env import InternetExplorerLiveEnv
    from offline_cache.server import SnapshotServer

    v = load_vocabulary()
    with SnapshotServer(world=tiny_world) as server:
        env = InternetExplorerLiveEnv(engine="clip_retrieval", render_mode="rgb_array", target="tiny-imagenet:dog.n.01",
                                      frozen_encoder="resnet18", image_size=32, budget=3, queries_per_iteration=2,
                                      results_per_query=8, reward_targets=100,
                                      engine_options={"base_url": server.url, "indice_name": tiny_world.name},
                                      downloader={"allow_private": True})
        env.reset(seed=0)
        env.step(v.find("golden retriever")[0])
        _, _, _, _, info = env.step(v.find("tabby")[0])
        assert info["iteration_end"]
        frame = env.render()  # the iteration ended: its candidates' pixels are dropped, the last answer's kept
        centre = frame[HEADER + BORDER + 32, GAP + BORDER + 32]
        assert tuple(centre) != (200, 200, 200)  # a real image, not the placeholder of unknown pixels
        env.step(v.find("golden retriever")[0])  # images met in the earlier iteration: placeholders, dimmed
        assert env.render().shape == frame.shape
        env.close()
