"""The review page's state and actions, apart from HTTP: answers, confirmations, skips and
undos go to the label store as events; every ``refit_every`` answers a cheap method
(:func:`~fewlabels.loop.suggest.current_proba`: prototype + logistic) is refit in a
background thread on the labels so far, and the guesses and the order of the rows still to
do are refreshed; :meth:`ReviewState.next_batch` adds new suggestions from the current
labels without a restart.

A row is *done* when it has a label (a suspect: when its flagged label was confirmed or
changed) or was skipped in this session. Rows still to do are ordered suspects first, then
by the margin between the two most likely classes, smallest first (the rows the current
guesses are least sure of).

Cost: an action is one store write plus O(E) reads for E events; a refit O(n·d·k) plus
logistic's fit on the labeled rows, off the request thread; a new batch one suggestion run.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np

from ..store import LabelStore, StoreLockedError
from .session import ReviewSession, set_guess, suggested_items

#: answers between two refits
REFIT_EVERY = 10


class BadRequest(ValueError):
    """A request the page should not have sent (unknown row or class, malformed body)."""


class ReviewState:
    """Actions of the review page on a :class:`ReviewSession` and its label store.

    Parameters
    ----------
    session : the rows and the pool
    refit_every : answers between two refits (0: never)
    background : refit in a thread (the server) or at once, in the caller (benchmarks)
    store_options : passed to :class:`~fewlabels.loop.store.LabelStore` (timeout, retry_delays)
    """

    def __init__(self, session: ReviewSession, *, refit_every: int = REFIT_EVERY, background: bool = True,
                 **store_options):
        self.session = session
        self.store = LabelStore(session.store_path, **store_options)
        self.lock = threading.RLock()
        self.refit_every, self.background = refit_every, background
        self.start_seq = self.store.last_seq()
        self.version = 0          # bumped when the guesses or the rows change
        self.refreshes = 0
        self.answers = 0          # answers (labels, confirmations) saved in this session
        self.answers_at_fit = 0
        self.fitting = False
        self.fit_error: str | None = None
        self.proba = None         # the latest refit's probabilities (n, k), None before the first
        self.unsaved: dict[str, str] = {}   # key -> label of an answer the store refused, until saved
        self.code = {c: i for i, c in enumerate(session.classes)}
        pool = session.pool
        self.rows_of_key: dict[str, list[int]] = {}
        if pool is not None:
            for i, k in enumerate(pool.keys):
                self.rows_of_key.setdefault(k, []).append(i)
        self._thread: threading.Thread | None = None

    def close(self) -> None:
        """Wait for a running refit (at most 30 s), then close the store."""
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.store.close()

    # ------------------------------------------------------------------ reading

    def _item(self, key) -> dict:
        if not isinstance(key, str):
            raise BadRequest("'key' must be a string")
        for it in self.session.items:
            if it["key"] == key:
                return it
        raise BadRequest(f"unknown row {key!r}")

    def _table_label(self, item) -> str | None:
        """The table's own label of an item's row (None when it has none or the store's overrode it)."""
        pool = self.session.pool
        if pool is None:
            return item.get("given")
        i = item["row"] - 1
        return pool.given[i] if pool.sources[i] == "given" else None

    def state(self) -> dict:
        """Everything the page shows: classes, items with their labels and done flags, and
        the learning status."""
        s = self.session
        with self.lock:
            cur, conf = self.store.current(), self.store.confirmed()
            skipped = self.store.skipped(self.start_seq)
            items = []
            for it in s.items:
                lab = (cur.get(it["key"]) or {}).get("label") or self._table_label(it)
                confirmed = it["kind"] == "suspect" and lab is not None and conf.get(it["key"]) == lab
                if it["kind"] == "suspect":
                    done = confirmed or lab != it["given"] or it["key"] in skipped
                else:
                    done = lab is not None or it["key"] in skipped
                items.append({**it, "label": lab, "label_source": (cur.get(it["key"]) or {}).get("source"),
                              "confirmed": confirmed, "skipped": it["key"] in skipped, "done": done,
                              "unsaved": self.unsaved.get(it["key"])})
            return {"title": s.title, "classes": s.classes, "items": items, "store": str(s.store_path),
                    "meta": s.meta, **self.status()}

    def status(self) -> dict:
        """The learning status: version, refreshes, whether a refit runs, answers so far. O(1)."""
        return {"version": self.version, "refreshes": self.refreshes, "fitting": self.fitting,
                "answers": self.answers, "refit_every": self.refit_every, "fit_error": self.fit_error,
                "unsaved": len(self.unsaved)}

    # ------------------------------------------------------------------ actions

    def answer(self, key, label) -> dict:
        """Save ``label`` for ``key``: a ``confirmed`` event when it keeps a suspect's flagged
        label, else a ``label`` event. Raises BadRequest or StoreLockedError (not saved)."""
        it = self._item(key)
        if not isinstance(label, str) or label not in self.code:
            raise BadRequest(f"unknown class {label!r}")
        event = "confirmed" if it["kind"] == "suspect" and label == it["given"] else "label"
        with self.lock:
            try:
                if event == "confirmed":
                    cur = (self.store.current().get(key) or {}).get("label")
                    if cur is not None and cur != label:  # changed in the store since: back to the flagged label
                        self.store.set(key, label, "review")
                    self.store.confirm(key, label)
                else:
                    self.store.set(key, label, "review")
            except StoreLockedError:
                self.unsaved[key] = label
                raise
            self.unsaved.pop(key, None)
            self.answers += 1
        self.maybe_refit()
        return {"ok": True, "key": key, "label": label, "event": event}

    def skip(self, key) -> dict:
        """Record a ``skip`` event for ``key`` (the row counts as done in this session). O(1) write."""
        self._item(key)
        with self.lock:
            self.store.skip(key)
        return {"ok": True, "key": key, "event": "skip"}

    def undo(self) -> dict:
        """Undo the latest review event of any session (an ``undo`` event); returns its key."""
        with self.lock:
            key = self.store.undo("review")
        return {"ok": True, "key": key}

    # ------------------------------------------------------------------ learning

    def labels_now(self) -> np.ndarray:
        """Class codes of the pool's rows from the table's labels and the store's now, (n,), -1 unlabeled."""
        pool = self.session.pool
        y = np.array([self.code.get(g, -1) if src == "given" else -1 for g, src in zip(pool.given, pool.sources)])
        with self.lock:
            cur = self.store.current()
        for key, info in cur.items():
            c = self.code.get(info["label"])
            if c is not None:
                y[self.rows_of_key.get(key, [])] = c
        return y

    def maybe_refit(self) -> None:
        """Refit when ``refit_every`` answers came since the last fit (in a thread unless
        ``background`` is off)."""
        if not self.refit_every or self.session.pool is None:
            return
        with self.lock:
            if self.fitting or self.answers - self.answers_at_fit < self.refit_every:
                return
            self.fitting = True
        if self.background:
            self._thread = threading.Thread(target=self._refit_loop, daemon=True, name="fewlabels-refit")
            self._thread.start()
        else:
            self._refit_loop()

    def _refit_loop(self) -> None:
        try:
            while True:
                with self.lock:
                    n_answers = self.answers
                self.refresh()
                with self.lock:
                    self.answers_at_fit = n_answers
                    if self.answers - self.answers_at_fit < self.refit_every:
                        self.fitting = False
                        return
        except Exception as exc:  # a failed refit keeps the old guesses; the page says why
            with self.lock:
                self.fit_error = f"the guesses were not refreshed ({type(exc).__name__}: {exc})"
                self.fitting = False

    def fit(self):
        """(labels now (n,), probabilities (n, k) or None) of the cheap method on the labels now."""
        from ..suggest import current_proba

        pool = self.session.pool
        y = self.labels_now()
        return y, current_proba(pool.X, y, len(self.session.classes), pool.class_embeddings,
                                self.session.random_state)

    def refresh(self, P=None) -> None:
        """Refit (or use ``P``), then refresh the guesses of the suggested rows and reorder the
        rows still to do."""
        if P is None:
            _, P = self.fit()
        if P is None:
            return
        done = {it["key"] for it in self.state()["items"] if it["done"]}
        with self.lock:
            items = self.session.items
            for it in items:
                if it["kind"] == "suggested":
                    set_guess(it, self.session.classes, P[it["row"] - 1])
            todo = [it for it in items if it["key"] not in done]
            order = sorted(todo, key=lambda it: (it["kind"] != "suspect", _margin(it)))
            self.session.items = [it for it in items if it["key"] in done] + order
            self.proba = P
            self.refreshes += 1
            self.version += 1
            self.fit_error = None

    def next_batch(self, n: int | None = None) -> dict:
        """Add ``n`` (default: the session's batch size) new suggested rows, chosen from the
        labels now, none already in the session. Returns how many were added."""
        s = self.session
        y, P = self.fit()
        pool = dataclasses.replace(s.pool, y=y)
        with self.lock:
            shown = {it["key"] for it in s.items}
            batch = max((it.get("batch", 1) for it in s.items), default=0) + 1
        new = suggested_items(pool, s.classes, n or s.batch_size, s.random_state, P, s.text_column,
                              exclude=shown, batch=batch)
        with self.lock:
            s.items = s.items + [it for it in new if it["key"] not in shown]
            self.version += 1
        if P is not None:
            self.refresh(P)
        return {"ok": True, "added": len(new), "batch": batch}

    def summary(self) -> str:
        """One line for the terminal when the server stops: every answer saved, or which were not."""
        if not self.unsaved:
            return f"stopped; every answer is in the store ({self.answers} in this session)"
        keys = ", ".join(list(self.unsaved)[:5])
        return (f"stopped; {len(self.unsaved)} answer(s) were NOT saved, the store was locked (rows {keys}); "
                "the page showed each refusal: review them again")


def _margin(item) -> float:
    p = item.get("proba")
    if not p or len(p) < 2:
        return 1.0
    a = np.sort(np.asarray(p))
    return float(a[-1] - a[-2])
