"""Learner-alone probe: does the data the learner sees matter, and how soon?

For each learner regime it trains three arms for the same number of steps, from the same initialisation:

- ``target``: the target's unlabelled train split alone;
- ``random``: the target mixed with a pool of uniformly random web images (Tiny ImageNet train photos, which is
  what the default world is made of);
- ``relevant``: the target mixed with a pool of web images of the target's own classes (the ideal explorer).

Web images enter batches as the full loop's candidates do (PCR = 2: one web image per two target images). Every
``--eval-every`` steps the kNN accuracy on the target's test split is measured (memory bank: the labelled
``probe_train`` split), and so is the relevance reward's ROC AUC: how well the reward computed with the learner's
current features (as the env computes it, against the target's train images) ranks a held-out sample of random
web images that are of the target's classes above those that are not; an agent learns from that reward. At the
end a linear probe (scikit-learn logistic regression on frozen features). The web pools are read straight from
the Tiny ImageNet train shards (no world needed) and cached.

    python experiments/probe_learner.py --regimes scratch,imagenet_lower --steps 400 --json
    python experiments/probe_learner.py --target tiny-imagenet:dog.n.01 --seeds 2

Regimes (``REGIMES``) are :class:`ie_env.learning.learner.LearnerConfig` overrides plus an image size; ``cpu``
is the learner of the full-mode preset ``--preset cpu`` (:mod:`ie_env.run.presets`).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import time

import numpy as np
import torch

from ie_env.atomic import atomic_write_json
from ie_env.data.images import decode_many
from ie_env.data.shards import iter_shards, shard_files
from ie_env.data.targets import load_target
from ie_env.data.targets.cache import cached_arrays
from ie_env.learning.evaluation import knn_accuracy, linear_probe, reward_auc
from ie_env.learning.learner import Learner, LearnerConfig
from ie_env.learning.reward import RelevanceReward, RewardConfig
from ie_env.run.presets import PRESETS

_LITE = dict(backbone="efficientnet_lite0", pretrained=True)
REGIMES: dict[str, dict] = {
    "scratch": dict(image_size=32, backbone="resnet18", width=0.5, stem_stride=2),
    "imagenet_lower": dict(image_size=32, **_LITE, keep_stages=5, freeze_stages=5, upper_width=128, min_input=32),
    "imagenet_lower64": dict(image_size=64, **_LITE, keep_stages=5, freeze_stages=5, upper_width=128, min_input=64),
    "imagenet_lower4": dict(image_size=32, **_LITE, keep_stages=4, freeze_stages=4, upper_width=128, min_input=32),
    "random_lower": dict(image_size=32, backbone="efficientnet_lite0", pretrained=False, keep_stages=5,
                         freeze_stages=0, upper_width=128, min_input=32),
    "imagenet_full": dict(image_size=32, **_LITE, freeze_stages=5, min_input=64, lr=1e-4),
    "cpu": {"image_size": PRESETS["cpu"]["env"].get("image_size", 32), **PRESETS["cpu"]["learner"]},
}
"""Named learner regimes: ``image_size`` plus LearnerConfig overrides.

- ``scratch``: the full mode's default learner (half-width ResNet-18, stride-2 stem, random init, 32 px);
- ``imagenet_lower``: EfficientNet-Lite0's stem and first 4 MBConv stages (up to 80 channels) with their ImageNet
  weights, frozen, and a small upper stage trained from scratch (its 5 upper stages, which carry the ImageNet
  classes, are dropped); ``imagenet_lower64``: the same on 64 px images (a 4x4 map into the upper stage instead of
  2x2); ``imagenet_lower4``: the same with 3 MBConv stages (up to 40 channels);
- ``random_lower``: the ``imagenet_lower`` architecture from a random initialisation, everything trained
  (what the ImageNet lower stages bring);
