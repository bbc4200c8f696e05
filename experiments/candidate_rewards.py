"""Which reward should a learned policy be trained on? Fixed policies on the candidate-set view, scored by each.

Three policies that need no training act through :class:`agents.candidates.CandidateSetWrapper` for one frozen
episode per target: ``first`` (always the first row: the best unqueried concept by mean + std), ``any`` (a row
drawn uniformly) and ``random_half`` (a row among the uniformly drawn candidates: the random agent). For each the
script prints the episode's return under every policy reward (``agents.candidates.REWARDS``: ``new_excess``,
``reward``, ``new_reward``, ``new_mean``) and the distinct relevant images it found (ground truth, for this study
only). A reward worth training on ranks the policies as their relevant images do.

    python experiments/candidate_rewards.py --targets cifar10,tiny-imagenet:dog.n.01 --json
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from agents.base import SIGNALS, learning_signal
from agents.candidates import REWARDS, CandidateConfig, CandidateSetWrapper
from ie_env.data.text_embedding import concept_embeddings
from ie_env.envs.env import InternetExplorerEnv

POLICIES = {
    "first": lambda rng, k: 0,
    "any": lambda rng, k: int(rng.integers(k)),
    "random_half": lambda rng, k: int(rng.integers(k // 2, k)),
}
"""Name -> row chosen, given a generator and the number of candidates (the second half are the random ones)."""


def episode(wrapped: CandidateSetWrapper, policy, seed: int) -> dict:
    """One episode; the return under every reward and the relevant images found."""
    wrapped.reset(seed=seed)
    rng = np.random.default_rng(seed)
    k = wrapped.action_space.n
    returns = dict.fromkeys(REWARDS, 0.0)
    while True:
        _, excess, terminated, truncated, info = wrapped.step(policy(rng, k))  # rewarded with new_excess
        returns["new_excess"] += excess
        for name in SIGNALS:
            returns[name] += learning_signal(wrapped.env_reward, info, name)
        if terminated or truncated:
            break
    return {"returns": {n: round(v, 1) for n, v in returns.items()},
            "relevant_images": int(wrapped.unwrapped.metrics()["relevant_images"])}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default="cifar10,tiny-imagenet:dog.n.01", help="comma-separated targets")
    ap.add_argument("--budget", type=int, default=1024, help="queries per episode")
    ap.add_argument("--seed", type=int, default=0, help="episode seed")
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args(argv)
    out: dict = {}
    for target in [t for t in args.targets.split(",") if t]:
        env = InternetExplorerEnv(mode="frozen", target=target, budget=args.budget, queries_per_iteration=256)
        wrapped = CandidateSetWrapper(env, np.asarray(concept_embeddings(env.vocab)),
                                      CandidateConfig(reward="new_excess"))
        out[target] = {name: episode(wrapped, policy, args.seed) for name, policy in POLICIES.items()}
        for name, r in out[target].items():
            print(f"{target:<28} {name:<12} relevant {r['relevant_images']:>5}  returns "
                  + "  ".join(f"{k} {v:.1f}" for k, v in r["returns"].items()), flush=True)
    if args.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
