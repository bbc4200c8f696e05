"""The benchmark's task suites: one table of data (:data:`TABLE`), no code of the loop.

A task is a target to explore for, the offline world that answers, the mode and the schedule (queries per episode,
per iteration, results per query, descriptors, preset). A suite is a named, versioned set of tasks: ``standard``
(frozen mode, fast: the suite agents are ranked on) and ``full`` (the same targets in full mode with the ``head``
preset: the learner trains; defined for later, it costs ~20 s an episode). Each task is also a Gymnasium id,
``InternetExplorer/<task>-v<version>`` (registered by ``import ie_env``), so any RL library trains on it by name:

    import gymnasium as gym, ie_env
    env = gym.make("InternetExplorer/carnivore-v0")   # the task's env, as the benchmark runs it

A suite changes only by a new version: its tasks' settings are what a score means. ``ie-explore benchmark``
(:mod:`ie_env.run.benchmark`) runs a suite; ``--suite FILE.json`` runs one written as ``{"name", "version", "tasks":
[{"name", "target", ...}]}`` with the fields of :class:`Task` (those left out take :class:`Task`'s defaults).

This module imports nothing of the project: ``import ie_env`` reads it to register the ids.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

NAMESPACE = "InternetExplorer"
"""Gymnasium namespace of the task ids."""


@dataclass(frozen=True)
class Task:
    """One task of a suite: what an episode is asked to explore for, and with which schedule."""

    name: str
    """Short name, unique over all suites (``[A-Za-z0-9_.-]``); the Gymnasium id is
    ``InternetExplorer/<name>-v<version>``."""
    target: str
    """The target dataset: ``cifar10``, ``tiny-imagenet:<synset>`` or ``folder:<path>``."""
    world: str = "tinyweb"
    """Offline world (name or folder) whose engine answers."""
    mode: str = "frozen"
    """``frozen`` (a fixed encoder scores images: fast) or ``full`` (the self-supervised learner trains)."""
    budget: int = 1024
    """Queries per episode."""
    queries_per_iteration: int = 256
    """Queries between GP refits (and training calls in full mode)."""
    results_per_query: int = 20
    """Images the engine returns per query."""
    descriptors: str = "visual"
    """Descriptors the model-based agents may put before a concept (``visual`` or ``none``)."""
    preset: str = ""
    """A named preset (``head``, ...) under the settings above (full mode's learner schedule)."""
    frozen_encoder: str = ""
    """Frozen mode's encoder (empty: the env's default, EfficientNet-Lite0)."""
    image_size: int = 0
    """Image side the encoder sees (0: the env's default for the mode)."""
    vocabulary_under: str = ""
    """Keep only the concepts under these comma-separated synsets (empty: all 146,347 nouns)."""
    version: int = 0
    """The suite's version (every task of a suite has the same)."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name) or re.search(r"-v\d+$", self.name):
            raise ValueError(f"task name {self.name!r}: use letters, digits, '_', '.', '-' (not ending in -vN)")
        if self.mode not in ("frozen", "full"):
            raise ValueError(f"task {self.name}: mode {self.mode!r} is neither frozen nor full")
        if min(self.budget, self.queries_per_iteration, self.results_per_query) < 1:
            raise ValueError(f"task {self.name}: budget, queries_per_iteration and results_per_query must be >= 1")
        if self.descriptors not in ("visual", "none"):
            raise ValueError(f"task {self.name}: descriptors {self.descriptors!r} is neither visual nor none")

    @property
    def gym_id(self) -> str:
        return f"{NAMESPACE}/{self.name}-v{self.version}"

    def settings(self) -> dict:
        """Everything a score of this task depends on (what a resumed run must match)."""
        return asdict(self)


@dataclass(frozen=True)
class Suite:
    """A named, versioned set of tasks."""

    name: str
    version: int
    tasks: tuple[Task, ...]
    about: str = ""

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise ValueError(f"suite {self.name} has no task {name!r}: it has {', '.join(t.name for t in self.tasks)}")


FROZEN = dict(mode="frozen", budget=1024, queries_per_iteration=256, results_per_query=20, descriptors="visual")
"""The standard suite's schedule: the frozen comparison of docs/results.md (1,024 queries, a GP refit every 256)."""
HEAD = dict(mode="full", budget=192, queries_per_iteration=16, results_per_query=20, descriptors="visual",
            preset="head")
"""The full suite's schedule: the main job's (``ie-explore demo``, preset ``head``)."""

TABLE: tuple[tuple[str, int, str, str, dict], ...] = (
    # suite, version, task, target (Tiny ImageNet classes under it), schedule
    ("standard", 0, "carnivore", "tiny-imagenet:carnivore.n.01", FROZEN),  # 13: dogs, cats, big cats, bear, ...
    ("standard", 0, "dog", "tiny-imagenet:dog.n.01", FROZEN),  # 6 breeds
    ("standard", 0, "bird", "tiny-imagenet:bird.n.01", FROZEN),  # 4: goose, black stork, king penguin, albatross
    ("standard", 0, "insect", "tiny-imagenet:insect.n.01", FROZEN),  # 10
    ("standard", 0, "vehicle", "tiny-imagenet:vehicle.n.01", FROZEN),  # 12: cars, vans, go-kart, lifeboat, ...
    ("standard", 0, "clothing", "tiny-imagenet:clothing.n.01", FROZEN),  # 15: gowns, bikini, kimono, sock, ...
    ("standard", 0, "food", "tiny-imagenet:food.n.02", FROZEN),  # 10: pretzel, mushroom, orange, meat loaf, ...
    ("standard", 0, "landform", "tiny-imagenet:geological_formation.n.01", FROZEN),  # 5 scenes: alp, cliff, ...
    ("standard", 0, "cifar10", "cifar10", FROZEN),  # 22 Tiny ImageNet classes under 7 of its 10 classes
    ("full", 0, "carnivore-head", "tiny-imagenet:carnivore.n.01", HEAD),
    ("full", 0, "dog-head", "tiny-imagenet:dog.n.01", HEAD),
    ("full", 0, "insect-head", "tiny-imagenet:insect.n.01", HEAD),
    ("full", 0, "vehicle-head", "tiny-imagenet:vehicle.n.01", HEAD),
    ("full", 0, "cifar10-head", "cifar10", HEAD),
)
"""Every task of every suite, one row each."""

ABOUT = {
    "standard": "frozen mode (a fixed encoder scores images), 1,024 queries, a GP refit every 256: nine targets "
                "from 4 to 22 relevant Tiny ImageNet classes (animals, artefacts, food, scenes, CIFAR-10)",
    "full": "full mode, preset head (the learner trains): five targets of the standard suite; ~20 s an episode "
            "on 2 cores",
}


def _suites() -> dict[str, Suite]:
    rows: dict[str, list[Task]] = {}
    versions: dict[str, int] = {}
    for suite, version, name, target, schedule in TABLE:
        if versions.setdefault(suite, version) != version:
            raise ValueError(f"suite {suite} lists versions {versions[suite]} and {version}: one version a suite")
        rows.setdefault(suite, []).append(Task(name=name, target=target, version=version, **schedule))
    names = [t.name for ts in rows.values() for t in ts]
    if len(names) != len(set(names)):
        raise ValueError("a task name is used twice in the table: names must be unique over all suites")
    return {s: Suite(s, versions[s], tuple(ts), ABOUT.get(s, "")) for s, ts in rows.items()}


SUITES: dict[str, Suite] = _suites()
"""The suites by name, built from :data:`TABLE`."""


def all_tasks() -> dict[str, Task]:
    """Every task of :data:`SUITES` by name."""
    return {t.name: t for s in SUITES.values() for t in s.tasks}


TASK_FIELDS = tuple(f.name for f in fields(Task))


def task_from_dict(row: dict, version: int) -> Task:
    """A :class:`Task` from a JSON row (unknown keys are a one-line error)."""
    unknown = set(row) - set(TASK_FIELDS)
    if unknown:
        raise ValueError(f"unknown task field(s) {sorted(unknown)}: a task has {', '.join(TASK_FIELDS)}")
    return Task(**{**row, "version": version})


def load_suite(spec: str) -> Suite:
    """A suite by name (:data:`SUITES`) or from a JSON file (see the module docstring)."""
    if spec in SUITES:
        return SUITES[spec]
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"unknown suite {spec!r}: choose one of {', '.join(SUITES)} or give a JSON file of one")
    try:
        data = json.loads(path.read_text())
        name, version, rows = str(data["name"]), int(data.get("version", 0)), data["tasks"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a suite (JSON with name, version, tasks): {type(e).__name__}: {e}") from None
    tasks = tuple(task_from_dict(r, version) for r in rows)
    if not tasks or len({t.name for t in tasks}) != len(tasks):
        raise ValueError(f"{path}: a suite needs tasks with distinct names")
    return Suite(name, version, tasks, str(data.get("about", "")))


def registered_id(task: Task) -> str | None:
    """The Gymnasium id of ``task`` when it is registered with these very settings (``None`` for a task of a suite
    file, an extra ``--target`` task or one on another world)."""
    return task.gym_id if all_tasks().get(task.name) == task else None


def task_name_for(target: str) -> str:
    """A task name for a target: ``tiny-imagenet:bird.n.01`` -> ``bird``, ``cifar10`` -> ``cifar10``,
    ``folder:data/birds`` -> ``birds``."""
    kind, _, rest = target.partition(":")
    if kind == "tiny-imagenet" and rest:
        base = rest.split(".")[0]
    elif kind == "folder" and rest:
        base = Path(rest).name
    else:
        base = target
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-") or "target"


def with_target(suite: Suite, target: str) -> tuple[Suite, str]:
    """The suite plus one task on ``target`` with the settings of the suite's first task (none added when a task
    of the suite has that target already); returns the suite and the task's name."""
    for t in suite.tasks:
        if t.target == target:
            return suite, t.name
    taken = {t.name for t in suite.tasks}
    name = task_name_for(target)
    if name in taken:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", target.partition(":")[2] or target).strip("-")
    while name in taken:
        name = f"extra-{name}"
    extra = replace(suite.tasks[0], name=name, target=target)
    return replace(suite, tasks=(*suite.tasks, extra)), name
