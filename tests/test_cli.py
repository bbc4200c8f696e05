import json
import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "ie_env.run.cli", *args], capture_output=True, text=True, timeout=120)


def test_vocab_json_last_line():
    out = run("vocab", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["concepts"] == 146_347 and data["synsets"] == 82_115


def test_errors_are_one_line():
    out = run("target", "imagenet")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "unknown target" in out.stderr
