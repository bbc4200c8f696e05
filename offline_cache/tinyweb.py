"""The default offline world, "tinyweb": the 100,000 Tiny ImageNet train photos (200 WordNet classes) as a web.

Version 2 (the default, ``tinyweb``) gives every image its own alt text, as in LAION, which the paper's engine
searched caption by caption (:mod:`offline_cache.alt_text`): the object's name as people write it (a synonym,
sometimes the hypernym, a plural or a longer phrase), words read off the image's own pixels at build time
(dominant colours, dark or bright, black and white, busy or plain background), and words that have nothing to
do with the pixels (owners, places, dates, photo jargon, file names). Like real alt text it is imperfect: a
share ``noise`` (default 10%) of the images are captioned as another Tiny ImageNet class (5%), a random WordNet
noun (3%), or generically ("IMG_4821.JPG ...", 2%). Version 1 (``tinyweb-v1``, kept to reproduce earlier
figures) draws each caption from 13 templates over the class's synonyms, so 100,000 images share ~8,900
captions.

The world is a snapshot (see :mod:`offline_cache.snapshot`) whose ``images`` table is the catalogue, plus
``captions.json`` / ``captions.npy``: the distinct captions and their MiniLM embeddings, which
:class:`offline_cache.caption_engine.CaptionIndexEngine` searches like the paper's LAION engine.

The build is deterministic (every draw comes from a generator seeded by ``seed`` and the image key; pixel
words from the pixels), verifies the shards against SHA256SUMS, and is atomic: it writes into a temporary
folder that is renamed when complete. It reads either the shards of ../shared/data or the canonical
``tiny-imagenet-200`` folder of the CS231N zip (``train/<wnid>/images/<wnid>_<i>.JPEG``).
"""
from __future__ import annotations

import io
import random
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ie_env.atomic import atomic_write_json
from ie_env.data.images import decode_many
from ie_env.data.shards import iter_shards, shard_files
from ie_env.data.text_embedding import MODEL_NAME, TextEmbedder, announce
from ie_env.data.vocabulary import load_vocabulary
from ie_env.paths import DataMissingError
from ie_env.types import SearchResult
from offline_cache.alt_text import AltTextConfig, alt_text, caption_kind, pixel_word_list, pixel_words_batch
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
    version: int = 2
    """2: every image its own alt text (the default world); 1: template captions shared by many images."""

    def __post_init__(self):
        if not 0 <= self.noise <= 1:
            raise ValueError(f"noise={self.noise} must lie in [0, 1]: it is the share of images with a wrong caption")
        if self.version not in (1, 2):
            raise ValueError(f"version={self.version}: tinyweb is built as version 2 (alt text) or 1 (templates)")

    @property
    def alt_text(self) -> AltTextConfig:
        """The alt-text draws of version 2, with ``noise`` split as 5 : 3 : 2 (another class, a noun, generic)."""
        return AltTextConfig(seed=self.seed, other_class=self.noise * 0.5, other_noun=self.noise * 0.3,
                             generic=self.noise * 0.2)


VERSIONS = {"tinyweb": 2, "tinyweb-v1": 1}
"""World names the builder knows, and the version each is built as."""


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


def alt_captions(rows: list[tuple[str, bytes, str]], cfg: TinywebConfig, vocab,
                 class_wnids: list[str]) -> list[tuple[str, str, list[str]]]:
    """Version 2: every image's own alt text, its kind and its pixel words (draws seeded by the image key)."""
    acfg = cfg.alt_text
    out = []
    for start in tqdm(range(0, len(rows), 4096), desc="alt text", unit="batch"):
        chunk = rows[start:start + 4096]
        words = pixel_words_batch(decode_many([jpg for _, jpg, _ in chunk], 64))
        for (key, _, wnid), w in zip(chunk, words):
            kind = caption_kind(key, acfg)
            rng = random.Random(f"{cfg.seed}:{key}:about")
            about = wnid
            if kind == "other_class" and len(class_wnids) > 1:
                about = rng.choice([c for c in class_wnids if c != wnid])
            elif kind in ("other_noun", "other_class"):
                kind, about = "other_noun", vocab.wnids[rng.randrange(len(vocab))]
            names = [n.replace("_", " ") for n in vocab.synset_lemmas(about)]
            parents = vocab.parents(about)
            hypernym = vocab.synset_lemmas(parents[0])[0].replace("_", " ") if parents else ""
            out.append((alt_text(key, names, hypernym, w, acfg, generic=kind == "generic"), kind,
                        pixel_word_list(w)))
    return out


ANNOUNCE_TEXTS = 5000
"""Captions above which the world's build announces their embedding with a measured estimate (a tiny world's
build does not pay for the measurement)."""


def build_tinyweb(cfg: TinywebConfig | None = None, name: str = "tinyweb", force: bool = False) -> Path:
    """Build the world into ``<cache>/worlds/<name>`` (skipped when it exists, unless ``force``); the version is
    ``cfg.version``, or the one :data:`VERSIONS` gives the name when no ``cfg`` is passed."""
    cfg = cfg or TinywebConfig(version=VERSIONS.get(name, 2))
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
    print(f"building the world {name} from {len(rows):,} photos: alt text, storing, then the captions' embeddings; "
          f"done once, kept in {final}", file=sys.stderr, flush=True)
    drawn = (alt_captions(rows, cfg, vocab, class_wnids) if cfg.version == 2 else
             [(*caption_for(key, wnid, cfg, vocab, class_wnids), []) for key, _, wnid in rows])
    snap = Snapshot(tmp, create=True)
    snap.set_meta("world", name)
    snap.set_meta("build", {**asdict(cfg), "model": MODEL_NAME})
    captions: dict[str, int] = {}
    kinds: dict[str, int] = {}
    batch: list[SearchResult] = []
    with snap.transaction():
        for (key, jpg, wnid), (caption, kind, words) in zip(tqdm(rows, desc=f"storing {name}", unit="img"), drawn):
            with Image.open(io.BytesIO(jpg)) as img:
                width, height = img.size
            sha = snap.put_blob(jpg, "image/jpeg", width, height)
            captions.setdefault(caption, len(captions))
            kinds[kind] = kinds.get(kind, 0) + 1
            batch.append(SearchResult(0, key, f"snapshot://{sha}", caption, name, LICENSE, sha, width, height,
                                      {"wnid": wnid, "caption_kind": kind} | ({"pixel_words": words} if words else {})))
        snap.put_images(batch)
    texts = list(captions)
    if len(texts) > ANNOUNCE_TEXTS:
        announce(texts, "fp32", "the world's captions, which its search engine ranks", final / "captions.npy")
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
        if not (path / "captions.npy").exists() and build and name in VERSIONS:
            build_tinyweb(name=name)
        _OPEN[path] = World(path)
    return _OPEN[path]
