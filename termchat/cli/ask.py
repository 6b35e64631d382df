"""Placeholder: filled in by the layer that owns it."""

import typer


def register(app: typer.Typer) -> None:
    pass
