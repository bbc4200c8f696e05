"""The main job: the paper's GP agent versus random exploration on tinyweb for a CIFAR-10 target, full mode.

Run it with ``make demo`` (or ``ie-explore demo``). The self-supervised learner trains on what each agent
finds; the script prints a summary table and writes plots to ``runs/demo`` (the two episodes take about 10
minutes here once the vocabulary embeddings are cached; embedding the 146,347 concept texts the first time takes
~20 minutes more). The target-only baseline is left to ``compare_agents.py --mode full``: with it the job
took 15.3 minutes.
"""
from __future__ import annotations


def run_demo(budget: int = 128, seed: int = 0, world: str = "tinyweb", target: str = "cifar10",
             out: str = "runs/demo", seeds: int = 1) -> dict:
    from experiments.compare_agents import main

    if budget < 1:
        raise ValueError(f"budget={budget}: give a positive number of queries")
    return main(["--mode", "full", "--agents", "random,gp", "--seeds", str(seeds), "--first-seed", str(seed),
                 "--budget", str(budget), "--world", world, "--target", target, "--out", out, "--no-target-only"])
