"""Line-oriented JSONL reading and writing shared by every record type.

Reading reports each bad line as ``path:line: reason`` (a :class:`RecordError`) and either stops at the
first one (default) or skips and counts (``skip_invalid=True``). A final line without a newline is a
write that was cut short (crash, Ctrl-C, full disk): it is reported, never parsed.

Writing appends whole lines under an advisory ``flock`` so that two processes can append to one file
without interleaving; interactive writers ``fsync`` after every record so that a crash loses at most
the record being written.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from nlfeedback.errors import NlfError, RecordError

T = TypeVar("T")


def format_validation_error(err: ValidationError) -> str:
    """One readable line naming the first bad field (and how many more there are)."""
    errors = err.errors(include_url=False)
    parts = []
    for e in errors[:3]:
        loc = ".".join(str(p) for p in e.get("loc", ())) or "record"
        msg = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif e.get("type") == "missing":
            msg = "missing field"
        parts.append(f"field '{loc}': {msg}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def iter_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(line_number, raw_line_without_newline, has_newline)`` for every line of a file."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            has_newline = raw.endswith(b"\n")
            yield number, raw.rstrip(b"\n").rstrip(b"\r"), has_newline


def decode_json_line(path: Path, number: int, raw: bytes, has_newline: bool) -> dict[str, Any] | None:
    """Parse one raw line into a JSON object, or raise :class:`RecordError`. Blank lines give ``None``."""
    if not has_newline:
        raise RecordError(
            path, number, "truncated final line (no trailing newline: the write was cut short); not parsed"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RecordError(path, number, f"not valid UTF-8 (byte {e.start})") from None
    if not text.strip():
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise RecordError(path, number, f"invalid JSON: {e.msg} at column {e.colno}") from None
    except (ValueError, RecursionError) as e:
        raise RecordError(path, number, f"invalid JSON: {str(e)[:120] or type(e).__name__}") from None
    if not isinstance(value, dict):
        raise RecordError(path, number, f"expected a JSON object, got {type(value).__name__}")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (JSON has no NaN or Infinity)")


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
    path = Path(path)
    if not path.exists():
        raise NlfError(f"{path}: no such file")
    if path.is_dir():
        raise NlfError(f"{path}: is a directory, expected a JSONL file")
    result: ReadResult[T] = ReadResult(path)
    seen: dict[str, int] = {}
    for number, raw, has_newline in iter_lines(path):
        try:
            value = decode_json_line(path, number, raw, has_newline)
            if value is None:
                continue
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

    def write(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
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


def prepare_output(path: str | Path, *, append: bool = False, force: bool = False,
                   can_append: bool = True) -> Path:
    """Check an output path before writing: an existing file is refused unless ``append`` or ``force``.

    ``can_append=False`` is for commands without ``--append``: the refusal then names only ``--force``.
    """
    path = Path(path)
    if append and force:
        raise NlfError("--append and --force exclude each other")
    if path.exists() and path.is_dir():
        raise NlfError(f"{path}: is a directory, expected a file path")
    if path.exists() and not (append or force):
        remedy = "pass --append to add to it or --force to replace it" if can_append else "pass --force to replace it"
        raise NlfError(f"{path}: already exists; {remedy}")
    if append:
        check_appendable(path)
    return path


class ReplacingWriter(JsonlWriter):
    """Write to a temporary file next to ``path`` and move it over ``path`` only on success.

    Used for ``--force``: if the run fails or is interrupted, the old file is left exactly as it was.
    """

    def __init__(self, path: str | Path) -> None:
        self.final_path = Path(path)
        tmp = self.final_path.with_name(f".{self.final_path.name}.{os.getpid()}.tmp")
        if tmp.exists():
            tmp.unlink()
        super().__init__(tmp)

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close()
        if exc_type is None:
            os.replace(self.path, self.final_path)
        else:
            self.path.unlink(missing_ok=True)


def open_output(path: str | Path, *, append: bool = False, force: bool = False, fsync: bool = False) -> JsonlWriter:
    """A writer for a command's ``--out``, honouring ``--append`` / ``--force`` (see :func:`prepare_output`)."""
    path = prepare_output(path, append=append, force=force)
    if force and path.exists():
        return ReplacingWriter(path)
    return JsonlWriter(path, fsync=fsync)
