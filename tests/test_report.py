"""What a person reads after a comparison: the table and file locations (JSON only on request), summary.csv,
labelled plots with bands over seeds, and TensorBoard scalars."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import re

import matplotlib
import pytest

from ie_env.run import report
from ie_env.run.compare import CompareConfig, plot


@pytest.fixture(scope="module")
def compared(tiny_world, tmp_path_factory):
    from experiments.compare_agents import main

    out = tmp_path_factory.mktemp("cmp")
    argv = ["--world", str(tiny_world.path), "--target", "tiny-imagenet:dog.n.01", "--agents", "random,gp",
            "--seeds", "2", "--budget", "8", "--queries-per-iteration", "4", "--frozen-encoder", "resnet18",
            "--image-size", "32", "--vocabulary-under", "dog.n.01,cat.n.01", "--out", str(out / "run"),
            "--tensorboard", str(out / "tb"), "--json"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        summary = main(argv)
    return out, summary, buf.getvalue().strip().splitlines()


def test_compare_prints_table_then_files_and_json_only_when_asked(compared):
    out, summary, lines = compared
    assert json.loads(lines[-1])["agents"] == json.loads(json.dumps(summary["agents"]))  # --json: the last line
    assert lines[-2] == str(out / "run" / "report" / "index.html") == summary["report"]  # then the page
    table = lines[:-2]
    assert not any(line.startswith("{") for line in table)
    assert table[-1].startswith(f"results in {out / 'run'}/: summary.json, summary.csv, runs.json, relevant_images.png")
    steps = re.search(r"env steps/s: (\S+)$", table[-2]).group(1)
    assert steps == report.fmt(summary["steps_per_s"]) and float(steps) > 0
    assert any(line.startswith("gp ") for line in table) and any(line.startswith("random ") for line in table)


def test_figures_have_three_significant_digits():
    assert [report.fmt(x) for x in (0.29, 0.28714, 12.345, 1234.4, 0.0)] == ["0.29", "0.287", "12.3", "1234", "0"]


def test_summary_csv_has_one_row_per_agent(compared):
    out, summary, _ = compared
    rows = list(csv.DictReader((out / "run" / "summary.csv").open()))
    assert [r["agent"] for r in rows] == ["random", "gp"]
    for r in rows:
        for metric in ("relevant_images", "precision", "distinct_images"):
            d = summary["agents"][r["agent"]][metric]
            assert [float(r[f"{metric}_{p}"]) for p in ("mean", "lo", "hi")] == pytest.approx([d["mean"], d["lo"], d["hi"]])
        assert float(r["steps_per_s"]) == pytest.approx(summary["agents"][r["agent"]]["steps_per_s"])


def test_tensorboard_scalars_per_agent_and_seed(compared):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _, _ = compared
    runs = json.loads((out / "run" / "runs.json").read_text())
    for agent in ("random", "gp"):
        for seed in (0, 1):
            acc = EventAccumulator(str(out / "tb" / agent / f"seed_{seed}"))
            acc.Reload()
            assert set(acc.Tags()["scalars"]) == {"iteration/reward", "iteration/precision"}  # frozen: no kNN
            got = [e.value for e in acc.Scalars("iteration/precision")]
            assert [e.step for e in acc.Scalars("iteration/precision")] == [1, 2]
            assert got == pytest.approx(runs[agent][seed]["iterations"]["precision"])


def test_tensorboard_missing_is_a_one_line_error(monkeypatch, capsys):
    import importlib.util

    from experiments.compare_agents import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(ValueError, match="needs the tensorboard package, which is not installed: pip install"):
        CompareConfig(tensorboard="tb")
    with pytest.raises(SystemExit):
        main(["--tensorboard", "tb"])
    err = capsys.readouterr().err.strip().splitlines()
    assert "needs the tensorboard package" in err[-1]


def test_plots_have_axis_labels_bands_and_markers(compared, tmp_path, monkeypatch):
    out, _, _ = compared
    runs = json.loads((out / "run" / "runs.json").read_text())
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, path, **kw: figures.append((path.name, fig)))
    files = plot(runs, tmp_path, queries_per_iteration=4)
    assert files == ["relevant_images.png", "relevant_classes.png", "precision.png", "reward.png", "reward_auc.png"]
    for name, fig in figures:
        ax = fig.axes[0]
        assert "(" in ax.get_xlabel() and "(" in ax.get_ylabel()  # units
        assert len(ax.collections) == 2 and "95% interval" in ax.get_title()  # one band per agent
        if name == "precision.png":
            assert all(line.get_marker() == "o" for line in ax.lines)
    assert figures[2][1].axes[0].get_xlabel() == "iteration (4 queries each)"


def test_demo_ends_with_the_table_and_prints_json_only_with_flag(compared, monkeypatch, capsys):
    from ie_env.run import cli

    out, summary, _ = compared
    seen = []
    monkeypatch.setattr(cli, "compare_agents", lambda cfg: seen.append(cfg) or summary)
    assert cli.main(["demo", "--out", str(out / "run")]) == 0
    text = capsys.readouterr().out
    cfg = seen[0]
    assert cfg.mode == "full" and cfg.agents == "gp,random" and cfg.preset == "paper_cpu" and cfg.target_only
    assert cfg.seeds == 3
    assert f"results in {out / 'run'}/" in text and "arm" in text and not any(
        line.startswith("{") for line in text.splitlines())
    page = out / "run" / "report" / "index.html"
    assert text.strip().splitlines()[-1] == str(page) and page.is_file()  # the page's path last
    assert cli.main(["demo", "--out", str(out / "run"), "--json"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["agents"]["gp"] and last["report"] == str(page)


def full_summary(gp: float, random: float, target: float, half: float, seeds: int = 3) -> dict:
    """A full-mode summary with kNN means and paired differences of half-width ``half``."""
    iv = lambda m, h=0.0: {"mean": m, "lo": m - h, "hi": m + h}  # noqa: E731
    agents = {"gp": {"knn_accuracy": iv(gp, 0.01), "relevant_images": iv(500.0), "precision": iv(0.4)},
              "random": {"knn_accuracy": iv(random, 0.01), "relevant_images": iv(90.0), "precision": iv(0.05)},
              "target_only": {"knn_accuracy": iv(target, 0.01)}}
    pairs = {"gp-random": iv(gp - random, half), "random-target_only": iv(random - target, half),
             "gp-target_only": iv(gp - target, half)}
    return {"target": "t", "seeds": seeds, "agents": agents,
            "paired": {"knn_accuracy": {k: {**v, "seeds": seeds} for k, v in pairs.items()}}}


def test_ordering_sentence_says_which_order_held_and_how_sure(capsys):
    from ie_env.run.compare import demo_table, ordering_sentence

    sure = ordering_sentence(full_summary(0.40, 0.36, 0.33, 0.02))
    assert "gp 0.4 > random 0.36 > target alone 0.33, the paper's ordering" in sure
    assert "gp - random +0.040 [+0.020, +0.060]" in sure and "both paired intervals over 3 seeds exclude 0" in sure
    noisy = ordering_sentence(full_summary(0.35, 0.36, 0.33, 0.05))
    assert "random 0.36 > gp 0.35 > target alone 0.33, not the paper's ordering" in noisy
    assert "no paired interval excludes 0" in noisy
    one = ordering_sentence(full_summary(0.40, 0.36, 0.33, 0.0, seeds=1))
    assert "one seed gives no interval" in one and "[" not in one
    assert ordering_sentence(full_summary(0.4, 0.36, 0.33, 0.02), metric="linear_probe") == ""
    found = full_summary(0.40, 0.36, 0.33, 0.02)
    found["paired"]["relevant_images"] = {"gp-random": {"mean": 410.0, "lo": 120.0, "hi": 700.0, "seeds": 3}}
    counted = ordering_sentence(found, metric="relevant_images")  # target alone downloads nothing: two arms
    assert "gp 500 > random 90, the paper's ordering; gp - random +410 [+120, +700]" in counted
    assert "the paired interval over 3 seeds excludes 0" in counted
    demo_table(full_summary(0.40, 0.36, 0.33, 0.02))
    table = capsys.readouterr().out
    assert "target alone" in table and "0.4 [0.39, 0.41]" in table and "gp-random +0.040 [+0.020, +0.060]" in table
