"""The browser collector behind ``nlf serve``: a FastAPI app over a :class:`~nlfeedback.collect.collector.Collector`.

Routes (all JSON unless said otherwise):

======================================  ===========================================================
``GET /``                               the page (``static/index.html``; no build step)
``GET /static/{name}``                  ``app.js`` or ``style.css`` — a fixed list, nothing else
``GET /api/config``                     kinds collected, rating scale, trajectory count
``GET /api/next?annotator=A&kind=K``    the annotator's next item, with a ``ticket``, or ``finished``
``GET /api/frames/{trajectory_id}/{k}`` PNG of state ``k`` (MiniGrid's RGB rendering), trajectories
                                        of the file only
``POST /api/submit``                    ``{ticket, seconds, text | value | points | preferred}``
``POST /api/skip``                      ``{ticket}``: not now (comes back after the rest)
``POST /api/reread``                    ``{ticket, text}``: read-back, the reading of a rephrased remark
                                        (nothing is written)
``POST /api/readback``                  ``{ticket, verdict, seconds, clauses | text}``: the verdict on
                                        the reading of the remark submitted under ``ticket``
======================================  ===========================================================

Read-back (with a :class:`~nlfeedback.collect.readback.Reader`): a text remark sent to ``/api/submit`` is
not written; it is read and the answer is ``{"readback": {reading, lines, segment, interpreter}}``. The
page shows the reading on the episode's timeline and sends the person's verdict to ``/api/readback``:
``accepted``, ``fixed`` with ``clauses`` (annotation format: ``steps`` as shown, ``"all"`` for the whole
run, ``polarity``, ``strength``, optional ``scope: "general"`` + ``pattern``) or ``rephrased`` with the
new ``text``. Only then is the record (:func:`~nlfeedback.feedback.readback.readback_record`) written; a
verdict under a ticket with no remark waiting (not in the person's queue, or already answered) is
refused (404 / 409) and a bad fix or an empty rephrase is 422 with the reason: nothing is written.

Safety: nothing is read from disk by a name a request gives (pages come from a fixed list, frames
are rendered from trajectories looked up by id), and the only file written is ``--out``, through the
feedback store (lock + fsync per record). Every payload is validated; a bad one is answered with 422
and ``{"error": "what is wrong"}`` (a body that is not UTF-8, or has a key twice in one object,
included); a body over ``MAX_BODY`` bytes is answered with 413 before it is read in full. With a token, every request must carry it (header
``X-NLF-Token``, ``Authorization: Bearer …``, the ``nlf_token`` cookie that ``/?token=…`` sets, or a
``token`` query parameter); without one (loopback only) requests must be addressed to a loopback host
name, which stops other web sites from reaching the collector through DNS rebinding.

``annotation_seconds`` is measured by the page (from the moment the item's first frame is drawn to the
click that submits it) and capped by the time since the server handed out the item; when the page
sends none, the server's own elapsed time is used.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import json
import secrets
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nlfeedback.collect.answers import (
    AnswerError,
    check_annotator,
    check_points,
    check_rating,
    check_text,
    curve_from_points,
    sketch_tolerance,
)
from nlfeedback.collect.collector import AlreadyAnswered, Collector
from nlfeedback.collect.frames import png_bytes, replay_frames
from nlfeedback.collect.queue import Item
from nlfeedback.collect.readback import Reader, clause_json, describe_reading
from nlfeedback.envs.tasks import ACTION_NAMES
from nlfeedback.errors import NlfError
from nlfeedback.feedback.readback import ReadBackError, readback_record
from nlfeedback.feedback.schema import Clause, TextFeedback
from nlfeedback.jsonl import unique_keys

STATIC_DIR = files("nlfeedback.collect.web") / "static"  # package data
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
TOKEN_COOKIE = "nlf_token"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
MAX_TICKETS = 10_000
MAX_BODY = 1_000_000  # bytes: the largest answer (a 20,000-point sketch) is well under this


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Submission(BaseModel):
    """An answer from the page: exactly the field of the item's kind (and the measured seconds)."""

    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(min_length=1, max_length=100)
    seconds: float | None = Field(None, ge=0.0, allow_inf_nan=False)
    text: str | None = Field(None, max_length=20_000)
    value: float | None = Field(None, allow_inf_nan=False)
    points: list[tuple[float, float]] | None = Field(None, max_length=20_000)
    preferred: Literal[0, 1, 0.5] | None = None

    @field_validator("seconds", "value", "preferred", mode="before")
    @classmethod
    def _a_number(cls, v: Any) -> Any:
        if isinstance(v, (bool, str)):  # JSON true / "7" are not numbers (pydantic would convert them)
            raise ValueError(f"expected a number, got {json.dumps(v)}")
        return v

    @field_validator("points", mode="before")
    @classmethod
    def _numeric_points(cls, v: Any) -> Any:
        if isinstance(v, list):
            for i, p in enumerate(v):
                if isinstance(p, (list, tuple)) and any(isinstance(c, (bool, str)) for c in p):
                    raise ValueError(f"point {i}: coordinates must be numbers, got {json.dumps(p)}")
        return v


class SkipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(min_length=1, max_length=100)


class RereadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(min_length=1, max_length=100)
    text: str = Field(max_length=20_000)


class VerdictRequest(BaseModel):
    """The person's verdict on the reading of their remark (read-back)."""

    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(min_length=1, max_length=100)
    verdict: Literal["accepted", "fixed", "rephrased"]
    seconds: float | None = Field(None, ge=0.0, allow_inf_nan=False)
    clauses: list[dict[str, Any]] | None = Field(None, max_length=1_000)
    categories: list[str] = Field(default_factory=list, max_length=20)
    text: str | None = Field(None, max_length=20_000)

    @field_validator("seconds", mode="before")
    @classmethod
    def _a_number(cls, v: Any) -> Any:
        if isinstance(v, (bool, str)):
            raise ValueError(f"expected a number, got {json.dumps(v)}")
        return v


ANSWER_FIELD = {"text": "text", "scalar": "value", "sketch": "points", "preference": "preferred"}


@dataclass
class Ticket:
    annotator: str
    item: Item
    issued: float = field(default_factory=time.monotonic)
    remark: TextFeedback | None = None  # read-back: the remark submitted, waiting for the verdict
    reading: list[Clause] = field(default_factory=list)
    read_at: float = 0.0


class FrameCache:
    """PNG frames per trajectory, rendered on first use (by replay, digest-checked), least recently used dropped."""

    def __init__(self, collector: Collector, size: int = 64) -> None:
        self.collector = collector
        self.size = size
        self._cache: OrderedDict[str, list[bytes]] = OrderedDict()
        self._rendering: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, trajectory_id: str) -> list[bytes]:
        with self._lock:
            if trajectory_id in self._cache:
                self._cache.move_to_end(trajectory_id)
                return self._cache[trajectory_id]
            rendering = self._rendering.setdefault(trajectory_id, threading.Lock())
        with rendering:  # the page asks for every frame at once: render each trajectory once, not per request
            with self._lock:
                if trajectory_id in self._cache:
                    return self._cache[trajectory_id]
            try:
                _, images = replay_frames(self.collector.trajectories[trajectory_id], rgb=True)
                pngs = [png_bytes(im) for im in images or []]
            except BaseException:
                with self._lock:
                    self._rendering.pop(trajectory_id, None)
                raise
            with self._lock:
                self._cache[trajectory_id] = pngs
                self._rendering.pop(trajectory_id, None)
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return pngs


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    errors = exc.errors()
    for e in errors[:3]:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc)
        if e.get("type") == "json_invalid":
            parts.append(f"the request body is not valid JSON ({e.get('msg', '')})")
            continue
        if e.get("type") == "missing":
            parts.append(f"field '{where}': missing field" if where else "the request body is missing")
            continue
        if e.get("type") == "extra_forbidden":
            parts.append(f"field '{where}': unknown field")
            continue
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"field '{where}': {msg}" if where else msg)
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


class BodyGuard:
    """ASGI middleware in front of the app: a request body is read up to ``limit`` bytes (413 beyond, without
    reading the rest), must be UTF-8 and, when it is JSON, must not repeat a key inside one object (422
    ``{"error"}`` otherwise); the checked body is then handed to the app as it came."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Any], Any]) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b"0"))
        except ValueError:
            declared = 0
        if declared > self.limit:
            await self._answer(send, 413, f"the request body is {declared} bytes; at most {self.limit} are accepted")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._answer(send, 413, f"the request body is over {self.limit} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = body_problem(body)
        if problem:
            await self._answer(send, 422, problem)
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _answer(send: Callable[[Any], Any], status: int, message: str) -> None:
        payload = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})


def body_problem(body: bytes) -> str | None:
    """What is wrong with a request body before the app parses it: not UTF-8, or a key twice in one object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"the request body is not valid UTF-8 (byte {e.start})"
    if not text.strip():
        return None
    try:
        json.loads(text, object_pairs_hook=unique_keys)
    except RecursionError:
        return "the request body is nested too deeply"
    except json.JSONDecodeError:
        return None  # the app's own parser reports invalid JSON (422 with where it failed)
    except ValueError as e:
        return f"the request body is not acceptable JSON: {e}"
    return None


