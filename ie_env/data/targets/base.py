"""The target dataset type: what the explorer is trying to learn a representation for."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class TargetError(ValueError):
    """A target dataset is unknown, empty or unreadable."""


@dataclass
class TargetData:
    """A target: an unlabelled split for self-supervision and labelled splits for evaluation.

    Images are ``uint8`` arrays of shape ``(N, size, size, 3)``. Labels index ``class_names``.
    """

    name: str
    class_names: list[str]
    class_wnids: list[str]
    """WordNet synset of each class (``''`` when unknown); ground truth uses them, agents never do."""
    train: np.ndarray
    """Unlabelled self-supervision split (and the reward's reference set)."""
    probe_train: np.ndarray
    """Labelled split for the kNN memory bank and the linear probe's training."""
    probe_train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    skipped: int = 0
    """Images that could not be decoded and were left out."""

    def __post_init__(self) -> None:
        for split in ("train", "probe_train", "test"):
            arr = getattr(self, split)
            if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
                raise TargetError(f"target {self.name}: split {split} must be uint8 (N,H,W,3), got {arr.dtype} {arr.shape}")
            if len(arr) == 0:
                raise TargetError(f"target {self.name}: split {split} is empty; give it at least one image")

    def summary(self) -> dict:
        return {"name": self.name, "classes": len(self.class_names), "train": len(self.train),
                "probe_train": len(self.probe_train), "test": len(self.test),
                "image_size": int(self.train.shape[1]), "skipped": self.skipped}
