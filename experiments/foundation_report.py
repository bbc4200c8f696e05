"""Foundation figures: vocabulary size, time to embed it, tinyweb's build time and size, and search quality.

    python experiments/foundation_report.py [--json] [--rebuild] [--reembed]

For each example query it counts how many of the top-100 tinyweb results are images of a Tiny ImageNet class
that lies under (any sense of) the query's concept. Timings come from the cache sidecars written when the
vocabulary embeddings and the world were computed; ``--reembed`` / ``--rebuild`` measure them afresh.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time

from ie_env.data.text_embedding import concept_embeddings, concept_embeddings_path
from ie_env.data.vocabulary import load_vocabulary
from ie_env.web.search import make_engine
from offline_cache.tinyweb import build_tinyweb, open_world
from offline_cache.world import world_dir

QUERIES = ["tabby", "sports car", "retriever", "mushroom", "violin", "galaxy", "airliner", "lemon", "sea lion",
           "tractor"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    ap.add_argument("--rebuild", action="store_true", help="rebuild tinyweb to time it")
    ap.add_argument("--reembed", action="store_true", help="re-embed the whole vocabulary to time it")
    args = ap.parse_args(argv)

    vocab = load_vocabulary()
    out: dict = {"vocabulary": {"concepts": len(vocab), "synsets": vocab.n_synsets,
                                "distinct_strings": len({l.lower() for l in vocab.lemmas})}}
    side = concept_embeddings_path(vocab).with_suffix(".json")
    if args.reembed:
        side.unlink(missing_ok=True)
        side.with_suffix(".npy").unlink(missing_ok=True)
    start = time.perf_counter()
    concept_embeddings(vocab)
    took = time.perf_counter() - start
    recorded = json.loads(side.read_text())["seconds"] if side.exists() else took
    out["embed_vocabulary_s"] = round(recorded, 1)
    out["embed_texts_per_s"] = round(len(vocab) / recorded, 1)

    if args.rebuild:
        shutil.rmtree(world_dir("tinyweb"), ignore_errors=True)
    build_tinyweb()
    world = open_world("tinyweb")
    stats = world.snapshot.get_meta("stats")
    out["tinyweb"] = {"images": stats["images"], "classes": stats["classes"], "captions": stats["captions"],
                      "caption_kinds": stats["caption_kinds"], "build_s": stats["build_seconds"],
                      "disk_mb": round(sum(p.stat().st_size for p in world.path.iterdir()) / 2**20, 1)}
    engine = make_engine("tinyweb")
    rows = {}
    engine.search("warm-up query")  # loads the text model
    start = time.perf_counter()
    answers = engine.search_batch(QUERIES, 100)
    out["search_s_per_query"] = round((time.perf_counter() - start) / len(QUERIES), 4)
    for q, res in zip(QUERIES, answers):
        senses = {vocab.wnids[i] for i in vocab.find(q)}
        hits = sum(1 for r in res if senses & vocab.ancestors(r.meta["wnid"]))
        rows[q] = hits
    out["top100_under_concept"] = rows

    print(f"vocabulary: {len(vocab):,} concepts over {vocab.n_synsets:,} synsets")
    print(f"embedding the vocabulary: {out['embed_vocabulary_s']:.0f} s ({out['embed_texts_per_s']} texts/s)")
    t = out["tinyweb"]
    print(f"tinyweb: {t['images']:,} images, {t['captions']:,} distinct captions, built in {t['build_s']} s, "
          f"{t['disk_mb']} MB on disk")
    print(f"{'query':<12} top-100 results under the concept")
    for q, n in rows.items():
        print(f"{q:<12} {n:>3}")
    if args.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
