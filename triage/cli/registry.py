"""The typer app every command module registers its commands on, and the settings it is built with."""

from __future__ import annotations

from typing import Any

import typer

SETTINGS: dict[str, Any] = {
    "name": "triage",
    "help": "Triage failed AI-agent runs: import transcripts, explain and cluster failures, label them, "
    "and report adjusted capability estimates.",
    "no_args_is_help": True,
    "add_completion": False,
    "rich_markup_mode": "rich",
    "pretty_exceptions_enable": False,
}
app = typer.Typer(**SETTINGS)
