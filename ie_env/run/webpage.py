"""``ie-explore report``: a run or a comparison as one static web page, to see what the explorer found.

    page = write_report("runs/compare", "runs/compare/report")      # -> runs/compare/report/index.html

``OUT/index.html`` opens from disk (no server, no script): the summary table (a comparison's per-agent means and 95%
intervals, the numbers of ``summary.json``; a single run's final metrics), the paired differences (full mode), the
plots (``OUT/plots/*.png``), then per agent, seed and iteration the iteration's counts and reward AUC, its best queries
by reward with the new and relevant images each brought, and a gallery of its best new images by reward (a frame in
the reward's colour, relevant ones marked where ground truth exists; the caption and query on hover). The galleries
come from each run's ``explored.jsonl`` (:mod:`ie_env.run.explored`) and the thumbnails (``OUT/thumbs/*.jpg``) from
the images' bytes in the offline world or the recorded snapshot, looked up by content hash. A run that kept no images
(older runs, a live run that recorded nothing) still gets its tables and plots. The page is shown to people: by
default the vocabulary filter (:mod:`ie_env.data.vocabulary_filter`) hides every query it removes, the images those
queries brought, and captions holding a word of its list, and says how many it hid.

Accepted folders: a comparison (``summary.json`` and ``runs.json``: ``experiments/compare_agents.py``,
``ie-explore demo``), a run (``config.json``: ``ie-explore run`` / ``live`` with ``--out``; finished or not) or a
benchmark (``leaderboard.json``: ``ie-explore benchmark``), whose page is its Leaderboard section (the table, the
probabilities of improvement and the plots) and its tasks, each linked to its own comparison's page.
"""
from __future__ import annotations

import html
import io
import json
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from ie_env.atomic import atomic_write_bytes
from ie_env.data.vocabulary_filter import check_filter, offensive
from ie_env.envs.render import reward_colour
from ie_env.run.compare import ARM_NAMES, plot, run_folder
from ie_env.run.explored import EXPLORED, IterationFound, read_explored
from ie_env.run.report import fmt, interval_metrics
from ie_env.run.runner import RESULT
from offline_cache.snapshot import DB_NAME, Snapshot
from offline_cache.world import world_dir

PAGE = "index.html"
GROUND_TRUTH = ("relevant_images", "relevant_classes", "precision", "reward_auc")
"""Metrics counted against ground truth: left out of the page of a run that had none (the live web)."""


@dataclass
class ReportConfig:
    """How the page is drawn."""

    thumb_size: int = 96
    """Side in pixels of the gallery thumbnails (each image scaled to fit, its aspect kept)."""
    images_per_iteration: int = 0
    """Images shown per iteration (0 = every image the run kept; the bound is the run's, ``explored_images``)."""
    open_seeds: int = 1
    """Seeds per agent shown unfolded; the others are folded under their headline."""
    vocabulary_filter: str = "offensive"
    """``offensive``: hide the queries the vocabulary filter removes (an offline run may have asked them: its
    vocabulary is the paper's), the images they brought and captions with a word of the filter's list; ``none``:
    show everything."""

    def __post_init__(self) -> None:
        check_filter(self.vocabulary_filter)
        if not 16 <= self.thumb_size <= 512:
            raise ValueError(f"thumb_size={self.thumb_size}: use a side between 16 and 512 pixels")
        if self.images_per_iteration < 0 or self.open_seeds < 0:
            raise ValueError("images_per_iteration and open_seeds must be >= 0")


@dataclass
class RunView:
    """One episode as the page shows it."""

    agent: str
    seed: int
    final: dict
    """Its final metrics (empty while the run is unfinished)."""
    iterations: list[IterationFound]
    """What each iteration found (empty when the run kept none)."""


