"""The sweep runner: every cell of an ablation grid through the online loop, on a local process pool or Ray.

Layout of a run folder::

    RUN_DIR/
      ablation.json            config, the TOML it came from, package versions, one entry per session
      config.toml              the config file as given
      cells/<cell-key>/
        result.json            the cell's result: key, status "ok" | "failed", the online loop's summary
                               (config, seed, versions, curve, final, feedback, interpretation, reward
                               metrics, gaming) or error + traceback; written atomically (temp + rename)
        run/                   what the online loop wrote (trajectories, feedback, reward, policy, curve)

Resuming: a cell whose ``result.json`` says ``"ok"`` (with the same settings) is skipped; failed cells and
cells without a result (interrupted) are run again, their ``run/`` folder cleared first. A finished text cell
whose remarks were read by another checkpoint of the trained reader than the one installed now is *stale*:
the sweep refuses to mix readers in one run folder unless asked to rerun such cells (``rerun_stale``), and
then moves each stale cell's folder to ``RUN_DIR/stale/<old digest>/<cell-key>/`` (kept, not deleted) first. A cell that raises
is recorded as failed and the sweep goes on; a worker process that dies (killed, out of memory) marks the
cells then running as failed, and the pool is restarted for the rest.

Stopping: Ctrl-C (SIGINT) stops handing out cells and waits for the running ones, whose results are
recorded (workers ignore SIGINT, so a terminal's Ctrl-C reaches only the driver's decision); a second
Ctrl-C, or SIGTERM, stops the workers at once (their cells rerun on resume). SIGUSR1 counts as a Ctrl-C: a
driver started in the background by a script inherits SIGINT ignored, and ``kill -USR1 PID`` still asks it
for the graceful stop. Workers die with the driver
even when it is killed outright (``PR_SET_PDEATHSIG`` on Linux, and a watch on the parent pid). A worker
owns its cell while it runs (an ``flock`` on ``cells/<key>/.owner``): a session never clears or reruns a
cell that a live process of an earlier session still owns, so a stale worker cannot write into a run
that is no longer its own; and one driver at a time works in a run folder (``RUN_DIR/.driver.lock``).

Backends run the same picklable :func:`execute_cell` wrapper: ``local`` on a ``spawn`` process pool of
``workers`` processes, ``ray`` as Ray tasks (``num_cpus=1`` each) on an existing cluster
(``ray.init(address="auto")`` or a given address), at most ``workers`` at a time when given. Each worker
runs PyTorch on one thread, so workers do not fight over cores. Only the driver writes result files.
"""

from __future__ import annotations

import fcntl
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nlfeedback.errors import NlfError, Terminated, sigterm_as_exception, sigusr1_as_interrupt
from nlfeedback.experiments.config import AblationConfig, Cell, CellSelection, RunSettings
from nlfeedback.versions import package_versions

RESULT_SCHEMA = "nlf.cell-result/1"
ABLATION_SCHEMA = "nlf.ablation/1"
BACKENDS = ("local", "ray")

CellFn = Callable[[Cell, RunSettings, Path], dict[str, Any]]


def run_cell(cell: Cell, run: RunSettings, out_dir: Path) -> dict[str, Any]:
    """The real cell: the online feedback loop (``nlfeedback.experiments.online.run_online``) for one cell."""
    from nlfeedback.experiments.online import OnlineConfig, run_online

    return run_online(OnlineConfig(**cell.online_kwargs(run)), out_dir)


# --------------------------------------------------------------------------------------------- one cell


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextmanager
def _single_threaded_children():
    """Spawned workers inherit one-thread settings from the start (numpy's BLAS reads them at import)."""
    saved = {v: os.environ.get(v) for v in THREAD_VARS}
    os.environ.update({v: "1" for v in THREAD_VARS})
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _limit_threads() -> None:
    """One compute thread per worker process (2 workers on 2 cores must not fight over them)."""
    for var in THREAD_VARS:
        os.environ[var] = "1"
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, tuples, paths and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return jsonable(value.tolist())
    return str(value)


def _header(cell: Cell, run: RunSettings, status: str) -> dict[str, Any]:
    return {"schema": RESULT_SCHEMA, "key": cell.key, "status": status, "cell": cell.to_json(),
            "spec": cell.online_kwargs(run)}


