"""The benchmark (`ie-explore benchmark`): the suite table and its Gymnasium ids, scores normalised between random
(0) and the ceiling (1), rliable's aggregates on known numbers, the CLI's JSON and files, resuming with more agents,
and agents published by a package outside the repository (entry point and module:Class)."""
from __future__ import annotations

import csv
import json
import re
import sys

import numpy as np
import pytest
from scipy import stats

from experiments.plugin_agent import minimal_agent_code
from ie_env.run import aggregate
from ie_env.suites import SUITES, TABLE, Suite, Task, all_tasks, load_suite, registered_id, with_target

TINY_TASK = dict(frozen_encoder="resnet18", image_size=32, vocabulary_under="dog.n.01,cat.n.01,car.n.01",
                 budget=6, queries_per_iteration=3, results_per_query=4, descriptors="none")
TINY_SUITE = {"name": "tiny", "version": 3, "tasks": [
    {"name": "dog", "target": "tiny-imagenet:dog.n.01", **TINY_TASK},
    {"name": "cat", "target": "tiny-imagenet:cat.n.01", **TINY_TASK}]}
PLUGIN = "ie_bench_plugin"


# --- the suite table --------------------------------------------------------------------------------------------

def test_suite_table_is_data_with_unique_tasks_and_gym_ids():
    import gymnasium as gym

    import ie_env  # noqa: F401  (registers the ids)

    assert {"standard", "full"} <= set(SUITES)
    assert len(TABLE) == sum(len(s.tasks) for s in SUITES.values()) == len(all_tasks())
    standard = SUITES["standard"]
    targets = [t.target for t in standard.tasks]
    assert "cifar10" in targets and sum(t.startswith("tiny-imagenet:") for t in targets) >= 6
    assert {"tiny-imagenet:carnivore.n.01", "tiny-imagenet:dog.n.01", "tiny-imagenet:insect.n.01"} <= set(targets)
    assert all(t.mode == "frozen" and t.budget == 1024 and t.queries_per_iteration == 256 for t in standard.tasks)
    assert all(t.mode == "full" and t.preset == "head" for t in SUITES["full"].tasks)
    for suite in SUITES.values():
        assert {t.version for t in suite.tasks} == {suite.version}
        for task in suite.tasks:
            spec = gym.spec(task.gym_id)
            assert task.gym_id == f"InternetExplorer/{task.name}-v{suite.version}" == registered_id(task)
            assert spec.entry_point == "ie_env.run.benchmark:make_task_env" and spec.kwargs == {"task": task.name}
    with pytest.raises(ValueError, match="mode"):
        Task("x", "cifar10", mode="fast")


def test_suite_files_and_the_extra_target(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY_SUITE))
    suite = load_suite(str(path))
    assert suite.name == "tiny" and suite.version == 3 and [t.name for t in suite.tasks] == ["dog", "cat"]
    assert suite.tasks[0].budget == 6 and suite.tasks[0].world == "tinyweb"
    assert registered_id(suite.tasks[0]) is None  # "dog" of this file is not the registered standard task
    bigger, name = with_target(suite, "tiny-imagenet:bird.n.01")
    extra = bigger.task(name)
    assert name == "bird" and extra.target == "tiny-imagenet:bird.n.01" and extra.budget == 6
    assert with_target(suite, "tiny-imagenet:dog.n.01") == (suite, "dog")  # a target the suite has: no new task
    assert with_target(suite, "cifar10")[1] == "cifar10"
    path.write_text(json.dumps({"name": "bad", "tasks": [{"name": "a", "target": "cifar10", "budjet": 3}]}))
    with pytest.raises(ValueError, match="budjet"):
        load_suite(str(path))
    with pytest.raises(ValueError, match="unknown suite"):
        load_suite("nope")


# --- aggregates on known numbers --------------------------------------------------------------------------------

