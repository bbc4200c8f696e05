"""Benchmark of the agents' GP posterior over the full vocabulary (146,347 concepts) on this machine's CPU.

For each size N (default 1,000 and 10,000 distinct observed concepts) it builds the posterior from N
observations at once ("cold", what a fresh start costs), then times the update that an env iteration triggers:
32 new observations folded in, mean and std recomputed for every concept ("update", median of 3). Optionally
(--accuracy) it compares the method with the exact GP on a subset (20k candidates, 1,000 observations).
Observations follow a rough agent: half among concepts under the CIFAR-10 classes, half uniform; the reward
is a noisy relevance indicator.

    python experiments/bench_gp.py                   # 1k and 10k, a few minutes
    python experiments/bench_gp.py --sizes 1000 --accuracy
    python experiments/bench_gp.py --json            # ... and one JSON object on the last line
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from agents.posterior import GPConfig, GPPosterior, exact_posterior
from ie_env.data.text_embedding import concept_embeddings, concept_embeddings_path
from ie_env.data.vocabulary import load_vocabulary

CIFAR10 = ("airplane.n.01 car.n.01 bird.n.01 cat.n.01 deer.n.01 dog.n.01 frog.n.01 horse.n.01 ship.n.01 "
           "truck.n.01").split()
METHOD = ("exact representer weights (incremental float32 Cholesky carrying L^-1 y) + mean exact over each "
          "concept's most similar observed concepts (GPConfig.mean_neighbors) and a fitted quadratic (moment) "
          "expansion beyond; variance conditioned exactly on the GPConfig.neighbors most similar observed concepts "
          "(local GP, batched bordered torch Cholesky); neighbour lists merged incrementally (sparse insertion); "
          "products with all candidates in GPConfig.products precision")


def embeddings(vocab) -> tuple[np.ndarray, str]:
    """The real concept embeddings when cached, else random unit vectors of the same shape (and say so)."""
    if concept_embeddings_path(vocab).exists():
        return np.ascontiguousarray(concept_embeddings(vocab, progress=False), np.float32), "MiniLM concept embeddings"
    rng = np.random.default_rng(0)
    e = rng.standard_normal((len(vocab), 384)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    return e, "RANDOM unit vectors (concept embeddings not cached yet)"


def relevance(vocab) -> np.ndarray:
    roots = {vocab.wnid(s) for s in CIFAR10}
    memo: dict[str, bool] = {}
    out = np.zeros(len(vocab), bool)
    for i, w in enumerate(vocab.wnids):
        if w not in memo:
            memo[w] = bool(vocab.ancestors(w) & roots)
        out[i] = memo[w]
    return out


def observations(rel: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n distinct concepts, half relevant (as far as there are), half uniform; noisy rewards."""
    pos = np.flatnonzero(rel)
    a = rng.choice(pos, size=min(n // 2, len(pos)), replace=False)
    rest = np.setdiff1d(np.arange(len(rel)), a)
    b = rng.choice(rest, size=n - len(a), replace=False)
    c = rng.permutation(np.concatenate([a, b]))
    return c, 0.3 + 0.2 * rel[c] + 0.03 * rng.standard_normal(len(c))


def bench_size(emb, rel, n, repeats=3, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    c, y = observations(rel, n + 32 * repeats, rng)
    post = GPPosterior(emb, GPConfig())
    start = time.perf_counter()
    post.add(c[:n], y[:n])
    post.update()
    cold = time.perf_counter() - start
    times, cpu = [], []
    for r in range(repeats):
        s = slice(n + 32 * r, n + 32 * (r + 1))
        post.add(c[s], y[s])
        start, start_cpu = time.perf_counter(), time.process_time()
        post.update()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"cold_s": cold, "update_s": float(np.median(times)), "update_all_s": times,
            "update_cpu_s": float(np.median(cpu)),
            "rows": post.n_rows, "distinct": post.n_unique}


def accuracy(emb, rel, n_cand=20000, n_obs=1000, seed=1) -> dict:
    rng = np.random.default_rng(seed)
    c, y = observations(rel, n_obs, rng)
    cand = np.unique(np.concatenate([c, rng.choice(len(emb), n_cand, replace=False)]))
    where = np.searchsorted(cand, c)
    e = emb[cand]
    cfg = GPConfig()
    start = time.perf_counter()
    mean, std = exact_posterior(e, where, y, cfg)
    exact_s = time.perf_counter() - start
    post = GPPosterior(e, cfg)
    post.add(where, y)
    post.update()
    unseen = np.ones(len(cand), bool)
    unseen[where] = False
    s_exact = np.where(unseen, mean + std, mean)
    s_ours = np.where(unseen, post.mean + post.std, post.mean)
    top_e = set(np.argsort(-s_exact)[:250])
    top_o = set(np.argsort(-s_ours)[:250])
    return {"candidates": len(cand), "observations": n_obs, "exact_s": exact_s,
            "mean_abs_err": float(np.abs(post.mean - mean).mean()), "mean_max_err": float(np.abs(post.mean - mean).max()),
            "mean_sd": float(mean.std()),
            "std_abs_err": float(np.abs(post.std - std).mean()), "std_max_err": float(np.abs(post.std - std).max()),
            "std_mean": float(std.mean()), "std_upper_bound": bool(np.all(post.std >= std - 1e-4)),
            "score_corr": float(np.corrcoef(s_exact, s_ours)[0, 1]), "top250_overlap": len(top_e & top_o)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated observation counts")
    ap.add_argument("--repeats", type=int, default=3, help="timed updates per size (median reported)")
    ap.add_argument("--accuracy", action="store_true", help="also compare with the exact GP on a 20k subset")
    ap.add_argument("--json", action="store_true", help="print a JSON object on the last line")
    args = ap.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        ap.error(f"--sizes must be integers separated by commas, like 1000,10000 (got {args.sizes!r})")
    vocab = load_vocabulary()
    emb, source = embeddings(vocab)
    rel = relevance(vocab)
    print(f"{len(vocab)} concepts, embeddings: {source}; torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    result = {"method": METHOD, "embeddings": source, "candidates": len(vocab), "update_s": {}, "cold_s": {}, "detail": {}}
    for n in sizes:
        r = bench_size(emb, rel, n, args.repeats)
        result["update_s"][str(n)] = round(r["update_s"], 3)
        result.setdefault("update_cpu_s", {})[str(n)] = round(r["update_cpu_s"], 3)
        result["cold_s"][str(n)] = round(r["cold_s"], 2)
        result["detail"][str(n)] = r
        print(f"N={n:>6}: update (32 new observations, mean+std for all {len(vocab)}) {r['update_s']:.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in r['update_all_s'])}; CPU time {r['update_cpu_s']:.2f} s "
              f"over both threads); cold build {r['cold_s']:.1f} s")
    if args.accuracy:
        a = accuracy(emb, rel)
        result["accuracy"] = a
        print(f"vs exact GP ({a['candidates']} candidates, {a['observations']} observations, exact {a['exact_s']:.1f} s): "
              f"mean abs err {a['mean_abs_err']:.4f} (max {a['mean_max_err']:.3f}; sd of the mean {a['mean_sd']:.4f}), "
              f"std abs err {a['std_abs_err']:.4f} (max {a['std_max_err']:.3f}; mean std {a['std_mean']:.4f}), "
              f"score corr {a['score_corr']:.4f}, top-250 overlap {a['top250_overlap']}/250")
    print(f"load average now {os.getloadavg()[0]:.1f} (2 cores shared: timings scale with it)")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
