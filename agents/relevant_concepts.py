"""An agent that queries the truly relevant concepts (ground truth), for experiments only.

It is given the concepts that are really relevant to the target (``concepts``, e.g. every vocabulary concept
whose synset is a relevant class of the world, from the ground truth) and cycles through them: first each concept plainly
(in a seeded random order), then each with the first descriptor, then with the second, and so on, so that it
keeps finding new images instead of repeating queries. It is not a ceiling (its class concepts' answers
hold a fraction of the relevant images; an agent may find more): :mod:`agents.ceiling` is one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agents.base import PLAN_AHEAD, Agent, AgentContext, Query, build_config
from agents.descriptors import descriptor_text


@dataclass
class RelevantConceptsConfig:
    """Options of :class:`RelevantConceptsAgent`."""

    concepts: list = field(default_factory=list)
    """Vocabulary positions of the truly relevant concepts (required)."""
    descriptor_source: str | None = "visual"
    """Descriptors for the later rounds: "visual", "wordnet", "wordnet-attribute", "context" or None (then the
    agent repeats its concepts)."""
    shuffle: bool = True
    """Visit the concepts in a seeded random order (else in the given order)."""


class RelevantConceptsAgent(Agent):
    """Cycles through ``concepts`` and their descriptor variants (see the module docstring)."""

    name = "relevant_concepts"

    def __init__(self, context: AgentContext, **options):
        super().__init__(context)
        self.config = build_config(RelevantConceptsConfig, options)
        concepts = [int(c) for c in self.config.concepts]
        if not concepts:
            raise ValueError("relevant_concepts needs concepts=[...]: the vocabulary positions of the relevant concepts")
        bad = [c for c in concepts if not 0 <= c < self.n_concepts]
        if bad:
            raise ValueError(f"concepts has positions outside the vocabulary 0..{self.n_concepts - 1}: {bad[:5]}")
        if self.allowed is not None:  # the concepts the vocabulary filter removes are never asked
            concepts = [c for c in concepts if self.allowed[c]]
            if not concepts:
                raise ValueError(f"the vocabulary filter {context.vocabulary_filter!r} removes every one of concepts")
        self.concepts = np.asarray(list(dict.fromkeys(concepts)), np.int64)
        self._setup_descriptors(self.config.descriptor_source)
        self.reset(0)

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.order = self.rng.permutation(self.concepts) if self.config.shuffle else self.concepts.copy()

    def query_at(self, step: int) -> Query:
        """The query of step ``step`` (they depend only on the seed)."""
        n = len(self.order)
        rnd, i = divmod(step, n)
        c = int(self.order[i])
        lemma = self.context.vocab.lemmas[c]
        choices = self.descriptor_choices
        if rnd == 0 or not choices:
            return Query(c, -1, lemma)
        d = choices[(rnd - 1) % len(choices)]
        text = descriptor_text(self.descriptors[d], lemma)
        return Query(c, d, text) if self.may_query(text) else Query(c, -1, lemma)

    def act(self) -> Query:
        self.steps += 1
        return self.query_at(self.steps - 1)

    def upcoming(self) -> list[Query]:
        return [self.query_at(s) for s in range(self.steps, self.steps + PLAN_AHEAD)]

    def state_dict(self) -> dict:
        d = super().state_dict()
        d["order"] = self.order.copy()
        return d

    def load_state_dict(self, d: dict) -> None:
        super().load_state_dict(d)
        self.order = np.asarray(d["order"], np.int64).copy()
