"""Random exploration: every query is a concept drawn uniformly from the vocabulary."""
from __future__ import annotations

from dataclasses import dataclass

from agents.base import Agent, AgentContext, Query, build_config


@dataclass
class RandomConfig:
    """Options of :class:`RandomAgent`."""

    descriptor_source: str | None = None
    """Descriptors to vary queries with: "visual", "wordnet", "wordnet-attribute", "context" or None."""
    p_descriptor: float = 0.5
    """Probability that a query gets a random descriptor (when descriptor_source is set)."""


class RandomAgent(Agent):
    """Uniform over the vocabulary (the paper's random-exploration baseline), or over the concepts the vocabulary
    filter allows."""

    name = "random"

    def __init__(self, context: AgentContext, **options):
        super().__init__(context)
        self.config = build_config(RandomConfig, options)
        self._setup_descriptors(self.config.descriptor_source)

    def act(self) -> Query:
        self.steps += 1
        return self.make_query(self.random_concept(), self.config.p_descriptor)
