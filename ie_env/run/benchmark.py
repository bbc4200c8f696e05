"""The benchmark: query-selection agents ranked over a task suite, on normalised scores with reliable aggregates.

    board = run_benchmark(BenchmarkConfig(suite="standard", agents="gp,gp_ucb", seeds=3, out="runs/bench"))
    board["agents"]["gp"]["iqm"]   # {"mean", "lo", "hi"}

Every task of the suite (:mod:`ie_env.suites`) is a comparison (:func:`ie_env.run.compare.compare_agents`) in
``OUT/tasks/<task>/`` of the agents asked for plus the two normalisers, ``random`` and ``ceiling``, which always run
on the same seeds. A task's score of an episode is the relevant images it found within the budget, normalised per
seed: ``(relevant - random's) / (ceiling's - random's)`` with random's and the ceiling's episodes of the same seed
(random is 0 and the ceiling 1 on every seed by construction; the ceiling, greedy over the engine's known answers,
can be beaten, so a score may exceed 1); precision (the relevant share of the new images) is kept beside it. The
aggregates over tasks and seeds (:mod:`ie_env.run.aggregate`, rliable's): the interquartile mean and the mean with
stratified bootstrap 95% intervals, performance profiles, and the probability that one agent beats another.

Writes ``OUT/scores.csv`` (one row per task, agent and seed: ``task``, ``agent``, ``seed``, ``relevant``,
``normalized``, ``precision``, ...), ``OUT/scores.json`` (the same rows and the tasks' settings),
``OUT/leaderboard.json`` (the aggregates), the plots, and the report page ``OUT/report/index.html`` whose
Leaderboard section holds the table and plots, linked to each task's own comparison page. A run is resumable and
grows: the same command after a kill, or with more agents or seeds, runs only the episodes its tasks' ``runs.json``
lack (a task folder holding episodes of other settings is a one-line error).
"""
from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ie_env.atomic import atomic_write_bytes, atomic_write_json
from ie_env.run import aggregate
from ie_env.run.compare import CompareConfig, compare_agents, env_options
from ie_env.run.report import fmt
from ie_env.suites import TASK_FIELDS, Suite, Task, all_tasks, load_suite, registered_id, with_target

NORMALISERS = ("random", "ceiling")
"""The agents every task runs to normalise scores: random = 0, ceiling = 1."""

CSV_COLUMNS = ("task", "agent", "seed", "relevant", "normalized", "precision", "distinct_images", "random_relevant",
               "ceiling_relevant", "knn_accuracy", "seconds")
PLOTS = ("leaderboard.png", "performance_profile.png", "probability_of_improvement.png")


@dataclass
class BenchmarkConfig:
    """One benchmark run: agents x seeds over a suite's tasks."""

    suite: str = "standard"
    """A suite of ie_env.suites (standard: frozen mode; full: full mode, preset head) or a JSON file of one."""
    agents: str = "random,gp"
    """Agents to rank, comma-separated: registered names, plug-ins of the internet_explorer.agents entry point group,
    or module:Class. random and ceiling always run on every task and seed, listed or not: they are the normalisers
    (random = 0, ceiling = 1)."""
    seeds: int = 3
    """Seeds per task and agent."""
    first_seed: int = 0
    """Seeds are first_seed, first_seed + 1, ..."""
    out: str = "runs/benchmark"
    """Output folder (tasks/<task>/ holds each task's episodes; a second run reuses them)."""
    target: str = ""
    """One extra task on this target (cifar10, tiny-imagenet:<synset>, folder:<path>) with the settings of the
    suite's first task."""
    tasks: str = ""
    """Only these comma-separated tasks of the suite (default: all; the --target task runs anyway)."""
    world: str = ""
    """Replace every task's world with this one (a name or folder)."""
    bootstrap_reps: int = aggregate.REPS
    """Stratified bootstrap resamples behind each 95% interval."""
    task_pages: bool = True
    """Also write each task's comparison page (OUT/tasks/<task>/report/index.html), linked from the leaderboard."""
    ray: str = ""
    """Run each task's episodes as Ray tasks, one env per worker: ``local`` (a Ray instance started here; ``--ray``
    alone, one worker a core), ``auto`` or a cluster address; empty: one episode after another in this process."""
    agent_options: dict = field(default_factory=dict)
    """Per-agent options: ``{"gp": {"lengthscale": 0.4}}``."""

    def __post_init__(self) -> None:
        if self.seeds < 1 or self.bootstrap_reps < 1:
            raise ValueError(f"seeds={self.seeds}, bootstrap_reps={self.bootstrap_reps}: both must be positive")
        if not self.requested:
            raise ValueError("no agent named: give --agents A,B,...")

    @property
    def requested(self) -> list[str]:
        return list(dict.fromkeys(a.strip() for a in self.agents.split(",") if a.strip()))

    @property
    def agent_names(self) -> list[str]:
        """The agents asked for, then the normalisers not among them."""
        return list(dict.fromkeys([*self.requested, *NORMALISERS]))

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


