"""Tiny ImageNet val subsets as targets: every val class under a WordNet ancestor (e.g. dog.n.01).

The 50 labelled val images of each selected class are split deterministically: the first 30 (by key) form the
unlabelled self-supervision split and the labelled probe split, the last 20 the test split.
"""
from __future__ import annotations

import numpy as np

from ie_env.data.images import decode_many
from ie_env.data.shards import iter_shards, shard_files
from ie_env.data.targets.base import TargetData, TargetError
from ie_env.data.targets.cache import cached_arrays
from ie_env.data.vocabulary import load_vocabulary

TRAIN_PER_CLASS = 30


def _val(size: int) -> dict[str, np.ndarray]:
    rows = sorted((key, jpg, meta["wnid"]) for key, jpg, meta in iter_shards(shard_files("tiny-imagenet-200-val-")))
    return {"images": decode_many([r[1] for r in rows], size), "wnids": np.asarray([r[2] for r in rows]),
            "keys": np.asarray([r[0] for r in rows])}


def load(ancestor: str = "entity.n.01", image_size: int = 32) -> TargetData:
    vocab = load_vocabulary()
    try:
        root = vocab.wnid(ancestor)
    except KeyError as exc:
        raise TargetError(str(exc.args[0])) from None
    val = cached_arrays(f"tiny-imagenet-val-{image_size}", lambda: _val(image_size))
    classes = sorted(w for w in set(val["wnids"].tolist()) if root in vocab.ancestors(w))
    if not classes:
        raise TargetError(f"no Tiny ImageNet class lies under {ancestor}: pick a broader synset (e.g. dog.n.01, animal.n.01)")
    train_idx, test_idx, train_y, test_y = [], [], [], []
    for label, wnid in enumerate(classes):
        idx = np.flatnonzero(val["wnids"] == wnid)  # already sorted by key
        train_idx += idx[:TRAIN_PER_CLASS].tolist()
        test_idx += idx[TRAIN_PER_CLASS:].tolist()
        train_y += [label] * len(idx[:TRAIN_PER_CLASS])
        test_y += [label] * len(idx[TRAIN_PER_CLASS:])
    train = val["images"][train_idx]
    names = [vocab.synset_lemmas(w)[0] for w in classes]
    return TargetData(f"tiny-imagenet:{vocab.synset_name(root)}", names, classes, train, train,
                      np.asarray(train_y, np.int64), val["images"][test_idx], np.asarray(test_y, np.int64))
