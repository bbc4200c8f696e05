"""kNN accuracy and linear probe on synthetic clusters."""
from __future__ import annotations

import numpy as np
import pytest

from ie_env.learning.evaluation import (
    EvaluationError,
    knn_accuracy,
    knn_predict,
    linear_probe,
    reward_auc,
)


def clusters(n_train: int, n_test: int, classes: int = 4, dim: int = 16, spread: float = 0.2, seed: int = 0):
    """Train and test points around the same class centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim))
    ytr, yte = np.repeat(np.arange(classes), n_train), np.repeat(np.arange(classes), n_test)
    xtr = centres[ytr] + spread * rng.normal(size=(len(ytr), dim))
    xte = centres[yte] + spread * rng.normal(size=(len(yte), dim))
    return xtr.astype(np.float32), ytr, xte.astype(np.float32), yte


def test_knn_on_separable_clusters_is_perfect_and_on_noise_is_chance():
    xtr, ytr, xte, yte = clusters(50, 20)
    assert knn_accuracy(xtr, ytr, xte, yte) == 1.0
    shuffled = np.random.default_rng(3).permutation(ytr)
    assert knn_accuracy(xtr, shuffled, xte, yte) < 0.6


def test_knn_weighting_and_small_bank():
    bank = np.array([[1, 0], [0.9, 0.1], [0, 1]], np.float32)
    labels = np.array([0, 0, 1])
    # k larger than the bank is clipped; the close neighbours outvote the far one
    assert knn_predict(bank, labels, np.array([[1, 0.05]], np.float32), k=20).tolist() == [0]
    assert knn_predict(bank, labels, np.array([[0.1, 1]], np.float32), k=1).tolist() == [1]
    with pytest.raises(EvaluationError, match="one label per row"):
        knn_accuracy(bank, labels[:2], bank, labels)


def test_linear_probe_on_clusters_chooses_a_C():
    xtr, ytr, xte, yte = clusters(40, 10, classes=3, dim=8, spread=0.3)
    acc, C = linear_probe(xtr, ytr, xte, yte, seed=0)
    assert acc >= 0.95
    assert C in (0.01, 0.1, 1.0, 10.0)
    assert linear_probe(xtr, ytr, xte, yte, seed=0) == (acc, C)  # deterministic
    with pytest.raises(EvaluationError, match="single class"):
        linear_probe(xtr, np.zeros_like(ytr), xte, yte)


def test_reward_auc_ranks_relevant_images_and_is_undefined_without_both_kinds():
    assert reward_auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert reward_auc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert reward_auc([0.5, 0.9, 0.1, 0.5], [True, False, True, False]) == 0.125  # a tie counts a half
    assert reward_auc([0.3, 0.4], [True, True]) is None and reward_auc([], []) is None
    with pytest.raises(EvaluationError, match="one per image"):
        reward_auc([0.1, 0.2], [True])