def failure_result(cell: Cell, run: RunSettings, error: str, tb: str = "", **extra: Any) -> dict[str, Any]:
    return {**_header(cell, run, "failed"), "error": error, "traceback": tb, **extra}


OWNER_FILE = ".owner"
OWNER_WAIT_S = 5.0  # how long a new session waits for a previous session's worker to die before refusing


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive ``flock`` on ``path``, or ``None`` if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "?"
    except OSError:
        return "?"


def execute_cell(cell_fn: CellFn, cell: Cell, run: RunSettings, cell_dir: str) -> dict[str, Any]:
    """Run one cell in this (worker) process and return its result record; never raises for cell errors.

    The cell is this process's while it runs: it holds the lock on ``cell_dir/.owner`` (see the module
    docstring), and refuses to start when another live process holds it."""
    _limit_threads()
    started, t0, c0 = _now(), time.perf_counter(), time.process_time()
    where = {"host": socket.gethostname(), "pid": os.getpid()}
    owner = Path(cell_dir) / OWNER_FILE
    try:
        owner.parent.mkdir(parents=True, exist_ok=True)  # a Ray worker on another machine may not have it
        fd = _try_lock(owner)
    except OSError:  # pragma: no cover - a filesystem without locks: run unguarded, as before
        return _execute(cell_fn, cell, run, cell_dir, started, t0, c0, where)
    if fd is None:
        return failure_result(cell, run, f"CellBusy: process {_holder(owner)} still runs this cell; it was not "
                              "started again", started_at=started, finished_at=_now(), worker=where)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}@{where['host']}\n".encode())
        return _execute(cell_fn, cell, run, cell_dir, started, t0, c0, where)
    finally:
        os.close(fd)  # releases the lock: the cell is no longer this process's


