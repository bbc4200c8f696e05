"""Query-selection agents behind one small interface (:mod:`agents.base`), chosen by name with :func:`make_agent`.

Names: ``random``, ``gp`` (the paper's agent), ``gp_label_set`` (the same in label-set mode), ``gp_ucb``,
``gp_thompson``, the ground-truth agents of experiments (``relevant_concepts``: cycles through the truly relevant
concepts; ``ceiling``: greedy over the offline engine's known answers, the upper reference), and the learned
policies ``ppo`` / ``dqn`` (stable-baselines3).
"""
from __future__ import annotations

import importlib

from agents.base import Agent, AgentContext, Query
from ie_env.data.text_embedding import concept_embeddings

AGENTS = {
    "random": "agents.random_agent:RandomAgent",
    "gp": "agents.gp_agent:GPAgent",
    "gp_ucb": "agents.bandits:GPUCBAgent",
    "gp_thompson": "agents.bandits:GPThompsonAgent",
    "relevant_concepts": "agents.relevant_concepts:RelevantConceptsAgent",
    "ceiling": "agents.ceiling:CeilingAgent",
    "ppo": "agents.sb3_policy:PPOAgent",
    "dqn": "agents.sb3_policy:DQNAgent",
}
"""Agent name -> ``module:Class`` (imported only when that agent is made)."""

PRESETS = {"gp_label_set": ("gp", {"label_set": True})}
"""Named variants: name -> (registered agent, default options)."""


RENAMED = {"oracle": "the agent 'oracle' is now 'relevant_concepts' (it cycles through the relevant concepts; it is "
                     "no ceiling): the ceiling is 'ceiling'"}
"""Former agent names -> the one-line hint every command gives for them."""


def check_agent_name(name: str) -> None:
    """A one-line ValueError unless ``name`` names an agent (:data:`AGENTS`, :data:`PRESETS`); a former name gets
    its rename hint (:data:`RENAMED`). Commands call it before building anything."""
    if name in RENAMED:
        raise ValueError(RENAMED[name])
    if name not in AGENTS and name not in PRESETS:
        raise ValueError(f"unknown agent {name!r}: choose one of {', '.join([*AGENTS, *PRESETS])}")


def make_agent(name: str, context: AgentContext, **options) -> Agent:
    """Build the agent registered under ``name`` for ``context`` with its keyword ``options``."""
    check_agent_name(name)
    if name in PRESETS:
        name, preset = PRESETS[name]
        options = {**preset, **options}
    module, cls = AGENTS[name].split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            raise ValueError(f"agent {name!r} is not available yet: module {module} is missing") from e
        raise
    return getattr(mod, cls)(context, **options)


VARYING = ("gp", "gp_label_set", "gp_ucb", "gp_thompson", "relevant_concepts")
"""Agents that vary their queries with the env's descriptors when it has some (random queries plain concepts)."""


def ground_truth_concepts(env) -> list[int]:
    """Concepts whose synset is a relevant class of an offline world (ground truth: the privilege of the
    ``relevant_concepts`` agent)."""
    rel = set(env.world.wnids[env.relevant].tolist())
    return [i for i, w in enumerate(env.vocab.wnids) if w in rel]


def make_agent_for_env(name: str, env, **options) -> Agent:
    """The agent ``name`` for ``env``: its vocabulary, concept embeddings, target class names, descriptors
    (used by the agents in :data:`VARYING`) and vocabulary filter; ``relevant_concepts`` gets the world's relevant
    concepts; ``ceiling``, PPO and DQN get the env."""
    import numpy as np

    ctx = AgentContext(vocab=env.vocab, concept_embeddings=np.asarray(concept_embeddings(env.vocab)),
                       target_class_names=env.target.class_names, descriptors=list(env.config.descriptors),
                       vocabulary_filter=env.config.vocabulary_filter)
    extra = {"concepts": ground_truth_concepts(env)} if name == "relevant_concepts" else {}
    if env.config.descriptors and name in VARYING:
        extra["descriptor_source"] = "context"
    if name in ("ppo", "dqn", "ceiling"):
        extra["env"] = env
    return make_agent(name, ctx, **{**extra, **options})


__all__ = ["AGENTS", "Agent", "AgentContext", "Query", "check_agent_name", "make_agent", "make_agent_for_env"]
