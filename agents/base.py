"""The small interface every query-selection agent implements, and the helpers they share.

An agent proposes one :class:`Query` per env step (``act``), is told the query's reward and the env's ``info``
(``observe``), and can be checkpointed (``state_dict`` / ``load_state_dict``: numpy arrays, lists and
primitives only, so a checkpoint is written atomically and a resumed run continues bit for bit).
``reset(seed)`` starts a fresh, repeatable run.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass

import numpy as np

from agents.descriptors import descriptor_text, load_descriptors
from ie_env.data.vocabulary_filter import allowed_concepts, offensive


@dataclass(frozen=True)
class Query:
    """One search query: a vocabulary concept, optionally with a descriptor ("baby duck")."""

    concept: int
    """Position of the concept in the vocabulary (the env's action)."""
    descriptor: int = -1
    """Position in the agent's descriptor list, -1 for none."""
    text: str = ""
    """The text sent to the search engine."""


@dataclass
class AgentContext:
    """What an agent may know about the task."""

    vocab: object
    """The concept vocabulary (ie_env.data.vocabulary.Vocabulary); actions are its positions."""
    concept_embeddings: np.ndarray
    """(len(vocab), 384) float32 L2-normalised text embeddings of the concepts, in vocabulary order."""
    target_class_names: list[str] = field(default_factory=list)
    """Class names of the target dataset (label-set mode, oracle)."""
    descriptors: list[str] = field(default_factory=list)
    """Descriptors available to agents whose descriptor_source is "context"."""
    class_embeddings: np.ndarray | None = None
    """Optional (len(target_class_names), 384) embeddings of the class names; computed with the text
    model when a label-set agent needs them and a name is not a vocabulary lemma."""
    vocabulary_filter: str = "none"
    """Concepts, descriptors and class names the agent never queries (``ie_env.data.vocabulary_filter``):
    ``none`` or ``offensive``; :func:`agents.make_agent_for_env` passes the env's."""
    allowed: np.ndarray | None = field(init=False, default=None)
    """Per concept, whether the filter lets a query name it (``None``: every concept); set from
    ``vocabulary_filter``."""

    def __post_init__(self):
        self.allowed = allowed_concepts(self.vocab, self.vocabulary_filter)
        n = len(self.vocab)
        e = self.concept_embeddings
        if e is None or getattr(e, "ndim", 0) != 2 or e.shape[0] != n:
            shape = getattr(e, "shape", None)
            raise ValueError(f"concept_embeddings must have one row per concept ({n}), got shape {shape}: "
                             "pass ie_env.data.text_embedding.concept_embeddings(vocab)")


PLAN_AHEAD = 256
"""Most queries an agent that knows its next queries returns from :meth:`Agent.upcoming` (an iteration's worth at
the paper's cadence)."""

SIGNALS = ("reward", "new_reward", "new_mean", "calibrated", "new_gain")
"""What a model-based agent can learn from (see :func:`learning_signal`)."""


def learning_signal(reward: float, info: dict | None, signal: str) -> float:
    """What a model-based agent learns from one step:

    - ``reward``: the env's reward (mean of the query's top-10 image rewards);
    - ``new_reward``: ``info["new_reward"]``, the same over the query's new images (missing ones count 0);
    - ``new_mean``: the mean reward of the query's new images (of all its images when none is new): a mean
      over many images tracks a query's share of relevant images more closely than its best ten do;
    - ``calibrated``: ``new_mean`` in standard deviations above ``info["reward_baseline"]``, the mean image reward
      of random world images under the same model. In full mode the learner's rewards move as it trains (the
      first iteration's, scored by an untrained head, sit above all later ones), so raw rewards of different
      iterations are not comparable and a posterior fitted on them favours whatever was asked first; calibrated
      ones are. Without a baseline (live web) it is ``new_mean``; in frozen mode (a fixed baseline) the GP's
      standardised rewards are the same either way;
    - ``new_gain``: what the query added, per result: the new images' rewards in baseline standard deviations
      above ``info["reward_baseline"]``, summed and divided by the results; an image downloaded before counts 0.
      A query whose results were all downloaded already is worth 0, however relevant they are, where ``new_mean``
      scores it by them: the signal of an agent that counts distinct relevant images. Without a baseline the
      rewards count as they are.

    Without the env's ``info`` (or those keys) it is the reward."""
    if info is None or signal == "reward":
        return float(reward)
    if signal == "new_reward" and "new_reward" in info:
        return float(info["new_reward"])
    if signal in ("new_mean", "calibrated") and "new_image_rewards" in info:
        new = np.asarray(info["new_image_rewards"], np.float64)
        pool = new if len(new) else np.asarray(info.get("image_rewards", []), np.float64)
        value = float(pool.mean()) if len(pool) else float(reward)
        baseline = info.get("reward_baseline") if signal == "calibrated" else None
        return (value - baseline[0]) / baseline[1] if baseline else value
    if signal == "new_gain" and "new_image_rewards" in info:
        new = np.asarray(info["new_image_rewards"], np.float64)
        baseline = info.get("reward_baseline") or (0.0, 1.0)
        results = max(len(info.get("image_rewards", [])), len(new), 1)
        return float(((new - baseline[0]) / baseline[1]).sum() / results)
    return float(reward)


def rng_state(rng: np.random.Generator) -> dict:
    """The generator's state as plain dicts and ints (a checkpoint-friendly copy)."""
    return dict(rng.bit_generator.state)


def make_rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(int(seed)))


