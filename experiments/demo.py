"""The main job on the default world: explore tinyweb for a CIFAR-10 target and report what was found.

Run it with ``make demo`` (or ``ie-explore demo``). It queries random WordNet concepts, counts the distinct
images downloaded and how many of them are relevant to the target (ground truth, measurement only).
"""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm


def run_demo(budget: int = 256, seed: int = 0, world: str = "tinyweb", target: str = "cifar10",
             batch: int = 32) -> dict:
    from ie_env.ground_truth import relevant_wnids
    from ie_env.search import make_engine
    from ie_env.targets import load_target
    from ie_env.vocabulary import load_vocabulary

    if budget < 1:
        raise ValueError(f"budget={budget}: give a positive number of queries")
    vocab = load_vocabulary()
    engine = make_engine("tinyweb", world=world)
    tgt = load_target(target)
    relevant = relevant_wnids(engine.world.wnids.tolist(), tgt.class_wnids, vocab)
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    found: set[str] = set()
    best: list[tuple[int, str]] = []
    with tqdm(total=budget, desc="random exploration", unit="query") as bar:
        for start in range(0, budget, batch):
            queries = [vocab.lemmas[i] for i in rng.integers(len(vocab), size=min(batch, budget - start))]
            for q, results in zip(queries, engine.search_batch(queries)):
                new_rel = sum(1 for r in results if r.key not in seen and r.meta["wnid"] in relevant)
                seen.update(r.key for r in results)
                found.update(r.key for r in results if r.meta["wnid"] in relevant)
                best.append((new_rel, q))
            bar.update(len(queries))
            bar.set_postfix(distinct=len(seen), relevant=len(found))
    summary = {"agent": "random", "queries": budget, "distinct_images": len(seen), "relevant_images": len(found),
               "precision": round(len(found) / max(1, len(seen)), 4),
               "relevant_in_world": int(np.isin(engine.world.wnids, list(relevant)).sum()),
               "best_queries": [q for _, q in sorted(best, key=lambda t: -t[0])[:5]]}
    print(f"\n{budget} random queries on {world} for target {target}: {len(seen)} distinct images, "
          f"{len(found)} relevant ({summary['precision']:.1%}); best queries: {', '.join(summary['best_queries'])}")
    return summary
