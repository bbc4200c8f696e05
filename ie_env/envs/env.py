"""``InternetExplorerEnv``: the Internet Explorer loop as a Gymnasium environment."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ie_env.data.ground_truth import relevant_mask
from ie_env.data.targets import load_target
from ie_env.data.text_embedding import lemma_table_name, query_embeddings, registered_table
from ie_env.data.vocabulary import descriptor_text, load_vocabulary
from ie_env.data.vocabulary_filter import allowed_concepts, check_filter, offensive
from ie_env.envs.presets import apply_preset
from ie_env.envs.render import MAX_TILES, StepView, render_ansi, render_rgb
from ie_env.learning.distributed import check_device
from ie_env.learning.evaluation import reward_auc
from ie_env.learning.learner import keep_top
from ie_env.learning.scoring import make_scorer
from ie_env.web.search import make_engine

OBS_FIELDS = ("progress", "iteration_progress", "last_reward", "mean_reward", "best_reward", "last_new_share",
              "log_distinct_images", "knn_accuracy")


QUERY_TABLE_MIN_CONCEPTS = 10_000
"""Vocabulary size from which ``EnvConfig.query_table`` is on by default."""


@dataclass
class EnvConfig:
    """Everything an episode depends on. Every field can be passed to ``gym.make`` as a keyword."""

    world: str = "tinyweb"
    """Offline world (name or folder) whose images the engine returns."""
    engine: str = "tinyweb"
    """Search engine name (see ``ie_env.web.search.ENGINES``)."""
    engine_options: dict = field(default_factory=dict)
    """Extra keyword options of the engine (base_url, licence filters...)."""
    target: str = "cifar10"
    """Target dataset (``cifar10``, ``tiny-imagenet:<synset>``, ``folder:<path>``)."""
    mode: str = "frozen"
    """``frozen``: a fixed encoder, every web image embedded once (fast); ``full``: the SSL learner trains."""
    budget: int = 1024
    """Queries per episode: the env truncates the episode itself after this many steps (the registered ids add no
    TimeLimit of their own; ``gym.make(..., max_episode_steps=N)`` still adds one)."""
    queries_per_iteration: int = 32
    """Queries between two training calls (paper: 256)."""
    results_per_query: int = 20
    """Images the engine returns per query (20, an anonymous Openverse page: 1,024 queries then reach at most
    ~20% of tinyweb's 100,000 images, so an episode samples the web rather than exhausting it)."""
    image_size: int = 0
    """Side of the images the encoder sees; 0 = 64 in frozen mode (the pretrained encoder's reward separates
    relevant images better at 64 px), 32 in full mode (the CPU training default)."""
    frozen_encoder: str = "efficientnet_lite0-96px"
    """Encoder of frozen mode: ``efficientnet_lite0`` (ImageNet-pretrained; ``-96px`` upsamples its input to
    96 px: reward AUC 0.80 at 64 px) or ``resnet18`` (random init)."""
    reward_k: int = 15
    """Nearest target embeddings averaged into an image's reward."""
    reward_top: int = 10
    """Best image rewards averaged into a query's reward."""
    reward_targets: int = 5000
    """Target train images used as the reward's reference set (a fixed random subset; 0 = all)."""
    eval_images: int = 2000
    """Full mode: test images (and 5x as many memory-bank images) of the per-iteration kNN evaluation; 0 = all."""
    learner: dict = field(default_factory=lambda: {"stem_stride": 2})
    """Full mode: overrides of :class:`ie_env.learning.learner.LearnerConfig` (steps_per_iteration, batch_size, ...).
    The default stride-2 stem trains ~4x faster on a CPU than the CIFAR stride-1 stem."""
    concepts: list | None = None
    """Narrow the vocabulary to these positions (tests, label-set runs); ``None`` = all 146,347 nouns."""
    vocabulary_under: tuple = ()
    """Narrow the vocabulary to the concepts at or under these WordNet synsets (``("animal.n.01",)``)."""
    descriptors: tuple = ()
    """Adjectives an action may prefix ("baby duck"); when set the action is ``(concept, descriptor + 1)``."""
    vocabulary_filter: str = "none"
    """Concepts and descriptors a query may never name (:mod:`ie_env.data.vocabulary_filter`): ``none`` (the
    paper's vocabulary: the offline default, so offline episodes stay reproducible) or ``offensive`` (WordNet's
    obscenity, ethnic-slur and disparagement marks plus a maintained word list; the live default). The action space
    stays the whole vocabulary: ``env.action_masks()`` says which actions are allowed, and a step on another raises
    ``ValueError``."""
    device: str = "cpu"
    """Full mode: where the learner trains, ``cpu`` or ``cuda`` (see :mod:`ie_env.learning.distributed`)."""
    query_table: bool | None = None
    """Answer the vocabulary's query texts from tables built once on the first reset (cached on disk: MiniLM
    embeddings of the 119,034 distinct lemmas, then each lemma's answer; a few minutes, measured and announced
    when they start) so that a vocabulary query costs a look-up instead of a text-model pass (~10-40 ms).
    ``None``: when the vocabulary has at least :data:`QUERY_TABLE_MIN_CONCEPTS` concepts (a small one's queries
    are cheaper to embed as they come); offline engines only."""
    preset: str = ""
    """Named settings for the fields left at their defaults: ``paper`` (ResNet-50 at 224 px, 256 queries an
    iteration; see :mod:`ie_env.envs.presets`)."""

    def __post_init__(self) -> None:
        if self.preset:
            apply_preset(self)
        check_device(self.device)
        check_filter(self.vocabulary_filter)
        if self.mode not in ("frozen", "full"):
            raise ValueError(f"mode={self.mode!r}: use 'frozen' or 'full'")
        for name in ("budget", "queries_per_iteration", "results_per_query", "reward_k", "reward_top"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be a positive integer")
        if self.image_size == 0:
            self.image_size = 64 if self.mode == "frozen" else 32
        if not 8 <= self.image_size <= 512:
            raise ValueError(f"image_size={self.image_size}: use a side between 8 and 512 pixels (32 is the CPU default)")
        if self.reward_targets < 0 or self.eval_images < 0:
            raise ValueError("reward_targets and eval_images must be >= 0 (0 means all)")
        if 0 < self.reward_targets < self.reward_k:
            raise ValueError(f"reward_k={self.reward_k} is larger than reward_targets={self.reward_targets}: an image's "
                             "reward averages its reward_k nearest reference images; lower reward_k or use more")


class InternetExplorerEnv(gym.Env):
    """An agent explores an image web with text queries to find images that help a target task.

    ## Description
    Each step the agent issues one text query (a WordNet noun concept, optionally with a descriptor). The
    search engine answers with ``results_per_query`` ranked images; each new image is scored with the relevance
    reward (mean cosine similarity to its ``reward_k`` nearest target images in the encoder's feature space)
    and joins the iteration's candidates. Every ``queries_per_iteration`` steps an iteration ends: in ``full``
    mode the self-supervised learner trains on candidates + replay buffer + target, the target embeddings are
    refreshed and the kNN accuracy on the target's test split is measured. In ``frozen`` mode the encoder is
    fixed and every web image is embedded once, so an episode of thousands of steps takes seconds.

    ## Action space
    ``Discrete(len(vocabulary))``: the concept to query (its lemma is the query text, in ``info["query"]``).
    With ``descriptors`` set: ``MultiDiscrete([len(vocabulary), len(descriptors) + 1])``, 0 meaning none.
    With ``vocabulary_filter="offensive"`` (the live env's default) the concepts and descriptors the filter removes
    stay in the space but are refused (``ValueError``): :meth:`action_masks` says which actions are allowed.

    ## Observation space
    ``Box(0, 1, (8,), float32)``: episode progress, progress within the iteration, last query reward, mean
    and best query reward so far, share of new (never seen) images in the last answer, log10(1 + distinct
    images) / 6, and the last kNN accuracy (0 in frozen mode). Query-selection agents mostly use ``info``
    and their own posterior; :class:`agents.candidates.CandidateSetWrapper` gives learned policies per-concept
    features.

    ## Reward
    The query's relevance reward: the mean of its ``reward_top`` best image rewards (over all its results).
    Repeating a query returns the same images: the reward repeats but no new images are found. ``info`` also
    carries ``new_reward``, the same mean over the query's new images only (missing ones count 0), and
    ``new_image_rewards``, which agents may learn from instead.

    ## Starting state
    ``reset(seed=...)`` rebuilds the learner, optimiser, replay buffer and RNGs from the seed: an episode on an
    offline world replays bit for bit.

    ## Episode end
    Truncation after ``budget`` steps (by the env itself, so ``gym.make(..., budget=2048)`` runs 2048 steps);
    no termination.

    ## Info
    ``query``, ``concept``, ``keys`` (result image keys), ``image_rewards`` (list), ``new_images``, ``new_reward``,
    ``new_image_rewards`` (list), ``new_sha256`` (the new images' content hashes, aligned with ``new_image_rewards``),
    ``iteration``, ``iteration_end``, ``knn_accuracy`` (full mode, at iteration ends), ``reward_baseline``
    (``[mean, std]`` of the image reward over a fixed random sample of the world's images under the current model:
    rewards of different iterations compared against it are comparable; ``None`` on the live web)
    and, for measurement only, ``relevant`` (relevant results), ``new_relevant`` (relevant images never seen
    before), ``new_image_relevant`` (per new image; ``None`` on the live web) and, at iteration ends,
    ``replay_added`` and ``replay_relevant`` (full mode: the iteration's new images that joined the learner's replay
    buffer, and how many of them are relevant), ``reward_auc`` (ROC AUC of the iteration's new images' rewards for
    telling the relevant ones from the rest, scored before the learner trains on them; ``None`` when the iteration's new
    images are all relevant or all not, as on the live web). Per-result values are lists, not arrays, so that
    vector envs can batch answers of different lengths.

    ## Rendering
    ``render_mode="rgb_array"``: a picture of the last step (query, a grid of the returned images framed by the
    colour of their reward, running counts; :mod:`ie_env.envs.render`) as ``(H, W, 3)`` uint8;
    ``render_mode="ansi"``: the same as one line of text.

    ## Arguments
    ``InternetExplorerEnv(config=EnvConfig(...), render_mode=None)`` or keyword arguments of :class:`EnvConfig`
    (``gym.make("InternetExplorer-v0", budget=256, mode="full", render_mode="rgb_array")``).
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 2}

    def __init__(self, config: EnvConfig | None = None, render_mode: str | None = None, **overrides):
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r}: use None, " +
                             " or ".join(repr(m) for m in self.metadata["render_modes"]))
        self.render_mode = render_mode

        names = {f.name for f in fields(type(config) if config else self.config_class)}
        unknown = set(overrides) - names
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)}: {self.config_class.__name__} has {sorted(names)}")
        self.config = cfg = self.config_class(**{**(config.__dict__ if config else {}), **overrides})
        self.full_vocab = load_vocabulary()
        self.vocab = self.full_vocab.subset(list(cfg.concepts)) if cfg.concepts is not None else self.full_vocab
        if cfg.vocabulary_under:
            self.vocab = self.vocab.subset(self.vocab.under(cfg.vocabulary_under))
        self.allowed = allowed_concepts(self.vocab, cfg.vocabulary_filter)  # None: every concept
        self.descriptor_allowed = (~np.asarray(offensive(list(cfg.descriptors)), bool).reshape(-1)
                                   if cfg.vocabulary_filter != "none" else np.ones(len(cfg.descriptors), bool))
        self.target = load_target(cfg.target, cfg.image_size)
        self._setup_web()
        n = len(self.vocab)
        self.action_space = (spaces.MultiDiscrete([n, len(cfg.descriptors) + 1]) if cfg.descriptors
                             else spaces.Discrete(n))
        self.observation_space = spaces.Box(0.0, 1.0, (len(OBS_FIELDS),), np.float32)
        self.scorer = make_scorer(cfg, getattr(self, "world", None), self.target)
        self._started = False

    config_class = EnvConfig

    # --- the web: search, fetch, score (the live env overrides these) ----------------------------
    def _setup_web(self) -> None:
        cfg = self.config
        options = {"world": cfg.world} if cfg.engine == "tinyweb" else {}
        self.engine = make_engine(cfg.engine, **options, n=cfg.results_per_query, **cfg.engine_options)
        self.world = self.engine.world
        self.relevant = relevant_mask(self.world, self.target, self.full_vocab)
        # Byte-identical images under different keys are one image: count them once.
        _, first, inverse = np.unique(np.asarray(self.world.sha256), return_index=True, return_inverse=True)
        self.canonical = first[inverse]

    def _search(self, query: str):
        """The engine's answer: a list of results, or, when the engine has the fast path ``search_ids``, the
        answer's world positions as an integer array."""
        fast = getattr(self.engine, "search_ids", None)
        if fast is not None:
            return np.asarray(fast(query, self.config.results_per_query), np.int64)
        return self.engine.search(query, self.config.results_per_query)

    def _keys(self, results) -> list[str]:
        """The image keys of an answer (results or world positions)."""
        if isinstance(results, np.ndarray):
            keys = self.world.keys
            return [keys[i] for i in results.tolist()]
        return [r.key for r in results]

    def _fetch(self, results) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The answer's images as ids, their rewards, and whether each is relevant (measurement only)."""
        if not isinstance(results, np.ndarray):
            index_of = self.world.index_of
            results = np.asarray([index_of[r.key] for r in results], np.int64)
        idx = self.canonical[results].astype(np.int64)
        return idx, self.scorer.image_rewards(idx), self.relevant[idx]

    def _wnid(self, image_id) -> str:
        return str(self.world.wnids[image_id])

    def _hashes(self, ids: list) -> list[str]:
        """Content hashes (sha256 of the stored bytes) of images ``ids``: where their pixels are kept."""
        sha = self.world.sha256
        return [sha[i] for i in ids]

    def _truth(self, flags: np.ndarray) -> list | None:
        """Per-image relevance for ``info`` (ground truth of the offline world; the live env has none)."""
        return flags.tolist()

    def _images(self, ids: list) -> np.ndarray:
        return self.world.load_images(ids, self.config.image_size)

    # --- episode ---------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self.uses_query_table():
            self.use_query_table()
        self.scorer.reset(int(self.np_random.integers(2**31)))
        self.t = 0
        self.iteration = 0
        self.seen: set = set()
        self.found: set = set()
        self.found_classes: set[str] = set()
        self.rewards: list[float] = []
        self.candidates: list = []
        self.candidate_rewards: list[float] = []
        self.knn_accuracy = 0.0
        self.last = (0.0, 0.0)
        self.shown: dict = {}
        self.history: list[dict] = []
        self.search_seconds = 0.0
        self._started = True
        return self._obs(), {"iteration": 0}

    def uses_query_table(self) -> bool:
        """Whether this env answers vocabulary queries from the tables of ``config.query_table``."""
        wanted = self.config.query_table
        if wanted is None:
            wanted = len(self.vocab) >= QUERY_TABLE_MIN_CONCEPTS
        return bool(wanted) and getattr(self, "world", None) is not None and hasattr(self.engine, "use_answer_table")

    def use_query_table(self) -> None:
        """Let the engine answer the vocabulary's query texts from the tables (built the first time, then read
        from the cache): looked up, not embedded, and answered once, not searched."""
        query_embeddings(self.full_vocab)
        name = lemma_table_name(self.full_vocab)
        self.engine.use_answer_table(name, *registered_table(name))

    def action_masks(self) -> np.ndarray:
        """Which actions the vocabulary filter allows: one flag per concept (``Discrete``), or per concept then per
        descriptor choice, 0 (none) first (``MultiDiscrete``), as sb3-contrib's ``MaskablePPO`` reads them."""
        concepts = np.ones(len(self.vocab), bool) if self.allowed is None else self.allowed.copy()
        if not self.config.descriptors:
            return concepts
        return np.concatenate([concepts, [True], self.descriptor_allowed])

    def query_text(self, action) -> tuple[int, str]:
        """The concept index and query text of an action; ``ValueError`` for an action the vocabulary filter
        removes (the text is not sent anywhere)."""
        a = np.asarray(action).reshape(-1)
        concept, desc = (int(a[0]), int(a[1])) if self.config.descriptors else (int(a[0]), 0)
        if not 0 <= concept < len(self.vocab):
            raise ValueError(f"action {concept} outside the vocabulary of {len(self.vocab)} concepts")
        name = self.config.vocabulary_filter
        if self.allowed is not None and not self.allowed[concept]:
            raise ValueError(f"action {concept} names a concept that vocabulary_filter={name!r} removes: act on the "
                             "concepts env.action_masks() allows")
        if desc and not self.descriptor_allowed[desc - 1]:
            raise ValueError(f"descriptor {desc} is removed by vocabulary_filter={name!r}: see env.action_masks()")
        lemma = self.vocab.lemmas[concept]
        text = descriptor_text(self.config.descriptors[desc - 1], lemma) if desc else lemma
        if desc and name != "none" and offensive([text])[0]:
            raise ValueError(f"action {tuple(a.tolist())}: the query it makes is removed by vocabulary_filter={name!r}")
        return concept, text

    def prefetch(self, actions) -> None:
        """Let the engine answer these coming actions in one batch, when it can (the offline engines); the
        steps that take them are then look-ups. Answers are the same as without it up to the last bits of the
        query vectors (see :meth:`offline_cache.caption_engine.CaptionIndexEngine.prefetch`)."""
        batch = getattr(self.engine, "prefetch", None)
        if batch is None or not len(actions):
            return
        start = time.perf_counter()
        batch([self.query_text(a)[1] for a in actions], self.config.results_per_query)
        self.search_seconds += time.perf_counter() - start

    def step(self, action):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        concept, query = self.query_text(action)
        start, scored = time.perf_counter(), self.scorer.seconds["scoring"]
        results = self._search(query)
        ids, image_rewards, relevant = self._fetch(results)
        self.search_seconds += time.perf_counter() - start - (self.scorer.seconds["scoring"] - scored)
        image_rewards = np.asarray(image_rewards, np.float32)
        k = self.config.reward_top
        top = np.sort(image_rewards)[::-1][:k]
        reward = float(top.mean()) if len(top) else 0.0
        new, at = self._novel(ids)  # images never seen before and their first place in the answer
        new_relevant = [i for i, r in zip(new, relevant[at].tolist()) if r]
        self.seen.update(new)
        self.found.update(new_relevant)
        self.found_classes.update(self._wnid(i) for i in new_relevant)
        new_rewards = image_rewards[at]
        self.candidates += new
        self.candidate_rewards += new_rewards.tolist()
        self.rewards.append(reward)
        self.t += 1
        self.last = (reward, len(new) / max(1, len(ids)))
        fresh = np.zeros(len(ids), bool)
        fresh[at] = True
        self.shown = {"query": query, "reward": reward, "ids": list(ids), "rewards": image_rewards,
                      "new": fresh.tolist()}
        info = {"query": query, "concept": concept, "keys": self._keys(results),
                "image_rewards": image_rewards.tolist(), "new_images": len(new),
                "new_reward": float(np.sort(new_rewards)[::-1][:k].sum() / k),
                "new_image_rewards": new_rewards.tolist(), "new_sha256": self._hashes(new),
                "new_image_relevant": self._truth(relevant[at]),
                "iteration": self.iteration, "relevant": int(np.sum(relevant)), "new_relevant": len(new_relevant),
                "iteration_end": False, "reward_baseline": self._baseline()}
        if self.t % self.config.queries_per_iteration == 0 or self.t == self.config.budget:
            info.update(self._end_iteration())
        self.history.append({"query": query, "concept": concept, "new_images": len(new), "relevant": info["relevant"],
                             "new_relevant": len(new_relevant), "iteration": info["iteration"], "reward": reward})
        return self._obs(), reward, False, self.t >= self.config.budget, info

    def _baseline(self) -> list | None:
        """``[mean, std]`` of the image reward over a fixed random sample of the world under the current model
        (:meth:`ie_env.learning.scoring.LearnerScorer.baseline`), ``None`` where there is none."""
        value = self.scorer.baseline()
        return list(value) if value is not None else None

    def _novel(self, ids) -> tuple[list, np.ndarray]:
        """The ids of an answer never seen in the episode (each once, in answer order) and their first
        positions in the answer."""
        if isinstance(ids, np.ndarray) and len(ids):  # world positions: one vectorised pass
            uniq, first = np.unique(ids, return_index=True)
            order = np.argsort(first, kind="stable")
            seen = self.seen
            fresh = [i not in seen for i in uniq[order].tolist()]
            at = first[order][fresh]
            return ids[at].tolist(), at
        first: dict = {}
        for j, i in enumerate(ids):
            first.setdefault(i, j)
        new = [i for i in first if i not in self.seen]
        return new, np.asarray([first[i] for i in new], np.int64)

    def _end_iteration(self) -> dict:
        start = time.perf_counter()
        images = self._images(self.candidates) if self.scorer.trains else None
        self.search_seconds += time.perf_counter() - start  # reading the candidates back counts as fetching
        # the reward's quality on the iteration's new images (a new image is relevant iff it joined `found`),
        # measured before the learner moves on
        flags = np.asarray([c in self.found for c in self.candidates], bool)
        auc = reward_auc(self.candidate_rewards, flags)
        rewards = np.asarray(self.candidate_rewards, np.float32)
        stats = self.scorer.end_iteration(images, rewards)
        if self.scorer.trains:  # which of them joined the replay buffer (the learner's rule), and how many relevant
            lc = self.scorer.learner.config
            kept = keep_top(flags[:0], rewards[:0], flags, rewards, lc.replay_keep, lc.replay_capacity)[0]
            stats.update(replay_added=len(kept), replay_relevant=int(kept.sum()))
        self.candidates, self.candidate_rewards = [], []
        self.iteration += 1
        self.knn_accuracy = stats.get("knn_accuracy", self.knn_accuracy)
        return {"iteration_end": True, "reward_auc": auc, **stats}

    # --- rendering --------------------------------------------------------------------------------
    def render(self):
        """The last step as a picture (``rgb_array``) or a text line (``ansi``); see :mod:`ie_env.envs.render`."""
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode: make the env with render_mode='rgb_array' or 'ansi'")
            return None
        if self.render_mode == "ansi":
            return render_ansi(self.step_view(images=False))
        return render_rgb(self.step_view(), self.config.results_per_query)

    def step_view(self, images: bool = True) -> StepView:
        """The last step and the running counts, as drawn by :meth:`render` (``images``: decode the pixels)."""
        if not self._started:
            raise RuntimeError("call reset() before render()")
        s, m = self.shown, self.metrics()
        ids = s.get("ids", [])
        return StepView(step=self.t, budget=self.config.budget, query=s.get("query", ""), reward=s.get("reward", 0.0),
                        results=len(ids), new_images=sum(s.get("new", [])),
                        images=self._preview(ids[:MAX_TILES]) if images and ids else [None] * len(ids[:MAX_TILES]),
                        image_rewards=[float(r) for r in s.get("rewards", [])[:MAX_TILES]],
                        image_new=list(s.get("new", [])[:MAX_TILES]), distinct_images=m["distinct_images"],
                        relevant_images=m["relevant_images"], relevant_classes=m["relevant_classes"],
                        mean_reward=m["mean_reward"], iteration=self.iteration, knn_accuracy=self.knn_accuracy)

    def _preview(self, ids: list) -> list:
        """Pixels of the images ``ids`` for a rendered frame (``None`` where unknown)."""
        return list(self._images(ids))

    def _obs(self) -> np.ndarray:
        cfg = self.config
        n, total, best = self._reward_summary()
        obs = [self.t / cfg.budget, (self.t % cfg.queries_per_iteration) / cfg.queries_per_iteration,
               self.last[0], total / n if n else 0.0, best if n else 0.0, self.last[1],
               np.log10(1 + len(self.seen)) / 6, self.knn_accuracy]
        return np.clip(np.asarray(obs, np.float32), 0.0, 1.0)

    def _reward_summary(self) -> tuple[int, float, float]:
        """Count, sum and maximum of the query rewards so far, updated from the new ones only (recomputed when
        the list was replaced, e.g. by a checkpoint)."""
        r = self.rewards
        ref, n, total, best = getattr(self, "_reward_stats", (None, 0, 0.0, -np.inf))
        if ref is not r or n > len(r):
            n, total, best = 0, 0.0, -np.inf
        for x in r[n:]:
            total += x
            best = max(best, x)
        self._reward_stats = (r, len(r), total, best)
        return len(r), total, best

    # --- checkpoints (taken at iteration boundaries by ie_env.run.runner) -------------------------------
    def state_dict(self) -> dict:
        """The episode so far: counters, what was found, RNG and the scorer (learner weights, optimiser,
        replay buffer); plain containers, numpy arrays and tensors only."""
        if not self._started:
            raise RuntimeError("call reset() before state_dict(): there is no episode to save")
        return {"t": self.t, "iteration": self.iteration, "seen": sorted(self.seen), "found": sorted(self.found),
                "found_classes": sorted(self.found_classes), "rewards": list(self.rewards),
                "candidates": list(self.candidates), "candidate_rewards": list(self.candidate_rewards),
                "knn_accuracy": self.knn_accuracy, "last": list(self.last), "history": list(self.history),
                "np_random": dict(self.np_random.bit_generator.state), "scorer": self.scorer.state_dict(),
                "search_seconds": self.search_seconds}

    def load_state_dict(self, d: dict) -> None:
        """Continue the episode saved by :meth:`state_dict` (same configuration)."""
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = d["np_random"]
        self._np_random = rng
        self.scorer.load_state_dict(d["scorer"])
        self.t, self.iteration = int(d["t"]), int(d["iteration"])
        self.seen, self.found, self.found_classes = set(d["seen"]), set(d["found"]), set(d["found_classes"])
        self.rewards = [float(r) for r in d["rewards"]]
        self.candidates, self.candidate_rewards = list(d["candidates"]), [float(r) for r in d["candidate_rewards"]]
        self.knn_accuracy = float(d["knn_accuracy"])
        self.last = tuple(float(x) for x in d["last"])
        self.history = list(d["history"])
        self.shown = {}  # the last step before the checkpoint is not drawn again
        self.search_seconds = float(d.get("search_seconds", 0.0))
        self._started = True

    # --- measurement -----------------------------------------------------------------------------
    def time_split(self) -> dict:
        """Seconds of the episode so far spent searching and fetching, scoring (embedding answers and the reward's
        target set), training and evaluating (kNN, linear probe)."""
        return {"search": getattr(self, "search_seconds", 0.0), **self.scorer.seconds}

    def metrics(self) -> dict:
        """Distinct images found so far and how many are relevant (ground truth; measurement only)."""
        n, total, _ = self._reward_summary()
        return {"queries": self.t, "distinct_images": len(self.seen), "relevant_images": len(self.found),
                "precision": len(self.found) / max(1, len(self.seen)), "relevant_classes": len(self.found_classes),
                "mean_reward": total / n if n else 0.0,
                "knn_accuracy": self.knn_accuracy}
