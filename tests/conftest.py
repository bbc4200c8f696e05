"""Shared fixtures: a tiny synthetic Tiny-ImageNet folder and a tiny world built from it."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

# Real Tiny ImageNet wnids: 3 relevant to CIFAR-10 (tabby/cat, sports car/car, golden retriever/dog), 3 not.
TINY_CLASSES = ["n02123045", "n04285008", "n02099601", "n01443537", "n07747607", "n04067472"]
PER_CLASS = 12


def jpeg(seed: int, size: int = 64) -> bytes:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, 3)
    arr = np.clip(base + rng.normal(0, 30, (size, size, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory):
    """A canonical ``tiny-imagenet-200`` folder (train/<wnid>/images/<wnid>_<i>.JPEG) with synthetic photos."""
    root = tmp_path_factory.mktemp("tiny-imagenet-200")
    for c, wnid in enumerate(TINY_CLASSES):
        folder = root / "train" / wnid / "images"
        folder.mkdir(parents=True)
        for i in range(PER_CLASS):
            (folder / f"{wnid}_{i}.JPEG").write_bytes(jpeg(1000 * c + i))
    return root


@pytest.fixture(scope="session")
def tiny_world(tiny_source, tmp_path_factory):
    from offline_cache.tinyweb import TinywebConfig, build_tinyweb, open_world

    path = build_tinyweb(TinywebConfig(source=str(tiny_source)), name=str(tmp_path_factory.mktemp("w") / "tiny"))
    return open_world(str(path))


@pytest.fixture(scope="session")
def concepts():
    """A small vocabulary: the tiny world's class names plus 60 unrelated nouns."""
    from ie_env.data.vocabulary import load_vocabulary

    v = load_vocabulary()
    named = [v.find(q)[0] for q in ("tabby", "sports car", "golden retriever", "goldfish", "lemon", "reel")]
    return sorted(set(named + list(range(1000, 1060))))
