"""Target datasets, one module per source, chosen by name with :func:`load_target`.

Names: ``cifar10``; ``tiny-imagenet:<synset>`` (val classes under a WordNet ancestor, e.g.
``tiny-imagenet:dog.n.01``); ``folder:<path>`` (an ImageFolder directory).
"""
from __future__ import annotations

from ie_env.data.targets import cifar10, image_folder, tiny_imagenet
from ie_env.data.targets.base import TargetData, TargetError


def load_target(name: str, image_size: int = 32) -> TargetData:
    """Load (and cache the decoded arrays of) the target called ``name`` at ``image_size`` pixels."""
    if image_size < 8:
        raise TargetError(f"image_size {image_size} is too small: use 8 or more (32 is the CPU default)")
    kind, _, arg = name.partition(":")
    if kind == "cifar10":
        return cifar10.load(image_size)
    if kind == "tiny-imagenet":
        return tiny_imagenet.load(arg or "entity.n.01", image_size)
    if kind == "folder":
        if not arg:
            raise TargetError("target 'folder:' needs a path: folder:/path/to/root")
        return image_folder.load(arg, image_size)
    raise TargetError(f"unknown target {name!r}: use cifar10, tiny-imagenet:<synset> or folder:<path>")


__all__ = ["TargetData", "TargetError", "load_target"]
