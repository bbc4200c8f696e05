"""The README is a manual that matches the code: every ``ie-explore`` command, script and ``--flag`` it names exists,
the defaults it shows are the code's, the paths, links and preset names it gives are real, and it stays short (the
measurements live in docs/results.md, the design in docs/architecture.md)."""
from __future__ import annotations

import argparse
import functools
import importlib
import re
from pathlib import Path
from unittest import mock

import pytest

from ie_env.run.cli import DEMO_SECTION, build_parser

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ("docs/results.md", "docs/architecture.md")
MAX_LINES = 400
EXTERNAL = ("torchrun", "ray", "pip", "apt-get", "sudo", "git", "pytest", "curl", "wget", "tar", "unzip", "sha256sum")
"""Other programs: their own flags are not checked (a project command they launch still is)."""
FLAG = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")


def text_of(path: Path) -> str:
    return re.sub(r"<!--.*?-->", "", path.read_text(), flags=re.S)  # placeholders for sections to come


@functools.cache
def readme() -> str:
    return text_of(README)


def fenced_blocks(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)


def outside_fences(text: str) -> str:
    return re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)


def code_lines(text: str) -> list[str]:
    """The lines of fenced and indented code blocks (continuation backslashes joined), comments removed."""
    lines = [line for block in fenced_blocks(text) for line in block.replace("\\\n", " ").splitlines()]
    lines += [line for line in outside_fences(text).splitlines() if re.match(r" {4,}\S", line)]
    return [re.sub(r"\s#.*$", "", line).strip() for line in lines if line.strip()]


def inline_spans(text: str) -> list[str]:
    """Inline code spans outside fenced blocks (a span may wrap over a line break)."""
    prose = outside_fences(text)
    assert prose.count("`") % 2 == 0, "an unmatched backtick in the README"
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]


def table_rows(text: str) -> list[tuple[list[str], list[str]]]:
    """(header cells, row cells) of every row of every Markdown table (``\\|`` is a literal bar)."""
    rows, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if header is None:
            header = cells
        elif not all(set(c) <= set("-: ") for c in cells):
            rows.append((header, cells))
    return rows


# --- what the code offers ----------------------------------------------------------------------------------------

@functools.cache
def subcommands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


class _Parsed(Exception):
    """Raised instead of parsing: the script's parser is built and caught."""


@functools.cache
def script_parser(path: str) -> argparse.ArgumentParser:
    """The argparse parser an ``experiments/<name>.py`` script builds in ``main`` (caught before it parses)."""
    assert (ROOT / path).is_file(), f"the README names {path}, which does not exist"
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    caught = []

    def catch(parser, *args, **kwargs):
        caught.append(parser)
        raise _Parsed

    with mock.patch.object(argparse.ArgumentParser, "parse_args", catch), pytest.raises(_Parsed):
        module.main([])
    return caught[0]


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


def program_parser(program: str) -> argparse.ArgumentParser:
    if program.startswith("experiments/"):
        return script_parser(program)
    command = program.removeprefix("ie-explore ")
    assert command in subcommands(), f"the README names 'ie-explore {command}', which is no command"
    return subcommands()[command]


def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))


# --- what the README names ---------------------------------------------------------------------------------------

def invocations(line: str) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """The programs a line of code runs, each with the flags written after it, and the flags written before the
    first program: ``ie-explore <command>`` (also ``-m ie_env.run.cli <command>``), ``experiments/<name>.py``,
    ``make <target>``."""
    tokens = line.split()
    found: list[tuple[str, list[str]]] = []
    before: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in ("ie-explore", "ie_env.run.cli") and re.fullmatch(r"[a-z][\w-]*", nxt):
            found.append((f"ie-explore {nxt}", []))
            i += 2
            continue
        if re.fullmatch(r"experiments/\w+\.py", tok):
            found.append((tok, []))
        elif tok == "make" and re.fullmatch(r"[a-z][\w-]*", nxt):
            found.append((f"make {nxt}", []))
            i += 2
            continue
        elif tok in ("/", "|", "&&", ";"):
            found.append(("", []))  # the flags that follow belong to no program
        else:
            for flag in FLAG.findall(tok):
                (found[-1][1] if found else before).append(flag)
        i += 1
    return [f for f in found if f[0]], before


