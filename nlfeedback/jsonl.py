"""Line-oriented JSONL reading and writing shared by every record type.

Lines are parsed and serialised by the :mod:`jsonlines` library (``jsonlines.Reader`` with a strict
``loads``: no NaN or Infinity, no key twice in one object; ``jsonlines.Writer``); this module adds the
``path:line:`` errors, the file lock, ``fsync`` and the all-or-nothing outputs on top.

Reading reports each bad line as ``path:line: reason`` (a :class:`RecordError`) and either stops at the
first one (default) or skips and counts (``skip_invalid=True``). A final line without a newline is a
write that was cut short (crash, Ctrl-C, full disk): it is reported, never parsed.

Writing appends whole lines under an advisory ``flock`` so that two processes can append to one file
without interleaving; interactive writers ``fsync`` after every record so that a crash loses at most
the record being written.

A command's output goes through one mechanism (:func:`check_output`, :func:`open_output`,
:func:`atomic_path`, :func:`staged_dir`): an existing output is refused without ``--force`` (or
``--append``), an output that is one of the command's inputs is refused, and everything is written to
a temporary file beside the output that replaces it (or, with ``--append``, is appended to it in one
locked write) only when the command succeeds. A failure, Ctrl-C or SIGTERM leaves the output as it was.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import jsonlines
from pydantic import ValidationError

from nlfeedback.errors import NlfError, RecordError

T = TypeVar("T")


def format_validation_error(err: ValidationError) -> str:
    """One readable line naming the first bad field (and how many more there are)."""
    errors = err.errors(include_url=False)
    parts = []
    for e in errors[:3]:
        loc = ".".join(str(p) for p in e.get("loc", ()))
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if e.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif e.get("type") == "missing":
            msg = "missing field"
        if not loc and msg.startswith("field '"):  # a whole-record check that names its field itself
            parts.append(msg)
        else:
            parts.append(f"field '{loc or 'record'}': {msg}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


class _Lines:
    """The lines of a JSONL file as :class:`jsonlines.Reader` reads them, without their line endings.

    A final line without a newline (a write cut short) is held back, never parsed: :attr:`truncated` is
    its number once iteration ends. jsonlines drops one leading record separator or BOM from a line;
    a line that starts with one gets a record separator in front, so that the JSON parser still sees
    (and rejects) the original text.
    """

    def __init__(self, fh: Iterable[bytes]) -> None:
        self._fh = fh
        self.number = 0  # the line last handed to the reader
        self.escaped = False  # whether it got a record separator in front
        self.truncated: int | None = None

    def __iter__(self) -> Iterator[bytes]:
        for number, raw in enumerate(self._fh, start=1):
            self.number = number
            if not raw.endswith(b"\n"):
                self.truncated = number
                return
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            self.escaped = raw.startswith(_SKIPPED_BY_JSONLINES)
            yield b"\x1e" + raw if self.escaped else raw


_SKIPPED_BY_JSONLINES = (b"\x1e", "\ufeff".encode("utf-8"))
_BLANK = object()  # what :func:`_strict_loads` gives for a blank line


def _strict_loads(text: str) -> Any:
    """``json.loads`` for records: no NaN or Infinity, no key twice in one object; blank text is
    :data:`_BLANK`. Every failure is a ``ValueError`` (jsonlines turns it into ``InvalidLineError``)."""
    if not text.strip():
        return _BLANK
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=unique_keys)
    except RecursionError as e:
        raise ValueError(str(e)[:120] or type(e).__name__) from None


def _line_error(path: Path, number: int, err: jsonlines.InvalidLineError, escaped: bool) -> RecordError:
    """The project's message for a line jsonlines could not read (``escaped``: see :class:`_Lines`)."""
    cause = err.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return RecordError(path, number, f"not valid UTF-8 (byte {cause.start - escaped})")
    if isinstance(cause, json.JSONDecodeError):
        return RecordError(path, number, f"invalid JSON: {cause.msg} at column {cause.colno}")
    if isinstance(cause, ValueError):
        return RecordError(path, number, f"invalid JSON: {str(cause)[:120] or type(cause).__name__}")
    return RecordError(path, number, f"invalid JSON: {err}")


