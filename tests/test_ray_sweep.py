"""Sweeps on Ray (ie_env.run.ray_sweep through compare_agents): the same summary as one process, a killed worker's
episode retried, a failing episode reported without losing the others. Each test starts a local Ray instance."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("ray")

from experiments.compare_agents import main  # noqa: E402


def _argv(world, out, agents="random,gp", seeds=3) -> list[str]:
    return ["--world", str(world.path), "--target", "tiny-imagenet:dog.n.01", "--agents", agents, "--seeds",
            str(seeds), "--budget", "12", "--queries-per-iteration", "4", "--frozen-encoder", "resnet18",
            "--image-size", "32", "--vocabulary-under", "dog.n.01,cat.n.01,car.n.01", "--out", str(out)]


TIMINGS = ("steps_per_s", "seconds", "time_split", "episode_seconds", "report")


def without_timings(x):
    """A summary or runs.json with the wall-clock figures (differ between runs) and the report page's path (only
    the command line writes one) left out."""
    if isinstance(x, dict):
        return {k: without_timings(v) for k, v in x.items() if k not in TIMINGS}
    if isinstance(x, list):
        return [without_timings(v) for v in x]
    return x


@pytest.fixture(scope="module")
def sequential(tiny_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("sequential")
    main(_argv(tiny_world, out))
    return json.loads((out / "summary.json").read_text()), json.loads((out / "runs.json").read_text())


def test_ray_sweep_summary_equals_the_sequential_one(tiny_world, sequential, tmp_path):
    summary = main([*_argv(tiny_world, tmp_path), "--ray"])
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    print("sequential:", json.dumps(without_timings(sequential[0])["agents"]))
    print("ray:       ", json.dumps(without_timings(on_disk)["agents"]))
    assert on_disk["failed"] == [] and summary["random"]["steps_per_s"] > 0
    assert without_timings(on_disk) == without_timings(sequential[0])
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert without_timings(runs) == without_timings(sequential[1])  # every curve and every query, in order
    queries = [tuple(r["queries"]) for agent in ("random", "gp") for r in runs[agent]]
    assert len(set(queries)) == 6, "each (agent, seed) asks its own queries: the comparison is not vacuous"


def test_ray_sweep_retries_the_episode_of_a_killed_worker(tiny_world, sequential, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv("IE_FAILPOINT", "step:5")  # the first worker to reach its 5th env step dies (SIGKILL) ...
    monkeypatch.setenv("IE_FAILPOINT_ONCE", str(marker))  # ... once: the retried episode passes
    main([*_argv(tiny_world, tmp_path / "out"), "--ray", "local"])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert marker.exists(), "no worker was killed"
    print("a worker was killed mid-episode; failed:", summary["failed"])
    assert summary["failed"] == []
    assert without_timings(summary) == without_timings(sequential[0])


def test_ray_sweep_reports_an_episode_that_fails_twice_and_keeps_the_rest(tiny_world, sequential, tmp_path):
    argv = [*_argv(tiny_world, tmp_path), "--ray", "--agent-option", "gp:no_such_option=1"]
    summary = main(argv)
    assert [(f["agent"], f["seed"]) for f in summary["failed"]] == [("gp", 0), ("gp", 1), ("gp", 2)]
    assert "no_such_option" in summary["failed"][0]["error"] and "gp" not in summary["agents"]
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert without_timings(runs["random"]) == without_timings(sequential[1]["random"])
    again = main([*argv[:-2], "--resume"])  # the random episodes are kept, only gp's run (in the driver's order)
    assert again["failed"] == [] and without_timings(again) == without_timings(sequential[0])
