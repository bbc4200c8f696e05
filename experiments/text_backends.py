"""Speed and neighbour agreement of the text-embedding backends (fp32 and bf16) on the concept texts.

- ``{backend}_texts_per_s``: concept texts embedded per second, timed on ``--speed-texts`` texts drawn at random
  from the vocabulary (so short and long ones in their usual mix), after a warm-up batch.
- ``top10_agreement``: for ``--sample`` concepts, the share of their 10 nearest concepts (cosine, among all
  146,347) under fp32 that are also among the 10 nearest under bf16. Both full embedding sets come from the
  cache (``concept_embeddings`` computes the missing one: ~6 minutes for bf16, ~17 for fp32, on two cores).
- With ``--int8``, also PyTorch's dynamic int8 quantisation of the model's linear layers (a candidate that was
  not adopted): ``int8_texts_per_s``, and for it and bf16 the agreement of the 10 nearest texts within the
  ``--speed-texts`` sample (``sample_top10_agreement``), against fp32.
- With ``--onnx``, also the same model exported to ONNX and run in float32 by ONNX Runtime (the ``runtimes`` extra:
  ``pip install -e '.[runtimes]'``): ``onnx_texts_per_s`` and ``onnx_max_abs_diff``, the largest difference from
  PyTorch's fp32 vectors. A faster exact runtime would shorten the first run's text embeddings, the captions,
  lemmas and concept texts (docs/results.md, "First run on a fresh clone").

    python experiments/text_backends.py --json
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch

from ie_env.data.text_embedding import TextEmbedder, bf16_supported, cached_embeddings
from ie_env.data.vocabulary import load_vocabulary


def texts_per_second(texts: list[str], backend: str) -> float:
    embed = TextEmbedder(backend=backend)
    embed(texts[:64])  # warm-up: model load and first kernels
    start = time.perf_counter()
    embed(texts)
    return len(texts) / (time.perf_counter() - start)


def int8_embeddings(texts: list[str]) -> tuple[np.ndarray, float]:
    """Embeddings with the model's linear layers dynamically quantised to int8, and texts per second."""
    import copy

    from ie_env.data.text_embedding import _model

    model = torch.ao.quantization.quantize_dynamic(copy.deepcopy(_model()), {torch.nn.Linear}, dtype=torch.qint8)
    model.encode(texts[:64], batch_size=64)  # warm-up
    start = time.perf_counter()
    emb = model.encode(texts, batch_size=256, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(emb, np.float32), len(texts) / (time.perf_counter() - start)


def onnx_embeddings(texts: list[str], folder: str) -> tuple[np.ndarray, float]:
    """Embeddings by the model's transformer exported to ONNX (in ``folder``) and run by ONNX Runtime in float32
    (mean pooling and normalisation as sentence-transformers does them), and texts per second."""
    import onnxruntime

    from ie_env.data.text_embedding import _model

    model = _model()
    bert, tokenizer = model[0].auto_model.eval(), model.tokenizer
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class Hidden(torch.nn.Module):  # keyword arguments in, the last hidden state out
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, *inputs):
            return self.bert(**dict(zip(names, inputs))).last_hidden_state

    sample = tokenizer(texts[:2], padding=True, return_tensors="pt")
    path = f"{folder}/minilm.onnx"
    with torch.no_grad():
        torch.onnx.export(Hidden(), tuple(sample[k] for k in names), path, input_names=names, output_names=["hidden"],
                          dynamic_axes={k: {0: "batch", 1: "tokens"} for k in [*names, "hidden"]}, dynamo=False)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def embed(batch: list[str]) -> np.ndarray:
        enc = tokenizer(batch, padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="np")
        hidden = session.run(None, {k: enc[k].astype(np.int64) for k in names})[0]
        mask = enc["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together, as TextEmbedder does
    out = np.empty((len(texts), model.get_sentence_embedding_dimension()), np.float32)
    embed(texts[:64])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(texts), 256):
        out[order[i:i + 256]] = embed([texts[j] for j in order[i:i + 256]])
    return out, len(texts) / (time.perf_counter() - start)


