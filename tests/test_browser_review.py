"""The review page in Chromium (see test_browser_loop.py for the driver): 77 classes through
the filter box, a long text with the buttons in view, suspects first and confirmed, the next
batch without a restart, and guesses that change after ten answers. Screenshots go to
``$FEWLABELS_ARTIFACTS`` (default: the test's tmp dir). Precomputed vectors, no encoder."""

from __future__ import annotations

import threading

import pytest
from typer.testing import CliRunner

from fewlabels.classes import ClassSpec
from fewlabels.cli import app
from fewlabels.io import read_table
from fewlabels.loop.review.server import prepare_session, serve
from fewlabels.loop.store import LabelStore
from review_tables import many_classes, shifted_clusters, with_wrong_labels
from test_browser_loop import artifacts, driver, pytestmark  # noqa: F401  (fixtures and the skip reason)

runner = CliRunner()


@pytest.fixture
def start():
    servers = []

    def _start(session, **options):
        srv = serve(session, **options)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv

    yield _start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _wait(driver, fn, timeout=10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: fn(d))


def _text(driver, element_id):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def _current_key(driver):
    return driver.execute_script("return document.getElementById('card').dataset.key")


def _done(driver):
    return int(_text(driver, "count").split()[0])


def _in_view(driver, element_id_or_css):
    return driver.execute_script("""
        const els = [...document.querySelectorAll(arguments[0])];
        return els.length > 0 && els.every(e => { const r = e.getBoundingClientRect();
          return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight; });""", element_id_or_css)


def _many(tmp_path):
    table, vec, classes_file, truth = many_classes(tmp_path)
    names = classes_file.read_text().split()
    return table, vec, names, truth