def json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    """``(line_number, object)`` for every non-blank line of a JSONL file, parsed by :mod:`jsonlines`, or
    ``(line_number, RecordError)`` for a line that is not one JSON object (not UTF-8, invalid JSON, a key
    twice, NaN, not an object, or a final line cut short: reported, never parsed)."""
    with open(path, "rb") as fh:
        lines = _Lines(fh)
        with jsonlines.Reader(lines, loads=_strict_loads) as reader:
            while True:
                try:
                    value = reader.read(allow_none=True)
                except EOFError:
                    break
                except jsonlines.InvalidLineError as e:
                    yield lines.number, _line_error(path, lines.number, e, lines.escaped)
                    continue
                if value is _BLANK:
                    continue
                if not isinstance(value, dict):
                    yield lines.number, RecordError(path, lines.number,
                                                    f"expected a JSON object, got {type(value).__name__}")
                    continue
                yield lines.number, value
    if lines.truncated is not None:
        yield lines.truncated, RecordError(
            path, lines.truncated, "truncated final line (no trailing newline: the write was cut short); not parsed"
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (JSON has no NaN or Infinity)")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for ``json.loads``: a key given twice in one object is an error (JSON would
    silently keep the last)."""
    value: dict[str, Any] = {}
    for k, v in pairs:
        if k in value:
            raise ValueError(f"key {k!r} appears twice in one object")
        value[k] = v
    return value


def check_schema(value: dict[str, Any], expected: str) -> str | None:
    """Return an error message when ``value['schema']`` is not ``expected``."""
    tag = value.get("schema")
    if tag is None:
        return f"missing field 'schema' (expected '{expected}')"
    if tag != expected:
        return f"wrong schema {tag!r} (expected '{expected}')"
    return None


@dataclass
class ReadResult(Generic[T]):
    """Records read from a file, with ``(line, record)`` pairs and the errors that were skipped."""

    path: Path
    records: list[T] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)


def input_file(path: str | Path, what: str = "a JSONL file") -> Path:
    """``path``, refused with a one-line error when it does not exist or is a directory."""
    path = Path(path)
    if not path.exists():
        raise NlfError(f"{path}: no such file")
    if path.is_dir():
        raise NlfError(f"{path}: is a directory, expected {what}")
    return path


def read_records(
    path: str | Path,
    parse: Callable[[dict[str, Any]], T],
    *,
    schema: str,
    skip_invalid: bool = False,
    key: Callable[[T], str] | None = None,
) -> ReadResult[T]:
    """Read and validate every line of ``path``.

    ``parse`` turns a JSON object into a record and may raise ``ValidationError`` or ``ValueError``.
    ``key`` (e.g. the record id) makes duplicate keys an error at the line of the repeat.
    """
    path = input_file(path)
    result: ReadResult[T] = ReadResult(path)
    seen: dict[str, int] = {}
    for number, value in json_objects(path):
        try:
            if isinstance(value, RecordError):
                raise value
            problem = check_schema(value, schema)
            if problem:
                raise RecordError(path, number, problem)
            try:
                record = parse(value)
            except ValidationError as e:
                raise RecordError(path, number, format_validation_error(e)) from None
            except (ValueError, TypeError) as e:
                raise RecordError(path, number, str(e)) from None
            if key is not None:
                k = key(record)
                if k in seen:
                    raise RecordError(path, number, f"duplicate id {k!r} (first on line {seen[k]})")
                seen[k] = number
        except RecordError as e:
            if not skip_invalid:
                raise
            result.errors.append(e)
            continue
        result.records.append(record)
        result.lines.append(number)
    return result


def check_appendable(path: Path) -> None:
    """Refuse to append to a file whose last line was cut short: appending would corrupt it further."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
    if last != b"\n":
        with open(path, "rb") as fh:
            count = sum(1 for _ in fh)
        raise RecordError(
            path,
            count,
            "truncated final line (no trailing newline); refusing to append after it. "
            "Inspect the file and remove or complete that line first.",
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def encode_line(record: dict[str, Any]) -> bytes:
    """One JSONL line (UTF-8, ending in a newline) as :class:`jsonlines.Writer` writes it; NaN and
    Infinity are refused (``ValueError``), as is anything JSON cannot hold (``TypeError``)."""
    buf = io.BytesIO()
    with jsonlines.Writer(buf, dumps=_dumps) as writer:
        writer.write(record)
    return buf.getvalue()


class JsonlWriter:
    """Append JSON records to a file, a whole line per ``os.write`` under an advisory lock.

    ``fsync=True`` makes every record durable before :meth:`write` returns (interactive collection).
    Use as a context manager. The file is opened in append mode: nothing already in it is touched.
    """

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        check_appendable(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._held = False
        self.count = 0

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file's exclusive lock across several steps (check what is in the file, then append).

        Other writers wait meanwhile; :meth:`write` inside the block uses the lock already held. Do not
        ``flock`` the same file through another descriptor inside the block: that would deadlock.
        """
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._held = True
        try:
            yield
        finally:
            self._held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    @property
    def held(self) -> bool:
        """Whether this writer holds its file lock now (inside :meth:`locked`)."""
        return self._held

    def size(self) -> int:
        """The file's size in bytes now (under the lock: the offset the next record is written at)."""
        return os.fstat(self._fd).st_size

    def write(self, record: dict[str, Any]) -> None:
        self.write_bytes(encode_line(record))

    def write_bytes(self, line: bytes) -> None:
        """Append whole lines (``line`` ends with a newline) in one locked write."""
        held = self._held
        if not held:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            if self.fsync:
                os.fsync(self._fd)
        finally:
            if not held:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        self.count += 1

    def close(self) -> None:
        if self._fd >= 0:
            if not self.fsync:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file: the same path once links are resolved, or hard links to one inode."""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except OSError:
        return False


def _check_inputs(path: Path, inputs: Iterable[str | Path | None]) -> None:
    for inp in inputs:
        if inp is not None and same_file(path, inp):
            raise NlfError(f"{path}: is also an input of this command ({inp}); writing it would destroy the "
                           "input. Write to another file")


def check_output(path: str | Path, *, inputs: Iterable[str | Path | None] = (), append: bool = False,
                 force: bool = False, can_append: bool = True, can_force: bool = True) -> Path:
    """Check a command's output path before anything is computed or written.

    Refused: an output that is one of ``inputs`` (the same file after resolving links, whatever the
    flags), a directory, an existing file without ``append`` or ``force``, and appending after a cut-short
    last line. ``can_append`` / ``can_force`` say which of those flags the command has, so that the
    refusal names only those.
    """
    path = Path(path)
    if append and force:
        raise NlfError("--append and --force exclude each other")
    _check_inputs(path, inputs)
    if path.is_dir():
        raise NlfError(f"{path}: is a directory, expected a file path")
    if path.exists() and not (append or force):
        if can_append and can_force:
            remedy = "pass --append to add to it or --force to replace it"
        elif can_force:
            remedy = "pass --force to replace it"
        elif can_append:
            remedy = "pass --append to add to it"
        else:
            remedy = "delete it first or choose another path"
        raise NlfError(f"{path}: already exists; {remedy}")
    if append:
        check_appendable(path)
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NlfError(f"{path}: {parent} is a file, not a folder")
            break
    return path


prepare_output = check_output  # the name commands used before ``inputs`` was added


def temp_beside(path: Path) -> Path:
    """The temporary name a command writes ``path`` under until it succeeds: ``.NAME.PID.tmp`` beside it."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NlfError(f"{path}: cannot create its folder: {e.strerror or e}") from None


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _note_unchanged(exc: BaseException | None, path: Path, existed: bool, append: bool = False,
                    done: bool = False) -> None:
    """Say on the exception what became of the output (the CLI prints it after the error or interrupt).
    ``done``: the output was put in place before the exception (a signal held back until then)."""
    if exc is None:
        return
    if done:
        note = f"{path}: written in full before the interrupt"
    elif append:
        note = f"{path}: nothing appended (the file is as it was)"
    elif existed:
        note = f"{path}: left as it was (nothing of this run was written)"
    else:
        note = f"{path}: not written"
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back for the few system calls that put an output in place, then deliver them.

    Only in the main thread (where Python runs signal handlers); elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, lambda signum, frame: got.append(signum)) for s in sigs}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(got):
            handler = old[s]
            if callable(handler):
                handler(s, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(s)


class OutputWriter(JsonlWriter):
    """A command's JSONL output: records go to a temporary file beside ``path`` (:func:`temp_beside`).

    On success the temporary file replaces ``path`` (a new file, or ``--force``), or with ``append`` its
    lines are added to ``path`` in one write under the file lock, after checking that none of the batch's
    ``unique_key`` values (record ids) is already there. On an error, Ctrl-C or SIGTERM (which the CLI
    turns into an exception) the temporary file is removed and ``path`` is exactly as it was: a batch is
    written whole or not at all.
    """

    def __init__(self, path: str | Path, *, append: bool = False, fsync: bool = False,
                 unique_key: str | None = "id") -> None:
        self.final_path = Path(path)
        self.append = append
        self.existed = self.final_path.exists()
        self.unique_key = unique_key
        self._keys: set[str] = set()
        self._done = False
        _make_parent(self.final_path)
        tmp = temp_beside(self.final_path)
        _remove(tmp)
        super().__init__(tmp, fsync=fsync)

    def write(self, record: dict[str, Any]) -> None:
        super().write(record)
        if self.unique_key is not None and isinstance(record.get(self.unique_key), str):
            self._keys.add(record[self.unique_key])

    def _commit(self) -> None:
        with deferred_signals():
            if self.append and self.final_path.exists():
                data = self.path.read_bytes()
                with JsonlWriter(self.final_path, fsync=True) as target, target.locked():
                    if self._keys:
                        clash = sorted(self._keys & _values_of(self.final_path, self.unique_key or "id"))
                        if clash:
                            more = f" (and {len(clash) - 1} more)" if len(clash) > 1 else ""
                            raise NlfError(f"{self.final_path}: {self.unique_key} {clash[0]!r}{more} is already "
                                           "in the file; nothing appended")
                    if data:
                        target.write_bytes(data)
                self._done = True
                self.path.unlink(missing_ok=True)
            else:
                os.replace(self.path, self.final_path)
                self._done = True

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close()
        if exc is None:
            try:
                self._commit()
                return
            except BaseException as e:
                _remove(self.path)
                _note_unchanged(e, self.final_path, self.existed, self.append and self.existed, self._done)
                raise
        _remove(self.path)
        _note_unchanged(exc, self.final_path, self.existed, self.append and self.existed)


def string_values(lines: Iterable[bytes], key: str) -> set[str]:
    """Every ``key`` value (a string) on JSONL ``lines``; lines that do not parse are skipped."""
    found: set[str] = set()
    with jsonlines.Reader(lines) as reader:
        while True:
            try:
                value = reader.read(allow_none=True)
            except EOFError:
                return found
            except (jsonlines.InvalidLineError, RecursionError):
                continue
            if isinstance(value, dict) and isinstance(value.get(key), str):
                found.add(value[key])


def _values_of(path: Path, key: str) -> set[str]:
    """Every ``key`` value (a string) on the lines of a JSONL file; lines that do not parse are skipped."""
    with open(path, "rb") as fh:
        return string_values(fh, key)


def open_output(path: str | Path, *, append: bool = False, force: bool = False, fsync: bool = False,
                inputs: Iterable[str | Path | None] = (), can_append: bool = True,
                unique_key: str | None = "id") -> OutputWriter:
    """The writer of a command's JSONL ``--out`` (checked by :func:`check_output`; see :class:`OutputWriter`)."""
    path = check_output(path, inputs=inputs, append=append, force=force, can_append=can_append)
    return OutputWriter(path, append=append, fsync=fsync, unique_key=unique_key)


@contextmanager
def atomic_path(path: str | Path, *, inputs: Iterable[str | Path | None] = (), force: bool = False,
                can_force: bool = True) -> Iterator[Path]:
    """A command's output file that is not JSONL (a checkpoint): checked like :func:`check_output`, written
    under :func:`temp_beside` by the block, and renamed over ``path`` only when the block succeeds."""
    final = check_output(path, inputs=inputs, force=force, can_append=False, can_force=can_force)
    existed = final.exists()
    _make_parent(final)
    tmp = temp_beside(final)
    _remove(tmp)
    done = False
    try:
        yield tmp
        if not tmp.is_file():
            raise NlfError(f"{final}: nothing was written")
        with deferred_signals():
            os.replace(tmp, final)
            done = True
    except BaseException as e:
        _remove(tmp)
        _note_unchanged(e, final, existed, done=done)
        raise


@contextmanager
def staged_dir(path: str | Path, *, inputs: Iterable[str | Path | None] = (), force: bool = False,
               keep_partial: bool = False) -> Iterator[Path]:
    """A command's output folder (a training run): refused when it already holds files unless ``force``,
    or when an input lies inside it; written as ``.NAME.PID.tmp`` beside it by the block and moved into
    place only when the block succeeds (an old folder is replaced then, not before).

    ``keep_partial``: when the block fails or is stopped after writing something, what it wrote (a long
    run's learning curve so far) is kept as ``NAME.partial`` beside it (replacing an older one) instead of
    being deleted; ``NAME`` itself is left as it was either way."""
    final = Path(path)
    if final.exists() and not final.is_dir():
        raise NlfError(f"{final}: is a file, expected a folder")
    resolved = Path(os.path.realpath(final))
    for inp in inputs:
        if inp is not None and (resolved == Path(os.path.realpath(inp)) or resolved in Path(os.path.realpath(inp)).parents):
            raise NlfError(f"{final}: holds an input of this command ({inp}); write the run to another folder")
    existed = final.is_dir() and any(final.iterdir())
    if existed and not force:
        raise NlfError(f"{final}: already holds a run; pass --force to replace it (the old run stays until the "
                       "new one is complete) or choose another --out")
    _make_parent(final)
    tmp = temp_beside(final)
    _remove(tmp)
    tmp.mkdir()
    done = False
    try:
        yield tmp
        with deferred_signals():
            if final.exists():
                old = final.with_name(f".{final.name}.{os.getpid()}.old")
                _remove(old)
                os.rename(final, old)
                os.rename(tmp, final)
                done = True
                _remove(old)
            else:
                os.rename(tmp, final)
                done = True
    except BaseException as e:
        kept = _keep_partial(tmp, final) if keep_partial and not done else None
        if not done and kept is None:
            _remove(tmp)
        _note_unchanged(e, final, existed, done=done)
        if kept is not None:
            e.add_note(f"{kept}: what this run wrote before it stopped")
        raise


def _keep_partial(tmp: Path, final: Path) -> Path | None:
    """Move a stopped run's folder to ``NAME.partial`` (an older one is replaced); ``None`` when it holds
    nothing or cannot be moved."""
    try:
        if not tmp.is_dir() or not any(tmp.iterdir()):
            return None
        partial = final.with_name(f"{final.name}.partial")
        with deferred_signals():
            _remove(partial)
            os.rename(tmp, partial)
        return partial
    except OSError:
        return None
