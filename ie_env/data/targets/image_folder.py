"""Any ImageFolder directory as a target: ``root/<class>/<image>``.

With ``root/train/<class>/...`` and ``root/test/<class>/...`` (or ``val``) the given splits are used; otherwise
every fifth image of each class (by file name) is held out for testing. Class names are matched to WordNet
noun synsets by lemma (first sense; ``_`` or ``-`` read as spaces) for ground truth. Images that cannot be
decoded are skipped and counted.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ie_env.data.images import decode
from ie_env.data.targets.base import TargetData, TargetError
from ie_env.data.vocabulary import load_vocabulary

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _classes(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read(root: Path, classes: list[str], size: int) -> tuple[list[np.ndarray], list[int], list[str], int]:
    images, labels, names, skipped = [], [], [], 0
    for label, cls in enumerate(classes):
        folder = root / cls
        if not folder.is_dir():
            continue
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() not in EXTENSIONS:
                continue
            try:
                images.append(decode(f.read_bytes(), size))
            except Exception:  # noqa: BLE001 - any undecodable file is skipped and counted
                skipped += 1
                continue
            labels.append(label)
            names.append(f.name)
    return images, labels, names, skipped


def load(root: str, image_size: int = 32) -> TargetData:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise TargetError(f"target folder {path} does not exist or is not a directory: give root/<class>/<image>")
    test_dir = next((path / s for s in ("test", "val") if (path / s).is_dir()), None)
    if (path / "train").is_dir() and test_dir is not None:
        classes = _classes(path / "train")
        tr, ty, _, s1 = _read(path / "train", classes, image_size)
        te, tey, _, s2 = _read(test_dir, classes, image_size)
        skipped = s1 + s2
    else:
        classes = _classes(path)
        imgs, labels, _, skipped = _read(path, classes, image_size)
        hold = np.zeros(len(imgs), bool)
        for c in set(labels):
            idx = [i for i, y in enumerate(labels) if y == c]
            hold[idx[4::5]] = True  # every fifth image of each class
        tr = [im for im, h in zip(imgs, hold) if not h]
        ty = [y for y, h in zip(labels, hold) if not h]
        te = [im for im, h in zip(imgs, hold) if h]
        tey = [y for y, h in zip(labels, hold) if h]
    if not classes:
        raise TargetError(f"target folder {path} has no class sub-folders: lay it out as root/<class>/<image>")
    if not tr or not te:
        raise TargetError(f"target folder {path}: no readable images in the train or test split "
                          f"({skipped} undecodable skipped); add images (each class needs 2 or more)")
    vocab = load_vocabulary()
    wnids = []
    for cls in classes:
        hits = vocab.find(cls.replace("-", " ").replace("_", " "))
        wnids.append(vocab.wnids[hits[0]] if hits else "")
    train = np.stack(tr)
    return TargetData(f"folder:{path}", classes, wnids, train, train, np.asarray(ty, np.int64), np.stack(te),
                      np.asarray(tey, np.int64), skipped=skipped)