@dataclass
class Source:
    """What a run or comparison folder holds, read for the page."""

    folder: Path
    title: str
    facts: dict
    """Settings shown under the title."""
    summary: dict | None
    """A comparison's ``summary.json``."""
    results: dict[str, list[dict]]
    """Per agent, its episodes' results (``runs.json``, or a run's ``result.json``)."""
    runs: list[RunView] = field(default_factory=list)
    images: Path | None = None
    """The snapshot holding the images' bytes (an offline world or a recorded run), ``None`` when there is none."""
    images_note: str = ""
    """Why there are no thumbnails, when there are none."""
    hidden: dict = field(default_factory=dict)
    """What the vocabulary filter hid: ``{"queries": n, "images": m}``."""
    plots: list[Path] = field(default_factory=list)
    """Plot files already drawn (a comparison's)."""


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} is not readable JSON ({type(e).__name__}: {e})") from None


def _snapshot_of(path: Path | None, what: str) -> tuple[Path | None, str]:
    if path is None:
        return None, f"{what} kept no images"
    if not (path / DB_NAME).is_file():
        return None, f"the images' snapshot {path} is not on this machine"
    return path, ""


def load_source(folder: str | Path) -> Source:
    """Read a comparison or run folder (see the module docstring); a one-line ``ValueError`` for anything else."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder: give a run folder (--out of ie-explore run/live) or a "
                         "comparison folder (--out of experiments/compare_agents.py or ie-explore demo)")
    if (folder / "summary.json").is_file():
        return _comparison(folder)
    if (folder / "config.json").is_file():
        return _run(folder)
    raise ValueError(f"{folder} is neither a run folder (no config.json) nor a comparison folder (no summary.json)")


def _comparison(folder: Path) -> Source:
    summary = _read_json(folder / "summary.json")
    if not isinstance(summary.get("agents"), dict):
        raise ValueError(f"{folder / 'summary.json'} has no per-agent summary: it is not a comparison's")
    results = _read_json(folder / "runs.json") if (folder / "runs.json").is_file() else {}
    runs = [RunView(agent, int(r["seed"]), r.get("final", {}), read_explored(run_folder(folder, agent, r["seed"])
                                                                             / EXPLORED))
            for agent, seeds in results.items() if agent != "target_only" for r in seeds]
    images, note = _snapshot_of(world_dir(summary["world"]) if summary.get("world") else None, "the comparison")
    facts = {k: summary[k] for k in ("mode", "target", "world", "seeds", "budget", "queries_per_iteration",
                                     "results_per_query", "preset", "frozen_encoder", "image_size") if summary.get(k)}
    plots = [folder / p for p in summary.get("plots", [])]
    arms = ", ".join(ARM_NAMES.get(a, a) for a in summary["agents"])
    return Source(folder, f"comparison of {arms}", facts, summary, results,
                  runs, images, note, plots if all(p.is_file() for p in plots) else [])


def _run(folder: Path) -> Source:
    config = _read_json(folder / "config.json")
    agent, seed = str(config.get("agent", "agent")), int(config.get("seed", 0))
    result = _read_json(folder / RESULT) if (folder / RESULT).is_file() else None
    command = config.get("command")
    if command == "run":
        snap = world_dir(config.get("world") or "tinyweb")
    elif config.get("record"):
        snap = Path(config["record"])
    elif config.get("engine") == "replay" and config.get("snapshot"):
        snap = Path(config["snapshot"])
    else:
        snap = None
    images, note = _snapshot_of(snap, "the run (live, without --record)")
    facts = {k: config[k] for k in ("command", "engine", "world", "target", "mode", "budget",
                                    "queries_per_iteration", "results_per_query", "preset", "seed") if config.get(k)}
    if result is None:
        facts["state"] = "unfinished (what its iterations found so far)"
    truth = command == "run"  # an offline world; the live web has none
    hidden = (() if truth else GROUND_TRUTH) + (() if config.get("mode") == "full" else ("knn_accuracy",))
    keep = lambda d: {k: v for k, v in d.items() if k not in hidden}  # noqa: E731
    if result:
        result = {**result, "final": keep(result["final"]), "curve": keep(result.get("curve", {})),
                  "iterations": keep(result.get("iterations", {}))}
    run = RunView(agent, seed, result["final"] if result else {}, read_explored(folder / EXPLORED))
    return Source(folder, f"run of {agent} (seed {seed})", facts, None,
                  {agent: [result]} if result else {}, [run], images, note)


def _thumbnails(src: Source, hashes: list[str], folder: Path, size: int) -> tuple[dict[str, str], dict[str, str]]:
    """Thumbnails of the images ``hashes`` written under ``folder``: ``(sha256 -> relative path, sha256 -> caption)``
    for those whose bytes the snapshot holds."""
    if src.images is None or not hashes:
        return {}, {}
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    with Snapshot(src.images, readonly=True) as snap:
        captions = snap.captions(hashes)
        todo = [h for h in hashes if not (folder / f"{h[:24]}.jpg").is_file()]
        for h in hashes:
            if h not in todo:
                paths[h] = f"{folder.name}/{h[:24]}.jpg"
        with tqdm(total=len(todo), desc="thumbnails", unit="image", disable=not todo) as bar:
            for start in range(0, len(todo), 500):
                part = todo[start:start + 500]
                for h, data in snap.get_blobs(part).items():
                    try:
                        with Image.open(io.BytesIO(data)) as img:
                            img = img.convert("RGB")
                            img.thumbnail((size, size))
                            buf = io.BytesIO()
                            img.save(buf, "JPEG", quality=88)
                    except (OSError, ValueError):
                        continue  # undecodable bytes: the gallery says so instead of showing a broken image
                    atomic_write_bytes(folder / f"{h[:24]}.jpg", buf.getvalue())
                    paths[h] = f"{folder.name}/{h[:24]}.jpg"
                bar.update(len(part))
    return paths, captions


def _plots(src: Source, out: Path) -> list[str]:
    """The plots copied (a comparison's) or drawn (from the runs' curves) into ``OUT/plots``; relative paths."""
    folder = out / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    if src.plots:
        for p in src.plots:
            if p.resolve() != (folder / p.name).resolve():
                shutil.copyfile(p, folder / p.name)
        return [f"plots/{p.name}" for p in src.plots]
    curves = {a: [r for r in rs if r.get("curve") or r.get("iterations")] for a, rs in src.results.items()}
    curves = {a: rs for a, rs in curves.items() if rs}
    if not curves:
        return []
    qpi = int((src.summary or src.facts).get("queries_per_iteration") or 0)
    return [f"plots/{name}" for name in plot(curves, folder, qpi)]


# --- HTML ------------------------------------------------------------------------------------------------------
e = html.escape

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1500px; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
.facts { color: #555; } .note { color: #8a5a00; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { padding: 3px 8px; border: 1px solid #ddd; }
th { background: #f4f4f4; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.plots img { width: 420px; margin: 4px; border: 1px solid #eee; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: 600; }
.iteration { margin: 0.8em 0 1.2em 1em; } .iteration h4 { margin: 0.2em 0; }
.iteration .counts { color: #444; margin: 0.1em 0 0.3em; }
.found { display: flex; gap: 1.2em; align-items: flex-start; } .found table { flex: none; margin: 0; }
.gallery { display: flex; flex-wrap: wrap; gap: 6px; }
.gallery figure { margin: 0; text-align: center; font-size: 11px; }
.gallery img { display: block; object-fit: contain; background: #fafafa; border: 4px solid; }
.gallery .missing { display: flex; align-items: center; justify-content: center; border: 4px solid; color: #999;
  background: #f4f4f4; }
.gallery figure.relevant figcaption { color: #1a7f37; font-weight: 700; }
.legend span { display: inline-block; padding: 0 6px; color: #000; }
"""


