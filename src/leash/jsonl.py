"""Reading JSON Lines with errors that name the file and line (plain or gzip-compressed)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from leash.errors import LeashError

__all__ = ["read_jsonl", "require_file"]


def require_file(path: str | Path, what: str = "file") -> Path:
    """The path, if it is a readable, non-empty file; a LeashError otherwise."""
    p = Path(path)
    if not p.exists():
        raise LeashError(f"{what} {p} does not exist; check the path")
    if not p.is_file():
        raise LeashError(f"{what} {p} is not a file")
    if p.stat().st_size == 0:
        raise LeashError(f"{what} {p} is empty; nothing to read")
    return p


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; one clear error per bad line."""
    p = require_file(path)
    try:
        with _open(p) as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise LeashError(
                        f"{p}:{line_no}: invalid JSON ({err.msg} at column {err.colno})"
                    ) from err
                if not isinstance(row, dict):
                    raise LeashError(f"{p}:{line_no}: expected a JSON object, got {type(row).__name__}")
                yield line_no, row
    except UnicodeDecodeError as err:
        raise LeashError(f"{p}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    except (OSError, EOFError) as err:
        raise LeashError(f"{p}: cannot read ({err})") from err
