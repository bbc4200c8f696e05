"""Comparing query-selection agents over seeds: the study users come for, as a typed library function.

    summary = compare_agents(CompareConfig(mode="frozen", agents="random,gp", seeds=3, budget=1024, out="runs/x"))

Counts distinct images only (a repeated query brings nothing new). Writes ``OUT/runs.json`` (every run's
curves, after every episode), ``OUT/summary.json`` (per agent: mean and 95% interval over seeds of
``relevant_images``, ``precision``, ``relevant_classes``, ``distinct_images``, ``steps_per_s`` and ``reward_auc``
(how well the reward told the relevant new images from the rest, averaged over iterations); in full mode
``knn_accuracy``, ``linear_probe``, ``episode_seconds`` and ``time_split`` and a ``target_only`` entry, plus
``paired``: the mean and 95% interval of the per-seed differences between arms, e.g.
``paired["knn_accuracy"]["gp-random"]``, and the curves per iteration ``knn_curves`` and ``reward_auc_curves``;
``failed``: episodes that failed on Ray twice), the same as
``OUT/summary.csv`` (one row per agent), PNG plots and, with ``tensorboard`` set, TensorBoard scalars per
iteration (:mod:`ie_env.run.report`). What each episode found per iteration (its best queries and images by reward,
:mod:`ie_env.run.explored`) goes to ``OUT/runs/<agent>/seed_<n>/explored.jsonl``, not into ``runs.json``; the report
page (:mod:`ie_env.run.webpage`) shows it. ``experiments/compare_agents.py`` and ``ie-explore demo`` are its command
lines. ``preset`` applies a named set of env/learner options (from either table: :mod:`ie_env.run.preset_names`).
With ``ray`` set, every episode is a Ray task (:mod:`ie_env.run.ray_sweep`) that builds the env in its own worker
process (:func:`worker_episode`).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from agents import check_agent_name, make_agent_for_env
from agents.descriptors import load_descriptors
from ie_env.atomic import atomic_write_json
from ie_env.data.text_embedding import concept_embeddings
from ie_env.envs.env import EnvConfig, InternetExplorerEnv
from ie_env.run.explored import EXPLORED, ExploredConfig, write_explored
from ie_env.run.preset_names import preset_options, preset_table
from ie_env.run.presets import describe
from ie_env.run.ray_sweep import run_tasks
from ie_env.run.report import fmt, require_tensorboard, write_summary_csv, write_tensorboard
from ie_env.run.runner import run_episode

METRICS = ("relevant_images", "precision", "relevant_classes", "distinct_images", "mean_reward")


@dataclass
class CompareConfig:
    """One comparison: agents x seeds on one world and target."""

    mode: str = "frozen"
    """``frozen`` (a fixed pretrained encoder, fast) or ``full`` (the self-supervised learner trains)."""
    agents: str = "random,gp,gp_ucb,gp_thompson,relevant_concepts,ceiling"
    """Comma-separated agent names (random, gp, gp_label_set, gp_ucb, gp_thompson, relevant_concepts, ceiling,
    ppo, dqn); ``ceiling`` adds each agent's ``ceiling_share`` (its relevant images over the ceiling's)."""
    seeds: int = 3
    """Number of seeds."""
    first_seed: int = 0
    """Seeds are first_seed, first_seed + 1, ..."""
    budget: int = 1024
    """Queries per episode."""
    queries_per_iteration: int = 256
    """Queries per iteration: between training calls (full mode) and GP refits (the paper's 256)."""
    results_per_query: int = EnvConfig.results_per_query
    """Images the engine returns per query."""
    target: str = "cifar10"
    """Target dataset."""
    world: str = "tinyweb"
    """Offline world."""
    vocabulary_under: str = ""
    """Keep only the concepts under these comma-separated synsets (default: all 146,347 nouns)."""
    steps_per_iteration: int = 0
    """Full mode: learner steps per iteration (0 = the learner's default)."""
    frozen_encoder: str = EnvConfig.frozen_encoder
    """Frozen mode's encoder."""
    image_size: int = 0
    """Image side the encoder sees (0 = the env's default for the mode)."""
    descriptors: str = "visual"
    """Descriptors the model-based agents may put before a concept (``visual`` or ``none``; random uses none)."""
    target_only: bool = True
    """Full mode: also train on the target alone for the same iterations (the baseline)."""
    device: str = "cpu"
    """Full mode: where the learner trains (``cpu`` or ``cuda``)."""
    out: str = "runs/compare"
    """Output folder."""
    resume: bool = False
    """Keep the episodes OUT/runs.json already holds (same options) and run only the rest; those of other agents or
    seeds stay in it."""
    agent_options: dict = field(default_factory=dict)
    """Per-agent options: ``{"gp": {"lengthscale": 0.4}}``."""
    tensorboard: str = ""
    """Folder for TensorBoard scalars (reward, precision, kNN accuracy per iteration, per agent and seed); needs the
    tensorboard package."""
    ray: str = ""
    """Run each (agent, seed) episode as a Ray task: ``local`` (a Ray instance started here; ``--ray`` alone),
    ``auto`` or a cluster address (``ray://head:10001``); empty: one episode after another in this process."""
    preset: str = ""
    """Named preset from either table (``cpu``, ``head``, ``paper_cpu``: full-mode schedules sized for a CPU,
    ie_env.run.presets; ``paper``: the paper's scale, ie_env.envs.presets). Its options replace the defaults; options
    given on the command line (``given``) or set to a non-default value still win."""
    given: tuple = ()
    """Names of the fields written on the command line: they win over the preset even where they equal the default
    (the command lines fill it in; a library caller names the fields it means)."""
    explored_images: int = ExploredConfig.top_images
    """New images kept per iteration of every episode, the highest rewards first, in
    OUT/runs/<agent>/seed_<n>/explored.jsonl (the report page's galleries)."""

    def __post_init__(self) -> None:
        if self.seeds < 1 or self.budget < 1:
            raise ValueError(f"seeds={self.seeds}, budget={self.budget}: both must be positive")
        if self.preset:
            preset_table(self.preset)  # an unknown name fails here, before any env is built
        for name in self.agent_names:
            check_agent_name(name)
        twice = sorted({a for a in self.agent_names if self.agent_names.count(a) > 1})
        if twice:
            raise ValueError(f"agents {', '.join(twice)} named twice in {self.agents!r}: each arm runs once per seed")
        if self.tensorboard:
            require_tensorboard("tensorboard")
        unknown = set(self.agent_options) - set(self.agent_names)
        if unknown:
            raise ValueError(f"options given for {sorted(unknown)}, which are not compared ({self.agents})")

    @property
    def agent_names(self) -> list[str]:
        return [a.strip() for a in self.agents.split(",") if a.strip()]


def interval(values) -> dict:
    """Mean and 95% t-interval over seeds."""
    v = np.asarray(values, float)
    mean = float(v.mean())
    if len(v) < 2:
        return {"mean": mean, "lo": mean, "hi": mean}
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return {"mean": mean, "lo": mean - half, "hi": mean + half}


def world_counts(env) -> dict:
    """How many distinct relevant images the world holds, and how many of them carry a caption of their own
    class (the others can only be found by luck: no query about their class returns them)."""
    kinds = np.asarray([r.meta.get("caption_kind", "true") for r in env.world.rows])
    distinct = env.canonical == np.arange(len(env.canonical))
    return {"relevant_total": int((env.relevant & distinct).sum()),
            "relevant_with_own_caption": int((env.relevant & distinct & (kinds == "true")).sum()),
            "web_images": int(distinct.sum())}


def target_only(env, seed: int) -> dict:
    """Full mode without web images: the learner trains on the target alone for the same iterations (and so the
    same SSL steps), then the same final linear probe."""
    start = time.perf_counter()
    env.reset(seed=seed)
    accs = []
    n_iter = -(-env.config.budget // env.config.queries_per_iteration)
    for _ in range(n_iter):
        accs.append(env.scorer.end_iteration(None, np.zeros(0, np.float32))["knn_accuracy"])
    final = {"knn_accuracy": accs[-1], **env.scorer.linear_probe(seed)}
    return {"seed": seed, "final": final, "iterations": {"knn_accuracy": accs},
            "seconds": time.perf_counter() - start, "time_split": {**env.time_split(), "agent": 0.0}}


def paired(runs: dict, a: str, b: str, metric: str) -> dict | None:
    """Mean and 95% t-interval of ``a - b`` over the seeds both arms ran (``None`` when they share none)."""
    left = {r["seed"]: r["final"].get(metric) for r in runs.get(a, [])}
    right = {r["seed"]: r["final"].get(metric) for r in runs.get(b, [])}
    seeds = sorted(s for s in left if s in right and left[s] is not None and right[s] is not None)
    if not seeds:
        return None
    return {**interval([left[s] - right[s] for s in seeds]), "seeds": len(seeds)}


def band(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% t-interval over seeds (rows) at every x (columns); the interval is the mean with one seed."""
    mean = arr.mean(0)
    if len(arr) < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.975, len(arr) - 1) * arr.std(0, ddof=1) / np.sqrt(len(arr))
    return mean, mean - half, mean + half


def plot(runs: dict, out: Path, queries_per_iteration: int = 0) -> list[str]:
    """One PNG per curve (mean over seeds, shaded 95% interval over seeds); returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    queries = "queries (env steps)"
    iteration = f"iteration ({queries_per_iteration} queries each)" if queries_per_iteration else "iteration"
    panels = [("curve", "relevant_images", "distinct relevant images found", queries, "relevant images (count)"),
              ("curve", "relevant_classes", "distinct relevant classes found", queries, "relevant classes (count)"),
              ("iterations", "precision", "precision per iteration", iteration,
               "precision (relevant share of new images, 0-1)"),
              ("iterations", "reward", "mean query reward per iteration", iteration,
               "query reward (mean cosine similarity, 0-1)"),
              ("iterations", "knn_accuracy", "target kNN accuracy", iteration, "kNN accuracy (fraction of test images)"),
              ("iterations", "reward_auc", "reward's ROC AUC for relevant new images", iteration,
               "ROC AUC (0.5: chance)")]
    for group, key, title, xlabel, ylabel in panels:
        fig, ax = plt.subplots(figsize=(6, 4))
        drawn, n_seeds = False, 0
        for agent, seeds in runs.items():
            series = [r.get(group, {}).get(key) for r in seeds]
            series = [s for s in series if s]
            if not series or (key == "knn_accuracy" and not any(any(s) for s in series)):
                continue
            n = min(len(s) for s in series)
            arr = np.asarray([[np.nan if v is None else v for v in s[:n]] for s in series], float)
            x = np.arange(1, n + 1)
            mean, lo, hi = band(arr)
            line, = ax.plot(x, mean, label=agent, marker="o" if group == "iterations" else None, markersize=4)
            ax.fill_between(x, lo, hi, alpha=0.2, color=line.get_color(), linewidth=0)
            drawn, n_seeds = True, max(n_seeds, len(arr))
        if not drawn:
            plt.close(fig)
            continue
        ax.set_title(f"{title}\nmean over {n_seeds} seed{'s' * (n_seeds > 1)}"
                     + (", band: 95% interval" if n_seeds > 1 else ""), fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend()
        fig.tight_layout()
        path = out / f"{key}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path.name)
    return files


def make_env(cfg: CompareConfig) -> InternetExplorerEnv:
    """The env every episode of a comparison runs in (full mode: the learner's own defaults, stride-1 stem;
    with a preset, the preset's options under the given ones: those in ``cfg.given`` and those set to a non-default
    value)."""
    return InternetExplorerEnv(**env_options(cfg))


def env_options(cfg: CompareConfig) -> dict:
    """The keywords of the comparison's env (:func:`make_env`)."""
    learner = {"steps_per_iteration": cfg.steps_per_iteration} if cfg.steps_per_iteration else {}
    loop = dict(mode=cfg.mode, budget=cfg.budget, queries_per_iteration=cfg.queries_per_iteration,
                results_per_query=cfg.results_per_query, learner=learner, image_size=cfg.image_size)
    if cfg.preset:
        default = CompareConfig()
        explicit = {k: v for k, v in loop.items() if k in ("mode", "budget", "queries_per_iteration",
                                                            "results_per_query", "image_size")
                    and (k in cfg.given or v != getattr(default, k))}
        loop |= preset_options(cfg.preset, **explicit, learner=learner)
    descriptors = tuple(load_descriptors(cfg.descriptors)) if cfg.descriptors != "none" else ()
    return dict(world=cfg.world, target=cfg.target, **loop, descriptors=descriptors,
                frozen_encoder=cfg.frozen_encoder,
                vocabulary_under=tuple(s for s in cfg.vocabulary_under.split(",") if s), device=cfg.device)


def run_one(cfg: CompareConfig, name: str, seed: int, env: InternetExplorerEnv, agent=None, bar=None) -> dict:
    """One episode of a comparison in ``env``: agent ``name`` (built unless given) with ``seed``, or the
    ``target_only`` baseline."""
    if name == "target_only":
        return target_only(env, seed)
    if agent is None:
        options = cfg.agent_options.get(name, {})
        if name.startswith("gp") or name in ("ppo", "dqn"):  # posteriors refit once an iteration, as in the paper
            options = {"refit_every": env.config.queries_per_iteration, **options}
        agent = make_agent_for_env(name, env, **options)
    run = run_episode(env, agent, seed, bar, explored=ExploredConfig(top_images=cfg.explored_images))
    if env.config.mode == "full":
        run["final"].update(env.scorer.linear_probe(seed))
    return run


_worker_env: list = []
"""In a Ray worker: ``[(cfg, env)]`` of the last comparison it served, reused by its next episodes."""


def worker_episode(cfg: CompareConfig, name: str, seed: int) -> dict:
    """:func:`run_one` in an env of this process, built on the first episode of the comparison (a Ray task)."""
    if not _worker_env or _worker_env[0][0] != cfg:
        _worker_env[:] = [(cfg, make_env(cfg))]
    return run_one(cfg, name, seed, _worker_env[0][1])


def run_folder(out: str | Path, agent: str, seed: int) -> Path:
    """The folder of one episode's files in a comparison's output folder."""
    return Path(out) / "runs" / agent / f"seed_{seed}"


def compare_agents(cfg: CompareConfig) -> dict:
    """Run every agent for every seed (keeping finished episodes on ``resume``), write and return the summary."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    env = make_env(cfg)
    if cfg.preset:
        print(describe(cfg.preset, env), flush=True)
    names = cfg.agent_names + (["target_only"] if env.config.mode == "full" and cfg.target_only else [])
    seeds = range(cfg.first_seed, cfg.first_seed + cfg.seeds)
    done = json.loads((out / "runs.json").read_text()) if cfg.resume and (out / "runs.json").exists() else {}
    runs: dict[str, list] = {name: [] for name in names}
    todo = []
    for seed in seeds:  # seed by seed, so that an interrupted comparison has every arm of its first seeds
        for name in names:
            old = [r for r in done.get(name, []) if r["seed"] == seed]  # finished by an interrupted invocation
            if old:
                runs[name].append(old[0])
            else:
                todo.append((name, seed))
    # episodes of other agents or seeds that runs.json holds stay in it (a later run may ask for them again)
    kept = {name: [r for r in rs if name not in runs or r["seed"] not in seeds] for name, rs in done.items()}

    def finish(job: tuple[str, int], result: dict) -> None:
        if "explored" in result:  # kept beside the runs, bounded, not in runs.json
            write_explored(run_folder(out, *job) / EXPLORED, result.pop("explored"))
        runs[job[0]] = sorted([*runs[job[0]], result], key=lambda r: r["seed"])
        every = {name: sorted([*kept.get(name, []), *runs.get(name, [])], key=lambda r: r["seed"])
                 for name in dict.fromkeys([*runs, *kept])}
        # a crash later loses no finished episode
        atomic_write_json(out / "runs.json", {k: v for k, v in every.items() if v or k in runs})

    # every agent's context holds them: computed (and cached on disk) once here, before the episodes' progress bar
    # and not by every Ray worker at once
    concept_embeddings(env.vocab)
    if cfg.ray:
        failed = [{"agent": name, "seed": seed, "error": error}
                  for (name, seed), error in run_tasks(cfg.ray, partial(worker_episode, cfg), todo, finish)]
    else:
        failed = []
        queries = sum(env.config.budget for name, _ in todo if name != "target_only")
        with tqdm(total=queries, desc="episodes", unit="query") as bar:
            for name, seed in todo:
                bar.set_postfix(agent=name, seed=seed)
                finish((name, seed), run_one(cfg, name, seed, env, None, bar))
    runs = {name: r for name, r in runs.items() if r}
    summary = summarise(cfg, env, runs) | {"failed": failed}
    summary.pop("given", None)  # how the options were written, not what ran: the same sweep gives the same summary
    summary["plots"] = plot(runs, out, env.config.queries_per_iteration)
    atomic_write_json(out / "summary.json", summary)
    write_summary_csv(summary, out / "summary.csv")
    if cfg.tensorboard:
        write_tensorboard(runs, cfg.tensorboard)
    return summary


def summarise(cfg: CompareConfig, env, runs: dict) -> dict:
    """Means and 95% intervals over seeds of each agent's final metrics."""
    options = {k: v for k, v in asdict(cfg).items()
               if k not in ("out", "resume", "agents", "first_seed", "tensorboard", "ray", "explored_images")}
    summary: dict = {**options, "frozen_encoder": env.config.frozen_encoder, "image_size": env.config.image_size,
                     "world_counts": world_counts(env), "agents": {}}
    for name, seeds in runs.items():
        entry = {}
        if name != "target_only":
            for m in METRICS:
                entry[m] = interval([r["final"][m] for r in seeds])
            entry["steps_per_s"] = float(np.mean([r["steps_per_s"] for r in seeds]))
            web = summary["world_counts"]["web_images"]
            entry["web_share"] = interval([r["final"]["distinct_images"] / web for r in seeds])
        if env.config.mode == "full":
            entry["knn_accuracy"] = interval([r["final"]["knn_accuracy"] for r in seeds])
            if all("linear_probe" in r["final"] for r in seeds):
                entry["linear_probe"] = interval([r["final"]["linear_probe"] for r in seeds])
        shares = [sum(r["iterations"]["replay_relevant"]) / max(1, sum(r["iterations"]["replay_added"]))
                  for r in seeds if "replay_added" in r.get("iterations", {})]
        if shares:  # the relevant share of the web images the learner replays (the top half by reward)
            entry["replay_relevant_share"] = interval(shares)
        aucs = [a for a in map(auc_mean, seeds) if a is not None]
        if aucs:
            entry["reward_auc"] = interval(aucs)
        if env.config.mode == "full" and all("seconds" in r for r in seeds):
            entry["episode_seconds"] = float(np.mean([r["seconds"] for r in seeds]))
        if env.config.mode == "full" and all("time_split" in r for r in seeds):
            entry["time_split"] = {k: float(np.mean([r["time_split"].get(k, 0.0) for r in seeds]))
                                   for k in seeds[0]["time_split"]}
        if "ceiling" in runs and name != "target_only":  # relevant images as a share of the ceiling's, per seed
            best = {r["seed"]: r["final"]["relevant_images"] for r in runs["ceiling"]}
            entry["ceiling_share"] = interval([r["final"]["relevant_images"] / max(1, best[r["seed"]])
                                               for r in seeds if r["seed"] in best])
        summary["agents"][name] = entry
        summary[name] = entry  # top-level alias: summary[agent]["relevant_images"]["mean"]
    rates = [r["steps_per_s"] for n, s in runs.items() if n != "target_only" for r in s]
    summary["steps_per_s"] = len(rates) / sum(1 / r for r in rates) if rates else 0.0  # steps over episode time
    if env.config.mode == "full":
        episodes = [r["seconds"] for n, s in runs.items() if n != "target_only" for r in s if "seconds" in r]
        if episodes:
            summary["episode_seconds"] = float(np.mean(episodes))
        summary["mode"] = "full"
        summary["paired"] = paired_differences(runs)
        summary["knn_curves"] = {n: np.mean([r["iterations"]["knn_accuracy"] for r in s], axis=0).round(4).tolist()
                                 for n, s in runs.items() if s}
        summary["reward_auc_curves"] = {n: auc_curve(s) for n, s in runs.items() if n != "target_only"}
        summary["enrichment_curves"] = {n: enrichment_curve(s, env.config.queries_per_iteration)
                                        for n, s in runs.items() if n != "target_only"}
        summary["learner"] = dict(env.config.learner)
        summary["image_size"] = env.config.image_size
        summary["budget"], summary["queries_per_iteration"] = env.config.budget, env.config.queries_per_iteration
        summary["results_per_query"] = env.config.results_per_query
    return summary


def _aucs(run: dict) -> list[float | None]:
    return run.get("iterations", {}).get("reward_auc", [])


def auc_mean(run: dict) -> float | None:
    """A run's reward AUC averaged over the iterations where it is defined (``None``: none is)."""
    values = [v for v in _aucs(run) if v is not None]
    return float(np.mean(values)) if values else None


def auc_curve(seeds: list[dict]) -> list[float | None]:
    """Reward AUC per iteration, averaged over the seeds where it is defined."""
    n = min((len(_aucs(r)) for r in seeds), default=0)
    cols = [[_aucs(r)[i] for r in seeds if _aucs(r)[i] is not None] for i in range(n)]
    return [round(float(np.mean(c)), 4) if c else None for c in cols]


def enrichment_curve(seeds: list[dict], queries_per_iteration: int) -> dict:
    """Per iteration, means over seeds of: the relevant share of the new candidates (``precision``), the relevant
    share of what joined the replay buffer (``replay``), and the distinct relevant images reached so far
    (``relevant_images``): how fast an agent enriches what the learner sees (the paper: mostly relevant by
    iteration 3)."""
    def mean_columns(rows: list[list]) -> list[float]:
        n = min((len(r) for r in rows), default=0)
        return [round(float(np.mean([r[i] for r in rows])), 4) for i in range(n)]

    its = [r.get("iterations", {}) for r in seeds]
    replay = [[rel / max(1, add) for rel, add in zip(i["replay_relevant"], i["replay_added"])]
              for i in its if "replay_added" in i]
    reached = [r["curve"]["relevant_images"][queries_per_iteration - 1::queries_per_iteration] for r in seeds
               if r.get("curve", {}).get("relevant_images")]
    return {"precision": mean_columns([i.get("precision", []) for i in its]), "replay": mean_columns(replay),
            "relevant_images": mean_columns(reached)}


def paired_differences(runs: dict) -> dict:
    """Per metric, ``"a-b"`` -> :func:`paired` for every pair of agents, and every agent minus target_only."""
    agents = [n for n in runs if n != "target_only"]
    pairs = [(a, b) for i, a in enumerate(agents) for b in agents[i + 1:]]
    pairs = [(b, a) if a == "random" else (a, b) for a, b in pairs]  # "gp-random", not "random-gp"
    if "target_only" in runs:
        pairs += [(a, "target_only") for a in agents]
    out: dict = {}
    for metric in ("knn_accuracy", "linear_probe", "relevant_images"):  # target_only finds no web images
        for a, b in pairs:
            d = paired(runs, a, b, metric)
            if d is not None:
                out.setdefault(metric, {})[f"{a}-{b}"] = d
    return out


def print_summary(summary: dict, out: str) -> None:
    """The table a person reads at the end of a comparison, then where the files are."""
    cell = lambda d: f"{fmt(d['mean'])} [{fmt(d['lo'])}, {fmt(d['hi'])}]"  # noqa: E731
    print(f"\n{summary['mode']} mode, {summary['seeds']} seeds, {summary['budget']} queries, target "
          f"{summary['target']} (mean [95% interval])")
    cols = ["relevant_images", "precision", "relevant_classes", "distinct_images"] + \
        (["knn_accuracy"] if summary["mode"] == "full" else [])
    print(f"{'agent':<12}" + "".join(f"  {c:>24}" for c in cols))
    for name, entry in summary["agents"].items():
        print(f"{name:<12}" + "".join(f"  {cell(entry[c]) if c in entry else '-':>24}" for c in cols))
    shares = {n: e["web_share"]["mean"] for n, e in summary["agents"].items() if "web_share" in e}
    if shares:
        print("share of the web downloaded per episode: " + ", ".join(f"{n} {v:.1%}" for n, v in shares.items()))
    aucs = {n: e["reward_auc"]["mean"] for n, e in summary["agents"].items() if "reward_auc" in e}
    if aucs:
        print("reward's ROC AUC for relevant new images (0.5: chance), mean over iterations: "
              + ", ".join(f"{n} {v:.3f}" for n, v in aucs.items()))
    ceiling_shares = {n: e["ceiling_share"]["mean"] for n, e in summary["agents"].items() if "ceiling_share" in e}
    if ceiling_shares:
        print("relevant images as a share of the ceiling agent's (same seed): "
              + ", ".join(f"{n} {v:.1%}" for n, v in ceiling_shares.items()))
    top = summary["world_counts"]
    print(f"the world holds {top['web_images']} distinct images, {top['relevant_total']} of them relevant, "
          f"{top['relevant_with_own_caption']} of those captioned as their own class; "
          f"env steps/s: {fmt(summary['steps_per_s'])}")
    folder = Path(out)
    print(f"results in {folder}/: summary.json, summary.csv, runs.json"
          + "".join(f", {p}" for p in summary.get("plots", [])))
    if summary["mode"] == "full":
        print_full_mode(summary)


def print_full_mode(summary: dict) -> None:
    """Full mode's extra lines: linear probe, paired differences, time split and kNN curves per arm."""
    fmt = lambda d: f"{d['mean']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}]"  # noqa: E731
    agents = summary["agents"]
    print("\nper arm: kNN accuracy / linear probe (mean [95% interval]), episode seconds, time split")
    for name, e in agents.items():
        knn, lin = e.get("knn_accuracy"), e.get("linear_probe")
        split = e.get("time_split", {})
        total = sum(split.values()) or 1.0
        shares = ", ".join(f"{k} {v / total:.0%}" for k, v in split.items())
        print(f"  {name:<12} kNN {knn['mean']:.4f} [{knn['lo']:.4f}, {knn['hi']:.4f}]"
              + (f"  linear {lin['mean']:.4f} [{lin['lo']:.4f}, {lin['hi']:.4f}]" if lin else "")
              + (f"  {e['episode_seconds']:.0f} s" if "episode_seconds" in e else "")
              + (f"  ({shares})" if split else ""))
    mix = {n: (e["precision"]["mean"], e["replay_relevant_share"]["mean"]) for n, e in agents.items()
           if "replay_relevant_share" in e}
    if mix:
        print("relevant share of the web images trained on, new candidates / replay buffer: "
              + ", ".join(f"{n} {a:.1%} / {b:.1%}" for n, (a, b) in mix.items()))
    for metric, pairs in summary.get("paired", {}).items():
        f = (lambda d: f"{d['mean']:+.0f} [{d['lo']:+.0f}, {d['hi']:+.0f}]") if metric == "relevant_images" else fmt
        print(f"paired differences over the same seeds, {metric}: "
              + "; ".join(f"{k} {f(d)} (n={d['seeds']})" for k, d in pairs.items()))
    for name, curve in summary.get("knn_curves", {}).items():
        print(f"  kNN curve {name:<12} " + " ".join(f"{v:.3f}" for v in curve))
    for name, curve in summary.get("reward_auc_curves", {}).items():  # the signal the agent learns from
        print(f"  reward AUC curve {name:<12} " + " ".join("-" if v is None else f"{v:.3f}" for v in curve))
    if summary.get("enrichment_curves"):
        print("per iteration: relevant share of new candidates / of the replay's additions, distinct relevant "
              "images reached")
    for name, c in summary.get("enrichment_curves", {}).items():
        print(f"  {name:<17} " + " ".join(f"{p:.2f}/{r:.2f}/{n:.0f}" for p, r, n in
                                         zip(c["precision"], c["replay"] or [0.0] * len(c["precision"]),
                                             c["relevant_images"])))
    if "episode_seconds" in summary:
        print(f"mean episode wall time: {summary['episode_seconds']:.0f} s")


ARM_NAMES = {"target_only": "target alone"}


def demo_table(summary: dict) -> None:
    """The main job's short table: per arm, relevant images found, their share, kNN accuracy and linear probe
    (3 significant digits; with several seeds the 95% interval), then the paired differences."""
    several = summary["seeds"] > 1
    cell = lambda d: fmt(d["mean"]) + (f" [{fmt(d['lo'])}, {fmt(d['hi'])}]" if several else "")  # noqa: E731
    cols = [("relevant_images", "relevant images"), ("precision", "relevant share"),
            ("replay_relevant_share", "replay relevant share"), ("knn_accuracy", "kNN accuracy"),
            ("linear_probe", "linear probe")]
    print(f"\n{summary['target']}, {summary['seeds']} seed{'s' * several}"
          + (" (mean [95% interval over seeds])" if several else ""))
    rows = [[ARM_NAMES.get(n, n)] + [cell(e[k]) if k in e else "-" for k, _ in cols]
            for n, e in summary["agents"].items()]
    header = ["arm"] + [title for _, title in cols]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print(f"{r[0]:<{widths[0]}}" + "".join(f"  {v:>{w}}" for v, w in zip(r[1:], widths[1:])))
    for metric, pairs in summary.get("paired", {}).items():
        f = "{:+.0f}" if metric == "relevant_images" else "{:+.3f}"
        print(f"paired differences, {metric.replace('_', ' ')}: " + "; ".join(
            f"{k.replace('target_only', 'target alone')} {f.format(d['mean'])}"
            + (f" [{f.format(d['lo'])}, {f.format(d['hi'])}]" if d["seeds"] > 1 else "") for k, d in pairs.items()))


def ordering_sentence(summary: dict, metric: str = "knn_accuracy", agent: str = "gp") -> str:
    """One plain sentence: which ordering of ``agent``, random and the target alone the means show on ``metric``,
    and whether the paired intervals resolve it."""
    arms = [a for a in (agent, "random", "target_only") if metric in summary["agents"].get(a, {})]
    if len(arms) < 2:
        return ""
    means = {a: summary["agents"][a][metric]["mean"] for a in arms}
    order = sorted(arms, key=lambda a: -means[a])
    shown = " > ".join(f"{ARM_NAMES.get(a, a)} {fmt(means[a])}" for a in order)
    paper = [a for a in (agent, "random", "target_only") if a in arms]
    held = "the paper's ordering" if order == paper else "not the paper's ordering"
    pairs = summary.get("paired", {}).get(metric, {})
    parts, resolved = [], []
    diff = "{:+.0f}" if metric == "relevant_images" else "{:+.3f}"
    for a, b in zip(paper, paper[1:]):
        d = pairs.get(f"{a}-{b}")
        if d is None:
            continue
        parts.append(f"{ARM_NAMES.get(a, a)} - {ARM_NAMES.get(b, b)} {diff.format(d['mean'])}"
                     + (f" [{diff.format(d['lo'])}, {diff.format(d['hi'])}]" if d["seeds"] > 1 else ""))
        resolved.append(d["seeds"] > 1 and (d["lo"] > 0 or d["hi"] < 0))
    n = summary["seeds"]
    if n < 2:
        sure = "one seed gives no interval, and two runs of the same data differ by ~0.03 kNN: run more seeds"
    elif not resolved:
        sure = f"no paired difference to judge it by over {n} seeds"
    elif all(resolved):
        sure = (f"the paired interval over {n} seeds excludes 0" if len(resolved) == 1
                else f"both paired intervals over {n} seeds exclude 0")
    elif any(resolved):
        sure = f"over {n} seeds only one of the paired intervals excludes 0"
    else:
        sure = f"over {n} seeds no paired interval excludes 0, so the order is within the noise"
    return f"{metric.replace('_', ' ')}: {shown}, {held}; {'; '.join(parts)}: {sure}."
