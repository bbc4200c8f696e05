"""Evaluating a representation on the target's labelled splits: weighted kNN and a linear probe.

- :func:`knn_accuracy`: the weighted k-nearest-neighbour classifier of Wu et al. 2018 (InstDisc), as used by
  DINO: cosine similarity via a faiss inner-product index on L2-normalised features, each of the k neighbours
  votes for its class with weight ``exp(sim / T)``.
- :func:`linear_probe`: multinomial logistic regression (scikit-learn) on the frozen features, with the
  inverse regularisation C chosen on a held-out part of the labelled train split, then refit on all of it.
- :func:`reward_auc`: how well a relevance reward ranks relevant images above the rest (ROC AUC), the signal an
  agent learns from.
"""
from __future__ import annotations

import faiss
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


class EvaluationError(ValueError):
    """Embeddings and labels that do not fit together."""


def _check(emb, labels, name: str) -> tuple[np.ndarray, np.ndarray]:
    emb = np.asarray(emb)
    labels = np.asarray(labels).reshape(-1)
    if emb.ndim != 2:
        raise EvaluationError(f"{name} embeddings must be 2-D (N, D), got shape {emb.shape}")
    if len(emb) != len(labels):
        raise EvaluationError(f"{name}: {len(emb)} embeddings but {len(labels)} labels; give one label per row")
    if len(emb) == 0:
        raise EvaluationError(f"{name} split is empty")
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    if not np.isfinite(emb).all():
        raise EvaluationError(f"{name} embeddings hold NaN or infinite values")
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return emb, labels.astype(np.int64)


def knn_predict(train_emb: np.ndarray, train_labels: np.ndarray, test_emb: np.ndarray, k: int = 20,
                temperature: float = 0.07, num_classes: int | None = None) -> np.ndarray:
    """Weighted-kNN class predictions for ``test_emb`` (see :func:`knn_accuracy`)."""
    train_emb, train_labels = _check(train_emb, train_labels, "train")
    test_emb = _check(test_emb, np.zeros(len(test_emb)), "test")[0]
    if train_emb.shape[1] != test_emb.shape[1]:
        raise EvaluationError(f"train embeddings have dimension {train_emb.shape[1]}, test {test_emb.shape[1]}")
    if temperature <= 0:
        raise EvaluationError(f"temperature={temperature} must be > 0")
    k = min(k, len(train_emb))
    num_classes = num_classes or int(train_labels.max()) + 1
    index = faiss.IndexFlatIP(train_emb.shape[1])
    index.add(train_emb)
    sims, idx = index.search(test_emb, k)
    weights = np.exp((sims - 1.0) / temperature)  # shifted by the maximum similarity 1: same argmax, no overflow
    votes = np.zeros((len(test_emb), num_classes), np.float64)
    rows = np.repeat(np.arange(len(test_emb)), k)
    np.add.at(votes, (rows, train_labels[idx.reshape(-1)]), weights.reshape(-1))
    return votes.argmax(axis=1)


def knn_accuracy(train_emb: np.ndarray, train_labels: np.ndarray, test_emb: np.ndarray, test_labels: np.ndarray,
                 k: int = 20, temperature: float = 0.07) -> float:
    """Top-1 accuracy of the weighted kNN classifier (cosine similarity, k = 20, T = 0.07 by default)."""
    test_emb, test_labels = _check(test_emb, test_labels, "test")
    num_classes = int(max(np.max(train_labels), test_labels.max())) + 1
    pred = knn_predict(train_emb, train_labels, test_emb, k, temperature, num_classes)
    return float((pred == test_labels).mean())


def linear_probe(train_emb: np.ndarray, train_labels: np.ndarray, test_emb: np.ndarray, test_labels: np.ndarray,
                 seed: int = 0, Cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0), val_fraction: float = 0.2,
                 max_iter: int = 300) -> tuple[float, float]:
    """Logistic-regression probe; C is chosen on a held-out ``val_fraction`` of the train split.

    Features are L2-normalised then standardised (fitted on train). Returns ``(test accuracy of the probe
    refit on the whole train split with the chosen C, chosen C)``.
    """
    train_emb, train_labels = _check(train_emb, train_labels, "train")
    test_emb, test_labels = _check(test_emb, test_labels, "test")
    if len(np.unique(train_labels)) < 2:
        raise EvaluationError("the probe's train split has a single class: it needs at least two")
    if not 0 < val_fraction < 1:
        raise EvaluationError(f"val_fraction={val_fraction} must lie in (0, 1)")
    counts = np.bincount(train_labels)
    stratify = train_labels if counts[counts > 0].min() >= 2 else None
    fit_x, val_x, fit_y, val_y = train_test_split(train_emb, train_labels, test_size=val_fraction,
                                                  random_state=seed, stratify=stratify)

    def fit(x, y, C):
        scaler = StandardScaler().fit(x)
        clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
        clf.fit(scaler.transform(x), y)
        return scaler, clf

    val_acc = {}
    for C in Cs:
        scaler, clf = fit(fit_x, fit_y, C)
        val_acc[C] = float((clf.predict(scaler.transform(val_x)) == val_y).mean())
    best = max(Cs, key=lambda c: (val_acc[c], -c))  # ties: the stronger regularisation
    scaler, clf = fit(train_emb, train_labels, best)
    acc = float((clf.predict(scaler.transform(test_emb)) == test_labels).mean())
    return acc, float(best)


def reward_auc(rewards, relevant) -> float | None:
    """ROC AUC of ``rewards`` for telling ``relevant`` images (bool per image) from the rest: 0.5 is chance, 1 a
    reward that ranks every relevant image first. ``None`` when either kind is missing (no AUC is defined)."""
    rewards, relevant = np.asarray(rewards, np.float64).reshape(-1), np.asarray(relevant, bool).reshape(-1)
    if len(rewards) != len(relevant):
        raise EvaluationError(f"{len(rewards)} rewards but {len(relevant)} relevance flags; give one per image")
    if relevant.all() or not relevant.any():
        return None
    return float(roc_auc_score(relevant, rewards))
