"""The HTTP face of the browser: a Starlette app over `queries`.

Every response carries a Content-Security-Policy that lets only this server's own scripts, styles
and API run or load (model output is hostile HTML; the pages also render it with textContent).
With a token, every request must carry it (`?token=`, which sets a cookie, or the cookie, or
`Authorization: Bearer`); the Host header must name this server (no DNS rebinding); a POST must
be JSON from this origin (no cross-site form can label).
"""

from __future__ import annotations

import hmac
from importlib import resources
from typing import Any

from leash.browse import queries
from leash.browse.queries import BadRequest, Browser, NotFound
from leash.errors import LeashError

__all__ = ["CSP", "build_app"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
COOKIE = "leash_token"


def _static_dir() -> str:
    return str(resources.files("leash.browse") / "static")


def build_app(browser: Browser, token: str | None = None, allowed_hosts: list[str] | None = None) -> Any:
    """The ASGI app serving the pages (/, /problem) and the JSON API (/api/...)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    static = _static_dir()

    def api(handler: Any) -> Any:
        def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(handler(request))
            except NotFound as err:
                return JSONResponse({"error": str(err)}, status_code=404)
            except BadRequest as err:
                return JSONResponse({"error": str(err)}, status_code=400)
            except LeashError as err:  # a run changed under us (a damaged shard, a duplicate)
                return JSONResponse({"error": str(err)}, status_code=409)

        return endpoint

    def params(request: Request) -> dict[str, str]:
        return {k: v for k, v in request.query_params.items() if k != "token"}

    async def label(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send the label as application/json"}, status_code=415)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        return await run_in_threadpool(
            api(lambda _: {"sample": queries.add_sample_label(browser, body)}), request
        )

    def page(name: str) -> Any:
        def endpoint(request: Request) -> Response:
            return FileResponse(f"{static}/{name}", media_type="text/html")

        return endpoint

    routes = [
        Route("/", page("index.html")),
        Route("/problem", page("problem.html")),
        Route("/api/overview", api(lambda r: queries.overview(browser))),
        Route("/api/problems", api(lambda r: queries.problems(browser, params(r)))),
        Route(
            "/api/problem",
            api(lambda r: queries.problem(browser, r.query_params.get("task"), r.query_params.get("vs"))),
        ),
        Route("/api/samples", api(lambda r: queries.samples(browser, params(r)))),
        Route("/api/label", label, methods=["POST"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse(
            {"error": f"no page {request.url.path}; open / for the overview"}, status_code=404
        )

    async def guard(request: Request, call_next: Any) -> Response:
        given = request.query_params.get("token")
        if token is not None:
            auth = request.headers.get("authorization", "")
            offered = given or request.cookies.get(COOKIE) or (auth[7:] if auth.startswith("Bearer ") else "")
            if not hmac.compare_digest(offered.encode(), token.encode()):
                return JSONResponse({"error": "this leash serve needs its token: open the URL it printed"},
                                    status_code=401)  # fmt: skip
        if request.method == "POST":
            origin = request.headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
                return JSONResponse({"error": f"cross-origin request from {origin} refused"}, status_code=403)
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        if token is not None and given:
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["*"]),
        Middleware(BaseHTTPMiddleware, dispatch=guard),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found})
