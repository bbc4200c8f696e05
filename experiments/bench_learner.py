"""Benchmark of the learner and the reward on this machine's CPU.

Prints a table of training images/s (each image as two augmented views, forward + backward + optimiser step),
embedding images/s (eval mode) at 32 and 64 px for each backbone, augmentation images/s, and reward throughput:
faiss ``IndexFlatIP`` versus a plain numpy matmul + argpartition, 10k queries against 50k targets, k = 15.

    python experiments/bench_learner.py            # full
    python experiments/bench_learner.py --quick    # a few minutes
    python experiments/bench_learner.py --json     # ... and one JSON object on the last line
"""
from __future__ import annotations

import os

# On a shared, oversubscribed CPU OpenMP's default spin-waiting makes torch several times slower (measured
# here: 11 vs 62 training images/s); a passive wait policy must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import time

import numpy as np
import torch

from ie_env.learning.augment import TwoViewAugment
from ie_env.learning.learner import Learner, LearnerConfig
from ie_env.learning.reward import RelevanceReward, RewardConfig, numpy_image_rewards

BACKBONES = {
    "resnet18-w0.5": dict(backbone="resnet18", width=0.5),
    "resnet18-w0.5-stem2": dict(backbone="resnet18", width=0.5, stem_stride=2),
    "efficientnet_lite0": dict(backbone="efficientnet_lite0", pretrained=True),
}


def images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def bench_model(name: str, size: int, batch: int, steps: int, embed_n: int) -> tuple[float, float]:
    learner = Learner(LearnerConfig(**BACKBONES[name], image_size=size, batch_size=batch, seed=0))
    data = images(max(4 * batch, 256), size)
    learner.train(None, None, data, steps=1)  # warm-up (allocations, oneDNN kernel selection)
    start = time.perf_counter()
    stats = learner.train(None, None, data, steps=steps)
    train = stats.images / (time.perf_counter() - start)
    emb_data = images(embed_n, size, seed=1)
    learner.embed(emb_data[:64])
    start = time.perf_counter()
    learner.embed(emb_data)
    embed = embed_n / (time.perf_counter() - start)
    return train, embed


def bench_augment(size: int, n: int, repeats: int) -> float:
    aug, gen, data = TwoViewAugment(size), torch.Generator().manual_seed(0), images(n, size)
    aug(data, gen)
    start = time.perf_counter()
    for _ in range(repeats):
        aug(data, gen)
    return n * repeats / (time.perf_counter() - start)


def bench_reward(queries: int, targets: int, dim: int, k: int) -> dict:
    rng = np.random.default_rng(0)
    q = rng.normal(size=(queries, dim)).astype(np.float32)
    t = rng.normal(size=(targets, dim)).astype(np.float32)
    reward = RelevanceReward(RewardConfig(k=k))
    start = time.perf_counter()
    reward.set_target(t)
    r_faiss = reward.image_rewards(q)
    faiss_s = time.perf_counter() - start
    start = time.perf_counter()
    r_numpy = numpy_image_rewards(q, t, k=k)
    numpy_s = time.perf_counter() - start
    return {"queries": queries, "targets": targets, "dim": dim, "k": k, "faiss_s": round(faiss_s, 3),
            "numpy_s": round(numpy_s, 3), "faiss_queries_per_s": round(queries / faiss_s),
            "numpy_queries_per_s": round(queries / numpy_s),
            "max_abs_diff": float(np.abs(r_faiss - r_numpy).max())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps and images (a few minutes)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--backbones", default=",".join(BACKBONES), help="comma-separated subset of "
                        + ", ".join(BACKBONES))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        import faiss
        faiss.omp_set_num_threads(args.threads)
    except AttributeError:
        pass
    names = [n for n in args.backbones.split(",") if n]
    unknown = set(names) - set(BACKBONES)
    if unknown:
        parser.error(f"unknown backbone(s) {sorted(unknown)}: choose from {', '.join(BACKBONES)}")
    batch, steps, embed_n = (64, 4, 1024) if args.quick else (128, 8, 2048)
    result: dict = {"threads": args.threads, "quick": args.quick, "train_batch": batch, "train_steps": steps,
                    "train_images_per_s": {}, "embed_images_per_s": {}, "augment_images_per_s": {}}
    rows = []
    for name in names:
        for size in (32, 64):
            slow = name == "efficientnet_lite0" or (size == 64 and "stem2" not in name)
            tr, em = bench_model(name, size, batch, max(2, steps // 2) if slow else steps,
                                 embed_n // 2 if slow else embed_n)
            key = f"{name}@{size}"
            result["train_images_per_s"][key] = round(tr, 1)
            result["embed_images_per_s"][key] = round(em, 1)
            rows.append((name, size, tr, em))
            print(f"  measured {key}: train {tr:.1f} img/s, embed {em:.1f} img/s", flush=True)
    for size in (32, 64):
        result["augment_images_per_s"][f"{size}"] = round(bench_augment(size, 512, 2 if args.quick else 5), 1)
    result["reward"] = bench_reward(10_000, 50_000, 256, 15)

    print(f"\nLearner throughput ({args.threads} threads; training counts images, each seen as two views)")
    print(f"{'backbone':<22}{'px':>4}{'train img/s':>14}{'embed img/s':>14}")
    for name, size, tr, em in rows:
        print(f"{name:<22}{size:>4}{tr:>14.1f}{em:>14.1f}")
    print("augmentation (two views): " + ", ".join(f"{s} px {v:.0f} img/s"
                                                  for s, v in result["augment_images_per_s"].items()))
    r = result["reward"]
    print(f"\nReward, {r['queries']} queries x {r['targets']} targets, dim {r['dim']}, k={r['k']}")
    print(f"{'method':<22}{'seconds':>10}{'queries/s':>12}")
    print(f"{'faiss IndexFlatIP':<22}{r['faiss_s']:>10.2f}{r['faiss_queries_per_s']:>12}")
    print(f"{'numpy matmul+argpart':<22}{r['numpy_s']:>10.2f}{r['numpy_queries_per_s']:>12}")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