def suite_tasks(cfg: BenchmarkConfig, suite: Suite | None = None) -> tuple[Suite, list[Task]]:
    """The suite and the tasks this run runs: the chosen ones (all by default), the ``target`` task, every world
    replaced by ``cfg.world`` when set."""
    suite = suite or load_suite(cfg.suite)
    chosen = [t.strip() for t in cfg.tasks.split(",") if t.strip()]
    for name in chosen:
        suite.task(name)  # an unknown name is a one-line error
    extra = None
    if cfg.target:
        suite, extra = with_target(suite, cfg.target)
    tasks = [t for t in suite.tasks if not chosen or t.name in chosen or t.name == extra]
    if cfg.world:
        tasks = [replace(t, world=cfg.world) for t in tasks]
    return suite, tasks


def compare_config(task: Task, agents: str = "random", **fields) -> CompareConfig:
    """The comparison that runs ``task`` (the task's settings; ``fields`` set the rest)."""
    return CompareConfig(mode=task.mode, agents=agents, budget=task.budget,
                         queries_per_iteration=task.queries_per_iteration, results_per_query=task.results_per_query,
                         target=task.target, world=task.world, vocabulary_under=task.vocabulary_under,
                         frozen_encoder=task.frozen_encoder or CompareConfig.frozen_encoder,
                         image_size=task.image_size, descriptors=task.descriptors, preset=task.preset,
                         target_only=False, given=("mode", "budget", "queries_per_iteration", "results_per_query"),
                         **fields)


def make_task_env(task: str, render_mode: str | None = None, **overrides):
    """The env of a suite's task as the benchmark runs it: the entry point of the Gymnasium id
    ``InternetExplorer/<task>-v<version>``. Keywords named like :class:`ie_env.suites.Task` fields (``world``,
    ``budget``, ``vocabulary_under``, ...) replace the task's; any other is an ``EnvConfig`` field."""
    from ie_env.envs.env import InternetExplorerEnv

    tasks = all_tasks()
    if task not in tasks:
        raise ValueError(f"unknown task {task!r}: choose one of {', '.join(tasks)}")
    own = {k: overrides.pop(k) for k in list(overrides) if k in TASK_FIELDS and k not in ("name", "version")}
    if isinstance(own.get("vocabulary_under"), (list, tuple)):
        own["vocabulary_under"] = ",".join(own["vocabulary_under"])
    if "descriptors" in own and not isinstance(own["descriptors"], str):  # a list of descriptor texts
        overrides["descriptors"] = tuple(own.pop("descriptors"))
    options = env_options(compare_config(replace(tasks[task], **own)))
    return InternetExplorerEnv(render_mode=render_mode, **{**options, **overrides})


def _task_record(task_dir: Path, task: Task, agents: list[str], agent_options: dict) -> None:
    """Check ``task_dir``'s recorded settings and agent options against this run's (a one-line error when they
    differ for episodes it holds), then record them."""
    path = task_dir / "task.json"
    record = json.loads(path.read_text()) if path.is_file() else {"task": task.settings(), "agent_options": {}}
    if record["task"] != task.settings():
        diff = "; ".join(f"{k}: {record['task'].get(k)!r} there, {v!r} now" for k, v in task.settings().items()
                         if record["task"].get(k) != v)
        raise ValueError(f"{task_dir} holds episodes of other settings ({diff}): choose another --out")
    held = {agent for agent, _ in _held(task_dir)}
    for agent in agents:
        before, now = record["agent_options"].get(agent, {}), agent_options.get(agent, {})
        if agent in held and before != now:
            raise ValueError(f"{task_dir} holds episodes of {agent} with options {before}, not {now}: choose "
                             "another --out")
        record["agent_options"][agent] = now
    task_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, record)


