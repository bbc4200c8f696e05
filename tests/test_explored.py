"""What a run keeps of each iteration (explored.jsonl): bounded, best first, repeats folded, and the same after a
crash and resume as without one."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ie_env.run.explored import ExploredConfig, IterationRecorder, read_explored


def info(query, hashes, rewards, flags, new_relevant=None):
    return {"query": query, "new_images": len(hashes), "new_relevant": sum(flags or []) if new_relevant is None
            else new_relevant, "new_sha256": hashes, "new_image_rewards": rewards, "new_image_relevant": flags}


def test_an_iteration_keeps_its_best_images_and_queries_within_the_bound():
    rec = IterationRecorder(ExploredConfig(top_images=3, top_queries=2))
    rec.step(info("tabby", ["a", "b", "c"], [0.2, 0.9, 0.5], [False, True, True]), 0.7)
    rec.step(info("lemon", ["d", "e"], [0.95, 0.1], [False, False]), 0.6)
    rec.step(info("tabby", [], [], []), 0.7)  # a repeat: nothing new
    rec.step(info("reel", ["f"], [0.3], [False]), 0.3)
    it = rec.close(0, {"iteration_end": True, "reward_auc": 0.75})
    assert (it.queries, it.new_images, it.new_relevant, it.reward_auc, it.knn_accuracy) == (4, 6, 2, 0.75, None)
    assert it.mean_reward == pytest.approx((0.7 + 0.6 + 0.7 + 0.3) / 4)
    assert [(i.sha256, i.reward, i.query, i.relevant) for i in it.top_images] == [
        ("d", 0.95, "lemon", False), ("b", 0.9, "tabby", True), ("c", 0.5, "tabby", True)]
    assert [(q.query, q.asked, q.new, q.relevant) for q in it.top_queries] == [("tabby", 2, 3, 2), ("lemon", 1, 2, 0)]
    assert rec.close(1, {}).new_images == 0  # the next iteration starts empty


def test_without_ground_truth_relevance_is_unknown_not_zero():
    rec = IterationRecorder()
    rec.step(info("tabby", ["a"], [0.4], None, new_relevant=0), 0.4)
    it = rec.close(0, {})
    assert it.new_relevant is None and it.top_queries[0].relevant is None and it.top_images[0].relevant is None


def test_a_killed_run_resumes_with_the_same_explored_file(tiny_world, tmp_path):
    def run(out, *extra, failpoint=None):
        env = {k: v for k, v in os.environ.items() if k != "IE_FAILPOINT"} | (
            {"IE_FAILPOINT": failpoint} if failpoint else {})
        cmd = [sys.executable, "-m", "ie_env.run.cli", "run", *extra]
        if not extra:
            cmd += ["--world", str(tiny_world.path), "--target", "tiny-imagenet:dog.n.01", "--frozen-encoder",
                    "resnet18", "--image-size", "32", "--vocabulary-under", "dog.n.01,cat.n.01", "--agent", "gp",
                    "--budget", "8", "--queries-per-iteration", "2", "--seed", "1", "--out", str(out)]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)

    assert run(tmp_path / "whole").returncode == 0
    killed = run(tmp_path / "killed", failpoint="step:6")  # in the third iteration, two checkpointed
    assert killed.returncode == -9 and len(read_explored(tmp_path / "killed" / "explored.jsonl")) == 2
    assert run(tmp_path / "killed", "--resume", str(tmp_path / "killed")).returncode == 0
    whole = (tmp_path / "whole" / "explored.jsonl").read_text()
    assert (tmp_path / "killed" / "explored.jsonl").read_text() == whole
    assert [it["iteration"] for it in map(json.loads, whole.splitlines())] == [0, 1, 2, 3]
