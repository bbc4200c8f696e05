"""Running one episode of the loop (agent -> env), with the curves the experiments plot and, given a run folder,
a checkpoint at every iteration boundary so that a killed run resumes with nothing lost.

    result = run_episode(env, agent, seed=0, run_dir="runs/gp-0")                # writes checkpoints
    result = run_episode(env, agent, seed=0, run_dir="runs/gp-0", resume=True)   # after a crash

Beside it, ``explored.jsonl`` (:mod:`ie_env.run.explored`, replaced atomically at every iteration end) keeps what each
iteration found for the report page: its best queries and images by reward, bounded by ``explored``; the checkpoint
holds the same list, so a resumed run keeps it. The result carries it under ``explored`` (``result.json`` does not).

The checkpoint (``checkpoint.pt``, written at the start and at every iteration end, replaced atomically) holds the env's episode (learner and momentum encoder,
optimiser, replay buffer, RNGs, what was found, the fetcher's memory of URLs and images), the agent's state
(observations, posterior inputs, RNG) and the curves so far. It holds tensors and plain containers only and is
read with ``torch.load(weights_only=True)``: loading a checkpoint never runs code from it. Steps taken after the
last checkpoint are simply taken again on resume: an offline world answers the same, and a recording snapshot
stores the same rows under the same keys, so nothing is lost or recorded twice.
"""
from __future__ import annotations

import io
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ie_env.atomic import atomic_write_bytes, atomic_write_json
from ie_env.failpoints import failpoint
from ie_env.learning.distributed import is_main
from ie_env.run.explored import EXPLORED, ExploredConfig, IterationRecorder, write_explored

CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
FORMAT = 1


