"""Running independent jobs as Ray tasks (the episodes of a sweep), on a local Ray instance or a cluster.

    failed = run_tasks("local", partial(worker_episode, cfg), [("gp", 0), ("gp", 1)], on_done)

Each job is one task calling ``fn(*job)`` in a Ray worker process, named after the job (``gp 0``) in Ray's logs;
``on_done(job, result)`` runs in this process as each task finishes (in completion order), so a caller can save
results as they come. A task whose worker dies or that raises is retried once (Ray's ``max_retries`` /
``retry_exceptions``); one that fails again is returned as ``(job, "one-line error")`` and the other jobs go on.

``address``: ``local`` (a Ray instance started here for the sweep), ``auto`` or ``ray://head:10001`` (a running
cluster); see :mod:`ie_env.ray_cluster`.
"""
from __future__ import annotations

from typing import Any, Callable

from tqdm.auto import tqdm

from ie_env.ray_cluster import connect, import_ray, one_line

RETRIES = 1
"""Extra attempts of a task after its worker died or it raised."""


def _call(fn: Callable[..., Any], *args):
    return fn(*args)


def run_tasks(address: str, fn: Callable[..., Any], jobs: list[tuple], on_done: Callable[[tuple, Any], None],
              desc: str = "episodes on Ray") -> list[tuple[tuple, str]]:
    """Run ``fn(*job)`` for every job as a Ray task; ``on_done(job, result)`` as each finishes; the failures."""
    if not jobs:
        return []
    ray = import_ray()
    started = connect(address)
    try:
        task = ray.remote(max_retries=RETRIES, retry_exceptions=True)(_call)
        fn_ref = ray.put(fn)  # shipped once, not with every task
        pending = {task.options(name=" ".join(map(str, job))).remote(fn_ref, *job): job for job in jobs}
        failed: list[tuple[tuple, str]] = []
        with tqdm(total=len(jobs), desc=desc, unit="task") as bar:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(ready[0])
                try:
                    result = ray.get(ready[0])
                except ray.exceptions.RayError as e:
                    failed.append((job, one_line(e)))
                else:
                    on_done(job, result)
                bar.update(1)
        return sorted(failed, key=lambda f: jobs.index(f[0]))
    finally:
        if started:
            ray.shutdown()
