"""Kept / frozen / replaced backbone stages, the full-mode presets, and compare's full-mode summary fields."""
import json

import numpy as np
import pytest
import torch

from ie_env.learning.backbones import BackboneError, make_backbone
from ie_env.learning.learner import Learner, LearnerConfig
from ie_env.run.presets import PRESETS, PresetError, env_overrides, steps_per_iteration

LOWER = dict(backbone="efficientnet_lite0", pretrained=True, keep_stages=5, freeze_stages=5, upper_width=16,
             min_input=32, proj_hidden=32, proj_dim=16, batch_size=8, image_size=32)


def test_kept_stages_keep_imagenet_weights_and_the_rest_is_fresh():
    full, _ = make_backbone("efficientnet_lite0", pretrained=True)
    kept, dim = make_backbone("efficientnet_lite0", pretrained=True, keep_stages=3)
    assert dim == 1280 and len(kept.stages()) == 9
    for i, (a, b) in enumerate(zip(full.stages(), kept.stages())):
        same = all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
        assert same == (i < 3), i
    small, dim = make_backbone("efficientnet_lite0", pretrained=True, keep_stages=5, freeze_stages=5, upper_width=16)
    assert dim == 32 and len(small.stages()) == 6
    assert small(torch.rand(2, 3, 32, 32)).shape == (2, 32)
    with pytest.raises(BackboneError, match="stages"):
        make_backbone("efficientnet_lite0", pretrained=True, freeze_stages=12)
    with pytest.raises(BackboneError, match="keep_stages"):
        make_backbone("resnet18", upper_width=16)
    r, rdim = make_backbone("resnet18", width=0.125, keep_stages=3, freeze_stages=2, upper_width=8)
    assert rdim == 16 and r(torch.rand(2, 3, 32, 32)).shape == (2, 16) and not hasattr(r.net, "layer3")


def test_frozen_stages_do_not_move_and_the_momentum_copy_is_its_own():
    learner = Learner(LearnerConfig(**LOWER))
    bb = learner.model.backbone
    frozen = [p.clone() for s in bb.stages()[:5] for p in s.parameters()]
    stats = [b.clone() for n, b in bb.named_buffers() if "running_mean" in n]
    upper = [p.clone() for p in bb.stages()[5].parameters()]
    images = np.random.default_rng(0).integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    learner.train(images[:8], np.ones(8, np.float32), images, steps=2)
    assert all(torch.equal(a, b) for a, b in zip(frozen, [p for s in bb.stages()[:5] for p in s.parameters()]))
    moved = [b for n, b in bb.named_buffers() if "running_mean" in n]
    assert all(torch.equal(a, b) for a, b in zip(stats[:len(stats) - 2], moved[:len(stats) - 2]))  # frozen BN fixed
    assert not all(torch.equal(a, b) for a, b in zip(upper, bb.stages()[5].parameters()))
    mom = learner.momentum_model.backbone
    assert mom.stages()[5]._parts[0] is mom.net.upper_net and mom.net.upper_net is not bb.net.upper_net
    assert not all(torch.equal(a, b) for a, b in zip(mom.stages()[5].parameters(), bb.stages()[5].parameters()))
    again = Learner.from_state_dict(learner.state_dict())
    assert np.allclose(again.embed(images), learner.embed(images), atol=1e-6)


def test_presets_table_and_explicit_options_win():
    env = env_overrides("cpu")
    lr = env["learner"]
    assert env["mode"] == "full" and lr["freeze_stages"] == 5 and lr["steps_per_iteration"] == steps_per_iteration(
        lr, env["queries_per_iteration"], env["results_per_query"], PRESETS["cpu"]["candidate_epochs"])
    mine = env_overrides("cpu", budget=8, queries_per_iteration=2, learner={"steps_per_iteration": 3})
    assert mine["budget"] == 8 and mine["learner"]["steps_per_iteration"] == 3
    assert steps_per_iteration({"batch_size": 128, "pcr": 2.0}, 16, 20, 1.0) == 8  # 320 candidates, 43 a batch
    with pytest.raises(PresetError, match="unknown preset"):
        env_overrides("gpu")


def test_paper_cpu_preset_has_the_papers_proportions():
    env = env_overrides("paper_cpu")
    lr = env["learner"]
    assert env["results_per_query"] == 100 and lr["kind"] == "head" and (lr["pcr"], lr["replay_keep"]) == (2.0, 0.5)
    per_batch = round(lr["batch_size"] / (1 + lr["pcr"]))
    candidates = env["queries_per_iteration"] * env["results_per_query"]
    assert lr["steps_per_iteration"] * per_batch >= 10 * candidates  # 10 passes over each iteration's candidates


def test_compare_full_mode_with_preset_reports_probe_pairs_and_time(tiny_world, tmp_path):
    from experiments.compare_agents import main

    out = tmp_path / "full"
    main(["--world", str(tiny_world.path), "--target", "tiny-imagenet:dog.n.01", "--agents", "random,relevant_concepts",
          "--seeds", "1", "--budget", "4", "--queries-per-iteration", "2", "--results-per-query", "10",
          "--steps-per-iteration", "1", "--preset", "cpu", "--vocabulary-under", "dog.n.01,cat.n.01",
          "--out", str(out)])
    s = json.loads((out / "summary.json").read_text())
    assert s["mode"] == "full" and s["learner"]["freeze_stages"] == 5 and s["budget"] == 4
    for arm in ("random", "relevant_concepts", "target_only"):
        for key in ("knn_accuracy", "linear_probe"):
            assert s[arm][key]["lo"] <= s[arm][key]["mean"] <= s[arm][key]["hi"]
        assert set(s[arm]["time_split"]) >= {"search", "scoring", "training", "evaluation"}
        assert s[arm]["time_split"]["training"] > 0
    for metric in ("knn_accuracy", "linear_probe"):
        assert set(s["paired"][metric]) == {"relevant_concepts-random", "random-target_only",
                                                  "relevant_concepts-target_only"}
        assert s["paired"][metric]["relevant_concepts-random"]["seeds"] == 1
    assert s["episode_seconds"] > 0 and len(s["knn_curves"]["target_only"]) == 2
    assert set(s["reward_auc_curves"]) == {"random", "relevant_concepts"} and len(s["reward_auc_curves"]["relevant_concepts"]) == 2
    assert all(v is None or 0 <= v <= 1 for c in s["reward_auc_curves"].values() for v in c)
