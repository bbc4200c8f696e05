"""Speed and accuracy of the frozen trunk's passes: float32 against bfloat16, and CPU inference runtimes.

What the loop pays for every downloaded image in full mode (the ``head`` learner's 4 augmented views and the
plain view, :mod:`ie_env.learning.views`) and in frozen mode (one plain pass at 96 px, :mod:`ie_env.learning.frozen`).

Printed (and with ``--json`` one JSON line at the end):

- ``plain``: images/s of one plain pass of EfficientNet-Lite0 at 64 px over ``--images`` web images, per precision
  (``fp32``: float32 channels_last, the store's setting before; ``bf16``: bfloat16 autocast) and batch size;
  with ``onnxruntime`` or ``openvino`` installed (``pip install -e .[runtimes]``), the same model exported to
  ONNX and run by them.
- ``views``: images/s of :class:`ie_env.learning.views.ViewStore` computing 4 augmented views + the plain view per
  image from scratch (augmentation included), per precision: what a deep episode waits for.
- ``frozen_96px``: images/s of frozen mode's features (``efficientnet_lite0-96px``), per precision.
- ``cosine``: cosine similarity of bfloat16 to float32 features, mean and minimum over the images.
- ``knn``: kNN accuracy (k = 20) of the plain trunk features on ``--target``'s test split, float32 and bfloat16
  (the accuracy cost of the lower precision).

    python experiments/bench_trunk.py --json
    python experiments/bench_trunk.py --images 512 --batches 256 --json     # quicker
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ie_env.data.targets import load_target  # noqa: E402
from ie_env.learning.augment import to_float_nchw  # noqa: E402
from ie_env.learning.evaluation import knn_accuracy  # noqa: E402
from ie_env.learning.frozen import FrozenEncoder  # noqa: E402
from offline_cache.tinyweb import open_world  # noqa: E402


def rate(fn, n: int, repeats: int = 2) -> float:
    """Images per second of ``fn()`` over ``n`` images (best of ``repeats`` after one warm-up call)."""
    fn()
    best = min(_timed(fn) for _ in range(repeats))
    return n / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def plain_pass(encoder: FrozenEncoder, x: torch.Tensor, batch: int) -> np.ndarray:
    """Features of a float NCHW batch through the trunk, ``batch`` at a time, under the encoder's precision."""
    model = encoder.learner.model.eval()
    out = []
    with torch.inference_mode(), encoder.autocast():
        for s in range(0, len(x), batch):
            out.append(model.encode(x[s:s + batch].contiguous(memory_format=torch.channels_last)).float())
    return torch.cat(out).numpy()


