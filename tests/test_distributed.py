"""Training on several processes (ie_env.learning.distributed): 2 gloo processes on the CPU follow one process
with the same global batch, checkpoints come from rank 0 and resume on every rank (also through torchrun and the
command line); devices fail clearly."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ie_env.envs.env import EnvConfig
from ie_env.learning import distributed
from ie_env.learning.learner import Learner
from tests.test_learner import synthetic_images, tiny_config

CONFIG = dict(batch_size=32, lr=1e-4, steps_per_iteration=4)
"""A global batch of 32 (16 a process), AdamW; 8 steps: 4, a checkpoint written by rank 0 and loaded by all, 4."""
TOLERANCE = 1e-3
"""Largest relative difference allowed between the two runs' loss at any step. Measured here: 2.7e-4 at most
over the 8 steps (1e-6 on the first ones); the same protocol in one process with 1 vs 2 threads differs by up to
1.4e-4: float rounding, which AdamW amplifies (at lr=2e-3 both differences reach a few % within 8 steps, so
the test trains at 1e-4). Per-rank BatchNorm statistics (no GlobalBatchNorm) miss by 2.6% at the first step."""


def _losses(learner: Learner, checkpoint: str) -> list[float]:
    """4 steps, a checkpoint (rank 0 writes it, every rank reads it), 4 more steps from the checkpoint."""
    images = synthetic_images(128, 16)
    losses = learner.train(images, None, images).losses
    if distributed.is_main():
        learner.save(checkpoint)
    if dist.is_initialized():
        dist.barrier()
    resumed = Learner.load(checkpoint)
    return losses + resumed.train(images, None, images).losses


def _rank(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    learner = Learner(tiny_config(**CONFIG))
    losses = _losses(learner, os.path.join(out, "learner.pt"))
    params = torch.cat([p.detach().flatten() for p in learner.model.parameters()])
    torch.save({"losses": losses, "params": params, "world": distributed.world_size()}, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


def test_ddp_two_gloo_processes_follow_one_process(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_rank, args=(2, port, str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert ranks[0]["world"] == 2 and torch.equal(ranks[0]["params"], ranks[1]["params"])  # DDP kept them equal
    torch.set_num_threads(1)
    one = _losses(Learner(tiny_config(**CONFIG)), str(tmp_path / "one.pt"))
    two = ranks[0]["losses"]
    rel = np.abs(np.asarray(two) - np.asarray(one)) / np.abs(one)
    print(json.dumps({"one_process": one, "two_processes": two, "max_relative_difference": float(rel.max()),
                      "tolerance": TOLERANCE}))
    assert len(two) == 8 and rel.max() < TOLERANCE


def test_ddp_shard_and_devices_fail_clearly(monkeypatch):
    assert distributed.shard(32) == slice(0, 32) and distributed.world_size() == 1
    if not torch.cuda.is_available():
        with pytest.raises(distributed.DistributedError, match="device='cuda' but torch .* sees no CUDA GPU"):
            EnvConfig(device="cuda")
        with pytest.raises(distributed.DistributedError, match="sees no CUDA GPU"):
            Learner(tiny_config(device="cuda"))
    with pytest.raises(distributed.DistributedError, match="use one of cpu, cuda"):
        Learner(tiny_config(device="tpu"))
    monkeypatch.setenv("RANK", "1")  # torchrun's rank before the process group exists: not the writer
    assert not distributed.is_main()


@pytest.mark.slow
def test_ddp_torchrun_run_killed_and_resumed_ends_like_an_uninterrupted_one(tiny_world, tmp_path):
    """``torchrun --nproc_per_node=2 -m ie_env.run.cli run --mode full``: rank 0 writes the run folder; killed in
    the second iteration's training, ``--resume`` (under torchrun again) ends with the uninterrupted run's result."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                "-m", "ie_env.run.cli", "run", "--json"]
    args = ["--world", str(tiny_world.path), "--target", "tiny-imagenet:dog.n.01", "--mode", "full", "--agent",
            "random", "--budget", "4", "--queries-per-iteration", "2", "--results-per-query", "10",
            "--vocabulary-under", "dog.n.01,cat.n.01,car.n.01", "--env-option", "eval_images=20",
            "--env-option", "reward_targets=40", "--learner-option", "width=0.125", "--learner-option",
            "batch_size=8", "--learner-option", "steps_per_iteration=2", "--learner-option", "proj_hidden=16",
            "--learner-option", "proj_dim=8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(*extra, **more_env) -> subprocess.CompletedProcess:
        return subprocess.run([*torchrun, *extra], capture_output=True, text=True, env={**env, **more_env},
                              timeout=600)

    whole = run(*args, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = run(*args, "--out", str(tmp_path / "killed"), IE_FAILPOINT="train:3")
    assert killed.returncode != 0 and (tmp_path / "killed" / "checkpoint.pt").exists()
    assert not (tmp_path / "killed" / "result.json").exists()
    resumed = run("--resume", str(tmp_path / "killed"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    final = [json.loads(p.stdout.strip().splitlines()[-1])["final"] for p in (whole, resumed)]
    print(json.dumps({"uninterrupted": final[0], "killed_and_resumed": final[1]}))
    assert final[0] == final[1] and final[0]["queries"] == 4
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == ["checkpoint.pt", "config.json",
                                                                      "explored.jsonl", "result.json"]
