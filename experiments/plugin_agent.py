"""An agent from another package, installed with pip and benchmarked by its name.

Writes a package outside the repository (the minimal agent of docs/benchmark.md, published under the
``internet_explorer.agents`` entry point group in its ``pyproject.toml``), installs it with pip into a temporary
folder (nothing of the project's environment changes), and runs ``ie-explore benchmark --agents neighbours`` with
that folder on ``PYTHONPATH``. Prints the plug-in's row of the leaderboard and the pip command.

    python experiments/plugin_agent.py --tasks carnivore --seeds 1 --out runs/plugin
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ie_neighbour_agent"

PYPROJECT = f"""[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{PACKAGE.replace('_', '-')}"
version = "0.1"

[project.entry-points."internet_explorer.agents"]
neighbours = "{PACKAGE}:NeighbourAgent"
"""


def minimal_agent_code() -> str:
    """The module of docs/benchmark.md's minimal agent (``NeighbourAgent``), as the page shows it."""
    doc = (ROOT / "docs" / "benchmark.md").read_text()
    return re.search(r"```python\n(import numpy as np\n.*?)```", doc, flags=re.S).group(1)


def write_package(folder: Path) -> Path:
    """The package: pyproject.toml and a module holding docs/benchmark.md's minimal agent."""
    pkg = folder / "package"
    (pkg / PACKAGE).mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    (pkg / PACKAGE / "__init__.py").write_text(minimal_agent_code())
    return pkg


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="carnivore", help="tasks of the standard suite (comma-separated)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per task")
    ap.add_argument("--out", default="runs/plugin", help="the benchmark's output folder")
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        pkg, site = write_package(Path(tmp)), Path(tmp) / "site"
        # the project's setuptools builds it (no download): the environment already has it
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
               str(site), str(pkg)]
        subprocess.run(pip, check=True)
        print("installed:", " ".join(pip[2:]), flush=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])}
        bench = [sys.executable, "-m", "ie_env.run.cli", "benchmark", "--agents", "neighbours", "--tasks", args.tasks,
                 "--seeds", str(args.seeds), "--out", args.out, "--no-task-pages", "--json"]
        done = subprocess.run(bench, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    lines = done.stdout.strip().splitlines()
    board = json.loads(lines[-1])
    print("\n".join(lines[:-1]))
    row = board["agents"]["neighbours"]
    out = {"agent": "neighbours", "entry_point": f"{PACKAGE}:NeighbourAgent", "iqm": row["iqm"],
           "tasks": args.tasks, "seeds": args.seeds}
    print(f"plug-in 'neighbours' ({PACKAGE}, installed by pip, found through its entry point): IQM "
          f"{row['iqm']['mean']:.3f} [{row['iqm']['lo']:.3f}, {row['iqm']['hi']:.3f}]")
    if args.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
