"""What the GP posterior's approximations cost: against the exact GP, and in the agent's relevant images.

Settings compared (``GPConfig`` fields; ``default`` is what the agents use):

- ``default``: bfloat16 products where the CPU runs them natively (``products="auto"``), variance conditioned on
  the 8 most similar observed concepts, mean exact over the 16 most similar;
- ``previous``: float32 products, 16 and 64 neighbours (the settings before 2026-12-07);
- ``exact`` (agent runs only): the textbook GP over every concept (:func:`agents.posterior.exact_posterior`,
  float64) after each refit.

Part 1 (posterior): observations as in ``bench_gp.py`` (half among CIFAR-10 concepts, noisy relevance), folded
in batches of 256, the posterior over all 146,347 concepts against the exact GP, at 1,000 observations on every
concept and at 10,000 on the observed ones plus 5,000 others: mean abs error (and its max) in units of the exact
mean's sd, std abs error over the mean std, whether the std stays an upper bound, the top-250 overlap of the
mean + std scores (what the tiered softmax ranks), and the refit time at 1,000 / 10,000 observations.

Part 2 (agent): the GP agent in frozen mode on CIFAR-10 (visual descriptors, 1,024 queries, refit every 256,
as ``compare_agents.py --mode frozen``) with each posterior, the same seeds: relevant images per seed.

    python experiments/gp_approximation.py                 # both parts, 3 seeds (~10 min)
    python experiments/gp_approximation.py --seeds 1 --observations 500
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from agents import make_agent_for_env
from agents.posterior import GPConfig, GPPosterior, exact_posterior
from experiments.bench_env import refit_seconds
from experiments.bench_gp import embeddings, observations, relevance
from ie_env.data.vocabulary import load_vocabulary
from ie_env.run.compare import CompareConfig, make_env
from ie_env.run.runner import run_episode

SETTINGS = {"default": {}, "previous": {"products": "fp32", "neighbors": 16, "mean_neighbors": 64}}


class ExactPosterior(GPPosterior):
    """The package's posterior for the bookkeeping, its mean and std replaced by the exact GP's."""

    def update(self) -> None:
        super().update()
        if self.log_concepts:
            mean, std = exact_posterior(self.emb, self.log_concepts, self.log_rewards, self.config)
            self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)


def posterior_errors(emb, rel, n_obs: int, compared: int = 0, seed: int = 1) -> dict:
    """Each setting's posterior over all candidates against the exact GP, from the same observations, on every
    candidate (``compared`` = 0) or on the observed concepts plus ``compared`` others drawn at random (the exact
    GP costs M x N^2: at 10,000 observations a subset keeps it to a minute)."""
    rng = np.random.default_rng(seed)
    c, y = observations(rel, n_obs, rng)
    rows = (np.arange(len(emb)) if not compared else
            np.unique(np.concatenate([c, rng.choice(len(emb), compared, replace=False)])))
    start = time.perf_counter()
    mean, std = exact_posterior(emb[rows], np.searchsorted(rows, c), y, GPConfig())
    out = {"observations": n_obs, "candidates": len(emb), "compared": len(rows),
           "exact_s": round(time.perf_counter() - start, 1)}
    unseen = np.ones(len(rows), bool)
    unseen[np.searchsorted(rows, c)] = False
    top_exact = set(np.argsort(-np.where(unseen, mean + std, mean))[:250].tolist())
    for name, options in SETTINGS.items():
        post = GPPosterior(emb, GPConfig(**options))
        for s in range(0, n_obs, 256):  # as an agent folds them: one batch per iteration
            post.add(c[s:s + 256], y[s:s + 256])
            post.update()
        m, sd = post.mean[rows], post.std[rows]
        top = set(np.argsort(-np.where(unseen, m + sd, m))[:250].tolist())
        out[name] = {"mean_err_sd": float(np.abs(m - mean).mean() / mean.std()),
                     "mean_max_err_sd": float(np.abs(m - mean).max() / mean.std()),
                     "std_err": float(np.abs(sd - std).mean() / std.mean()),
                     "std_upper_bound": bool(np.all(sd >= std - 1e-3)),
                     "top250_overlap": len(top & top_exact)}
    return out


def agent_runs(seeds: list[int], budget: int) -> dict:
    """Relevant images of the GP agent with each posterior, per seed."""
    env = make_env(CompareConfig(mode="frozen", budget=budget))
    out: dict = {}
    for name in [*SETTINGS, "exact"]:
        out[name] = []
        for seed in seeds:
            agent = make_agent_for_env("gp", env, refit_every=env.config.queries_per_iteration,
                                       **SETTINGS.get(name, {}))
            if name == "exact":
                agent._new_posterior = lambda a=agent: ExactPosterior(a._embeddings, a.config.gp)
            start = time.perf_counter()
            run = run_episode(env, agent, seed)
            out[name].append({"seed": seed, "relevant_images": run["final"]["relevant_images"],
                              "seconds": round(time.perf_counter() - start, 1)})
            print(f"  {name:<9} seed {seed}: {run['final']['relevant_images']} relevant images "
                  f"({out[name][-1]['seconds']:.0f} s)", flush=True)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="agent episodes per posterior (seeds 0..N-1)")
    ap.add_argument("--budget", type=int, default=1024, help="queries per agent episode")
    ap.add_argument("--observations", type=int, default=1000,
                    help="observations of the posterior comparison on every concept (then 10,000 on a subset)")
    ap.add_argument("--compared", type=int, default=5000,
                    help="concepts (besides the observed ones) the comparison at 10,000 observations is made on")
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args(argv)
    vocab = load_vocabulary()
    emb, source = embeddings(vocab)
    result: dict = {"embeddings": source, "settings": SETTINGS}
    result["posterior"] = []
    for n_obs, compared in ((args.observations, 0), (10_000, args.compared)):
        post = posterior_errors(emb, relevance(vocab), n_obs, compared)
        result["posterior"].append(post)
        print(f"posterior vs the exact GP ({post['observations']:,} observations, compared on "
              f"{post['compared']:,} of the {post['candidates']:,} concepts; exact {post['exact_s']} s):")
        for name in SETTINGS:
            r = post[name]
            print(f"  {name:<9} mean error {r['mean_err_sd']:.4f} sd (max {r['mean_max_err_sd']:.3f}), std error "
                  f"{r['std_err']:.2%} of the mean std (upper bound: {r['std_upper_bound']}), top-250 overlap "
                  f"{r['top250_overlap']}/250", flush=True)
    result["refit_seconds"] = {}
    for name, options in SETTINGS.items():
        times = {str(n): round(refit_seconds(emb, n, 3, config=GPConfig(**options))["update_s"], 3)
                 for n in (1000, 10000)}
        result["refit_seconds"][name] = times
        print(f"  {name:<9} refit of 256 at 1,000 / 10,000 observations: {times['1000']} / {times['10000']} s")
    print(f"GP agent, frozen CIFAR-10, {args.budget} queries:")
    result["agent"] = runs = agent_runs(list(range(args.seeds)), args.budget)
    for name, seeds in runs.items():
        values = [r["relevant_images"] for r in seeds]
        print(f"  {name:<9} relevant images {values} (mean {np.mean(values):.0f})")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
