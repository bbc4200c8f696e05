"""A newcomer's first run, timed: a fresh clone of this repository, ``make demo``, then ``make test``.

The clone goes beside this repository (so a ``../shared/data`` beside it is found as it is here), with its own
virtual environment and an empty cache (``IE_CACHE_DIR`` is unset for it; ``IE_DATA_DIR`` too unless
``--data-dir`` is given). Every line ``make`` prints (progress bars included, each ``\\r`` redraw a line) is kept
with the seconds since the start in ``OUT/demo.log`` and ``OUT/test.log``. The steps of ``make demo`` are cut at
the lines that open the next one (:data:`STEPS`); the script prints one table and writes ``OUT/first_run.json``.
Run it on an otherwise idle machine: its figures are the README's first-run times.

    python experiments/first_run.py --out runs/first-run        # ~40 min for make demo, ~13 for make test here
    python experiments/first_run.py --no-test --data-dir /path/to/shards
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from itertools import accumulate
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

STEPS = [
    ("install (venv, pip install -e '.[test]')", r"ie-explore fetch-data"),
    ("ie-explore fetch-data", r"ie-explore build-world"),
    ("the world (photos stored, alt text)", r"first run: embedding .*\(the world's captions"),
    ("the world's captions embedded (fp32)", r"first run: embedding .*\(the vocabulary's lemmas"),
    ("the lemma table (fp32)", r"answering the "),
    ("the answer table", r"first run: embedding .*\(the concept descriptions"),
    ("the concept texts", r"world ready for episodes"),
    ("until the demo starts", r"ie-explore demo"),
    ("until the first episode's progress bar", r"episodes: "),
    ("the demo's episodes and report", None),
]
"""``make demo``'s steps in order: (name, pattern of the first line after the step; None: the step lasts to the
end). A step whose closing line never appears is merged into the next one."""


def steps_from_log(lines: list[tuple[float, str]], end: float) -> list[tuple[str, float]]:
    """(step name, seconds) from timestamped lines, cut at the first line matching each step's closing pattern
    (searched from the previous cut on); a step never closed is merged into the next (named ``a + b``)."""
    out: list[tuple[str, float]] = []
    cut, pos, pending = 0.0, 0, ""
    for name, pattern in STEPS:
        name = f"{pending} + {name}" if pending else name
        if pattern is None:
            out.append((name, end - cut))
            break
        hit = next((i for i in range(pos, len(lines)) if re.search(pattern, lines[i][1])), None)
        if hit is None:
            pending = name
            continue
        out.append((name, lines[hit][0] - cut))
        cut, pos, pending = lines[hit][0], hit, ""
    return out


def run_logged(cmd: list[str], cwd: Path, env: dict, log: Path, start: float) -> tuple[int, list[tuple[float, str]]]:
    """Run ``cmd``, echoing its output, and keep every line (``\\r`` or ``\\n`` ended) with its time since
    ``start``, in memory and in ``log``."""
    lines: list[tuple[float, str]] = []
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    rest = b""
    with open(log, "w") as f:
        while chunk := os.read(proc.stdout.fileno(), 65536):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            now = time.monotonic() - start
            *done, rest = re.split(rb"[\r\n]", rest + chunk)
            for piece in done:
                text = piece.decode(errors="replace").strip()
                if text:
                    lines.append((now, text))
                    f.write(f"{now:8.1f} {text}\n")
    if rest.strip():
        lines.append((time.monotonic() - start, rest.decode(errors="replace").strip()))
    return proc.wait(), lines


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/first-run", help="folder of the logs and first_run.json")
    ap.add_argument("--clone", default=str(REPO.parent / "ie-first-run"),
                    help="where the fresh clone goes (emptied first; beside this repository by default)")
    ap.add_argument("--data-dir", default="", help="IE_DATA_DIR for the clone (default: unset, so the clone looks "
                                                   "for ../shared/data, then fetches the photos)")
    ap.add_argument("--no-test", action="store_true", help="time make demo only")
    ap.add_argument("--keep", action="store_true", help="keep the clone (its venv and cache: ~5 GB) at the end")
    args = ap.parse_args(argv)
    out, clone = Path(args.out), Path(args.clone)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True,
                            check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in ("IE_CACHE_DIR", "IE_DATA_DIR", "VIRTUAL_ENV")}
    if args.data_dir:
        env["IE_DATA_DIR"] = str(Path(args.data_dir).resolve())
    result: dict = {"commit": commit, "clone": str(clone), "cpus": os.cpu_count()}
    start = time.monotonic()
    rc, lines = run_logged(["make", "demo"], clone, env, out / "demo.log", start)
    end = time.monotonic() - start
    steps = steps_from_log(lines, end)
    first = next((t for (name, _), t in zip(steps, accumulate(s for _, s in steps)) if "first episode" in name), None)
    result |= {"make_demo_rc": rc, "make_demo_seconds": round(end, 1), "first_episode_at_seconds":
               None if first is None else round(first, 1), "steps": {name: round(s, 1) for name, s in steps}}
    if rc == 0 and not args.no_test:
        start = time.monotonic()
        rc_test, test_lines = run_logged(["make", "test"], clone, env, out / "test.log", start)
        summary = next((t for _, t in reversed(test_lines) if re.search(r"\d+ (passed|failed)", t)), "")
        result |= {"make_test_rc": rc_test, "make_test_seconds": round(time.monotonic() - start, 1),
                   "make_test_summary": summary.strip("= ")}
    if not args.keep:
        shutil.rmtree(clone, ignore_errors=True)
    (out / "first_run.json").write_text(json.dumps(result, indent=2))
    print(f"\nfirst run of commit {commit} on {os.cpu_count()} CPUs (fresh clone, empty cache):")
    for name, seconds in steps:
        print(f"  {name:<58} {minutes(seconds):>14}")
    print(f"  {'make demo in all (rc ' + str(rc) + ')':<58} {minutes(end):>14}")
    if first is not None:
        print(f"  {'the first episode began after':<58} {minutes(first):>14}")
    if "make_test_seconds" in result:
        print(f"  {'make test (rc ' + str(result['make_test_rc']) + ')':<58} "
              f"{minutes(result['make_test_seconds']):>14}  {result['make_test_summary']}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
