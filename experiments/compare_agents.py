"""Compare query-selection agents over seeds on tinyweb with a CIFAR-10 target.

    python experiments/compare_agents.py --mode frozen --agents random,gp --seeds 3 --budget 1024 --out DIR

Counts distinct images only (a repeated query brings nothing new). Writes ``DIR/runs.json`` (every run's
curves), ``DIR/summary.json`` (per agent: mean and 95% interval over seeds of ``relevant_images``,
``precision``, ``relevant_classes``, ``distinct_images``, and ``steps_per_s``; in full mode ``knn_accuracy``
and a ``target_only`` entry), PNG plots, and prints a summary table.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from agents import make_agent_for_env
from ie_env.runner import run_episode

METRICS = ("relevant_images", "precision", "relevant_classes", "distinct_images", "mean_reward")


def interval(values) -> dict:
    """Mean and 95% t-interval over seeds."""
    from scipy import stats

    v = np.asarray(values, float)
    mean = float(v.mean())
    if len(v) < 2:
        return {"mean": mean, "lo": mean, "hi": mean}
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return {"mean": mean, "lo": mean - half, "hi": mean + half}


def ceiling(env) -> dict:
    """How many distinct relevant images the world holds, and how many of them carry a caption of their own
    class (the others can only be found by luck: no query about their class returns them)."""
    kinds = np.asarray([r.meta.get("caption_kind", "true") for r in env.world.rows])
    distinct = env.canonical == np.arange(len(env.canonical))
    return {"relevant_total": int((env.relevant & distinct).sum()),
            "relevant_with_own_caption": int((env.relevant & distinct & (kinds == "true")).sum())}


def target_only(env, seed: int) -> dict:
    """Full mode without web images: the learner trains on the target alone for the same iterations."""
    env.reset(seed=seed)
    accs = []
    n_iter = -(-env.config.budget // env.config.queries_per_iteration)
    for _ in range(n_iter):
        accs.append(env.scorer.end_iteration(None, np.zeros(0, np.float32))["knn_accuracy"])
    return {"seed": seed, "final": {"knn_accuracy": accs[-1]}, "iterations": {"knn_accuracy": accs}}


def plot(runs: dict, out: Path, budget: int, qpi: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    panels = [("curve", "relevant_images", "distinct relevant images", "queries"),
              ("curve", "relevant_classes", "distinct relevant Tiny ImageNet classes", "queries"),
              ("iterations", "precision", "precision (relevant share of new images)", "iteration"),
              ("iterations", "reward", "mean query reward", "iteration"),
              ("iterations", "knn_accuracy", "target kNN accuracy", "iteration")]
    for group, key, title, xlabel in panels:
        fig, ax = plt.subplots(figsize=(6, 4))
        drawn = False
        for agent, seeds in runs.items():
            series = [r.get(group, {}).get(key) for r in seeds]
            series = [s for s in series if s]
            if not series or (key == "knn_accuracy" and not any(any(s) for s in series)):
                continue
            n = min(len(s) for s in series)
            arr = np.asarray([s[:n] for s in series], float)
            x = np.arange(1, n + 1)
            ax.plot(x, arr.mean(0), label=agent)
            ax.fill_between(x, arr.min(0), arr.max(0), alpha=0.2)
            drawn = True
        if not drawn:
            plt.close(fig)
            continue
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.legend()
        fig.tight_layout()
        path = out / f"{key}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path.name)
    return files


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["frozen", "full"], default="frozen", help="frozen encoder or SSL training")
    ap.add_argument("--agents", default="random,gp,gp_ucb,gp_thompson,oracle",
                    help="comma-separated agent names (random, gp, gp_ucb, gp_thompson, oracle, ppo, dqn)")
    ap.add_argument("--seeds", type=int, default=3, help="number of seeds")
    ap.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed, first-seed + 1, ...")
    ap.add_argument("--budget", type=int, default=1024, help="queries per episode")
    ap.add_argument("--queries-per-iteration", type=int, default=32, help="queries between training calls")
    ap.add_argument("--target", default="cifar10", help="target dataset")
    ap.add_argument("--world", default="tinyweb", help="offline world")
    ap.add_argument("--vocabulary-under", default="", metavar="SYNSETS",
                    help="keep only the concepts under these comma-separated synsets (default: all 146,347 nouns)")
    ap.add_argument("--steps-per-iteration", type=int, default=0, help="full mode: learner steps per iteration")
    ap.add_argument("--frozen-encoder", default="efficientnet_lite0-96px",
                    help="frozen mode's encoder (its reward separates relevant images best: AUC 0.80 at 64 px)")
    ap.add_argument("--image-size", type=int, default=None,
                    help="image side the encoder sees (default: 64 in frozen mode, the env's 32 in full mode)")
    ap.add_argument("--descriptors", choices=["visual", "none"], default="visual",
                    help="descriptors the model-based agents may put before a concept (random uses none)")
    ap.add_argument("--agent-option", action="append", default=[], metavar="AGENT:KEY=VALUE",
                    help="an option of one agent, repeatable (gp:lengthscale=0.4, gp:signal=reward, ...)")
    ap.add_argument("--no-target-only", action="store_true", help="full mode: skip the target-only baseline")
    ap.add_argument("--out", default="runs/compare", help="output folder")
    ap.add_argument("--resume", action="store_true",
                    help="keep the episodes OUT/runs.json already holds (same options) and run only the rest")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.budget < 1:
        ap.error("--seeds and --budget must be positive")

    from agents.descriptors import load_descriptors
    from ie_env.atomic import atomic_write_json
    from ie_env.cli import parse_options
    from ie_env.env import InternetExplorerEnv

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    learner = {"steps_per_iteration": args.steps_per_iteration} if args.steps_per_iteration else {}
    env = InternetExplorerEnv(world=args.world, target=args.target, mode=args.mode, budget=args.budget,
                              queries_per_iteration=args.queries_per_iteration, learner=learner,
                              descriptors=tuple(load_descriptors(args.descriptors)) if args.descriptors != "none" else (),
                              frozen_encoder=args.frozen_encoder,
                              vocabulary_under=tuple(s for s in args.vocabulary_under.split(",") if s),
                              image_size=args.image_size or (64 if args.mode == "frozen" else 32))
    names = [a.strip() for a in args.agents.split(",") if a.strip()]
    agent_options: dict[str, dict] = {}
    for spec in args.agent_option:
        agent, sep, pair = spec.partition(":")
        if not sep or "=" not in pair or agent not in names:
            ap.error(f"--agent-option {spec!r}: write AGENT:KEY=VALUE for one of the agents compared ({args.agents})")
        agent_options.setdefault(agent, {}).update(parse_options([pair]))
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    done = json.loads((out / "runs.json").read_text()) if args.resume and (out / "runs.json").exists() else {}
    runs: dict[str, list] = {}

    def keep(name: str, seed: int) -> bool:
        """Reuse a finished episode of an earlier, interrupted invocation."""
        old = [r for r in done.get(name, []) if r["seed"] == seed]
        if old:
            runs[name].append(old[0])
        return bool(old)

    with tqdm(total=len(names) * args.seeds * args.budget, desc="episodes", unit="query") as bar:
        for name in names:
            agent = make_agent_for_env(name, env, **agent_options.get(name, {}))
            runs[name] = []
            for seed in seeds:
                if keep(name, seed):
                    bar.update(args.budget)
                    continue
                bar.set_postfix(agent=name, seed=seed)
                runs[name].append(run_episode(env, agent, seed, bar))
                atomic_write_json(out / "runs.json", runs)  # a crash later loses no finished episode
    if args.mode == "full" and not args.no_target_only:
        runs["target_only"] = []
        for seed in tqdm(seeds, desc="target only"):
            if not keep("target_only", seed):
                runs["target_only"].append(target_only(env, seed))
                atomic_write_json(out / "runs.json", runs)

    summary: dict = {"mode": args.mode, "budget": args.budget, "seeds": args.seeds, "target": args.target,
                     "world": args.world, "queries_per_iteration": args.queries_per_iteration,
                     "frozen_encoder": env.config.frozen_encoder, "image_size": env.config.image_size,
                     "descriptors": args.descriptors, "agent_options": agent_options, **ceiling(env), "agents": {}}
    for name, seeds in runs.items():
        entry = {}
        if name != "target_only":
            for m in METRICS:
                entry[m] = interval([r["final"][m] for r in seeds])
            entry["steps_per_s"] = float(np.mean([r["steps_per_s"] for r in seeds]))
        if args.mode == "full":
            entry["knn_accuracy"] = interval([r["final"]["knn_accuracy"] for r in seeds])
        summary["agents"][name] = entry
        summary[name] = entry  # top-level alias: summary[agent]["relevant_images"]["mean"]
    rates = [r["steps_per_s"] for n, s in runs.items() if n != "target_only" for r in s]
    summary["steps_per_s"] = len(rates) / sum(1 / r for r in rates)  # all steps over all episode time
    summary["plots"] = plot(runs, out, args.budget, args.queries_per_iteration)
    atomic_write_json(out / "summary.json", summary)

    fmt = lambda d: f"{d['mean']:.4g} [{d['lo']:.4g}, {d['hi']:.4g}]"  # noqa: E731
    print(f"\n{args.mode} mode, {args.seeds} seeds, {args.budget} queries, target {args.target} "
          "(mean [95% interval])")
    cols = ["relevant_images", "precision", "relevant_classes", "distinct_images"] + \
        (["knn_accuracy"] if args.mode == "full" else [])
    print(f"{'agent':<12}" + "".join(f"  {c:>30}" for c in cols))
    for name, entry in summary["agents"].items():
        print(f"{name:<12}" + "".join(f"  {fmt(entry[c]) if c in entry else '-':>30}" for c in cols))
    print(f"the world holds {summary['relevant_total']} distinct relevant images, "
          f"{summary['relevant_with_own_caption']} of them captioned as their own class")
    print(f"env steps/s: {summary['steps_per_s']:.0f}; results in {out}")
    print(json.dumps({k: summary[k] for k in ("mode", "budget", "seeds", "steps_per_s")}
                     | {"agents": summary["agents"]}))
    return summary


if __name__ == "__main__":
    main()
