"""Named settings of the environment: ``EnvConfig(preset="paper")``, ``ie-explore run --preset paper``.

A preset gives its value to every :class:`~ie_env.envs.env.EnvConfig` field still at its default (a value given
explicitly wins, unless it equals the default); its ``learner`` options go under the ones given.

``paper``: the settings of Internet Explorer (Li et al., ICML 2023) at full scale: MoCo v3 on a ResNet-50 at
224 px, 256 queries per iteration of 100 results each, PCR 2 with the top 50% of each iteration's candidates
kept for replay, image reward = mean similarity to the 15 nearest target images over the whole target train set,
query reward = mean of the top 10. The paper starts from MoCo v3 ImageNet weights; no registry here has them, so
the ResNet-50 starts from random weights. The paper's exact batch size and epochs per iteration are not
recorded in the design brief (docs/architecture.md): the batch of 256 and one pass over an iteration's up-to-25,600
new candidates per iteration (300 steps at 85 candidates a batch) are this project's choice, as is the optimiser
(MoCo v2's SGD recipe for batch 256: the project has no LARS); check them against the paper before quoting results.
Hardware: a CUDA GPU (``--device cuda``); one step holds 2 x 256 views of 224 px in ResNet-50 activations for
the backward pass plus the momentum encoder's forward, tens of GiB in float32: one 80 GB-class GPU, or several
smaller ones with ``torchrun --nproc_per_node=N`` (the global batch stays 256). ``experiments/gpu_check.py``
measures images/s and peak memory. The replay buffer (20,000 images) takes 3 GB of host memory at 224 px.

``SMOKE`` shrinks a preset to run on a CPU in seconds (the same backbone, objective and loop; tests and
``gpu_check.py`` without a GPU).
"""
from __future__ import annotations

from dataclasses import MISSING, fields

PRESETS = {
    "paper": {
        "mode": "full",
        "image_size": 224,
        "queries_per_iteration": 256,
        "results_per_query": 100,
        "reward_k": 15,
        "reward_top": 10,
        "reward_targets": 0,
        "learner": {"backbone": "resnet50", "objective": "moco", "batch_size": 256, "steps_per_iteration": 300,
                    "pcr": 2.0, "replay_keep": 0.5, "replay_capacity": 20000, "optimizer": "sgd", "lr": 0.03,
                    "weight_decay": 1e-4, "temperature": 1.0, "momentum": 0.99, "proj_hidden": 4096,
                    "proj_dim": 256, "embed_batch_size": 256},
    },
}
"""Preset name -> :class:`~ie_env.envs.env.EnvConfig` values (``learner``: LearnerConfig options)."""

SMOKE = {"image_size": 32, "queries_per_iteration": 4, "reward_targets": 50, "eval_images": 50,
         "learner": {"batch_size": 8, "steps_per_iteration": 2, "proj_hidden": 64, "proj_dim": 32,
                     "embed_batch_size": 64, "replay_capacity": 200}}
"""Overrides that make a preset tiny (32 px, batch 8, two steps an iteration): a CPU smoke run."""


def apply_preset(cfg) -> None:
    """Give every field of ``cfg`` (an EnvConfig) still at its default the value of preset ``cfg.preset``."""
    if cfg.preset not in PRESETS:
        raise ValueError(f"preset {cfg.preset!r} unknown: use one of {', '.join(PRESETS)}")
    defaults = {f.name: f.default if f.default is not MISSING else f.default_factory() for f in fields(cfg)}
    for key, value in PRESETS[cfg.preset].items():
        if key == "learner":
            cfg.learner = {**value, **({} if cfg.learner == defaults["learner"] else cfg.learner)}
        elif getattr(cfg, key) == defaults[key]:
            setattr(cfg, key, value)