def _held(task_dir: Path) -> set[tuple[str, int]]:
    path = task_dir / "runs.json"
    runs = json.loads(path.read_text()) if path.is_file() else {}
    return {(agent, int(r["seed"])) for agent, rs in runs.items() for r in rs}


def task_scores(task: str, runs: dict, agents: list[str], seeds: list[int], mode: str = "frozen") -> list[dict]:
    """One row per agent and seed of a task's episodes (``runs``: its ``runs.json``), the relevant images
    normalised by random's and the ceiling's of the same seed (NaN where the ceiling found no more than random);
    ``knn_accuracy`` in full mode only; ``seconds``: the episode's wall time."""
    run = {(a, int(r["seed"])): r for a, rs in runs.items() for r in rs}
    rows = []
    for seed in seeds:
        low = run[("random", seed)]["final"]["relevant_images"]
        high = run[("ceiling", seed)]["final"]["relevant_images"]
        for agent in agents:
            f = run[(agent, seed)]["final"]
            rows.append({"task": task, "agent": agent, "seed": seed, "relevant": int(f["relevant_images"]),
                         "normalized": (f["relevant_images"] - low) / (high - low) if high > low else math.nan,
                         "precision": float(f["precision"]), "distinct_images": int(f["distinct_images"]),
                         "random_relevant": int(low), "ceiling_relevant": int(high),
                         "knn_accuracy": f.get("knn_accuracy") if mode == "full" else None,
                         "seconds": run[(agent, seed)].get("seconds")})
    return rows


def matrix(rows: list[dict], agent: str, tasks: list[str], seeds: list[int], key: str = "normalized") -> np.ndarray:
    """``(seeds, tasks)`` array of one agent's ``key``."""
    cell = {(r["task"], r["seed"]): r[key] for r in rows if r["agent"] == agent}
    return np.asarray([[cell[(t, s)] for t in tasks] for s in seeds], float)


def leaderboard(rows: list[dict], agents: list[str], tasks: list[str], seeds: list[int],
                reps: int = aggregate.REPS) -> dict:
    """The aggregates over tasks and seeds: per agent the IQM, mean and precision with stratified bootstrap 95%
    intervals and the per-task means; the ranking (by IQM); the performance profiles; the probability of
    improvement of each agent over each one ranked below it (the ceiling left out). Tasks whose scores could not be
    normalised are left out of the aggregates (``excluded_tasks``)."""
    excluded = sorted({r["task"] for r in rows if not math.isfinite(r["normalized"])})
    used = [t for t in tasks if t not in excluded]
    board: dict = {"tasks_aggregated": used, "excluded_tasks": excluded, "agents": {}}
    scores = {a: matrix(rows, a, used, seeds) for a in agents} if used else {}
    for agent in agents:
        entry: dict = {"normaliser": agent in NORMALISERS}
        if used:
            entry["iqm"] = aggregate.interval(scores[agent], "iqm", reps)
            entry["mean"] = aggregate.interval(scores[agent], "mean", reps)
            entry["precision"] = aggregate.interval(matrix(rows, agent, used, seeds, "precision"), "mean", reps)
            times = [r["seconds"] for r in rows if r["agent"] == agent and r["seconds"] is not None]
            entry["seconds"] = float(np.mean(times)) if times else None  # an episode's wall time, on average
        entry["per_task"] = {t: {k: float(np.mean([r[k] for r in rows if r["agent"] == agent and r["task"] == t]))
                                 for k in ("normalized", "relevant", "precision")} for t in tasks}
        board["agents"][agent] = entry
    if not used:
        board["ranking"] = list(agents)
        return board
    ranking = sorted(agents, key=lambda a: -board["agents"][a]["iqm"]["mean"])
    board["ranking"] = ranking
    taus = aggregate.profile_taus(*scores.values())
    board["performance_profile"] = {a: aggregate.performance_profile(scores[a], taus, reps) for a in agents}
    ranked = [a for a in ranking if a != "ceiling"]
    board["probability_of_improvement"] = {
        x: {y: aggregate.probability_of_improvement(scores[x], scores[y], reps) for y in ranked[i + 1:]}
        for i, x in enumerate(ranked[:-1])}
    return board


