"""The speed figures of docs/results.md in one run: one table printed at the end and one JSON file (``make bench``).

Runs, in this order, each script as a user would and keeps what it printed:

1. ``bench_env.py``: env steps/s of the random agent and of the GP agent at the paper's cadence (frozen mode,
   tinyweb, CIFAR-10), and the GP refit at 1,000 / 10,000 observations;
2. ``bench_download.py``: the downloader against img2dataset at the same 64 px output, on loopback;
3. ``text_backends.py --sample 0``: MiniLM texts/s in float32 and bfloat16 (skipped on a CPU without native
   bfloat16; how many nearest concepts bfloat16 keeps needs the vocabulary in both, ``text_backends.py`` alone);
4. ``compare_agents.py --mode frozen``: the frozen comparison of ``--frozen-agents`` (3 seeds x 1,024 queries on
   CIFAR-10), its wall time and each agent's relevant images as a share of the ceiling agent's;
5. ``compare_agents.py --mode full --preset head``: one full-mode episode of the GP agent on the demo's target
   (the views are cached by ``make demo``), its wall time and time split.

Each part's wall time is in the table; ``--skip`` leaves parts out (``--skip download,text``). The first run
after ``make demo`` also embeds tinyweb's 100,000 images with the frozen encoder (cached; tinyweb's build does it
unless told not to) and installs img2dataset into its own virtual environment.

    python experiments/benchmarks.py                       # everything (~10 min after make demo)
    python experiments/benchmarks.py --out runs/bench --skip full
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from ie_env.atomic import atomic_write_json
from ie_env.run.report import fmt

PARTS = ("env", "download", "text", "frozen", "full")
FROZEN_AGENTS = "random,gp,gp_label_set,gp_ucb,ppo,ceiling"
FULL_TARGET = "tiny-imagenet:carnivore.n.01"


def part_env(out: Path) -> tuple[dict, list]:
    from experiments.bench_env import main

    r = main([])
    return r, [("env steps/s, random agent (frozen mode)", fmt(r["random_steps_per_s"])),
               ("env steps/s, GP agent (refit every 256 queries)", fmt(r["gp_steps_per_s"])),
               *[(f"GP refit of 256 queries at {int(n):,} observations (s)", f"{s:.2f}")
                 for n, s in r["gp_refit_seconds"].items()]]


def part_download(out: Path) -> tuple[dict, list]:
    from experiments.bench_download import main

    r = main([])
    theirs = r.get("img2dataset_64px_images_per_s")
    return r, [("downloader images/s (64 px out, loopback)", fmt(r["ours_images_per_s"])),
               ("img2dataset images/s (same output)", fmt(theirs) if theirs else "n/a"),
               ("downloader / img2dataset", f"{r['ratio_same_output']:.2f}x" if r.get("ratio_same_output") else "n/a")]


def part_text(out: Path) -> tuple[dict, list]:
    from experiments.text_backends import main
    from ie_env.data.text_embedding import bf16_supported

    if not bf16_supported():
        return {"skipped": "no native bfloat16 on this CPU"}, [("MiniLM texts/s", "skipped: no native bf16")]
    r = main(["--sample", "0"])  # speeds only: the neighbour comparison needs the vocabulary in fp32 (~15 min)
    return r, [("MiniLM concept texts/s, fp32 / bf16", f"{fmt(r['fp32_texts_per_s'])} / {fmt(r['bf16_texts_per_s'])}")]


def part_frozen(out: Path, agents: str) -> tuple[dict, list]:
    from experiments.compare_agents import main

    start = time.perf_counter()
    s = main(["--mode", "frozen", "--agents", agents, "--seeds", "3", "--budget", "1024", "--out",
              str(out / "frozen")])
    seconds = time.perf_counter() - start
    shares = {n: round(e["ceiling_share"]["mean"], 3) for n, e in s["agents"].items() if "ceiling_share" in e}
    relevant = {n: round(e["relevant_images"]["mean"]) for n, e in s["agents"].items()}
    r = {"seconds": round(seconds, 1), "agents": agents, "relevant_images": relevant, "ceiling_share": shares,
         "summary": str(out / "frozen" / "summary.json")}
    rows = [(f"frozen comparison, {len(agents.split(','))} agents x 3 seeds x 1,024 queries (s)", f"{seconds:.0f}")]
    rows += [(f"  {n}: relevant images (share of the ceiling's)",
              f"{relevant[n]} ({shares[n]:.0%})" if n in shares else str(relevant[n])) for n in relevant]
    return r, rows


def part_full(out: Path) -> tuple[dict, list]:
    from experiments.compare_agents import main

    s = main(["--mode", "full", "--preset", "head", "--target", FULL_TARGET, "--agents", "gp", "--seeds", "1",
              "--out", str(out / "full")])
    entry = s["agents"]["gp"]
    split = {k: round(v, 1) for k, v in entry.get("time_split", {}).items()}
    r = {"episode_seconds": round(entry["episode_seconds"], 1), "time_split": split}
    return r, [("full-mode episode, head preset, GP agent (s)", f"{entry['episode_seconds']:.0f}"),
               ("  time split (s)", ", ".join(f"{k} {v:.0f}" for k, v in split.items()))]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/bench", help="folder of bench.json and the comparisons' results")
    ap.add_argument("--skip", default="", help=f"comma-separated parts to leave out ({', '.join(PARTS)})")
    ap.add_argument("--frozen-agents", default=FROZEN_AGENTS, help="agents of the frozen comparison")
    args = ap.parse_args(argv)
    skip = {p for p in args.skip.split(",") if p}
    if skip - set(PARTS):
        ap.error(f"--skip {args.skip!r}: parts are {', '.join(PARTS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runners = {"env": part_env, "download": part_download, "text": part_text,
               "frozen": lambda o: part_frozen(o, args.frozen_agents), "full": part_full}
    result: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                    "machine": platform.processor() or platform.machine(), "parts": {}}
    rows: list[tuple[str, str]] = []
    start = time.perf_counter()
    for name in PARTS:
        if name in skip:
            continue
        print(f"\n=== {name} ===", flush=True)
        t0 = time.perf_counter()
        r, part_rows = runners[name](out)
        r["wall_s"] = round(time.perf_counter() - t0, 1)
        result["parts"][name] = r
        rows += part_rows + [(f"  ({name}: wall time of this part, s)", f"{r['wall_s']:.0f}")]
        atomic_write_json(out / "bench.json", result)  # what is done so far survives a crash
    result["wall_s"] = round(time.perf_counter() - start, 1)
    rows.append(("benchmarks' total wall time (s)", f"{result['wall_s']:.0f}"))
    atomic_write_json(out / "bench.json", result)
    width = max(len(r[0]) for r in rows)
    print(f"\nbenchmarks ({result['date']}, {result['cpus']} CPUs, load average {os.getloadavg()[0]:.1f})")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"\nall figures: {out / 'bench.json'}")
    return result


if __name__ == "__main__":
    main()
