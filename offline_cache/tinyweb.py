"""The default offline world, "tinyweb": the 100,000 Tiny ImageNet train photos (200 WordNet classes) as a web.

Each image gets a caption derived from its synset, worded differently from image to image (the synset's
synonyms, its hypernym, a dozen templates). Like real alt text it is imperfect: a share ``noise`` of the images
(default 10%) carry the caption of another Tiny ImageNet class, of a random WordNet noun, or a generic one
("IMG_4821.JPG"). The world is a snapshot (see :mod:`offline_cache.snapshot`) whose ``images`` table is the
catalogue, plus ``captions.json`` / ``captions.npy``: the distinct captions and their MiniLM embeddings, which
:class:`offline_cache.caption_engine.CaptionIndexEngine` searches like the paper's LAION engine.

The build is deterministic (captions are drawn from a generator seeded by ``seed`` and the image key), verifies
the shards against SHA256SUMS, and is atomic: it writes into a temporary folder that is renamed when complete.
It reads either the shards of ../shared/data or the canonical ``tiny-imagenet-200`` folder of the CS231N zip
(``train/<wnid>/images/<wnid>_<i>.JPEG``).
"""
from __future__ import annotations

import io
import random
import re
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ie_env.atomic import atomic_write_json
from ie_env.data.shards import iter_shards, shard_files
from ie_env.data.text_embedding import MODEL_NAME, TextEmbedder
from ie_env.data.vocabulary import load_vocabulary
from ie_env.paths import DataMissingError
from ie_env.types import SearchResult
from offline_cache.snapshot import Snapshot
from offline_cache.world import World, world_dir

TEMPLATES = [
    "{name}", "a photo of a {name}", "{name} photo", "a close-up photo of the {name}", "the {name}",
    "my {name}", "picture of a {name}", "a {name}, a kind of {hypernym}", "{hypernym}: {name}",
    "a blurry photo of a {name}", "{name} (stock image)", "a small {name}", "an image of the {name} outdoors",
]
GENERIC = ["IMG_{n}.JPG", "DSC{n}.jpg", "untitled", "photo", "image {n}", "download", "screenshot {n}",
           "my photos {n}", "wallpaper", "thumbnail"]
LICENSE = "imagenet-noncommercial-research"


@dataclass
class TinywebConfig:
    """How tinyweb is built."""

    noise: float = 0.10
    """Share of images whose caption belongs to another concept or is generic."""
    seed: int = 0
    """Seed of the caption draws (the build is a pure function of it and the source)."""
    source: str = ""
    """A canonical ``tiny-imagenet-200`` folder to read instead of the shards of the data directory."""
    per_class: int = 0
    """Keep only the first ``per_class`` images of each class (0 = all 500); for tiny test worlds."""
    classes: int = 0
    """Keep only the first ``classes`` classes by wnid (0 = all 200); for tiny test worlds."""

    def __post_init__(self):
        if not 0 <= self.noise <= 1:
            raise ValueError(f"noise={self.noise} must lie in [0, 1]: it is the share of images with a wrong caption")


def _canonical(root: Path) -> Iterator[tuple[str, bytes, str]]:
    train = root / "train"
    if not train.is_dir():
        raise DataMissingError(f"{root} is not a tiny-imagenet-200 folder (no train/ inside): unzip "
                               "tiny-imagenet-200.zip from the CS231N site and give its top folder")
    for folder in sorted(p for p in train.iterdir() if p.is_dir()):
        for f in sorted((folder / "images").glob("*.JPEG")):
            yield f.stem, f.read_bytes(), folder.name


def _samples(cfg: TinywebConfig) -> list[tuple[str, bytes, str]]:
    """All (key, jpeg, wnid) of the source, in a canonical order (wnid, then image number)."""
    if cfg.source:
        rows = list(_canonical(Path(cfg.source)))
    else:
        rows = [(key.rpartition("/")[2], jpg, meta["wnid"])
                for key, jpg, meta in iter_shards(shard_files("tiny-imagenet-200-train-"))]
    rows.sort(key=lambda r: (r[2], int(r[0].rpartition("_")[2]) if r[0].rpartition("_")[2].isdigit() else 0, r[0]))
    wnids = sorted({r[2] for r in rows})
    if cfg.classes:
        keep = set(wnids[:cfg.classes])
        rows = [r for r in rows if r[2] in keep]
    if cfg.per_class:
        counts: Counter[str] = Counter()
        kept = []
        for r in rows:
            if counts[r[2]] < cfg.per_class:
                counts[r[2]] += 1
                kept.append(r)
        rows = kept
    return rows