def runtimes(encoder: FrozenEncoder, x: torch.Tensor, batch: int, reference: np.ndarray) -> dict:
    """images/s and cosine to float32 of the trunk exported to ONNX and run by onnxruntime / OpenVINO (when
    installed)."""
    out: dict = {}
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    try:
        import openvino as ov
    except ImportError:
        ov = None
    if ort is None and ov is None:
        return {"skipped": "neither onnxruntime nor openvino is installed (pip install -e .[runtimes])"}
    model = encoder.learner.model.backbone.eval()
    path = Path(tempfile.mkdtemp()) / "trunk.onnx"
    try:
        torch.onnx.export(model, (x[:batch],), str(path), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
    except Exception as exc:  # noqa: BLE001 - an exporter that fails is a measurement, not a crash
        return {"skipped": f"ONNX export failed: {type(exc).__name__}: {exc}"[:300]}
    arr = x.contiguous().numpy()

    def cosine(y: np.ndarray) -> float:
        a = y / np.linalg.norm(y, axis=1, keepdims=True)
        b = reference / np.linalg.norm(reference, axis=1, keepdims=True)
        return float((a * b).sum(1).mean())

    if ort is not None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        run = lambda: np.concatenate([sess.run(None, {"x": arr[s:s + batch]})[0]  # noqa: E731
                                      for s in range(0, len(arr), batch)])
        out["onnxruntime_fp32"] = {"images_per_s": round(rate(run, len(arr)), 1), "cosine": round(cosine(run()), 5)}
    if ov is not None:
        core = ov.Core()
        for hint in ("f32", "bf16"):
            compiled = core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": hint,
                                                             "INFERENCE_NUM_THREADS": torch.get_num_threads()})
            run = lambda c=compiled: np.concatenate([c(arr[s:s + batch])[0]  # noqa: E731
                                                     for s in range(0, len(arr), batch)])
            out[f"openvino_{hint}"] = {"images_per_s": round(rate(run, len(arr)), 1),
                                       "cosine": round(cosine(run()), 5)}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", default="tinyweb", help="world whose images are timed")
    parser.add_argument("--images", type=int, default=1024, help="images timed per setting")
    parser.add_argument("--batches", default="128,256,512", help="batch sizes of the plain pass")
    parser.add_argument("--target", default="tiny-imagenet:carnivore.n.01", help="target of the kNN check")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--skip-runtimes", action="store_true", help="leave onnxruntime / OpenVINO out")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result: dict = {"threads": torch.get_num_threads(), "images": args.images}
    world = open_world(args.world, build=False)
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(world.sha256), args.images, replace=False))
    images64 = world.load_images(idx.tolist(), 64)
    x = to_float_nchw(images64)
    enc = {p: FrozenEncoder("efficientnet_lite0", 64, precision=p, progress=False) for p in ("fp32", "bf16")}

    result["plain"] = {}
    for p, e in enc.items():
        for b in (int(v) for v in args.batches.split(",")):
            result["plain"][f"{p}_batch{b}"] = round(rate(lambda e=e, b=b: plain_pass(e, x, b), len(x)), 1)
            print(f"plain pass 64 px, {p}, batch {b}: {result['plain'][f'{p}_batch{b}']:.0f} images/s", flush=True)
    ref, low = plain_pass(enc["fp32"], x, 256), plain_pass(enc["bf16"], x, 256)
    cos = (ref * low).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(low, axis=1))
    result["cosine"] = {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)}
    print(f"cosine bf16 to fp32: mean {cos.mean():.5f}, min {cos.min():.5f}", flush=True)
    if not args.skip_runtimes:
        result["runtimes"] = runtimes(enc["fp32"], x, 256, ref)
        print(f"runtimes: {result['runtimes']}", flush=True)

    from ie_env.learning import frozen
    from ie_env.learning import views as views_module

    result["views"] = {}
    with tempfile.TemporaryDirectory() as tmp:  # a cold store: every image's views computed
        old = os.environ.get("IE_CACHE_DIR")
        os.environ["IE_CACHE_DIR"] = tmp
        try:
            for p in ("fp32", "bf16"):
                os.environ["IE_TRUNK_PRECISION"] = p
                frozen._ENCODERS.clear()  # the shared encoders resolved their precision when built
                store = views_module.ViewStore("efficientnet_lite0", 64, 4, progress=False)
                plain = views_module.ViewStore("efficientnet_lite0", 64, 0, progress=False)
                start = time.perf_counter()
                store.features(images64)
                plain.features(images64)
                result["views"][p] = round(len(images64) / (time.perf_counter() - start), 1)
                print(f"views (4 augmented + plain) per image, {p}: {result['views'][p]:.0f} images/s", flush=True)
                e96 = FrozenEncoder("efficientnet_lite0-96px", 96, precision=p, progress=False)
                images96 = world.load_images(idx.tolist(), 96)
                result.setdefault("frozen_96px", {})[p] = round(rate(lambda e=e96: e.embed(images96), len(idx), 1), 1)
                print(f"frozen mode features, 96 px, {p}: {result['frozen_96px'][p]:.0f} images/s", flush=True)
        finally:
            os.environ.pop("IE_TRUNK_PRECISION", None)
            if old is None:
                os.environ.pop("IE_CACHE_DIR", None)
            else:
                os.environ["IE_CACHE_DIR"] = old
            frozen._ENCODERS.clear()

    target = load_target(args.target, 64)
    result["knn"] = {"target": args.target}
    for p, e in enc.items():
        acc = knn_accuracy(e.embed(target.probe_train), target.probe_train_labels, e.embed(target.test),
                           target.test_labels, k=20)
        result["knn"][p] = round(float(acc), 4)
    print(f"kNN accuracy of the trunk's plain features on {args.target}: fp32 {result['knn']['fp32']:.4f}, "
          f"bf16 {result['knn']['bf16']:.4f}", flush=True)
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
