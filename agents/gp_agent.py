"""The paper's agent: a Gaussian process over concept text embeddings and a tiered Boltzmann sampler.

Every ``refit_every`` observations (one env iteration) the GP posterior (:mod:`agents.posterior`) is updated
and every candidate concept is scored: unseen concepts by ``mean + std`` (optimism), observed ones by ``mean``.
Queries are sampled from a tiered softmax: the temperature ``tau`` makes ``(max - min) / tau == 3``; the top
250 concepts share 80% of the probability mass, the next 750 10%, the rest 10% (each tier a softmax of its
scores). Within an iteration a concept is not sampled twice. Before the first refit the scores are all equal
and sampling is uniform.

Label-set mode narrows the candidates to the concepts nearest the target's class names (by embedding) and
queries a class name itself half the time. Descriptors ("baby duck") are optional; a descriptor query's
reward counts for its concept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.base import AgentContext, Query
from agents.gp_base import GPDrivenAgent, GPDrivenConfig
from ie_env.data.text_embedding import TextEmbedder


@dataclass
class GPAgentConfig(GPDrivenConfig):
    """Options of :class:`GPAgent` (GP hyper-parameters may also be given flat, e.g. lengthscale=0.5)."""

    tier_sizes: tuple = (250, 750)
    """Sizes of the first two tiers (the rest is the third); scaled down when they exceed half the candidates."""
    tier_masses: tuple = (0.8, 0.1, 0.1)
    """Probability mass of each of the three tiers."""
    temperature_ratio: float = 3.0
    """(max score - min score) / temperature."""
    no_repeats_within_iteration: bool = True
    """Never sample a concept twice between two refits."""
    label_set: bool = False
    """Narrow the candidates to the concepts nearest the target class names and query those names half the time."""
    label_set_size: int = 1000
    """Candidates kept in label-set mode."""
    p_class_name: float = 0.5
    """Share of label-set queries that are a class name."""

    def __post_init__(self):
        super().__post_init__()
        if len(self.tier_sizes) != 2 or min(self.tier_sizes) < 1:
            raise ValueError(f"tier_sizes must be two positive sizes like (250, 750), got {self.tier_sizes}")
        if len(self.tier_masses) != 3 or min(self.tier_masses) < 0 or not np.isclose(sum(self.tier_masses), 1.0):
            raise ValueError(f"tier_masses must be three non-negative masses summing to 1, like (0.8, 0.1, 0.1); "
                             f"got {self.tier_masses}")
        if int(self.label_set_size) < 1:
            raise ValueError(f"label_set_size={self.label_set_size} leaves no candidate concept: use 1000 (the default)")
        if not self.temperature_ratio > 0:
            raise ValueError(f"temperature_ratio must be > 0 (got {self.temperature_ratio}); the paper uses 3")
        self.tier_sizes = tuple(int(x) for x in self.tier_sizes)
        self.tier_masses = tuple(float(x) for x in self.tier_masses)


def effective_tiers(n: int, sizes: tuple = (250, 750)) -> tuple[int, int]:
    """Tier sizes for ``n`` candidates: as given, or scaled down (same ratio, at least 1 each) so the first two
    tiers hold at most half of the candidates."""
    n1, n2 = sizes
    if n1 + n2 > n / 2:
        f = (n / 2) / (n1 + n2)
        n1, n2 = max(1, int(round(n1 * f))), max(1, int(round(n2 * f)))
    return n1, n2


def temperature(scores: np.ndarray, ratio: float = 3.0) -> float:
    """The softmax temperature with (max - min) / tau == ratio (inf when all scores are equal)."""
    spread = float(np.max(scores) - np.min(scores))
    return spread / ratio if spread > 0 else float("inf")


def tiered_probabilities(scores: np.ndarray, sizes: tuple = (250, 750), masses: tuple = (0.8, 0.1, 0.1),
                         ratio: float = 3.0) -> np.ndarray:
    """Sampling probabilities: rank by score (ties by position), split into three tiers, softmax within each
    tier at the shared temperature, scaled to the tier's mass. Equal scores give the uniform distribution."""
    s = np.asarray(scores, np.float64)
    n = len(s)
    tau = temperature(s, ratio)
    if not np.isfinite(tau):
        return np.full(n, 1.0 / n)
    n1, n2 = effective_tiers(n, sizes)
    order = np.argsort(-s, kind="stable")
    bounds = [(0, n1), (n1, min(n, n1 + n2)), (min(n, n1 + n2), n)]
    p = np.zeros(n)
    used_mass = [m if hi > lo else 0.0 for (lo, hi), m in zip(bounds, masses)]
    total = sum(used_mass)
    for (lo, hi), m in zip(bounds, used_mass):
        if hi <= lo or m == 0:
            continue
        idx = order[lo:hi]
        w = np.exp((s[idx] - s[idx].max()) / tau)
        p[idx] = (m / total) * w / w.sum()
    return p