def caption_for(key: str, wnid: str, cfg: TinywebConfig, vocab, class_wnids: list[str]) -> tuple[str, str]:
    """The caption of one image and its kind (``true``, ``other_class``, ``other_noun``, ``generic``)."""
    rng = random.Random(f"{cfg.seed}:{key}")
    kind, about = "true", wnid
    if rng.random() < cfg.noise:
        u = rng.random()
        if u < 0.5 and len(class_wnids) > 1:
            kind, about = "other_class", rng.choice([w for w in class_wnids if w != wnid])
        elif u < 0.8:
            kind, about = "other_noun", vocab.wnids[rng.randrange(len(vocab))]
        else:
            return rng.choice(GENERIC).format(n=rng.randrange(1000, 9999)), "generic"
    names = vocab.synset_lemmas(about)
    parents = vocab.parents(about)
    hypernym = vocab.synset_lemmas(parents[0])[0] if parents else names[0]
    name = rng.choice(names)
    caption = rng.choice(TEMPLATES).format(name=name, hypernym=hypernym)
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", caption), kind


def build_tinyweb(cfg: TinywebConfig | None = None, name: str = "tinyweb", force: bool = False) -> Path:
    """Build the world into ``<cache>/worlds/<name>`` (skipped when it exists, unless ``force``)."""
    cfg = cfg or TinywebConfig()
    final = world_dir(name)
    name = final.name
    if (final / "captions.npy").exists() and not force:
        return final
    start = time.perf_counter()
    vocab = load_vocabulary()
    tmp = final.with_name(f".{name}.building")
    shutil.rmtree(tmp, ignore_errors=True)
    rows = _samples(cfg)
    if not rows:
        raise DataMissingError("the tinyweb source holds no images")
    class_wnids = sorted({r[2] for r in rows})
    snap = Snapshot(tmp, create=True)
    snap.set_meta("world", name)
    snap.set_meta("build", {**asdict(cfg), "model": MODEL_NAME})
    captions: dict[str, int] = {}
    kinds: dict[str, int] = {}
    batch: list[SearchResult] = []
    with snap.transaction():
        for key, jpg, wnid in tqdm(rows, desc=f"building {name}", unit="img"):
            with Image.open(io.BytesIO(jpg)) as img:
                width, height = img.size
            sha = snap.put_blob(jpg, "image/jpeg", width, height)
            caption, kind = caption_for(key, wnid, cfg, vocab, class_wnids)
            captions.setdefault(caption, len(captions))
            kinds[kind] = kinds.get(kind, 0) + 1
            batch.append(SearchResult(0, key, f"snapshot://{sha}", caption, name, LICENSE, sha, width, height,
                                      {"wnid": wnid, "caption_kind": kind}))
        snap.put_images(batch)
    texts = list(captions)
    emb = TextEmbedder(progress=True)(texts)
    np.save(tmp / "captions.npy", emb, allow_pickle=False)
    atomic_write_json(tmp / "captions.json", texts)
    snap.set_meta("stats", {"images": len(rows), "classes": len(class_wnids), "captions": len(texts),
                            "caption_kinds": kinds, "build_seconds": round(time.perf_counter() - start, 1)})
    snap._conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, readable read-only
    snap.close()
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


_OPEN: dict[Path, World] = {}


def open_world(name: str = "tinyweb", build: bool = True) -> World:
    """Open a world by name (or folder path); the default world is built first when missing."""
    path = world_dir(name)
    if path not in _OPEN:
        if not (path / "captions.npy").exists() and build and name == "tinyweb":
            build_tinyweb()
        _OPEN[path] = World(path)
    return _OPEN[path]
