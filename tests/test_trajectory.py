"""Trajectory records: JSONL round trip, schema rejections with file:line, deterministic replay."""

from __future__ import annotations

import json

import pytest

from nlfeedback.errors import RecordError, ReplayMismatch
from nlfeedback.trajectory import Trajectory, read_trajectories, replay
from tests.conftest import write_lines


def test_jsonl_round_trip(traj_file, doorkey_trajectories):
    back = read_trajectories(traj_file).records
    assert back == doorkey_trajectories
    first_line = traj_file.read_text().splitlines()[0]
    assert first_line.startswith('{"schema": "nlf.trajectory/1"')


def test_replay_is_deterministic_and_matches_digest(doorkey_trajectories):
    t = doorkey_trajectories[0]
    a, b = replay(t), replay(t)
    assert a.images.shape == (len(t) + 1, 7, 7, 3)
    assert (a.images == b.images).all() and (a.directions == b.directions).all()


def test_digest_catches_a_tampered_action_list(doorkey_trajectories):
    t = doorkey_trajectories[0]
    actions = list(t.actions)
    # swap a turn for the opposite turn somewhere in the middle: still a valid record, different episode
    i = next(k for k, a in enumerate(actions) if a in (0, 1))
    actions[i] = 1 - actions[i]
    tampered = t.model_copy(update={"actions": actions})
    with pytest.raises(ReplayMismatch, match=t.id):
        replay(tampered)
    forged = t.model_copy(update={"obs_digest": "sha256:" + "0" * 64})
    with pytest.raises(ReplayMismatch, match="digest mismatch"):
        replay(forged)


def _good(doorkey_trajectories) -> dict:
    return doorkey_trajectories[0].to_json()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.update(schema="nlf.trajectory/9"), "wrong schema"),
        (lambda r: r.pop("schema"), "missing field 'schema'"),
        (lambda r: r.update(surprise=1), "field 'surprise': unknown field"),
        (lambda r: r.update(seed="12"), "field 'seed'"),
        (lambda r: r.update(terminated=1), "field 'terminated'"),
        (lambda r: r["actions"].__setitem__(0, 7), "field 'actions.0'"),
        (lambda r: r["actions"].__setitem__(0, -1), "field 'actions.0'"),
        (lambda r: r["rewards"].pop(), "field 'rewards': 21 entries but 'actions' has"),
        (lambda r: r.update(obs_digest="md5:abc"), "field 'obs_digest'"),
        (lambda r: r.update(actions=[], rewards=[], events=[], captions=[]), "field 'actions'"),
        (lambda r: r.pop("env_id"), "field 'env_id': missing field"),
    ],
)
def test_schema_rejections_name_file_line_and_field(tmp_path, doorkey_trajectories, mutate, message):
    good = _good(doorkey_trajectories)
    bad = json.loads(json.dumps(good))
    mutate(bad)
    path = write_lines(tmp_path / "t.jsonl", [doorkey_trajectories[1].to_json(), bad])
    with pytest.raises(RecordError) as err:
        read_trajectories(path)
    assert err.value.line == 2
    assert str(err.value).startswith(f"{path}:2: ")
    assert message in str(err.value)


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"schema": "nlf.trajectory/1", "rewards": [NaN]}', "NaN"),
    ],
)
def test_malformed_lines(tmp_path, line, message):
    path = write_lines(tmp_path / "t.jsonl", [line])
    with pytest.raises(RecordError, match=message) as err:
        read_trajectories(path)
    assert err.value.line == 1


def test_truncated_last_line_is_reported_not_parsed(tmp_path, doorkey_trajectories):
    path = tmp_path / "t.jsonl"
    full = json.dumps(_good(doorkey_trajectories))
    path.write_text(json.dumps(doorkey_trajectories[1].to_json()) + "\n" + full)  # complete JSON, no newline
    with pytest.raises(RecordError, match="truncated final line") as err:
        read_trajectories(path)
    assert err.value.line == 2


def test_duplicate_ids_are_reported(tmp_path, doorkey_trajectories):
    rec = _good(doorkey_trajectories)
    path = write_lines(tmp_path / "t.jsonl", [rec, rec])
    with pytest.raises(RecordError, match=r"duplicate id .* \(first on line 1\)"):
        read_trajectories(path)


def test_skip_invalid_counts_and_keeps_good_records(tmp_path, doorkey_trajectories):
    recs = [t.to_json() for t in doorkey_trajectories[:3]]
    path = write_lines(tmp_path / "t.jsonl", [recs[0], "garbage", recs[1], '{"schema": "x"}', recs[2]])
    result = read_trajectories(path, skip_invalid=True)
    assert [t.id for t in result.records] == [r["id"] for r in recs]
    assert [e.line for e in result.errors] == [2, 4]


def test_model_is_frozen(doorkey_trajectories):
    with pytest.raises(Exception):
        doorkey_trajectories[0].seed = 5  # type: ignore[misc]
    assert isinstance(doorkey_trajectories[0], Trajectory)