def named_programs() -> list[tuple[str, list[str], str]]:
    """Every (program, flags after it, where) in the README's code: code blocks and inline spans."""
    out = []
    for where, lines in (("code block", code_lines(readme())), ("inline code", inline_spans(readme()))):
        for line in lines:
            programs, before = invocations(line)
            out += [(program, flags, line) for program, flags in programs]
            if before and line.split()[0] not in EXTERNAL:
                out.append(("", before, line))  # flags named alone: some command must have them
    return out


def all_flags() -> set[str]:
    parsers = list(subcommands().values())
    parsers += [script_parser(p) for p, _, _ in named_programs() if p.startswith("experiments/")]
    return {flag for parser in parsers for flag in options(parser)}


def shown_default(shown: str, default) -> bool:
    """Whether a default written in the README (``0.1``, ``gp,random``, off, none) is the code's."""
    if shown in ("off", "none"):
        return default in (False, None, "", [], 0)
    if isinstance(default, bool) or default is None:
        return False
    if isinstance(default, (int, float)):
        try:
            return float(shown) == float(default)
        except ValueError:
            return False
    return shown == str(default)


def is_placeholder(value: str) -> bool:
    return bool(re.search(r"[A-Z]", value)) and value == value.upper()  # N, DIR, LEMMA, AGENT:KEY=VALUE


# --- the tests ---------------------------------------------------------------------------------------------------

def test_readme_is_short_and_its_docs_exist():
    assert len(README.read_text().splitlines()) <= MAX_LINES
    for doc in DOCS:
        assert (ROOT / doc).is_file() and doc in README.read_text()
    for path in (README, *(ROOT / d for d in DOCS)):  # the design brief is not in the repository: cite the doc
        assert "DESIGN.md" not in path.read_text(), path


def test_readme_commands_scripts_and_make_targets_exist():
    programs = named_programs()
    assert {"ie-explore demo", "ie-explore run", "make demo", "make test"} <= {p for p, _, _ in programs}
    for program, _, line in programs:
        if program.startswith("make "):
            assert program.removeprefix("make ") in make_targets(), line
        elif program:
            program_parser(program)


def test_readme_flags_exist_where_it_uses_them():
    known = all_flags()
    for program, flags, line in named_programs():
        if program.startswith("make "):
            continue
        offered = options(program_parser(program)) if program else known
        missing = [f for f in flags if f not in offered]
        assert not missing, f"{program or 'no command'} has no {missing}: {line!r}"


def test_readme_command_table_shows_the_code_defaults():
    checked = 0
    for header, cells in table_rows(readme()):
        if header[0] != "command":
            continue
        for span in re.findall(r"`([^`]+)`", cells[0]):
            programs, _ = invocations(span)
            if not programs:
                continue
            parser = program_parser(programs[0][0])
            for flag, value in re.findall(r"\[(--[\w-]+)(?: ([^\]]+))?\]", span):
                assert flag in options(parser), (flag, span)
                if value and not is_placeholder(value):
                    default = options(parser)[flag].default
                    assert shown_default(value, default), f"{span}: {flag} shows {value}, the code has {default!r}"
                    checked += 1
    assert checked >= 10


def test_readme_option_tables_show_the_code_defaults():
    tables = 0
    for header, cells in table_rows(readme()):
        match = re.fullmatch(r"`((?:ie-explore [\w-]+)|(?:experiments/\w+\.py))` option", header[0])
        if not match:
            continue
        tables += 1
        parser = program_parser(match.group(1))
        shown = cells[1].strip()
        literal = re.fullmatch(r"`([^`]*)`", shown)
        for flag in FLAG.findall(cells[0]):
            assert flag in options(parser), f"{match.group(1)} has no {flag}"
            default = options(parser)[flag].default
            if literal or shown in ("off", "none"):
                value = literal.group(1) if literal else shown
                assert shown_default(value, default), f"{match.group(1)} {flag}: README {shown}, code {default!r}"
    assert tables >= 2


