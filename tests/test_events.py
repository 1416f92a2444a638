"""Each event type is produced on a hand-built action sequence in a known layout."""

from __future__ import annotations

import pytest

from nlfeedback.envs.events import EventTracker, caption_for, parse_event
from tests.scenario import ScenarioEnv

L, R, F, PICK, DROP, TOG, DONE = range(7)


def run(actions, max_steps=100):
    env = EventTracker(ScenarioEnv(max_steps=max_steps))
    env.reset(seed=0)
    out = []
    for a in actions:
        _, _, term, trunc, info = env.step(a)
        out.append((info["events"], info["caption"], term, trunc))
    return out


@pytest.mark.parametrize(
    "actions, event, caption",
    [
        ([L], "turned:left", "turned left"),
        ([R], "turned:right", "turned right"),
        ([F], "moved_forward", "moved forward"),
        ([L, F], "bumped:wall", "bumped into the wall"),
        ([F, F], "bumped:key:yellow", "bumped into the yellow key"),
        ([F, PICK], "picked_up:key:yellow", "picked up the yellow key"),
        ([PICK], "pickup_nothing", "tried to pick up nothing"),
        ([R, F, F], "bumped:key:blue", "bumped into the blue key"),
        ([R, F, PICK, L, L, F, R, F, PICK], "pickup_full:key:yellow", "tried to pick up the yellow key with full hands"),
        ([F, PICK, DROP], "dropped:key:yellow", "dropped the yellow key"),
        ([DROP], "drop_nothing", "had nothing to drop"),
        ([F, PICK, L, DROP], "drop_blocked:key:yellow", "could not drop the yellow key here"),
        ([F, PICK, F, TOG], "unlocked:door:yellow", "unlocked and opened the yellow door"),
        ([F, PICK, L, L, DROP, R, R, F, TOG], "locked_out:door:yellow",
         "tried the locked yellow door without the key"),
        ([F, PICK, F, TOG, TOG], "closed:door:yellow", "closed the yellow door"),
        ([F, PICK, F, TOG, TOG, TOG], "opened:door:yellow", "opened the yellow door"),
        ([F, PICK, F, TOG, F], "passed:door:yellow", "walked through the open yellow door"),
        ([F, PICK, F, F], "bumped:door:yellow", "bumped into the locked yellow door"),
        ([TOG], "toggled_nothing", "toggled nothing"),
        ([F, R, F], "entered:lava", "stepped into the lava"),
        ([F, PICK, F, TOG, F, F, R, F], "reached:goal", "reached the green goal"),
        ([DONE], "did_nothing", "did nothing"),
        ([L, L, L], "timeout", "ran out of time"),
    ],
)
def test_each_event_on_a_hand_built_sequence(actions, event, caption):
    steps = run(actions, max_steps=3 if event == "timeout" else 100)
    events, cap, _, _ = steps[-1]
    assert event in events, (events, cap)
    assert caption in cap


def test_locked_door_with_the_wrong_key_names_it():
    from minigrid.core.world_object import Key

    env = EventTracker(ScenarioEnv())
    env.reset(seed=0)
    u = env.unwrapped
    u.grid.set(3, 1, None)
    u.agent_pos, u.agent_dir, u.carrying = (3, 1), 0, Key("blue")
    _, _, _, _, info = env.step(TOG)
    assert info["events"] == ["locked_out:door:yellow"]
    assert "wrong key (blue key)" in info["caption"]


def test_terminal_flags_and_combined_captions():
    steps = run([F, R, F])
    events, cap, term, trunc = steps[-1]
    assert events == ["moved_forward", "entered:lava"] and term and not trunc
    assert cap == "moved forward and stepped into the lava"
    goal = run([F, PICK, F, TOG, F, F, R, F])[-1]
    assert goal[0] == ["moved_forward", "reached:goal"] and goal[2]


def test_closed_unlocked_door_opens_and_can_be_bumped():
    env = EventTracker(ScenarioEnv())
    env.reset(seed=0)
    u = env.unwrapped
    u.agent_pos, u.agent_dir = (3, 3), 0
    _, _, _, _, info = env.step(F)
    assert info["events"] == ["bumped:door:blue"] and "closed blue door" in info["caption"]
    _, _, _, _, info = env.step(TOG)
    assert info["events"] == ["opened:door:blue"]


def test_parse_event_and_caption_roundtrip():
    assert parse_event("picked_up:key:yellow") == ("picked_up", "key", "yellow")
    assert parse_event("moved_forward") == ("moved_forward", None, None)
    assert caption_for("entered:lava") == "stepped into the lava"
