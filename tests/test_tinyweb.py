import json
from collections import Counter

import numpy as np
import pytest

from ie_env.web.search import SearchError, make_engine
from offline_cache.tinyweb import TinywebConfig, build_tinyweb, caption_for, open_world
from tests.conftest import PER_CLASS, TINY_CLASSES


def test_world_catalogue_and_images(tiny_world):
    assert len(tiny_world) == len(TINY_CLASSES) * PER_CLASS
    assert sorted(set(tiny_world.wnids.tolist())) == sorted(TINY_CLASSES)
    imgs = tiny_world.load_images([0, 5], size=32)
    assert imgs.shape == (2, 32, 32, 3) and imgs.dtype == np.uint8
    assert tiny_world.snapshot.verify().ok


def test_search_finds_the_concept_and_is_deterministic(tiny_world):
    engine = make_engine("tinyweb", world=tiny_world, n=10)
    res = engine.search("tabby cat")
    assert [r.rank for r in res] == list(range(10))
    assert Counter(r.meta["wnid"] for r in res).most_common(1)[0][0] == "n02123045"
    assert len({r.key for r in res}) == 10
    again = make_engine("tinyweb", world=tiny_world, n=10).search_batch(["lemon", "tabby cat"])[1]
    assert [r.key for r in again] == [r.key for r in res]


def test_query_for_a_missing_concept_returns_neighbours(tiny_world):
    res = make_engine("tinyweb", world=tiny_world, n=5).search("violin")
    assert len(res) == 5 and all(r.meta["similarity"] < 0.99 for r in res)
    with pytest.raises(SearchError, match="empty query"):
        make_engine("tinyweb", world=tiny_world).search("  ")


