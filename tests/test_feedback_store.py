"""Feedback schema and store: every rejection names file, line and field; appends are safe."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from nlfeedback.errors import NlfError, RecordError
from nlfeedback.feedback import FeedbackWriter, parse_feedback, read_feedback
from nlfeedback.feedback.schema import TextFeedback
from tests.conftest import write_lines


def base(traj, **kw):
    rec = {"schema": "nlf.feedback/1", "id": "fb-1", "kind": "text", "trajectory_id": traj.id,
           "segment": [0, len(traj)], "source": {"type": "human", "annotator": "ann"},
           "created_at": "2026-11-25T10:00:00Z", "annotation_seconds": 7.5, "text": "don't walk into the lava"}
    rec.update(kw)
    return rec


def kinds(traj, other):
    T = len(traj)
    return {
        "text": base(traj),
        "scalar": base(traj, id="fb-2", kind="scalar", text=None, value=7, scale=[0, 10]),
        "sketch": base(traj, id="fb-3", kind="sketch", text=None, segment=[0, 3], curve=[0.0, 0.5, 1.0]),
        "preference": base(traj, id="fb-4", kind="preference", text=None, segment=[0, T],
                           other_trajectory_id=other.id, other_segment=[0, len(other)], preferred=0.5),
    }


def clean(rec):
    return {k: v for k, v in rec.items() if v is not None}


def test_every_kind_round_trips(tmp_path, doorkey_trajectories):
    trajs = {t.id: t for t in doorkey_trajectories}
    t0, t1 = doorkey_trajectories[:2]
    recs = [clean(r) for r in kinds(t0, t1).values()]
    path = write_lines(tmp_path / "f.jsonl", recs)
    got = read_feedback(path, trajs).records
    assert [f.kind for f in got] == ["text", "scalar", "sketch", "preference"]
    for f, r in zip(got, recs):
        assert f.to_json() == r | {"source": r["source"] | {"noise": {}}}


REJECTIONS = [
    ("text", lambda r, T: r.update(schema="nlf.feedback/2"), "wrong schema"),
    ("text", lambda r, T: r.update(kind="video"), "field 'kind'"),
    ("text", lambda r, T: r.update(extra=1), "field 'extra': unknown field"),
    ("text", lambda r, T: r.pop("text"), "field 'text': missing field"),
    ("text", lambda r, T: r.update(text=5), "field 'text'"),
    ("text", lambda r, T: r.update(segment=[3, 3]), "field 'segment'"),
    ("text", lambda r, T: r.update(segment=[0]), "field 'segment'"),
    ("text", lambda r, T: r.update(segment=[-1, 2]), "field 'segment.0'"),
    ("text", lambda r, T: r.update(annotation_seconds=-1), "field 'annotation_seconds'"),
    ("text", lambda r, T: r.update(created_at="yesterday"), "field 'created_at'"),
    ("text", lambda r, T: r.update(source={"type": "human"}), "annotator"),
    ("text", lambda r, T: r.update(source={"type": "robot", "name": "x"}), "field 'source.type'"),
    ("text", lambda r, T: r.update(source={"type": "critic", "name": "language"}), "must record its 'intent'"),
    ("text", lambda r, T: r.update(intent={"type": "imperative", "categories": [], "clauses": [],
                                            "template": "x", "split": "train"}), "human feedback has no 'intent'"),
    ("text", lambda r, T: r.update(trajectory_id="traj-nope"), "field 'trajectory_id': no trajectory"),
    ("text", lambda r, T: r.update(segment=[0, T + 5]), "field 'segment'"),
    ("scalar", lambda r, T: r.update(value=11), "outside the scale"),
    ("scalar", lambda r, T: r.update(scale=[10, 0]), "low < high"),
    ("scalar", lambda r, T: r.update(value="7"), "field 'value'"),
    ("sketch", lambda r, T: r.update(curve=[0.0, 0.5]), "field 'curve': 2 values but the segment"),
    ("sketch", lambda r, T: r.update(curve=[0.0, 0.5, 1.5]), "field 'curve.2'"),
    ("preference", lambda r, T: r.update(preferred=2), "field 'preferred'"),
    ("preference", lambda r, T: r.update(other_trajectory_id="traj-gone"), "field 'other_trajectory_id'"),
    ("preference", lambda r, T: r.update(other_segment=[0, 10_000]), "field 'other_segment'"),
]


@pytest.mark.parametrize("kind, mutate, message", REJECTIONS)
def test_every_schema_rejection(tmp_path, doorkey_trajectories, kind, mutate, message):
    trajs = {t.id: t for t in doorkey_trajectories}
    t0, t1 = doorkey_trajectories[:2]
    good = clean(kinds(t0, t1)["text"])
    bad = clean(json.loads(json.dumps(kinds(t0, t1)[kind])))
    bad["id"] = "fb-bad"
    mutate(bad, len(t0))
    path = write_lines(tmp_path / "f.jsonl", [good, bad])
    with pytest.raises(RecordError) as err:
        read_feedback(path, trajs)
    assert err.value.line == 2 and str(err.value).startswith(f"{path}:2: ")
    assert message in str(err.value)


def test_garbage_text_is_valid_feedback(tmp_path, doorkey_trajectories):
    trajs = {t.id: t for t in doorkey_trajectories}
    for text in ["", "asdf qwer ;;;", "¿Por qué chocaste con la pared?", "🙂"]:
        fb = parse_feedback(clean(base(doorkey_trajectories[0], text=text)))
        assert isinstance(fb, TextFeedback) and fb.text == text
    path = write_lines(tmp_path / "f.jsonl", [clean(base(doorkey_trajectories[0], text=""))])
    assert len(read_feedback(path, trajs).records) == 1


def test_truncated_last_line_and_duplicates(tmp_path, doorkey_trajectories):
    t0 = doorkey_trajectories[0]
    rec = clean(base(t0))
    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps(rec) + "\n" + json.dumps(rec | {"id": "fb-2"}))
    with pytest.raises(RecordError, match="truncated final line") as err:
        read_feedback(path)
    assert err.value.line == 2
    path = write_lines(tmp_path / "g.jsonl", [rec, rec])
    with pytest.raises(RecordError, match="duplicate id 'fb-1'"):
        read_feedback(path)


def test_writer_refuses_duplicate_ids_and_keeps_the_file(tmp_path, doorkey_trajectories):
    fb = parse_feedback(clean(base(doorkey_trajectories[0])))
    path = tmp_path / "f.jsonl"
    with FeedbackWriter(path, fsync=True) as w:
        w.write(fb)
        with pytest.raises(NlfError, match="already in the file"):
            w.write(fb)
    with FeedbackWriter(path) as w, pytest.raises(NlfError, match="already in the file"):
        w.write(fb)
    assert len(read_feedback(path).records) == 1


def _append_many(path: str, traj_id: str, worker: int, n: int) -> None:
    from nlfeedback.feedback import FeedbackWriter, parse_feedback

    with FeedbackWriter(path, fsync=True) as w:
        for i in range(n):
            rec = {"schema": "nlf.feedback/1", "id": f"fb-w{worker}-{i}", "kind": "text", "trajectory_id": traj_id,
                   "segment": [0, 1], "source": {"type": "human", "annotator": f"a{worker}"},
                   "created_at": "2026-11-25T10:00:00Z", "annotation_seconds": 1.0, "text": "x" * (i % 50) * 40}
            w.write(parse_feedback(rec))


def test_concurrent_appends_from_two_processes_lose_nothing(tmp_path, doorkey_trajectories):
    path = tmp_path / "shared.jsonl"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), doorkey_trajectories[0].id, w, 150)) for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    records = read_feedback(path, {t.id: t for t in doorkey_trajectories}).records
    assert len(records) == 300
    assert {r.id for r in records} == {f"fb-w{w}-{i}" for w in (0, 1) for i in range(150)}


def _append_same(path: str, traj_id: str, worker: int, n: int, barrier) -> None:
    """Both workers open a writer, wait for each other, then append the same ids as fast as they can."""
    from nlfeedback.errors import NlfError
    from nlfeedback.feedback import FeedbackWriter, parse_feedback

    with FeedbackWriter(path) as w:
        barrier.wait(30)
        for i in range(n):
            rec = {"schema": "nlf.feedback/1", "id": f"fb-same-{i}", "kind": "text", "trajectory_id": traj_id,
                   "segment": [0, 1], "source": {"type": "human", "annotator": f"a{worker}"},
                   "created_at": "2026-11-25T10:00:00Z", "annotation_seconds": 1.0, "text": f"remark {i}"}
            try:
                w.write(parse_feedback(rec))
            except NlfError as e:
                assert "already in the file" in str(e)


def test_two_writers_started_together_never_both_append_an_id(tmp_path, doorkey_trajectories):
    """The duplicate check and the append happen under one lock, after reading what the other appended."""
    path = tmp_path / "shared.jsonl"
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_append_same, args=(str(path), doorkey_trajectories[0].id, w, 200, barrier))
             for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    records = read_feedback(path, {t.id: t for t in doorkey_trajectories}).records  # reads: no duplicate id
    assert sorted(r.id for r in records) == sorted(f"fb-same-{i}" for i in range(200))
