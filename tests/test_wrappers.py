import numpy as np

from agents import make_agent
from agents.base import AgentContext
from agents.candidates import CandidateConfig, CandidateSetWrapper
from ie_env.data.text_embedding import concept_embeddings
from tests.test_env import make


def test_candidate_set_wrapper_passes_checks(tiny_world, concepts):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = CandidateSetWrapper(make(tiny_world, concepts), config=CandidateConfig(k=6, embedding_dim=4))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6, 7) and env.action_space.n == 6
    assert len(set(env.cands.candidates.tolist())) == 6
    check_env(env, skip_render_check=True)
    sb3_check(env)


def test_ppo_agent_trains_and_acts(tiny_world, concepts):
    env = make(tiny_world, concepts, budget=8, descriptors=("baby", "red"))  # the wrapper queries plain concepts
    ctx = AgentContext(vocab=env.vocab, concept_embeddings=np.asarray(concept_embeddings(env.vocab)))
    agent = make_agent("ppo", ctx, env=env, train_steps=64, k=4, refit_every=4)
    env.reset(seed=1)
    agent.reset(1)
    for _ in range(8):
        q = agent.act()
        assert 0 <= q.concept < len(env.vocab) and q.text == env.vocab.lemmas[q.concept]
        _, r, _, _, _ = env.step((q.concept, 0))
        agent.observe(q, r)


def test_a_repeated_query_earns_nothing_unless_the_env_reward_is_asked_for(tiny_world, concepts):
    rewards = {}
    for signal in ("new_reward", "reward", "new_excess"):
        env = CandidateSetWrapper(make(tiny_world, concepts), config=CandidateConfig(k=6, embedding_dim=4,
                                                                                     reward=signal))
        env.reset(seed=0)
        first = int(env.cands.candidates[0])
        r1 = env.step(0)[1]
        env.cands.candidates[0] = first  # propose the same concept again
        rewards[signal] = (r1, env.step(0)[1])
    assert rewards["new_reward"][0] > 0 and rewards["new_reward"][1] == 0.0
    assert rewards["new_excess"] == (0.0, 0.0)  # the first iteration earns nothing: it sets the baseline
    assert rewards["reward"][1] == rewards["reward"][0] > 0


def test_candidates_are_the_best_unqueried_by_score_then_random_ones(tiny_world, concepts):
    env = CandidateSetWrapper(make(tiny_world, concepts, budget=64, queries_per_iteration=8),
                              config=CandidateConfig(k=6, embedding_dim=4))
    env.reset(seed=0)
    for _ in range(8):  # one iteration: the posterior is refit at its end
        env.step(0)
    cands = env.cands
    assert len(cands.observed) == 8 and cands.posterior.n_observations == 8
    best = [int(c) for c in cands.order[:3]]
    assert set(best) <= set(cands.candidates.tolist())
    assert np.all(np.diff(cands.score[cands.candidates]) <= 0)  # best score first
    for _ in range(3):  # the first row is taken: it is not proposed again before the next refit
        taken = int(cands.candidates[0])
        env.step(0)
        assert taken not in cands.candidates[:3].tolist()
    assert set(best).isdisjoint(cands.candidates[:3].tolist())
    assert [int(c) for c in cands.order[3:6]] == cands.candidates[:3].tolist()
    feats = env.cands.features()
    assert feats.shape == (6, 7) and np.all(feats[:, 5] <= 1.0) and np.all(feats[:, 6] >= 0)


def test_new_excess_pays_each_new_image_its_reward_above_the_first_iterations_median(tiny_world, concepts):
    env = CandidateSetWrapper(make(tiny_world, concepts, budget=8, queries_per_iteration=4),
                              config=CandidateConfig(k=6, embedding_dim=4))
    env.reset(seed=0)
    seen = []
    for _ in range(4):
        _, r, _, _, info = env.step(0)
        seen += info["image_rewards"]
        assert r == 0.0
    assert env.baseline == np.median(seen)
    _, r, _, _, info = env.step(5)
    assert np.isclose(r, sum(x - env.baseline for x in info["new_image_rewards"]))
