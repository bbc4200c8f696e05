"""WordNet's hierarchy as kernel features: concepts that share specific hypernyms are similar (``gp_tree``).

The paper's GP compares concepts only by their text embeddings. WordNet also says where each concept sits: a
relevant concept's siblings and hyponyms are likely relevant too, and "terrier" and "schnauzer" are closer than
their definitions make them. :func:`hierarchy_embeddings` turns that into vectors whose cosine measures the
hypernyms two concepts share, each weighted by its information content ``log(N / synsets under it)`` (Resnik's
measure, over every shared ancestor rather than the most specific one): "entity" weighs nothing, a small
sub-tree much. Each synset is the sum of random vectors of its ancestors (itself included), each times its
information content, normalised: the cosine of two such sums is the squared information content they share
over their norms, up to ~1/sqrt(``dim``) for the random projection that keeps the sparse sum dense.

:func:`joint_embeddings` concatenates them with the text embeddings, so that the kernel's cosine is a weighted sum
of both: the ``hierarchy_weight`` option of ``gp_gain`` (:mod:`agents.bandits`), which the ``gp_tree`` preset sets
to 0.5. On the benchmark's standard suite it adds nothing measurable to the text embeddings alone (docs/results.md).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=4)
def _hierarchy_embeddings(vocab, dim: int, seed: int) -> np.ndarray:
    import scipy.sparse as sp

    anc = {w: sorted(vocab.ancestors(w)) for w in vocab.synset_ids}  # itself and every hypernym, transitively
    nodes = sorted(anc)
    index = {w: i for i, w in enumerate(nodes)}
    under = np.zeros(len(nodes))  # synsets under each node (itself included)
    for a in anc.values():
        under[[index[w] for w in a]] += 1
    ic = np.log(len(nodes) / under) + 1e-3  # information content (the root's 0 raised, to give it a direction)
    rows = sorted(set(vocab.wnids))
    row_of = {w: i for i, w in enumerate(rows)}
    r, c, v = [], [], []
    for i, w in enumerate(rows):
        for a in anc[w]:
            r.append(i)
            c.append(index[a])
            v.append(ic[index[a]])
    weights = sp.csr_matrix((v, (r, c)), shape=(len(rows), len(nodes)), dtype=np.float32)
    basis = np.random.default_rng(seed).standard_normal((len(nodes), dim)).astype(np.float32) / np.sqrt(dim)
    emb = np.asarray(weights @ basis, np.float32)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return emb[[row_of[w] for w in vocab.wnids]]


def hierarchy_embeddings(vocab, dim: int = 256, seed: int = 0) -> np.ndarray:
    """``(len(vocab), dim)`` unit vectors whose cosines are the shared, information-weighted hypernyms of two
    concepts (see the module docstring); lemmas of one synset get the same vector. Deterministic in ``seed``."""
    if int(dim) < 1:
        raise ValueError(f"hierarchy dim must be >= 1 (got {dim}); 256 keeps the cosines within ~0.06")
    return _hierarchy_embeddings(vocab, int(dim), int(seed))


def joint_embeddings(text: np.ndarray, tree: np.ndarray, weight: float) -> np.ndarray:
    """Unit vectors whose cosine is ``(1 - weight) * text cosine + weight * tree cosine`` (both unit-norm)."""
    text = np.asarray(text, np.float32)
    text = text / np.maximum(np.linalg.norm(text, axis=1, keepdims=True), 1e-12)
    return np.concatenate([np.sqrt(1.0 - weight) * text, np.sqrt(weight) * tree], axis=1).astype(np.float32)
