"""Writing a comparison's results for people and tools: figures with useful precision, ``summary.csv`` and
TensorBoard scalars (the plots and the printed table are in :mod:`ie_env.run.compare`, the web page in
:mod:`ie_env.run.webpage`)."""
from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path

from ie_env.atomic import atomic_write_bytes

TENSORBOARD_TAGS = ("reward", "precision", "knn_accuracy")
"""Per-iteration curves of a run written as TensorBoard scalars (``iteration/<name>``)."""


def fmt(x: float) -> str:
    """A figure with 3 significant digits (0.287, 12.5), whole numbers from 100 up (1234)."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def require_tensorboard(option: str) -> None:
    """A one-line error naming ``option`` when the tensorboard package is missing."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ValueError(f"{option} needs the tensorboard package, which is not installed: pip install tensorboard")


def interval_metrics(summary: dict) -> list[str]:
    """The metrics with a mean and interval in any agent's summary, in order of first appearance."""
    return list(dict.fromkeys(m for entry in summary["agents"].values() for m, v in entry.items()
                              if isinstance(v, dict) and "mean" in v))


def write_summary_csv(summary: dict, path: str | Path) -> None:
    """One row per agent: ``agent``, then ``<metric>_mean``, ``<metric>_lo``, ``<metric>_hi`` for every metric
    with an interval, and ``steps_per_s`` (blank where an agent lacks a metric, e.g. the target-only baseline)."""
    agents = summary["agents"]
    metrics = interval_metrics(summary)
    columns = ["agent"] + [f"{m}_{part}" for m in metrics for part in ("mean", "lo", "hi")] + ["steps_per_s"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, restval="", lineterminator="\n")
    writer.writeheader()
    for name, entry in agents.items():
        row = {"agent": name, **{f"{m}_{part}": entry[m][part] for m in metrics if m in entry
                                 for part in ("mean", "lo", "hi")}}
        if "steps_per_s" in entry:
            row["steps_per_s"] = entry["steps_per_s"]
        writer.writerow(row)
    atomic_write_bytes(Path(path), buf.getvalue().encode())


def write_tensorboard(runs: dict, folder: str | Path) -> list[Path]:
    """TensorBoard scalars ``iteration/reward``, ``iteration/precision`` and (where measured)
    ``iteration/knn_accuracy`` per iteration, one log folder per agent and seed (``FOLDER/<agent>/seed_<n>``)."""
    require_tensorboard("tensorboard logging")
    from torch.utils.tensorboard import SummaryWriter  # needs the optional tensorboard package

    written = []
    for agent, seeds in runs.items():
        for run in seeds:
            logdir = Path(folder) / agent / f"seed_{run['seed']}"
            with SummaryWriter(str(logdir)) as writer:
                for tag in TENSORBOARD_TAGS:
                    values = run.get("iterations", {}).get(tag, [])
                    if tag == "knn_accuracy" and not any(values):
                        continue  # frozen mode measures no kNN accuracy
                    for i, v in enumerate(values, start=1):
                        writer.add_scalar(f"iteration/{tag}", float(v), i)
            written.append(logdir)
    return written
