"""EventTracker: per-step events and English captions for MiniGrid, derived from state before/after.

MiniGrid's ``info`` is empty, so the tracker snapshots what matters before each step (position,
direction, carried object, the cell in front and a door's state) and compares it with the state after.

Events are machine-readable strings ``verb[:object[:color]]``:

| event | caption |
|---|---|
| ``turned:left`` / ``turned:right`` | turned left / turned right |
| ``moved_forward`` | moved forward |
| ``passed:door:C`` | walked through the open C door |
| ``bumped:wall`` / ``bumped:door:C`` / ``bumped:key:C`` … | bumped into the wall / the locked C door / the C key |
| ``picked_up:key:C`` | picked up the C key |
| ``pickup_nothing`` / ``pickup_full:key:C`` | tried to pick up nothing / tried to pick up the C key with full hands |
| ``dropped:key:C`` / ``drop_nothing`` / ``drop_blocked:key:C`` | dropped the C key / had nothing to drop / could not drop the C key here |
| ``opened:door:C`` / ``closed:door:C`` / ``unlocked:door:C`` | opened / closed / unlocked and opened the C door |
| ``locked_out:door:C`` | tried the locked C door without the key (or: with the wrong D key) |
| ``toggled_nothing`` | toggled nothing |
| ``entered:lava`` | stepped into the lava |
| ``reached:goal`` | reached the green goal |
| ``did_nothing`` | did nothing (the ``done`` action) |
| ``timeout`` | ran out of time |

``step`` puts ``info["events"]`` (list of str) and ``info["caption"]`` (str) in the info dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)

# Verbs whose steps the task judges as mistakes or wasted effort; used by critics and metrics.
EVENT_VERBS = (
    "turned", "moved_forward", "passed", "bumped", "picked_up", "pickup_nothing", "pickup_full",
    "dropped", "drop_nothing", "drop_blocked", "opened", "closed", "unlocked", "locked_out",
    "toggled_nothing", "entered", "reached", "did_nothing", "timeout",
)


def _describe(obj: Any) -> tuple[str, str | None]:
    """``(type, colour)`` of a world object (colour ``None`` for walls, lava and the goal)."""
    kind = obj.type
    if kind in ("wall", "lava", "goal", "floor"):
        return kind, None
    return kind, obj.color


def event_name(verb: str, obj: Any | None = None) -> str:
    if obj is None:
        return verb
    kind, color = _describe(obj)
    return f"{verb}:{kind}:{color}" if color else f"{verb}:{kind}"


def parse_event(event: str) -> tuple[str, str | None, str | None]:
    """Split ``"picked_up:key:yellow"`` into ``("picked_up", "key", "yellow")``."""
    parts = event.split(":")
    parts += [None] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def first_key_pickup(events: Sequence[Sequence[str]]) -> tuple[int, str | None] | None:
    """(step index, colour) of the first key picked up in an episode's per-step ``events``; ``None`` if none was."""
    for s, step in enumerate(events):
        for e in step:
            verb, kind, color = parse_event(e)
            if verb == "picked_up" and kind == "key":
                return s, color
    return None


def first_key(events: Sequence[Sequence[str]]) -> str | None:
    """The colour of the first key picked up in an episode's per-step ``events``; ``None`` if none was."""
    hit = first_key_pickup(events)
    return hit[1] if hit else None


def wrong_key_first(events: Sequence[Sequence[str]], door_color: str | None) -> bool:
    """Whether the first key picked up is not of ``door_color`` (``False`` when no key was picked up or
    there is no locked door): the goal-misgeneralisation probe's wrong-key rule (docs/probes.md)."""
    color = first_key(events)
    return door_color is not None and color is not None and color != door_color


