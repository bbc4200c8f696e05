"""WordNet's hierarchy as kernel features (agents.hierarchy) and the gp_gain agent with it (the gp_tree preset):
cosines, cadence, what each learns from."""
from __future__ import annotations

import numpy as np
import pytest

from agents import AgentContext, make_agent
from agents.base import learning_signal
from agents.hierarchy import hierarchy_embeddings, joint_embeddings
from ie_env.data.vocabulary import load_vocabulary


@pytest.fixture(scope="module")
def full():
    return load_vocabulary()


def test_hierarchy_cosines_follow_shared_hypernyms(full):
    e = hierarchy_embeddings(full)
    assert e.shape == (len(full), 256) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert np.array_equal(e, hierarchy_embeddings(full))  # deterministic (and cached)
    first = {name: e[full.find(name)[0]] for name in ("golden retriever", "Labrador retriever", "poodle", "tabby",
                                                      "pickup truck", "pretzel")}
    cos = {(a, b): float(first[a] @ first[b]) for a in first for b in first}
    # siblings > cousins > another order of mammal > another kingdom of things
    assert cos["golden retriever", "Labrador retriever"] > cos["golden retriever", "poodle"] > \
        cos["golden retriever", "tabby"] > cos["golden retriever", "pretzel"]
    assert abs(cos["pickup truck", "pretzel"]) < 0.2
    same = full.find("tabby")  # lemmas of one synset share its vector
    wnid = full.wnids[same[0]]
    lemmas = [i for i, w in enumerate(full.wnids) if w == wnid]
    assert len(lemmas) > 1 and np.array_equal(e[lemmas[0]], e[lemmas[1]])
    with pytest.raises(ValueError, match="dim must be >= 1"):
        hierarchy_embeddings(full, dim=0)


def test_joint_cosine_is_the_weighted_sum():
    rng = np.random.default_rng(0)
    a, b = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in rng.standard_normal((2, 5, 8)))
    j = joint_embeddings(a * 3.0, b, 0.3)  # the text part is normalised first
    assert np.allclose(np.linalg.norm(j, axis=1), 1, atol=1e-6)
    assert np.allclose(j @ j.T, 0.7 * (a @ a.T) + 0.3 * (b @ b.T), atol=1e-5)


def test_new_gain_counts_what_a_query_added():
    base = {"reward_baseline": [0.5, 0.1], "image_rewards": [0.9, 0.8, 0.7, 0.6]}
    assert learning_signal(0.8, base | {"new_image_rewards": [0.9, 0.7]}, "new_gain") == pytest.approx((4 + 2) / 4)
    assert learning_signal(0.8, base | {"new_image_rewards": []}, "new_gain") == 0.0  # nothing new: worth nothing
    assert learning_signal(0.8, base | {"new_image_rewards": []}, "calibrated") == pytest.approx(2.5)  # the old ones
    no_baseline = {"image_rewards": [0.9, 0.8], "new_image_rewards": [0.9]}
    assert learning_signal(0.8, no_baseline, "new_gain") == pytest.approx(0.45)


@pytest.fixture(scope="module")
def subtree_task(full):
    """~1,500 concepts with text embeddings that carry no information (random), and a reward of 1 for the
    concepts under animal.n.01: only the hierarchy can tell an agent where the rewarded ones are."""
    vocab = full.subset(list(range(0, len(full), 97)))
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((len(vocab), 384)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    good = np.zeros(len(vocab), bool)
    good[vocab.under(["animal.n.01"])] = True
    assert 0.03 < good.mean() < 0.2
    return AgentContext(vocab, emb), good


def hits(agent, good, steps, seed):
    agent.reset(seed)
    found = 0
    for _ in range(steps):
        q = agent.act()
        found += bool(good[q.concept])
        agent.observe(q, float(good[q.concept]))
    return found


def test_gp_tree_finds_a_subtree_the_text_cannot_show(subtree_task):
    ctx, good = subtree_task
    tree = make_agent("gp_tree", ctx, refit_every=256, signal="reward")
    flat = make_agent("gp_gain", ctx, refit_every=256, signal="reward")
    assert (tree.config.hierarchy_weight, flat.config.hierarchy_weight) == (0.5, 0.0)
    assert tree.config.refit_every == 32  # refit_batch caps the env's iteration
    with_tree = sum(hits(tree, good, 160, s) for s in range(3))
    without = sum(hits(flat, good, 160, s) for s in range(3))
    chance = good.mean() * 160 * 3
    assert without < 2 * chance and with_tree > 2 * without, (with_tree, without, chance)
    with pytest.raises(ValueError, match="hierarchy_weight must be in"):
        make_agent("gp_gain", ctx, hierarchy_weight=1.5)
    assert make_agent("gp_gain", ctx, refit_every=16, refit_batch=0).config.refit_every == 16
    assert make_agent("gp_gain", ctx).config.signal == "new_gain"
