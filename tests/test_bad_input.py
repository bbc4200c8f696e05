"""Bad user input gets a one-line error that names the problem and the fix (exit status 2 on the command line)."""
from __future__ import annotations

import pytest

from ie_env.run.cli import main


@pytest.fixture
def places(tmp_path, tiny_world):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    for split in ("train", "test"):
        (tmp_path / "corrupt" / split / "cat").mkdir(parents=True)
        (tmp_path / "corrupt" / split / "cat" / "x.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "config.json").write_text('{"command": "run"}')
    return {"EMPTY": str(tmp_path / "empty"), "FILE": str(tmp_path / "a-file"), "CORRUPT": str(tmp_path / "corrupt"),
            "MISSING": str(tmp_path / "missing"), "DONE": str(tmp_path / "done"), "WORLD": str(tiny_world.path)}


TINY = ["--world", "WORLD", "--target", "tiny-imagenet:dog.n.01", "--frozen-encoder", "resnet18",
        "--vocabulary-under", "dog.n.01", "--env-option", "reward_targets=40"]

CASES = [
    # (argv, words the one-line message must contain)
    (["run", "--budget", "-5"], ["--budget -5", "positive integer"]),
    (["run", "--queries-per-iteration", "0"], ["--queries-per-iteration 0", "positive integer"]),
    (["run", "--results-per-query", "0"], ["--results-per-query 0"]),
    (["run", "--agent", "bogus"], ["unknown agent 'bogus'", "gp"]),
    (["live", "--engine", "bogus"], ["unknown search engine 'bogus'", "openverse"]),
    (["run", "--engine", "bogus"], ["unknown search engine 'bogus'", "tinyweb"]),
    (["run", "--vocabulary-under", "nothing.n.99", *TINY[:6]], ["unknown synset 'nothing.n.99'", "dog.n.01"]),
    (["target", "tiny-imagenet:nothing.n.99"], ["unknown synset", "dog.n.01"]),
    (["target", "bogus"], ["unknown target 'bogus'", "cifar10"]),
    (["target", "folder:EMPTY"], ["no class sub-folders", "root/<class>/<image>"]),
    (["target", "folder:MISSING"], ["does not exist", "root/<class>/<image>"]),
    (["target", "folder:FILE"], ["not a directory"]),
    (["target", "folder:CORRUPT"], ["no readable images"]),
    (["target", "folder:"], ["needs a path"]),
    (["target", "cifar10", "--image-size", "2"], ["too small", "32"]),
    (["run", *TINY, "--image-size", "4"], ["image_size=4", "between 8 and 512"]),
    (["run", *TINY, "--env-option", "reward_k=500"], ["reward_k=500", "reward_targets=40", "lower reward_k"]),
    (["run", *TINY, "--env-option", "nonsense=1"], ["unknown option", "nonsense"]),
    (["run", *TINY, "--frozen-encoder", "bogus"], ["unknown frozen encoder 'bogus'", "efficientnet_lite0"]),
    (["run", *TINY, "--agent-option", "bogus=1"], ["unknown option 'bogus'", "refit_every"]),
    (["run", *TINY, "--agent-option", "refit_every=0"], ["refit_every must be >= 1"]),
    (["run", *TINY, "--agent", "gp_label_set", "--agent-option", "label_set_size=0"], ["leaves no candidate"]),
    (["run", *TINY, "--agent-option", "signal"], ["not KEY=VALUE"]),
    (["live", "--engine", "replay"], ["snapshot"]),
    (["live", "--engine", "openverse", "--engine-option", "bogus=1"], ["bogus", "valid options"]),
    (["run", "--resume", "EMPTY"], ["not a run folder", "--out"]),
    (["run", "--out", "DONE"], ["holds a run already", "--resume"]),
    (["run", "--world", "MISSING", "--vocabulary-under", "dog.n.01"], ["MISSING"]),
    (["search", "   ", "--world", "WORLD"], ["empty query"]),
    (["demo", "--budget", "0"], ["budget=0", "positive"]),
    (["build-world", "x/y", "--noise", "2"], ["noise=2", "[0, 1]"]),
]


@pytest.mark.parametrize("argv,words", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_a_one_line_error(argv, words, places, capsys):
    argv = [places.get(a, a) for a in argv]
    argv = [("folder:" + places[a[7:]]) if a.startswith("folder:") and a[7:] in places else a for a in argv]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()  # progress bars of first-time caches may come first
    err = lines[-1]
    assert err.startswith(f"ie-explore {argv[0]}: error: ") and sum("error:" in x for x in lines) == 1, lines
    for w in [places.get(w, w) for w in words]:
        assert w in err, err


def test_bad_input_vocabulary_filter_that_leaves_nothing(tiny_world, concepts):
    from ie_env.envs.env import InternetExplorerEnv

    with pytest.raises(ValueError, match="leaves no concept") as e:
        InternetExplorerEnv(world=str(tiny_world.path), target="tiny-imagenet:dog.n.01", frozen_encoder="resnet18",
                            concepts=concepts, vocabulary_under=("planet.n.01",))
    assert "\n" not in str(e.value)


def test_bad_input_checkpoint_with_code_is_refused(tmp_path):
    """A checkpoint that would run code on load (a pickled object) is refused, not executed."""
    import torch

    from ie_env.run.runner import load_checkpoint

    torch.save({"format": 1, "payload": Exploit(tmp_path / "pwned")}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="not a readable checkpoint") as e:
        load_checkpoint(tmp_path)
    assert not (tmp_path / "pwned").exists() and "\n" not in str(e.value)


class Exploit:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (type(self.path).touch, (self.path,))
