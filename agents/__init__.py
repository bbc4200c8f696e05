"""Query-selection agents behind one small interface (:mod:`agents.base`), chosen by name with :func:`make_agent`.

Names: ``random``, ``gp`` (the paper's agent), ``gp_label_set`` (the same in label-set mode), ``gp_ucb``, ``gp_thompson``, ``oracle`` (ceiling, experiments
only: needs ``oracle_concepts``), and the learned policies ``ppo`` / ``dqn`` (stable-baselines3).
"""
from __future__ import annotations

import importlib

from agents.base import Agent, AgentContext, Query

AGENTS = {
    "random": "agents.random_agent:RandomAgent",
    "gp": "agents.gp_agent:GPAgent",
    "gp_ucb": "agents.bandits:GPUCBAgent",
    "gp_thompson": "agents.bandits:GPThompsonAgent",
    "oracle": "agents.oracle:OracleAgent",
    "ppo": "agents.sb3_policy:PPOAgent",
    "dqn": "agents.sb3_policy:DQNAgent",
}
"""Agent name -> ``module:Class`` (imported only when that agent is made)."""

PRESETS = {"gp_label_set": ("gp", {"label_set": True})}
"""Named variants: name -> (registered agent, default options)."""


def make_agent(name: str, context: AgentContext, **options) -> Agent:
    """Build the agent registered under ``name`` for ``context`` with its keyword ``options``."""
    if name in PRESETS:
        name, preset = PRESETS[name]
        options = {**preset, **options}
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}: choose one of {', '.join([*AGENTS, *PRESETS])}")
    module, cls = AGENTS[name].split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            raise ValueError(f"agent {name!r} is not available yet: module {module} is missing") from e
        raise
    return getattr(mod, cls)(context, **options)


__all__ = ["AGENTS", "Agent", "AgentContext", "Query", "make_agent"]