def rng_from_state(state: dict) -> np.random.Generator:
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = state
    return rng


class UnknownOption(TypeError, ValueError):
    """An option no configuration field has (a ValueError too, so command lines report it in one line)."""


def build_config(cls, options: dict, nested: dict | None = None):
    """Make dataclass ``cls`` from keyword options; keys of nested dataclasses (``{"gp": GPConfig}``) may be
    given flat. Unknown keys raise a one-line error listing the valid ones."""
    nested = nested or {}
    own = {f.name for f in fields(cls)}
    kwargs, sub = {}, {name: {} for name in nested}
    for key, value in options.items():
        if key in own and key not in nested:
            kwargs[key] = value
            continue
        for name, sub_cls in nested.items():
            if key in {f.name for f in fields(sub_cls)}:
                sub[name][key] = value
                break
        else:
            if key in nested and (is_dataclass(value) or isinstance(value, dict)):
                sub[key] = value if is_dataclass(value) else dict(value)
                continue
            valid = sorted(own | {f.name for c in nested.values() for f in fields(c)})
            raise UnknownOption(f"unknown option {key!r} for {cls.__name__}: valid options are {', '.join(valid)}")
    for name, sub_cls in nested.items():
        v = sub[name]
        kwargs[name] = v if is_dataclass(v) else sub_cls(**v)
    return cls(**kwargs)


