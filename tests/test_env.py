import gymnasium as gym
import numpy as np
import pytest

from ie_env.envs.env import InternetExplorerEnv


def make(tiny_world, concepts, **kw):
    opts = dict(world=str(tiny_world.path), target="tiny-imagenet:dog.n.01", mode="frozen", frozen_encoder="resnet18",
                budget=8, queries_per_iteration=4, results_per_query=10, reward_targets=300, concepts=concepts)
    return InternetExplorerEnv(**{**opts, **kw})


def test_gymnasium_and_sb3_check_env(tiny_world, concepts):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = make(tiny_world, concepts)
    check_env(env, skip_render_check=True)
    sb3_check(env, warn=True)


def test_registered_and_truncates_at_budget(tiny_world, concepts):
    env = gym.make("InternetExplorer-v0", **dict(world=str(tiny_world.path), target="tiny-imagenet:dog.n.01",
                                                 frozen_encoder="resnet18", budget=3,
                                                 results_per_query=10, reward_targets=300, concepts=concepts),
                   max_episode_steps=3)
    env.reset(seed=0)
    flags = [env.step(env.action_space.sample())[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_distinct_counting_and_info(tiny_world, concepts):
    env = make(tiny_world, concepts)
    env.reset(seed=0)
    dog = env.vocab.find("golden retriever")[0]
    _, r1, _, _, info1 = env.step(dog)
    _, r2, _, _, info2 = env.step(dog)
    assert info1["query"] == "golden retriever" and info1["new_images"] == 10 and info1["new_relevant"] > 5
    assert info2["new_images"] == 0 and info2["new_relevant"] == 0 and r1 == r2  # a repeat finds nothing new
    assert info1["new_reward"] == pytest.approx(r1) and info2["new_reward"] == 0.0
    m = env.metrics()
    assert m["distinct_images"] == 10 and m["relevant_images"] == info1["new_relevant"]
    assert len(info1["image_rewards"]) == 10 and set(info1) >= {"keys", "iteration", "relevant", "concept"}


def test_same_seed_same_episode(tiny_world, concepts):
    env = make(tiny_world, concepts)

    def episode(seed):
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        return [env.step(int(rng.integers(len(env.vocab))))[1] for _ in range(8)]

    assert episode(3) == episode(3)


def test_iteration_end_reports_the_reward_auc_of_its_new_images(tiny_world, concepts, monkeypatch):
    import ie_env.envs.env as env_module

    seen = []
    monkeypatch.setattr(env_module, "reward_auc", lambda r, rel: seen.append((list(r), list(rel))) or 0.625)
    env = make(tiny_world, concepts, budget=6, queries_per_iteration=3)
    env.reset(seed=0)
    infos = [env.step(a)[-1] for a in (0, 1, 2, 3, 4, 5)]
    assert [i.get("reward_auc") for i in infos] == [None, None, 0.625, None, None, 0.625]
    for (rewards, relevant), its in zip(seen, (infos[:3], infos[3:])):
        assert rewards == [r for i in its for r in i["new_image_rewards"]]  # every new image once, in order
        assert sum(relevant) == sum(i["new_relevant"] for i in its)


def test_bad_options_are_clear_errors(tiny_world, concepts):
    with pytest.raises(ValueError, match="unknown option"):
        make(tiny_world, concepts, budjet=3)
    with pytest.raises(ValueError, match="mode"):
        make(tiny_world, concepts, mode="fast")
    with pytest.raises(ValueError, match="budget"):
        make(tiny_world, concepts, budget=-1)


def test_full_mode_and_target_only_baseline(tiny_world, concepts):
    from ie_env.run.compare import target_only

    env = make(tiny_world, concepts, mode="full", budget=4, queries_per_iteration=2, eval_images=20,
               reward_targets=60, learner={"width": 0.125, "batch_size": 8, "steps_per_iteration": 1,
                                           "proj_hidden": 16, "proj_dim": 8, "stem_stride": 2})
    env.reset(seed=0)
    _, _, _, _, info = env.step(0)
    _, _, _, _, info = env.step(1)
    assert info["iteration_end"] and 0 <= info["knn_accuracy"] <= 1
    out = target_only(env, seed=0)
    assert len(out["iterations"]["knn_accuracy"]) == 2 and 0 <= out["final"]["knn_accuracy"] <= 1


def test_compare_agents_writes_the_summary_checks_read(tiny_world, tmp_path):
    import json

    from experiments.compare_agents import main

    out = tmp_path / "cmp"
    argv = ["--world", str(tiny_world.path), "--target", "tiny-imagenet:dog.n.01", "--agents",
            "random,gp,relevant_concepts,ceiling", "--seeds", "2", "--budget", "8", "--queries-per-iteration", "4",
            "--frozen-encoder", "resnet18",
            "--image-size", "32", "--vocabulary-under", "dog.n.01,cat.n.01,car.n.01", "--agent-option",
            "gp:refit_every=4", "--agent-option", "ceiling:descriptor_concepts=2", "--out", str(out)]
    main(argv)
    summary = json.loads((out / "summary.json").read_text())
    for agent in ("random", "gp", "relevant_concepts", "ceiling"):
        entry = summary[agent]
        for key in ("relevant_images", "precision"):
            assert entry[key]["lo"] <= entry[key]["mean"] <= entry[key]["hi"]
        assert entry["steps_per_s"] > 0 and 0 <= entry["precision"]["mean"] <= 1
    counts = summary["world_counts"]
    assert counts["relevant_total"] == 12 and counts["relevant_with_own_caption"] <= 12
    assert summary["ceiling"]["ceiling_share"]["mean"] == 1.0
    assert 0 <= summary["random"]["ceiling_share"]["mean"] <= 1
    assert summary["agent_options"] == {"gp": {"refit_every": 4}, "ceiling": {"descriptor_concepts": 2}}
    runs = json.loads((out / "runs.json").read_text())
    assert len(runs["gp"]) == 2 and len(runs["gp"][0]["curve"]["relevant_images"]) == 8
    for run in runs["ceiling"]:  # the ceiling is at or above every agent on every seed
        for agent in ("random", "gp", "relevant_concepts"):
            other = next(r for r in runs[agent] if r["seed"] == run["seed"])
            assert run["final"]["relevant_images"] >= other["final"]["relevant_images"]
    assert (out / "relevant_images.png").exists()
    runs["gp"][1]["final"]["relevant_images"] = -1  # marks the episode: --resume must keep it, not rerun it
    (out / "runs.json").write_text(json.dumps({"gp": runs["gp"]}))
    again = main([*argv, "--resume"])
    assert again["gp"]["relevant_images"]["lo"] < 0 and again["random"] == summary["random"] | {
        "steps_per_s": again["random"]["steps_per_s"]}


def test_vocabulary_queries_are_answered_from_tables_built_on_first_use(tiny_world, concepts, monkeypatch, tmp_path):
    import ie_env.envs.env as env_module

    monkeypatch.setenv("IE_CACHE_DIR", str(tmp_path))
    plain = make(tiny_world, concepts)
    assert not plain.uses_query_table()  # a small vocabulary embeds its queries as they come
    texts = sorted(set(plain.vocab.lemmas))
    table = {"rows": {t: i for i, t in enumerate(texts)}, "emb": plain.engine._embed(texts), "built": 0}

    def lemma_table(vocab, **kw):  # stands in for the 119,034 full-vocabulary lemmas (minutes to embed)
        table["built"] += 1
        return table["emb"]

    monkeypatch.setattr(env_module, "query_embeddings", lemma_table)
    monkeypatch.setattr(env_module, "registered_table", lambda name: (table["rows"], table["emb"]))
    env = make(tiny_world, concepts, query_table=True)
    assert env.uses_query_table()
    env.reset(seed=0)
    assert table["built"] == 1 and env.engine._answers is not None
    assert len(list((tmp_path / "answers").glob("*.npy"))) == 1  # the answers are cached on disk
    monkeypatch.setattr(env.engine._index, "search", lambda *a: pytest.fail("a table text was searched"))
    for c in range(5):
        assert np.array_equal(env._search(env.vocab.lemmas[c]), plain._search(plain.vocab.lemmas[c]))


def test_ceiling_is_greedy_over_the_known_answers_and_resumes(tiny_world, concepts):
    from agents import make_agent_for_env

    env = make(tiny_world, concepts, budget=12)
    ceiling = make_agent_for_env("ceiling", env)
    gains = [int(env.relevant[a].sum()) for a in map(env.canonical.__getitem__,
                                                     (env._search(q.text) for q in ceiling.queries))]
    first = ceiling.act()
    assert int(env.relevant[env.canonical[env._search(first.text)]].sum()) == max(gains) > 0
    plan = [first] + [ceiling.act() for _ in range(4)]
    assert len({q.text for q in plan}) == 5  # a query already asked brings nothing new
    other = make_agent_for_env("ceiling", env)
    other.load_state_dict(ceiling.state_dict())
    assert other.act() == ceiling.act()
    ceiling.reset(1)  # the plan depends on the world only
    assert [ceiling.act() for _ in range(5)] == plan
