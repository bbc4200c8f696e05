"""End to end: the live env against a real HTTP server on 127.0.0.1, recorded, then replayed offline."""
import gymnasium as gym
import pytest

from ie_env.data.vocabulary import load_vocabulary
from ie_env.envs.live_env import InternetExplorerLiveEnv
from offline_cache.server import SnapshotServer


def run(env, concepts, seed=0):
    env.reset(seed=seed)
    out = []
    for c in concepts:
        _, reward, _, _, info = env.step(c)
        out.append((reward, info["new_images"], tuple(info["keys"]), info["iteration_end"]))
    return out


@pytest.mark.parametrize("mode", ["frozen", "full"])
def test_live_record_then_replay_identical(tiny_world, tmp_path, mode):
    v = load_vocabulary()
    concepts = [v.find(q)[0] for q in ("golden retriever", "tabby", "lemon", "golden retriever", "sports car", "reel")]
    common = dict(target="tiny-imagenet:dog.n.01", mode=mode, frozen_encoder="resnet18", budget=6,
                  queries_per_iteration=3, results_per_query=8, reward_targets=100, eval_images=40,
                  learner={"width": 0.125, "batch_size": 16, "steps_per_iteration": 2, "proj_hidden": 32,
                           "proj_dim": 16})
    with SnapshotServer(world=tiny_world) as server:
        live = InternetExplorerLiveEnv(engine="clip_retrieval", record=str(tmp_path / "rec"),
                                       engine_options={"base_url": server.url, "indice_name": tiny_world.name},
                                       downloader={"allow_private": True}, **common)
        recorded = run(live, concepts)
        live.close()
    assert recorded[0][1] == 8 and recorded[3][1] == 0  # the repeated query finds nothing new
    replay = InternetExplorerLiveEnv(engine="replay", snapshot=str(tmp_path / "rec"), **common)
    assert run(replay, concepts) == recorded
    assert run(replay, concepts) == recorded  # and again, from reset


def test_live_env_is_registered_nondeterministic():
    spec = gym.spec("InternetExplorerLive-v0")
    assert spec.nondeterministic and not gym.spec("InternetExplorer-v0").nondeterministic


def test_replay_needs_a_snapshot(tiny_world):
    with pytest.raises(ValueError, match="snapshot"):
        InternetExplorerLiveEnv(engine="replay", target="tiny-imagenet:dog.n.01", frozen_encoder="resnet18")
