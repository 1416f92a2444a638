"""The `nlf serve` API (FastAPI TestClient): items, frames, every kind of answer, bad payloads, tokens, paths."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from nlfeedback.collect.collector import Collector
from nlfeedback.collect.web.app import create_app, is_loopback
from nlfeedback.feedback import read_feedback

LOCAL = "http://127.0.0.1:8765"


@pytest.fixture
def collector(doorkey_trajectories, tmp_path):
    with Collector(doorkey_trajectories, tmp_path / "out" / "human.jsonl") as c:
        yield c


@pytest.fixture
def client(collector):
    return TestClient(create_app(collector), base_url=LOCAL)


def next_item(client, kind, annotator="alice", **kw):
    r = client.get("/api/next", params={"annotator": annotator, "kind": kind}, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def full_stroke(seg, n=50):
    a, b = seg["start"], seg["end"]
    return [[a + (b - a) * i / (n - 1), -0.5 + i / (n - 1)] for i in range(n)]


def test_page_config_item_and_frames(client, collector):
    page = client.get("/")
    assert page.status_code == 200 and "sketch canvas" in page.text and page.headers["content-type"].startswith("text/html")
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200
    cfg = client.get("/api/config").json()
    assert cfg["kinds"] == ["text", "scalar", "sketch", "preference"] and cfg["token_required"] is False
    item = next_item(client, "preference")
    assert item["finished"] is False and item["number"] == 1 and item["total"] == 12
    left, right = item["segments"]
    assert (left["side"], right["side"]) == ("left", "right") and left["trajectory_id"] != right["trajectory_id"]
    traj = collector.trajectories[left["trajectory_id"]]
    assert len(left["states"]) == left["end"] - left["start"] + 1
    assert left["states"][1]["caption"] == traj.captions[left["start"]]
    png = client.get(f"/api/frames/{traj.id}/{len(traj)}")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert client.get(f"/api/frames/{traj.id}/{len(traj) + 1}").status_code == 404
    assert client.get(f"/api/frames/{traj.id}/-1").status_code == 404
    assert "no trajectory 'traj-nope'" in client.get("/api/frames/traj-nope/0").json()["error"]


def test_every_kind_is_written_as_human_feedback(client, collector):
    answers = {"text": {"text": "  good, but avoid the wall at step 2 "}, "scalar": {"value": 8},
               "preference": {"preferred": 1}}
    for kind in ("text", "scalar", "sketch", "preference"):
        item = next_item(client, kind)
        body = {"ticket": item["ticket"], "seconds": 4.25, **answers.get(kind, {})}
        if kind == "sketch":
            body["points"] = full_stroke(item["segments"][0])
        time.sleep(0.01)
        r = client.post("/api/submit", json=body)
        assert r.status_code == 200, r.text
        rec = r.json()["record"]
        assert rec["source"] == {"type": "human", "annotator": "alice", "noise": {}} and "intent" not in rec
        assert 0 < rec["annotation_seconds"] <= 4.25  # the page's time, capped by the server's own clock
        assert r.json()["done"] == 1 and r.json()["left"] == 11
    got = {fb.kind: fb for fb in read_feedback(collector.out, collector.trajectories).records}
    assert got["text"].text == "good, but avoid the wall at step 2" and got["scalar"].value == 8.0
    assert got["scalar"].scale == [0.0, 10.0] and got["preference"].preferred == 1
    sk = got["sketch"]
    assert len(sk.curve) == sk.segment[1] - sk.segment[0]
    assert sk.curve[-1] == pytest.approx(0.5, abs=0.01) and sk.curve == sorted(sk.curve)  # rising stroke
    # the next item of each kind is a different one; another annotator starts from the beginning
    assert next_item(client, "text")["number"] == 2 and next_item(client, "text", "bob")["number"] == 1


def test_skip_and_already_answered(client, collector):
    first = next_item(client, "text")
    assert client.post("/api/skip", json={"ticket": first["ticket"]}).json() == {"skipped": True}
    second = next_item(client, "text")
    assert second["segments"][0]["trajectory_id"] != first["segments"][0]["trajectory_id"]
    twice = next_item(client, "text")  # the same item in a second tab
    assert twice["segments"] == second["segments"]
    assert client.post("/api/submit", json={"ticket": second["ticket"], "text": "ok"}).status_code == 200
    r = client.post("/api/submit", json={"ticket": twice["ticket"], "text": "again"})
    assert r.status_code == 409 and "already answered" in r.json()["error"]
    r = client.post("/api/submit", json={"ticket": second["ticket"], "text": "ok"})
    assert r.status_code == 404 and "reload the page" in r.json()["error"]
    assert len(read_feedback(collector.out).records) == 1


BAD = [
    ("text", {"text": "   "}, "the feedback text is empty"),
    ("text", {"value": 3}, "a text answer needs the field 'text'"),
    ("text", {"text": "ok", "value": 3}, "a text answer has only the field 'text', not 'value'"),
    ("text", {"text": 5}, "field 'text': Input should be a valid string"),
    ("text", {"text": "ok", "color": "red"}, "field 'color': unknown field"),
    ("text", {"text": "ok", "seconds": -2}, "field 'seconds': Input should be greater than or equal to 0"),
    ("scalar", {"value": 11}, "the rating 11 is outside the scale: give a number from 0 to 10"),
    ("scalar", {"value": "7"}, "field 'value': expected a number, got \"7\""),
    ("scalar", {"value": True}, "field 'value': expected a number, got true"),
    ("sketch", {"points": [[0, 0], [1, 0.5]]}, "draw across the whole segment"),
    ("sketch", {"points": [[0, 0], [10_000, 0.5]]}, "sketch point 1: x = 10000 is outside the segment"),
    ("sketch", {"points": [[0, 0], [1, 3]]}, "sketch point 1: y = 3 is outside [-1, 1]"),
    ("sketch", {"points": [[0, 0, 1]]}, "field 'points.0'"),
    ("sketch", {"points": []}, "a sketch needs between 1 and 20000 points"),
    ("preference", {"preferred": 2}, "field 'preferred': Input should be 0, 1 or 0.5"),
    ("preference", {"preferred": True}, "field 'preferred': expected a number, got true"),
    ("sketch", {"points": [[0, 0], [1, False]]}, "field 'points': point 1: coordinates must be numbers, got [1, false]"),
]


@pytest.mark.parametrize("kind, body, message", BAD)
def test_bad_payloads_are_422_with_a_clear_message(client, collector, kind, body, message):
    item = next_item(client, kind)
    r = client.post("/api/submit", json={"ticket": item["ticket"], **body})
    assert r.status_code == 422 and message in r.json()["error"], r.text
    assert not collector.out.exists() or collector.out.read_text() == ""


def test_bad_requests_are_422_too(client):
    r = client.post("/api/submit", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]
    for raw, field in (('"value": NaN', "field 'value'"), ('"value": Infinity', "field 'value'")):
        ticket = next_item(client, "scalar")["ticket"]
        r = client.post("/api/submit", content=f'{{"ticket": "{ticket}", {raw}}}'.encode(),
                        headers={"content-type": "application/json"})
        assert r.status_code == 422 and field in r.json()["error"], r.text
    ticket = next_item(client, "sketch")["ticket"]
    r = client.post("/api/submit", content=f'{{"ticket": "{ticket}", "points": [[0, NaN]]}}'.encode(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "sketch point 0: coordinates must be finite numbers" in r.json()["error"]
    r = client.post("/api/submit", json={"text": "no ticket"})
    assert r.status_code == 422 and "field 'ticket': missing field" in r.json()["error"]
    r = client.get("/api/next", params={"annotator": " ", "kind": "text"})
    assert r.status_code == 422 and "annotator name is empty" in r.json()["error"]
    r = client.get("/api/next", params={"annotator": "x" * 65, "kind": "text"})
    assert r.status_code == 422 and "longer than 64" in r.json()["error"]
    r = client.get("/api/next", params={"annotator": "a", "kind": "video"})
    assert r.status_code == 422 and "kind 'video' is not collected here" in r.json()["error"]
    r = client.get("/api/next", params={"kind": "text"})
    assert r.status_code == 422 and "field 'annotator': missing field" in r.json()["error"]


def test_token_is_required_on_every_request(collector):
    app = create_app(collector, token="s3cret-token")
    anon = TestClient(app, base_url="http://192.168.1.20:8765")
    for path in ("/", "/static/app.js", "/api/config", "/api/frames/x/0"):
        r = anon.get(path)
        assert r.status_code == 401 and "needs its token" in r.json()["error"]
    assert anon.post("/api/submit", json={"ticket": "t", "text": "x"}).status_code == 401
    assert anon.get("/api/config", headers={"X-NLF-Token": "guess"}).status_code == 403
    assert anon.get("/api/config", params={"token": "s3cret-token!"}).status_code == 403
    assert anon.get("/api/config", headers={"X-NLF-Token": "s3cret-token"}).status_code == 200
    assert anon.get("/api/config", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    browser = TestClient(app, base_url="http://192.168.1.20:8765")
    page = browser.get("/", params={"token": "s3cret-token"})  # the printed URL sets a cookie...
    assert page.status_code == 200 and "httponly" in page.headers["set-cookie"].lower()
    assert browser.get("/api/config").json()["token_required"] is True  # ...that later requests carry
    assert not collector.out.exists() or collector.out.read_text() == ""


def test_without_a_token_only_loopback_host_names_are_served(collector):
    assert TestClient(create_app(collector), base_url="http://localhost:8765").get("/api/config").status_code == 200
    r = TestClient(create_app(collector), base_url="http://attacker.example").get("/api/config")
    assert r.status_code == 403 and "127.0.0.1 or localhost" in r.json()["error"]
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20") and not is_loopback("example.com")


def test_path_traversal_is_never_served(client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    for path in ("/static/../../../../etc/passwd", "/static/..%2F..%2F..%2Fetc%2Fpasswd", "/static/%2e%2e/app.py",
                 "/static/app.py", "/static/index.html/../app.py", f"/static/{secret}",
                 "/api/frames/..%2F..%2Fetc%2Fpasswd/0", "/api/frames/%2e%2e/0", "/../../etc/passwd"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "root:" not in r.text and "top secret" not in r.text and "import" not in r.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_serve_refuses_a_public_address_without_a_token_and_raw_traversal_gets_404(traj_file, tmp_path):
    nlf = [sys.executable, "-c", "from cli.main import main; main()", "serve", "-t", str(traj_file)]
    r = subprocess.run([*nlf, "--out", str(tmp_path / "o.jsonl"), "--host", "0.0.0.0"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "pass --token SECRET" in r.stderr
    assert not (tmp_path / "o.jsonl").exists()
    r = subprocess.run([*nlf, "--out", str(tmp_path / "o.jsonl"), "--kind", "video"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "--kind 'video'" in r.stderr

    port = _free_port()
    out = tmp_path / "served.jsonl"
    proc = subprocess.Popen([*nlf, "--out", str(out), "--port", str(port), "--kind", "text", "--no-readback"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        while "open http" not in line:
            line = proc.stdout.readline()
            assert line, "nlf serve exited before it was ready"
        assert f"http://127.0.0.1:{port}/" in line
        for raw in (b"GET /static/../../../etc/passwd HTTP/1.1", b"GET /static/..%2f..%2fetc%2fpasswd HTTP/1.1",
                    b"GET /api/frames/../../../etc/passwd HTTP/1.1"):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(raw + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                reply = b""
                while chunk := s.recv(65536):
                    reply += chunk
            assert reply.split(b"\r\n", 1)[0] in (b"HTTP/1.1 404 Not Found", b"HTTP/1.1 400 Bad Request"), raw
            assert b"root:" not in reply
    finally:
        proc.terminate()  # SIGTERM: uvicorn shuts down cleanly
        proc.wait(30)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served.jsonl", "trajectories.jsonl"]
    assert out.read_text() == ""
