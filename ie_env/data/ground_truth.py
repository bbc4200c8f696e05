"""Ground truth for measurement only: which web images are relevant to a target.

A web image is relevant when its true synset lies under (or is) the synset of one of the target's classes:
for CIFAR-10, tabby (n02123045) lies under cat.n.01, convertible under car.n.01. Agents never see this; the
experiments use it to score them.
"""
from __future__ import annotations

import numpy as np


def relevant_wnids(web_wnids, class_wnids: list[str], vocab) -> dict[str, int]:
    """Map each relevant web synset to the index of the target class it falls under."""
    out: dict[str, int] = {}
    wanted = {w: i for i, w in enumerate(class_wnids) if w}
    for w in sorted(set(web_wnids)):
        if not w:
            continue
        hits = [wanted[a] for a in vocab.ancestors(w) if a in wanted]
        if hits:
            out[w] = min(hits)
    return out


def relevant_mask(world, target, vocab) -> np.ndarray:
    """Boolean mask over the world's images: True where the image is relevant to ``target``."""
    rel = relevant_wnids(world.wnids.tolist(), target.class_wnids, vocab)
    return np.isin(world.wnids, list(rel))


def mapping_table(world_wnids, class_names: list[str], class_wnids: list[str], vocab) -> list[dict]:
    """Rows ``{target_class, wnid, name}`` of the relevant web classes, for the README and reports."""
    rel = relevant_wnids(world_wnids, class_wnids, vocab)
    return [{"target_class": class_names[c], "wnid": w, "name": vocab.synset_lemmas(w)[0]}
            for w, c in sorted(rel.items(), key=lambda kv: (kv[1], kv[0]))]