def _pack(x):
    """numpy values -> tensors / Python scalars and sets -> tagged lists, so ``weights_only`` loading works."""
    if isinstance(x, np.ndarray):
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(x).copy())}
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (set, frozenset)):
        return {"__set__": [_pack(v) for v in sorted(x)]}
    if isinstance(x, dict):
        return {k: _pack(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_pack(v) for v in x)
    return x


def _unpack(x):
    if isinstance(x, dict):
        if set(x) == {"__ndarray__"}:
            return x["__ndarray__"].numpy()
        if set(x) == {"__set__"}:
            return {_unpack(v) for v in x["__set__"]}
        return {k: _unpack(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_unpack(v) for v in x)
    return x


def save_checkpoint(run_dir: str | Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(_pack({"format": FORMAT, **state}), buf)
    atomic_write_bytes(Path(run_dir) / CHECKPOINT, buf.getvalue())


def load_checkpoint(run_dir: str | Path) -> dict | None:
    """The run's last checkpoint, or ``None`` when it has none yet (killed before its first iteration ended)."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        state = _unpack(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same advice
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(f"{path} is not a readable checkpoint ({type(e).__name__}: {first[:200]}); delete it to "
                         "start the run over") from None
    if state.get("format") != FORMAT:
        raise ValueError(f"{path} has checkpoint format {state.get('format')!r}, this version reads {FORMAT}")
    return state


def _new_log() -> dict:
    return {"curve": {"relevant_images": [], "distinct_images": [], "relevant_classes": []},
            "iterations": {"precision": [], "reward": [], "knn_accuracy": [], "reward_auc": []},
            "it_new": 0, "it_rel": 0, "it_rewards": [], "seconds": 0.0}


def _action(env, q):
    """The env action of an agent's query."""
    return (q.concept, q.descriptor + 1) if env.config.descriptors else q.concept


def run_episode(env, agent, seed: int, bar=None, progress: bool = False, run_dir: str | Path | None = None,
                resume: bool = False, explored: ExploredConfig | None = None) -> dict:
    """One episode; returns the final metrics and curves per query and per iteration, and under ``explored`` what
    each iteration found (plain dicts of :class:`ie_env.run.explored.IterationFound`). Queries the agent knows
    ahead (:meth:`agents.base.Agent.upcoming`) go to ``env.prefetch`` first, to be answered in one batch.

    Args:
        env: an :class:`ie_env.envs.env.InternetExplorerEnv` (or the live one).
        agent: an :class:`agents.base.Agent` for the env's vocabulary.
        seed: the episode's seed (env and agent).
        bar: a tqdm bar to advance by one per query; ``progress`` makes a bar of its own.
        run_dir: folder for ``checkpoint.pt`` (every iteration end) and ``result.json`` (at the end).
        resume: continue from ``run_dir``'s checkpoint (from the start when there is none yet).
        explored: how many queries and images of each iteration to keep (default :class:`ExploredConfig`).
    """
    state = load_checkpoint(run_dir) if (run_dir and resume) else None
    write = bool(run_dir) and is_main()  # under torchrun every process runs the episode; rank 0 writes its files
    if state is not None:
        if int(state["seed"]) != int(seed):
            raise ValueError(f"the checkpoint in {run_dir} is of seed {state['seed']}, not {seed}")
        env.load_state_dict(state["env"])
        agent.load_state_dict(state["agent"])
        log = state["log"]
    else:
        env.reset(seed=seed)
        agent.reset(seed)
        log = _new_log()
        if write:  # a run killed before its first iteration ends resumes from here, not from a fresh env
            save_checkpoint(run_dir, {"seed": int(seed), "env": env.state_dict(), "agent": agent.state_dict(),
                                      "log": log})
    log.setdefault("explored", [])
    recorder = IterationRecorder(explored)
    budget = env.config.budget
    own = tqdm(total=budget, initial=env.t, desc=f"episode (seed {seed})", unit="query") \
        if progress and bar is None else None
    bar = bar or own
    start = time.perf_counter()
    prefetched_until = -1  # env.t up to which the agent's planned queries were handed to the env
    while env.t < budget:
        failpoint("step")
        if env.t >= prefetched_until and hasattr(env, "prefetch"):  # the agent's next queries, in one batch
            plan = agent.upcoming()[: budget - env.t]
            env.prefetch([_action(env, q) for q in plan])
            prefetched_until = env.t + len(plan)
        t0 = time.perf_counter()
        q = agent.act()
        action = _action(env, q)
        t1 = time.perf_counter()
        _, reward, _, _, info = env.step(action)
        t2 = time.perf_counter()
        agent.observe(q, reward, info)
        log["agent_seconds"] = log.get("agent_seconds", 0.0) + (t1 - t0) + (time.perf_counter() - t2)
        log["it_new"] += info["new_images"]
        log["it_rel"] += info["new_relevant"]
        log["it_rewards"].append(float(reward))
        recorder.step(info, reward)
        m = env.metrics()
        for k in log["curve"]:
            log["curve"][k].append(m[k])
        if bar is not None:
            bar.update(1)
        if info["iteration_end"]:
            it = log["iterations"]
            it["precision"].append(log["it_rel"] / max(1, log["it_new"]))
            it["reward"].append(float(np.mean(log["it_rewards"])))
            it["knn_accuracy"].append(float(info.get("knn_accuracy", 0.0)))
            it.setdefault("reward_auc", []).append(info.get("reward_auc"))  # None: undefined (older logs: absent)
            if "replay_added" in info:  # full mode: what joined the replay buffer
                it.setdefault("replay_added", []).append(info["replay_added"])
                it.setdefault("replay_relevant", []).append(info["replay_relevant"])
            log.update(it_new=0, it_rel=0, it_rewards=[])
            log["explored"].append(asdict(recorder.close(info["iteration"], info)))
            if write:
                write_explored(Path(run_dir) / EXPLORED, log["explored"])
                now = time.perf_counter()
                log["seconds"] += now - start
                start = now
                save_checkpoint(run_dir, {"seed": int(seed), "env": env.state_dict(), "agent": agent.state_dict(),
                                          "log": log})
    log["seconds"] += time.perf_counter() - start
    if own is not None:
        own.close()
    split = env.time_split() if hasattr(env, "time_split") else {}
    result = {"seed": seed, "final": env.metrics(), "curve": log["curve"], "iterations": log["iterations"],
              "steps_per_s": budget / max(log["seconds"], 1e-9), "queries": [h["query"] for h in env.history],
              "seconds": log["seconds"], "time_split": {**split, "agent": log.get("agent_seconds", 0.0)}}
    if write:
        atomic_write_json(Path(run_dir) / RESULT, result)
    return result | {"explored": log["explored"]}