def test_77_classes_labeled_through_the_filter_box(driver, start, tmp_path, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    table, vec, names, truth = _many(tmp_path)
    db = tmp_path / "labels.sqlite"
    session = prepare_session(table, db, n=30, vectors=vec, id_column="id", classes=ClassSpec(names, {}))
    srv = start(session)
    driver.get(srv.url)
    _wait(driver, lambda d: _text(d, "count") == "0 of 30 done")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#classes button.cls")) == 9  # the top guesses, keyed 1-9
    box = driver.find_element(By.ID, "filter")
    answered = {}
    for n in range(30):
        key = _current_key(driver)
        name = truth[key]
        box.send_keys(name.replace("_", " "))  # typed as words: the filter ignores _ and case
        assert driver.execute_script("return document.querySelector('#classes button.cls').dataset.cls") == name
        if n == 0:  # long names wrap inside their buttons, nothing spills out
            box.send_keys(Keys.ESCAPE)
            box.send_keys("refund")
            driver.save_screenshot(str(artifacts / "review_77_filter.png"))
            spill = driver.execute_script("""return [...document.querySelectorAll('#classes button.cls')]
                .filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.dataset.cls);""")
            assert spill == []
            long_name = names[-1]
            assert driver.execute_script("return [...document.querySelectorAll('button.cls')].find(b => "
                                         "b.dataset.cls === arguments[0]).offsetHeight", long_name) > 40
            box.send_keys(Keys.ESCAPE)
            box.send_keys(name.replace("_", " "))
        box.send_keys(Keys.ENTER)
        answered[key] = name
        _wait(driver, lambda d, n=n: _done(d) == n + 1)
    assert "All 30 rows done" in _text(driver, "finished")
    with LabelStore(db) as store:
        cur = store.current()
    assert {k: cur[k]["label"] for k in answered} == answered


def test_a_2000_character_row_keeps_its_buttons_in_view(driver, start, tmp_path, artifacts):
    from selenium.webdriver.common.by import By

    table, vec, names, truth = _many(tmp_path)
    long_key = "m0005"
    session = prepare_session(table, tmp_path / "l.sqlite", vectors=vec, id_column="id",
                              classes=ClassSpec(names, {}), suggestion_keys=[long_key, "m0006"])
    assert len(session.items[0]["text"]) == 2000
    srv = start(session)
    driver.set_window_size(1200, 800)
    driver.get(srv.url)
    _wait(driver, lambda d: _current_key(d) == long_key)
    assert len(_text(driver, "text")) < 420 and "more" in _text(driver, "more")
    assert _in_view(driver, "#classes button.cls") and _in_view(driver, "#skipbtn") and _in_view(driver, "#filter")
    assert _in_view(driver, "#text") and _in_view(driver, "#more")  # the dock covers none of the text
    driver.find_element(By.ID, "more").click()
    assert len(_text(driver, "text")) >= 1990
    assert _in_view(driver, "#classes button.cls") and _in_view(driver, "#skipbtn")  # the text scrolls in its card
    driver.execute_script("document.getElementById('card').scrollTop = 1e6")
    assert _in_view(driver, "#classes button.cls") and _in_view(driver, "#more")
    driver.find_element(By.ID, "colsbtn").click()  # the other columns, on request
    fields = _text(driver, "fields")
    assert "channel" in fields and "id m0005" in fields
    driver.save_screenshot(str(artifacts / "review_long_text.png"))


def test_suspects_first_and_a_confirmed_one_is_not_flagged_on_the_next_run(driver, start, tmp_path, artifacts):
    from selenium.webdriver.common.by import By

    table, vec, wrong = with_wrong_labels(tmp_path)
    db = tmp_path / "labels.sqlite"

    def flagged():
        out = tmp_path / "out.csv"
        r = runner.invoke(app, ["label", str(table), "--vectors", str(vec), "--labels-db", str(db),
                                "--id-column", "id", "--out", str(out), "--method", "logistic"])
        assert r.exit_code == 0, r.output
        t = read_table(out)
        return {k for k, f in zip(t.column("id").to_pylist(), t.column("fewlabels_suspect").to_pylist())
                if str(f).lower() == "true"}

    session = prepare_session(table, db, n=4, suspects=True, vectors=vec, id_column="id")
    first = session.items[0]
    before = flagged()
    assert first["kind"] == "suspect" and first["key"] in before and len(before) <= 5
    srv = start(session)
    driver.get(srv.url)
    _wait(driver, lambda d: _current_key(d) == first["key"])  # opens on the first suspect
    assert _text(driver, "kind") == "suspected label error"
    assert "given: " + first["given"] in _text(driver, "status")
    driver.save_screenshot(str(artifacts / "review_suspect.png"))
    keep = driver.find_element(By.CSS_SELECTOR, f'button.cls[data-cls="{first["given"]}"]')
    assert "(keep)" in keep.text
    driver.find_element(By.TAG_NAME, "body").send_keys(str(session.classes.index(first["given"]) + 1))
    _wait(driver, lambda d: _current_key(d) == session.items[1]["key"])
    with LabelStore(db) as store:
        assert store.confirmed() == {first["key"]: first["given"]}
    assert flagged() == before - {first["key"]}  # the label step respects the confirmation
    again = prepare_session(table, db, n=4, suspects=True, vectors=vec, id_column="id")
    assert first["key"] not in {it["key"] for it in again.items if it["kind"] == "suspect"}


def test_next_batch_without_a_restart(driver, start, tmp_path, artifacts):
    table, vec, truth = shifted_clusters(tmp_path)
    session = prepare_session(table, tmp_path / "l.sqlite", n=5, vectors=vec, id_column="id")
    first_batch = {it["key"] for it in session.items}
    srv = start(session)
    driver.get(srv.url)
    _wait(driver, lambda d: _text(d, "count") == "0 of 5 done")
    from selenium.webdriver.common.by import By

    body = driver.find_element(By.TAG_NAME, "body")
    for n in range(5):
        body.send_keys(str(session.classes.index(truth[_current_key(driver)]) + 1))
        _wait(driver, lambda d, n=n: _done(d) == n + 1)
    _wait(driver, lambda d: "All 5 rows done" in _text(d, "finished"))
    body.send_keys("\n")  # Enter: the next batch, from the labels so far
    _wait(driver, lambda d: _text(d, "count") == "5 of 10 done", timeout=20)
    key = _current_key(driver)
    assert key not in first_batch and key in {it["key"] for it in srv.session.items[5:]}
    driver.save_screenshot(str(artifacts / "review_next_batch.png"))


def test_guesses_change_after_ten_answers(driver, start, tmp_path, artifacts):
    from selenium.webdriver.common.by import By

    table, vec, truth = shifted_clusters(tmp_path)
    session = prepare_session(table, tmp_path / "l.sqlite", n=20, vectors=vec, id_column="id")
    srv = start(session)
    driver.get(srv.url)
    _wait(driver, lambda d: _text(d, "count") == "0 of 20 done")
    before = driver.execute_script("return Object.fromEntries(S.items.map(x => [x.key, x.guess]))")
    body = driver.find_element(By.TAG_NAME, "body")
    for n in range(10):
        body.send_keys(str(session.classes.index(truth[_current_key(driver)]) + 1))
        _wait(driver, lambda d, n=n: _done(d) == n + 1)
    _wait(driver, lambda d: "refreshed 1×" in _text(d, "learn"), timeout=20)
    _wait(driver, lambda d: d.execute_script("return version") == srv.state.version)
    after = driver.execute_script("return Object.fromEntries(S.items.map(x => [x.key, [x.guess, x.done]]))")
    todo = [k for k, (_, done) in after.items() if not done]
    assert len(todo) == 10
    assert any(after[k][0] != before[k] for k in todo)  # the page shows the refit's guesses
    server_guess = {it["key"]: it["guess"] for it in srv.session.items}
    assert all(after[k][0] == server_guess[k] for k in todo)
    assert _text(driver, "guess") == server_guess[_current_key(driver)]
    driver.save_screenshot(str(artifacts / "review_refreshed.png"))
