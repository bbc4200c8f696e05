"""Does the relevance reward separate relevant from irrelevant web images? And does self-supervision learn?

Target CIFAR-10, web tinyweb. For each encoder (random-init half-width ResNet-18, the same network trained with
MoCo v3 on CIFAR-10 train for a fixed budget, ImageNet-pretrained EfficientNet-Lite0) it embeds the target's
reference images and a sample of web images, computes every web image's reward (mean cosine similarity to its
k = 15 nearest target embeddings) and reports the ROC AUC of that reward for relevant versus irrelevant images
(ground truth: the image's true synset lies under a CIFAR-10 class synset, :func:`ie_env.data.ground_truth.relevant_mask`).
It also reports CIFAR-10 test kNN accuracy (weighted, k = 20) of each encoder: trained versus random-init is the
evidence that the self-supervised learner learns.

The trained checkpoint is cached under ``<cache>/checkpoints/`` (keyed by its configuration and budget) and
reused by later runs; embeddings are cached by :mod:`ie_env.learning.frozen`.

    python experiments/reward_auc.py --quick --json     # a few minutes
    python experiments/reward_auc.py --json             # the real numbers (longer; cached afterwards)
"""
from __future__ import annotations

import os

# On a shared, oversubscribed CPU OpenMP's default spin-waiting makes torch several times slower (measured
# here: 11 vs 62 training images/s); a passive wait policy must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import hashlib
import json
import time
from dataclasses import asdict

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from ie_env.data.ground_truth import relevant_mask
from ie_env.data.targets import load_target
from ie_env.data.vocabulary import load_vocabulary
from ie_env.envs.env import EnvConfig
from ie_env.learning.evaluation import knn_accuracy
from ie_env.learning.frozen import FrozenEncoder
from ie_env.learning.learner import Learner, LearnerConfig
from ie_env.learning.reward import RelevanceReward, RewardConfig
from ie_env.paths import cache_dir
from offline_cache.tinyweb import open_world


