"""CIFAR-10 as a target: 50,000 unlabelled train images for self-supervision, 10,000 labelled test images."""
from __future__ import annotations

import numpy as np

from ie_env.data.images import decode_many
from ie_env.data.shards import iter_shards, shard_files
from ie_env.data.targets.base import TargetData
from ie_env.data.targets.cache import cached_arrays
from ie_env.data.vocabulary import load_vocabulary

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SYNSETS = ["airplane.n.01", "car.n.01", "bird.n.01", "cat.n.01", "deer.n.01", "dog.n.01", "frog.n.01",
           "horse.n.01", "ship.n.01", "truck.n.01"]
"""The WordNet synset of each CIFAR-10 class (``automobile`` is WordNet's car.n.01)."""


def _split(prefix: str, size: int) -> dict[str, np.ndarray]:
    keys, blobs, labels = [], [], []
    for key, jpg, meta in iter_shards(shard_files(prefix)):
        keys.append(key)
        blobs.append(jpg)
        labels.append(CLASSES.index(meta["label"]))
    order = np.argsort(keys, kind="stable")
    return {"images": decode_many([blobs[i] for i in order], size), "labels": np.asarray(labels, np.int64)[order]}


def load(image_size: int = 32) -> TargetData:
    vocab = load_vocabulary()
    train = cached_arrays(f"cifar10-train-{image_size}", lambda: _split("cifar10-train-", image_size))
    test = cached_arrays(f"cifar10-test-{image_size}", lambda: _split("cifar10-test-", image_size))
    return TargetData("cifar10", CLASSES, [vocab.wnid(s) for s in SYNSETS], train["images"], train["images"],
                      train["labels"], test["images"], test["labels"])
