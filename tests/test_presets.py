"""The paper-scale preset (ie_env.envs.presets): what it sets, and a smoke run of the loop at a tiny size."""
from __future__ import annotations

import pytest

from agents import make_agent_for_env
from ie_env.envs.env import EnvConfig, InternetExplorerEnv
from ie_env.envs.presets import PRESETS, SMOKE
from ie_env.run.runner import run_episode


def test_paper_preset_fills_the_defaults_and_keeps_what_is_given():
    cfg = EnvConfig(preset="paper")
    assert (cfg.mode, cfg.image_size, cfg.queries_per_iteration, cfg.results_per_query) == ("full", 224, 256, 100)
    assert cfg.learner["backbone"] == "resnet50" and cfg.learner["objective"] == "moco" and cfg.device == "cpu"
    given = EnvConfig(preset="paper", image_size=64, learner={"batch_size": 64})
    assert given.image_size == 64 and given.learner == {**PRESETS["paper"]["learner"], "batch_size": 64}
    assert EnvConfig(**given.__dict__) == given  # applying it again changes nothing (checkpoints, config.json)
    with pytest.raises(ValueError, match="preset 'huge' unknown: use one of paper"):
        EnvConfig(preset="huge")


def test_paper_preset_smoke_run_at_a_tiny_size(tiny_world, concepts):
    env = InternetExplorerEnv(preset="paper", **SMOKE, world=str(tiny_world.path), target="tiny-imagenet:dog.n.01",
                              budget=8, results_per_query=10, concepts=concepts)
    run = run_episode(env, make_agent_for_env("random", env), seed=0)
    learner = env.scorer.learner
    cfg = learner.config
    assert (cfg.backbone, cfg.objective, cfg.image_size, cfg.batch_size) == ("resnet50", "moco", 32, 8)
    assert learner.feat_dim == 2048 and learner.step == 2 * 2  # 2 iterations of 2 steps
    assert len(run["iterations"]["knn_accuracy"]) == 2 and 0 <= run["final"]["knn_accuracy"] <= 1
