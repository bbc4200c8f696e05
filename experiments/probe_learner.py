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
    python experiments/probe_learner.py --regimes head --seeds 10 --arms target,random,relevant,random_shuffled

A fourth arm, ``random_shuffled``, trains on the random pool in another order (the same images): the noise floor
of one run against another on the same content. With several seeds the script prints the paired differences
(mean and 95% t-interval over seeds) of relevant - random, relevant - target, random - target and
random_shuffled - random. A regime may bring its own defaults for steps, batch size, web pool size and PCR
(``PROBE_DEFAULTS``); options given on the command line win.

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
from ie_env.learning.head import REWARD_FEATURES, HeadLearner, make_learner
from ie_env.learning.reward import RelevanceReward, RewardConfig
from ie_env.run.compare import interval
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
    "head": {"kind": "head", "image_size": 64},
    "head96": {"kind": "head", "image_size": 64, "trunk": "efficientnet_lite0-96px"},
    "head_moco": {"kind": "head", "image_size": 64, "objective": "moco"},
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
- ``cpu``: the learner of the full-mode preset ``cpu``;
- ``head``: the ``head`` learner (:mod:`ie_env.learning.head`): EfficientNet-Lite0 with its ImageNet weights, whole
  and frozen, at 64 px, 4 pixel-space views of every image embedded once, an MLP head trained on pairs of them
  with NT-Xent; ``head96`` runs the trunk at 96 px (the frozen mode's default encoder), ``head_moco`` trains
  the head with MoCo v3 instead. The trunk's ImageNet training used labels, among them the web's classes.
"""
PROBE_DEFAULTS: dict[str, dict] = {name: {"steps": 1500, "batch_size": 256, "web": 6500, "pcr": 0.5}
                                   for name in ("head", "head96", "head_moco")}
"""Per regime: the probe's defaults for ``--steps``, ``--batch-size``, ``--web`` and ``--pcr`` (others: 400,
128, 2000 and the regime's own PCR). The head regimes train with the web 2/3 of every batch (PCR 0.5), as
the loop does once the replay buffer outgrows the target."""
ARMS = ("target", "random", "relevant", "random_shuffled")
PAIRS = (("relevant", "random"), ("relevant", "target"), ("random", "target"), ("random_shuffled", "random"))


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


def evaluate(learner, target, held_out: dict[str, np.ndarray]) -> tuple[float, float, dict]:
    """kNN accuracy on the target's test split, the reward's ROC AUC for relevant web images in ``held_out`` (on
    the features the learner's reward uses), and for a head learner that AUC on each of its reward features."""
    knn = knn_accuracy(learner.embed(target.probe_train), target.probe_train_labels, learner.embed(target.test),
                       target.test_labels)

    def auc(embed) -> float:
        reward = RelevanceReward(RewardConfig())
        reward.set_target(embed(target.train))
        return reward_auc(reward.image_rewards(embed(held_out["random"])), held_out["random_relevant"])

    if not isinstance(learner, HeadLearner):
        return float(knn), auc(learner.reward_embed), {}
    by = {kind: auc(lambda x, kind=kind: learner.reward_embed(x, kind)) for kind in REWARD_FEATURES}
    return float(knn), by[learner.config.reward_features], by


def run_arm(regime: dict, arm: str, target, pool: np.ndarray | None, held_out: dict[str, np.ndarray], steps: int,
            eval_every: int, seed: int, batch_size: int, pcr: float | None = None) -> dict:
    settings = {**regime, "seed": seed, "batch_size": batch_size, **({"pcr": pcr} if pcr is not None else {})}
    learner = make_learner(settings)
    knn0, auc0, by0 = evaluate(learner, target, held_out)
    curve = [(0, knn0, auc0)]
    by_features = [by0]
    start = time.perf_counter()
    train_s = 0.0
    while learner.step < steps:
        n = min(eval_every, steps - learner.step)
        t = time.perf_counter()
        learner.train(pool, None, target.train, steps=n)
        train_s += time.perf_counter() - t
        knn, auc, by = evaluate(learner, target, held_out)
        curve.append((learner.step, knn, auc))
        by_features.append(by)
        print(f"    {arm:<9} step {learner.step:>5}: kNN {curve[-1][1]:.3f}  reward AUC {curve[-1][2]:.3f}  "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    probe, C = linear_probe(learner.embed(target.probe_train), target.probe_train_labels,
                            learner.embed(target.test), target.test_labels, seed=seed)
    return {"knn": curve[-1][1], "reward_auc": curve[-1][2], "linear": probe, "C": C,
            "curve": curve, "reward_auc_by_features": by_features[-1], "reward_auc_at_start": by_features[0],
            "train_seconds": round(train_s, 1),
            "seconds": round(time.perf_counter() - start, 1), "steps": steps}


def paired_differences(arms: dict) -> dict:
    """For each pair of ``PAIRS`` whose arms ran: kNN and linear-probe ``a - b`` over the seeds both ran (mean and
    95% t-interval)."""
    out: dict = {}
    for a, b in PAIRS:
        if a not in arms or b not in arms:
            continue
        for metric in ("knn", "linear"):
            left = {r["seed"]: r[metric] for r in arms[a]}
            right = {r["seed"]: r[metric] for r in arms[b]}
            seeds = sorted(set(left) & set(right))
            if seeds:
                out.setdefault(metric, {})[f"{a}-{b}"] = {**interval([left[s] - right[s] for s in seeds]),
                                                          "seeds": len(seeds)}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", default="tiny-imagenet:carnivore.n.01")
    ap.add_argument("--regimes", default="imagenet_lower", help=f"comma-separated, of: {', '.join(REGIMES)}")
    ap.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of: {', '.join(ARMS)}")
    ap.add_argument("--steps", type=int, default=None, help="training steps per arm (default: the regime's, else 400)")
    ap.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default: steps / 4)")
    ap.add_argument("--batch-size", type=int, default=None, help="images per step (default: the regime's, else 128)")
    ap.add_argument("--web", type=int, default=None, help="images in each web pool (default: the regime's, else 2000)")
    ap.add_argument("--pcr", type=float, default=None, help="target images per web image in a batch (default: the "
                    "regime's)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="", help="write the results as JSON here (after every arm)")
    ap.add_argument("--resume", action="store_true", help="keep the runs --out already holds and run the rest")
    ap.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [r for r in args.regimes.split(",") if r]
    unknown = set(names) - set(REGIMES)
    if unknown:
        ap.error(f"unknown regime(s) {sorted(unknown)}: choose from {', '.join(REGIMES)}")
    arms = [a for a in args.arms.split(",") if a]
    if set(arms) - set(ARMS):
        ap.error(f"unknown arm(s) {sorted(set(arms) - set(ARMS))}: choose from {', '.join(ARMS)}")
    if args.resume and not args.out:
        ap.error("--resume needs --out (the results file to continue)")
    results: dict = {"target": args.target, "regimes": {}}
    if args.resume and os.path.exists(args.out):
        results = json.loads(open(args.out).read())
        if results.get("target") != args.target:
            ap.error(f"{args.out} holds a probe of {results.get('target')}, not {args.target}")
    for name in names:
        regime = REGIMES[name]
        d = PROBE_DEFAULTS.get(name, {})
        steps = args.steps or d.get("steps", 400)
        settings = {"steps": steps, "batch_size": args.batch_size or d.get("batch_size", 128),
                    "web": args.web or d.get("web", 2000), "pcr": args.pcr if args.pcr is not None else d.get("pcr"),
                    "eval_every": args.eval_every or max(1, steps // 4)}
        target = load_target(args.target, regime["image_size"])
        pools = web_pools(target, settings["web"], regime["image_size"])
        held_out = web_pools(target, settings["web"], regime["image_size"], seed=1)  # reward AUC sample
        print(f"{name}: {regime}, {settings}; target {target.name} ({len(target.train)} train, {len(target.test)} "
              f"test, {len(target.class_names)} classes, chance {1 / len(target.class_names):.3f}); random pool "
              f"{len(pools['random'])} ({int(pools['random_relevant'].sum())} relevant), relevant pool "
              f"{len(pools['relevant'])}", flush=True)
        per = results["regimes"].setdefault(name, {"config": regime, "settings": settings, "arms": {}})
        if per.get("settings", settings) != settings:
            ap.error(f"{args.out} ran {name} with {per['settings']}: use those settings or another --out")
        for seed in range(args.seeds):
            for arm in arms:
                if any(r["seed"] == seed for r in per["arms"].get(arm, [])):
                    continue
                if arm == "target":
                    pool = None
                elif arm == "random_shuffled":  # the same images, in another order
                    pool = pools["random"][np.random.default_rng(1000 + seed).permutation(len(pools["random"]))]
                else:
                    pool = pools[arm]
                r = run_arm(regime, arm, target, pool, held_out, steps, settings["eval_every"], seed,
                            settings["batch_size"], settings["pcr"])
                per["arms"].setdefault(arm, []).append({"seed": seed, **r})
                per["paired"] = paired_differences(per["arms"])
                if args.out:
                    atomic_write_json(args.out, results)
    print(f"\n{args.target}: mean over seeds")
    print(f"{'regime':<16}{'arm':<17}{'seeds':>6}{'kNN':>8}{'linear':>8}{'AUC':>8}{'s/arm':>7}  reward AUC by features")
    for name, per in results["regimes"].items():
        for a, rs in per["arms"].items():
            by = {k: np.mean([r["reward_auc_by_features"][k] for r in rs]) for k in rs[0]["reward_auc_by_features"]}
            print(f"{name:<16}{a:<17}{len(rs):>6}" + "".join(f"{np.mean([r[k] for r in rs]):>8.3f}"
                                                             for k in ("knn", "linear", "reward_auc"))
                  + f"{np.mean([r['seconds'] for r in rs]):>7.0f}  " + " ".join(f"{k} {v:.3f}" for k, v in by.items()))
        for metric, pairs in per.get("paired", {}).items():
            print(f"{name} paired {metric}: " + "; ".join(
                f"{p} {v['mean']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}] (n={v['seeds']})" for p, v in pairs.items()))
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
