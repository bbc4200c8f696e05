"""experiments/first_run.py: the steps of make demo cut from its timestamped output."""
from experiments.first_run import STEPS, steps_from_log

LOG = [
    (0.0, "test -x .venv/bin/python || python3 -m venv .venv"),
    (80.0, ".venv/bin/ie-explore fetch-data > /dev/null  # the photos"),
    (84.0, ".venv/bin/ie-explore build-world tinyweb --prepare > /dev/null"),
    (90.0, "building the world tinyweb from 100,000 photos: alt text, storing, then the captions' embeddings"),
    (130.0, "first run: embedding 99,759 texts (the world's captions, which its search engine ranks) with ..."),
    (480.0, "first run: embedding 119,034 texts (the vocabulary's lemmas, so the search engine looks up ...)"),
    (620.0, "answer table:   2%|| 1/59"),
    (621.0, "answering the 119,034 query texts of lemmas-x over the 99,759 captions of tinyweb once (about 1 min"),
    (680.0, "first run: embedding 146,347 texts (the concept descriptions, over which the GP agents' kernel runs)"),
    (1130.0, "world ready for episodes (1046 s; frozen mode's image features are built on its first use)"),
    (1131.0, ".venv/bin/ie-explore demo"),
    (1140.0, "preset paper_cpu: ..."),
    (1150.0, "episodes:   0%|          | 0/1536 [00:00<?, ?query/s]"),
    (1300.0, "episodes:  10%|#         | 160/1536 [02:30<?, ?query/s, agent=gp, seed=0]"),
]


def test_first_run_cuts_make_demo_into_its_steps():
    steps = dict(steps_from_log(LOG, end=2400.0))
    assert list(steps) == [name for name, _ in STEPS]
    assert steps["install (venv, pip install -e '.[test]')"] == 80.0
    assert steps["the world (photos stored, alt text)"] == 130.0 - 84.0
    assert steps["the world's captions embedded (fp32)"] == 350.0
    assert steps["the lemma table (fp32)"] == 141.0 and steps["the answer table"] == 59.0
    assert steps["the concept texts"] == 450.0
    assert steps["until the first episode's progress bar"] == 19.0
    assert steps["the demo's episodes and report"] == 2400.0 - 1150.0
    assert sum(steps.values()) == 2400.0


def test_first_run_merges_a_step_whose_closing_line_is_missing():
    log = [line for line in LOG if "answering the" not in line[1]]  # e.g. the answer table was cached
    steps = dict(steps_from_log(log, end=2400.0))
    assert steps["the lemma table (fp32) + the answer table"] == 200.0
    assert sum(steps.values()) == 2400.0
