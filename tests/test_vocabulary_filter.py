"""The offensive vocabulary filter: which lemmas go and which stay, agents that never draw a filtered concept, the
env that refuses one, a live run on 127.0.0.1 that never asks one (with an honest User-Agent), the report page
that hides them, and ``ie-explore vocab``'s counts."""
from __future__ import annotations

import json

import numpy as np
import pytest

from agents import AgentContext, make_agent, make_agent_for_env
from experiments.loopback_web import Server, image_app, openverse_app
from ie_env.data.vocabulary import load_vocabulary
from ie_env.data.vocabulary_filter import (
    USAGE_DOMAINS,
    allowed_concepts,
    filter_summary,
    filtered_concepts,
    is_offensive,
    may_show,
)
from ie_env.run import cli

MUST_FILTER = ("fuckup", "motherfucker", "mother fucker", "cocksucker", "bullshit", "asshole", "shithead", "dickhead",
               "whore", "jerk-off", "blowjob", "cunt", "twat", "wanker", "nigger", "faggot", "kike", "spic", "bitch",
               "slut", "shitter", "arse", "prick", "piss", "turd", "wetback", "darky", "honky", "gook", "diddly-shit")
"""Lemmas every sense of which the filter removes (most carry no WordNet usage-domain mark)."""
MUST_KEEP = ("cocktail", "assassin", "Essex", "Sussex", "Hancock", "shiitake", "analysis", "therapist", "grape",
             "title", "cockatoo", "peacock", "Dickens", "cumin", "Dickinson", "class", "passage", "bass", "document",
             "button", "organ", "slope", "pawn", "Komodo dragon", "pelican", "kumquat", "buckwheat", "Uranus",
             "scrap", "shell", "raccoon", "shittah", "shittimwood", "cockchafer", "scuttlebutt", "buttress",
             "Saxony", "sextant", "sextet", "analgesic", "arsenal", "arsenic", "pussycat", "titmouse", "samarium")
"""Ordinary nouns that hold a listed word inside a longer word (the Scunthorpe problem), or that other lists name."""


@pytest.fixture(scope="module")
def full():
    return load_vocabulary()


def _senses(v, lemmas):
    found = {lemma: v.find(lemma) for lemma in lemmas}
    return {lemma: hits for lemma, hits in found.items() if hits}


def test_offensive_filter_removes_the_listed_lemmas_and_keeps_ordinary_nouns(full):
    bad, good = _senses(full, MUST_FILTER), _senses(full, MUST_KEEP)
    assert len(bad) == len(MUST_FILTER) and len(good) == len(MUST_KEEP)  # the lists are WordNet lemmas
    sub = full.subset(sorted({i for hits in [*bad.values(), *good.values()] for i in hits}))
    removed = filtered_concepts(sub, "offensive")
    by_lemma = {}
    for i, lemma in enumerate(sub.lemmas):
        by_lemma.setdefault(lemma.lower(), []).append(bool(removed[i]))
    kept_bad = [lem for lem in bad if not all(by_lemma[lem.lower()])]
    lost_good = [lem for lem in good if any(by_lemma[lem.lower()])]
    assert kept_bad == [] and lost_good == []
    assert not filtered_concepts(sub, "none").any() and allowed_concepts(sub, "none") is None
    assert is_offensive("giant fuckup") and not is_offensive("giant cocktail") and not is_offensive("Essex girl")
    assert may_show("giant fuckup", "none") and not may_show("giant fuckup", "offensive")


def test_offensive_filter_takes_wordnets_marked_sense_only(full):
    """'boy' as an ethnic slur goes (WordNet marks that synset), 'boy' the male child stays."""
    boys = full.find("boy")
    sub = full.subset(boys)
    marked = set(sub.usage_marked([USAGE_DOMAINS["ethnic slur"]]))
    removed = filtered_concepts(sub, "offensive")
    assert marked and len(marked) < len(boys) and set(np.flatnonzero(removed)) == marked
    assert "offensive" in sub[next(iter(marked))].definition  # WordNet's own gloss says why


