"""Plain-text rendering of a MiniGrid state for terminals: one character cell per grid cell.

``render_grid(env)`` returns a list of rows, each a list of ``(glyph, colour)`` pairs, so that the
CLI can colour them (rich) and tests can read them without styling. ``grid_text`` joins them.
"""

from __future__ import annotations

from typing import Any

AGENT_GLYPHS = {0: "▶", 1: "▼", 2: "◀", 3: "▲"}

LEGEND = "▶▼◀▲ agent  █ wall  ⚷ key  ▮ locked door  ▯ closed door  ┆ open door  ≈ lava  ◎ goal  ● ball  ▣ box"


def _glyph(cell: Any) -> tuple[str, str | None]:
    if cell is None:
        return "·", None
    kind = cell.type
    if kind == "wall":
        return "█", "grey"
    if kind == "lava":
        return "≈", "orange"
    if kind == "goal":
        return "◎", "green"
    if kind == "key":
        return "⚷", cell.color
    if kind == "ball":
        return "●", cell.color
    if kind == "box":
        return "▣", cell.color
    if kind == "door":
        if cell.is_open:
            return "┆", cell.color
        return ("▮" if cell.is_locked else "▯"), cell.color
    return "?", None


def render_grid(env: Any) -> list[list[tuple[str, str | None]]]:
    """Rows of ``(glyph, colour)``; the agent's cell shows its heading (and what it carries beside it)."""
    env = env.unwrapped
    rows = []
    ax, ay = (int(v) for v in env.agent_pos)
    for y in range(env.grid.height):
        row = []
        for x in range(env.grid.width):
            if (x, y) == (ax, ay):
                row.append((AGENT_GLYPHS[int(env.agent_dir)], "red"))
            else:
                row.append(_glyph(env.grid.get(x, y)))
        rows.append(row)
    return rows


def carrying_text(env: Any) -> str:
    carried = env.unwrapped.carrying
    return f"carrying the {carried.color} {carried.type}" if carried is not None else "carrying nothing"


def grid_text(env: Any) -> str:
    return "\n".join(" ".join(g for g, _ in row) for row in render_grid(env))
