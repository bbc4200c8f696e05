"""The base of every agent driven by the GP posterior (the paper's agent and the bandit baselines).

:class:`GPDrivenAgent` owns what they share: the candidate concepts, the posterior over them, the observations
pending until the next refit (every ``refit_every`` observations, one env iteration), the concepts used within
the iteration, and checkpoints. A subclass says how it picks a query (:meth:`draw`) and what it recomputes
after each refit (:meth:`after_refit`), as stable-baselines3's base algorithms own the loop and leave
``train()`` to their subclasses.

Between two refits nothing a draw depends on changes, so the agent draws the iteration's queries ahead, as the
paper samples an iteration's concepts at once (:meth:`GPDrivenAgent.upcoming`): the runner hands them to the env,
whose engine embeds and answers them in one batch. The queries are the same as when drawn one at a time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agents.base import PLAN_AHEAD, SIGNALS, Agent, AgentContext, Query, build_config, learning_signal
from agents.posterior import GPConfig, GPPosterior


@dataclass
class GPDrivenConfig:
    """Options every GP-driven agent has (GP hyper-parameters may also be given flat, e.g. lengthscale=0.5)."""

    refit_every: int = 32
    """Observations between posterior updates: the env's queries_per_iteration."""
    descriptor_source: str | None = None
    """Descriptors to vary queries with: "visual", "wordnet", "wordnet-attribute", "context" or None."""
    p_descriptor: float = 0.5
    """Probability that a query gets a random descriptor (when descriptor_source is set)."""
    signal: str = "calibrated"
    """What the posterior learns from: "reward", "new_reward", "new_mean" or "calibrated" (the default: new_mean
    against the current model's baseline; see agents.base.learning_signal)."""
    gp: GPConfig = field(default_factory=GPConfig)
    """The posterior's hyper-parameters and approximation settings."""

    def __post_init__(self):
        if self.signal not in SIGNALS:
            raise ValueError(f"signal={self.signal!r}: use one of {', '.join(SIGNALS)}")
        if int(self.refit_every) < 1:
            raise ValueError(f"refit_every must be >= 1 (got {self.refit_every}); use the env's queries_per_iteration")


class GPDrivenAgent(Agent):
    """An agent whose choices come from a GP posterior over its candidate concepts.

    Args:
        context: the task (vocabulary, concept embeddings, target class names).
        **options: fields of ``config_class``.
    """

    config_class: type = GPDrivenConfig

    def __init__(self, context: AgentContext, **options):
        super().__init__(context)
        self.config = build_config(self.config_class, options, nested={"gp": GPConfig})
        self._setup_descriptors(self.config.descriptor_source)
        candidates = np.asarray(self.choose_candidates(context), np.int64)
        if self.allowed is not None:  # the concepts the vocabulary filter removes are no candidates at all
            candidates = candidates[self.allowed[candidates]]
            if not len(candidates):
                raise ValueError(f"{self.name}: the vocabulary filter {context.vocabulary_filter!r} removes every "
                                 "candidate concept")
        self.candidates = candidates
        self.position = np.full(self.n_concepts, -1, np.int64)  # vocab concept -> candidate position
        self.position[self.candidates] = np.arange(len(self.candidates))
        self._embeddings = self.kernel_features(self.candidates)
        self.reset(0)

    def choose_candidates(self, context: AgentContext) -> np.ndarray:
        """The vocabulary positions the agent chooses among (default: all); those the vocabulary filter removes
        are dropped after."""
        return np.arange(self.n_concepts)

    def kernel_features(self, candidates: np.ndarray) -> np.ndarray:
        """The vectors whose cosines the GP's kernel compares, one row per candidate (default: the concept
        text embeddings, as the paper)."""
        return np.asarray(self.context.concept_embeddings, np.float32)[candidates]

    def _new_posterior(self) -> GPPosterior:
        return GPPosterior(self._embeddings, self.config.gp)

    # --- the loop -----------------------------------------------------------------------------------
    def reset(self, seed: int) -> None:
        super().reset(seed)
        self.posterior = self._new_posterior()
        self.pending = 0
        self.used: list[int] = []  # candidate positions queried since the last refit
        self.iteration = 0
        self.after_refit()
        self.plan: list[Query] = []  # queries drawn ahead (see upcoming)
        self.planned = 0  # of which issued

    def draw(self) -> Query:
        """The next query, drawn from what the last refit computed (and the concepts used since)."""
        raise NotImplementedError

    def _plan_ahead(self) -> None:
        """Draw the queries up to the next refit (at most PLAN_AHEAD) when every planned one was issued."""
        if self.planned >= len(self.plan):
            left = self.config.refit_every - self.pending  # draws before the next refit
            self.plan = [self.draw() for _ in range(max(1, min(PLAN_AHEAD, left)))]
            self.planned = 0

    def upcoming(self) -> list[Query]:
        """The queries :meth:`act` returns next, up to the next refit (drawn now when none are left)."""
        self._plan_ahead()
        return self.plan[self.planned:]

    def act(self) -> Query:
        self._plan_ahead()
        q = self.plan[self.planned]
        self.planned += 1
        self.steps += 1
        return q

    def observe(self, query: Query, reward: float, info: dict | None = None) -> None:
        c = int(query.concept)
        pos = int(self.position[c]) if 0 <= c < self.n_concepts else -1
        if pos < 0:
            raise ValueError(f"concept {c} is not among this agent's candidates: observe the queries the agent "
                             "returned from act()")
        self.posterior.add([pos], [learning_signal(reward, info, self.config.signal)])
        self.pending += 1
        if self.pending >= self.config.refit_every:
            self.refit()

    def refit(self) -> None:
        """Update the posterior with the pending observations, then let the subclass recompute its choices."""
        self.posterior.update()
        self.pending = 0
        self.used = []
        self.iteration += 1
        self.after_refit()
        self.plan, self.planned = [], 0

    def after_refit(self) -> None:
        """Recompute what :meth:`act` draws from (called after every refit and at reset)."""

    # --- checkpoints --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        d = super().state_dict()
        d.update({"posterior": self.posterior.state_dict(), "pending": self.pending, "used": list(self.used),
                  "iteration": self.iteration, "candidates": self.candidates.copy(),
                  "plan": [[q.concept, q.descriptor, q.text] for q in self.plan], "planned": self.planned})
        return d

    def load_state_dict(self, d: dict) -> None:
        super().load_state_dict(d)
        if not np.array_equal(np.asarray(d["candidates"]), self.candidates):
            raise ValueError("checkpoint was made with other candidates (vocabulary or label-set options differ)")
        self.posterior = self._new_posterior()
        self.posterior.load_state_dict(d["posterior"])
        self.pending = int(d["pending"])
        self.used = [int(x) for x in d["used"]]
        self.iteration = int(d["iteration"])
        self.plan = [Query(int(c), int(k), str(t)) for c, k, t in d.get("plan", [])]
        self.planned = int(d.get("planned", 0))