def caption_for(event: str, detail: dict[str, str] | None = None) -> str:
    """The English caption of one event string."""
    verb, obj, color = parse_event(event)
    the = f"the {color} {obj}" if color else f"the {obj}"
    detail = detail or {}
    if verb == "turned":
        return f"turned {obj}"
    if verb == "moved_forward":
        return "moved forward"
    if verb == "passed":
        return f"walked through the open {color} door"
    if verb == "bumped":
        if obj == "door":
            state = detail.get("door_state", "closed")
            return f"bumped into the {state} {color} door"
        return f"bumped into {the}"
    if verb == "picked_up":
        return f"picked up {the}"
    if verb == "pickup_nothing":
        return "tried to pick up nothing"
    if verb == "pickup_full":
        return f"tried to pick up {the} with full hands"
    if verb == "dropped":
        return f"dropped {the}"
    if verb == "drop_nothing":
        return "had nothing to drop"
    if verb == "drop_blocked":
        return f"could not drop {the} here"
    if verb == "opened":
        return f"opened {the}"
    if verb == "closed":
        return f"closed {the}"
    if verb == "unlocked":
        return f"unlocked and opened {the}"
    if verb == "locked_out":
        held = detail.get("holding")
        if held:
            return f"tried the locked {color} door with the wrong key ({held})"
        return f"tried the locked {color} door without the key"
    if verb == "toggled_nothing":
        return "toggled nothing"
    if verb == "entered":
        return "stepped into the lava" if obj == "lava" else f"stepped onto {the}"
    if verb == "reached":
        return "reached the green goal"
    if verb == "did_nothing":
        return "did nothing"
    if verb == "timeout":
        return "ran out of time"
    return event.replace("_", " ").replace(":", " ")


class EventTracker(gym.Wrapper):
    """Wraps a MiniGrid env; every ``step`` adds ``info["events"]`` and ``info["caption"]``.

    Works on any MiniGrid env (suite or not) since it only reads the unwrapped env's public state.
    """

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        env = self.env.unwrapped
        action = int(action)
        pos_before = tuple(env.agent_pos)
        fwd = env.front_pos
        fwd_cell = env.grid.get(*fwd)
        carrying_before = env.carrying
        door_before = (fwd_cell.is_open, fwd_cell.is_locked) if fwd_cell is not None and fwd_cell.type == "door" else None

        obs, reward, terminated, truncated, info = self.env.step(action)

        events: list[str] = []
        detail: dict[str, str] = {}
        if action == LEFT:
            events.append("turned:left")
        elif action == RIGHT:
            events.append("turned:right")
        elif action == FORWARD:
            if tuple(env.agent_pos) != pos_before:
                events.append("moved_forward")
                if fwd_cell is not None:
                    if fwd_cell.type == "door":
                        events.append(event_name("passed", fwd_cell))
                    elif fwd_cell.type == "lava":
                        events.append("entered:lava")
                    elif fwd_cell.type == "goal":
                        events.append("reached:goal")
            else:
                # Forward with no move: something is in the way (the grid edge is always a wall).
                if fwd_cell is None:
                    events.append("bumped:wall")
                else:
                    events.append(event_name("bumped", fwd_cell))
                    if fwd_cell.type == "door":
                        detail["door_state"] = "locked" if fwd_cell.is_locked else "closed"
        elif action == PICKUP:
            if carrying_before is None and env.carrying is not None:
                events.append(event_name("picked_up", env.carrying))
            elif fwd_cell is not None and fwd_cell.can_pickup() and carrying_before is not None:
                events.append(event_name("pickup_full", fwd_cell))
            else:
                events.append("pickup_nothing")
        elif action == DROP:
            if carrying_before is not None and env.carrying is None:
                events.append(event_name("dropped", carrying_before))
            elif carrying_before is None:
                events.append("drop_nothing")
            else:
                events.append(event_name("drop_blocked", carrying_before))
        elif action == TOGGLE:
            if door_before is not None:
                was_open, was_locked = door_before
                if was_locked and not fwd_cell.is_locked:
                    events.append(event_name("unlocked", fwd_cell))
                elif was_locked:
                    events.append(event_name("locked_out", fwd_cell))
                    if carrying_before is not None:
                        detail["holding"] = " ".join(reversed(_describe_str(carrying_before)))
                elif not was_open and fwd_cell.is_open:
                    events.append(event_name("opened", fwd_cell))
                elif was_open and not fwd_cell.is_open:
                    events.append(event_name("closed", fwd_cell))
                else:
                    events.append("toggled_nothing")
            elif fwd_cell is not None and fwd_cell.type == "box" and env.grid.get(*fwd) is not fwd_cell:
                events.append(event_name("opened", fwd_cell))
            else:
                events.append("toggled_nothing")
        elif action == DONE:
            events.append("did_nothing")
        if truncated and not terminated:
            events.append("timeout")

        info = dict(info)
        info["events"] = events
        info["caption"] = " and ".join(caption_for(e, detail) for e in events)
        return obs, reward, terminated, truncated, info


def _describe_str(obj: Any) -> tuple[str, str]:
    kind, color = _describe(obj)
    return kind, color or ""
