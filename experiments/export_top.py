"""Record a live run, export its best images by reward, and read them back with webdataset.

    python experiments/export_top.py --out runs/export-top --top 500

A real HTTP run on this machine: ``ie-explore serve``'s server (the offline world over the clip-retrieval protocol,
image bytes included) on 127.0.0.1 plays the live web, ``ie-explore live --record`` explores it with the GP agent
(frozen mode) and records every answer, image and reward into ``OUT/snapshot``; then ``ie-explore export
OUT/snapshot --format webdataset --top N --out OUT/top`` and ``ie-explore report OUT/run``. Prints the run's size,
what the export wrote, what webdataset reads back (sample count, rewards in descending order, each with its query)
and the page's path.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ie_env.run.cli import main as cli
from offline_cache.server import SnapshotServer
from offline_cache.snapshot import Snapshot
from offline_cache.world import world_dir


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/export-top", help="output folder (must not hold a run yet)")
    ap.add_argument("--top", type=int, default=500, help="images to export (the highest rewards)")
    ap.add_argument("--world", default="tinyweb", help="the offline world the local server plays the web with")
    ap.add_argument("--target", default="tiny-imagenet:dog.n.01", help="target dataset")
    ap.add_argument("--budget", type=int, default=64, help="queries of the recorded run")
    ap.add_argument("--vocabulary-under", default="animal.n.01", help="concepts the agent may query")
    args = ap.parse_args(argv)
    out = Path(args.out)
    snap, run, top = out / "snapshot", out / "run", out / "top"
    with SnapshotServer(world=str(world_dir(args.world))) as server:
        rc = cli(["live", "--engine", "clip_retrieval", "--engine-option", f"base_url={server.url}",
                  "--engine-option", f"indice_name={args.world}", "--downloader-option", "allow_private=true",
                  "--record", str(snap), "--target", args.target, "--mode", "frozen", "--agent", "gp",
                  "--vocabulary-under", args.vocabulary_under, "--budget", str(args.budget),
                  "--queries-per-iteration", "16", "--out", str(run), "--json"])
    if rc:
        return rc
    with Snapshot(snap, readonly=True) as s:
        rewards = s.rewards()
        stored = sum(1 for _, status, _, _ in s.downloads() if status == "ok")
    print(f"recorded run: {args.budget} queries, {stored} images stored, {len(rewards)} with a reward kept")
    if cli(["export", str(snap), "--format", "webdataset", "--top", str(args.top), "--out", str(top), "--json"]):
        return 1
    import webdataset as wds

    metas = [json.loads(s["json"]) for s in wds.WebDataset(sorted(str(p) for p in top.glob("*.tar")),
                                                           shardshuffle=False)]
    values = [m["reward"] for m in metas]
    descending = all(a >= b for a, b in zip(values, values[1:]))
    best = sorted((v[0] for v in rewards.values()), reverse=True)[:args.top]
    print(f"read back with webdataset: {len(metas)} samples, rewards descending: {descending}, "
          f"equal to the snapshot's top {args.top}: {values == best}, every sample has a query: "
          f"{all(m['query'] for m in metas)}")
    print(f"rewards: first {values[0]:.4f}, 100th {values[min(99, len(values) - 1)]:.4f}, last {values[-1]:.4f}; "
          f"first sample: key {metas[0]['key']}, query {metas[0]['query']!r}, caption {metas[0]['caption']!r}")
    cli(["report", str(run)])
    ok = len(metas) == args.top and descending
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