- ``imagenet_full``: the whole ImageNet network (its upper stages were trained on ImageNet's labels, among them the
  web's classes), lower 5 stages frozen, the rest fine-tuned at a low learning rate on 32 px images upsampled to
  64: the closest to the paper's pretrained start this CPU can run (about 2 s a step on one thread);
- ``cpu``: the learner of the full-mode preset ``cpu``.
"""
ARMS = ("target", "random", "relevant")


def web_pools(target, n: int, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` random Tiny ImageNet train photos and ``n`` of the target's classes, decoded at ``size`` (cached)."""
    wanted = set(target.class_wnids)

    def build() -> dict[str, np.ndarray]:
        rows = [(key, meta["wnid"]) for key, _, meta in iter_shards(shard_files("tiny-imagenet-200-train-"))]
        rng = np.random.default_rng(seed)
        rel = [i for i, (_, w) in enumerate(rows) if w in wanted]
        pick = {"random": set(rng.choice(len(rows), min(n, len(rows)), replace=False).tolist()),
                "relevant": set(rng.choice(rel, min(n, len(rel)), replace=False).tolist())}
        blobs: dict[str, list] = {"random": [], "relevant": []}
        for i, (_, jpg, _) in enumerate(iter_shards(shard_files("tiny-imagenet-200-train-"))):
            for name, chosen in pick.items():
                if i in chosen:
                    blobs[name].append(jpg)
        out = {name: decode_many(b, size) for name, b in blobs.items()}
        out["random_relevant"] = np.asarray([rows[i][1] in wanted for i in sorted(pick["random"])])
        return out

    tag = "-".join(sorted(wanted))
    digest = __import__("hashlib").sha256(tag.encode()).hexdigest()[:10]
    return cached_arrays(f"probe-web-{digest}-{n}-{size}-{seed}", build)


def evaluate(learner: Learner, target, held_out: dict[str, np.ndarray]) -> tuple[float, float]:
    """kNN accuracy on the target's test split, and the reward's ROC AUC for relevant web images in ``held_out``."""
    knn = knn_accuracy(learner.embed(target.probe_train), target.probe_train_labels, learner.embed(target.test),
                       target.test_labels)
    reward = RelevanceReward(RewardConfig())
    reward.set_target(learner.embed(target.train))
    auc = reward_auc(reward.image_rewards(learner.embed(held_out["random"])), held_out["random_relevant"])
    return float(knn), auc


def run_arm(regime: dict, arm: str, target, pool: np.ndarray | None, held_out: dict[str, np.ndarray], steps: int,
            eval_every: int, seed: int, batch_size: int) -> dict:
    overrides = {k: v for k, v in regime.items() if k != "image_size"}
    cfg = LearnerConfig(**{**overrides, "image_size": regime["image_size"], "seed": seed, "batch_size": batch_size})
    learner = Learner(cfg)
    curve = [(0, *evaluate(learner, target, held_out))]
    start = time.perf_counter()
    train_s = 0.0
    while learner.step < steps:
        n = min(eval_every, steps - learner.step)
        t = time.perf_counter()
        learner.train(pool, None, target.train, steps=n)
        train_s += time.perf_counter() - t
        curve.append((learner.step, *evaluate(learner, target, held_out)))
        print(f"    {arm:<9} step {learner.step:>5}: kNN {curve[-1][1]:.3f}  reward AUC {curve[-1][2]:.3f}  "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    probe, C = linear_probe(learner.embed(target.probe_train), target.probe_train_labels,
                            learner.embed(target.test), target.test_labels, seed=seed)
    return {"knn": curve[-1][1], "reward_auc": curve[-1][2], "linear": probe, "C": C,
            "curve": curve, "train_seconds": round(train_s, 1),
            "seconds": round(time.perf_counter() - start, 1), "steps": steps}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", default="tiny-imagenet:carnivore.n.01")
    ap.add_argument("--regimes", default="imagenet_lower", help=f"comma-separated, of: {', '.join(REGIMES)}")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--web", type=int, default=2000, help="images in each web pool")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="", help="write the results as JSON here (after every arm)")
    ap.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [r for r in args.regimes.split(",") if r]
    unknown = set(names) - set(REGIMES)
    if unknown:
        ap.error(f"unknown regime(s) {sorted(unknown)}: choose from {', '.join(REGIMES)}")
    arms = [a for a in args.arms.split(",") if a]
    results: dict = {"target": args.target, "steps": args.steps, "batch_size": args.batch_size, "web": args.web,
                     "regimes": {}}
    for name in names:
        regime = REGIMES[name]
        target = load_target(args.target, regime["image_size"])
        pools = web_pools(target, args.web, regime["image_size"])
        held_out = web_pools(target, args.web, regime["image_size"], seed=1)  # reward AUC sample
        print(f"{name}: {regime}; target {target.name} ({len(target.train)} train, {len(target.test)} test, "
              f"{len(target.class_names)} classes, chance {1 / len(target.class_names):.3f}); random pool "
              f"{len(pools['random'])} ({int(pools['random_relevant'].sum())} relevant), relevant pool "
              f"{len(pools['relevant'])}", flush=True)
        per = results["regimes"].setdefault(name, {"config": regime, "arms": {}})
        for arm in arms:
            for seed in range(args.seeds):
                pool = None if arm == "target" else pools[arm]
                r = run_arm(regime, arm, target, pool, held_out, args.steps, args.eval_every, seed, args.batch_size)
                per["arms"].setdefault(arm, []).append(r)
                if args.out:
                    atomic_write_json(args.out, results)
    print(f"\n{args.target}, {args.steps} steps x batch {args.batch_size}, mean over {args.seeds} seed(s)")
    print(f"{'regime':<16}" + "".join(f"{a + ' kNN':>15}{a + ' lin':>15}{a + ' AUC':>15}" for a in arms)
          + f"{'s/arm':>8}")
    for name, per in results["regimes"].items():
        row = f"{name:<16}"
        for a in arms:
            rs = per["arms"][a]
            row += "".join(f"{np.mean([r[key] for r in rs]):>15.3f}" for key in ("knn", "linear", "reward_auc"))
        secs = np.mean([r["seconds"] for a in arms for r in per["arms"][a]])
        print(row + f"{secs:>8.0f}")
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
