"""The terminal collector behind ``nlf collect``: watch a trajectory, then type the feedback.

Each item is shown with the ``nlf show`` rendering (a glyph grid, the action and caption of the
step); preferences show their two segments side by side, stepping together. Viewing keys (single
keys on a terminal; on a pipe, one command per line):

=====================  ===============================================
``n``, ``→``, space    next step
``p``, ``←``           previous step
``b`` / ``e``          beginning / end of the segment
``g``                  go to a step (asks for its number)
``r``                  replay the segment from its start (animated)
``a``                  list every step of the segment with its caption
``f``, Enter           give the feedback (an empty answer goes back to viewing)
``s``                  skip this item for now (it stays in the queue)
``q``                  quit (everything submitted is already saved)
``?``                  help
=====================  ===============================================

Answers: text is one line; a rating is a number in the scale; a sketch is key points
``STEP:VALUE`` (``0:0 6:0.5 12:1``, steps as shown, values in [−1, 1]) interpolated per step;
a preference is ``1`` (left), ``2`` (right) or ``=`` (can't tell). An invalid answer is asked again
with the reason. ``annotation_seconds`` runs from the moment the item is first drawn to the moment
its answer is submitted.

Read-back (text, with a :class:`~nlfeedback.collect.readback.Reader`): after a remark, its reading is
shown as one line per clause (steps as shown, sign, strength; a general rule as ``rule: stepping into lava:
bad, everywhere``; an abstention as ``not understood``) and the person accepts it (``a``, Enter), edits
it (``e``: clauses like ``3-7 bad 0.7; 12 good``, ``all good``, ``rule entered:lava bad``) or rephrases
the remark (``r``: the new text is read and shown). A bad fix or an empty rephrase is refused with the
reason and asked again; the record (:func:`~nlfeedback.feedback.readback.readback_record`) is written
only once the verdict is given, and its ``annotation_seconds`` includes the read-back. Ctrl-C stops at once: every answer already submitted is on disk (each
record is fsynced before the next item is shown); an answer being typed is lost.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from nlfeedback.collect.answers import AnswerError, parse_answer
from nlfeedback.collect.collector import AlreadyAnswered, Collector, Progress
from nlfeedback.collect.frames import Frame, replay_frames
from nlfeedback.collect.queue import Item, Segment
from nlfeedback.collect.readback import Reader, describe_reading, edit_line, parse_fix
from nlfeedback.feedback.readback import ReadBackError, readback_record
from nlfeedback.feedback.schema import FeedbackBase, TextFeedback
from nlfeedback.envs.render import LEGEND

ANSI = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "purple": "35", "grey": "90",
        "orange": "38;5;208"}
CLEAR = "\x1b[H\x1b[2J"
KEYS_LINE = ("keys: n/→ next  p/← back  b start  e end  g go to  r replay  a all steps  "
             "f/Enter answer  s skip  q quit  ? help")
HELP = """\
  n, →, space   next step             p, ←   previous step
  b / e         start / end           g      go to a step
  r             replay the segment    a      list every step with its caption
  f, Enter      give the feedback (an empty answer goes back to viewing)
  s             skip this item for now (it stays in your queue)
  q             quit (everything submitted is already saved); Ctrl-C does the same"""
SPARK = "▁▂▃▄▅▆▇█"


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C back until the block is done (a record is never half-written by our own hand)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


class Keys:
    """Single keypresses from a terminal (cbreak mode, Ctrl-C still interrupts), or lines from a pipe.

    Use :meth:`active` around a session: the terminal stays in cbreak mode (so keys typed ahead during a
    redraw are not lost) except inside :meth:`line`, which uses the terminal's own line editing; the
    original settings always come back, on Ctrl-C too.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._buf = b""
        self._saved: list | None = None

    @contextmanager
    def active(self) -> Iterator[None]:
        if not self.tty:
            yield
            return
        fd = self.stream.fileno()
        self._saved = termios.tcgetattr(fd)
        # Ctrl-C stops a session at a terminal even where the collector was started with SIGINT ignored
        # (a shell without job control starts background jobs so, and children inherit it).
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.default_int_handler) if main else None
        try:
            tty.setcbreak(fd)
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, self._saved)
            self._saved = None
            if main:
                signal.signal(signal.SIGINT, previous)

    def key(self) -> str:
        """A key name: a character, or ``enter``, ``left``, ``right``, ``home``, ``end``."""
        if not self.tty:
            line = self.stream.readline()
            if line == "":
                raise EOFError
            return line.strip() or "enter"
        fd = self.stream.fileno()
        with self._cbreak(fd):
            ch = self._buf[:1] or os.read(fd, 1)
            self._buf = self._buf[1:]
            if ch == b"":
                raise EOFError
            if ch == b"\x1b":
                seq = b""
                while select.select([fd], [], [], 0.05)[0] and len(seq) < 6:
                    seq += os.read(fd, 1)
                    if seq[-1:].isalpha() or seq.endswith(b"~"):
                        break
                return {b"[C": "right", b"[D": "left", b"[H": "home", b"[F": "end", b"[1~": "home",
                        b"[4~": "end", b"OH": "home", b"OF": "end"}.get(seq, "escape")
            if ch == b"\x04":
                raise EOFError
            if ch in (b"\r", b"\n"):
                return "enter"
            if ch[0] >= 0x80:  # the first byte of a UTF-8 character
                while select.select([fd], [], [], 0.01)[0] and len(ch) < 4:
                    ch += os.read(fd, 1)
            return ch.decode("utf-8", errors="replace")

    def line(self) -> str:
        """One line of text (the terminal's own line editing applies)."""
        if not self.tty:
            line = self.stream.readline()
            if line == "":
                raise EOFError
            return line.rstrip("\r\n")
        fd = self.stream.fileno()
        with self._cooked(fd):
            while b"\n" not in self._buf:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise EOFError
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\n", 1)
        return raw.decode("utf-8", errors="replace").rstrip("\r")

    @contextmanager
    def _cbreak(self, fd: int) -> Iterator[None]:
        if self._saved is not None:  # already in cbreak mode for the whole session
            yield
            return
        old = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)

    @contextmanager
    def _cooked(self, fd: int) -> Iterator[None]:
        if self._saved is None:
            yield
            return
        termios.tcsetattr(fd, termios.TCSADRAIN, self._saved)
        try:
            yield
        finally:
            tty.setcbreak(fd)


