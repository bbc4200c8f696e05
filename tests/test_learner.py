"""The self-supervised learner: it learns, it is deterministic, it resumes exactly, it fails loudly."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from ie_env.learning.augment import TwoViewAugment
from ie_env.learning.backbones import BackboneError, make_backbone
from ie_env.learning.learner import (
    Learner,
    LearnerConfig,
    LearnerError,
    TrainingDiverged,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and OpenMP spin-waits crawl on a busy shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(**kw) -> LearnerConfig:
    base = dict(width=0.125, image_size=16, batch_size=16, proj_hidden=32, proj_dim=16, steps_per_iteration=3,
                embed_batch_size=32, seed=0)
    return LearnerConfig(**{**base, **kw})


def synthetic_images(n: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """Images of 4 kinds (coloured stripes / blobs) with noise: enough structure to learn from."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        kind = i % 4
        phase = rng.uniform(0, 2 * np.pi)
        if kind == 0:
            pattern = np.sin(12 * xx + phase)
        elif kind == 1:
            pattern = np.sin(12 * yy + phase)
        elif kind == 2:
            pattern = np.sin(8 * (xx + yy) + phase)
        else:
            pattern = np.cos(20 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) + phase)
        colour = rng.uniform(0.3, 1.0, 3)
        img = (pattern[..., None] * 0.5 + 0.5) * colour + rng.normal(0, 0.05, (size, size, 3))
        out[i] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return out


def test_backbones_shapes_and_errors():
    enc, dim = make_backbone("resnet18", width=0.125)
    assert dim == 64
    assert enc(torch.rand(2, 3, 16, 16)).shape == (2, 64)
    enc2, dim2 = make_backbone("resnet18", width=0.125, stem_stride=2)
    assert enc2(torch.rand(2, 3, 16, 16)).shape == (2, dim2)
    with pytest.raises(BackboneError, match="unknown backbone"):
        make_backbone("vgg")
    with pytest.raises(BackboneError, match="no offline pretrained"):
        make_backbone("resnet18", pretrained=True)


def test_efficientnet_lite0_pretrained_loads_offline():
    enc, dim = make_backbone("efficientnet_lite0", pretrained=True)
    enc.eval()
    with torch.inference_mode():
        a = enc(torch.rand(2, 3, 32, 32))
    assert dim == 1280 and a.shape == (2, 1280) and torch.isfinite(a).all()
    # the ImageNet weights were loaded: the stem differs from a fresh random init
    fresh, _ = make_backbone("efficientnet_lite0", pretrained=False)
    assert not torch.equal(enc.net.model._conv_stem.weight, fresh.net.model._conv_stem.weight)


def test_augment_views_are_random_but_reproducible():
    x = synthetic_images(8, size=24)
    aug = TwoViewAugment(16)
    a1, b1 = aug(x, torch.Generator().manual_seed(1))
    a2, b2 = aug(x, torch.Generator().manual_seed(1))
    assert a1.shape == (8, 3, 16, 16) and a1.dtype == torch.float32
    assert float(a1.min()) >= 0 and float(a1.max()) <= 1
    assert torch.equal(a1, a2) and torch.equal(b1, b2)
    assert not torch.equal(a1, b1)  # two different views
    assert not torch.allclose(a1[0], a1[4])  # per-image parameters, not one crop for the whole batch


@pytest.mark.parametrize("objective", ["moco", "simsiam"])
def test_loss_decreases_on_a_tiny_set(objective):
    images = synthetic_images(64)
    learner = Learner(tiny_config(objective=objective, steps_per_iteration=40, lr=3e-3))
    stats = learner.train(None, None, images)
    assert stats.steps == 40 and len(stats.losses) == 40
    first, last = np.mean(stats.losses[:8]), np.mean(stats.losses[-8:])
    assert last < first - 0.05, (first, last)


def _params(learner: Learner) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in learner.model.state_dict().items()}


def test_same_seed_same_bits_and_other_seed_differs():
    images, cands = synthetic_images(40), synthetic_images(12, seed=1)
    runs = []
    for seed in (0, 0, 1):
        learner = Learner(tiny_config(seed=seed))
        learner.train(cands, np.linspace(0, 1, 12), images)
        runs.append((_params(learner), learner.embed(images[:8])))
    for k in runs[0][0]:
        assert torch.equal(runs[0][0][k], runs[1][0][k]), k
    assert np.array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][1], runs[2][1])


