"""Named full-mode presets: one table of EnvConfig / LearnerConfig overrides, applied by name.

    python experiments/compare_agents.py --mode full --preset cpu --target tiny-imagenet:carnivore.n.01 ...

A preset fixes the learner regime and the loop's schedule; options given explicitly on the command line (any
CompareConfig field that differs from its default) still win over the preset.

``cpu`` — the paper's result sized for a 2-core CPU (see ``experiments/probe_learner.py`` for why this learner):

- learner: EfficientNet-Lite0's stem and first four MBConv stages with their ImageNet weights, frozen (generic
  low-level filters; the five upper stages, which carry ImageNet's classes, are dropped), and a small upper
  stage (conv3x3 to 128, conv3x3 stride 2 to 256 channels) trained from scratch by MoCo v3 on 32 px images.
  The frozen stages have seen ImageNet photos, among them the classes the web's photos come from (Tiny
  ImageNet is drawn from ImageNet); the probe's ``random_lower`` regime shows the same learner without them.
- schedule (paper, section 3): every iteration trains ``candidate_epochs`` passes over the iteration's nominal
  candidates (``queries_per_iteration x results_per_query`` images) at PCR = 2 (one candidate per two images
  from replay buffer + target), so every arm, target-only included, takes the same number of SSL steps; the top
  50% of candidates by reward join the replay buffer.
- evaluation: kNN accuracy on the target's test split at every iteration, a linear probe at the end (for large
  targets on at most 1,000 test and 5,000 labelled train images, and a 2,000-image reward reference set, so that
  evaluation and scoring stay small next to training with any ``tiny-imagenet:<synset>`` or CIFAR-10).

Measured here (2 shared cores, load ~10-14; tiny-imagenet:carnivore.n.01, 13 classes, 260 test images, so one
run's accuracy carries a standard error of ~0.025):

- learner alone (``experiments/probe_learner.py``, 400 steps x 128, seed 0), kNN / linear probe for target
  alone, + 2,000 random web images, + 2,000 relevant ones: this learner 0.227/0.242, 0.235/0.258, 0.242/0.235
  (kNN 0.150 before training; ~250 s an arm); with 3 kept stages 0.208/0.196, 0.173/0.196, 0.208/0.223. The web
  does not yet separate the arms at this budget. For scale: the frozen ImageNet stages alone (pooled, 32 px) give
  kNN 0.215 / linear 0.246, the whole ImageNet network at 64 px, upper stages included, 0.450 / 0.512.
- one episode (``--vocabulary-under animal.n.01``, seed 0): ~220 s, training 88-90% of it (search 5-7%, scoring
  3%, evaluation 2%; target-only 9% evaluation).
"""
from __future__ import annotations

import math

PRESETS: dict[str, dict] = {
    "cpu": {
        "env": {"image_size": 32, "budget": 96, "queries_per_iteration": 16, "results_per_query": 20,
                "eval_images": 1000, "reward_targets": 2000},
        "learner": {"backbone": "efficientnet_lite0", "pretrained": True, "keep_stages": 5, "freeze_stages": 5,
                    "upper_width": 128, "min_input": 32, "batch_size": 128, "lr": 2e-3, "optimizer": "adamw",
                    "pcr": 2.0, "replay_keep": 0.5},
        "candidate_epochs": 8.0,
    },
}
"""Preset name -> ``env`` (EnvConfig fields), ``learner`` (LearnerConfig fields) and ``candidate_epochs``
(passes over an iteration's nominal candidates; sets the learner's steps_per_iteration)."""


class PresetError(ValueError):
    """An unknown preset name."""


def preset(name: str) -> dict:
    """The preset's table entry (a copy)."""
    if name not in PRESETS:
        raise PresetError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    entry = PRESETS[name]
    return {"env": dict(entry["env"]), "learner": dict(entry["learner"]),
            "candidate_epochs": entry.get("candidate_epochs", 0.0)}


def steps_per_iteration(learner: dict, queries_per_iteration: int, results_per_query: int,
                        candidate_epochs: float) -> int:
    """SSL steps that make ``candidate_epochs`` passes over an iteration's nominal candidates at the learner's
    batch size and PCR (candidates per batch: ``round(batch / (1 + pcr))``)."""
    batch = learner.get("batch_size", 128)
    per_batch = max(1, round(batch / (1 + learner.get("pcr", 2.0))))
    return max(1, math.ceil(candidate_epochs * queries_per_iteration * results_per_query / per_batch))


def env_overrides(name: str, **explicit) -> dict:
    """EnvConfig keyword arguments of preset ``name``, with ``explicit`` ones (non-default CLI options) on top;
    the learner's ``steps_per_iteration`` follows the final queries/results per iteration unless given."""
    p = preset(name)
    env = {**p["env"], **{k: v for k, v in explicit.items() if k != "learner"}}
    learner = {**p["learner"], **explicit.get("learner", {})}
    if "steps_per_iteration" not in learner and p["candidate_epochs"]:
        learner["steps_per_iteration"] = steps_per_iteration(learner, env["queries_per_iteration"],
                                                             env["results_per_query"], p["candidate_epochs"])
    env["learner"] = learner
    env["mode"] = "full"
    return env


def describe(name: str, env=None) -> str:
    """One line a person reads: the preset's schedule (of ``env``'s final config when given)."""
    e = vars(env.config) if env is not None else env_overrides(name)
    lr = e["learner"]
    lower = (f", ImageNet lower stages frozen ({lr.get('freeze_stages')}) + upper of width {lr.get('upper_width')}"
             if lr.get("pretrained") else "")
    return (f"preset {name}: {e['budget']} queries, {e['queries_per_iteration']} per iteration x "
            f"{e['results_per_query']} results, {lr.get('steps_per_iteration')} SSL steps of batch "
            f"{lr.get('batch_size', 128)} per iteration (PCR {lr.get('pcr', 2.0)}), {e['image_size']} px, "
            f"{lr.get('backbone')}{lower}")
