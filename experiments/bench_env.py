"""Speed of the env loop in frozen mode and of the GP refit, on this machine's CPU.

What it measures (wall-clock seconds; CPU seconds beside them, since the 2 cores are shared and the wall clock
scales with the load average, which is reported):

- ``random_steps_per_s``: env steps per second of the random agent (act, ``env.step``, observe, as the runner
  does), over ``--random-steps`` steps of one episode after a warm-up step.
- ``gp_steps_per_s``: the same for the paper's GP agent at the paper's cadence (``refit_every`` =
  ``queries_per_iteration`` = 256), over ``--gp-steps`` steps: every refit (posterior update over all 146,347
  concepts, tiered probabilities) is included.
- ``gp_refit_seconds``: ``{"1000": s, "10000": s}``: one posterior update that folds 256 new observations into
  a posterior holding 1,000 (10,000) distinct observed concepts and recomputes mean and std of all 146,347
  concepts (median of ``--repeats``; the cold build before it is not timed).

The env: frozen mode with the defaults of ``InternetExplorerEnv`` (tinyweb 2, CIFAR-10 target, the default frozen
encoder, 20 results per query, the full vocabulary of 146,347 concepts), 256 queries per iteration. Without a
built tinyweb (``ie-explore build-world``) it falls back to a synthetic world (200 Tiny ImageNet classes x 50
synthetic JPEGs with tinyweb's captions, built once under ``<cache>/worlds/bench-env-200x50``); ``world`` in the
output says which. The env answers the vocabulary's query texts from its tables (``EnvConfig.query_table``:
built on the first reset, a few minutes once, then cached; ``query_table`` in the output says whether they were
used). Concept embeddings for the
GP: the cached MiniLM ones when present, else random unit vectors of the same shape (same cost;
``concept_embeddings`` says which).

    python experiments/bench_env.py --json                 # everything, one JSON line at the end
    python experiments/bench_env.py --quick --json         # shorter runs, refit at 1k only
"""
from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from agents import make_agent
from agents.base import AgentContext
from agents.posterior import GPConfig, GPPosterior
from experiments.bench_gp import embeddings
from ie_env.data.vocabulary import load_vocabulary
from ie_env.envs.env import InternetExplorerEnv
from ie_env.paths import cache_dir, data_dir
from offline_cache.world import world_dir

WORLD = "bench-env-200x50"
QUERIES_PER_ITERATION = 256


