"""Batched two-view augmentations for self-supervised learning (SimCLR / MoCo v3 recipe, small images).

Per image: random resized crop (area 0.2-1, aspect 3/4-4/3), horizontal flip (p=0.5), colour jitter
(brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1, applied with p=0.8) and grayscale (p=0.2).

Why not a ``transforms.v2.Compose`` applied to the batch: v2 draws one set of random parameters per call, so a
whole batch would share one crop and one jitter, and calling it image by image runs at ~340 images/s per core
here (as slow as the training step). Instead every parameter is drawn per image from a ``torch.Generator``
(reproducible, checkpointable) and applied to the whole batch at once: crop + resize in one
``torchvision.ops.roi_align`` call, flips and grayscale with ``transforms.v2.functional`` kernels selected per
image, and brightness/saturation/hue folded into one per-image 3x3 colour matrix (hue as a rotation about the
grey axis in YIQ space, a linear stand-in for v2's HSV hue shift). :func:`reference_transform` gives the
equivalent per-image v2 pipeline, for comparison.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2 as v2
import torchvision.transforms.v2.functional as TF
from torchvision.ops import roi_align

# RGB <-> YIQ (NTSC); hue rotation is a rotation of the I/Q plane.
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ2RGB = torch.linalg.inv(_RGB2YIQ)
_GREY = torch.tensor([0.2989, 0.587, 0.114])  # the luma weights of v2's rgb_to_grayscale


@dataclass
class AugmentConfig:
    """Strength of each augmentation (defaults: the SimCLR/MoCo recipe without blur, as for CIFAR-sized images)."""

    min_scale: float = 0.2
    """Smallest crop area as a share of the image (random resized crop)."""
    max_scale: float = 1.0
    """Largest crop area as a share of the image."""
    flip: float = 0.5
    """Probability of a horizontal flip."""
    jitter: float = 0.8
    """Probability of applying colour jitter to an image."""
    brightness: float = 0.4
    """Brightness factor drawn from [1 - b, 1 + b]."""
    contrast: float = 0.4
    """Contrast factor drawn from [1 - c, 1 + c]."""
    saturation: float = 0.2
    """Saturation factor drawn from [1 - s, 1 + s]."""
    hue: float = 0.1
    """Hue shift drawn from [-h, h] (fraction of a full turn)."""
    grayscale: float = 0.2
    """Probability of converting an image to grayscale."""


def to_float_nchw(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` (numpy or torch) -> float32 ``(N, 3, H, W)`` in [0, 1], channels_last."""
    t = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if t.ndim != 4 or t.shape[-1] != 3:
        raise ValueError(f"expected uint8 images shaped (N, H, W, 3), got {tuple(t.shape)}")
    return t.permute(0, 3, 1, 2).float().div_(255.0).contiguous(memory_format=torch.channels_last)


def resize_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a float NCHW batch to ``size`` x ``size`` (antialiased bilinear); no-op when already that size."""
    if images.shape[-2:] == (size, size):
        return images
    out = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out.clamp_(0, 1).contiguous(memory_format=torch.channels_last)


def resize_uint8(images: np.ndarray, size: int, chunk: int = 2048) -> np.ndarray:
    """uint8 ``(N, H, W, 3)`` images brought to ``size`` x ``size`` (antialiased bilinear, in chunks of ``chunk``
    images); returned as they are (contiguous) when already that size."""
    if len(images) == 0 or images.shape[1:3] == (size, size):
        return np.ascontiguousarray(images)
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i in range(0, len(images), chunk):
        x = resize_batch(to_float_nchw(images[i:i + chunk]), size)
        out[i:i + chunk] = x.mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=gen) * (hi - lo) + lo


def crop_boxes(n: int, height: int, width: int, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Random resized crop boxes ``(n, 4)`` as ``x1, y1, x2, y2`` in pixels (area share and aspect drawn per image).

    Same sampling as RandomResizedCrop (area uniform in [min_scale, max_scale], log-uniform aspect in
    [3/4, 4/3]) but vectorised: a box that does not fit is shrunk to fit instead of redrawn.
    """
    area = _uniform(n, cfg.min_scale, cfg.max_scale, gen) * height * width
    log_ratio = _uniform(n, math.log(3 / 4), math.log(4 / 3), gen)
    ratio = torch.exp(log_ratio)
    w = torch.sqrt(area * ratio).clamp(1, width)
    h = torch.sqrt(area / ratio).clamp(1, height)
    x1 = torch.rand(n, generator=gen) * (width - w)
    y1 = torch.rand(n, generator=gen) * (height - h)
    return torch.stack([x1, y1, x1 + w, y1 + h], dim=1)


