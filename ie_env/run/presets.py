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

Measured here (2 cores; tiny-imagenet:carnivore.n.01, 13 classes, 260 test images, so one run's accuracy carries a
standard error of ~0.025):

- learner alone (``experiments/probe_learner.py --steps 400 --threads 1``, seed 0): kNN / linear probe / reward
  AUC (the env's reward, with the learner's features, ranking a held-out random web sample's 129 relevant images
  above the rest) for target alone, + 2,000 random web images, + 2,000 relevant ones:

  ======================  =================  =================  =================  ====================
  regime                  target             random             relevant           at step 0
  ======================  =================  =================  =================  ====================
  ``cpu`` (this preset)   0.246/0.227/0.533  0.223/0.242/0.527  0.215/0.246/0.527  kNN 0.150, AUC 0.646
  ``imagenet_lower64``    0.235/0.350/0.586  0.277/0.308/0.603  0.273/0.327/0.530  kNN 0.169, AUC 0.704
  ``random_lower``        0.127/0.162/0.559  0.112/0.146/0.544  0.119/0.135/0.557  kNN 0.123, AUC 0.497
  ``imagenet_full`` (*)   0.254/0.338/0.620  0.231/0.331/0.677  0.273/0.308/0.595  kNN 0.277, AUC 0.818
  ======================  =================  =================  =================  ====================

  (*) 200 steps, lr 1e-4, whole ImageNet network (its upper stages learnt ImageNet's labels). No regime puts
  relevant web images ahead of random ones, and training drags the reward towards chance (this preset's AUC:
  0.47-0.51 after 100 steps, 0.53 after 400), so an agent learning from it gets little signal after the first
  iteration (in the loop, 0.60-0.63 averaged over iterations). At 64 px (``imagenet_lower64``) the one-thread
  seed above puts web images ahead of the target alone on kNN, but over two seeds on two threads (``--seeds 2
  --threads 2``) nothing separates: kNN 0.277 / 0.271 / 0.285 and linear probe 0.354 / 0.335 / 0.315 for target
  alone / + random / + relevant (the thread count alone moves a seed's kNN by ~0.02-0.04). ~65 s an arm for this preset, ~215 s from a random init, ~415 s at 64 px,
  ~390 s for the whole network.
- the loop (``compare_agents.py --mode full --preset cpu --agents random,gp,gp_label_set,oracle --seeds 5``; the
  ``oracle`` agent is now ``relevant_concepts``): ~70 s an episode, 82-96% of it SSL training. The oracle downloads 666 relevant images (precision 0.95), 7x
  random's 95, and ends with kNN 0.202 against random's 0.222 and target alone's 0.228: the learner does not turn
  relevant images into a better representation at this budget, so no agent can show the paper's ordering with it.

``head`` — the regime in which the data is meant to matter (:mod:`ie_env.learning.head`; the main job runs it):

- learner: EfficientNet-Lite0 with its ImageNet weights, whole and frozen, sees every image at 64 px in 4
  pixel-space views, embedded once and cached on disk (:mod:`ie_env.learning.views`); an MLP head (1280-512-256)
  trained on pairs of those views with NT-Xent (temperature 0.2), batch 256, AdamW lr 1e-3. The trunk's ImageNet
  training used labels, among them the web's classes (the paper's trunk is self-supervised): say so wherever
  results are shown. kNN accuracy and the linear probe are measured on the head's output.
- reward: on the trunk's and the head's outputs side by side (``reward_features="trunk+head"``): the learner-alone
  probe measures its AUC on a held-out web sample for every choice (``head``, ``hidden``, ``trunk+head``,
  ``trunk``); a head trained on relevant images alone loses its AUC, the pair keeps most of the trunk's.
- schedule: the paper's, as in ``cpu``: 10 passes over each iteration's nominal candidates (16 queries x 20
  results) at PCR 2 (38 steps of batch 256), the top 50% of candidates joining the replay buffer, 12 iterations
  (192 queries); every arm, target alone included, takes the same 456 steps.
- figures: docs/results.md, "Full mode where the data is meant to matter: the head preset".

``paper_cpu`` — the ``head`` learner at the paper's proportions, scaled to tinyweb's 100,000 images (the preset
the checks use, and the main job's):

- answers as deep as the paper's: 100 results a query (the paper's cap; the offline engine's answer tables are
  built 132 deep), 32 queries an iteration, 8 iterations (256 queries, ~25,600 results): random downloads ~18% of
  the world at the world's base rate of relevant images, an explorer that finds them thousands of distinct
  relevant images (the paper's random downloads a vanishing share of its web; a world of 100,000 images cannot
  offer that together with thousands of relevant finds);
- the paper's schedule: 10 passes over each iteration's nominal candidates (3,200) at PCR 2 with the replay's top
  50%: 377 steps of batch 256 an iteration, 3,016 in all, the same for every arm (target alone included);
- every image's trunk views computed once (bfloat16 where the CPU has it) and cached: ``make views`` (or
  ``ie-explore build-world --views``) computes the whole world's ahead, worth it before many episodes;
- figures: docs/results.md, "The loop at the paper's proportions: the paper_cpu preset".
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
    "paper_cpu": {
        "env": {"image_size": 64, "budget": 256, "queries_per_iteration": 32, "results_per_query": 100,
                "eval_images": 1000, "reward_targets": 2000},
        "learner": {"kind": "head", "trunk": "efficientnet_lite0", "views": 4, "batch_size": 256, "lr": 1e-3,
                    "pcr": 2.0, "replay_keep": 0.5, "target_pool": 5000, "reward_features": "trunk+head"},
        "candidate_epochs": 10.0,
    },
    "head": {
        "env": {"image_size": 64, "budget": 192, "queries_per_iteration": 16, "results_per_query": 20,
                "eval_images": 1000, "reward_targets": 2000},
        "learner": {"kind": "head", "trunk": "efficientnet_lite0", "views": 4, "batch_size": 256, "lr": 1e-3,
                    "pcr": 2.0, "replay_keep": 0.5, "target_pool": 5000, "reward_features": "trunk+head"},
        "candidate_epochs": 10.0,
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
    if lr.get("kind") == "head":
        model = (f"SSL head ({lr.get('objective', 'ntxent')}) on {lr.get('views', 4)} cached views per image of the "
                 f"frozen ImageNet-pretrained {lr.get('trunk')} (trained with ImageNet's labels), reward on "
                 f"{lr.get('reward_features')} features")
    else:
        lower = (f", ImageNet lower stages frozen ({lr.get('freeze_stages')}) + upper of width "
                 f"{lr.get('upper_width')}" if lr.get("pretrained") else "")
        model = f"{lr.get('backbone')}{lower}"
    return (f"preset {name}: {e['budget']} queries, {e['queries_per_iteration']} per iteration x "
            f"{e['results_per_query']} results, {lr.get('steps_per_iteration')} SSL steps of batch "
            f"{lr.get('batch_size', 128)} per iteration (PCR {lr.get('pcr', 2.0)}), {e['image_size']} px, {model}")