def synthetic_world(classes: int = 200, per_class: int = 50) -> Path:
    """The benchmark's world (built once): Tiny ImageNet's classes with synthetic JPEGs as a tinyweb source."""
    from PIL import Image

    from offline_cache.tinyweb import TinywebConfig, build_tinyweb

    path = cache_dir() / "worlds" / WORLD
    if (path / "captions.npy").exists():
        return path
    listing = data_dir(required=False) / "tiny-imagenet-200-classes.tsv"
    vocab = load_vocabulary()
    wnids = ([line.split("\t")[0] for line in listing.read_text().splitlines() if line.strip()] if listing.exists()
             else sorted(set(vocab.wnids))[:: max(1, len(set(vocab.wnids)) // classes)])[:classes]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tiny-imagenet-200"
        for c, wnid in enumerate(wnids):
            folder = root / "train" / wnid / "images"
            folder.mkdir(parents=True)
            for i in range(per_class):
                rng = np.random.default_rng(1000 * c + i)
                arr = np.clip(rng.integers(0, 255, 3) + rng.normal(0, 30, (64, 64, 3)), 0, 255).astype(np.uint8)
                buf = io.BytesIO()
                Image.fromarray(arr).save(buf, "JPEG", quality=90)
                (folder / f"{wnid}_{i}.JPEG").write_bytes(buf.getvalue())
        return build_tinyweb(TinywebConfig(source=str(root)), name=str(path))


def make_env(budget: int) -> InternetExplorerEnv:
    """Frozen mode with the env's defaults on tinyweb, or the synthetic world when tinyweb is not built."""
    if (world_dir("tinyweb") / "captions.npy").exists():
        return InternetExplorerEnv(mode="frozen", budget=budget, queries_per_iteration=QUERIES_PER_ITERATION)
    return InternetExplorerEnv(world=str(synthetic_world()), target="tiny-imagenet:dog.n.01", mode="frozen",
                               frozen_encoder="resnet18", image_size=32, budget=budget,
                               queries_per_iteration=QUERIES_PER_ITERATION, reward_targets=0)


def episode_speed(env, agent, steps: int, seed: int = 0) -> dict:
    """Steps per second of ``agent`` in ``env`` (act, step, observe) over ``steps`` steps after one warm-up."""
    env.reset(seed=seed)
    agent.reset(seed)
    q = agent.act()
    agent.observe(q, *env.step(q.concept)[1::3])
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        q = agent.act()
        _, reward, _, _, info = env.step(q.concept)
        agent.observe(q, reward, info)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"steps": steps, "steps_per_s": steps / wall, "wall_s": wall, "cpu_s": cpu,
            "distinct_images": env.metrics()["distinct_images"]}


def refit_seconds(emb: np.ndarray, n: int, repeats: int, seed: int = 0, config: GPConfig | None = None) -> dict:
    """One update of 256 new observations at ``n`` distinct observed concepts (median of ``repeats``), with the
    posterior's ``config`` (default settings when None)."""
    rng = np.random.default_rng(seed)
    b = QUERIES_PER_ITERATION
    c = rng.choice(len(emb), n + b * repeats, replace=False)
    y = 0.3 + 0.2 * (c % 7 == 0) + 0.03 * rng.standard_normal(len(c))
    post = GPPosterior(emb, config or GPConfig())
    start = time.perf_counter()
    post.add(c[:n], y[:n])
    post.update()
    cold = time.perf_counter() - start
    wall, cpu = [], []
    for r in range(repeats):
        s = slice(n + b * r, n + b * (r + 1))
        post.add(c[s], y[s])
        start, start_cpu = time.perf_counter(), time.process_time()
        post.update()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"update_s": float(np.median(wall)), "update_cpu_s": float(np.median(cpu)), "runs_s": wall,
            "cold_s": cold}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--random-steps", type=int, default=4096, help="timed steps of the random agent")
    ap.add_argument("--gp-steps", type=int, default=2048, help="timed steps of the GP agent (refit every 256)")
    ap.add_argument("--sizes", default="1000,10000", help="observed concepts at which a refit is timed")
    ap.add_argument("--repeats", type=int, default=3, help="timed refits per size (median reported)")
    ap.add_argument("--quick", action="store_true", help="1024 random steps, 512 GP steps, refit at 1000 only")
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args(argv)
    if args.quick:
        args.random_steps, args.gp_steps, args.sizes, args.repeats = 1024, 512, "1000", 2
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    load_before = os.getloadavg()[0]
    env = make_env(budget=1 + max(args.random_steps, args.gp_steps))
    emb, source = embeddings(env.vocab)
    ctx = AgentContext(vocab=env.vocab, concept_embeddings=emb, target_class_names=env.target.class_names)
    result: dict = {"load_average_start": round(load_before, 2), "world": env.world.name,
                    "query_table": env.uses_query_table(),
                    "concept_embeddings": source, "concepts": len(env.vocab), "world_images": len(env.world)}
    rnd = episode_speed(env, make_agent("random", ctx), args.random_steps)
    print(f"random agent: {rnd['steps_per_s']:.0f} steps/s ({rnd['steps']} steps, {rnd['wall_s']:.2f} s wall, "
          f"{rnd['cpu_s']:.2f} s CPU); load {os.getloadavg()[0]:.1f}", flush=True)
    gp = episode_speed(env, make_agent("gp", ctx, refit_every=QUERIES_PER_ITERATION), args.gp_steps)
    print(f"GP agent (refit every {QUERIES_PER_ITERATION}): {gp['steps_per_s']:.0f} steps/s ({gp['steps']} steps, "
          f"{gp['wall_s']:.2f} s wall, {gp['cpu_s']:.2f} s CPU); load {os.getloadavg()[0]:.1f}", flush=True)
    refits = {}
    for n in sizes:
        refits[str(n)] = r = refit_seconds(emb, n, args.repeats)
        print(f"GP refit at {n} observations (256 new, mean+std of all {len(emb)}): {r['update_s']:.2f} s wall, "
              f"{r['update_cpu_s']:.2f} s CPU (cold build {r['cold_s']:.1f} s); load {os.getloadavg()[0]:.1f}",
              flush=True)
    result.update({"random_steps_per_s": round(rnd["steps_per_s"], 1), "gp_steps_per_s": round(gp["steps_per_s"], 1),
                   "gp_refit_seconds": {k: round(v["update_s"], 3) for k, v in refits.items()},
                   "gp_refit_cpu_seconds": {k: round(v["update_cpu_s"], 3) for k, v in refits.items()},
                   "random": rnd, "gp": gp, "load_average_end": round(os.getloadavg()[0], 2)})
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
