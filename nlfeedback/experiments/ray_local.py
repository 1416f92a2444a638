"""A throw-away local Ray cluster (``ray start --head``) for tests and benchmarks, stopped afterwards.

The cluster lives in its own temp dir, on a free port, bound to 127.0.0.1, and is stopped by signalling
the ``ray start --block`` process it was started as (never ``ray stop``, which would stop every Ray
cluster of this user on the machine).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from nlfeedback.errors import NlfError

READY = "Ray runtime started"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> list[str]:
    exe = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    if not Path(exe).exists():
        raise NlfError("the `ray` command is not installed: pip install 'nlfeedback[ray]'")
    return [exe]


@contextmanager
def local_ray_cluster(num_cpus: int = 2, pythonpath: Sequence[str | Path] = (), timeout_s: float = 120.0
                      ) -> Iterator[str]:
    """Start a one-node Ray cluster and yield its address (``127.0.0.1:PORT``); stop it on exit.

    ``pythonpath`` is prepended to the workers' ``PYTHONPATH`` (so they can import e.g. test modules).
    """
    tmp = tempfile.mkdtemp(prefix="nlfray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    port = _free_port()
    env = dict(os.environ)
    paths = [str(Path(p).resolve()) for p in pythonpath] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    log_path = Path(tmp) / "ray-start.log"
    cmd = [*_ray_cli(), "start", "--head", "--block", f"--port={port}", f"--num-cpus={num_cpus}", "--num-gpus=0",
           "--node-ip-address=127.0.0.1", f"--temp-dir={tmp}", "--include-dashboard=false", "--disable-usage-stats"]
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while READY not in log_path.read_text(encoding="utf-8", errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise NlfError(f"could not start a local Ray cluster ({' '.join(cmd)}):\n{tail}")
            time.sleep(0.25)
        yield f"127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever of this cluster's process group is left (raylet, gcs_server, workers)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
