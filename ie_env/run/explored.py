"""What an episode found, iteration by iteration, kept small enough to store beside every run.

At each iteration end :class:`IterationRecorder` turns the iteration's steps into one :class:`IterationFound`: its
counts, the best queries by reward (repeats of a query folded into one row) and the best new images by reward, each
with its content hash (the key of its pixels in the world or recorded snapshot), the query that brought it and, where
ground truth exists, whether it is relevant. :func:`write_explored` stores a run's iterations as ``explored.jsonl``
(one JSON line per iteration) beside its checkpoint, replaced atomically at every iteration end;
:mod:`ie_env.run.webpage` draws them. The bound (:class:`ExploredConfig`) keeps the file at a few kB per iteration
however many images an iteration downloads, and ``runs.json`` never holds it.
"""
from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from pathlib import Path

from ie_env.atomic import atomic_write_bytes

EXPLORED = "explored.jsonl"
"""File name of a run's iterations, beside its ``checkpoint.pt`` (or under ``OUT/runs/<agent>/seed_<n>/`` in a
comparison)."""


@dataclass
class ExploredConfig:
    """How much of each iteration a run keeps for its report."""

    top_images: int = 24
    """New images kept per iteration: the ones with the highest reward."""
    top_queries: int = 10
    """Distinct queries kept per iteration: the ones with the highest reward."""

    def __post_init__(self) -> None:
        if self.top_images < 0 or self.top_queries < 0:
            raise ValueError(f"top_images={self.top_images}, top_queries={self.top_queries}: use counts >= 0")


@dataclass
class ImageFound:
    """One new image of an iteration."""

    sha256: str
    """Hash of the image's bytes: where its pixels are in the world or the recorded snapshot."""
    reward: float
    """Its relevance reward when it was downloaded."""
    query: str
    """The query that first brought it."""
    relevant: bool | None
    """Ground truth (offline worlds); ``None`` where there is none (the live web)."""


@dataclass
class QueryFound:
    """One distinct query of an iteration (asked ``asked`` times)."""

    query: str
    reward: float
    """The query's reward (the mean of its best image rewards; the same at every repeat)."""
    asked: int
    """Times it was asked in the iteration."""
    new: int
    """New images it brought (a repeat brings none)."""
    relevant: int | None
    """Relevant new images it brought; ``None`` without ground truth."""


@dataclass
class IterationFound:
    """One iteration of a run: its counts and its best queries and images."""

    iteration: int
    """0-based."""
    queries: int
    """Queries asked."""
    new_images: int
    """Distinct images seen for the first time in the episode."""
    new_relevant: int | None
    """How many of them are relevant; ``None`` without ground truth."""
    mean_reward: float
    """Mean query reward."""
    reward_auc: float | None
    """ROC AUC of the new images' rewards for telling the relevant ones (``None``: undefined)."""
    knn_accuracy: float | None
    """Target kNN accuracy after the iteration's training (full mode)."""
    top_queries: list[QueryFound] = field(default_factory=list)
    top_images: list[ImageFound] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: dict) -> IterationFound:
        return cls(**{**d, "top_queries": [QueryFound(**q) for q in d["top_queries"]],
                      "top_images": [ImageFound(**i) for i in d["top_images"]]})


class IterationRecorder:
    """Collects one iteration's steps (:meth:`step`) and closes it into an :class:`IterationFound` (:meth:`close`)."""

    def __init__(self, cfg: ExploredConfig | None = None):
        self.cfg = cfg or ExploredConfig()
        self._open()

    def _open(self) -> None:
        self.queries: dict[str, QueryFound] = {}
        self.images: list[tuple[float, int, ImageFound]] = []  # (reward, arrival, image): ties keep arrival order
        self.rewards: list[float] = []
        self.truth = True

    def step(self, info: dict, reward: float) -> None:
        """One env step: its ``info`` (``query``, ``new_images``, ``new_relevant``, ``new_sha256``,
        ``new_image_rewards``, ``new_image_relevant``) and its reward."""
        flags = info.get("new_image_relevant")
        self.truth &= flags is not None
        query = info["query"]
        q = self.queries.setdefault(query, QueryFound(query, float(reward), 0, 0, 0))
        q.asked += 1
        q.new += int(info["new_images"])
        q.relevant += int(info["new_relevant"])
        self.rewards.append(float(reward))
        flags = flags if flags is not None else [None] * len(info.get("new_sha256", ()))
        for sha, r, rel in zip(info.get("new_sha256", ()), info["new_image_rewards"], flags):
            self.images.append((float(r), -len(self.images), ImageFound(sha, float(r), query, rel)))

    def close(self, iteration: int, info: dict) -> IterationFound:
        """The iteration so far as :class:`IterationFound` (``info``: the iteration end's, for its AUC and kNN
        accuracy); starts the next one."""
        cfg = self.cfg
        queries = heapq.nlargest(cfg.top_queries, self.queries.values(), key=lambda q: (q.reward, q.new))
        if not self.truth:
            for q in self.queries.values():
                q.relevant = None
        images = [i for _, _, i in heapq.nlargest(cfg.top_images, self.images, key=lambda t: t[:2])]
        auc, knn = info.get("reward_auc"), info.get("knn_accuracy")
        found = IterationFound(
            iteration=iteration, queries=len(self.rewards), new_images=len(self.images),
            new_relevant=sum(bool(i.relevant) for _, _, i in self.images) if self.truth else None,
            mean_reward=sum(self.rewards) / max(1, len(self.rewards)),
            reward_auc=None if auc is None else float(auc), knn_accuracy=None if knn is None else float(knn),
            top_queries=queries, top_images=images)
        self._open()
        return found


def write_explored(path: str | Path, iterations: list[dict]) -> None:
    """Replace ``path`` with these iterations (plain dicts of :class:`IterationFound`), one JSON line each."""
    atomic_write_bytes(Path(path), "".join(json.dumps(it) + "\n" for it in iterations).encode())


def read_explored(path: str | Path) -> list[IterationFound]:
    """A run's iterations from its ``explored.jsonl`` (empty when the run kept none)."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        return [IterationFound.from_json(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{path} is not a readable {EXPLORED} ({type(e).__name__}: {e})") from None