def test_readme_paths_links_and_layout_exist():
    for span in inline_spans(readme()):
        if re.fullmatch(r"(ie_env|agents|offline_cache|experiments|tests|docs)/[\w./-]*", span):
            assert (ROOT / span).exists(), span
    layout = readme().split("## Layout", 1)[1].split("\n## ", 1)[0]
    for bullet in re.split(r"\n- ", layout)[1:]:
        folder = re.match(r"`([\w/]+/)`", bullet)
        if not folder:
            continue
        for name in re.findall(r"`([\w.]+(?:\.py|\.md|/))`", bullet[folder.end():]):
            assert (ROOT / folder.group(1) / name).exists(), folder.group(1) + name
    for path in (README, *(ROOT / d for d in DOCS)):
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", text_of(path)):
            if target.startswith("http"):
                continue
            linked = (path.parent / target).resolve() if target else path
            assert linked.is_file(), f"{path.name} links to {target}"
            if anchor:
                slugs = {heading_slug(h) for h in re.findall(r"^#+ (.+)$", text_of(linked), flags=re.M)}
                assert anchor in slugs, f"{path.name} links to {target}#{anchor}, no such heading"


def heading_slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readme_has_the_section_the_demo_points_to():
    assert f"## {DEMO_SECTION}\n" in readme()
    import inspect

    from ie_env.run import cli

    assert "DEMO_SECTION" in inspect.getsource(cli.cmd_demo)


def test_readme_presets_table_is_the_lookup():
    from ie_env.envs.presets import PRESETS as ENV
    from ie_env.run.preset_names import preset_table
    from ie_env.run.presets import PRESETS as RUN

    shown = {}
    for header, cells in table_rows(readme()):
        if header[:2] == ["preset", "table"]:
            shown[cells[0].strip("`")] = cells[1].strip("`")
    assert set(shown) == set(RUN) | set(ENV)
    for name, table in shown.items():
        assert preset_table(name) == table.removesuffix(".py").replace("/", "."), name


def test_readme_env_info_keys_are_the_envs():
    from ie_env.envs.env import InternetExplorerEnv

    documented = InternetExplorerEnv.__doc__.split("## Info", 1)[1].split("##", 1)[0]
    rows = [cells for header, cells in table_rows(readme()) if cells[0] == "info"]
    assert len(rows) == 1
    keys = re.findall(r"`(\w+)`", rows[0][1])
    assert len(keys) >= 15 and all(f"``{k}``" in documented for k in keys), keys


def test_readme_help_works_on_every_command_it_names():
    """The README sends readers to ``--help``: it prints on every command and script it names (argparse reads a
    ``%`` in a field's docstring as a format)."""
    for program in {p for p, _, _ in named_programs() if p and not p.startswith("make ")} | {
            f"ie-explore {c}" for c in subcommands()}:
        assert "usage:" in program_parser(program).format_help(), program


def test_readme_check_fails_on_a_flag_that_does_not_exist():
    """The checks are real: a README naming a flag the code lacks, or a wrong default, fails them."""
    programs, _ = invocations("ie-explore search --world tinyweb --nope 3 tabby")
    assert programs == [("ie-explore search", ["--world", "--nope"])]
    assert "--nope" not in options(program_parser("ie-explore search"))
    assert not shown_default("100", options(program_parser("ie-explore search"))["--n"].default)
    assert not shown_default("tinyweb", options(program_parser("ie-explore target"))["--world"].default)
    assert invocations("torchrun --standalone -m ie_env.run.cli run --preset paper") == (
        [("ie-explore run", ["--preset"])], ["--standalone"])
    assert "ray" in EXTERNAL and "ie-explore" not in EXTERNAL