def json_safe(obj):
    """``obj`` with every NaN or infinite float replaced by ``None`` (valid JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_scores_csv(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_COLUMNS, restval="", extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else v) for k, v in r.items()})
    atomic_write_bytes(path, buf.getvalue().encode())


def plot_leaderboard(board: dict, out: Path) -> list[str]:
    """The leaderboard's plots (PNG, in ``out``): IQM and mean with their intervals, the performance profiles, the
    probabilities of improvement; returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "performance_profile" not in board:
        return []
    ranking = board["ranking"]
    files = []
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.5 * len(ranking) + 1.6), sharey=True)
    for ax, stat, title in zip(axes, ("iqm", "mean"), ("IQM", "mean")):
        for y, agent in enumerate(reversed(ranking)):
            d = board["agents"][agent][stat]
            ax.plot([d["lo"], d["hi"]], [y, y], linewidth=6, alpha=0.5, solid_capstyle="butt")
            ax.plot([d["mean"]], [y], "k|", markersize=14)
        ax.set_yticks(range(len(ranking)), list(reversed(ranking)))
        ax.set_title(f"{title} of normalised scores\n(random 0, ceiling 1; 95% stratified bootstrap)", fontsize=9)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.axvline(1, color="grey", linewidth=0.5)
    fig.tight_layout()
    fig.savefig(out / PLOTS[0], dpi=110)
    plt.close(fig)
    files.append(PLOTS[0])

    fig, ax = plt.subplots(figsize=(6, 4))
    for agent in ranking:
        p = board["performance_profile"][agent]
        line, = ax.plot(p["tau"], p["mean"], label=agent)
        ax.fill_between(p["tau"], p["lo"], p["hi"], alpha=0.2, color=line.get_color(), linewidth=0)
    ax.set_xlabel("normalised score tau (random 0, ceiling 1)")
    ax.set_ylabel("share of runs with score > tau")
    ax.set_title("performance profiles (bands: 95% stratified bootstrap)", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / PLOTS[1], dpi=110)
    plt.close(fig)
    files.append(PLOTS[1])

    pairs = [(x, y, d) for x, ys in board["probability_of_improvement"].items() for y, d in ys.items()]
    if pairs:
        fig, ax = plt.subplots(figsize=(6, 0.45 * len(pairs) + 1.4))
        for i, (_, _, d) in enumerate(reversed(pairs)):
            ax.plot([d["lo"], d["hi"]], [i, i], linewidth=6, alpha=0.5, solid_capstyle="butt")
            ax.plot([d["mean"]], [i], "k|", markersize=14)
        ax.set_yticks(range(len(pairs)), [f"P({x} > {y})" for x, y, _ in reversed(pairs)])
        ax.axvline(0.5, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_title("probability of improvement (95% stratified bootstrap)", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / PLOTS[2], dpi=110)
        plt.close(fig)
        files.append(PLOTS[2])
    return files


def run_benchmark(cfg: BenchmarkConfig, suite: Suite | None = None) -> dict:
    """Run (or complete) every task's episodes, then write and return the leaderboard (see the module docstring).
    ``suite`` replaces ``cfg.suite`` (a :class:`ie_env.suites.Suite` built in code)."""
    from agents import check_agent_name
    from ie_env.run.webpage import write_report

    suite, tasks = suite_tasks(cfg, suite)
    agents, seeds = cfg.agent_names, cfg.seed_list
    for name in agents:
        check_agent_name(name)
    unknown = set(cfg.agent_options) - set(agents)
    if unknown:
        raise ValueError(f"options given for {sorted(unknown)}, which are not benchmarked ({', '.join(agents)})")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, episodes, task_info = [], {"run": 0, "reused": 0}, {}
    start = time.perf_counter()
    for i, task in enumerate(tasks):
        task_dir = out / "tasks" / task.name
        _task_record(task_dir, task, agents, cfg.agent_options)
        held = _held(task_dir)
        todo = [(a, s) for a in agents for s in seeds if (a, s) not in held]
        episodes["run"] += len(todo)
        episodes["reused"] += len(agents) * len(seeds) - len(todo)
        print(f"task {i + 1}/{len(tasks)} {task.name} ({task.target}): {len(todo)} episodes to run, "
              f"{len(agents) * len(seeds) - len(todo)} reused", file=sys.stderr, flush=True)
        if todo:
            compare_agents(compare_config(task, ",".join(agents), seeds=cfg.seeds, first_seed=cfg.first_seed,
                                          out=str(task_dir), resume=True, agent_options=cfg.agent_options,
                                          ray=cfg.ray))
        runs = json.loads((task_dir / "runs.json").read_text())
        rows += task_scores(task.name, runs, agents, seeds, task.mode)
        if cfg.task_pages and (todo or not (task_dir / "report" / "index.html").is_file()):
            if not (task_dir / "summary.json").is_file():  # every episode was reused: summarise them
                compare_agents(compare_config(task, ",".join(agents), seeds=cfg.seeds, first_seed=cfg.first_seed,
                                              out=str(task_dir), resume=True, agent_options=cfg.agent_options))
            write_report(task_dir, task_dir / "report")
        low = [r["random_relevant"] for r in rows if r["task"] == task.name and r["agent"] == "random"]
        high = [r["ceiling_relevant"] for r in rows if r["task"] == task.name and r["agent"] == "ceiling"]
        task_info[task.name] = {**task.settings(), "gym_id": registered_id(task),
                                "random_relevant": float(np.mean(low)), "ceiling_relevant": float(np.mean(high)),
                                "page": f"tasks/{task.name}/report/index.html" if cfg.task_pages else None}
    names = [t.name for t in tasks]
    board = {"suite": suite.name, "version": suite.version, "about": suite.about, "seeds": seeds,
             "agents_requested": cfg.requested, "normalisers": list(NORMALISERS), "tasks": task_info,
             "score": "relevant images found within the budget, normalised per seed: random 0, ceiling 1",
             **leaderboard(rows, agents, names, seeds, cfg.bootstrap_reps), "episodes": episodes,
             "bootstrap_reps": cfg.bootstrap_reps, "wall_seconds": time.perf_counter() - start}
    board = json_safe(board)  # a score that could not be normalised is null
    board["plots"] = plot_leaderboard(board, out)
    write_scores_csv(rows, out / "scores.csv")
    atomic_write_json(out / "scores.json", json_safe({"suite": suite.name, "version": suite.version,
                                                      "tasks": task_info, "columns": list(CSV_COLUMNS),
                                                      "scores": rows}))
    atomic_write_json(out / "leaderboard.json", board)
    board["report"] = str(write_report(out, out / "report"))
    return board


def _cell(d: dict | None) -> str:
    return "-" if d is None else f"{fmt(d['mean'])} [{fmt(d['lo'])}, {fmt(d['hi'])}]"


def _num(x: float | None) -> str:
    return "-" if x is None else fmt(x)


def print_leaderboard(board: dict, out: str) -> None:
    """The leaderboard a person reads: per agent IQM, mean and precision with 95% intervals, the probabilities of
    improvement, the per-task table, then where the files are."""
    tasks = board["tasks"]
    n_seeds = len(board["seeds"])
    print(f"\nbenchmark {board['suite']} v{board['version']}: {len(tasks)} tasks x {n_seeds} seeds; score: "
          f"{board['score']} (IQM and mean over tasks and seeds, [95% stratified bootstrap interval])")
    rows = [["agent", "IQM", "mean", "precision", "s/episode"]]
    for agent in board["ranking"]:
        e = board["agents"][agent]
        label = agent + (" (normaliser)" if e["normaliser"] else "")
        rows.append([label, _cell(e.get("iqm")), _cell(e.get("mean")), _cell(e.get("precision")),
                     _num(e.get("seconds"))])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print(f"{r[0]:<{widths[0]}}" + "".join(f"  {v:>{w}}" for v, w in zip(r[1:], widths[1:])))
    for x, ys in board.get("probability_of_improvement", {}).items():
        for y, d in ys.items():
            print(f"P({x} > {y}) = {_cell(d)}")
    if board["excluded_tasks"]:
        print(f"left out of the aggregates (the ceiling found no more than random on a seed): "
              f"{', '.join(board['excluded_tasks'])}")
    agents = board["ranking"]
    print("\nper task: normalised score (mean over seeds); relevant images found by random / ceiling")
    head = ["task", "random / ceiling", *agents]
    table = [head] + [[t, f"{fmt(info['random_relevant'])} / {fmt(info['ceiling_relevant'])}",
                       *(_num(board["agents"][a]["per_task"][t]["normalized"]) for a in agents)]
                      for t, info in tasks.items()]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for r in table:
        print(f"{r[0]:<{widths[0]}}" + "".join(f"  {v:>{w}}" for v, w in zip(r[1:], widths[1:])))
    ep = board["episodes"]
    print(f"\nepisodes: {ep['run']} run, {ep['reused']} reused from {out}/tasks/; wall time "
          f"{board['wall_seconds'] / 60:.1f} min")
    print(f"results in {out}/: scores.csv, scores.json, leaderboard.json" + "".join(f", {p}" for p in board["plots"]))
