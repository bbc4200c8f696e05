"""Learned policies: training with Monitor + EvalCallback (+ TensorBoard), save/load, and `ie-explore run --policy`."""
from __future__ import annotations

import json

import numpy as np
import pytest

from agents import make_agent
from agents.base import AgentContext
from ie_env.data.text_embedding import concept_embeddings
from ie_env.run.cli import main as cli_main
from tests.test_env import make

WORLD_ARGS = ["--target", "tiny-imagenet:dog.n.01", "--budget", "16", "--queries-per-iteration", "8",
              "--results-per-query", "10", "--frozen-encoder", "resnet18", "--image-size", "32",
              "--vocabulary-under", "dog.n.01,cat.n.01"]


@pytest.fixture(scope="module")
def trained(tiny_world, tmp_path_factory):
    from experiments.train_policy import main

    out = tmp_path_factory.mktemp("policy")
    result = main(["--algo", "ppo", "--steps", "256", "--targets", "tiny-imagenet:dog.n.01", "--world",
                   str(tiny_world.path), *WORLD_ARGS, "--k", "4", "--embedding-dim", "4", "--eval-freq", "128",
                   "--eval-episodes", "1", "--env-option", "reward_targets=300", "--out", str(out), "--json"])
    return out, result


def test_train_policy_writes_model_monitor_evaluations_tensorboard(trained):
    out, result = trained
    assert result["steps"] == 256 and (out / "model.zip").is_file() and (out / "best_model.zip").is_file()
    evals = np.load(out / "evaluations.npz")
    assert evals["timesteps"].tolist() == [128, 256] and evals["ep_lengths"].tolist() == [[16], [16]]
    lines = (out / "monitor" / "train-0.monitor.csv").read_text().splitlines()
    assert lines[1] == "r,l,t" and len(lines) == 2 + 256 // 16 and all(row.split(",")[1] == "16" for row in lines[2:])
    assert (out / "monitor" / "eval-0.monitor.csv").is_file()
    assert any((out / "tensorboard").rglob("events.out.tfevents.*"))  # tensorboard is installed by `make test`
    assert json.loads((out / "train_config.json").read_text())["algo"] == "ppo"


def test_run_loads_a_saved_policy(trained, tiny_world, capsys):
    out, _ = trained
    argv = ["run", "--world", str(tiny_world.path), *WORLD_ARGS, "--agent", "ppo", "--policy", str(out / "model.zip"),
            "--json", "--env-option", "reward_targets=300"]
    assert cli_main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["final"]["queries"] == 16 and len(result["queries"]) == 16
    assert cli_main([*argv[:-3], "--agent", "dqn", "--json"]) == 2  # a PPO file is not a DQN policy
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a saved DQN policy" in err[0]
    assert cli_main(["run", "--agent", "gp", "--policy", str(out / "model.zip")]) == 2
    assert "--policy is for the learned agents" in capsys.readouterr().err


def test_dqn_agent_saves_and_loads_the_same_policy(tiny_world, concepts, tmp_path):
    env = make(tiny_world, concepts, budget=8)
    ctx = AgentContext(vocab=env.vocab, concept_embeddings=np.asarray(concept_embeddings(env.vocab)))
    agent = make_agent("dqn", ctx, env=env, train_steps=64, k=4)
    agent.save(tmp_path / "dqn.zip")
    loaded = make_agent("dqn", ctx, policy=str(tmp_path / "dqn.zip"))
    for a in (agent, loaded):
        a.reset(3)
    assert [agent.act() for _ in range(4)] == [loaded.act() for _ in range(4)]
    with pytest.raises(ValueError, match="no saved policy at"):
        make_agent("ppo", ctx, policy=str(tmp_path / "missing.zip"))
