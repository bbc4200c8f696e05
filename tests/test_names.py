"""One meaning per name on the command line: options given there win over a preset even at their defaults, a preset
name means the same to every command, a former agent name gets its rename hint everywhere, and the demo never runs
an arm twice."""
from __future__ import annotations

import pytest

from ie_env.envs import presets as env_presets
from ie_env.run import cli, compare
from ie_env.run import presets as run_presets
from ie_env.run.compare import CompareConfig
from ie_env.run.preset_names import PresetError, preset_options, preset_table


class Built(Exception):
    """Raised by the stand-in env: carries the keyword arguments the command built it with."""


def capture_env(monkeypatch, module) -> None:
    def fake(**kwargs):
        raise Built(kwargs)

    monkeypatch.setattr(module, "InternetExplorerEnv", fake)


def demo_config(monkeypatch, *argv) -> CompareConfig:
    seen = []

    def stop(cfg):
        seen.append(cfg)
        raise Built(cfg)

    monkeypatch.setattr(cli, "compare_agents", stop)
    with pytest.raises(Built):
        cli.main(["demo", *argv])
    return seen[0]


def env_kwargs(cfg: CompareConfig, monkeypatch) -> dict:
    capture_env(monkeypatch, compare)
    with pytest.raises(Built) as built:
        compare.make_env(cfg)
    return built.value.args[0]


def run_kwargs(monkeypatch, *argv) -> dict:
    capture_env(monkeypatch, cli)
    with pytest.raises(Built) as built:
        cli.main(["run", *argv])
    return built.value.args[0]


def test_demo_budget_given_wins_over_the_preset_even_at_the_default(monkeypatch):
    default = run_presets.PRESETS["paper_cpu"]["env"]["budget"]  # the demo's preset
    assert env_kwargs(demo_config(monkeypatch), monkeypatch)["budget"] == default
    cfg = demo_config(monkeypatch, "--budget", str(CompareConfig.budget))  # equal to CompareConfig's default
    assert cfg.given == ("budget",) and env_kwargs(cfg, monkeypatch)["budget"] == CompareConfig.budget
    assert env_kwargs(demo_config(monkeypatch, "--budget", "48"), monkeypatch)["budget"] == 48


def test_compare_agents_options_given_win_over_the_preset_even_at_the_default(monkeypatch):
    import experiments.compare_agents as script

    seen = []

    def stop(cfg):
        seen.append(cfg)
        raise Built(cfg)

    monkeypatch.setattr(script, "compare_agents", stop)
    with pytest.raises(Built):
        script.main(["--mode", "full", "--preset", "head", "--budget", "1024", "--results-per-query", "20"])
    cfg = seen[0]
    assert set(cfg.given) == {"mode", "preset", "budget", "results_per_query"}
    kwargs = env_kwargs(cfg, monkeypatch)
    assert kwargs["budget"] == 1024 and kwargs["results_per_query"] == 20 and kwargs["learner"]["kind"] == "head"
    # a library caller without `given` keeps the rule of old: a default value is the preset's to set
    assert env_kwargs(CompareConfig(mode="full", preset="head"), monkeypatch)["budget"] == 192


def test_run_preset_takes_both_tables_and_given_options_win(monkeypatch):
    paper = run_kwargs(monkeypatch, "--preset", "paper", "--results-per-query", "20")  # 20 is EnvConfig's default
    assert paper["results_per_query"] == 20 and paper["image_size"] == 224 and paper["mode"] == "full"
    assert paper["learner"] == env_presets.PRESETS["paper"]["learner"] and "preset" not in paper
    head = run_kwargs(monkeypatch, "--preset", "head")
    assert head["mode"] == "full" and head["learner"]["kind"] == "head" and head["budget"] == 192
    mine = run_kwargs(monkeypatch, "--preset", "head", "--budget", "128", "--learner-option", "batch_size=64")
    assert mine["budget"] == 128 and mine["learner"]["batch_size"] == 64 and mine["learner"]["kind"] == "head"
    assert "learner" not in run_kwargs(monkeypatch)  # no preset: the env's own learner defaults


def test_a_preset_name_has_one_meaning_and_says_its_table(monkeypatch, capsys):
    assert not set(run_presets.PRESETS) & set(env_presets.PRESETS)
    assert preset_table("paper") == "ie_env.envs.presets"
    assert {preset_table(n) for n in ("cpu", "head", "paper_cpu")} == {"ie_env.run.presets"}
    with pytest.raises(PresetError, match="ie_env.run.presets.*ie_env.envs.presets"):
        preset_table("gpu")
    with pytest.raises(PresetError, match="full-mode schedule"):
        preset_options("head", mode="frozen")
    paper = env_kwargs(demo_config(monkeypatch, "--preset", "paper"), monkeypatch)  # the demo takes both tables
    assert paper["image_size"] == 224 and paper["learner"]["backbone"] == "resnet50"
    for argv in (["run", "--preset", "gpu"], ["demo", "--preset", "gpu"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "unknown preset 'gpu'" in err[0] and "ie_env.envs.presets" in err[0]


@pytest.mark.parametrize("argv", [["run", "--agent", "oracle"], ["live", "--agent", "oracle"],
                                  ["demo", "--agents", "oracle,random"]])
def test_oracle_gets_the_rename_hint_on_every_command(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "now 'relevant_concepts'" in err[0]


def test_oracle_gets_the_rename_hint_in_compare_agents(capsys):
    import experiments.compare_agents as script

    with pytest.raises(SystemExit):
        script.main(["--agents", "random,oracle"])
    assert "now 'relevant_concepts'" in capsys.readouterr().err


def test_demo_never_runs_an_arm_twice(monkeypatch):
    assert cli.demo_agents("random,gp") == ("random,gp", "gp")
    assert cli.demo_agents("gp_ucb") == ("gp_ucb,random", "gp_ucb")
    assert cli.demo_agents("random") == ("random", None)
    with pytest.raises(ValueError, match="named twice"):
        CompareConfig(agents="gp,random,gp")
    assert demo_config(monkeypatch, "--agents", "random,gp").agents == "random,gp"
    sentences = []
    monkeypatch.setattr(cli, "compare_agents", lambda cfg: {})
    for name in ("print_summary", "demo_table", "write_report"):
        monkeypatch.setattr(cli, name, lambda *a, **k: "page")
    monkeypatch.setattr(cli, "ordering_sentence", lambda summary, metric, agent: sentences.append(agent) or "")
    assert cli.main(["demo", "--agents", "random,gp"]) == 0
    assert sentences == ["gp"] * 3  # relevant images, kNN, probe: gp against the others, never random against itself
