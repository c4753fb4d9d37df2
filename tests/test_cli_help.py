"""Every CLI command and subcommand has help text, and `triage --help` lists every command.

The commands are discovered by walking the click command tree typer builds, so a new command is
covered the moment it is registered.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from triage.cli import app

ROOT_COMMAND = typer.main.get_command(app)
WIDE = {"COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}


def _walk(command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    # Duck-typed: recent typer versions vendor click, so its classes are not click's.
    found = [(path, command)]
    if isinstance(getattr(command, "commands", None), dict):
        for name in sorted(command.commands):
            found.extend(_walk(command.commands[name], (*path, name)))
    return found


COMMANDS = [(path, cmd) for path, cmd in _walk(ROOT_COMMAND) if path]
IDS = [" ".join(path) for path, _ in COMMANDS]


def test_the_tree_has_the_foundation_commands():
    top = set(ROOT_COMMAND.commands)  # type: ignore[attr-defined]
    assert {"init", "info", "demo"} <= top
    assert len(COMMANDS) >= len(top), "the walk found fewer commands than the top level has"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_command_has_help_text(path, command):
    text = (command.help or command.short_help or "").strip()
    assert text, f"`triage {' '.join(path)}` has no help text (give the function a docstring or help=)"
    for param in command.params:
        if param.param_type_name == "option" and not getattr(param, "hidden", False) and "--help" not in param.opts:
            assert (param.help or "").strip(), f"`triage {' '.join(path)}`: option {param.opts[0]} has no help text"


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=IDS)
def test_help_option_works(path):
    result = CliRunner().invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    summary = (dict(COMMANDS)[path].help or "").strip().splitlines()[0]
    # The first words of the docstring appear in the rendered help.
    assert " ".join(summary.split()[:3]) in " ".join(result.output.split())


def test_top_level_help_lists_every_command():
    """The real console entry point, as a user runs it."""
    env = {**os.environ, **WIDE}
    out = subprocess.run(
        [sys.executable, "-m", "triage", "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    listed = out.stdout
    for name, command in ROOT_COMMAND.commands.items():  # type: ignore[attr-defined]
        if command.hidden:
            continue
        # A command row starts with its name (after the panel border when help is rendered by rich).
        row = re.compile(rf"^[\s│|]*{re.escape(name)}(\s|$)")
        assert any(row.match(line) for line in listed.splitlines()), f"`triage --help` does not list {name!r}"


def test_no_arguments_shows_help():
    result = CliRunner().invoke(app, [], env=WIDE)
    assert "Usage:" in result.output
    assert "init" in result.output


TOP_NAMES = sorted(ROOT_COMMAND.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", TOP_NAMES)
def test_the_entry_point_builds_only_the_command_asked_for(name):
    """`triage NAME ...` runs through a group of that command alone; its help reads as the whole app's."""
    from triage.cli import command_app

    single = typer.main.get_command(command_app([name, "--flag"]))
    assert list(single.commands) == [name]  # type: ignore[attr-defined]
    whole = CliRunner().invoke(app, [name, "--help"], env=WIDE)
    alone = CliRunner().invoke(command_app([name]), [name, "--help"], env=WIDE)
    assert alone.exit_code == whole.exit_code == 0
    assert alone.output == whole.output


def test_the_entry_point_keeps_the_whole_app_for_anything_else():
    from triage.cli import command_app

    for argv in ([], ["--help"], ["no-such-command"], ["-x"]):
        assert command_app(argv) is app
    env = {**os.environ, **WIDE}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        argv_ = [sys.executable, "-m", "triage", *argv]
        return subprocess.run(argv_, capture_output=True, text=True, env=env, timeout=60)

    out = run("no-such-command")
    assert out.returncode == 2 and "No such command" in out.stderr
    out = run("info", "--no-such-option")
    assert out.returncode == 2 and "No such option" in out.stderr and "triage info" in out.stderr


def test_the_module_table_names_every_command_with_its_own_module():
    """`triage NAME` imports only MODULES' module for NAME: the table must match what the modules register."""
    from triage.cli import MODULES

    registered = {}
    for info in app.registered_commands:
        registered[info.name or typer.main.get_command_name(info.callback.__name__)] = info.callback.__module__
    for group in app.registered_groups:
        registered[group.name] = group.typer_instance.registered_commands[0].callback.__module__
    table = {name: f"triage.cli.{module}" for module, names in MODULES.items() for name in names}
    assert table == registered


def test_a_command_loads_its_own_module_only():
    code = (
        "import sys\nfrom triage.cli import command_app\ncommand_app(['info'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('triage.cli.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["['triage.cli.common',", "'triage.cli.registry',", "'triage.cli.workspace']"]


def test_help_lists_commands_in_the_order_of_the_module_table():
    from triage.cli import MODULES

    order = [name for names in MODULES.values() for name in names]
    listed = [info.name or typer.main.get_command_name(info.callback.__name__) for info in app.registered_commands]
    groups = {group.name for group in app.registered_groups}  # typer lists groups after the commands
    assert listed == [name for name in order if name not in groups]