def test_state_dict_round_trip_resumes_identically():
    images, cands = synthetic_images(40), synthetic_images(12, seed=1)
    a = Learner(tiny_config())
    a.train(cands, np.arange(12.0), images)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)  # only tensors and plain containers
    b = Learner.from_state_dict(state)
    assert len(b.replay) == len(a.replay) == 6
    sa = a.train(cands[:4], np.arange(4.0), images)
    sb = b.train(cands[:4], np.arange(4.0), images)
    assert sa.losses == sb.losses
    pa, pb = _params(a), _params(b)
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert np.array_equal(a.replay, b.replay)
    assert np.array_equal(a.embed(images[:5]), b.embed(images[:5]))


def test_replay_keeps_top_half_and_mix_ratio():
    images = synthetic_images(40)
    cands = synthetic_images(10, seed=3)
    rewards = np.array([0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6, 0.5, 0.0])
    learner = Learner(tiny_config(batch_size=15, steps_per_iteration=2, replay_capacity=7))
    stats = learner.train(cands, rewards, images)
    assert stats.candidate_images == 2 * 5  # PCR 2: one candidate for every two replay/target images
    assert stats.replay_added == 5
    assert np.array_equal(learner.replay, cands[[1, 3, 5, 7, 8]])
    learner.train(cands, rewards, images)
    assert len(learner.replay) == 7  # capacity: the oldest are dropped
    assert np.allclose(learner.replay_rewards[-5:], rewards[[1, 3, 5, 7, 8]])
    no_rewards = learner.train(cands, None, images, steps=1)
    assert no_rewards.replay_added == 0


def test_embed_is_normalised_batch_independent_and_resizes():
    learner = Learner(tiny_config())
    images = synthetic_images(10, size=24)  # other size than image_size: resized
    emb = learner.embed(images)
    assert emb.shape == (10, learner.feat_dim) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    assert np.allclose(learner.embed(images[:3], batch_size=2), emb[:3], atol=1e-5)
    assert learner.embed(np.zeros((0, 16, 16, 3), np.uint8)).shape == (0, learner.feat_dim)


def test_bad_inputs_give_clear_errors():
    learner = Learner(tiny_config())
    good = synthetic_images(8)
    with pytest.raises(LearnerError, match="uint8"):
        learner.train(None, None, good.astype(np.float32) / 255)
    with pytest.raises(LearnerError, match=r"\(N, H, W, 3\)"):
        learner.train(None, None, good[..., :2])
    with pytest.raises(LearnerError, match="empty"):
        learner.train(None, None, np.zeros((0, 16, 16, 3), np.uint8))
    with pytest.raises(LearnerError, match="one reward per candidate"):
        learner.train(good, np.zeros(3), good)
    with pytest.raises(LearnerError, match="objective"):
        LearnerConfig(objective="byol")
    # mismatched sizes between candidates and target are resized, not an error
    stats = learner.train(synthetic_images(6, size=20), None, synthetic_images(8, size=12), steps=1)
    assert stats.steps == 1


def test_nan_loss_stops_training_naming_the_step():
    learner = Learner(tiny_config())
    images = synthetic_images(16)
    learner.train(None, None, images, steps=2)
    with torch.no_grad():
        learner.model.projector[0].weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="at step 2"):
        learner.train(None, None, images)


def test_checkpoint_file_and_reseed(tmp_path):
    images = synthetic_images(16)
    learner = Learner(tiny_config(objective="simsiam"))
    learner.train(None, None, images, steps=1)
    path = tmp_path / "learner.pt"
    learner.save(path)
    loaded = Learner.load(path)
    assert loaded.config.objective == "simsiam" and loaded.step == 1
    with pytest.raises(LearnerError, match="objective"):
        Learner(tiny_config()).load_state_dict(torch.load(path, weights_only=True))
    learner.reseed(5)
    loaded.reseed(5)
    assert learner.train(None, None, images, steps=2).losses == loaded.train(None, None, images, steps=2).losses
