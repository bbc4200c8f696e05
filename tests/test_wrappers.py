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
    for signal in ("new_reward", "reward"):
        env = CandidateSetWrapper(make(tiny_world, concepts), config=CandidateConfig(k=6, embedding_dim=4,
                                                                                     reward=signal))
        env.reset(seed=0)
        first = int(env.cands.candidates[0])
        r1 = env.step(0)[1]
        slot = int(np.flatnonzero(env.cands.candidates == first)[0])  # the top candidates stay until a refit
        rewards[signal] = (r1, env.step(slot)[1])
    assert rewards["new_reward"][0] > 0 and rewards["new_reward"][1] == 0.0
    assert rewards["reward"][1] == rewards["reward"][0] > 0
