"""The local review server: a small ASGI app (Starlette) served by uvicorn on loopback.

Safe on a shared workstation, as Jupyter is:

- bound to 127.0.0.1 only;
- a random token (``secrets.token_urlsafe``) in the address; every request must carry it
  (the page and its files in the query, the page's API calls in the ``X-Iomon-Token``
  header), compared in constant time; a request without it is refused (403);
- the ``Host`` header must name the loopback address and port (a DNS-rebinding page names
  its own host and is refused);
- a request with an ``Origin`` must come from the server's own origin, a write must carry the
  token in its header (never a cookie: there is none) as JSON, and a cross-site
  ``Sec-Fetch-Site`` is refused (no cross-site writes);
- the page allows only its own scripts and connections (Content-Security-Policy), is never
  framed, and sends no referrer.
"""

from __future__ import annotations

import hmac
import json
import secrets
import socket
from importlib import resources
from urllib.parse import parse_qs

from ..model.errors import InputError

__all__ = ["STATIC_FILES", "make_app", "open_socket", "review_url", "serve"]

#: Files the page loads, served from the package (no network at run time).
STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css",
                "uPlot.iife.min.js": "text/javascript", "uPlot.min.css": "text/css"}
#: Edits the page may send, and the sidecar table each goes to.
EDIT_TABLES = {"exclude": "exclude", "event": "events", "rebaseline": "rebaseline",
               "landmark": "landmarks"}
_SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; "
                                 b"img-src 'self' data:; connect-src 'self'; "
                                 b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def review_url(port: int, token: str) -> str:
    """The address to open."""
    return f"http://127.0.0.1:{port}/?token={token}"


def _allowed_hosts(port: int) -> set[str]:
    return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}


class Guard:
    """ASGI middleware: the token, Host, Origin and Sec-Fetch-Site checks for every request."""

    def __init__(self, app, token: str, port: int):
        self.app, self.token, self.port = app, token, port

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            return await _refuse(send, 403, "not served")
        refusal = self.refusal(scope)
        if refusal:
            return await _refuse(send, 403, refusal)

        async def secured(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            await send(message)

        return await self.app(scope, receive, secured)

    def refusal(self, scope) -> str | None:
        """Why a request is refused, or None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        if headers.get("host", "") not in _allowed_hosts(self.port):
            return "host not allowed"
        origin = headers.get("origin")
        if origin is not None and origin not in {f"http://{h}" for h in
                                                 _allowed_hosts(self.port)}:
            return "cross-origin request refused"
        writes = scope["method"] not in ("GET", "HEAD")
        if writes and headers.get("sec-fetch-site", "same-origin") not in ("same-origin",
                                                                           "none"):
            return "cross-site request refused"
        given = headers.get("x-iomon-token")
        if given is None and not writes:
            given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(
                "token", [None])[0]
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            return "missing or wrong token"
        if writes and not headers.get("content-type", "").startswith("application/json"):
            return "writes must be JSON"
        return None


async def _refuse(send, status: int, text: str) -> None:
    body = json.dumps({"error": text}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())] + _SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": body})


def _static(name: str) -> bytes:
    return resources.files("iomon.review").joinpath("static", name).read_bytes()


def _error(status: int, text: str):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": text}, status_code=status)


def _locked(session, build, *args):
    """``build(session, *args)`` under the session's lock (one analysis at a time)."""
    with session.lock:
        return build(session, *args)


def _read_routes(session, token: str) -> list:
    """The page, its files and what it asks for: the case's state, a sweep, a stack."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from .payload import stack_payload, state_payload, sweep_payload

    async def index(request):
        page = _static("index.html").decode("utf-8").replace("__TOKEN__", token)
        return HTMLResponse(page)

    async def static(request):
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return _error(404, "no such file")
        return Response(_static(name), media_type=STATIC_FILES[name])

    def fresh_state():
        session.refresh()  # the sidecar may have been edited by hand meanwhile
        return _locked(session, state_payload)

    async def state(request):
        try:
            return JSONResponse(await run_in_threadpool(fresh_state))
        except InputError as err:
            return _error(422, " ".join(err.reason.splitlines()))

    async def sweep(request):
        try:
            return JSONResponse(await run_in_threadpool(
                _locked, session, sweep_payload, int(request.path_params["n"])))
        except IndexError as err:
            return _error(404, str(err))

    async def stack(request):
        try:
            q = request.query_params
            return JSONResponse(await run_in_threadpool(
                _locked, session, stack_payload, int(q["channel"]), int(q["last"]),
                int(q.get("count", 40))))
        except (KeyError, ValueError):
            return _error(400, "channel and last sweep needed")
        except IndexError as err:
            return _error(404, str(err))

    return [Route("/", index), Route("/static/{name}", static), Route("/api/state", state),
            Route("/api/sweep/{n:int}", sweep), Route("/api/stack", stack)]


def _write_routes(session) -> list:
    """The writes: an edit, its undo and the sign-off, each answered with the new state."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from .payload import state_payload

    async def act(request, action):
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return _error(400, "a JSON object is needed")
        try:
            answer = await run_in_threadpool(action, body)
        except InputError as err:
            return _error(422, " ".join(err.reason.splitlines()))
        except (KeyError, TypeError, ValueError) as err:
            return _error(400, f"bad edit: {err}")
        return JSONResponse(answer)

    def do_edit(body):
        table = EDIT_TABLES[body["kind"]]
        entry = body["entry"]
        if not isinstance(entry, dict):
            raise TypeError("entry must be an object")
        written = session.edit(table, entry, body.get("reviewer", ""))
        return {"written": written, "state": _locked(session, state_payload)}

    def do_undo(body):
        removed = session.undo()
        return {"removed": removed, "state": _locked(session, state_payload)}

    def do_signoff(body):
        out = session.sign_off(body.get("reviewer", ""))
        return {"out": str(out), "state": _locked(session, state_payload)}

    async def edit(request):
        return await act(request, do_edit)

    async def undo(request):
        return await act(request, do_undo)

    async def signoff(request):
        return await act(request, do_signoff)

    return [Route("/api/edit", edit, methods=["POST"]), Route("/api/undo", undo, methods=["POST"]),
            Route("/api/signoff", signoff, methods=["POST"])]


def make_app(session, token: str, port: int):
    """The review app of one session, guarded (see the module docstring)."""
    from starlette.applications import Starlette

    app = Starlette(routes=_read_routes(session, token) + _write_routes(session))
    return Guard(app, token, port)


def open_socket(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    except OSError as err:
        sock.close()
        raise InputError(f"cannot listen on 127.0.0.1:{port} ({err.strerror})") from None
    sock.listen(64)
    return sock


def serve(session, port: int = 0, open_browser: bool = True, announce=print) -> None:
    """Serve ``session`` on loopback until interrupted (Ctrl-C)."""
    import uvicorn

    sock = open_socket(port)
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    url = review_url(port, token)
    config = uvicorn.Config(make_app(session, token, port), log_level="warning",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    announce(f"iomon review: {session.result.case.id} ({session.result.sweeps.n_sweeps} "
             f"sweeps); edits go to {session.sidecar}; sign-off writes {session.out}")
    announce(f"open {url}   (Ctrl-C stops the server)")
    if open_browser:
        import os
        import sys
        import webbrowser

        # Without a display Python would start a text-mode browser in this terminal.
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                     or os.environ.get("WAYLAND_DISPLAY")):
            announce("no display here: open the address in a browser on this machine")
        else:
            webbrowser.open(url)
    server.run(sockets=[sock])
