"""How much of a class the engine can reach by varying one query: the relevant classes' names, each alone and
with every visual descriptor ("red tabby", "tabby in the snow", ...), against the images of that class.

For each relevant class of the target in the world (the oracle's concepts: the class's first lemma), it prints
how many distinct images the variants returned together, how many of the class's own-captioned images that is,
and the "hubs": images returned by at least ``--hub-share`` of the variants (short captions such as "Tabby?" sit
nearest every query about the class and take those slots every time).

    python experiments/engine_reach.py --json
"""
from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np

from agents.descriptors import VISUAL_DESCRIPTORS, descriptor_text
from ie_env.envs.env import InternetExplorerEnv


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", default="cifar10", help="target dataset")
    ap.add_argument("--world", default="tinyweb", help="offline world")
    ap.add_argument("--results-per-query", type=int, default=20, help="images per answer")
    ap.add_argument("--hub-share", type=float, default=0.8, help="share of variants that makes an image a hub")
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args(argv)
    env = InternetExplorerEnv(world=args.world, target=args.target, mode="frozen",
                              results_per_query=args.results_per_query)
    world, engine = env.world, env.engine
    kinds = np.asarray([r.meta.get("caption_kind", "true") for r in world.rows])
    rel_wnids = sorted(set(world.wnids[env.relevant].tolist()))
    first_lemma = {}
    for i, w in enumerate(env.vocab.wnids):
        first_lemma.setdefault(w, env.vocab.lemmas[i])
    rows, totals = [], Counter()
    for wnid in rel_wnids:
        name = first_lemma.get(wnid)
        if name is None:
            continue
        variants = [name] + [descriptor_text(d, name) for d in VISUAL_DESCRIPTORS]
        counts = Counter(i for q in variants for i in env.canonical[engine.search_ids(q, args.results_per_query)])
        own = (world.wnids == wnid) & (kinds == "true")
        reached_own = sum(1 for i in counts if own[i])
        hubs = [i for i, c in counts.items() if c >= args.hub_share * len(variants)]
        slots = len(variants) * args.results_per_query
        row = {"class": name, "wnid": wnid, "variants": len(variants), "distinct_images": len(counts),
               "own_caption_images": int(own.sum()), "own_caption_reached": reached_own, "hubs": len(hubs),
               "hub_slot_share": round(sum(counts[i] for i in hubs) / slots, 3)}
        rows.append(row)
        totals.update({k: row[k] for k in ("variants", "distinct_images", "own_caption_images", "own_caption_reached",
                                           "hubs")})
        totals["slots"] += slots
        totals["hub_slots"] += sum(counts[i] for i in hubs)
        print(f"{name:<24} {len(variants)} queries -> {len(counts):>4} distinct images, "
              f"{reached_own:>3} of the {int(own.sum())} captioned as the class; {len(hubs):>2} hubs take "
              f"{100 * row['hub_slot_share']:.0f}% of the {slots} result slots", flush=True)
    summary = {"classes": len(rows), "queries": totals["variants"], "distinct_images": totals["distinct_images"],
               "own_caption_images": totals["own_caption_images"], "own_caption_reached": totals["own_caption_reached"],
               "hub_slot_share": round(totals["hub_slots"] / max(totals["slots"], 1), 3), "per_class": rows}
    print(f"all {len(rows)} classes: {summary['queries']} queries reach {summary['own_caption_reached']} of the "
          f"{summary['own_caption_images']} own-captioned images; hubs take {100 * summary['hub_slot_share']:.0f}% "
          "of the result slots")
    if args.json:
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
