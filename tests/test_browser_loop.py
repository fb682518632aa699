"""Browser tests: Debian's headless Chromium, driven by Selenium with the system
chromedriver (nothing downloaded). The review page is labeled by keyboard and reloaded;
the labels must be in the store and used by ``fewlabels label --labels-db``. The HTML report
must render its plots. Screenshots go to ``$FEWLABELS_ARTIFACTS`` (default: the test's tmp dir).

Skipped, with the reason, only when chromium, chromedriver or selenium is absent; `.ci/run`
installs them.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import make_blobs
from fewlabels.cli import app
from fewlabels.io import read_table
from fewlabels.loop.review.server import prepare_session, serve
from fewlabels.loop.store import LabelStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists()
                                                else None)
try:
    import selenium  # noqa: F401

    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER and HAVE_SELENIUM),
    reason="browser tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver) "
           "and selenium (pip install -e '.[test]'); .ci/run installs them")

runner = CliRunner()
CLASSES = ("billing", "bug", "account")
WORDS = {"billing": "invoice charge refund payment card", "bug": "crash error freeze broken screen",
         "account": "password login email username profile"}


@pytest.fixture
def artifacts(tmp_path) -> Path:
    d = Path(os.environ.get("FEWLABELS_ARTIFACTS", tmp_path / "artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager fetch a driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1200,900"):
        opts.add_argument(flag)
    d = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    d.set_page_load_timeout(30)
    yield d
    d.quit()


@pytest.fixture
def table(tmp_path):
    """A small ticket table with readable texts, an id column and precomputed vectors."""
    b = make_blobs(n=90, k=3, per_class=3, seed=4)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(b.n):
        c = CLASSES[b.truth[i]]
        words = WORDS[c].split()
        text = f"ticket {i}: " + " ".join(rng.choice(words, 4)) + " please help"
        rows.append({"id": f"t{i:03d}", "text": text, "label": c if b.y[i] >= 0 else ""})
    path = tmp_path / "tickets.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["id", "text", "label"])
        w.writeheader()
        w.writerows(rows)
    np.save(tmp_path / "vectors.npy", b.X)
    return path, tmp_path / "vectors.npy", b


@pytest.fixture
def review_server(table, tmp_path):
    path, vec, b = table
    db = tmp_path / "labels.sqlite"
    session = prepare_session(path, db, n=8, vectors=vec, id_column="id")
    server = serve(session)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server, session, db
    server.shutdown()
    server.server_close()


def _wait_text(driver, element_id, predicate, timeout=10):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: predicate(d.find_element(By.ID, element_id).text))


def test_review_by_keyboard_survives_reload_and_feeds_label(driver, review_server, table, tmp_path, artifacts):
    from selenium.webdriver.common.by import By

    server, session, db = review_server
    path, vec, b = table
    driver.get(server.url)
    _wait_text(driver, "count", lambda t: "of 8 done" in t)
    body = driver.find_element(By.TAG_NAME, "body")
    shown = []
    keys = ("1", "3", "2")
    for key in keys:
        shown.append(driver.find_element(By.ID, "row").text)
        body.send_keys(key)
        _wait_text(driver, "count", lambda t, n=len(shown): t.startswith(f"{n} of"))
    body.send_keys("s")  # skip the 4th: a skip event, the row counts as done
    _wait_text(driver, "count", lambda t: t.startswith("4 of"))
    driver.save_screenshot(str(artifacts / "review.png"))

    with LabelStore(db) as store:  # in the store at once, before any reload
        cur = store.current()
    picked = {it["key"]: session.classes[int(k) - 1] for it, k in zip(session.items[:3], keys)}
    assert {k: cur[k]["label"] for k in picked} == picked
    assert all(cur[k]["source"] == "review" for k in picked)
    with LabelStore(db) as store:
        assert store.skipped() == {session.items[3]["key"]}

    driver.refresh()  # a reload keeps the answers and the skip, and resumes at the first row to do
    _wait_text(driver, "count", lambda t: t.startswith("4 of 8"))
    assert driver.find_element(By.ID, "row").text == f"table row {session.items[4]['row']}"

    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys("1")
    _wait_text(driver, "count", lambda t: t.startswith("5 of"))
    body.send_keys("u")  # undo: one more event, and the label is gone from the current labels
    _wait_text(driver, "count", lambda t: t.startswith("4 of"))
    with LabelStore(db) as store:
        assert set(store.current()) == set(picked)
        assert [e["kind"] for e in store.history()][-2:] == ["label", "undo"]

    out, rep = tmp_path / "out.csv", tmp_path / "report.json"
    r = runner.invoke(app, ["label", str(path), "--vectors", str(vec), "--labels-db", str(db), "--id-column", "id",
                            "--out", str(out), "--report", str(rep)])
    assert r.exit_code == 0, r.output
    t = read_table(out)
    ids = t.column("id").to_pylist()
    labels = t.column("fewlabels_label").to_pylist()
    source = t.column("fewlabels_source").to_pylist()
    for key, lab in picked.items():
        i = ids.index(key)
        assert labels[i] == lab and source[i] == "given"
    report = json.loads(rep.read_text())
    assert report["label_store"]["n_used"] == 3
    assert report["n_given"] == int((b.y >= 0).sum()) + 3


def test_other_requests_are_refused(review_server, driver):
    import urllib.error
    import urllib.request

    server, _, _ = review_server
    port = server.server_address[1]
    for url in (f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/wrongtoken/api/state",
                f"http://127.0.0.1:{port}/{server.token}x/api/state"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, timeout=5)
        assert e.value.code == 403
    req = urllib.request.Request(server.url + "api/state", headers={"Host": f"evil.example:{port}"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 403
    assert server.server_address[0] == "127.0.0.1"
    with urllib.request.urlopen(server.url + "api/state", timeout=5) as ok:
        assert json.loads(ok.read())["classes"] == sorted(CLASSES)


def test_html_report_plots_render(driver, table, tmp_path, artifacts):
    from selenium.webdriver.common.by import By

    path, vec, _ = table
    html = tmp_path / "report.html"
    r = runner.invoke(app, ["label", str(path), "--vectors", str(vec), "--out", str(tmp_path / "o.csv"),
                            "--html", str(html)])
    assert r.exit_code == 0, r.output
    driver.get(html.as_uri())
    assert driver.find_element(By.ID, "estimate").text.startswith("0.")
    plots = driver.find_elements(By.CSS_SELECTOR, "svg.plot")
    assert len(plots) >= 4
    for svg in plots:  # each plot laid out with a real size and drawn marks
        size = svg.size
        assert size["width"] > 100 and size["height"] > 50, svg.get_attribute("aria-label")
        marks = svg.find_elements(By.CSS_SELECTOR, "rect.bar, circle, polyline.series, circle.point")
        assert marks, svg.get_attribute("aria-label")
    labels = {s.get_attribute("aria-label") for s in plots}
    assert {"reliability diagram", "confidence histogram", "class counts", "accuracy intervals"} <= labels
    # the reliability curves have points inside the plot
    pts = driver.find_elements(By.CSS_SELECTOR, 'svg[aria-label="reliability diagram"] polyline.series')
    assert len(pts) == 2 and all(p.get_attribute("points").strip() for p in pts)
    assert driver.find_elements(By.ID, "suggestions") and driver.find_elements(By.ID, "label-issues")
    driver.save_screenshot(str(artifacts / "report.png"))