def _execute(cell_fn: CellFn, cell: Cell, run: RunSettings, cell_dir: str, started: str, t0: float, c0: float,
             where: dict[str, Any]) -> dict[str, Any]:
    try:
        summary = cell_fn(cell, run, Path(cell_dir) / "run")
        if not isinstance(summary, dict):
            raise TypeError(f"the cell function returned {type(summary).__name__}, not a summary dict")
        body = {k: v for k, v in jsonable(summary).items() if k not in ("schema", "key", "status", "cell", "spec")}
        result = {**_header(cell, run, "ok"), **body}
    except Exception as e:  # noqa: BLE001 - a failing cell is recorded, the sweep goes on
        result = failure_result(cell, run, f"{type(e).__name__}: {e}", traceback.format_exc())
    result.update(started_at=started, finished_at=_now(), wall_s=round(time.perf_counter() - t0, 3),
                  cpu_s=round(time.process_time() - c0, 3), worker=where)
    return result


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to a temp file beside ``path``, fsync, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, allow_nan=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_result(path: Path) -> dict[str, Any] | None:
    """A cell's stored result, or ``None`` if there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------------------------- the sweep


@dataclass
class SweepProgress:
    """What a progress callback receives after the plan is made and after every finished cell."""

    total: int
    done: int  # ok + failed, including cells skipped as already finished
    ok: int
    failed: int
    skipped: int
    running: list[str]
    elapsed_s: float
    eta_s: float | None  # None until a cell of this session has finished
    last: dict[str, Any] | None = None  # {"key", "status", "wall_s", "error"} of the cell that just finished


@dataclass
class SweepSummary:
    out_dir: str
    total: int
    ok: int
    failed: int
    skipped: int
    ran: int
    elapsed_s: float
    interrupted: bool = False
    failed_cells: dict[str, str] = field(default_factory=dict)  # key → error

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stored_reader(stored: dict[str, Any]) -> str | None:
    """The digest of the trained reader's checkpoint a finished cell's remarks were read with; None for cells
    without text or read by another interpreter (those never go stale when the reader is retrained)."""
    record = stored.get("interpreter") or {}
    return record.get("sha256") if record.get("name") == "trained" else None


class ReaderCheck:
    """Which finished cells another checkpoint of the trained reader read than the one installed now. The
    installed checkpoint is hashed once, when the first cell read by the trained reader asks."""

    def __init__(self) -> None:
        self._installed: str | None = None

    @property
    def installed(self) -> str:
        if self._installed is None:
            from nlfeedback.language.interpreters.trained import default_checkpoint_digest
            self._installed = default_checkpoint_digest()
        return self._installed

    def stale(self, stored: dict[str, Any]) -> str | None:
        """The digest of the other reader that read this finished cell, or None when it is current (or read
        no remarks with the trained reader)."""
        old = stored_reader(stored)
        return old if old is not None and old != self.installed else None


class _Sweep:
    """Bookkeeping shared by the backends: plan, result files, counters, progress, ETA."""

    def __init__(self, config: AblationConfig, out_dir: Path, progress: Callable[[SweepProgress], None] | None,
                 only: CellSelection | None = None, rerun_stale: bool = False):
        self.config, self.out, self.progress, self.rerun_stale = config, out_dir, progress, rerun_stale
        self.cells = config.cells(only)
        if not self.cells:
            raise NlfError(f"--only {only.describe() if only else ''}: selects no cell of the grid")
        keys = [c.key for c in self.cells]
        if len(set(keys)) != len(keys):  # pragma: no cover - guarded by config validation
            raise NlfError("the grid has duplicate cells")
        self.todo: list[Cell] = []
        self.skipped = 0
        self.ok = 0
        self.failed: dict[str, str] = {}
        self.running: set[str] = set()
        self.ran = 0
        self.stale: dict[str, str] = {}  # cell key -> the reader digest it was read with (to be rerun)
        self.t0 = time.perf_counter()
        self._plan()

    def cell_dir(self, cell: Cell) -> Path:
        return self.out / "cells" / cell.key

    def _plan(self) -> None:
        conflicts = []
        readers = ReaderCheck()
        for cell in self.cells:
            stored = read_result(self.cell_dir(cell) / "result.json")
            if stored is not None and stored.get("status") == "ok":
                if stored.get("spec") == cell.online_kwargs(self.config.run):
                    if (old_reader := readers.stale(stored)) is not None:
                        self.stale[cell.key] = old_reader
                        self.todo.append(cell)
                        continue
                    self.skipped += 1
                    self.ok += 1
                    continue
                conflicts.append(f"{cell.key}: stored {stored.get('spec')}, config asks "
                                 f"{cell.online_kwargs(self.config.run)}")
            self.todo.append(cell)
        if conflicts:
            more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
            raise NlfError(f"{self.out} holds finished cells run with other settings than this config, e.g. "
                           f"{conflicts[0]}{more}; use another --out folder (or delete those cells)")
        if self.stale and not self.rerun_stale:
            key, digest = next(iter(self.stale.items()))
            more = f" (and {len(self.stale) - 1} more)" if len(self.stale) > 1 else ""
            raise NlfError(f"{self.out} holds {len(self.stale)} finished cells whose remarks another checkpoint of "
                           f"the trained reader read, e.g. {key}{more}: read by {digest}, installed now "
                           f"{readers.installed}. One run folder holds one reader: rerun them with "
                           f"--rerun-stale (their folders move to {self.out / 'stale' / digest}/, kept), or use "
                           f"another --out folder. Nothing was started")

    def retire_stale(self) -> None:
        """Move the folders of stale cells (another reader's) to ``stale/<digest>/`` before they rerun."""
        moves = [(self.out / "cells" / key, self.out / "stale" / digest / key) for key, digest in self.stale.items()]
        taken = [dest for _src, dest in moves if dest.exists()]
        if taken:
            raise NlfError(f"{taken[0]} exists already: cannot keep the stale cell there; move it away first. "
                           "Nothing was moved or started")
        for src, dest in moves:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)

    def check_owners(self, cells: list[Cell], wait_s: float | None = None) -> None:
        """Refuse to go on while a live process of an earlier session still runs one of ``cells`` (it holds
        the cell's lock); workers of a driver that was just killed get ``wait_s`` seconds to die first."""
        deadline = time.monotonic() + (OWNER_WAIT_S if wait_s is None else wait_s)
        for cell in cells:
            owner = self.cell_dir(cell) / OWNER_FILE
            if not owner.exists():
                continue
            while (fd := _try_lock(owner)) is None:
                if time.monotonic() > deadline:
                    raise NlfError(f"cell {cell.key} is still being run by process {_holder(owner)} (a worker of an "
                                   f"earlier session?); stop it or let it finish, then run again. Nothing was "
                                   f"started and {self.out} is as it was")
                time.sleep(0.1)
            os.close(fd)

    def prepare(self, cell: Cell) -> str:
        d = self.cell_dir(cell)
        d.mkdir(parents=True, exist_ok=True)
        self.check_owners([cell], wait_s=0.0)
        shutil.rmtree(d / "run", ignore_errors=True)
        self.running.add(cell.key)
        return str(d)

    def record(self, cell: Cell, result: dict[str, Any]) -> None:
        write_json_atomic(self.cell_dir(cell) / "result.json", result)
        self.running.discard(cell.key)
        self.ran += 1
        if result.get("status") == "ok":
            self.ok += 1
            self.failed.pop(cell.key, None)
        else:
            self.failed[cell.key] = str(result.get("error", "failed"))
        self.emit({"key": cell.key, "status": result.get("status"), "wall_s": result.get("wall_s"),
                   "error": result.get("error")})

    def emit(self, last: dict[str, Any] | None = None) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.t0
        done = self.ok + len(self.failed)
        remaining = len(self.cells) - done
        eta = elapsed / self.ran * remaining if self.ran else None
        self.progress(SweepProgress(total=len(self.cells), done=done, ok=self.ok, failed=len(self.failed),
                                    skipped=self.skipped, running=sorted(self.running), elapsed_s=elapsed,
                                    eta_s=eta, last=last))

    def summary(self, interrupted: bool) -> SweepSummary:
        return SweepSummary(out_dir=str(self.out), total=len(self.cells), ok=self.ok, failed=len(self.failed),
                            skipped=self.skipped, ran=self.ran, elapsed_s=round(time.perf_counter() - self.t0, 3),
                            interrupted=interrupted, failed_cells=dict(self.failed))


