"""Joining Ray for the stages that fan work out (sweeps in :mod:`ie_env.run.ray_sweep`, downloads in
:mod:`ie_env.web.ray_download`).

An address is ``local`` (start a Ray instance on this machine: all its cores, no dashboard; stopped by whoever
started it) or anything ``ray.init(address=...)`` accepts: ``auto`` (the cluster this machine belongs to) or
``ray://head:10001``. Every node of a cluster needs this project installed at the same version (``pip install -e
'.[scale]'``) and the data its tasks read at the same paths (``IE_DATA_DIR``, ``IE_CACHE_DIR``, worlds). Ray is
imported only here, only when asked for.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The folder holding this copy of the project: a local instance's workers import it, as this process does."""


def import_ray():
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ModuleNotFoundError as e:
        raise RuntimeError("running on Ray needs the ray package: pip install -e '.[scale]'") from e
    return ray


def connect(address: str) -> bool:
    """Join Ray at ``address`` unless this process already has; whether this call started it (so should stop it)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address == "local":
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        ray.init(include_dashboard=False, logging_level="warning", runtime_env={"env_vars": {"PYTHONPATH": path}})
    else:
        ray.init(address=address, logging_level="warning")
    return True


def one_line(error: BaseException) -> str:
    """``Type: message`` of a failed task (the task's own exception when it raised), on one line."""
    cause = getattr(error, "cause", None) or error
    text = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {text[:300]}"
