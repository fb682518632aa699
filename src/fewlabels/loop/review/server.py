"""The review page's server: the standard library's ``http.server``, bound to 127.0.0.1.

Only requests under ``/<token>/`` with a Host of 127.0.0.1 or localhost (on the served port)
are answered; everything else gets 403. The token is 128 random bits, new for each run,
so another local user or a web page in the browser cannot guess the address (and DNS
rebinding fails the Host check). POST requests must carry a JSON body and, when the browser
sends an Origin, our own.

API (under ``/<token>/``): ``GET`` the page; ``GET api/state`` the classes and the rows with
their stored labels; ``POST api/answer`` ``{key, label}`` writes one label to the store at
once; ``POST api/undo`` removes the latest review answer.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from ...errors import InputError
from ..store import LabelStore

MAX_BODY = 64 * 1024


@dataclass
class ReviewSession:
    """What the page shows: the classes and the rows to review, in order."""

    classes: list[str]
    items: list[dict]
    store_path: Path
    title: str = "fewlabels review"
    meta: dict = field(default_factory=dict)


def prepare_session(input_path, labels_db, *, n: int = 50, suspects: bool = False, random_state=0,
                    progress=None, **pool_options) -> ReviewSession:
    """Rows to review: the suspected label errors first (with ``suspects``), then ``n``
    suggested rows, each with the current guess and its confidence."""
    from .. import tables
    from ..suggest import current_proba

    pool = tables.load_pool(input_path, labels_db=labels_db, progress=progress, **pool_options)
    names = pool.classes.names
    k = len(names)
    P = current_proba(pool.X, pool.y, k, pool.class_embeddings, random_state)
    items = []
    if suspects:
        items += _suspect_items(pool, names, random_state)
    for r in tables.suggestion_rows(pool, n, random_state, proba=P):
        items.append({"key": r["key"], "row": r["row"], "text": r["text"], "guess": r["guess"],
                      "confidence": r["confidence"], "reason": r["reason"], "kind": "suggested"})
    seen, unique = set(), []
    for it in items:  # rows sharing a text share a key: show each key once
        if it["key"] not in seen:
            seen.add(it["key"])
            unique.append(it)
    if not unique:
        raise InputError(f"{input_path}: nothing to review (every row is labeled)")
    return ReviewSession(list(names), unique, Path(labels_db), f"fewlabels review · {Path(input_path).name}",
                         {"rows": len(pool.keys), "labeled": int((pool.y >= 0).sum())})


def _suspect_items(pool, names, random_state):
    from ...select import select_labeler
    from ..label_issues import find_label_issues

    y = pool.y
    lab = y >= 0
    if lab.sum() < 4 or len(set(y[lab].tolist())) < 2:
        return []
    ctx = {"n_classes": len(names), "class_embeddings": pool.class_embeddings, "random_state": random_state,
           "graph": None}
    sel = select_labeler(pool.X, y, ["logistic", "prototype"], ctx, random_state=random_state)
    P = (sel.scores["logistic"].oof_proba + sel.scores["prototype"].oof_proba) / 2
    issues = find_label_issues(P / P.sum(axis=1, keepdims=True), sel.y_labeled)
    out = []
    for j in issues.ranked():
        i = int(sel.labeled_index[j])
        out.append({"key": pool.keys[i], "row": i + 1, "text": pool.texts[i] if pool.texts else "",
                    "guess": names[issues.suggested[j]], "confidence": float(P[j].max()),
                    "given": pool.given[i], "reason": f"given {pool.given[i]!r}, but the other labels say "
                    f"{names[issues.suggested[j]]!r} (p of the given label {issues.quality[j]:.2f})",
                    "kind": "suspect"})
    return out


def _page() -> bytes:
    return resources.files(__package__).joinpath("static/index.html").read_bytes()


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, session: ReviewSession, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.session = session
        self.token = secrets.token_urlsafe(16)
        self.store = LabelStore(session.store_path)
        self.lock = threading.Lock()
        self.page = _page()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{self.token}/"

    def server_close(self):
        super().server_close()
        self.store.close()


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "fewlabels-review"
    sys_version = ""

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

    def do_GET(self):  # noqa: N802
        sub = self._route()
        if sub is None:
            return
        if sub in ("", "index.html"):
            self._send(200, self.server.page, "text/html; charset=utf-8")
        elif sub == "api/state":
            self._json(self._state())
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self):  # noqa: N802
        sub = self._route()
        if sub is None:
            return
        origin = self.headers.get("Origin")
        port = self.server.server_address[1]
        if origin is not None and origin not in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            self._send(403, b"forbidden", "text/plain")
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if length > MAX_BODY or "json" not in self.headers.get("Content-Type", ""):
                raise ValueError("bad request")
            body = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, json.JSONDecodeError):
            self._json({"error": "send a JSON body"}, 400)
            return
        s = self.server.session
        if sub == "api/answer":
            key, label = body.get("key"), body.get("label")
            if key not in {it["key"] for it in s.items} or label not in s.classes:
                self._json({"error": "unknown row or class"}, 400)
                return
            with self.server.lock:
                self.server.store.set(key, label, "review")
            self._json({"ok": True, "key": key, "label": label})
        elif sub == "api/undo":
            with self.server.lock:
                key = self.server.store.undo("review")
            self._json({"ok": True, "key": key})
        else:
            self._send(404, b"not found", "text/plain")

    def _state(self) -> dict:
        s = self.server.session
        with self.server.lock:
            cur = self.server.store.current()
        items = [{**it, "label": (cur.get(it["key"]) or {}).get("label"),
                  "label_source": (cur.get(it["key"]) or {}).get("source")} for it in s.items]
        return {"title": s.title, "classes": s.classes, "items": items, "store": str(s.store_path), "meta": s.meta}


def serve(session: ReviewSession, port: int = 0) -> ReviewServer:
    """A started-but-not-serving server (call ``serve_forever``); port 0 picks a free one."""
    try:
        return ReviewServer(session, port)
    except OSError as exc:
        raise InputError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); pick another --port, or 0 "
                         "for a free one") from None