def _write_ablation_json(out: Path, config: AblationConfig, config_text: str | None, session: dict[str, Any],
                         extra_versions: tuple[str, ...]) -> dict[str, Any]:
    path = out / "ablation.json"
    meta = read_result(path) or {}
    sessions = list(meta.get("sessions", []))
    sessions.append(session)
    meta = {"schema": ABLATION_SCHEMA, "config": config.to_json(),
            "config_toml": config_text if config_text is not None else meta.get("config_toml"),
            "versions": package_versions("stable_baselines3", "minigrid", "gymnasium", *extra_versions),
            "started_at": meta.get("started_at", session["started_at"]), "cells": len(config.cells()),
            "sessions": sessions}
    write_json_atomic(path, meta)
    if config_text is not None:
        (out / "config.toml").write_text(config_text, encoding="utf-8")
    return meta


def _stderr_notice(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


@contextmanager
def _driver_lock(out: Path):
    """One driver at a time in a run folder (the lock goes with the process, however it ends)."""
    path = out / ".driver.lock"
    fd = _try_lock(path)
    if fd is None:
        raise NlfError(f"{out}: another nlf ablate (process {_holder(path)}) is running in this folder; wait for "
                       "it to end or stop it first")
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        yield
    finally:
        os.close(fd)


def run_ablation(config: AblationConfig, out_dir: str | Path, workers: int | None = None, backend: str = "local",
                 ray_address: str | None = None, cell_fn: CellFn = run_cell,
                 progress: Callable[[SweepProgress], None] | None = None,
                 config_text: str | None = None, only: CellSelection | None = None,
                 notice: Callable[[str], None] | None = None, rerun_stale: bool = False) -> SweepSummary:
    """Run every unfinished cell of ``config`` (or of its ``only`` selection) into ``out_dir`` and return the
    counts; the totals count the selected cells.

    ``workers``: processes of the local pool (default 1); for Ray, the most cells in flight at once
    (default: as many as the cluster schedules). ``cell_fn(cell, run_settings, out_dir) -> summary dict``
    must be importable by the workers (a module-level function); the default runs the online loop.
    ``progress`` is called in this process after planning and after each cell; ``notice`` gets a line to
    show when the sweep is interrupted (default: stderr). ``rerun_stale``: rerun finished text cells read by
    another checkpoint of the trained reader (their folders kept under ``stale/``) instead of refusing. SIGTERM is handled like a second Ctrl-C and SIGUSR1
    like a Ctrl-C (see the module docstring) while this runs in the main thread.
    """
    if backend not in BACKENDS:
        raise NlfError(f"unknown backend {backend!r} (valid: {', '.join(BACKENDS)})")
    if workers is not None and workers < 1:
        raise NlfError(f"workers must be at least 1, got {workers}")
    if backend == "local" and ray_address:
        raise NlfError("--ray-address only applies to --backend ray")
    out = Path(out_dir).resolve()
    (out / "cells").mkdir(parents=True, exist_ok=True)
    with sigterm_as_exception(), sigusr1_as_interrupt(), _driver_lock(out):
        return _run_ablation(config, out, workers, backend, ray_address, cell_fn, progress, config_text, only,
                             notice or _stderr_notice, rerun_stale)


def _run_ablation(config: AblationConfig, out: Path, workers: int | None, backend: str, ray_address: str | None,
                  cell_fn: CellFn, progress: Callable[[SweepProgress], None] | None, config_text: str | None,
                  only: CellSelection | None, notice: Callable[[str], None], rerun_stale: bool = False) -> SweepSummary:
    sweep = _Sweep(config, out, progress, only, rerun_stale)
    sweep.check_owners(sweep.todo)
    sweep.retire_stale()
    session = {"started_at": _now(), "backend": backend, "workers": workers, "ray_address": ray_address,
               "only": only.describe() if only else "all cells", "cells_total": len(sweep.cells),
               "cells_skipped": sweep.skipped}
    meta = _write_ablation_json(out, config, config_text, session, ("ray",) if backend == "ray" else ())
    sweep.emit()
    interrupted = False
    try:
        if sweep.todo:
            if backend == "local":
                _run_local(sweep, cell_fn, workers or 1, notice)
            else:
                _run_ray(sweep, cell_fn, workers, ray_address)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        result = sweep.summary(interrupted)
        session.update(finished_at=_now(), ran=result.ran, ok=result.ok, failed=result.failed,
                       interrupted=interrupted, elapsed_s=result.elapsed_s)
        meta["sessions"][-1] = session
        write_json_atomic(out / "ablation.json", meta)
    return result


# --------------------------------------------------------------------------------------------- backends


_DIED = ("the worker process running this cell died (killed, out of memory or crashed); every cell running "
         "in the pool at that moment is marked failed and is rerun on resume")


def _run_local(sweep: _Sweep, cell_fn: CellFn, workers: int, notice: Callable[[str], None] = _stderr_notice) -> None:
    with _single_threaded_children():
        _run_pool(sweep, cell_fn, workers, notice)


PR_SET_PDEATHSIG = 1


def _worker_init(driver_pid: int) -> None:
    """Runs first in every pool worker: ignore Ctrl-C (the driver decides what stops), and die with the
    driver however it ends (the kernel's parent-death signal on Linux; a watch on the parent pid too)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the watch below still works
            pass
    if os.getppid() != driver_pid:  # the driver died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != driver_pid:
                os._exit(1)

    threading.Thread(target=watch, name="nlf-driver-watch", daemon=True).start()


def _new_pool(workers: int, ctx: Any) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                               initargs=(os.getpid(),))


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes now and wait until they are gone (their cells rerun on resume)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.kill()
    for p in procs:
        p.join(timeout=10)


def _run_pool(sweep: _Sweep, cell_fn: CellFn, workers: int, notice: Callable[[str], None] = _stderr_notice) -> None:
    ctx = multiprocessing.get_context("spawn")
    pending = deque(sweep.todo)
    in_flight: dict[Future, Cell] = {}
    run = sweep.config.run
    state = {"pool": _new_pool(workers, ctx)}
    stopping: KeyboardInterrupt | None = None  # the first Ctrl-C: finish the running cells, start no more

    def step() -> None:
        pool = state["pool"]
        while stopping is None and pending and len(in_flight) < workers:
            cell = pending.popleft()
            in_flight[pool.submit(execute_cell, cell_fn, cell, run, sweep.prepare(cell))] = cell
        broken: list[Cell] = []

        def take(done) -> None:  # collect finished cells; those lost with a dead worker go to ``broken``
            for fut in done:
                cell = in_flight.pop(fut)
                if isinstance(fut.exception(), BrokenProcessPool):
                    broken.append(cell)
                else:
                    _collect_local(sweep, cell, fut, run)

        take(wait(in_flight, return_when=FIRST_COMPLETED)[0])
        if broken:  # a worker died: every future still in flight fails with it; restart the pool
            take(wait(in_flight)[0])
            procs = dict(getattr(pool, "_processes", None) or {})
            pool.shutdown(wait=True, cancel_futures=True)
            codes = "; ".join(f"pid {pid}: {_exit_reason(p.exitcode)}" for pid, p in sorted(procs.items()))
            for cell in broken:
                sweep.record(cell, failure_result(cell, run, f"WorkerDied: {_DIED}" +
                                                  (f" (worker exits: {codes})" if codes else "")))
            state["pool"] = _new_pool(workers, ctx)

    try:
        while in_flight or (pending and stopping is None):
            try:
                step()
            except KeyboardInterrupt as e:
                if isinstance(e, Terminated) or stopping is not None or not in_flight:
                    raise
                stopping = e
                notice(f"interrupted: no more cells are started; waiting for the {len(in_flight)} running "
                       "cell(s) to finish and saving their results. Ctrl-C again (or SIGTERM) stops them now; "
                       "they rerun on resume")
        if stopping is not None:
            raise stopping
    except BaseException:
        for fut, cell in list(in_flight.items()):  # results that arrived before the stop are kept
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                in_flight.pop(fut)
                sweep.record(cell, fut.result())
        raise
    finally:
        if in_flight:
            _stop_workers(state["pool"])
        state["pool"].shutdown(wait=not in_flight, cancel_futures=True)


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _collect_local(sweep: _Sweep, cell: Cell, fut: Future, run: RunSettings) -> None:
    try:
        result = fut.result()
    except Exception as e:  # noqa: BLE001 - e.g. the cell function cannot be pickled or imported
        result = failure_result(cell, run, f"{type(e).__name__}: {e}", "".join(traceback.format_exception(e)))
    sweep.record(cell, result)


def _connect_ray(ray_address: str | None):
    try:
        import ray
    except ImportError:
        raise NlfError("the ray backend needs Ray: pip install 'nlfeedback[ray]' (or pip install 'ray>=2.9')") from None
    if ray.is_initialized():
        return ray, False
    address = ray_address or os.environ.get("RAY_ADDRESS") or "auto"
    if address != "auto" and "://" not in address:
        host, _, port = address.rpartition(":")
        try:  # ray.init retries an unreachable address for minutes; fail fast instead
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
        except (OSError, ValueError) as e:
            raise NlfError(f"could not connect to a Ray cluster at {address!r} ({e}); start one with "
                           "`ray start --head` or pass the head node's HOST:PORT as --ray-address") from None
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING", configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise NlfError(f"could not connect to a Ray cluster at {address!r}: {e}. Start one with "
                       "`ray start --head` (local) or pass --ray-address HOST:PORT") from None
    return ray, True


def _run_ray(sweep: _Sweep, cell_fn: CellFn, workers: int | None, ray_address: str | None) -> None:
    ray, connected_here = _connect_ray(ray_address)
    remote = ray.remote(num_cpus=1, max_retries=0)(execute_cell)
    run = sweep.config.run
    limit = workers or len(sweep.todo)
    pending = deque(sweep.todo)
    in_flight: dict[Any, Cell] = {}
    fn_ref = ray.put(cell_fn)
    try:
        while pending or in_flight:
            while pending and len(in_flight) < limit:
                cell = pending.popleft()
                in_flight[remote.remote(fn_ref, cell, run, sweep.prepare(cell))] = cell
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                cell = in_flight.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - worker crash, unpicklable function, …
                    result = failure_result(cell, run, f"{type(e).__name__}: {e}")
                sweep.record(cell, result)
    except KeyboardInterrupt:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        raise
    finally:
        if connected_here:
            ray.shutdown()
