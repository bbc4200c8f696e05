"""``InternetExplorerLiveEnv``: the loop against a live image-search service, recorded for offline replay."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ie_env.data.images import decode
from ie_env.envs.env import EnvConfig, InternetExplorerEnv
from ie_env.web.http import user_agent
from ie_env.web.ray_download import make_downloader
from ie_env.web.search import make_engine
from ie_env.web.search.base import SearchError
from offline_cache.recorder import RecordingEngine
from offline_cache.replay import ReplayEngine, SnapshotFetcher


@dataclass
class LiveEnvConfig(EnvConfig):
    """:class:`EnvConfig` plus where the live run is recorded and how images are downloaded."""

    engine: str = "openverse"
    """Live engine (``openverse``, ``clip_retrieval``, ``flickr``, ``wikimedia``) or ``replay``."""
    vocabulary_filter: str = "offensive"
    """Concepts and descriptors a query may never name: ``offensive`` (the live default: no obscenity, slur or
    disparagement goes to a real search engine) or ``none`` (the paper's whole vocabulary); see
    :class:`EnvConfig`. A replay needs the filter its recording ran with."""
    results_per_query: int = 20
    """Images asked per query (Openverse's anonymous page size is at most 20)."""
    record: str = ""
    """Snapshot folder every answer and image is recorded into (created when missing); empty = no recording."""
    snapshot: str = ""
    """With ``engine="replay"``: the recorded snapshot folder to replay."""
    contact: str = ""
    """How to reach whoever runs the loop (an email address or a URL), sent in the User-Agent of every search and
    download as Wikimedia's User-Agent policy asks; empty: ``IE_CONTACT`` from the environment
    (:func:`ie_env.web.http.user_agent`). An ``engine_options`` or ``downloader`` ``user_agent`` overrides it."""
    downloader: dict = field(default_factory=dict)
    """Options of :class:`ie_env.web.download.DownloaderConfig` (threads, timeouts, ``allow_private``...); with
    ``ray`` (``local`` or a cluster address) and ``workers``, each answer's downloads fan out to Ray workers
    (:class:`ie_env.web.ray_download.RayDownloader`)."""


class InternetExplorerLiveEnv(InternetExplorerEnv):
    """:class:`InternetExplorerEnv` on the live web (registered ``InternetExplorerLive-v0``, nondeterministic).

    The search engine is a live HTTP service; each answer's images are downloaded by the safe
    :class:`ie_env.web.download.Downloader`, de-duplicated by sha256, decoded and scored by the current encoder (the
    frozen one, or the learner in full mode). With ``record`` set, every answer and image goes into a snapshot;
    ``engine="replay", snapshot=<that folder>`` reruns the same episode offline with identical rewards. The live
    web has no ground truth: ``relevant`` and ``new_relevant`` in ``info`` are always 0 and ``new_image_relevant``
    is ``None``.
    A recorded run also keeps the reward it gave each new image, and the query that brought it, in the snapshot
    (:meth:`offline_cache.snapshot.Snapshot.put_rewards`), so that ``ie-explore export --top N`` can rank them.
    """

    config_class = LiveEnvConfig

    def _setup_web(self) -> None:
        cfg = self.config
        if cfg.engine == "replay":
            if not cfg.snapshot:
                raise ValueError("engine='replay' needs snapshot=<folder of a recorded run>")
            self.engine = ReplayEngine(cfg.snapshot, **cfg.engine_options)
            self._fetcher_factory = lambda: SnapshotFetcher(self.engine.snapshot)
        else:
            agent = {"user_agent": user_agent(cfg.contact)}
            engine = make_engine(cfg.engine, n=cfg.results_per_query, **(agent | cfg.engine_options))
            if cfg.record:
                engine = RecordingEngine(engine, cfg.record)
            snapshot = engine.snapshot if cfg.record else None
            self._fetcher_factory = lambda: make_downloader(snapshot, image_size=cfg.image_size,
                                                            **(agent | cfg.downloader))
            self.engine = engine
        self.fetcher = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if self.fetcher is not None:
            self.fetcher.close()
        self.fetcher = self._fetcher_factory()  # a fresh downloader: its de-duplication is per episode
        self._reward_of: dict[str, float] = {}
        self._pixels: dict[str, np.ndarray] = {}
        self.search_errors: list[str] = []
        return super().reset(seed=seed, options=options)

    def _search(self, query: str) -> list:
        """The engine's answer; a failed search (unreachable, malformed or oversized answer, HTTP errors after the
        retries) counts as ``search_error`` in the status histogram and answers nothing."""
        try:
            return super()._search(query)
        except SearchError as e:
            self.fetcher.status["search_error"] += 1
            self.search_errors.append(f"{query!r}: {e}")
            return []

    def _fetch(self, results) -> tuple[list, np.ndarray, np.ndarray]:
        fetched = self.fetcher.fetch(results)
        fresh = [f for f in fetched if f.status == "ok" and f.sha256 not in self._reward_of]
        if fresh:
            images = np.stack([decode(f.image, self.config.image_size) for f in fresh])
            for f, img, r in zip(fresh, images, self.scorer.rewards_of(images)):
                self._reward_of[f.sha256] = float(r)
                self._pixels[f.sha256] = img
        ids = [f.sha256 for f in fetched if f.sha256 in self._reward_of]
        rewards = np.asarray([self._reward_of[i] for i in ids], np.float32)
        return ids, rewards, np.zeros(len(ids), bool)

    def state_dict(self) -> dict:
        return super().state_dict() | {"fetcher": self.fetcher.state_dict(), "reward_of": dict(self._reward_of),
                                       "pixels": {k: self._pixels[k] for k in self.candidates}}

    def load_state_dict(self, d: dict) -> None:
        if self.fetcher is None:
            self.fetcher = self._fetcher_factory()
        self.fetcher.load_state_dict(d["fetcher"])
        self._reward_of = {k: float(v) for k, v in d["reward_of"].items()}
        self._pixels = {k: np.asarray(v) for k, v in d["pixels"].items()}
        self.search_errors = []
        super().load_state_dict(d)

    def _end_iteration(self) -> dict:
        out = super()._end_iteration()
        # the iteration's candidates have been trained on; later answers decode afresh (the last one stays drawable)
        shown = set(self.shown.get("ids", ()))
        self._pixels = {k: v for k, v in self._pixels.items() if k in shown}
        return out

    def _preview(self, ids: list) -> list:
        return [self._pixels.get(i) for i in ids]  # images first met in an earlier iteration: no pixels kept

    def _wnid(self, image_id) -> str:
        return ""

    def _hashes(self, ids: list) -> list[str]:
        return list(ids)  # the live env's image ids are the content hashes

    def _truth(self, flags: np.ndarray) -> None:
        return None  # the live web has no ground truth

    def step(self, action):
        out = super().step(action)
        info = out[-1]
        if self.config.record and info["new_sha256"]:  # the run's reward of every image it downloaded, for export
            self.engine.snapshot.put_rewards(info["query"], info["new_sha256"], info["new_image_rewards"],
                                             iteration=info["iteration"])
        return out

    def _images(self, ids: list) -> np.ndarray:
        size = self.config.image_size
        return np.stack([self._pixels[i] for i in ids]) if ids else np.zeros((0, size, size, 3), np.uint8)

    def close(self) -> None:
        if getattr(self, "fetcher", None) is not None:
            self.fetcher.close()
        super().close()