def _hex(reward: float) -> str:
    """The reward's frame colour (the same scale as the env's rendered frames) as ``#rrggbb``."""
    return "#" + "".join(f"{c:02x}" for c in reward_colour(reward))


def _cell(d: dict, several: bool) -> str:
    text = fmt(d["mean"]) + (f" [{fmt(d['lo'])}, {fmt(d['hi'])}]" if several else "")
    return (f'<td class="num" data-mean="{d["mean"]!r}" data-lo="{d["lo"]!r}" data-hi="{d["hi"]!r}">'
            f"{e(text)}</td>")


def _summary_table(summary: dict) -> str:
    """Per agent, every metric with an interval (the columns of ``summary.csv``)."""
    metrics = interval_metrics(summary)
    several = summary.get("seeds", 1) > 1
    head = "".join(f"<th>{e(m.replace('_', ' '))}</th>" for m in metrics)
    rows = []
    for name, entry in summary["agents"].items():
        cells = "".join(_cell(entry[m], several) if m in entry else "<td>-</td>" for m in metrics)
        rows.append(f'<tr data-agent="{e(name)}"><th>{e(ARM_NAMES.get(name, name))}</th>{cells}</tr>')
    caption = "mean [95% interval over seeds]" if several else "one seed"
    return (f'<table id="summary"><caption>{caption}</caption><tr><th>agent</th>{head}</tr>'
            + "".join(rows) + "</table>")


