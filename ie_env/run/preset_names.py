"""One meaning per preset name: the two preset tables behind one lookup.

Two tables hold presets, for two purposes:

- :mod:`ie_env.run.presets` (``cpu``, ``head``, ``paper_cpu``): full-mode schedules sized for a CPU, a learner
  regime plus the SSL steps that make its passes over each iteration's candidates;
- :mod:`ie_env.envs.presets` (``paper``): the paper's scale (ResNet-50 at 224 px, for GPUs); its library form is
  ``EnvConfig(preset="paper")``, which fills the fields left at their defaults.

Every command that takes ``--preset`` (``ie-explore run``, ``live`` and ``demo``, ``experiments/compare_agents.py``)
accepts the names of both tables and looks them up here (:func:`preset_table`); no name is in both. A preset gives
its values to the options not written on the command line; an option written there wins, even where it equals the
default (:func:`preset_options`).
"""
from __future__ import annotations

from ie_env.envs import presets as env_presets
from ie_env.run import presets as run_presets
from ie_env.run.presets import PresetError

TABLES: dict[str, tuple[dict, str]] = {
    "ie_env.run.presets": (run_presets.PRESETS, "full-mode schedules sized for a CPU"),
    "ie_env.envs.presets": (env_presets.PRESETS, "the paper's scale, for GPUs"),
}
"""Module -> (its preset table, what its presets are for)."""


def preset_names() -> str:
    """Every preset name, grouped by the table that defines it: ``cpu, head, paper_cpu (ie_env.run.presets: ...);
    paper (ie_env.envs.presets: ...)``."""
    return "; ".join(f"{', '.join(table)} ({module}: {purpose})" for module, (table, purpose) in TABLES.items())


def preset_table(name: str) -> str:
    """The module whose table defines preset ``name``; a one-line :class:`PresetError` listing every name
    otherwise."""
    holders = [module for module, (table, _) in TABLES.items() if name in table]
    if len(holders) > 1:
        raise PresetError(f"preset {name!r} is defined twice ({' and '.join(holders)}): a name has one meaning")
    if not holders:
        raise PresetError(f"unknown preset {name!r}: choose one of {preset_names()}")
    return holders[0]


def preset_options(name: str, **given) -> dict:
    """:class:`~ie_env.envs.env.EnvConfig` keyword arguments of preset ``name`` (from whichever table defines it)
    with the ``given`` ones on top; ``learner`` options are merged, the given ones winning."""
    if preset_table(name) == "ie_env.run.presets":
        if given.get("mode", "full") != "full":
            raise PresetError(f"preset {name!r} is a full-mode schedule: it cannot run in mode {given['mode']!r}")
        return run_presets.env_overrides(name, **given)
    entry = env_presets.PRESETS[name]
    out = {**entry, **{k: v for k, v in given.items() if k != "learner"}}
    out["learner"] = {**entry.get("learner", {}), **given.get("learner", {})}
    return out
