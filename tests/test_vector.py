"""Vector environments: Gymnasium's make_vec (sync and async) and stable-baselines3's make_vec_env."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from tests.test_render import opts


def _episode(envs, n: int):
    envs.reset(seed=[0, 1])
    out = []
    for _ in range(n):
        obs, reward, terminated, truncated, info = envs.step(np.asarray([0, 1]))
        out.append((obs, reward, truncated, info))
    return out


def test_vector_sync_and_async_agree(tiny_world, concepts):
    kw = opts(tiny_world, concepts, budget=3, queries_per_iteration=2)
    sync = gym.make_vec("InternetExplorer-v0", num_envs=2, vectorization_mode="sync", render_mode="rgb_array", **kw)
    steps = _episode(sync, 3)
    obs, reward, truncated, info = steps[-1]
    assert obs.shape == (2, 8) and reward.shape == (2,) and truncated.tolist() == [True, True]
    assert [len(r) for r in info["image_rewards"]] == [10, 10] and list(info["query"]) == [
        sync.envs[0].unwrapped.vocab.lemmas[0], sync.envs[0].unwrapped.vocab.lemmas[1]]
    frames = sync.render()
    assert len(frames) == 2 and frames[0].ndim == 3 and frames[0].dtype == np.uint8
    sync.close()
    asyn = gym.make_vec("InternetExplorer-v0", num_envs=2, vectorization_mode="async",
                        vector_kwargs={"context": "spawn"}, **kw)
    again = _episode(asyn, 3)
    asyn.close()
    for (o1, r1, t1, _), (o2, r2, t2, _) in zip(steps, again):
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and np.array_equal(t1, t2)


def test_vector_sb3_make_vec_env_with_monitor(tiny_world, concepts):
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.monitor import Monitor

    venv = make_vec_env("InternetExplorer-v0", n_envs=2, seed=0, env_kwargs=opts(tiny_world, concepts, budget=3))
    assert isinstance(venv.envs[0], Monitor) and venv.envs[0].unwrapped.render_mode == "rgb_array"
    venv.reset()
    for _ in range(3):
        obs, rewards, dones, infos = venv.step(np.asarray([0, 1]))
    assert obs.shape == (2, 8) and dones.tolist() == [True, True]
    assert infos[0]["episode"]["l"] == 3 and infos[0]["TimeLimit.truncated"]
    assert venv.get_images()[0].dtype == np.uint8
    venv.close()