def sample_index(rng: np.random.Generator, p: np.ndarray, exclude=None, cdf: np.ndarray | None = None) -> int:
    """Draw one index from probabilities ``p`` with the ``exclude`` indices removed (renormalised).

    With ``cdf`` (``np.cumsum(p)``, computed once per refit) a draw costs O(m log m + log n) for m excluded
    indices instead of O(n): between two excluded indices the renormalised cumulative sum is ``cdf`` minus the
    excluded mass before them, so one search finds the segment and one the index. It takes the same uniform
    number and picks the same index as the explicit renormalisation (up to rounding at a boundary)."""
    if cdf is None:
        if exclude:
            p = p.copy()
            p[exclude] = 0.0
        cdf = np.cumsum(p)
        if cdf[-1] <= 0:
            raise ValueError("no candidate left to sample: every concept was excluded; allow repeats or refit "
                             "sooner")
        i = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
        return min(i, len(p) - 1)
    n = len(p)
    ex = np.unique(np.asarray(exclude if exclude else [], np.int64))
    before = np.concatenate([[0.0], np.cumsum(p[ex])])  # excluded mass before each segment
    total = cdf[-1] - before[-1]
    if total <= 0:
        raise ValueError("no candidate left to sample: every concept was excluded; allow repeats or refit sooner")
    u = rng.random() * total
    ends = np.append(ex - 1, n - 1)  # last index of each segment (the excluded index ends the one before it)
    reach = np.where(ends >= 0, cdf[np.maximum(ends, 0)], 0.0) - before
    k = int(np.argmax(reach > u)) if reach[-1] > u else len(ends) - 1
    start = int(ex[k - 1]) + 1 if k else 0
    i = start + int(np.searchsorted(cdf[start:ends[k] + 1], u + before[k], side="right"))
    return min(i, int(ends[k]))  # rounding may step past the segment's end, onto an excluded index


class GPAgent(GPDrivenAgent):
    """The paper's query agent (GP posterior + tiered Boltzmann sampling); see the module docstring."""

    name = "gp"
    config_class = GPAgentConfig

    def choose_candidates(self, context: AgentContext) -> np.ndarray:
        self.class_concepts: list[int] = []
        self.class_choices: list[int] = []  # the class names the vocabulary filter lets a query name
        if not self.config.label_set:
            return np.arange(self.n_concepts)
        candidates, self.class_concepts = label_set_candidates(context, self.config.label_set_size)
        self.class_choices = [i for i, c in enumerate(self.class_concepts)
                              if (self.allowed is None or self.allowed[c])
                              and self.may_query(context.target_class_names[i])]
        return candidates

    def scores(self) -> np.ndarray:
        """mean + std for unseen candidates, mean for observed ones (candidate order)."""
        post = self.posterior
        seen = post.slot_of >= 0
        return np.where(seen, post.mean, post.mean + post.std).astype(np.float64)

    def after_refit(self) -> None:
        cfg = self.config
        self.probabilities = tiered_probabilities(self.scores(), cfg.tier_sizes, cfg.tier_masses,
                                                  cfg.temperature_ratio)
        self._cdf = np.cumsum(self.probabilities)

    def draw(self) -> Query:
        if self.class_choices and self.rng.random() < self.config.p_class_name:
            c = self.class_choices[int(self.rng.integers(len(self.class_choices)))]
            name = self.context.target_class_names[c]
            return self.make_query(self.class_concepts[c], self.config.p_descriptor, text=name)
        exclude = self.used if self.config.no_repeats_within_iteration else None
        if exclude is not None and len(exclude) >= len(self.candidates):
            exclude = None  # more queries per iteration than candidates: allow repeats
        exclude = list(exclude or [])
        while True:
            i = sample_index(self.rng, self.probabilities, exclude, self._cdf)
            if not self.exhausted(int(self.candidates[i])) or len(exclude) + 1 >= len(self.candidates):
                break
            exclude.append(i)  # every variant of this concept was queried already: draw another
        self.used.append(i)
        return self.make_query(int(self.candidates[i]), self.config.p_descriptor)

    def state_dict(self) -> dict:
        return super().state_dict() | {"probabilities": self.probabilities.copy()}

    def load_state_dict(self, d: dict) -> None:
        super().load_state_dict(d)
        self.probabilities = np.asarray(d["probabilities"], np.float64).copy()
        self._cdf = np.cumsum(self.probabilities)


def label_set_candidates(context: AgentContext, size: int) -> tuple[np.ndarray, list[int]]:
    """The ``size`` concepts nearest (max cosine) to the target class names, and one concept per class name
    (its first vocabulary sense, or the nearest concept when the name is not a lemma)."""
    names = list(context.target_class_names)
    if not names:
        raise ValueError("label-set mode needs target_class_names in the AgentContext (e.g. the CIFAR-10 classes)")
    emb = np.asarray(context.concept_embeddings, np.float32)
    vocab = context.vocab
    anchors = np.zeros((len(names), emb.shape[1]), np.float32)
    found: list[int | None] = []
    missing = []
    for i, name in enumerate(names):
        hits = vocab.find(name)
        if hits:
            anchors[i] = emb[hits[0]]
            found.append(hits[0])
        else:
            found.append(None)
            missing.append(i)
    if missing:
        if context.class_embeddings is not None:
            anchors[missing] = np.asarray(context.class_embeddings, np.float32)[missing]
        else:
            anchors[missing] = TextEmbedder()([names[i] for i in missing])
    sims = np.full(len(emb), -np.inf, np.float32)
    for s in range(0, len(emb), 65536):
        sims[s:s + 65536] = (emb[s:s + 65536] @ anchors.T).max(axis=1)
    size = min(int(size), len(emb))
    top = np.argsort(-sims, kind="stable")[:size]
    class_concepts = [f if f is not None else int(np.argmax(emb @ anchors[i])) for i, f in enumerate(found)]
    return np.unique(np.concatenate([top, np.asarray(class_concepts, np.int64)])), class_concepts
