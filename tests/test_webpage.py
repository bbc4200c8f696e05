"""The report page (`ie-explore report`, written by compare_agents.py and the demo): every <img> resolves to a file,
the tables hold the summary's numbers, the galleries hold each iteration's best images by reward with ground truth
marked, and folders that are not runs are one-line errors."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ie_env.run import cli
from ie_env.run.explored import read_explored
from ie_env.run.report import fmt

TINY = ["--target", "tiny-imagenet:dog.n.01", "--frozen-encoder", "resnet18", "--image-size", "32",
        "--vocabulary-under", "dog.n.01,cat.n.01"]


class Page(HTMLParser):
    """The parts of the page the tests read: images, table cells with data attributes, gallery figures."""

    def __init__(self, path: Path):
        super().__init__()
        self.imgs: list[dict] = []
        self.cells: list[tuple[str, dict]] = []  # (row's agent or metric, the cell's attributes and text)
        self.figures: list[tuple[str, dict]] = []  # (the enclosing <details> id, the figure's attributes)
        self.tables: set[str] = set()
        self._row: dict = {}
        self._cell: dict | None = None
        self._details = ""
        self.feed(path.read_text())

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        elif tag == "table" and "id" in a:
            self.tables.add(a["id"])
        elif tag == "tr":
            self._row = a
        elif tag == "td" and "data-mean" in a or tag == "td" and "data-value" in a:
            self._cell = {**a, "text": ""}
        elif tag == "details":
            self._details = a.get("id", "")
        elif tag == "figure":
            self.figures.append((self._details, a))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append((self._row.get("data-agent") or self._row.get("data-metric", ""), self._cell))
            self._cell = None


@pytest.fixture(scope="module")
def compared(tiny_world, tmp_path_factory):
    from experiments.compare_agents import main

    out = tmp_path_factory.mktemp("page") / "cmp"
    argv = ["--world", str(tiny_world.path), *TINY, "--agents", "random,gp", "--seeds", "2", "--budget", "8",
            "--queries-per-iteration", "4", "--explored-images", "5", "--out", str(out)]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        summary = main(argv)
    return out, summary, buf.getvalue().strip().splitlines()


def test_compare_writes_the_page_and_prints_its_path_last(compared):
    out, summary, lines = compared
    assert lines[-1] == str(out / "report" / "index.html") == summary["report"]
    assert (out / "report" / "index.html").is_file()
    runs = json.loads((out / "runs.json").read_text())
    assert all("explored" not in r for seeds in runs.values() for r in seeds)  # runs.json stays small


def test_every_image_resolves_and_the_tables_hold_the_summary(compared):
    out, summary, _ = compared
    page = Page(out / "report" / "index.html")
    assert page.imgs and all((out / "report" / img["src"]).is_file() for img in page.imgs)
    plots = [img["src"] for img in page.imgs if img["src"].startswith("plots/")]
    assert sorted(plots) == sorted(f"plots/{p}" for p in summary["plots"])
    assert "summary" in page.tables
    cells = {}
    for agent, cell in page.cells:
        cells.setdefault(agent, []).append(cell)
    for agent in ("random", "gp"):
        entry = summary["agents"][agent]
        shown = {float(c["data-mean"]): c["text"] for c in cells[agent]}
        for metric in ("relevant_images", "precision", "distinct_images", "reward_auc"):
            d = entry[metric]
            assert shown[d["mean"]] == f"{fmt(d['mean'])} [{fmt(d['lo'])}, {fmt(d['hi'])}]"


def test_galleries_hold_each_iterations_best_images_by_reward(compared, tiny_world):
    out, _, _ = compared
    page = Page(out / "report" / "index.html")
    for agent in ("random", "gp"):
        for seed in (0, 1):
            its = read_explored(out / "runs" / agent / f"seed_{seed}" / "explored.jsonl")
            assert [it.iteration for it in its] == [0, 1] and sum(it.queries for it in its) == 8
            figs = [a for d, a in page.figures if d == f"{agent}-seed-{seed}"]
            kept = [img for it in its for img in it.top_images]
            assert len(figs) == len(kept) and all(len(it.top_images) == min(5, it.new_images) for it in its)
            for it in its:
                rewards = [img.reward for img in it.top_images]
                assert rewards == sorted(rewards, reverse=True)
            assert [a["class"] == "relevant" for a in figs] == [bool(img.relevant) for img in kept]
            assert all(img.relevant is not None for img in kept)  # an offline world has ground truth
            assert all(img.sha256 in tiny_world.sha256 for img in kept)
    result_total = json.loads((out / "runs.json").read_text())["gp"][0]["final"]["distinct_images"]
    its = read_explored(out / "runs" / "gp" / "seed_0" / "explored.jsonl")
    assert sum(it.new_images for it in its) == result_total


def test_report_command_and_a_comparison_without_images(compared, tmp_path, capsys):
    out, summary, _ = compared
    bare = tmp_path / "bare"
    shutil.copytree(out, bare, ignore=shutil.ignore_patterns("runs", "report"))  # as written before explored.jsonl
    assert cli.main(["report", str(bare), "--out", str(tmp_path / "page"), "--thumb-size", "64"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(tmp_path / "page" / "index.html")
    page = Page(tmp_path / "page" / "index.html")
    assert {img["src"] for img in page.imgs} == {f"plots/{p}" for p in summary["plots"]}  # tables and plots only
    assert not page.figures and "summary" in page.tables
    assert all((tmp_path / "page" / img["src"]).is_file() for img in page.imgs)


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "neither a run folder"),
    (lambda p: p / "missing", "is not a folder"),
    (lambda p: (p / "summary.json").write_text("{}") and p, "no per-agent summary"),
])
def test_a_folder_that_is_not_a_run_is_a_one_line_error(tmp_path, capsys, make, message):
    folder = make(tmp_path)
    assert cli.main(["report", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("ie-explore report: error:")


def test_a_single_run_folder(tiny_world, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["run", "--world", str(tiny_world.path), *TINY, "--agent", "random", "--budget", "6",
                     "--queries-per-iteration", "2", "--out", str(run), "--json"]) == 0
    final = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["final"]
    assert "explored" not in json.loads((run / "result.json").read_text())
    assert len(read_explored(run / "explored.jsonl")) == 3
    assert cli.main(["report", str(run), "--json"]) == 0
    page_path = run / "report" / "index.html"
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"report": str(page_path)}
    page = Page(run / "report" / "index.html")
    values = {metric: float(c["data-value"]) for metric, c in page.cells}
    assert values["relevant_images"] == final["relevant_images"] and values["precision"] == final["precision"]
    assert all((run / "report" / img["src"]).is_file() for img in page.imgs)
    assert len(page.figures) == sum(len(it.top_images) for it in read_explored(run / "explored.jsonl"))


def test_a_recorded_live_run_shows_the_snapshots_images_without_ground_truth(tiny_world, tmp_path, capsys):
    from offline_cache.server import SnapshotServer

    run = tmp_path / "run"
    with SnapshotServer(world=tiny_world) as server:
        assert cli.main(["live", "--engine", "clip_retrieval", "--engine-option", f"base_url={server.url}",
                         "--engine-option", f"indice_name={tiny_world.name}", "--downloader-option",
                         "allow_private=true", "--record", str(tmp_path / "rec"), *TINY, "--mode", "frozen",
                         "--budget", "4", "--queries-per-iteration", "2", "--results-per-query", "8",
                         "--out", str(run)]) == 0
    capsys.readouterr()
    assert cli.main(["report", str(run), "--out", str(tmp_path / "page")]) == 0
    page = Page(tmp_path / "page" / "index.html")
    its = read_explored(run / "explored.jsonl")
    kept = [img for it in its for img in it.top_images]
    assert len(its) == 2 and kept and all(img.relevant is None and it.new_relevant is None for it in its
                                          for img in it.top_images)
    gallery = [img for img in page.imgs if img["src"].startswith("thumbs/")]
    assert len(gallery) == len(kept) and all((tmp_path / "page" / img["src"]).is_file() for img in page.imgs)
    assert all(a["class"] == "image" for _, a in page.figures)  # nothing marked relevant without ground truth
    assert (tmp_path / "page" / "index.html").read_text().count("&#10003;") == 1  # the legend's only
    shown = {metric for metric, _ in page.cells}  # ground-truth counts would all be 0: left out, as is frozen kNN
    assert "distinct_images" in shown and not shown & {"relevant_images", "precision", "knn_accuracy"}
    assert {img["src"] for img in page.imgs if img["src"].startswith("plots/")} == {"plots/reward.png"}