def test_iqm_and_stratified_bootstrap_on_known_numbers():
    scores = np.arange(8.0).reshape(4, 2)  # 4 seeds x 2 tasks
    assert aggregate.iqm(scores) == 3.5  # the middle half of 0..7: 2, 3, 4, 5
    assert aggregate.iqm([1, 2, 3, 100]) == 2.5  # an outlying run barely moves it
    d = aggregate.interval(scores, "iqm", reps=500)
    assert d["mean"] == 3.5 and d["lo"] < 3.5 < d["hi"] and 0 <= d["lo"] and d["hi"] <= 7
    assert aggregate.interval(scores, "mean", reps=500)["mean"] == 3.5
    assert aggregate.interval(np.full((3, 4), 0.25), "iqm") == {"mean": 0.25, "lo": 0.25, "hi": 0.25}
    # stratified: with one seed per task every resample holds every task's one run, so the interval is a point
    one = np.array([[0.0, 0.3, 0.9, 0.1]])
    assert aggregate.interval(one, "mean") == {"mean": pytest.approx(0.325), "lo": pytest.approx(0.325),
                                               "hi": pytest.approx(0.325)}
    boot = aggregate.resample(scores, 200, np.random.default_rng(1))
    assert boot.shape == (200, 4, 2) and set(np.unique(boot[:, :, 0])) <= {0, 2, 4, 6}  # task 0's own runs only
    assert aggregate.interval(scores, reps=300, seed=5) == aggregate.interval(scores, reps=300, seed=5)
    with pytest.raises(ValueError, match="NaN"):
        aggregate.interval([[np.nan, 1.0]])


def test_performance_profile_and_probability_of_improvement_on_known_numbers():
    prof = aggregate.performance_profile([[0.2, 0.8]], [0.0, 0.5, 1.0], reps=100)
    assert prof["mean"] == [1.0, 0.5, 0.0] and prof["lo"] == prof["mean"] == prof["hi"]
    x, y = np.array([[3.0], [5.0]]), np.array([[2.0], [4.0]])
    assert aggregate.probability_of_improvement(x, y)["mean"] == 0.75  # 3>2, 3<4, 5>2, 5>4
    assert aggregate.probability_of_improvement(x, x)["mean"] == 0.5  # ties count half
    assert aggregate.probability_of_improvement(x + 10, y)["mean"] == 1.0
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.3, 0.1, (5, 3)), rng.normal(0.2, 0.1, (4, 3))
    per_task = [stats.mannwhitneyu(a[:, t], b[:, t]).statistic / 20 for t in range(3)]  # U / pairs, per task
    d = aggregate.probability_of_improvement(a, b, reps=400)
    assert d["mean"] == pytest.approx(np.mean(per_task)) and d["lo"] <= d["mean"] <= d["hi"]


