"""Query-selection agents behind one small interface (:mod:`agents.base`), chosen by name with :func:`make_agent`.

Names: ``random``, ``gp`` (the paper's agent), ``gp_label_set`` (the same in label-set mode), ``gp_ucb``,
``gp_thompson``, ``gp_gain`` (GP-UCB refitted every 32 queries on what each query added), ``gp_tree`` (the same with
WordNet's hierarchy in the kernel, :mod:`agents.hierarchy`), the ground-truth agents of experiments
(``relevant_concepts``: cycles through the truly relevant concepts; ``ceiling``: greedy over the offline engine's
known answers, the upper reference), and the learned policies ``ppo`` / ``dqn`` (stable-baselines3).

Agents from other packages: a package publishes an :class:`agents.base.Agent` subclass under the entry point group
``internet_explorer.agents`` (``my_agent = my_package.agents:MyAgent`` in its ``pyproject.toml``'s
``[project.entry-points."internet_explorer.agents"]``) and every command then takes ``my_agent`` as an agent name;
``my_package.agents:MyAgent`` (``module:Class``) works without an entry point, for a module on ``sys.path``. The
class is built as ``MyAgent(context, **options)``; docs/benchmark.md has a minimal one.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from agents.base import Agent, AgentContext, Query
from ie_env.data.text_embedding import concept_embeddings

AGENTS = {
    "random": "agents.random_agent:RandomAgent",
    "gp": "agents.gp_agent:GPAgent",
    "gp_ucb": "agents.bandits:GPUCBAgent",
    "gp_thompson": "agents.bandits:GPThompsonAgent",
    "gp_gain": "agents.bandits:GPGainAgent",
    "relevant_concepts": "agents.relevant_concepts:RelevantConceptsAgent",
    "ceiling": "agents.ceiling:CeilingAgent",
    "ppo": "agents.sb3_policy:PPOAgent",
    "dqn": "agents.sb3_policy:DQNAgent",
}
"""Agent name -> ``module:Class`` (imported only when that agent is made)."""

PRESETS = {"gp_label_set": ("gp", {"label_set": True}), "gp_tree": ("gp_gain", {"hierarchy_weight": 0.5})}
"""Named variants: name -> (registered agent, default options)."""


RENAMED = {"oracle": "the agent 'oracle' is now 'relevant_concepts' (it cycles through the relevant concepts; it is "
                     "no ceiling): the ceiling is 'ceiling'"}
"""Former agent names -> the one-line hint every command gives for them."""


ENTRY_POINTS = "internet_explorer.agents"
"""Entry point group under which other packages publish agents (name -> ``module:Class``)."""


def plugin_agents() -> dict[str, str]:
    """The agents installed packages publish under :data:`ENTRY_POINTS`: name -> ``module:Class`` (the built-in
    names win over a plug-in of the same name)."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINTS) if ep.name not in AGENTS | PRESETS}


def agent_class(spec: str, name: str | None = None) -> type:
    """The :class:`Agent` subclass at ``module:Class`` (a dotted path after the colon is followed); a one-line
    ValueError when the module, the class or the subclass is missing."""
    label = f"agent {name or spec!r}"
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{label}: write module:Class, e.g. my_package.agents:MyAgent")
    try:
        obj = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            raise ValueError(f"{label}: module {module} is not found (is its package installed or on sys.path?)") \
                from e
        raise
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{label}: {module} has no {attr}")
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, Agent)):
        raise ValueError(f"{label}: {spec} is not a subclass of agents.base.Agent")
    return obj


def _spec(name: str) -> str | None:
    """``module:Class`` of the agent ``name`` (a registered name, a plug-in or a ``module:Class`` itself)."""
    if name in AGENTS:
        return AGENTS[name]
    plugins = plugin_agents()
    if name in plugins:
        return plugins[name]
    return name if ":" in name else None


def check_agent_name(name: str) -> None:
    """A one-line ValueError unless ``name`` names an agent (:data:`AGENTS`, :data:`PRESETS`, a plug-in of the
    :data:`ENTRY_POINTS` group, or ``module:Class``; the last two are imported to check them); a former name gets
    its rename hint (:data:`RENAMED`). Commands call it before building anything."""
    if name in RENAMED:
        raise ValueError(RENAMED[name])
    if name in AGENTS or name in PRESETS:
        return
    spec = _spec(name)
    if spec is None:
        raise ValueError(f"unknown agent {name!r}: choose one of {', '.join([*AGENTS, *PRESETS, *plugin_agents()])}"
                         f", or give module:Class (an agents.base.Agent subclass)")
    agent_class(spec, name)


def make_agent(name: str, context: AgentContext, **options) -> Agent:
    """Build the agent ``name`` (see :func:`check_agent_name`) for ``context`` with its keyword ``options``."""
    check_agent_name(name)
    if name in PRESETS:
        name, preset = PRESETS[name]
        options = {**preset, **options}
    if name not in AGENTS:  # a plug-in or module:Class
        return agent_class(_spec(name), name)(context, **options)
    module, cls = AGENTS[name].split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            raise ValueError(f"agent {name!r} is not available yet: module {module} is missing") from e
        raise
    return getattr(mod, cls)(context, **options)


VARYING = ("gp", "gp_label_set", "gp_ucb", "gp_thompson", "gp_gain", "gp_tree", "relevant_concepts")
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


__all__ = ["AGENTS", "ENTRY_POINTS", "Agent", "AgentContext", "Query", "agent_class", "check_agent_name", "make_agent",
           "make_agent_for_env", "plugin_agents"]