class Agent:
    """Base class: one query per step. Subclasses implement :meth:`act` and usually :meth:`observe`."""

    name = "agent"

    def __init__(self, context: AgentContext):
        if not isinstance(context, AgentContext):
            raise TypeError("agents take an AgentContext(vocab, concept_embeddings, ...) as their first argument")
        self.context = context
        self.n_concepts = len(context.vocab)
        self.allowed = context.allowed  # None: every concept may be queried
        self.allowed_concepts = None if self.allowed is None else np.flatnonzero(self.allowed)
        self.rng = make_rng(0)
        self.steps = 0
        self.descriptors: list[str] = []
        self.descriptor_choices: list[int] = []  # positions of the descriptors the vocabulary filter allows
        self.issued: dict[str, set[int]] = {}  # query text without descriptor -> descriptors used with it

    def reset(self, seed: int) -> None:
        """Start a fresh run whose queries depend only on ``seed`` and the rewards observed."""
        self.rng = make_rng(seed)
        self.steps = 0
        self.issued = {}

    def act(self) -> Query:
        raise NotImplementedError

    def random_concept(self) -> int:
        """A concept drawn uniformly among those the vocabulary filter allows."""
        if self.allowed_concepts is None:
            return int(self.rng.integers(self.n_concepts))
        return int(self.allowed_concepts[self.rng.integers(len(self.allowed_concepts))])

    def may_query(self, text: str) -> bool:
        """Whether the vocabulary filter lets a query text other than a lemma (a class name) be sent."""
        return self.context.vocabulary_filter == "none" or not offensive([text])[0]

    def upcoming(self) -> list[Query]:
        """Queries :meth:`act` will return next, when the agent knows them already (an agent that draws an
        iteration's queries at once); the env may answer them in one batch. Default: none known."""
        return []

    def observe(self, query: Query, reward: float, info: dict | None = None) -> None:
        """Take the reward of the query returned by the last :meth:`act` (and the env step's ``info``)."""

    # --- descriptors ----------------------------------------------------------------------------
    def _setup_descriptors(self, source: str | None) -> None:
        if source in (None, "", "none"):
            self.descriptors = []
        elif source == "context":
            self.descriptors = list(self.context.descriptors)
        else:
            self.descriptors = load_descriptors(source)
        self._filter_descriptors()

    def _filter_descriptors(self) -> None:
        """The descriptors a query may use: the list keeps its positions (a context descriptor's is the env's
        action), the ones the vocabulary filter removes are never drawn."""
        self.descriptor_choices = [d for d, text in enumerate(self.descriptors) if self.may_query(text)]

    def make_query(self, concept: int, p_descriptor: float = 0.0, text: str | None = None) -> Query:
        """A query for ``concept`` (its lemma, or ``text``), with a random descriptor with probability
        ``p_descriptor`` when the agent has descriptors. A variant already issued this episode (for this concept
        or another with the same lemma) is swapped for an unused one (a repeated query brings back the same
        images) while any is left. Raises ``ValueError`` for a concept the vocabulary filter removes; a descriptor
        variant the filter removes is asked plainly."""
        concept = int(concept)
        if self.allowed is not None and not self.allowed[concept]:
            raise ValueError(f"{self.name}: concept {concept} is removed by the vocabulary filter "
                             f"{self.context.vocabulary_filter!r}; draw among the allowed ones (self.allowed)")
        base = text if text is not None else self.context.vocab.lemmas[concept]
        choices = self.descriptor_choices
        d = -1
        if choices and p_descriptor > 0 and self.rng.random() < p_descriptor:
            d = choices[int(self.rng.integers(len(choices)))]
        used = self.issued.setdefault(base, set())
        if d in used and len(used) <= len(choices):
            free = [x for x in (-1, *choices) if x not in used]
            d = free[int(self.rng.integers(len(free)))]
        query = descriptor_text(self.descriptors[d], base) if d >= 0 else base
        if d >= 0 and not self.may_query(query):  # two allowed words can still make a phrase on the list
            d, query = -1, base
        used.add(d)
        return Query(concept, d, query)

    def exhausted(self, concept: int) -> bool:
        """Whether every variant of ``concept`` (plain and with each allowed descriptor) was issued this episode."""
        used = self.issued.get(self.context.vocab.lemmas[int(concept)], ())
        return len(used) > len(self.descriptor_choices)

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"name": self.name, "rng": rng_state(self.rng), "steps": self.steps,
                "descriptors": list(self.descriptors),
                "issued": [[base, sorted(ds)] for base, ds in self.issued.items()]}

    def load_state_dict(self, d: dict) -> None:
        if d.get("name") != self.name:
            raise ValueError(f"checkpoint is for agent {d.get('name')!r}, not {self.name!r}: load it into that agent")
        self.rng = rng_from_state(d["rng"])
        self.steps = int(d["steps"])
        if list(d["descriptors"]) != self.descriptors:
            self.descriptors = list(d["descriptors"])
            self._filter_descriptors()
        self.issued = {}
        for entry in d.get("issued", []):  # [base, descriptors] ([concept, base, descriptors] before 2026-12-07)
            self.issued.setdefault(str(entry[-2]), set()).update(int(x) for x in entry[-1])