def trained_learner(target_train: np.ndarray, cfg: LearnerConfig, steps: int, time_limit: float = 0.0,
                    progress: bool = True) -> tuple[Learner | None, dict]:
    """A learner trained ``steps`` steps on ``target_train``, from the checkpoint cache when present.

    Training saves a partial checkpoint every 20 steps; a later call resumes it bit-for-bit (the learner's
    state covers weights, optimiser, RNG). With ``time_limit`` > 0 it stops after that many seconds and returns
    ``(None, meta)`` so the budget can be spread over several runs.
    """
    ident = json.dumps({"config": asdict(cfg), "steps": steps, "data": "cifar10-train",
                        "n": int(len(target_train))}, sort_keys=True)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:10]
    path = cache_dir() / "checkpoints" / f"cifar10-{cfg.objective}-{steps}-{digest}.pt"
    meta_path, partial = path.with_suffix(".json"), path.with_suffix(".partial.pt")
    partial_meta = path.with_suffix(".partial.json")
    if path.exists() and meta_path.exists():
        return Learner.load(path), {**json.loads(meta_path.read_text()), "cached": True}
    if partial.exists() and partial_meta.exists():
        learner = Learner.load(partial)
        done_meta = json.loads(partial_meta.read_text())
        losses, seconds_before = done_meta["losses"], done_meta["seconds"]
    else:
        learner, losses, seconds_before = Learner(cfg), [], 0.0
    start = time.perf_counter()
    with tqdm(total=steps, initial=learner.step, desc=f"SSL training ({cfg.objective}, batch {cfg.batch_size})",
              unit="step", disable=not progress) as bar:
        while learner.step < steps:
            stats = learner.train(None, None, target_train, steps=min(20, steps - learner.step))
            losses += stats.losses
            bar.update(stats.steps)
            bar.set_postfix(loss=f"{stats.loss:.3f}")
            elapsed = seconds_before + time.perf_counter() - start
            if learner.step < steps:
                learner.save(partial)
                partial_meta.write_text(json.dumps({"losses": losses, "seconds": elapsed}))
                if time_limit and time.perf_counter() - start > time_limit:
                    return None, {"steps_done": learner.step, "steps": steps, "train_seconds": round(elapsed, 1),
                                  "incomplete": True}
    seconds = seconds_before + time.perf_counter() - start
    meta = {"steps": steps, "batch_size": cfg.batch_size, "images_seen": steps * cfg.batch_size,
            "epochs": round(steps * cfg.batch_size / len(target_train), 3), "train_seconds": round(seconds, 1),
            "loss_first10": round(float(np.mean(losses[:10])), 4), "loss_last10": round(float(np.mean(losses[-10:])), 4),
            "objective": cfg.objective, "optimizer": cfg.optimizer, "lr": cfg.lr, "backbone": cfg.backbone,
            "width": cfg.width, "stem_stride": cfg.stem_stride, "image_size": cfg.image_size}
    learner.save(path)
    meta_path.write_text(json.dumps(meta))
    partial.unlink(missing_ok=True)
    partial_meta.unlink(missing_ok=True)
    return learner, {**meta, "cached": False}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="subsample web and target, small budget (minutes)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    parser.add_argument("--world", default="tinyweb")
    parser.add_argument("--web", type=int, help="web images sampled (0 = all; default 20000, quick 4000)")
    parser.add_argument("--reference", type=int, help="CIFAR-10 train images as reward reference (default 10000, quick 2000)")
    parser.add_argument("--knn-bank", type=int, help="labelled CIFAR-10 train images in the kNN bank (default 10000, quick 5000)")
    parser.add_argument("--knn-test", type=int, help="CIFAR-10 test images for kNN (default 5000, quick 2000)")
    parser.add_argument("--steps", type=int, help="SSL training steps of the trained encoder (default 600, quick 100)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-time-limit", type=float, default=0.0,
                        help="stop SSL training after this many seconds (saved; the next run resumes it); "
                             "the trained encoder is then left out of this run's results")
    parser.add_argument("--stem-stride", type=int, default=2,
                        help="ResNet-18 stem stride of the trained/random encoders (2: ~3x cheaper on a CPU; 1: CIFAR stem)")
    parser.add_argument("--encoders", default=f"random,trained,{EnvConfig.frozen_encoder}",
                        help="encoders to compare (default: random and SSL-trained ResNets and the frozen mode's default)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--k", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    q = args.quick
    n_web = args.web if args.web is not None else (4000 if q else 20000)
    n_ref = args.reference if args.reference is not None else (2000 if q else 10000)
    n_bank = args.knn_bank if args.knn_bank is not None else (5000 if q else 10000)
    n_test = args.knn_test if args.knn_test is not None else (2000 if q else 5000)
    steps = args.steps if args.steps is not None else (100 if q else 600)
    torch.set_num_threads(args.threads)
    encoders = [e for e in args.encoders.split(",") if e]

    t0 = time.perf_counter()
    target = load_target("cifar10", args.image_size)
    world = open_world(args.world)
    relevant = relevant_mask(world, target, load_vocabulary())
    rng = np.random.default_rng(args.seed)
    pick = lambda n, total: np.sort(rng.choice(total, n, replace=False)) if 0 < n < total else np.arange(total)
    web_idx, ref_idx = pick(n_web, len(world)), pick(n_ref, len(target.train))
    bank_idx, test_idx = pick(n_bank, len(target.probe_train)), pick(n_test, len(target.test))
    print(f"world {world.name}: {len(world)} images, {int(relevant.sum())} relevant to CIFAR-10 "
          f"({relevant.mean():.1%}); sample {len(web_idx)} web ({int(relevant[web_idx].sum())} relevant), "
          f"{len(ref_idx)} reference, kNN bank {len(bank_idx)} / test {len(test_idx)}", flush=True)
    web = world.load_images(web_idx.tolist(), args.image_size)
    labels = relevant[web_idx]

    base = LearnerConfig(width=0.5, stem_stride=args.stem_stride, image_size=args.image_size,
                         batch_size=args.batch_size, seed=args.seed)
    auc, knn, budget, timing = {}, {}, {}, {}
    for name in encoders:
        start = time.perf_counter()
        if name == "random":
            enc = FrozenEncoder(Learner(base), progress=True)
        elif name == "trained":
            learner, budget = trained_learner(target.train, base, steps, args.train_time_limit)
            if learner is None:
                print(f"trained: SSL training stopped at {budget['steps_done']}/{steps} steps (time limit); "
                      "run again to resume it", flush=True)
                continue
            enc = FrozenEncoder(learner, progress=True)
        else:
            enc = FrozenEncoder(name, args.image_size, progress=True)
        ref = enc.array_embeddings(target.train[ref_idx], f"cifar10-train-ref{len(ref_idx)}")
        web_emb = enc.array_embeddings(web, f"{world.name}-web{len(web_idx)}")
        reward = RelevanceReward(RewardConfig(k=args.k))
        reward.set_target(np.ascontiguousarray(ref))
        scores = reward.image_rewards(np.ascontiguousarray(web_emb))
        auc[name] = round(float(roc_auc_score(labels, scores)), 4)
        bank = enc.array_embeddings(target.probe_train[bank_idx], f"cifar10-bank{len(bank_idx)}")
        test = enc.array_embeddings(target.test[test_idx], f"cifar10-test{len(test_idx)}")
        knn[name] = round(knn_accuracy(bank, target.probe_train_labels[bank_idx], test, target.test_labels[test_idx]), 4)
        timing[name] = round(time.perf_counter() - start, 1)
        print(f"{name:<20} reward AUC {auc[name]:.4f}   CIFAR-10 kNN acc {knn[name]:.4f}   ({timing[name]} s)", flush=True)

    print(f"\n{'encoder':<20}{'reward ROC AUC':>16}{'CIFAR-10 kNN':>14}")
    for name in auc:
        print(f"{name:<20}{auc[name]:>16.4f}{knn[name]:>14.4f}")
    if budget and not budget.get("incomplete"):
        print(f"trained budget: {budget['steps']} steps x batch {budget['batch_size']} = {budget['images_seen']} images "
              f"({budget['epochs']} epochs), {budget['train_seconds']} s of training"
              f"{' (checkpoint from cache)' if budget.get('cached') else ''}; loss {budget['loss_first10']} -> "
              f"{budget['loss_last10']}")
    result = {"auc": auc, "knn": knn, "budget": budget,
              "sample": {"web": int(len(web_idx)), "web_relevant": int(labels.sum()), "reference": int(len(ref_idx)),
                         "knn_bank": int(len(bank_idx)), "knn_test": int(len(test_idx)), "k": args.k,
                         "image_size": args.image_size, "stem_stride": args.stem_stride},
              "seconds": {**timing, "total": round(time.perf_counter() - t0, 1)}, "quick": q}
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
