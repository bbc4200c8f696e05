"""Query agents: determinism, checkpoints, the tiered sampler, the GP posterior's accuracy, and a bandit check."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from agents import AGENTS, AgentContext, Query, make_agent
from agents.descriptors import VISUAL_DESCRIPTORS, descriptor_text, load_descriptors
from agents.gp_agent import effective_tiers, temperature, tiered_probabilities
from agents.posterior import GPConfig, GPPosterior, exact_posterior
from ie_env.data.vocabulary import load_vocabulary

N_CLUSTERS = 30
GOOD = (0, 1)  # clusters with high reward


@pytest.fixture(scope="module")
def vocab():
    full = load_vocabulary()
    positions = list(range(0, len(full), 97))  # ~1,500 concepts
    for name in ("cat", "dog", "frog"):
        positions.append(full.find(name)[0])
    return full.subset(sorted(set(positions)))


def clustered(n, n_clusters=N_CLUSTERS, spread=0.8, seed=0, d=384):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, d))
    labels = rng.integers(0, n_clusters, n)
    e = centres[labels] + spread * rng.standard_normal((n, d))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    return e.astype(np.float32), labels


@pytest.fixture(scope="module")
def context(vocab):
    emb, labels = clustered(len(vocab))
    ctx = AgentContext(vocab, emb, target_class_names=["cat", "dog", "frog"], descriptors=["baby", "red"])
    ctx.labels = labels  # test-only: the synthetic reward's clusters
    return ctx


def reward_of(ctx, concept, rng):
    return float(np.isin(ctx.labels[concept], GOOD)) + 0.1 * rng.standard_normal()


def run(agent, ctx, steps, seed=0, reward_rng=None):
    rng = reward_rng or np.random.default_rng(seed + 1000)
    out = []
    for _ in range(steps):
        q = agent.act()
        assert isinstance(q, Query) and 0 <= q.concept < len(ctx.vocab) and q.text
        agent.observe(q, reward_of(ctx, q.concept, rng))
        out.append((q.concept, q.descriptor, q.text))
    return out


def options(name, ctx):
    if name == "relevant_concepts":
        return {"concepts": list(np.flatnonzero(np.isin(ctx.labels, GOOD)))}
    if name in ("gp", "gp_ucb", "gp_thompson", "gp_gain"):
        return {"refit_every": 16}
    return {}


BUILTIN = ["random", "gp", "gp_ucb", "gp_thompson", "gp_gain", "relevant_concepts"]


def test_registry_and_errors(context):
    assert set(BUILTIN) | {"ppo", "dqn", "ceiling"} == set(AGENTS)
    with pytest.raises(ValueError, match="unknown agent"):
        make_agent("nope", context)
    with pytest.raises(TypeError, match="unknown option 'bogus'"):
        make_agent("gp", context, bogus=1)
    with pytest.raises(ValueError, match="concepts="):
        make_agent("relevant_concepts", context)
    with pytest.raises(ValueError, match="now 'relevant_concepts'"):
        make_agent("oracle", context)
    with pytest.raises(ValueError, match="needs env="):
        make_agent("ceiling", context)
    with pytest.raises(ValueError, match="products"):
        GPConfig(products="fp16")
    agent = make_agent("gp", context, lengthscale=0.4, refit_every=8)  # GP options may be given flat
    assert agent.config.gp.lengthscale == 0.4 and agent.config.refit_every == 8


@pytest.mark.parametrize("name", BUILTIN)
def test_deterministic_for_a_seed(name, context):
    runs = []
    for seed in (3, 3, 4):
        agent = make_agent(name, context, **options(name, context))
        agent.reset(seed)
        runs.append(run(agent, context, 48))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@pytest.mark.parametrize("name", BUILTIN)
def test_state_dict_round_trip_continues_identically(name, context):
    a = make_agent(name, context, **options(name, context))
    a.reset(7)
    rng = np.random.default_rng(5)
    run(a, context, 40, reward_rng=rng)  # mid-iteration: 40 = 2 refits + 8 pending
    state = copy.deepcopy(a.state_dict())
    for v in _leaves(state):
        assert isinstance(v, (np.ndarray, list, dict, str, int, float, bool, type(None))), type(v)
    b = make_agent(name, context, **options(name, context))
    b.reset(99)
    b.load_state_dict(state)
    rng_b = copy.deepcopy(rng)
    assert run(a, context, 50, reward_rng=rng) == run(b, context, 50, reward_rng=rng_b)
    if hasattr(a, "posterior"):
        assert np.array_equal(a.posterior.mean, b.posterior.mean)
        assert np.array_equal(a.posterior.std, b.posterior.std)


def _leaves(d):
    if isinstance(d, dict):
        for v in d.values():
            yield from _leaves(v)
    elif isinstance(d, list):
        for v in d:
            yield from _leaves(v)
    else:
        yield d


def test_tiered_masses_and_temperature():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=5000)
    p = tiered_probabilities(scores)
    order = np.argsort(-scores)
    assert np.isclose(p.sum(), 1.0)
    assert np.isclose(p[order[:250]].sum(), 0.8)
    assert np.isclose(p[order[250:1000]].sum(), 0.1)
    assert np.isclose(p[order[1000:]].sum(), 0.1)
    tau = temperature(scores)
    assert np.isclose((scores.max() - scores.min()) / tau, 3.0)
    # within a tier: a softmax at that temperature
    t1 = order[:250]
    assert np.allclose(p[t1] / p[t1[0]], np.exp((scores[t1] - scores[t1[0]]) / tau))
    t3 = order[1000:]
    assert np.isclose(p[t3[0]] / p[t3[-1]], np.exp((scores[t3[0]] - scores.min()) / tau))
    # other sizes and masses
    q = tiered_probabilities(scores, sizes=(10, 90), masses=(0.5, 0.3, 0.2), ratio=5.0)
    assert np.isclose(q[order[:10]].sum(), 0.5) and np.isclose(q[order[10:100]].sum(), 0.3)
    # small vocabularies: tiers scaled to at most half the candidates; equal scores: uniform
    assert effective_tiers(146347) == (250, 750)
    assert effective_tiers(400) == (50, 150)
    small_scores = rng.normal(size=400)
    small, so = tiered_probabilities(small_scores), np.argsort(-small_scores)
    assert np.isclose(small[so[:50]].sum(), 0.8) and np.isclose(small[so[50:200]].sum(), 0.1)
    assert np.allclose(tiered_probabilities(np.ones(7)), 1 / 7)


def test_gp_agent_concentrates_on_the_good_cluster(context):
    good = np.isin(context.labels, GOOD)
    shares, found = {}, {}
    for name in ("gp", "random"):
        agent = make_agent(name, context, **({"refit_every": 32} if name == "gp" else {}))
        agent.reset(0)
        queries = [c for c, _, _ in run(agent, context, 320)]
        shares[name] = good[queries[160:]].mean()
        found[name] = len({c for c in queries if good[c]})
    # without descriptors each concept is queried once, so the GP works through the good clusters' concepts
    assert shares["random"] < 0.15
    assert shares["gp"] > 3 * shares["random"] and found["gp"] > 0.75 * good.sum(), (shares, found, good.sum())


def test_gp_agent_no_repeats_within_an_iteration(context):
    agent = make_agent("gp", context, refit_every=32)
    agent.reset(1)
    queries = run(agent, context, 128)
    for it in range(4):
        concepts = [c for c, _, _ in queries[32 * it:32 * (it + 1)]]
        assert len(set(concepts)) == 32


@pytest.mark.parametrize("name", ["gp", "gp_ucb", "gp_thompson"])
def test_no_query_text_is_issued_twice_in_an_episode(name, context):
    """A repeat brings back the same images: good concepts are revisited only with an unused descriptor."""
    agent = make_agent(name, context, refit_every=16, descriptor_source="context", p_descriptor=0.3)
    agent.reset(2)
    queries = run(agent, context, 400)
    texts = [t for _, _, t in queries]
    assert len(set(texts)) == len(texts)
    per_concept = np.bincount([c for c, _, _ in queries])
    assert per_concept.max() == 3  # plain + "baby" + "red": every variant of some good concept was used
    good = np.isin(context.labels, GOOD)
    assert good[[c for c, _, _ in queries[200:]]].mean() > 2 * good.mean()


def test_gp_learns_from_new_images_when_the_env_reports_them(context):
    info = {"new_reward": 0.1, "new_image_rewards": np.array([0.2, 0.4]), "image_rewards": np.array([0.2, 0.4, 0.9])}
    calibrated = info | {"reward_baseline": [0.2, 0.05]}  # random world images under the same model: 0.2 +- 0.05
    for signal, data, want in [("new_mean", info, 0.3), ("new_reward", info, 0.1), ("reward", info, 0.9),
                               ("calibrated", calibrated, 2.0), ("calibrated", info, 0.3)]:  # no baseline: new_mean
        agent = make_agent("gp", context, refit_every=4, signal=signal)
        q = agent.act()
        agent.observe(q, 0.9, data)
        assert agent.posterior.log_rewards[-1] == pytest.approx(want)
    agent = make_agent("gp", context, refit_every=4)  # the default: calibrated
    agent.observe(agent.act(), 0.9, calibrated | {"new_image_rewards": np.zeros(0)})  # nothing new: all of them
    assert agent.posterior.log_rewards[-1] == pytest.approx((0.5 - 0.2) / 0.05)
    with pytest.raises(ValueError, match="signal='bogus'"):
        make_agent("gp", context, signal="bogus")


def test_posterior_matches_exact_gp():
    emb, labels = clustered(3000, n_clusters=60, spread=0.8, seed=1)
    rng = np.random.default_rng(2)
    obs = rng.integers(0, 3000, 300)  # with repeats
    f = np.sin(emb @ rng.standard_normal(384)) + (labels < 10)
    y = f[obs] + 0.1 * rng.standard_normal(300)
    cfg = GPConfig()
    post = GPPosterior(emb, cfg)
    post.add(obs[:150], y[:150])
    post.update()
    post.add(obs[150:], y[150:])
    post.update()
    mean, std = exact_posterior(emb, obs, y, cfg)
    assert np.abs(post.mean - mean).mean() < 0.02 * mean.std()
    assert np.abs(post.mean - mean).max() < 0.1 * mean.std()
    assert np.abs(post.std - std).mean() < 0.01 * std.mean()
    assert np.all(post.std >= std - 1e-3)  # local conditioning: an upper bound of the exact variance
    # with no more distinct observations than neighbours, it is the exact GP
    mean, std = exact_posterior(emb, obs[:12], y[:12], cfg)
    for products, tol in (("fp32", 1e-4), ("bf16", 1e-2)):  # bfloat16 cosines: ~1e-3 off
        small = GPPosterior(emb, GPConfig(neighbors=16, mean_neighbors=16, products=products))
        small.add(obs[:12], y[:12])
        small.update()
        assert np.allclose(small.mean, mean, atol=tol) and np.allclose(small.std, std, atol=tol), products


def test_posterior_rebuild_fit_and_checkpoint():
    emb, labels = clustered(800, seed=3)
    rng = np.random.default_rng(4)
    cfg = GPConfig(fit_hyperparameters=True, fit_lengthscales=(0.4, 0.8), fit_noises=(0.05, 0.5))
    a = GPPosterior(emb, cfg)
    for _ in range(6):  # few distinct concepts, many repeats: the factor is rebuilt over distinct concepts
        c = rng.integers(0, 60, 40)
        a.add(c, labels[c] % 3 + 0.1 * rng.standard_normal(40))
        a.update()
    assert any(e["op"] == "rebuild" for e in a.events)
    assert a.n_observations == 240 and a.n_unique <= 60 and a.fitted
    b = GPPosterior(emb, GPConfig(fit_hyperparameters=True, fit_lengthscales=(0.4, 0.8), fit_noises=(0.05, 0.5)))
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.std, b.std)
    for _ in range(3):
        c = rng.integers(0, 800, 40)
        r = labels[c] % 3 + 0.1 * rng.standard_normal(40)
        a.add(c, r)
        b.add(c, r)
        a.update()
        b.update()
        assert np.array_equal(a.mean, b.mean) and np.array_equal(a.std, b.std)
    # fit(all observations): incremental when they extend the held ones, a fresh start otherwise
    c_all = np.asarray(a.log_concepts)
    r_all = np.asarray(a.log_rewards)
    exact = GPConfig(products="fp32")  # bfloat16 cosines tie often; ties break by slot, which depends on the history
    fresh = GPPosterior(emb, exact)
    fresh.fit(c_all[:100], r_all[:100])
    fresh.fit(c_all, r_all)
    other = GPPosterior(emb, exact)
    other.fit(c_all[:50][::-1], r_all[:50][::-1])
    other.fit(c_all, r_all)  # not an extension: starts over
    assert other.n_observations == len(c_all) and np.allclose(other.mean_std()[0], fresh.mean, atol=1e-5)
    with pytest.raises(ValueError, match="L2-normalised"):
        GPPosterior(emb * 2)
    with pytest.raises(ValueError, match="out of range"):
        a.add([800], [1.0])


@pytest.mark.parametrize("name,opts", [("gp_ucb", {}), ("gp_thompson", {}), ("gp_thompson", {"pool": 100})])
def test_bandits_run_without_repeats(name, opts, context):
    agent = make_agent(name, context, refit_every=32, **opts)
    agent.reset(0)
    queries = run(agent, context, 96)
    for it in range(3):
        assert len({c for c, _, _ in queries[32 * it:32 * (it + 1)]}) == 32
    if name == "gp_ucb" or opts:  # Thompson over all candidates explores widely; the others must exploit
        good = np.isin(context.labels, GOOD)
        assert good[[c for c, _, _ in queries[64:]]].mean() >= good.mean()


def test_descriptors(context):
    assert len(VISUAL_DESCRIPTORS) == 50
    assert descriptor_text("baby", "duck") == "baby duck"
    assert descriptor_text("in the snow", "fox") == "fox in the snow"
    words = load_descriptors("wordnet", n=50)
    assert len(words) == 50 and all(w and " " not in w.strip() or w for w in words)
    attrs = load_descriptors("wordnet-attribute", n=30)
    assert len(attrs) == 30 and "large" in load_descriptors("wordnet-attribute", n=200)
    with pytest.raises(ValueError, match="unknown descriptor source"):
        load_descriptors("bogus")
    agent = make_agent("gp", context, descriptor_source="context", p_descriptor=1.0, refit_every=8)
    agent.reset(0)
    queries = run(agent, context, 16)
    assert all(d in (0, 1) for _, d, _ in queries)
    c, d, text = queries[0]
    assert text == descriptor_text(["baby", "red"][d], context.vocab.lemmas[c])
    # a descriptor query's reward counts for its concept
    assert agent.posterior.n_observations == 16
    truth = make_agent("relevant_concepts", context, concepts=[1, 2], descriptor_source="visual", shuffle=False)
    truth.reset(0)
    texts = [truth.act().text for _ in range(4)]
    lemmas = context.vocab.lemmas
    assert texts == [lemmas[1], lemmas[2], f"baby {lemmas[1]}", f"baby {lemmas[2]}"]


def test_label_set_mode(context):
    agent = make_agent("gp", context, label_set=True, label_set_size=100, refit_every=16)
    assert len(agent.candidates) <= 103
    agent.reset(0)
    queries = run(agent, context, 64)
    names = sum(t in ("cat", "dog", "frog") for _, _, t in queries)
    assert 16 <= names <= 48
    assert all(c in set(agent.candidates.tolist()) for c, _, _ in queries)


@pytest.mark.parametrize("name", ["gp", "gp_ucb", "gp_thompson"])
def test_upcoming_queries_are_the_ones_act_returns_even_after_a_checkpoint(name, context):
    agent = make_agent(name, context, refit_every=16, descriptor_source="context", p_descriptor=0.5)
    agent.reset(3)
    run(agent, context, 16)  # one refit
    plan = list(agent.upcoming())
    assert len(plan) == 16 and len({q.text for q in plan}) == 16
    first = [agent.act() for _ in range(5)]
    assert first == plan[:5] and agent.upcoming() == plan[5:]
    state = agent.state_dict()
    other = make_agent(name, context, refit_every=16, descriptor_source="context", p_descriptor=0.5)
    other.load_state_dict(state)
    assert [other.act() for _ in range(11)] == [agent.act() for _ in range(11)] == plan[5:]


def test_relevant_concepts_knows_its_next_queries(context):
    agent = make_agent("relevant_concepts", context, **options("relevant_concepts", context),
                       descriptor_source="context")
    agent.reset(4)
    plan = agent.upcoming()
    assert len(plan) == 256 and [agent.act() for _ in range(256)] == plan
    assert agent.upcoming()[0] == agent.act()
