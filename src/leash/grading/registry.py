"""The verifier registry: a name -> a class with `grade(items) -> verdicts`."""

from __future__ import annotations

from typing import Any, Protocol

from leash.errors import LeashError
from leash.grading.verdict import GradeItem, Verdict

__all__ = ["VERIFIERS", "Verifier", "get_verifier", "register_verifier"]


class Verifier(Protocol):
    name: str

    def grade(self, items: list[GradeItem]) -> list[Verdict]:
        """One verdict per item, in order; never raises on model text."""
        ...

    def close(self) -> None: ...


VERIFIERS: dict[str, type[Any]] = {}


def register_verifier(name: str, cls: type[Any]) -> None:
    """Register a verifier class `(workers, timeout, **options)`; a name can be registered once."""
    if name in VERIFIERS:
        raise ValueError(f"verifier {name!r} is already registered")
    VERIFIERS[name] = cls


def get_verifier(name: str, workers: int = 2, timeout: float = 10.0, **options: Any) -> Verifier:
    if name not in VERIFIERS:
        raise LeashError(f"unknown verifier {name!r}; choose one of: {', '.join(sorted(VERIFIERS))}")
    verifier: Verifier = VERIFIERS[name](workers=workers, timeout=timeout, **options)
    return verifier
