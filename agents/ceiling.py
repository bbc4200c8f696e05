"""A ceiling for agent comparisons on an offline world: greedy over known answers, for experiments only.

The offline engine's answers are known in advance and the world's ground truth says which images are relevant,
so an agent can be built that, every step, asks the query bringing the most relevant images not found yet
(greedy maximum coverage; the images already brought count once, as in the env's ``relevant_images``). Greedy
coverage reaches at least 1 - 1/e of the best possible sequence of the same length; in practice it is an upper
reference that no agent of this package reaches (``compare_agents.py`` reports every agent's relevant images as a
share of it).

Its action space is the env's: concepts, plainly (every distinct lemma of the vocabulary), and, when the env has
descriptors, each descriptor variant of the ``descriptor_concepts`` concepts whose plain answers hold the most
relevant images (embedding all 50 variants of 146,347 concepts would take hours; those variants are where the
relevant images are). Ties go to the query listed first (plain lemmas in vocabulary order, then variants). Once no
query brings a new relevant image it asks the one bringing the most new images. Its plan depends on the world
and the env's settings only, not on the seed or the rewards.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from tqdm.auto import tqdm

from agents.base import PLAN_AHEAD, Agent, AgentContext, Query, build_config
from agents.descriptors import descriptor_text
from ie_env.data.vocabulary_filter import offensive


@dataclass
class CeilingConfig:
    """Options of :class:`CeilingAgent`."""

    env: object = None
    """The offline env the agent explores (required: its engine's answers and ground truth are the privilege)."""
    descriptor_concepts: int = 50
    """Concepts (the richest in relevant images) whose descriptor variants are candidate queries (each costs a
    text-model pass per descriptor, once per env)."""
    progress: bool = False
    """Show a progress bar while the answers are computed."""


class CeilingAgent(Agent):
    """Greedy coverage of the relevant images over the engine's known answers (see the module docstring)."""

    name = "ceiling"

    def __init__(self, context: AgentContext, **options):
        super().__init__(context)
        self.config = build_config(CeilingConfig, options)
        env = self.config.env
        if env is None or getattr(env, "world", None) is None or not hasattr(env.engine, "search_ids_batch"):
            raise ValueError("the ceiling agent needs env=<an offline env> (a world whose answers can be computed)")
        if self.config.descriptor_concepts < 0:
            raise ValueError(f"descriptor_concepts={self.config.descriptor_concepts} must be >= 0")
        self.queries, answers = known_answers(env, int(self.config.descriptor_concepts), self.config.progress)
        self.relevant = env.relevant
        # the answers as one flat array of canonical image ids, query q's in starts[q]:starts[q + 1]
        self.starts = np.concatenate([[0], np.cumsum([len(a) for a in answers])])
        self.images = np.concatenate(answers) if answers else np.zeros(0, np.int64)
        self.n_images = len(env.canonical)
        self.reset(0)

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.found = np.zeros(self.n_images, bool)  # relevant images the plan has brought so far
        self.seen = np.zeros(self.n_images, bool)
        self.plan: list[int] = []
        self.exhausted_relevant = False
        self.heap = [(-self._gain(q), q) for q in range(len(self.queries))]
        heapq.heapify(self.heap)

    def _gain(self, q: int) -> int:
        """New relevant images of query ``q`` (new images of any kind once no relevant one is left)."""
        ids = self.images[self.starts[q]:self.starts[q + 1]]
        if self.exhausted_relevant:
            return int((~self.seen[ids]).sum())
        return int((self.relevant[ids] & ~self.found[ids]).sum())

    def _extend(self, steps: int) -> None:
        """Plan ``steps`` more queries (lazy greedy: gains only shrink, so a popped query whose recomputed gain
        still tops the heap is the best)."""
        for _ in range(steps):
            while True:
                if not self.heap:  # every candidate was asked: start over from the first
                    self.heap = [(0, q) for q in range(len(self.queries))]
                neg, q = heapq.heappop(self.heap)
                gain = self._gain(q)
                if gain == 0 and not self.exhausted_relevant and -neg == 0:
                    self.exhausted_relevant = True  # nothing relevant is left: rank by new images from now on
                    self.heap = [(-self._gain(p), p) for _, p in self.heap + [(0, q)]]
                    heapq.heapify(self.heap)
                    continue
                if not self.heap or (-gain, q) <= self.heap[0]:  # still the best (ties: listed first)
                    break
                heapq.heappush(self.heap, (-gain, q))
            ids = self.images[self.starts[q]:self.starts[q + 1]]
            self.found[ids[self.relevant[ids]]] = True
            self.seen[ids] = True
            self.plan.append(q)

    def act(self) -> Query:
        if len(self.plan) <= self.steps:
            self._extend(self.steps + 1 - len(self.plan))
        self.steps += 1
        return self.queries[self.plan[self.steps - 1]]

    def upcoming(self) -> list[Query]:
        self._extend(self.steps + PLAN_AHEAD - len(self.plan))
        return [self.queries[q] for q in self.plan[self.steps:self.steps + PLAN_AHEAD]]

    def load_state_dict(self, d: dict) -> None:
        super().load_state_dict(d)
        steps = self.steps
        self.reset(0)  # the plan depends on nothing but the world: rebuild it up to where the run was
        self._extend(steps)
        self.steps = steps


@lru_cache(maxsize=2)
def known_answers(env, descriptor_concepts: int, progress: bool = False) -> tuple[list[Query], list[np.ndarray]]:
    """Every candidate query of :class:`CeilingAgent` in ``env`` and its answer (canonical image ids), plain
    lemmas first (computed once per env: the agent is built again for every seed)."""
    if env.uses_query_table():
        env.use_query_table()
    vocab, n = env.vocab, env.config.results_per_query
    allowed = getattr(env, "allowed", None)  # the vocabulary filter's mask (None: every concept)
    first: dict[str, int] = {}
    for c, lemma in enumerate(vocab.lemmas):
        if allowed is None or allowed[c]:
            first.setdefault(lemma, c)
    queries = [Query(c, -1, lemma) for lemma, c in first.items()]
    answers = _answers(env, [q.text for q in queries], n, progress)
    descriptors = list(env.config.descriptors)
    if descriptors and descriptor_concepts:
        gains = np.asarray([int(env.relevant[a].sum()) for a in answers])
        rich = np.argsort(-gains, kind="stable")[:descriptor_concepts]
        variants = [Query(queries[i].concept, d, descriptor_text(desc, queries[i].text))
                    for i in rich.tolist() if gains[i] > 0 for d, desc in enumerate(descriptors)]
        if env.config.vocabulary_filter != "none":  # the env refuses descriptor variants the filter removes
            bad = offensive([q.text for q in variants])
            variants = [q for q, b in zip(variants, bad) if not b and env.descriptor_allowed[q.descriptor]]
        queries += variants
        answers += _answers(env, [q.text for q in variants], n, progress)
    return queries, answers


def _answers(env, texts: list[str], n: int, progress: bool) -> list[np.ndarray]:
    """The engine's answers to ``texts`` as canonical image ids, in blocks of 4,096 texts."""
    block = 4096
    out: list[np.ndarray] = []
    for s in tqdm(range(0, len(texts), block), desc="ceiling: answers", unit="block", disable=not progress):
        out += [env.canonical[ids] for ids, _ in env.engine.search_ids_batch(texts[s:s + block], n)]
    return out
