"""How well does a query's reward track the share of relevant images in its answer? (frozen mode, tinyweb)

    python experiments/query_signal.py [--queries 3000] [--frozen-encoder efficientnet_lite0-96px --image-size 64]

Asks random vocabulary concepts once each and, for several ways of turning the answer's image rewards into one
number (the env's top-10 mean, the mean over all images, ...), prints the correlation with the answer's relevant
share and the relevant share of the 10% best-scored queries. This is why the model-based agents learn from the
mean reward of a query's new images (``signal="new_mean"``) while the env's reward stays the top-10 mean.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from ie_env.envs.env import InternetExplorerEnv

AGGREGATES = {
    "top10_mean (env reward)": lambda r: np.sort(r)[::-1][:10].mean(),
    "top50_mean": lambda r: np.sort(r)[::-1][:50].mean(),
    "mean (agents' signal)": np.mean,
    "median": np.median,
}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=3000, help="random concepts to ask")
    ap.add_argument("--frozen-encoder", default="efficientnet_lite0-96px", help="frozen encoder")
    ap.add_argument("--image-size", type=int, default=64, help="image side the encoder sees")
    ap.add_argument("--seed", type=int, default=1, help="seed of the concept draw")
    args = ap.parse_args(argv)
    if args.queries < 10:
        ap.error("--queries must be at least 10")

    env = InternetExplorerEnv(frozen_encoder=args.frozen_encoder, image_size=args.image_size)
    env.reset(seed=0)
    concepts = np.random.default_rng(args.seed).choice(len(env.vocab), args.queries, replace=False)
    answers = env.engine.search_batch([env.vocab.lemmas[c] for c in concepts])
    share, scores = [], {k: [] for k in AGGREGATES}
    for res in answers:
        _, rewards, relevant = env._fetch(res)
        share.append(relevant.mean())
        for k, f in AGGREGATES.items():
            scores[k].append(float(f(rewards)))
    share = np.asarray(share)
    best = max(1, len(share) // 10)
    out = {"queries": len(share), "random_share": float(share.mean()), "aggregates": {}}
    print(f"{len(share)} random concepts, mean relevant share {share.mean():.3f} ({args.frozen_encoder}, "
          f"{args.image_size} px)")
    for k, v in scores.items():
        v = np.asarray(v)
        row = {"correlation": float(np.corrcoef(v, share)[0, 1]),
               "share_of_best_10pct": float(share[np.argsort(-v)[:best]].mean())}
        out["aggregates"][k] = row
        print(f"{k:<26} correlation {row['correlation']:.3f}   relevant share of the best 10%: "
              f"{row['share_of_best_10pct']:.3f}")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