def create_app(collector: Collector, *, token: str | None = None, reader: Reader | None = None) -> FastAPI:
    """The collector app. ``token``: required on every request when given; ``reader``: read text remarks
    back (see the module docstring)."""
    reading_lock = threading.Lock()  # one reading at a time (interpreters keep caches)
    app = FastAPI(title="nlfeedback collector", docs_url=None, redoc_url=None, openapi_url=None)
    tickets: OrderedDict[str, Ticket] = OrderedDict()
    skipped: dict[tuple[str, str], list[str]] = {}
    lock = threading.Lock()
    frames = FrameCache(collector)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if token is not None:
            given = (request.headers.get("x-nlf-token")
                     or _bearer(request.headers.get("authorization"))
                     or request.query_params.get("token")
                     or request.cookies.get(TOKEN_COOKIE))
            if not given:
                return _error(401, "this collector needs its token: open the URL that `nlf serve` printed "
                                   "(…/?token=…) or send the X-NLF-Token header")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _error(403, "wrong token")
        else:
            host = _host_name(request.headers.get("host") or "")
            if host not in LOCAL_HOSTS:
                return _error(403, f"requests must be addressed to this machine (127.0.0.1 or localhost), not {host!r}")
        response = await call_next(request)
        if token is not None and request.query_params.get("token") and request.url.path == "/":
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    @app.exception_handler(AnswerError)
    async def invalid_answer(request: Request, exc: AnswerError) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(ReadBackError)
    async def invalid_readback(request: Request, exc: ReadBackError) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(NlfError)
    async def failed(request: Request, exc: NlfError) -> JSONResponse:
        return _error(500, str(exc))

    @app.get("/")
    def index() -> Response:
        return Response((STATIC_DIR / "index.html").read_bytes(), media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC_FILES:  # a fixed list: no path from a request ever reaches the file system
            return _error(404, f"no static file {name!r}")
        return Response((STATIC_DIR / name).read_bytes(), media_type=STATIC_FILES[name],
                        headers={"Cache-Control": "no-store"})

    @app.get("/api/config")
    def config() -> dict[str, Any]:
        return {"kinds": collector.kinds, "scale": list(collector.scale), "trajectories": len(collector.trajectories),
                "items": {k: len(q) for k, q in collector.queues.items()}, "token_required": token is not None,
                "readback": None if reader is None or "text" not in collector.kinds else
                {"interpreter": reader.name, "checkpoint": reader.checkpoint}}

    @app.get("/api/next")
    def next_item(annotator: str, kind: str) -> Any:
        name = check_annotator(annotator)
        if kind not in collector.queues:
            return _error(422, f"kind {kind!r} is not collected here (collecting: {', '.join(collector.kinds)})")
        pending = collector.pending(name, kind)
        progress = collector.progress(name, kind)
        summary = {"done": progress.done, "total": progress.total, "left": progress.left}
        if not pending:
            return {"finished": True, **summary}
        with lock:
            later = skipped.setdefault((name, kind), [])
            pending_keys = {it.key for it in pending}
            later[:] = [k for k in later if k in pending_keys]
            fresh = [it for it in pending if it.key not in later]
            item = fresh[0] if fresh else next(it for it in pending if it.key == later.pop(0))
            ticket = secrets.token_urlsafe(16)
            tickets[ticket] = Ticket(name, item)
            while len(tickets) > MAX_TICKETS:
                tickets.popitem(last=False)
        return {"finished": False, "ticket": ticket, "kind": kind, "number": progress.done + 1, **summary,
                "scale": list(collector.scale), "segments": [_describe(collector, item, i) for i in range(len(item.segments))],
                "sketch_tolerance": sketch_tolerance(item.segments[0].start, item.segments[0].end)}

    @app.get("/api/frames/{trajectory_id}/{step}")
    def frame(trajectory_id: str, step: int) -> Response:
        traj = collector.trajectories.get(trajectory_id)
        if traj is None:
            return _error(404, f"no trajectory {trajectory_id!r} in the trajectory set")
        if not 0 <= step <= len(traj):
            return _error(404, f"trajectory {trajectory_id} has states 0–{len(traj)}, not {step}")
        png = frames.get(trajectory_id)[step]  # a replay mismatch is an NlfError: 500 with its message
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})

    @app.post("/api/submit")
    def submit(body: Submission) -> Any:
        with lock:
            t = tickets.get(body.ticket)
        if t is None:
            return _error(404, "unknown or expired ticket (was the server restarted?): reload the page")
        item = t.item
        expected = ANSWER_FIELD[item.kind]
        given = [f for f in ANSWER_FIELD.values() if getattr(body, f) is not None]
        if expected not in given:
            return _error(422, f"a {item.kind} answer needs the field '{expected}'")
        extra = [f for f in given if f != expected]
        if extra:
            return _error(422, f"a {item.kind} answer has only the field '{expected}', not {', '.join(repr(f) for f in extra)}")
        seg = item.segments[0]
        if item.kind == "text":
            answer: dict[str, Any] = {"text": check_text(body.text)}  # type: ignore[arg-type]
        elif item.kind == "scalar":
            answer = {"value": check_rating(body.value, collector.scale), "scale": list(collector.scale)}  # type: ignore[arg-type]
        elif item.kind == "sketch":
            points = check_points(body.points, seg.start, seg.end)  # type: ignore[arg-type]
            answer = {"curve": curve_from_points(points, seg.start, seg.end,
                                                 tolerance=sketch_tolerance(seg.start, seg.end))}
        else:
            answer = {"preferred": body.preferred}
        elapsed = time.monotonic() - t.issued
        seconds = elapsed if body.seconds is None else min(body.seconds, elapsed)
        if item.kind == "text" and reader is not None:
            return read_back(body.ticket, t, answer, seconds)
        try:
            fb = collector.submit(item, t.annotator, answer, seconds)
        except AlreadyAnswered as e:
            with lock:
                tickets.pop(body.ticket, None)
            return _error(409, str(e))
        with lock:
            tickets.pop(body.ticket, None)
        progress = collector.progress(t.annotator, item.kind)
        return {"saved": fb.id, "record": fb.to_json(), "done": progress.done, "total": progress.total,
                "left": progress.left}

    def read(remark: TextFeedback) -> dict[str, Any]:
        assert reader is not None
        with reading_lock:
            clauses = reader.read(remark, collector.trajectories[remark.trajectory_id])
        return {"clauses": clauses, "json": [clause_json(c, remark.segment) for c in clauses],
                "lines": describe_reading(clauses, remark.segment)}

    def read_back(ticket: str, t: Ticket, answer: dict[str, Any], seconds: float) -> Any:
        if collector.is_done(t.annotator, t.item):
            with lock:
                tickets.pop(ticket, None)
            return _error(409, f"{t.annotator} has already answered this item ({t.item.key}) in {collector.out}")
        remark = collector.record(t.item, t.annotator, answer, seconds)
        got = read(remark)  # type: ignore[arg-type]
        with lock:
            t.remark, t.reading, t.read_at = remark, got["clauses"], time.monotonic()  # type: ignore[assignment]
        return {"readback": {"interpreter": reader.name, "checkpoint": reader.checkpoint,  # type: ignore[union-attr]
                             "text": remark.text, "segment": list(remark.segment), "reading": got["json"],
                             "lines": got["lines"]}}

    def waiting(ticket: str) -> Ticket | JSONResponse:
        with lock:
            t = tickets.get(ticket)
        if t is None:
            return _error(404, "no remark of yours is waiting for a read-back under this ticket: the item is not "
                               "in your queue (or was answered, or the server restarted); reload the page")
        if t.remark is None:
            return _error(409, "this item has no remark waiting for a read-back: submit the remark first")
        return t

    @app.post("/api/reread")
    def reread(body: RereadRequest) -> Any:
        t = waiting(body.ticket)
        if isinstance(t, JSONResponse):
            return t
        assert t.remark is not None and reader is not None
        # the checks of a rephrase (empty, unchanged, too long): refused here with the same message
        readback_record(t.remark, interpreter=reader.name, reading=t.reading, verdict="rephrased", seconds=0.0,
                        rephrased=body.text)
        got = read(t.remark.model_copy(update={"text": body.text.strip()}))
        return {"reading": got["json"], "lines": got["lines"], "text": body.text.strip()}

    @app.post("/api/readback")
    def verdict(body: VerdictRequest) -> Any:
        t = waiting(body.ticket)
        if isinstance(t, JSONResponse):
            return t
        assert t.remark is not None and reader is not None
        elapsed = time.monotonic() - t.read_at
        seconds = elapsed if body.seconds is None else min(body.seconds, elapsed)
        record = readback_record(t.remark, interpreter=reader.name, checkpoint=reader.checkpoint,
                                 reading=t.reading, verdict=body.verdict, seconds=seconds,
                                 fix=body.clauses, categories=body.categories, rephrased=body.text)
        try:
            fb = collector.submit_record(t.item, record)
        except AlreadyAnswered as e:
            with lock:
                tickets.pop(body.ticket, None)
            return _error(409, str(e))
        with lock:
            tickets.pop(body.ticket, None)
        progress = collector.progress(t.annotator, t.item.kind)
        return {"saved": fb.id, "record": fb.to_json(), "done": progress.done, "total": progress.total,
                "left": progress.left}

    @app.post("/api/skip")
    def skip(body: SkipRequest) -> Any:
        with lock:
            t = tickets.pop(body.ticket, None)
            if t is None:
                return _error(404, "unknown or expired ticket (was the server restarted?): reload the page")
            later = skipped.setdefault((t.annotator, t.item.kind), [])
            if t.item.key not in later:
                later.append(t.item.key)
        return {"skipped": True}

    app.add_middleware(BodyGuard)  # outermost: bodies are capped before anything else reads them
    return app