def _paired_table(summary: dict) -> str:
    rows = [f'<tr data-metric="{e(metric)}" data-pair="{e(pair)}"><td>{e(metric.replace("_", " "))}</td>'
            f"<td>{e(pair.replace('target_only', 'target alone'))}</td>"
            f'<td class="num" data-mean="{d["mean"]!r}">{d["mean"]:+.3f} [{d["lo"]:+.3f}, {d["hi"]:+.3f}]</td>'
            f'<td class="num">{d["seeds"]}</td></tr>'
            for metric, pairs in summary.get("paired", {}).items() for pair, d in pairs.items()]
    if not rows:
        return ""
    return ('<h3>Paired differences over the same seeds</h3><table id="paired"><tr><th>metric</th><th>pair</th>'
            "<th>mean [95% interval]</th><th>seeds</th></tr>" + "".join(rows) + "</table>")


def _final_table(run: RunView) -> str:
    """A single run's final metrics."""
    if not run.final:
        return '<p class="note">The run has not finished: no final metrics yet.</p>'
    cells = "".join(f'<tr data-metric="{e(k)}"><th>{e(k.replace("_", " "))}</th><td class="num" '
                    f'data-value="{v!r}">{e(fmt(v))}</td></tr>'
                    for k, v in run.final.items() if isinstance(v, (int, float)))
    return f'<table id="summary"><tr><th>metric</th><th>final value</th></tr>{cells}</table>'


def _share(n: int | None, total: int) -> str:
    return "" if n is None else f", {n} relevant ({n / max(1, total):.1%})"


def _iteration(it: IterationFound, thumbs: dict, captions: dict, cfg: ReportConfig) -> str:
    counts = (f"{it.queries} queries, {it.new_images} new images{_share(it.new_relevant, it.new_images)}, "
              f"mean query reward {it.mean_reward:.3f}"
              + ("" if it.reward_auc is None else f", reward AUC {it.reward_auc:.3f}")
              + ("" if it.knn_accuracy is None else f", kNN accuracy {it.knn_accuracy:.3f}"))
    truth = it.new_relevant is not None
    queries = "".join(f"<tr><td>{e(q.query)}</td><td class='num'>{q.reward:.3f}</td><td class='num'>{q.asked}</td>"
                      f"<td class='num'>{q.new}</td>" + (f"<td class='num'>{q.relevant}</td>" if truth else "")
                      + "</tr>" for q in it.top_queries)
    table = ("<table class='queries'><tr><th>best queries by reward</th><th>reward</th><th>asked</th><th>new images"
             "</th>" + ("<th>relevant</th>" if truth else "") + f"</tr>{queries}</table>") if queries else ""
    size = cfg.thumb_size
    figures = []
    for img in it.top_images[:cfg.images_per_iteration or None]:
        style = f'style="width:{size}px;height:{size}px;border-color:{_hex(img.reward)}"'
        tip = e(f"query: {img.query}\ncaption: {captions.get(img.sha256, '-')}\nreward {img.reward:.3f}"
                + ("" if img.relevant is None else f"\n{'relevant' if img.relevant else 'not relevant'}"))
        mark = " &#10003;" if img.relevant else ""
        path = thumbs.get(img.sha256)
        picture = (f'<img src="{e(path)}" {style} alt="{e(img.query)}">' if path
                   else f'<div class="missing" {style}>no image</div>')
        figures.append(f'<figure class="{"relevant" if img.relevant else "image"}" title="{tip}">{picture}'
                       f"<figcaption>{img.reward:.3f}{mark}</figcaption></figure>")
    gallery = f'<div class="gallery">{"".join(figures)}</div>' if figures else ""
    return (f'<div class="iteration"><h4>iteration {it.iteration + 1}</h4>'
            f'<p class="counts">{e(counts)}</p><div class="found">{table}{gallery}</div></div>')