@dataclass
class SessionSummary:
    """What one ``nlf collect`` session did."""

    kind: str
    annotator: str
    out: str
    total: int
    done_before: int
    saved: int = 0
    skipped: int = 0
    already: int = 0
    stopped: str = "finished"  # finished | quit | interrupted | input ended

    @property
    def remaining(self) -> int:
        return self.total - self.done_before - self.saved - self.already


class TerminalCollector:
    """Runs one annotator through their queue of one kind (see the module docstring)."""

    def __init__(self, collector: Collector, annotator: str, kind: str, *, stdin: IO[str] | None = None,
                 stdout: IO[str] | None = None, color: bool | None = None, fps: float = 4.0,
                 reader: Reader | None = None) -> None:
        self.collector = collector
        self.reader = reader if kind == "text" else None
        self.annotator = annotator
        self.kind = kind
        self.keys = Keys(stdin or sys.stdin)
        self.out = stdout or sys.stdout
        interactive = self.out.isatty()
        self.color = interactive and not os.environ.get("NO_COLOR") if color is None else color
        self.clear = interactive
        self.delay = 1.0 / fps if fps > 0 else 0.0
        self._frames: dict[str, list[Frame]] = {}

    # --- output -------------------------------------------------------------------------------
    def _w(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _prompt(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _glyph(self, glyph: str, color: str | None) -> str:
        if self.color and color in ANSI:
            return f"\x1b[{ANSI[color]}m{glyph}\x1b[0m"
        return glyph

    def frames(self, trajectory_id: str) -> list[Frame]:
        if trajectory_id not in self._frames:
            if len(self._frames) > 8:
                self._frames.clear()
            self._frames[trajectory_id] = replay_frames(self.collector.trajectories[trajectory_id])[0]
        return self._frames[trajectory_id]

    def _state(self, seg: Segment, pos: int) -> Frame:
        return self.frames(seg.trajectory_id)[seg.start + min(pos, seg.length)]

    def _grid_lines(self, frame: Frame) -> list[tuple[str, int]]:
        """Rows as (styled text, visible width)."""
        return [(" ".join(self._glyph(g, c) for g, c in row), 2 * len(row) - 1) for row in frame.grid]

    def _step_line(self, frame: Frame, total: int) -> str:
        if frame.action is None:
            return f"step {frame.step}/{total}: start, {frame.carrying}"
        return f"step {frame.step}/{total}: {frame.action} → {frame.caption} ({frame.carrying})"

    def _outcome(self, seg: Segment) -> str:
        traj = self.collector.trajectories[seg.trajectory_id]
        if seg.end < len(traj):
            return "the episode goes on after this segment"
        return "reached the goal" if traj.success else ("timed out" if traj.truncated else "ended")

    def draw(self, item: Item, pos: int, number: int, total: int) -> None:
        if self.clear:
            self.out.write(CLEAR)
        self._w(f"[{number}/{total}] {self.kind} feedback · annotator {self.annotator}")
        self._w(LEGEND)
        if item.kind != "preference":
            seg = item.segments[0]
            traj = self.collector.trajectories[seg.trajectory_id]
            self._w(f"{traj.env_id} seed {traj.seed} · {seg.describe(len(traj))} · {self._outcome(seg)}")
            frame = self._state(seg, pos)
            self._w(self._step_line(frame, len(traj)))
            for text, _ in self._grid_lines(frame):
                self._w(text)
        else:
            columns = []
            for side, seg in zip(("LEFT (1)", "RIGHT (2)"), item.segments):
                traj = self.collector.trajectories[seg.trajectory_id]
                frame = self._state(seg, pos)
                columns.append((side, seg, traj, frame))
                self._w(f"{side}: {traj.env_id} seed {traj.seed} · {seg.describe(len(traj))} · {self._outcome(seg)}")
                self._w(f"  {self._step_line(frame, len(traj))}")
            grids = [self._grid_lines(c[3]) for c in columns]
            width = max(w for _, w in grids[0]) if grids[0] else 0
            self._w("LEFT (1)".ljust(width) + "     RIGHT (2)")
            for i in range(max(len(g) for g in grids)):
                left, lw = grids[0][i] if i < len(grids[0]) else ("", 0)
                right, _ = grids[1][i] if i < len(grids[1]) else ("", 0)
                self._w(left + " " * (width - lw) + "     " + right)
        longest = max(s.length for s in item.segments)
        self._w(f"position {pos}/{longest} in the segment")
        self._w(KEYS_LINE)

    def _list_steps(self, item: Item) -> None:
        for side, seg in zip(("left: ", "right: ") if item.kind == "preference" else ("",), item.segments):
            frames = self.frames(seg.trajectory_id)
            total = len(self.collector.trajectories[seg.trajectory_id])
            self._w(f"{side}{seg.describe(total)}")
            for frame in frames[seg.start + 1:seg.end + 1]:
                self._w(f"  {frame.step:>3}  {frame.action:<7} {frame.caption}")

    def _answer_prompt(self, item: Item) -> str:
        back = "(empty line: back to the episode)"
        if item.kind == "text":
            return f"Your feedback, one line (steps are numbered as shown) {back}:\n> "
        if item.kind == "scalar":
            lo, hi = self.collector.scale
            return f"Rate it from {lo:g} (worst) to {hi:g} (best) {back}: "
        if item.kind == "sketch":
            seg = item.segments[0]
            return (f"Sketch the progress as key points STEP:VALUE, steps {seg.start}–{seg.end}, values -1 (bad) "
                    f"to 1 (task done), e.g. {seg.start}:0 {seg.end}:1 {back}:\n> ")
        return f"Which segment was better? 1 = left, 2 = right, = can't tell {back}: "

    # --- the loop -----------------------------------------------------------------------------
    def run(self) -> SessionSummary:
        c = self.collector
        pending = c.pending(self.annotator, self.kind)
        progress = c.progress(self.annotator, self.kind)
        summary = SessionSummary(self.kind, self.annotator, str(c.out), progress.total, progress.done)
        self._w(f"{self.kind} feedback by {self.annotator} → {c.out}: {progress.total} items in the queue, "
                f"{progress.done} already done, {len(pending)} to go")
        if self.reader is not None:
            self._w(f"read-back: each remark is read by the {self.reader.describe()} interpreter and shown to you")
        try:
            with self.keys.active():
                self._loop(pending, progress, summary)
        except KeyboardInterrupt:
            summary.stopped = "interrupted"
            self._w("")
        except EOFError:
            summary.stopped = "input ended"
        return summary

    def _loop(self, pending: list[Item], progress: Progress, summary: SessionSummary) -> None:
        c = self.collector
        for i, item in enumerate(pending):
            if c.is_done(self.annotator, item):
                summary.already += 1
                continue
            number = progress.done + i + 1
            outcome = self._ask(item, number, progress.total)
            if outcome == "saved":
                summary.saved += 1
            elif outcome == "already":
                summary.already += 1
            elif outcome == "skipped":
                summary.skipped += 1
            else:
                summary.stopped = "quit"
                break

    def _ask(self, item: Item, number: int, total: int) -> str:
        pos = 0
        longest = max(s.length for s in item.segments)
        self.draw(item, pos, number, total)
        shown_at = time.monotonic()
        while True:
            k = self.keys.key()
            key = k.lower() if len(k) == 1 else k
            if key in ("n", "right", " ", "l"):
                pos = min(pos + 1, longest)
            elif key in ("p", "left", "h"):
                pos = max(pos - 1, 0)
            elif key in ("b", "home", "0"):
                pos = 0
            elif key in ("e", "end"):
                pos = longest
            elif key == "g":
                pos = self._goto(item, pos)
            elif key == "r":
                for p in range(longest + 1):
                    self.draw(item, p, number, total)
                    time.sleep(self.delay)
                pos = longest
                continue
            elif key == "a":
                self._list_steps(item)
                continue
            elif key in ("?",):
                self._w(HELP)
                continue
            elif key == "s":
                self._w("skipped (it stays in your queue)")
                return "skipped"
            elif key == "q":
                return "quit"
            elif key in ("f", "enter"):
                outcome = self._answer(item, shown_at)
                if outcome is not None:
                    return outcome
            else:
                self._w(f"unknown key {k!r}; press ? for help")
                continue
            self.draw(item, pos, number, total)

    def _goto(self, item: Item, pos: int) -> int:
        seg = item.segments[0]
        lo, hi = (seg.start, seg.end) if item.kind != "preference" else (0, max(s.length for s in item.segments))
        self._prompt(f"go to step ({lo}–{hi}): ")
        raw = self.keys.line().strip()
        try:
            step = int(raw)
        except ValueError:
            return pos
        step = min(max(step, lo), hi)
        return step - lo

    def _answer(self, item: Item, shown_at: float) -> str | None:
        while True:
            self._prompt(self._answer_prompt(item))
            line = self.keys.line()
            if not line.strip():
                return None
            try:
                answer = parse_answer(item, line, self.collector.scale)
            except AnswerError as e:
                self._w(f"✗ {e}")
                continue
            seconds = time.monotonic() - shown_at
            verdict = ""
            try:
                if self.reader is not None:
                    remark = self.collector.record(item, self.annotator, answer, seconds)
                    record = self._readback(remark)  # type: ignore[arg-type]
                    verdict = f", read-back {record.readback.verdict}"  # type: ignore[attr-defined]
                    seconds = record.annotation_seconds
                    with interrupts_deferred():
                        fb = self.collector.submit_record(item, record)
                else:
                    with interrupts_deferred():
                        fb = self.collector.submit(item, self.annotator, answer, seconds)
            except AlreadyAnswered:
                self._w("this item is already answered by you in the output file (another session?); moving on")
                return "already"
            except (AnswerError, ReadBackError) as e:
                self._w(f"✗ {e}")
                continue
            extra = ""
            if "curve" in answer:
                extra = "  curve " + "".join(SPARK[min(7, int((v + 1) / 2 * 8))] for v in answer["curve"])
            self._w(f"✓ saved {fb.id} ({seconds:.1f} s{verdict}){extra}")
            return "saved"

    # --- read-back ------------------------------------------------------------------------------
    def _show_reading(self, title: str, reading: list, segment: list[int]) -> None:
        self._w(title)
        for line in describe_reading(reading, segment):
            color = "green" if ": good" in line else "red" if ": bad" in line else None
            self._w("  " + (self._glyph(line, color) if color else line))

    def _readback(self, remark: TextFeedback) -> FeedbackBase:
        """Show ``remark``'s reading and return the record of the person's verdict (not yet written)."""
        assert self.reader is not None
        traj = self.collector.trajectories[remark.trajectory_id]
        started = time.monotonic()
        reading = self.reader.read(remark, traj)
        seg = list(remark.segment)
        self._show_reading(f"How the {self.reader.name} interpreter read your remark "
                           f"(steps as shown, {seg[0] + 1}–{seg[1]}):", reading, seg)
        base = dict(interpreter=self.reader.name, checkpoint=self.reader.checkpoint, reading=reading)
        new_text: str | None = None
        while True:
            if new_text is None:
                self._prompt("Is that what you meant? a/Enter accept · e edit · r rephrase: ")
            else:
                self._prompt("a/Enter keep the new text · r rephrase again: ")
            k = self.keys.key()
            key = k.lower() if len(k) == 1 else k
            if key not in ("enter",) and self.keys.tty:
                self._w(k)
            elif self.keys.tty:
                self._w("")
            if key in ("a", "enter", "y"):
                verdict = "accepted" if new_text is None else "rephrased"
                return readback_record(remark, verdict=verdict, rephrased=new_text,
                                       seconds=time.monotonic() - started, **base)
            if key == "e" and new_text is None:
                record = self._edit(remark, traj, reading, started, base)
                if record is not None:
                    return record
            elif key == "e":
                self._w("✗ a rephrased remark is kept with its new reading: accept it (a) or rephrase again (r)")
            elif key == "r":
                text = self._rephrase(remark, started, base)
                if text is not None:
                    new_text = text
                    new_reading = self.reader.read(remark.model_copy(update={"text": text}), traj)
                    self._show_reading("How the new text was read:", new_reading, seg)
            else:
                self._w(f"unknown key {k!r}: a accept, e edit, r rephrase")

    def _edit(self, remark: TextFeedback, traj, reading: list, started: float, base: dict) -> FeedbackBase | None:
        seg = list(remark.segment)
        self._w(f"Write the clauses you meant, separated by ';': STEPS SIGN [STRENGTH] with steps as shown "
                f"({seg[0] + 1}–{seg[1]}), e.g. '3-7 bad 0.7; 12 good', 'all good' (the whole run), "
                "'rule entered:lava bad' (everywhere). Empty line: back.")
        if reading:
            self._w(f"  the reading: {edit_line(reading, seg)}")
        while True:
            self._prompt("fix> ")
            line = self.keys.line()
            if not line.strip():
                return None
            try:
                fix = parse_fix(line, seg, traj)
                return readback_record(remark, verdict="fixed", fix=fix, seconds=time.monotonic() - started, **base)
            except ReadBackError as e:
                self._w(f"✗ {e}")

    def _rephrase(self, remark: TextFeedback, started: float, base: dict) -> str | None:
        while True:
            self._prompt("Your remark in other words ('/back': back to the reading):\n> ")
            line = self.keys.line()
            if line.strip() == "/back":
                return None
            try:
                readback_record(remark, verdict="rephrased", rephrased=line, seconds=time.monotonic() - started,
                                **base)
            except ReadBackError as e:
                self._w(f"✗ {e}")
                continue
            return line.strip()