def _host_name(header: str) -> str:
    """``127.0.0.1:8765`` → ``127.0.0.1``; ``[::1]:8765`` → ``[::1]``."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0] if ":" in header else header


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port``, or :class:`NlfError` saying why not (port in use, …)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        hint = "; another program (or another nlf serve) is using it: pass another --port, or --port 0 for any free one" \
            if e.errno == errno.EADDRINUSE else ""
        raise NlfError(f"cannot listen on {host}:{port}: {e.strerror or e}{hint}") from None
    sock.set_inheritable(True)
    return sock


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def _describe(collector: Collector, item: Item, index: int) -> dict[str, Any]:
    seg = item.segments[index]
    traj = collector.trajectories[seg.trajectory_id]
    states = []
    for k in range(seg.start, seg.end + 1):
        states.append({"step": k, "action": None if k == 0 else ACTION_NAMES[traj.actions[k - 1]],
                       "caption": "start" if k == 0 else traj.captions[k - 1]})
    if seg.end < len(traj):
        outcome = "the episode goes on after this segment"
    else:
        outcome = "reached the goal" if traj.success else ("timed out" if traj.truncated else "ended")
    return {"side": ("left", "right")[index] if item.kind == "preference" else "only",
            "trajectory_id": traj.id, "env_id": traj.env_id, "seed": traj.seed, "start": seg.start, "end": seg.end,
            "episode_length": len(traj), "outcome": outcome, "states": states,
            "frame_url": f"/api/frames/{traj.id}/"}


def serve(collector: Collector, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          on_ready: Callable[[str], None] | None = None, reader: Reader | None = None,
          load_reader: Callable[[], Reader | None] | None = None) -> None:
    """Run the app with uvicorn until Ctrl-C. ``on_ready`` gets the URL to open (with the token). ``reader``
    reads text remarks back; ``load_reader`` makes it once the port is bound (loading a model takes a while,
    and a port in use is reported at once)."""
    import uvicorn

    if not is_loopback(host) and not token:
        raise NlfError(f"--host {host} exposes the collector to the network: pass --token SECRET as well "
                       "(every request must then carry it)")
    sock = _bind(host, port)  # ourselves: uvicorn's own bind logs and exits 1 on a port in use
    try:
        if load_reader is not None:
            reader = load_reader()
    except BaseException:
        sock.close()
        raise
    app = create_app(collector, token=token, reader=reader)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    sock.listen(128)  # connections wait in the backlog until the server loop takes them: ready from here on
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound_port}/" + (f"?token={token}" if token else "")
    if on_ready is not None:
        on_ready(url)
    # uvicorn shuts down gracefully on Ctrl-C / SIGTERM and then re-raises the signal to the handlers it
    # found: let those note it, so that stopping the server is a normal return (every record is on disk).
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    on_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, lambda signum, frame: None) for s in stop_signals} if on_main else {}
    try:
        server.run(sockets=[sock])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