def _run_section(run: RunView, thumbs: dict, captions: dict, cfg: ReportConfig, open_: bool) -> str:
    f = run.final
    found = [f"{f['relevant_images']} relevant of" if "relevant_images" in f else "",
             f"{f['distinct_images']} distinct images" if "distinct_images" in f else "",
             f", kNN accuracy {f['knn_accuracy']:.3f}" if f.get("knn_accuracy") else ""]
    headline = f"seed {run.seed}" + (": " + " ".join(found).strip().replace(" ,", ",") if any(found[1:]) else "")
    if not run.iterations:
        body = '<p class="note">This run kept no per-iteration record of its queries and images.</p>'
    else:
        body = "".join(_iteration(it, thumbs, captions, cfg) for it in run.iterations)
    return (f'<details id="{e(run.agent)}-seed-{run.seed}"{" open" if open_ else ""}><summary>{e(headline)}'
            f"</summary>{body}</details>")


def render(src: Source, plots: list[str], thumbs: dict, captions: dict, cfg: ReportConfig) -> str:
    """The page's HTML."""
    facts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in src.facts.items())
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(src.title)}</title>"
             f"<style>{STYLE}</style></head><body>",
             f"<h1>Internet Explorer: {e(src.title)}</h1><p class='facts'>{e(facts)}</p>"
             f"<p class='facts'>from {e(str(src.folder))}</p>", "<h2>Summary</h2>"]
    if src.summary is not None:
        parts += [_summary_table(src.summary), _paired_table(src.summary)]
        top = src.summary.get("world_counts") or src.summary.get("ceiling")  # "ceiling": comparisons before 2026-12-07
        if top:
            parts.append(f"<p>The world holds {top['web_images']} distinct images, {top['relevant_total']} of them "
                         f"relevant, {top['relevant_with_own_caption']} of those captioned as their own class.</p>")
    else:
        parts.append(_final_table(src.runs[0]))
    if plots:
        parts.append("<h2>Plots</h2><div class='plots'>"
                     + "".join(f'<img src="{e(p)}" alt="{e(Path(p).stem)}">' for p in plots) + "</div>")
    parts.append("<h2>What each agent found</h2>")
    if src.hidden.get("queries") or src.hidden.get("images"):
        parts.append(f"<p class='note'>The vocabulary filter hid {src.hidden['queries']} queries and "
                     f"{src.hidden['images']} images they brought (ie-explore report --vocabulary-filter none shows "
                     "them).</p>")
    if src.images_note and any(r.iterations for r in src.runs):
        parts.append(f"<p class='note'>No thumbnails: {e(src.images_note)}.</p>")
    parts.append("<p class='legend'>Per iteration: the best queries by reward and the best new images by reward, "
                 "framed in their reward's colour "
                 + "".join(f"<span style='background:{_hex(r)}'>{r}</span>" for r in (0.0, 0.25, 0.5, 0.75, 1.0))
                 + "; &#10003; relevant (ground truth, where there is one). Hover an image for its query and "
                 "caption.</p>")
    agents = list(dict.fromkeys(r.agent for r in src.runs))
    if len(agents) > 1:
        parts.append("<p>" + " &middot; ".join(f'<a href="#agent-{e(a)}">{e(a)}</a>' for a in agents) + "</p>")
    for agent in agents:
        runs = [r for r in src.runs if r.agent == agent]
        parts.append(f'<section id="agent-{e(agent)}"><h3>{e(agent)}</h3>')
        parts += [_run_section(r, thumbs, captions, cfg, i < cfg.open_seeds) for i, r in enumerate(runs)]
        parts.append("</section>")
    if not src.runs:
        parts.append("<p class='note'>No episodes to show.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _hide_filtered(src: Source) -> None:
    """Drop from ``src``'s iterations the queries the vocabulary filter removes and the images they brought."""
    texts = list({q.query for r in src.runs for it in r.iterations for q in it.top_queries}
                 | {i.query for r in src.runs for it in r.iterations for i in it.top_images})
    bad = {t for t, b in zip(texts, offensive(texts)) if b}
    hidden = {"queries": 0, "images": 0}
    for run in src.runs:
        for k, it in enumerate(run.iterations):
            queries = [q for q in it.top_queries if q.query not in bad]
            images = [i for i in it.top_images if i.query not in bad]
            hidden["queries"] += len(it.top_queries) - len(queries)
            hidden["images"] += len(it.top_images) - len(images)
            run.iterations[k] = replace(it, top_queries=queries, top_images=images)
    src.hidden = hidden


BOARD = "leaderboard.json"
"""A benchmark folder's aggregates (:mod:`ie_env.run.benchmark`): its page is the leaderboard."""


def render_benchmark(folder: Path, board: dict, plots: list[str], out: Path) -> str:
    """A benchmark's page: its Leaderboard section (per agent the IQM, mean and precision of the normalised scores
    with their 95% intervals, the probabilities of improvement, the plots), then the tasks, each linked to its
    comparison's page."""
    several = len(board["seeds"]) > 1
    title = f"benchmark {board['suite']} v{board['version']}"
    facts = (f"{len(board['tasks'])} tasks x {len(board['seeds'])} seeds (seeds {board['seeds'][0]}-"
             f"{board['seeds'][-1]}); score: {board['score']}; the normalisers random and ceiling run on every task "
             f"and seed; intervals: 95% stratified bootstrap ({board['bootstrap_reps']} resamples)")
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>Internet Explorer: {e(title)}</h1>",
             (f"<p class='facts'>{e(board['about'])}</p>" if board.get("about") else "")
             + f"<p class='facts'>{e(facts)}</p>"
             f"<p class='facts'>from {e(str(folder))}</p>", "<h2 id='leaderboard'>Leaderboard</h2>"]
    cols = [("iqm", "IQM"), ("mean", "mean"), ("precision", "precision")]
    rows = []
    for rank, agent in enumerate(board["ranking"], 1):
        entry = board["agents"][agent]
        cells = "".join(_cell(entry[k], several) if k in entry else "<td>-</td>" for k, _ in cols)
        seconds = entry.get("seconds")
        cells += f"<td class='num'>{fmt(seconds)}</td>" if seconds is not None else "<td>-</td>"
        label = agent + (" (normaliser)" if entry.get("normaliser") else "")
        rows.append(f'<tr data-agent="{e(agent)}"><td class="num">{rank}</td><th>{e(label)}</th>{cells}</tr>')
    parts.append("<table id='leaderboard-table'><caption>normalised relevant images (random 0, ceiling 1) over "
                 "tasks and seeds, by IQM</caption><tr><th>rank</th><th>agent</th>"
                 + "".join(f"<th>{t}</th>" for _, t in cols) + "<th>s/episode</th></tr>" + "".join(rows) + "</table>")
    pairs = [(x, y, d) for x, ys in board.get("probability_of_improvement", {}).items() for y, d in ys.items()]
    if pairs:
        parts.append("<table id='improvement'><tr><th>probability of improvement</th><th>mean [95% interval]</th>"
                     "</tr>" + "".join(f'<tr data-pair="{e(x)}&gt;{e(y)}"><td>P({e(x)} &gt; {e(y)})</td>'
                                       f"{_cell(d, True)}</tr>" for x, y, d in pairs) + "</table>")
    if board.get("excluded_tasks"):
        parts.append(f"<p class='note'>Left out of the aggregates (the ceiling found no more than random on a seed): "
                     f"{e(', '.join(board['excluded_tasks']))}.</p>")
    if plots:
        parts.append("<div class='plots'>" + "".join(f'<img src="{e(p)}" alt="{e(Path(p).stem)}">' for p in plots)
                     + "</div>")
    files = [f for f in ("scores.csv", "scores.json", BOARD) if (folder / f).is_file()]
    parts.append("<p>Scores per task, agent and seed: " + ", ".join(
        f'<a href="{e(os.path.relpath(folder / f, out))}">{e(f)}</a>' for f in files) + ".</p>")
    agents = board["ranking"]
    head = "".join(f"<th>{e(a)}</th>" for a in agents)
    task_rows = []
    for name, info in board["tasks"].items():
        page = folder / info["page"] if info.get("page") else None
        link = (f'<a href="{e(os.path.relpath(page, out))}">{e(name)}</a>' if page and page.is_file() else e(name))
        cells = [board["agents"][a]["per_task"][name]["normalized"] for a in agents]
        scores = "".join(f'<td class="num">{"-" if v is None else e(fmt(v))}</td>' for v in cells)
        task_rows.append(f'<tr data-task="{e(name)}"><th>{link}</th><td>{e(info["target"])}</td>'
                         f"<td>{e(info.get('gym_id') or '-')}</td><td class='num'>{e(fmt(info['random_relevant']))}"
                         f" / {e(fmt(info['ceiling_relevant']))}</td>{scores}</tr>")
    parts.append("<h2 id='tasks'>Tasks</h2><table id='tasks-table'><caption>normalised score per task (mean over "
                 "seeds); relevant images of random / ceiling; each task links to its comparison's page</caption><tr>"
                 f"<th>task</th><th>target</th><th>Gymnasium id</th><th>random / ceiling</th>{head}</tr>"
                 + "".join(task_rows) + "</table></body></html>")
    return "\n".join(parts)


