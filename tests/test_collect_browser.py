"""The real `nlf serve` driven by headless Chromium (Playwright): draw a sketch with the mouse, type text, rate,
choose a preference, and check the JSONL lines; then the token flow from the printed URL.

Needs Debian's /usr/bin/chromium (Playwright cannot download its own browser here). With the environment
variable CI set (`.ci/run` sets it and installs Chromium) a missing browser is a failure; locally, without
CI, these tests are skipped when it is missing.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nlfeedback.feedback import read_feedback
from nlfeedback.trajectory import load_trajectories

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def _need_browser():
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    elif importlib.util.find_spec("playwright") is None:
        problem = "playwright is not installed (pip install -e '.[test]')"
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need Chromium in CI: {problem}")
    pytest.skip(f"{problem}; skipped because CI is unset (in CI this is a failure)")


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`nlf serve` in a subprocess; ``url`` is the one it printed."""

    def __init__(self, *args: str) -> None:
        cmd = [sys.executable, "-c", "from cli.main import main; main()", "serve", "--port", str(_free_port()), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))
        line = ""
        while "open http" not in line:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("nlf serve exited before it was ready: " + self.proc.stdout.read())
        self.url = line.split()[1]

    def stop(self) -> str:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        return out


def wait_frame(page, side: str = "only") -> None:
    page.wait_for_function(
        f"""() => {{ const im = document.querySelector('.viewer[data-side="{side}"] img.frame');
                   return im && im.complete && im.naturalWidth > 0; }}""")


def saved(page, action) -> None:
    """Do ``action`` and wait until the page reports a *new* saved record."""
    before = page.inner_text("#message")
    action()
    page.wait_for_function(
        """(before) => { const m = document.getElementById('message');
                         return m.className === 'ok' && m.textContent.startsWith('saved') && m.textContent !== before; }""",
        arg=before)


def choose_kind(page, kind: str) -> None:
    page.select_option("#kind", kind)
    page.wait_for_function(f"() => document.getElementById('progress').textContent.includes('{kind}: item')")


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_draw_type_rate_and_choose_in_the_browser(browser, traj_file, tmp_path):
    out = tmp_path / "human.jsonl"
    server = Server("--trajectories", str(traj_file), "--out", str(out), "--no-readback")
    trajs = load_trajectories(traj_file)
    try:
        page = browser.new_page(viewport={"width": 1040, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]")
        page.fill("#annotator", "dana")
        choose_kind(page, "sketch")
        wait_frame(page)

        # the frame under the pointer is shown while moving over the canvas
        canvas = page.locator("#sketch").bounding_box()
        x0, y0, w, h = canvas["x"], canvas["y"], canvas["width"], canvas["height"]
        info = page.evaluate("() => document.querySelector('.viewer .step-label').textContent")
        total = int(info.split("/")[1])
        page.mouse.move(x0 + w * 0.5, y0 + h * 0.5)
        assert page.inner_text(".viewer .step-label") == f"step {round(total * 0.5)}/{total}"
        page.mouse.move(x0 + w * 0.25, y0 + h * 0.5)
        assert page.inner_text(".viewer .step-label") == f"step {round(total * 0.25)}/{total}"

        # draw a rising stroke from the middle line (0) to the top (+1) across the whole segment
        page.mouse.move(x0 + 1, y0 + h / 2)
        page.mouse.down()
        for i in range(1, 61):
            page.mouse.move(x0 + 1 + (w - 2) * i / 60, y0 + h / 2 - (h / 2 - 12) * i / 60)
        page.mouse.up()
        assert "red dots" in page.inner_text("#sketch-info")
        if os.environ.get("NLF_COLLECTOR_SCREENSHOT"):
            page.mouse.move(x0 + w * 0.6, y0 + h * 0.3)
            page.screenshot(path=os.environ["NLF_COLLECTOR_SCREENSHOT"], full_page=True)  # docs/collector.png
        saved(page, lambda: page.click("#submit"))
        assert "saved fb-" in page.inner_text("#message")

        choose_kind(page, "text")
        wait_frame(page)
        page.click("#submit")  # nothing typed: the server's 422 message is shown
        page.wait_for_selector("#message.error")
        assert "the feedback text is empty" in page.inner_text("#message")
        page.fill("#text", "good, but it dithered next to the key at step 3")
        saved(page, lambda: page.keyboard.press("Control+Enter"))

        choose_kind(page, "scalar")
        wait_frame(page)
        page.click('#rating button[data-value="6"]')
        saved(page, lambda: page.click("#submit"))

        choose_kind(page, "preference")
        wait_frame(page, "left")
        wait_frame(page, "right")
        saved(page, lambda: page.click("#pref-left"))
        page.wait_for_function("() => document.getElementById('progress').textContent.includes('preference: item 2 of')")
        wait_frame(page, "left")  # the next pair: step both segments at once with the arrow key
        before = page.eval_on_selector_all(".viewer .step-label", "els => els.map(e => e.textContent)")
        page.keyboard.press("ArrowRight")
        after = page.eval_on_selector_all(".viewer .step-label", "els => els.map(e => e.textContent)")
        step = lambda label: int(label.split()[1].split("/")[0])  # noqa: E731
        assert len(after) == 2 and [step(a) - step(b) for a, b in zip(after, before)] == [1, 1]
        saved(page, lambda: page.click("#pref-tie"))
        assert errors == []
    finally:
        log = server.stop()
    assert "stopped; 5 items saved" in log

    got = read_feedback(out, trajs).records  # whole, valid lines that fit the trajectory file
    assert [fb.kind for fb in got] == ["sketch", "text", "scalar", "preference", "preference"]
    assert all(fb.source.type == "human" and fb.source.annotator == "dana" and fb.annotation_seconds > 0 for fb in got)
    assert all(fb.to_json().get("intent") is None for fb in got)
    sketch, text, scalar, pref1, pref2 = got
    n = sketch.segment[1] - sketch.segment[0]
    assert len(sketch.curve) == n  # resampled to one value per step
    assert sketch.curve == sorted(sketch.curve) and sketch.curve[0] < 0.2 and sketch.curve[-1] > 0.9
    assert text.text == "good, but it dithered next to the key at step 3"
    assert scalar.value == 6.0 and scalar.scale == [0.0, 10.0]
    assert pref1.preferred == 0 and pref2.preferred == 0.5 and pref1.id != pref2.id


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
def test_token_from_the_printed_url_works_in_the_browser(browser, traj_file, tmp_path):
    out = tmp_path / "token.jsonl"
    server = Server("--trajectories", str(traj_file), "--out", str(out), "--kind", "preference",
                    "--token", "tok-123456789")
    try:
        assert "?token=tok-123456789" in server.url
        page = browser.new_page()
        bare = page.goto(server.url.split("?")[0])
        assert bare.status == 401
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]")
        page.fill("#annotator", "eve")
        page.click("#start")
        wait_frame(page, "right")  # frames load with the cookie the printed URL set
        saved(page, lambda: page.keyboard.press("2"))
    finally:
        server.stop()
    [fb] = read_feedback(out).records
    assert fb.kind == "preference" and fb.preferred == 1 and fb.source.annotator == "eve"