def test_vocab_cli_offensive_counts_and_find(full, capsys):
    assert cli.main(["vocab", "--vocabulary-filter", "offensive", "--json", "--find", "fuckup"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["concepts"] == len(full) and out["matches"] == []
    assert out["filtered"] == filter_summary(full, "offensive")["filtered"] == int(filtered_concepts(full).sum())
    assert 300 < out["filtered"] < 2000 and out["filtered_by"]["wordnet_usage_domain"] >= 150
    assert len(out["sample"]) == 12 and all(filtered_concepts(full)[full.find(lemma)].any() for lemma in out["sample"])
    assert cli.main(["vocab", "--vocabulary-filter", "none", "--json", "--find", "fuckup"]) == 0
    off = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert off["filtered"] == 0 and {m["lemma"] for m in off["matches"]} == {"fuckup"}
    assert cli.build_parser().parse_args(["vocab"]).vocabulary_filter == "offensive"  # on by default: shown to people
    assert cli.build_parser().parse_args(["run"]).vocabulary_filter == "none"  # the paper's vocabulary offline
    assert cli.build_parser().parse_args(["live"]).vocabulary_filter == "offensive"


@pytest.fixture(scope="module")
def mixed(full):
    """A vocabulary where a third of the concepts are filtered ones."""
    bad = sorted(np.flatnonzero(filtered_concepts(full, "offensive")).tolist())[:200]
    return full.subset(sorted(set(bad) | set(range(0, 60_000, 150))))


@pytest.mark.parametrize("name", ["random", "gp", "gp_ucb", "gp_thompson", "gp_label_set", "relevant_concepts"])
def test_agents_never_draw_a_concept_or_descriptor_the_vocabulary_filter_removes(mixed, name):
    removed = filtered_concepts(mixed, "offensive")
    assert 0.25 < removed.mean() < 0.5
    emb = np.random.default_rng(0).standard_normal((len(mixed), 384)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    descriptors = ["baby", "bloody", "red", "horny"]  # two on the list
    options = {"refit_every": 16, "descriptor_source": "context", "p_descriptor": 0.9} if name != "random" else \
        {"descriptor_source": "context", "p_descriptor": 0.9}
    if name == "relevant_concepts":
        options = {"concepts": list(range(len(mixed))), "descriptor_source": "context"}
    seen = {}
    for flt in ("offensive", "none"):
        ctx = AgentContext(mixed, emb, target_class_names=["cat", "bitch", "dog"], descriptors=descriptors,
                           vocabulary_filter=flt)
        agent = make_agent(name, ctx, **options)
        agent.reset(1)
        queries = []
        for _ in range(400):
            q = agent.act()
            agent.observe(q, float(np.random.default_rng(q.concept).random()))
            queries.append(q)
        seen[flt] = queries
    on = seen["offensive"]
    assert not any(removed[q.concept] for q in on)
    assert not any(is_offensive(q.text) for q in on) and {q.descriptor for q in on} <= {-1, 0, 2}
    if name != "relevant_concepts":  # it walks its concepts in order: the first 400 need not reach a filtered one
        assert any(removed[q.concept] or is_offensive(q.text) for q in seen["none"])  # the test can fail


def test_candidate_set_proposes_no_filtered_concept_offensive(mixed):
    from agents.candidates import CandidateConfig, CandidateSet

    removed = filtered_concepts(mixed, "offensive")
    emb = np.random.default_rng(1).standard_normal((len(mixed), 384)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    cands = CandidateSet(emb, CandidateConfig(k=16, embedding_dim=4), allowed=~removed)
    cands.reset(np.random.default_rng(0))
    for step in range(60):
        c = cands.propose()
        assert len(c) == 16 and not removed[c].any()
        cands.observe(int(c[0]), 0.1 * step)
        if step % 10 == 9:
            cands.refit()


def test_live_run_on_loopback_never_asks_a_filtered_concept_offensive(full, tiny_world, tmp_path, monkeypatch):
    """The live env (filter on by default) with the GP agent against fake Openverse and image hosts on 127.0.0.1:
    every query the search service received is allowed, the env refuses a filtered action before sending anything,
    and every request names the project and the contact the user set, and no page that does not exist."""
    from ie_env.envs.live_env import InternetExplorerLiveEnv
    from ie_env.run.runner import run_episode

    monkeypatch.delenv("IE_USER_AGENT", raising=False)
    monkeypatch.setenv("IE_CONTACT", "ops@example.org")
    bad = [full.find(lemma)[0] for lemma in ("fuckup", "bitch", "shithead", "whore", "asshole", "kike")]
    ordinary = [full.find(lemma)[0] for lemma in ("tabby", "golden retriever", "lemon", "reel", "sports car")]
    concepts = sorted(set(bad + ordinary + list(range(5000, 5040))))
    asked, agents = [], []

    def record(app):
        def wrapped(h):
            agents.append(h.headers.get("User-Agent", ""))
            if h.route == "/v1/images/":
                asked.append(h.query.get("q", ""))
            return app(h)
        return wrapped

    with Server(record(image_app)) as images, Server(record(openverse_app(images.url, total=6))) as search:
        env = InternetExplorerLiveEnv(engine="openverse", engine_options={"base_url": search.url},
                                      downloader={"allow_private": True}, concepts=concepts,
                                      target="tiny-imagenet:dog.n.01", mode="frozen", frozen_encoder="resnet18",
                                      budget=16, queries_per_iteration=8, results_per_query=4, reward_targets=50)
        try:
            assert env.config.vocabulary_filter == "offensive"
            removed = ~env.action_masks()
            assert removed.sum() == len(bad)
            agent = make_agent_for_env("gp", env, refit_every=8)
            run_episode(env, agent, seed=0)
            n = len(asked)
            with pytest.raises(ValueError, match="vocabulary_filter"):
                env.step(int(np.flatnonzero(removed)[0]))
            assert len(asked) == n  # refused before any request
        finally:
            env.close()
    assert len(asked) >= 16 and not any(is_offensive(q) for q in asked)
    assert not {env.vocab.lemmas[i] for i in np.flatnonzero(removed)} & set(asked)
    assert agents and all(ua.startswith("internet-explorer/") and "ops@example.org" in ua and "pypi.org" not in ua
                          for ua in agents)


def test_report_page_hides_offensive_queries_and_their_images(tmp_path, capsys):
    from ie_env.run.explored import write_explored

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"command": "run", "agent": "gp", "seed": 0,
                                                 "world": str(tmp_path / "no-world")}))
    queries = [{"query": q, "reward": r, "asked": 1, "new": 2, "relevant": 0}
               for q, r in (("giant fuckup", 0.9), ("tabby", 0.8), ("bitch", 0.7), ("cocktail", 0.6))]
    images = [{"sha256": f"{i:064x}", "reward": 0.5, "query": q["query"], "relevant": False}
              for i, q in enumerate(queries)]
    write_explored(run / "explored.jsonl", [{"iteration": 0, "queries": 4, "new_images": 8, "new_relevant": 0,
                                             "mean_reward": 0.7, "reward_auc": None, "knn_accuracy": None,
                                             "top_queries": queries, "top_images": images}])
    assert cli.main(["report", str(run), "--out", str(tmp_path / "page")]) == 0
    page = (tmp_path / "page" / "index.html").read_text()
    assert "tabby" in page and "cocktail" in page and "fuckup" not in page and "bitch" not in page
    assert "hid 2 queries and 2 images" in page
    assert cli.main(["report", str(run), "--out", str(tmp_path / "all"), "--vocabulary-filter", "none"]) == 0
    assert "giant fuckup" in (tmp_path / "all" / "index.html").read_text()
    capsys.readouterr()


def test_user_agent_names_the_project_and_the_users_contact(monkeypatch):
    from ie_env.web.download import DownloaderConfig
    from ie_env.web.http import user_agent
    from ie_env.web.search.openverse import OpenverseEngine

    monkeypatch.delenv("IE_USER_AGENT", raising=False)
    monkeypatch.delenv("IE_CONTACT", raising=False)
    anonymous = user_agent()
    assert anonymous.startswith("internet-explorer/") and "IE_CONTACT" in anonymous and "http" not in anonymous.split(
        ")")[0]  # no page claimed
    assert "me@example.org" in user_agent("me@example.org")
    monkeypatch.setenv("IE_CONTACT", "https://example.org/lab")
    assert "contact: https://example.org/lab" in OpenverseEngine().config.user_agent
    assert "https://example.org/lab" in DownloaderConfig().validate().user_agent
    monkeypatch.setenv("IE_USER_AGENT", "my-study/1.0 (me@example.org)")
    assert user_agent() == "my-study/1.0 (me@example.org)"
    with pytest.raises(ValueError, match="printable"):
        user_agent("me@example.org\r\nX-Evil: 1")