def write_benchmark_page(folder: Path, out: Path) -> Path:
    """The benchmark folder's page (:func:`render_benchmark`), ``OUT/index.html``, with its plots."""
    board = _read_json(folder / BOARD)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    plots = []
    for name in board.get("plots", []):
        if (folder / name).is_file():
            shutil.copyfile(folder / name, out / "plots" / name)
            plots.append(f"plots/{name}")
    page = out / PAGE
    atomic_write_bytes(page, render_benchmark(folder, board, plots, out).encode())
    return page


def write_report(folder: str | Path, out: str | Path | None = None, cfg: ReportConfig | None = None) -> Path:
    """Write ``OUT/index.html`` (default ``OUT``: ``FOLDER/report``) with its plots and thumbnails; returns its
    path. A benchmark folder (``leaderboard.json``) gets its leaderboard page."""
    cfg = cfg or ReportConfig()
    if (Path(folder) / BOARD).is_file():
        out = Path(out) if out else Path(folder) / "report"
        out.mkdir(parents=True, exist_ok=True)
        return write_benchmark_page(Path(folder), out)
    src = load_source(folder)
    if cfg.vocabulary_filter != "none":
        _hide_filtered(src)
    out = Path(out) if out else Path(folder) / "report"
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(src, out)
    shown = [i.sha256 for r in src.runs for it in r.iterations
             for i in it.top_images[:cfg.images_per_iteration or None]]
    thumbs, captions = _thumbnails(src, list(dict.fromkeys(shown)), out / "thumbs", cfg.thumb_size)
    if cfg.vocabulary_filter != "none" and captions:
        keys = list(captions)
        captions = {k: "(hidden by the vocabulary filter)" if bad else captions[k]
                    for k, bad in zip(keys, offensive([captions[k] or "" for k in keys]))}
    if shown and src.images is not None and not thumbs:
        src.images_note = f"none of the images is stored in {src.images}"
    page = out / PAGE
    atomic_write_bytes(page, render(src, plots, thumbs, captions, cfg).encode())
    return page