def test_build_is_deterministic_and_announces_its_steps(tiny_source, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("offline_cache.tinyweb.ANNOUNCE_TEXTS", 0)  # as a full world's build does
    a = open_world(str(build_tinyweb(TinywebConfig(source=str(tiny_source), per_class=4), name=str(tmp_path / "a"))))
    err = capsys.readouterr().err
    assert f"building the world a from {4 * len(TINY_CLASSES)} photos" in err
    assert "first run: embedding" in err and "(the world's captions" in err and "texts/s measured here" in err
    assert str(tmp_path / "a" / "captions.npy") in err
    monkeypatch.undo()
    b = open_world(str(build_tinyweb(TinywebConfig(source=str(tiny_source), per_class=4), name=str(tmp_path / "b"))))
    assert a.captions == b.captions and a.sha256 == b.sha256 and len(a) == 4 * len(TINY_CLASSES)
    assert np.array_equal(a.caption_embeddings, b.caption_embeddings)


def test_caption_noise_share():
    from ie_env.data.vocabulary import load_vocabulary

    vocab = load_vocabulary()
    kinds = Counter(caption_for(f"n02123045_{i}", "n02123045", TinywebConfig(noise=0.1), vocab, TINY_CLASSES)[1]
                    for i in range(4000))
    assert 0.08 < 1 - kinds["true"] / 4000 < 0.12
    assert {"other_class", "other_noun", "generic"} <= set(kinds)
    clean = {caption_for(f"k{i}", "n02123045", TinywebConfig(noise=0.0), vocab, TINY_CLASSES)[1] for i in range(500)}
    assert clean == {"true"}


def test_bad_source_is_a_clear_error(tmp_path):
    from ie_env.paths import DataMissingError

    with pytest.raises(DataMissingError, match="not a tiny-imagenet-200 folder"):
        build_tinyweb(TinywebConfig(source=str(tmp_path)), name=str(tmp_path / "w"))


def test_cli_search_json(tiny_world, capsys):
    from ie_env.run.cli import main

    assert main(["search", "--world", str(tiny_world.path), "--n", "7", "--json", "sports car"]) == 0
    items = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(items) == 7 and {"rank", "key", "caption", "wnid"} <= set(items[0])
    assert items[0]["wnid"] == "n04285008"


def test_version_2_gives_every_image_its_own_alt_text(tiny_world):
    assert tiny_world.snapshot.get_meta("build")["version"] == 2
    assert len(set(tiny_world.captions)) >= 0.95 * len(tiny_world)
    kinds = Counter(r.meta["caption_kind"] for r in tiny_world.rows)
    assert kinds["true"] >= 0.8 * len(tiny_world)
    names = {"n02123045": ("tabby", "tabbies", "cat"), "n04285008": ("sports car", "car")}
    for r in tiny_world.rows:  # a true caption names its object (a synonym, plural or hypernym)
        if r.meta["caption_kind"] == "true" and r.meta["wnid"] in names:
            assert any(n in r.caption.lower() for n in names[r.meta["wnid"]]), r.caption


def test_engine_returns_the_nearest_captions_one_image_each(tiny_world):
    engine = make_engine("tinyweb", world=tiny_world, n=15)
    res = engine.search("a tabby cat at home")
    sims = [r.meta["similarity"] for r in res]
    assert len({r.key for r in res}) == 15 and sims == sorted(sims, reverse=True)
    ids = engine.search_ids("a tabby cat at home")
    assert [tiny_world.keys[i] for i in ids] == [r.key for r in res]
    # the answer is the 15 images whose own captions are nearest to the query (no image twice)
    q = engine._embed(["a tabby cat at home"])[0]
    per_image = tiny_world.caption_embeddings[tiny_world.caption_ids] @ q
    assert min(sims) >= np.sort(np.round(per_image, 5))[::-1][14] - 1e-5


def test_pixel_word_queries_prefer_images_that_have_the_word(tiny_world):
    engine = make_engine("tinyweb", world=tiny_world, n=10)
    words = Counter(w for r in tiny_world.rows for w in r.meta.get("pixel_words", []))
    word = next(w for w, _ in words.most_common() if w not in ("busy background", "plain background"))
    plain = engine.search("photo")
    worded = engine.search(f"{word} photo")
    has = lambda res: sum(word in r.meta.get("pixel_words", []) for r in map(lambda x: tiny_world.rows[
        tiny_world.index_of[x.key]], res))
    assert has(worded) > has(plain)


def test_version_1_stays_buildable(tiny_source, tmp_path):
    w = open_world(str(build_tinyweb(TinywebConfig(source=str(tiny_source), per_class=6, version=1),
                                     name=str(tmp_path / "v1"))))
    assert len(set(w.captions)) < len(w)  # templates: images share captions
    engine = make_engine("tinyweb", world=w, n=8)
    assert not engine.per_image and len({r.key for r in engine.search("tabby")}) == 8


def test_answer_table_gives_the_searches_answers_and_is_cached(tiny_world, monkeypatch, tmp_path):
    monkeypatch.setenv("IE_CACHE_DIR", str(tmp_path))
    texts = ["tabby cat", "lemon", "violin", "goldfish", "a dog"]
    searched = make_engine("tinyweb", world=tiny_world, n=10)
    expected = [searched.search_ids(t) for t in texts]
    emb = searched._embed(texts)
    rows = {t: i for i, t in enumerate(texts)}
    engine = make_engine("tinyweb", world=tiny_world, n=10)
    engine.use_answer_table("t", rows, emb, progress=False)
    assert len(list((tmp_path / "answers").glob("*.npy"))) == 1
    again = make_engine("tinyweb", world=tiny_world, n=10)
    monkeypatch.setattr(again._index, "search", lambda *a: pytest.fail("the cached table was not used"))
    again.use_answer_table("t", rows, emb, progress=False)
    for e in (engine, again):
        assert all(np.array_equal(e.search_ids(t), x) for t, x in zip(texts, expected))
    with pytest.raises(pytest.fail.Exception):  # a text outside the table is still searched
        again.search_ids("a red tabby cat")


def test_prefetched_answers_depend_only_on_the_batch(tiny_world):
    texts = ["a tabby cat at home", "red frog", "baby duck", "a dog on grass"]
    fresh = make_engine("tinyweb", world=tiny_world, n=10)
    fresh.prefetch(texts)
    used = make_engine("tinyweb", world=tiny_world, n=10)
    before = {t: used.search_ids(t) for t in texts[:2]}  # answered one at a time first
    used.prefetch(texts)
    for t in texts:
        assert np.array_equal(fresh.search_ids(t), used.search_ids(t))
    for t in texts[:2]:  # a one-text pass and a batched one may differ in the last bits only
        assert len(set(before[t].tolist()) & set(used.search_ids(t).tolist())) >= 9


def test_a_batch_larger_than_the_cache_is_answered_whole(tiny_world):
    engine = make_engine("tinyweb", world=tiny_world, n=5, cache_size=3)
    engine.search_ids_batch(["tabby", "lemon"])  # cached, and pushed out by the batch below
    texts = ["tabby", "lemon", "goldfish", "reel", "golden retriever", "sports car"]
    answers = engine.search_ids_batch(texts)
    assert [a[0].tolist() for a in answers] == [engine.search_ids(t).tolist() for t in texts]
