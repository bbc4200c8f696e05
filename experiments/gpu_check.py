"""Check the paper-scale preset on this machine: learner throughput (images/s) and peak memory.

    python experiments/gpu_check.py                                        # one GPU
    torchrun --standalone --nproc_per_node=8 experiments/gpu_check.py      # DDP over 8 GPUs, same global batch
    python experiments/gpu_check.py --device cpu                           # no GPU: the preset at a tiny size

Builds the learner of the ``paper`` preset (:mod:`ie_env.envs.presets`: MoCo v3, ResNet-50, 224 px, batch 256),
trains ``--warmup`` steps, then ``--steps`` timed steps on random images, and prints the training throughput
(images/s over all processes, each image seen as two views), seconds per step, the embedding throughput (what
the env spends on every answer's images), the peak memory of one process (CUDA: ``max_memory_allocated``; CPU:
peak resident set) and the loss of every step. Without CUDA (or with ``--tiny``) it runs the preset at the tiny
``SMOKE`` size on the CPU and says so. ``--json`` prints one JSON document on the last line (rank 0).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ie_env.envs.presets import PRESETS, SMOKE  # noqa: E402
from ie_env.learning import distributed  # noqa: E402
from ie_env.learning.learner import Learner, LearnerConfig  # noqa: E402


def learner_config(device: str, tiny: bool, seed: int) -> LearnerConfig:
    """The ``paper`` preset's learner (at the ``SMOKE`` size when ``tiny``)."""
    paper = PRESETS["paper"]
    learner = {**paper["learner"], **(SMOKE["learner"] if tiny else {})}
    size = SMOKE["image_size"] if tiny else paper["image_size"]
    return LearnerConfig(**learner, image_size=size, device=device, seed=seed)


def peak_memory_gib(device: torch.device) -> float:
    """Peak memory of this process: allocated on its GPU, or resident on the host (Linux reports KiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu",
                   help="where to train (default: cuda when torch sees a GPU)")
    p.add_argument("--tiny", action="store_true", help="the preset at the tiny SMOKE size (always on a CPU)")
    p.add_argument("--steps", type=int, default=20, help="timed training steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (cuDNN autotuning, allocator)")
    p.add_argument("--seed", type=int, default=0, help="seed of the model, the images and the sampling")
    p.add_argument("--json", action="store_true", help="print the results as JSON on the last line")
    a = p.parse_args(argv)
    tiny = a.tiny or a.device == "cpu"
    cfg = learner_config(a.device, tiny, a.seed)
    learner = Learner(cfg)
    main_rank = distributed.is_main()
    if tiny and main_rank:
        print(f"{'no CUDA GPU here: ' if not torch.cuda.is_available() else ''}running the paper preset at the tiny "
              f"SMOKE size on {a.device} ({cfg.image_size} px, batch {cfg.batch_size}); its figures say nothing "
              "about the full size", flush=True)
    rng = np.random.default_rng(a.seed)
    n = max(2 * cfg.batch_size, 64)
    shape = (n, cfg.image_size, cfg.image_size, 3)
    candidates, target = rng.integers(0, 256, shape, np.uint8), rng.integers(0, 256, shape, np.uint8)
    rewards = rng.random(n).astype(np.float32)
    if a.warmup:
        learner.train(candidates, None, target, steps=a.warmup)
    if learner.device.type == "cuda":
        torch.cuda.synchronize()
    stats = learner.train(candidates, rewards, target, steps=a.steps)
    start = time.perf_counter()
    learner.embed(target)
    embed_s = time.perf_counter() - start
    out = {"device": str(learner.device), "processes": distributed.world_size(), "tiny": tiny,
           "image_size": cfg.image_size, "backbone": cfg.backbone, "global_batch": cfg.batch_size,
           "train_images_per_s": round(stats.images_per_second, 2),
           "seconds_per_step": round(stats.seconds / max(stats.steps, 1), 4),
           "embed_images_per_s": round(n / embed_s, 1), "peak_memory_gib": round(peak_memory_gib(learner.device), 3),
           "losses": stats.losses}
    if main_rank:
        print(f"{out['processes']} process(es) on {out['device']}: {out['train_images_per_s']} images/s training "
              f"(global batch {cfg.batch_size}, {out['seconds_per_step']} s/step), {out['embed_images_per_s']} "
              f"images/s embedding, peak memory {out['peak_memory_gib']} GiB per process", flush=True)
        print(f"losses: {', '.join(f'{x:.6f}' for x in stats.losses)}", flush=True)
        if a.json:
            print(json.dumps(out))
    if dist.is_initialized():
        dist.destroy_process_group()
    return out


if __name__ == "__main__":
    main()
