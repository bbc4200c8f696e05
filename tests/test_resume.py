"""Crash and resume: a recorded run of the loop (full mode, against a real server on 127.0.0.1) is killed with
SIGKILL at six different points, resumed with ``--resume``, and must end exactly like an uninterrupted run:
the same final metrics, curves and queries, the same snapshot rows, rewards kept included (nothing lost, nothing
twice), and the same explored.jsonl."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from offline_cache.server import SnapshotServer
from offline_cache.snapshot import DB_NAME, Snapshot

KILL_POINTS = [
    "step:4",          # between two queries of the second iteration
    "download:15",     # one URL of the third answer, other downloads in flight
    "record:9",        # inside a snapshot transaction
    "train:3",         # between two learner steps of the second iteration
    "evaluate:2",      # trained, not yet evaluated, not yet checkpointed
    "atomic-write:3",  # the second iteration's checkpoint written but not yet renamed into place
]


def command(server, world, run_dir, snap, resume=False):
    base = [sys.executable, "-m", "ie_env.run.cli", "live", "--json"]
    if resume:
        return base + ["--resume", str(run_dir)]
    return base + [
        "--engine", "clip_retrieval", "--engine-option", f"base_url={server.url}",
        "--engine-option", f"indice_name={world.name}", "--downloader-option", "allow_private=true",
        "--record", str(snap), "--target", "tiny-imagenet:dog.n.01", "--mode", "full", "--frozen-encoder", "resnet18",
        "--budget", "8", "--queries-per-iteration", "2", "--results-per-query", "6",
        "--vocabulary-under", "dog.n.01,cat.n.01,car.n.01,fish.n.01",
        "--env-option", "reward_targets=100", "--env-option", "eval_images=40",
        "--learner-option", "width=0.125", "--learner-option", "batch_size=16",
        "--learner-option", "steps_per_iteration=2", "--learner-option", "proj_hidden=32",
        "--learner-option", "proj_dim=16", "--agent", "gp", "--agent-option", "refit_every=2",
        "--seed", "3", "--out", str(run_dir)]


def launch(cmd, failpoint=None):
    env = dict(os.environ)
    env.pop("IE_FAILPOINT", None)
    if failpoint:
        env["IE_FAILPOINT"] = failpoint
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def snapshot_rows(path) -> dict:
    """Every record of a snapshot except the wall-clock columns."""
    con = sqlite3.connect(path / DB_NAME)
    try:
        return {
            "queries": con.execute("SELECT engine, query, n_results FROM queries ORDER BY 1, 2").fetchall(),
            "results": con.execute("SELECT * FROM results ORDER BY engine, query, rank").fetchall(),
            "blobs": con.execute("SELECT sha256, size FROM blobs ORDER BY 1").fetchall(),
            "downloads": con.execute("SELECT url, status, sha256, detail FROM downloads ORDER BY 1").fetchall(),
            "meta": con.execute("SELECT key, value FROM meta WHERE key IN ('download_status', 'recorded_engines') "
                                "ORDER BY 1").fetchall(),
            "rewards": con.execute("SELECT sha256, reward, query, relevant, iteration FROM rewards "
                                   "ORDER BY 1").fetchall(),
        }
    finally:
        con.close()


def outcome(run_dir, snap) -> dict:
    result = json.loads((run_dir / "result.json").read_text())
    return {"final": result["final"], "curve": result["curve"], "iterations": result["iterations"],
            "queries": result["queries"], "snapshot": snapshot_rows(snap),
            "explored": (run_dir / "explored.jsonl").read_text()}


@pytest.fixture(scope="module")
def server(tiny_world):
    with SnapshotServer(world=tiny_world) as s:
        yield s


@pytest.fixture(scope="module")
def reference(server, tiny_world, tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    done = launch(command(server, tiny_world, root / "run", root / "snap"))
    assert done.returncode == 0, done.stderr[-2000:]
    out = outcome(root / "run", root / "snap")
    assert out["final"]["queries"] == 8 and len(out["iterations"]["knn_accuracy"]) == 4
    assert len(out["snapshot"]["downloads"]) > 20
    return out


@pytest.mark.parametrize("point", KILL_POINTS)
def test_resume_after_sigkill_matches_an_uninterrupted_run(point, server, tiny_world, reference, tmp_path):
    run_dir, snap = tmp_path / "run", tmp_path / "snap"
    killed = launch(command(server, tiny_world, run_dir, snap), failpoint=point)
    assert killed.returncode == -signal.SIGKILL, f"failpoint {point} was never reached: {killed.stderr[-1500:]}"
    assert not (run_dir / "result.json").exists()
    resumed = launch(command(server, tiny_world, run_dir, snap, resume=True))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert outcome(run_dir, snap) == reference
    assert Snapshot(snap, readonly=True).verify().ok
    again = launch(command(server, tiny_world, run_dir, snap, resume=True))  # a finished run just reports
    assert again.returncode == 0 and json.loads(again.stdout.strip().splitlines()[-1]) == reference["final"]


def test_resume_needs_a_run_folder(tmp_path):
    bad = launch([sys.executable, "-m", "ie_env.run.cli", "run", "--resume", str(tmp_path)])
    assert bad.returncode == 2 and "not a run folder" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