def colour_matrices(n: int, cfg: AugmentConfig, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image 3x3 matrices (brightness, saturation, hue) and contrast factors; identity where jitter is off."""
    on = torch.rand(n, generator=gen) < cfg.jitter
    b = _uniform(n, 1 - cfg.brightness, 1 + cfg.brightness, gen)
    c = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, gen)
    s = _uniform(n, 1 - cfg.saturation, 1 + cfg.saturation, gen)
    theta = _uniform(n, -cfg.hue, cfg.hue, gen) * 2 * math.pi
    b, c, s, theta = (torch.where(on, v, torch.full_like(v, d)) for v, d in ((b, 1), (c, 1), (s, 1), (theta, 0)))
    eye = torch.eye(3).expand(n, 3, 3)
    grey = _GREY.view(1, 1, 3).expand(n, 3, 3)  # every output channel = luma
    sat = s.view(n, 1, 1) * eye + (1 - s).view(n, 1, 1) * grey
    cos, sin = torch.cos(theta), torch.sin(theta)
    rot = torch.zeros(n, 3, 3)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    hue = _YIQ2RGB @ rot @ _RGB2YIQ
    return b.view(n, 1, 1) * (sat @ hue), c


class TwoViewAugment:
    """Draw two independent augmented views of every image in a batch.

    Args:
        image_size: side of the output views in pixels.
        config: augmentation strengths.
        device: where the views are computed and returned (the random parameters are always drawn on the CPU
            generator, so the views do not depend on the device's random stream).

    Call with a uint8 ``(N, H, W, 3)`` batch (numpy or torch; any H, W) and a ``torch.Generator``; returns two
    float32 ``(N, 3, image_size, image_size)`` tensors in [0, 1], channels_last. With ``part`` (a slice), the
    parameters of all N images are drawn but only ``images[part]`` is augmented: a process training on its
    shard of a global batch gets the same views of its images as one process on the whole batch.
    """

    def __init__(self, image_size: int = 32, config: AugmentConfig | None = None,
                 device: str | torch.device = "cpu"):
        if image_size < 4:
            raise ValueError(f"image_size={image_size} is too small for augmentation: use 8 or more")
        self.image_size = image_size
        self.device = torch.device(device)
        self.config = config or AugmentConfig()
        c = self.config
        if not 0 < c.min_scale <= c.max_scale <= 1:
            raise ValueError(f"crop scales ({c.min_scale}, {c.max_scale}) must satisfy 0 < min <= max <= 1")

    def draw(self, n: int, height: int, width: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """The random parameters of one view of each of ``n`` images of ``height`` x ``width`` pixels, drawn from
        ``gen`` (crop boxes, flips, colour matrices, contrast factors, greyscale flags): :meth:`apply` uses them."""
        cfg = self.config
        boxes = crop_boxes(n, height, width, cfg, gen)
        flip = torch.rand(n, generator=gen) < cfg.flip
        mat, contrast = colour_matrices(n, cfg, gen)
        gray = torch.rand(n, generator=gen) < cfg.grayscale
        return {"boxes": boxes, "flip": flip, "mat": mat, "contrast": contrast, "gray": gray}

    def apply(self, images: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        """Image ``i`` of a float NCHW [0, 1] batch augmented with row ``i`` of the parameters ``p``
        (:meth:`draw`)."""
        size, dev, m = self.image_size, images.device, len(images)
        rois = torch.cat([torch.arange(m, dtype=torch.float32).unsqueeze(1), p["boxes"]], dim=1).to(dev)
        # roi_align with aligned=True samples box [x1, x2) exactly; sampling_ratio=2 averages 2x2 points per
        # output pixel, which antialiases downscaling crops.
        x = roi_align(images, rois, output_size=(size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True)
        x = torch.where(p["flip"].view(m, 1, 1, 1).to(dev), TF.horizontal_flip(x), x)
        contrast = p["contrast"].to(dev).view(m, 1, 1, 1)
        x = torch.einsum("nij,njhw->nihw", p["mat"].to(dev), x).clamp_(0, 1)
        mean = TF.rgb_to_grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
        x = (contrast * x + (1 - contrast) * mean).clamp_(0, 1)
        x = torch.where(p["gray"].view(m, 1, 1, 1).to(dev), TF.rgb_to_grayscale(x, num_output_channels=3), x)
        return x.contiguous(memory_format=torch.channels_last)

    def view(self, images: torch.Tensor, gen: torch.Generator, n: int | None = None,
             part: slice = slice(None)) -> torch.Tensor:
        """One augmented view of a float NCHW [0, 1] batch: images ``part`` of a batch of ``n`` (default: all)."""
        n = len(images) if n is None else n
        _, _, h, w = images.shape
        p = {k: v[part] for k, v in self.draw(n, h, w, gen).items()}
        return self.apply(images, p)

    def __call__(self, images: np.ndarray | torch.Tensor, gen: torch.Generator,
                 part: slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(images)
        mine = images[part]
        x = to_float_nchw(mine) if (isinstance(mine, np.ndarray) or mine.dtype == torch.uint8) else mine
        x = x.to(self.device).contiguous()  # roi_align wants NCHW-contiguous input
        return self.view(x, gen, n, part), self.view(x, gen, n, part)


def reference_transform(image_size: int = 32, config: AugmentConfig | None = None) -> v2.Compose:
    """The same recipe as a per-image ``transforms.v2`` pipeline (slow; for comparison and PIL inputs)."""
    c = config or AugmentConfig()
    return v2.Compose([
        v2.RandomResizedCrop(image_size, scale=(c.min_scale, c.max_scale), antialias=True),
        v2.RandomHorizontalFlip(c.flip),
        v2.RandomApply([v2.ColorJitter(c.brightness, c.contrast, c.saturation, c.hue)], p=c.jitter),
        v2.RandomGrayscale(c.grayscale),
        v2.ToDtype(torch.float32, scale=True),
    ])
