"""The reader, fed arbitrary bytes and lines, returns valid records or raises RecordError with a line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlfeedback.errors import RecordError
from nlfeedback.trajectory import Trajectory, read_trajectories

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

FIELDS = ["schema", "id", "env_id", "env_kwargs", "seed", "policy", "actions", "rewards", "terminated",
          "truncated", "events", "captions", "obs_digest"]

record_like = st.fixed_dictionaries(
    {"schema": st.sampled_from(["nlf.trajectory/1", "nlf.trajectory/2", 3])},
    optional={f: json_values for f in FIELDS[1:]},
)

lines = st.one_of(
    st.binary(max_size=200),
    record_like.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
)


def _check(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.jsonl"
        path.write_bytes(data)
        try:
            result = read_trajectories(path)
        except RecordError as e:
            n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
            assert 1 <= e.line <= max(n_lines, 1)
            assert str(e).startswith(f"{path}:{e.line}: ")
        else:
            assert all(isinstance(t, Trajectory) for t in result.records)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=500))
def test_arbitrary_bytes(data):
    _check(data)


@pytest.mark.slow  # starts processes, a browser or the trained reader, or fuzzes: seconds, not ms
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(lines, max_size=5), st.booleans())
def test_arbitrary_lines(parts, final_newline):
    data = b"\n".join(parts) + (b"\n" if final_newline and parts else b"")
    _check(data)


def test_deeply_nested_json_is_a_record_error(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    try:
        read_trajectories(path)
    except RecordError as e:
        assert e.line == 1
