"""The review page's server: the standard library's ``http.server``, bound to 127.0.0.1.

Only requests under ``/<token>/`` with a Host of 127.0.0.1 or localhost (on the served port)
are answered; everything else gets 403. The token is 128 random bits, new for each run,
so another local user or a web page in the browser cannot guess the address (and DNS
rebinding fails the Host check). POST requests must carry a JSON object and, when the
browser sends an Origin, our own.

API (under ``/<token>/``): ``GET`` the page; ``GET api/state`` the classes and the rows with
their labels; ``GET api/status`` the learning status (polled: its ``version`` changes when
the guesses or rows do); ``POST api/answer`` ``{key, label}`` writes one label (or, for a
suspect's flagged label, a confirmation) to the store at once; ``POST api/skip`` ``{key}``;
``POST api/undo`` appends an undo of the latest review event; ``POST api/next`` adds a new
batch of suggestions from the labels so far.

Every error is a JSON reply ``{"error": ...}`` (400 for a bad request, 503 when the store
stayed locked and the answer was not saved, 500 otherwise), never a traceback.
"""

from __future__ import annotations

import json
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from ...errors import FewLabelsError, InputError
from ..store import StoreLockedError
from .session import ReviewSession, prepare_session  # noqa: F401  (the loop CLI imports both from here)
from .state import BadRequest, ReviewState

MAX_BODY = 64 * 1024


def _page() -> bytes:
    return resources.files(__package__).joinpath("static/index.html").read_bytes()


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, session: ReviewSession, port: int = 0, **state_options):
        super().__init__(("127.0.0.1", port), _Handler)
        self.session = session
        self.token = secrets.token_urlsafe(16)
        self.state = ReviewState(session, **state_options)
        self.page = _page()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{self.token}/"

    def summary(self) -> str:
        """The line to print on stop: every answer saved, or which ones were refused."""
        return self.state.summary()

    def handle_error(self, request, client_address):  # a dropped connection: one quiet line, no traceback
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            print(f"fewlabels review: request failed ({type(exc).__name__}: {exc})", file=sys.stderr)

    def server_close(self):
        super().server_close()
        self.state.close()


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "fewlabels-review"
    sys_version = ""
    timeout = 30  # a client that sends less than its Content-Length is dropped, not waited on forever

    def log_message(self, fmt, *args):  # quiet: the terminal shows the URL, not every request
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", "default-src 'none'; script-src 'self' 'unsafe-inline'; "
                         "style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj, code: int = 200) -> None:
        self._send(code, json.dumps(obj).encode("utf-8"))

    def _route(self) -> str | None:
        """The path below the token, or None (after a 403) when the request is refused."""
        port = self.server.server_address[1]
        host = self.headers.get("Host", "")
        if host not in (f"127.0.0.1:{port}", f"localhost:{port}"):
            self._send(403, b"forbidden", "text/plain")
            return None
        prefix = f"/{self.server.token}/"
        path = self.path.split("?", 1)[0]
        if not secrets.compare_digest(path[:len(prefix)].encode(), prefix.encode()):
            self._send(403, b"forbidden", "text/plain")
            return None
        return path[len(prefix):]

    def _guarded(self, fn) -> None:
        """Run ``fn``; turn every error into a JSON reply (no traceback reaches the terminal)."""
        try:
            fn()
        except (ConnectionError, TimeoutError):
            raise
        except BadRequest as exc:
            self._json({"error": str(exc)}, 400)
        except StoreLockedError as exc:
            self._json({"error": f"not saved: {exc}", "saved": False}, 503)
        except FewLabelsError as exc:
            self._json({"error": str(exc)}, 400)
        except Exception as exc:  # a bug: say so in one line, keep serving
            self._json({"error": f"internal error ({type(exc).__name__}: {exc}); this is a fewlabels bug"}, 500)

    def do_GET(self):  # noqa: N802
        self._guarded(self._get)

    def do_POST(self):  # noqa: N802
        self._guarded(self._post)

    def _get(self):
        sub = self._route()
        if sub is None:
            return
        if sub in ("", "index.html"):
            self._send(200, self.server.page, "text/html; charset=utf-8")
        elif sub == "api/state":
            self._json(self.server.state.state())
        elif sub == "api/status":
            self._json(self.server.state.status())
        else:
            self._send(404, b"not found", "text/plain")

    def _body(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise BadRequest("bad Content-Length") from None
        if length < 0 or length > MAX_BODY:
            raise BadRequest(f"the body must be at most {MAX_BODY} bytes")
        if "json" not in self.headers.get("Content-Type", ""):
            raise BadRequest("send a JSON body (Content-Type: application/json)")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, RecursionError):
            raise BadRequest("send a JSON body: it is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest(f"send a JSON object such as {{\"key\": ..., \"label\": ...}}, not a "
                             f"{type(body).__name__}")
        return body

    def _post(self):
        sub = self._route()
        if sub is None:
            return
        origin = self.headers.get("Origin")
        port = self.server.server_address[1]
        if origin is not None and origin not in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            self._send(403, b"forbidden", "text/plain")
            return
        if sub not in ("api/answer", "api/skip", "api/undo", "api/next"):
            self._send(404, b"not found", "text/plain")
            return
        body = self._body()
        st = self.server.state
        if sub == "api/answer":
            self._json(st.answer(body.get("key"), body.get("label")))
        elif sub == "api/skip":
            self._json(st.skip(body.get("key")))
        elif sub == "api/undo":
            self._json(st.undo())
        else:
            self._json(st.next_batch())


def serve(session: ReviewSession, port: int = 0, **state_options) -> ReviewServer:
    """A started-but-not-serving server (call ``serve_forever``); port 0 picks a free one.
    ``state_options`` go to :class:`~fewlabels.loop.review.state.ReviewState` (refit_every,
    and the store's timeout and retry_delays)."""
    try:
        return ReviewServer(session, port, **state_options)
    except OSError as exc:
        raise InputError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); pick another --port, or 0 "
                         "for a free one") from None
