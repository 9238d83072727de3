"""`leash serve RUN [RUN ...]`: a local web page over graded runs (the first is the base).

    make_app(runs)                       the ASGI app (Starlette): pages + JSON API over DuckDB
    serve(runs, host, port, token)       run it with uvicorn; a host other than loopback needs a token

Pages: the overview (headline numbers, pass@k curves, the problems by region with filters,
sorting and server-side pages) and a problem page (answers per run, the correct answers the base
found and the tuned model lost, completions as escaped text, labels by keystroke). Labels go to
each run's labels.parquet at once and `leash compare` honours them (docs/serve.md).
Starlette and uvicorn (`leash[serve]`) are imported only here, when a server is made.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from leash.errors import LeashError

__all__ = ["LOOPBACK", "make_app", "serve"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_app(
    runs: list[str | Path], *, token: str | None = None, grader: str | None = None, intersect: bool = False,
    allowed_hosts: list[str] | None = None,
) -> Any:  # fmt: skip
    """The app over `runs` (runs[0] the base); with `token`, every request must carry it."""
    try:
        import starlette  # noqa: F401
    except ImportError:
        raise LeashError("leash serve needs Starlette and uvicorn: pip install 'leash[serve]'") from None
    from leash.browse.app import build_app
    from leash.browse.queries import open_browser

    browser = open_browser(runs, grader=grader, intersect=intersect)
    return build_app(browser, token=token, allowed_hosts=allowed_hosts)


def check_host(host: str, token: str | None) -> None:
    """A server reachable from other machines must ask for a token."""
    if not _is_loopback(host) and not token:
        raise LeashError(
            f"--host {host} lets other machines in: pass --token SECRET too (every request must carry it), "
            "or keep the default --host 127.0.0.1"
        )


def serve(
    runs: list[str | Path], host: str = "127.0.0.1", port: int = 7860, token: str | None = None, *,
    grader: str | None = None, intersect: bool = False, on_ready: Any = None,
) -> None:  # fmt: skip
    """Serve the browser until interrupted; `on_ready(url)` is called once the runs are open."""
    check_host(host, token)
    if not 1 <= port <= 65535:
        raise LeashError(f"--port {port}: give a port between 1 and 65535")
    try:
        import uvicorn
    except ImportError:
        raise LeashError("leash serve needs Starlette and uvicorn: pip install 'leash[serve]'") from None
    # Loopback: only these Host headers (a page elsewhere cannot rebind its name to us).
    hosts = [*LOOPBACK, "[::1]"] if _is_loopback(host) else ["*"]
    app = make_app(runs, token=token, grader=grader, intersect=intersect, allowed_hosts=hosts)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    if on_ready is not None:
        on_ready(url)
    uvicorn.run(app, host=host, port=port, log_level="warning")
