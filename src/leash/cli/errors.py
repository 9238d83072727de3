"""Turn a user's mistake (LeashError) into one line on stderr and exit code 2."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from leash.errors import LeashError

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LeashError as err:
            typer.echo(f"leash: error: {err}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
