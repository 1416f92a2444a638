"""Read-back in `nlf serve`: the API (TestClient: a remark is read and not written until the verdict; accept,
fix, rephrase; bad fixes, empty rephrases and verdicts for items not in the queue refused with nothing written;
the token rule) and the real page in headless Chromium (a remark, its steps highlighted on the timeline, one
step fixed by clicking, the stored record), which also makes docs/readback.png when NLF_READBACK_SCREENSHOT
names the file."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from nlfeedback.collect.collector import Collector
from nlfeedback.collect.readback import Reader
from nlfeedback.collect.web.app import create_app
from nlfeedback.feedback import read_feedback
from nlfeedback.feedback.readback import is_fixed
from nlfeedback.trajectory import load_trajectories
from tests.test_collect_browser import CHROMIUM_ARGS, Server, browser, wait_frame  # noqa: F401  (fixture)

LOCAL = "http://127.0.0.1:8765"
REMARK = "good job picking up the key"


@pytest.fixture
def collector(doorkey_trajectories, tmp_path):
    with Collector(doorkey_trajectories, tmp_path / "human.jsonl", kinds=["text", "scalar"]) as c:
        yield c


@pytest.fixture
def client(collector):
    return TestClient(create_app(collector, reader=Reader.load("keyword")), base_url=LOCAL)


def remark(client, text=REMARK, annotator="ana"):
    item = client.get("/api/next", params={"annotator": annotator, "kind": "text"}).json()
    r = client.post("/api/submit", json={"ticket": item["ticket"], "text": text, "seconds": 5.0})
    assert r.status_code == 200, r.text
    return item, r.json()["readback"]


def lines(collector):
    return collector.out.read_text().splitlines() if collector.out.exists() else []


def test_a_remark_is_read_back_and_written_only_with_the_verdict(client, collector):
    assert client.get("/api/config").json()["readback"] == {"interpreter": "keyword", "checkpoint": None}
    item, rb = remark(client)
    assert lines(collector) == []  # read, not yet written
    [clause] = rb["reading"]
    assert clause["polarity"] == 1 and len(clause["steps"]) == 1 and rb["lines"] == [clause["line"]]
    assert clause["line"] == f"step {clause['steps'][0] + 1}: good, strength 1"
    r = client.post("/api/readback", json={"ticket": item["ticket"], "verdict": "accepted", "seconds": 2.0})
    assert r.status_code == 200, r.text
    [fb] = read_feedback(collector.out, collector.trajectories).records
    assert fb.readback.verdict == "accepted" and fb.readback.interpreter == "keyword" and fb.text == REMARK
    assert fb.readback.seconds <= 2.0 and fb.annotation_seconds <= 7.0
    again = client.post("/api/readback", json={"ticket": item["ticket"], "verdict": "accepted"})
    assert again.status_code == 404 and "not in your queue" in again.json()["error"]
    assert len(lines(collector)) == 1


def test_fix_and_rephrase_and_everything_bad_is_refused_without_a_write(client, collector):
    item, rb = remark(client)
    seg = rb["segment"]
    ticket = item["ticket"]
    bad = [
        ({"verdict": "fixed", "clauses": [{"steps": f"{seg[1] + 3}", "polarity": -1}]}, 422, "outside this segment"),
        ({"verdict": "fixed", "clauses": []}, 422, "a fix needs at least one clause"),
        ({"verdict": "fixed", "clauses": [{"steps": rb["reading"][0]["shown"], "polarity": 1}]}, 422,
         "the fix is the reading unchanged"),
        ({"verdict": "rephrased", "text": "   "}, 422, "the rephrased text is empty"),
        ({"verdict": "maybe"}, 422, "field 'verdict'"),
        ({"verdict": "accepted", "seconds": "3"}, 422, "expected a number"),
    ]
    for body, status, message in bad:
        r = client.post("/api/readback", json={"ticket": ticket, **body})
        assert r.status_code == status and message in r.json()["error"], (body, r.text)
    r = client.post("/api/reread", json={"ticket": ticket, "text": ""})
    assert r.status_code == 422 and "the rephrased text is empty" in r.json()["error"]
    # verdicts for items not in the queue: an unknown ticket, a ticket of an item with no remark submitted
    r = client.post("/api/readback", json={"ticket": "not-a-ticket", "verdict": "accepted"})
    assert r.status_code == 404 and "not in your queue" in r.json()["error"]
    scalar = client.get("/api/next", params={"annotator": "ana", "kind": "scalar"}).json()
    r = client.post("/api/readback", json={"ticket": scalar["ticket"], "verdict": "accepted"})
    assert r.status_code == 409 and "submit the remark first" in r.json()["error"]
    assert lines(collector) == []

    r = client.post("/api/reread", json={"ticket": ticket, "text": "great, you reached the goal"})
    assert r.status_code == 200 and r.json()["lines"] and lines(collector) == []
    step = rb["reading"][0]["steps"][0]
    fix = [{"steps": f"{step + 1}", "polarity": -1, "strength": 0.5}, {"steps": "all", "polarity": 1, "strength": 0.3}]
    r = client.post("/api/readback", json={"ticket": ticket, "verdict": "fixed", "clauses": fix})
    assert r.status_code == 200, r.text
    [fb] = read_feedback(collector.out, collector.trajectories).records
    assert is_fixed(fb) and fb.labels.labeller == "ana"
    assert [(c.steps, c.polarity, c.strength) for c in fb.labels.clauses] == [
        ([step], -1, 0.5), (list(range(*seg)), 1, 0.3)]

    item2, _ = remark(client, annotator="bo")
    r = client.post("/api/readback", json={"ticket": item2["ticket"], "verdict": "rephrased",
                                           "text": "great, you reached the goal"})
    assert r.status_code == 200, r.text
    got = read_feedback(collector.out, collector.trajectories).records[1]
    assert got.readback.verdict == "rephrased" and got.readback.original_text == REMARK
    assert got.text == "great, you reached the goal"


def test_the_token_rule_holds_for_the_readback_routes(collector):
    client = TestClient(create_app(collector, token="secret-123", reader=Reader.load("keyword")),
                        base_url="http://example.org")
    r = client.post("/api/readback", json={"ticket": "x", "verdict": "accepted"})
    assert r.status_code == 401
    r = client.post("/api/reread", json={"ticket": "x", "text": "hi"}, headers={"X-NLF-Token": "wrong"})
    assert r.status_code == 403
    too_big = client.post("/api/readback", content=b"x" * 1_000_001, headers={"X-NLF-Token": "secret-123"})
    assert too_big.status_code == 413


def test_without_a_reader_text_is_written_at_once(collector):
    client = TestClient(create_app(collector), base_url=LOCAL)
    assert client.get("/api/config").json()["readback"] is None
    item = client.get("/api/next", params={"annotator": "ana", "kind": "text"}).json()
    r = client.post("/api/submit", json={"ticket": item["ticket"], "text": REMARK})
    assert r.status_code == 200 and "saved" in r.json()
    [fb] = read_feedback(collector.out).records
    assert fb.readback is None


@pytest.mark.browser
@pytest.mark.slow  # starts processes and a browser
def test_read_back_on_the_timeline_fix_one_step_in_the_browser(browser, traj_file, tmp_path):  # noqa: F811
    out = tmp_path / "human.jsonl"
    server = Server("--trajectories", str(traj_file), "--out", str(out), "--kind", "text",
                    "--readback-interpreter", "keyword")
    trajs = load_trajectories(traj_file)
    try:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_default_timeout(180_000)  # frames are rendered by replay: slow on a busy machine
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]")
        page.fill("#annotator", "dana")
        page.click("#start")
        wait_frame(page)
        page.fill("#text", REMARK)
        page.keyboard.press("Control+Enter")
        page.wait_for_selector("#readback:not([hidden])")
        assert "keyword interpreter read" in page.inner_text("#rb-title")
        good = page.eval_on_selector_all(".rb-step.good", "els => els.map(e => Number(e.dataset.step))")
        assert len(good) == 1 and page.locator(".rb-step.bad").count() == 0
        step = good[0]
        assert page.inner_text("#rb-lines") == f"step {step + 1}: good, strength 1"
        assert not out.exists() or out.read_text() == ""
        # fix one step: the reader took the key pick-up; the person meant the step after it, and badly
        other = step + 1 if page.locator(f'.rb-step[data-step="{step + 1}"]').count() else step - 1
        page.click(f'.rb-step[data-step="{step}"]')  # good -> bad
        page.click(f'.rb-step[data-step="{step}"]')  # bad -> off
        page.click(f'.rb-step[data-step="{other}"]')  # off -> good
        page.click(f'.rb-step[data-step="{other}"]')  # good -> bad
        assert page.eval_on_selector_all(".rb-step.bad", "els => els.map(e => Number(e.dataset.step))") == [other]
        assert page.locator(".rb-step.good").count() == 0
        if os.environ.get("NLF_READBACK_SCREENSHOT"):  # docs/readback.png: the reading as shown, before the fix
            page.click(f'.rb-step[data-step="{other}"]')  # bad -> off
            page.click(f'.rb-step[data-step="{step}"]')  # off -> good: the reading again
            page.screenshot(path=os.environ["NLF_READBACK_SCREENSHOT"], full_page=True)
            page.click(f'.rb-step[data-step="{step}"]')
            page.click(f'.rb-step[data-step="{step}"]')
            page.click(f'.rb-step[data-step="{other}"]')
            page.click(f'.rb-step[data-step="{other}"]')
        page.click("#rb-fix")
        page.wait_for_function("() => document.getElementById('message').textContent.includes('read-back fixed')")
        assert page.is_visible("#rb-next")
        page.keyboard.press("n")  # next item
        page.wait_for_function("() => document.getElementById('progress').textContent.includes('text: item 2 of')")
        assert page.is_hidden("#readback") and page.is_visible("#text")
        assert errors == []
    finally:
        server.proc.terminate()
        server.proc.communicate(timeout=180)
    [fb] = read_feedback(out, trajs).records  # validates against the schema and the trajectories
    assert fb.text == REMARK and is_fixed(fb) and fb.source.annotator == "dana"
    assert [(c.steps, c.polarity) for c in fb.readback.reading] == [([step], 1)]
    assert [(c.steps, c.polarity, c.strength) for c in fb.labels.clauses] == [([other], -1, 1.0)]
    assert 0 <= fb.readback.seconds <= fb.annotation_seconds