def top10_agreement(a: np.ndarray, b: np.ndarray, rows: np.ndarray, k: int = 10) -> float:
    """Mean share of each sampled row's ``k`` nearest rows (itself excluded) under ``a`` kept under ``b``."""
    kept = []
    for emb_ in (a, b):
        e = torch.from_numpy(np.array(emb_, np.float32))
        sims = e[torch.from_numpy(rows)] @ e.T
        sims[torch.arange(len(rows)), torch.from_numpy(rows)] = -2.0
        kept.append(torch.topk(sims, k, dim=1).indices.numpy())
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(*kept)]))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed-texts", type=int, default=2048, help="texts timed per backend")
    ap.add_argument("--sample", type=int, default=2000,
                    help="concepts whose 10 nearest neighbours (over the whole vocabulary) are compared; 0: only the "
                         "speeds (the comparison needs the vocabulary embedded in fp32 too, ~15 min once)")
    ap.add_argument("--int8", action="store_true", help="also measure dynamic int8 quantisation (see above)")
    ap.add_argument("--onnx", action="store_true", help="also measure ONNX Runtime in float32 (see above)")
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args(argv)
    if not bf16_supported():
        raise SystemExit("this CPU has no native bfloat16 matrix products (AVX-512 BF16 / AMX): only fp32 runs here")
    vocab = load_vocabulary()
    rng = np.random.default_rng(0)
    texts = [vocab.texts[i] for i in rng.choice(len(vocab), args.speed_texts, replace=False)]
    result: dict = {"concepts": len(vocab), "speed_texts": len(texts)}
    for backend in ("fp32", "bf16"):
        result[f"{backend}_texts_per_s"] = round(texts_per_second(texts, backend), 1)
        print(f"{backend}: {result[f'{backend}_texts_per_s']:.0f} texts/s", flush=True)
    result["speedup"] = round(result["bf16_texts_per_s"] / result["fp32_texts_per_s"], 2)
    if args.int8:
        q, result["int8_texts_per_s"] = int8_embeddings(texts)
        ref = TextEmbedder()(texts)
        every = np.arange(len(texts))
        result["sample_top10_agreement"] = {
            "bf16": round(top10_agreement(ref, TextEmbedder(backend="bf16")(texts), every), 4),
            "int8": round(top10_agreement(ref, q, every), 4)}
        kept = result["sample_top10_agreement"]
        print(f"int8: {result['int8_texts_per_s']:.0f} texts/s; 10 nearest within the {len(texts)} timed texts kept: "
              f"bf16 {kept['bf16']:.3f}, int8 {kept['int8']:.3f}", flush=True)
    if args.onnx:
        with tempfile.TemporaryDirectory() as folder:
            vectors, result["onnx_texts_per_s"] = onnx_embeddings(texts, folder)
        result["onnx_texts_per_s"] = round(result["onnx_texts_per_s"], 1)
        result["onnx_max_abs_diff"] = float(np.abs(vectors - TextEmbedder()(texts)).max())
        ratio = result["onnx_texts_per_s"] / result["fp32_texts_per_s"]
        print(f"onnx fp32: {result['onnx_texts_per_s']:.0f} texts/s ({ratio:.2f}x PyTorch fp32), largest "
              f"difference {result['onnx_max_abs_diff']:.1e}", flush=True)
    result["sample"] = args.sample
    if args.sample:  # the full vocabulary's embeddings in both backends (computed once: ~15 min in fp32)
        key = f"concepts-{vocab.fingerprint}"
        full = {b: cached_embeddings(vocab.texts, key, backend=b) for b in ("fp32", "bf16")}
        rows = rng.choice(len(vocab), args.sample, replace=False)
        result["top10_agreement"] = round(top10_agreement(full["fp32"], full["bf16"], rows), 4)
        print(f"bf16 is {result['speedup']}x fp32; it keeps {100 * result['top10_agreement']:.1f}% of the 10 "
              f"nearest concepts of {args.sample} sampled concepts", flush=True)
    else:
        print(f"bf16 is {result['speedup']}x fp32", flush=True)
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