# --- runs on the tiny world -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """A package outside the repository, with the docs' minimal agent, published under the entry point group as an
    installed distribution would be (a dist-info folder on sys.path)."""
    site = tmp_path_factory.mktemp("site")
    (site / PLUGIN).mkdir()
    (site / PLUGIN / "__init__.py").write_text(minimal_agent_code())
    info = site / f"{PLUGIN}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PLUGIN}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[internet_explorer.agents]\nneighbours = {PLUGIN}:NeighbourAgent\n")
    sys.path.insert(0, str(site))
    yield site
    sys.path.remove(str(site))
    sys.modules.pop(PLUGIN, None)


def cli_json(argv: list[str], capsys) -> tuple[dict, list[str]]:
    from ie_env.run import cli

    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1]), lines


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "tiny.json"
    path.write_text(json.dumps(TINY_SUITE))
    return path


@pytest.fixture(scope="module")
def first_run(tiny_world, suite_file, tmp_path_factory):
    """``ie-explore benchmark --json`` with random and gp on the tiny suite (2 tasks x 2 seeds)."""
    import contextlib
    import io

    from ie_env.run import cli

    out = tmp_path_factory.mktemp("bench") / "b"
    argv = ["benchmark", "--suite", str(suite_file), "--world", str(tiny_world.path), "--agents", "random,gp",
            "--seeds", "2", "--out", str(out), "--bootstrap-reps", "300", "--agent-option", "gp:refit_every=3",
            "--json"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(argv) == 0
    lines = buf.getvalue().strip().splitlines()
    return out, argv, json.loads(lines[-1]), lines


def test_cli_prints_the_leaderboard_as_json_and_writes_scores(first_run):
    out, _, board, lines = first_run
    assert lines[-2] == str(out / "report" / "index.html") == board["report"]
    assert set(board["agents"]) == {"random", "gp", "ceiling"}  # the normalisers run though not both listed
    for agent in ("random", "gp", "ceiling"):
        iqm = board["agents"][agent]["iqm"]
        assert set(iqm) == {"mean", "lo", "hi"} and iqm["lo"] <= iqm["mean"] <= iqm["hi"]
    assert board["agents"]["random"]["iqm"] == {"mean": 0.0, "lo": 0.0, "hi": 0.0}
    assert board["agents"]["ceiling"]["iqm"] == {"mean": 1.0, "lo": 1.0, "hi": 1.0}
    assert board["episodes"] == {"run": 12, "reused": 0} and board["seeds"] == [0, 1]
    assert sorted(board["ranking"]) == ["ceiling", "gp", "random"]
    pairs = {(x, y) for x, ys in board["probability_of_improvement"].items() for y in ys}
    assert pairs in ({("gp", "random")}, {("random", "gp")})  # the ceiling is a reference, not a competitor
    with open(out / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert {"task", "agent", "seed", "relevant", "normalized", "seconds"} <= set(rows[0])
    assert len(rows) == 2 * 3 * 2 and {r["task"] for r in rows} == {"dog", "cat"}
    # the cost beside the score: each episode's wall time, its mean per agent, the run's wall time
    assert all(float(r["seconds"]) > 0 for r in rows)
    gp_seconds = [float(r["seconds"]) for r in rows if r["agent"] == "gp"]
    assert board["agents"]["gp"]["seconds"] == pytest.approx(np.mean(gp_seconds))
    assert board["wall_seconds"] > sum(float(r["seconds"]) for r in rows)
    assert any(line.startswith("episodes: 12 run, 0 reused") and "wall time" in line for line in lines)
    for f in ("scores.json", "leaderboard.json", "leaderboard.png", "performance_profile.png"):
        assert (out / f).is_file(), f


def test_scores_are_normalised_between_random_and_the_ceiling_of_the_same_seed(first_run):
    out, _, board, _ = first_run
    with open(out / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    for task in ("dog", "cat"):
        runs = json.loads((out / "tasks" / task / "runs.json").read_text())
        final = {(a, r["seed"]): r["final"]["relevant_images"] for a, rs in runs.items() for r in rs}
        for r in (r for r in rows if r["task"] == task):
            seed = int(r["seed"])
            low, high = final[("random", seed)], final[("ceiling", seed)]
            assert high > low, "the tiny suite must leave the ceiling above random"
            assert int(r["relevant"]) == final[(r["agent"], seed)]
            assert float(r["normalized"]) == pytest.approx((int(r["relevant"]) - low) / (high - low))
            if r["agent"] == "random":
                assert float(r["normalized"]) == 0.0
            if r["agent"] == "ceiling":
                assert float(r["normalized"]) == 1.0
            assert 0 <= float(r["precision"]) <= 1
    gp = np.asarray([[float(r["normalized"]) for r in rows if r["agent"] == "gp" and int(r["seed"]) == s]
                     for s in (0, 1)])
    assert board["agents"]["gp"]["mean"]["mean"] == pytest.approx(gp.mean())
    assert board["agents"]["gp"]["iqm"]["mean"] == pytest.approx(stats.trim_mean(gp.ravel(), 0.25))


def test_the_report_page_has_the_leaderboard_and_links_each_task(first_run):
    out, _, board, _ = first_run
    page = (out / "report" / "index.html").read_text()
    assert "<h2 id='leaderboard'>Leaderboard</h2>" in page and "id='leaderboard-table'" in page
    for agent in ("random", "gp", "ceiling"):
        assert f'data-agent="{agent}"' in page
    for src in re.findall(r'<img src="([^"]+)"', page):
        assert (out / "report" / src).is_file()
    links = re.findall(r'<a href="([^"]+)">', page)
    for task in ("dog", "cat"):
        assert f"../tasks/{task}/report/index.html" in links
        assert (out / "tasks" / task / "report" / "index.html").is_file()


def test_a_second_run_with_more_agents_reuses_the_first_episodes(first_run, plugin_site, capsys, monkeypatch):
    """The plug-in agents, by entry point name and by module:Class, are benchmarked beside the first run's: only
    their episodes run."""
    from ie_env.run import compare

    out, argv, before, _ = first_run
    calls = []
    real = compare.run_one
    monkeypatch.setattr(compare, "run_one", lambda cfg, name, seed, *a, **k: calls.append((name, seed))
                        or real(cfg, name, seed, *a, **k))
    agents = f"random,gp,neighbours,{PLUGIN}:NeighbourAgent"
    board, _ = cli_json([*argv[:argv.index("--agents") + 1], agents, *argv[argv.index("--agents") + 2:],
                         "--agent-option", f"{PLUGIN}:NeighbourAgent:epsilon=0.5"], capsys)
    assert sorted(calls) == sorted((a, s) for a in ("neighbours", f"{PLUGIN}:NeighbourAgent") for _ in ("dog", "cat")
                                   for s in (0, 1))
    assert board["episodes"] == {"run": 8, "reused": 12}
    assert set(board["agents"]) == {"random", "gp", "ceiling", "neighbours", f"{PLUGIN}:NeighbourAgent"}
    for agent in ("random", "gp", "ceiling"):  # the reused episodes give the same scores
        assert board["agents"][agent]["per_task"] == before["agents"][agent]["per_task"]
    runs = json.loads((out / "tasks" / "dog" / "runs.json").read_text())
    assert {a: len(r) for a, r in runs.items()} == {a: 2 for a in board["agents"]}
    record = json.loads((out / "tasks" / "dog" / "task.json").read_text())
    assert record["agent_options"][f"{PLUGIN}:NeighbourAgent"] == {"epsilon": 0.5}
    calls.clear()  # the same command again runs nothing
    again, _ = cli_json([*argv[:argv.index("--agents") + 1], agents, *argv[argv.index("--agents") + 2:],
                         "--agent-option", f"{PLUGIN}:NeighbourAgent:epsilon=0.5", "--no-task-pages"], capsys)
    assert calls == [] and again["episodes"] == {"run": 0, "reused": 20}
    # other options for an agent whose episodes the folder holds, or other task settings: one-line errors
    from ie_env.run import cli

    assert cli.main([*argv, "--agent-option", "gp:refit_every=6"]) == 2
    assert "holds episodes of gp with options" in capsys.readouterr().err
    assert cli.main([*argv[:-1], "--world", "tinyweb"]) == 2
    assert "holds episodes of other settings" in capsys.readouterr().err


def test_plugin_agents_by_entry_point_and_module_class(plugin_site, concepts):
    from agents import ENTRY_POINTS, agent_class, check_agent_name, make_agent, plugin_agents
    from agents.base import AgentContext
    from ie_env.data.vocabulary import load_vocabulary

    assert ENTRY_POINTS == "internet_explorer.agents"
    assert plugin_agents()["neighbours"] == f"{PLUGIN}:NeighbourAgent"
    check_agent_name("neighbours")
    check_agent_name(f"{PLUGIN}:NeighbourAgent")
    vocab = load_vocabulary().subset(concepts)
    emb = np.random.default_rng(0).standard_normal((len(vocab), 384)).astype(np.float32)
    ctx = AgentContext(vocab=vocab, concept_embeddings=emb / np.linalg.norm(emb, axis=1, keepdims=True))
    for name in ("neighbours", f"{PLUGIN}:NeighbourAgent"):
        agent = make_agent(name, ctx, epsilon=0.0)
        assert type(agent) is agent_class(f"{PLUGIN}:NeighbourAgent") and agent.epsilon == 0.0
        agent.reset(0)
        first = agent.act()
        agent.observe(first, 1.0)
        second = agent.act()  # greedy: the unasked concept nearest the first
        sim = ctx.concept_embeddings @ ctx.concept_embeddings[first.concept]
        sim[first.concept] = -np.inf
        assert second.concept == int(np.argmax(sim))
    for bad, message in [("nope", "unknown agent"), ("no_such_module:X", "not found"),
                         (f"{PLUGIN}:Missing", "has no Missing"), ("numpy:ndarray", "not a subclass")]:
        with pytest.raises(ValueError, match=message):
            check_agent_name(bad)


def test_gym_ids_make_the_tasks_env(tiny_world):
    import gymnasium as gym

    import ie_env  # noqa: F401

    env = gym.make("InternetExplorer/dog-v0", world=str(tiny_world.path), frozen_encoder="resnet18", image_size=32,
                   vocabulary_under=("dog.n.01", "cat.n.01"), descriptors="none", budget=4)
    try:
        cfg = env.unwrapped.config
        dog = all_tasks()["dog"]
        assert cfg.target == dog.target and cfg.mode == "frozen" and cfg.budget == 4
        assert cfg.queries_per_iteration == dog.queries_per_iteration and cfg.results_per_query == 20
        assert env.spec.id == "InternetExplorer/dog-v0"
        env.reset(seed=0)
        done = False
        steps = 0
        while not done:
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            done, steps = terminated or truncated, steps + 1
        assert steps == 4 and "relevant" in info
    finally:
        env.close()
    with pytest.raises(ValueError, match="unknown task"):
        from ie_env.run.benchmark import make_task_env

        make_task_env("nope")


def test_a_suite_object_in_code(tiny_world, suite_file, tmp_path):
    """The library form, with a --target task: run_benchmark(cfg, suite) on a suite built in code."""
    from ie_env.run.benchmark import BenchmarkConfig, suite_tasks

    suite = load_suite(str(suite_file))
    cfg = BenchmarkConfig(suite="ignored", agents="gp", seeds=1, out=str(tmp_path), target="tiny-imagenet:car.n.01",
                          tasks="cat", world=str(tiny_world.path))
    built, tasks = suite_tasks(cfg, suite)
    assert isinstance(built, Suite) and [t.name for t in tasks] == ["cat", "car"]
    assert all(t.world == str(tiny_world.path) and t.budget == 6 for t in tasks)
    assert cfg.agent_names == ["gp", "random", "ceiling"]


def test_a_task_that_cannot_be_normalised_is_left_out_of_the_aggregates():
    """Where the ceiling found no more than random on a seed, the task's scores are NaN (null in JSON, blank in the
    CSV) and the aggregates are over the other tasks."""
    from ie_env.run.benchmark import json_safe, leaderboard, task_scores

    def runs(found: dict) -> dict:
        return {a: [{"seed": s, "final": {"relevant_images": n[s], "precision": 0.5, "distinct_images": 40}}
                    for s in (0, 1)] for a, n in found.items()}

    good = task_scores("a", runs({"random": [2, 4], "ceiling": [10, 10], "x": [6, 7]}), ["x", "random", "ceiling"],
                       [0, 1])
    flat = task_scores("b", runs({"random": [5, 3], "ceiling": [5, 9], "x": [1, 2]}), ["x", "random", "ceiling"],
                       [0, 1])
    assert [r["normalized"] for r in good if r["agent"] == "x"] == [0.5, 0.5]
    assert np.isnan([r["normalized"] for r in flat if r["agent"] == "x"][0])
    board = json_safe(leaderboard(good + flat, ["x", "random", "ceiling"], ["a", "b"], [0, 1], reps=100))
    assert board["excluded_tasks"] == ["b"] and board["tasks_aggregated"] == ["a"]
    assert board["agents"]["x"]["iqm"] == {"mean": 0.5, "lo": 0.5, "hi": 0.5}
    assert board["agents"]["x"]["per_task"]["b"]["normalized"] is None
    json.dumps(board, allow_nan=False)
