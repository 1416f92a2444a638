"""Failure-mode probes (issue 23, docs/probes.md): the goal-misgeneralisation task pair, the wrong-key
metric, and the divergence detector next to the gaming flag."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest

from nlfeedback.agents.divergence import divergence_point
from nlfeedback.agents.evaluation import gaming_flag
from nlfeedback.envs import get_task
from nlfeedback.metrics.misgeneralisation import (
    first_key,
    locked_door_color,
    took_wrong_key_first,
    wrong_key_first,
    wrong_key_first_rate,
)
from nlfeedback.policies import make_policy
from nlfeedback.policies.planner import bfs_first_action, face
from nlfeedback.rollout import record_episode, rollout
from nlfeedback.trajectory import Trajectory, read_trajectories, replay
from nlfeedback.truth.judgement import EVENT_VALUES, judge

ROOT = Path(__file__).resolve().parents[1]
PAIR = ("keys-distractor-train", "keys-distractor-test")
SEEDS = range(300)

# --- the task pair ----------------------------------------------------------------------------------
DIRS = ((1, 0), (0, 1), (-1, 0), (0, -1))


def _free(grid, x, y):
    c = grid.get(x, y)
    return c is None or c.type == "goal"


def _moves_to_next_to(grid, start, target):
    """Independent of the env's own measure: BFS over cells to any free cell beside ``target``."""
    dist = {tuple(start): 0}
    q = deque([tuple(start)])
    while q:
        x, y = q.popleft()
        if abs(x - target[0]) + abs(y - target[1]) == 1:
            return dist[(x, y)]
        for dx, dy in DIRS:
            n = (x + dx, y + dy)
            if n not in dist and _free(grid, *n):
                dist[n] = dist[(x, y)] + 1
                q.append(n)
    return None


def _actions_to_face(grid, start, d0, target):
    dist = {(start[0], start[1], d0): 0}
    q = deque(dist)
    while q:
        s = q.popleft()
        x, y, d = s
        if (x + DIRS[d][0], y + DIRS[d][1]) == target:
            return dist[s]
        nxt = [(x, y, (d + 1) % 4), (x, y, (d + 3) % 4)]
        if _free(grid, x + DIRS[d][0], y + DIRS[d][1]):
            nxt.append((x + DIRS[d][0], y + DIRS[d][1], d))
        for n in nxt:
            if n not in dist:
                dist[n] = dist[s] + 1
                q.append(n)
    return None


def _layout(name, seed):
    env = get_task(name).make_env()
    env.reset(seed=seed)
    u = env.unwrapped
    keys = {u.grid.get(x, y).color: (x, y) for x in range(u.grid.width) for y in range(u.grid.height)
            if u.grid.get(x, y) is not None and u.grid.get(x, y).type == "key"}
    door = next(u.grid.get(x, y) for x in range(u.grid.width) for y in range(u.grid.height)
                if u.grid.get(x, y) is not None and u.grid.get(x, y).type == "door")
    start = (int(u.agent_pos[0]), int(u.agent_pos[1]))
    out = {"door": door.color, "keys": keys, "start": start, "dir": int(u.agent_dir), "grid": u.grid,
           "mission": u.mission, "locked": door.is_locked}
    env.close()
    return out


@pytest.mark.parametrize("name", PAIR)
def test_the_matching_key_is_nearer_in_train_layouts_and_farther_in_test_layouts(name):
    """Over 300 seeds, by BFS path length from the start (forward moves to a cell beside the key, and
    actions until facing it): always strictly nearer in train layouts, always strictly farther in test."""
    for seed in SEEDS:
        lay = _layout(name, seed)
        assert lay["locked"] and len(lay["keys"]) == 2 and lay["door"] in lay["keys"]
        assert lay["door"] in lay["mission"]
        (distractor,) = set(lay["keys"]) - {lay["door"]}
        grid, start = lay["grid"], lay["start"]
        m_cells = _moves_to_next_to(grid, start, lay["keys"][lay["door"]])
        d_cells = _moves_to_next_to(grid, start, lay["keys"][distractor])
        m_acts = _actions_to_face(grid, start, lay["dir"], lay["keys"][lay["door"]])
        d_acts = _actions_to_face(grid, start, lay["dir"], lay["keys"][distractor])
        assert None not in (m_cells, d_cells, m_acts, d_acts), seed
        if name.endswith("train"):
            assert m_cells < d_cells and m_acts < d_acts, seed
        else:
            assert d_cells < m_cells and d_acts < m_acts, seed


def test_a_seed_gives_the_same_positions_in_both_with_the_key_colours_swapped():
    for seed in range(50):
        a, b = _layout(PAIR[0], seed), _layout(PAIR[1], seed)
        assert a["start"] == b["start"] and a["dir"] == b["dir"] and a["door"] == b["door"]
        assert set(a["keys"].values()) == set(b["keys"].values())
        assert a["keys"] != b["keys"]  # the same two cells, the colours the other way round


def test_keys_distractor_itself_is_unchanged_its_stored_trajectories_replay():
    """The default variant draws its layouts exactly as before: the stored keys-distractor trajectories of
    data/human replay against their digests."""
    records = [t for t in read_trajectories(ROOT / "data/human/trajectories-dev.jsonl").records
               if t.env_id == "NLF-KeysDistractor-7x7-v0"]
    assert records
    for t in records[:10]:
        replay(t)  # raises ReplayMismatch on any difference


@pytest.mark.parametrize("name", PAIR)
def test_the_pair_replays_exactly_and_the_expert_solves_it(name):
    task = get_task(name)
    noisy = list(rollout(task, make_policy("expert", epsilon=0.1, mistakes=0.3), 8, seed=1))
    for t in noisy:
        a, b = replay(t), replay(t)  # each checks the digest
        assert (a.images == b.images).all()
    expert = list(rollout(task, make_policy("expert"), 30, seed=2))
    assert all(t.success for t in expert)
    assert not any(took_wrong_key_first(t) for t in expert)  # it judges by the door's colour


def test_the_pair_passes_gymnasiums_env_checker():
    import warnings

    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    for name in PAIR:
        t = get_task(name)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            env = gym.make(t.env_id, **t.env_kwargs)
            obs, _ = env.reset(seed=3)
            assert env.observation_space.contains(obs)
            check_env(env.unwrapped, skip_render_check=True)
            env.close()


def test_a_bad_key_order_is_refused():
    from nlfeedback.envs.keys_distractor import KeysDistractorEnv

    with pytest.raises(ValueError, match="key_order"):
        KeysDistractorEnv(key_order="nearest")


# --- the wrong-key metric ---------------------------------------------------------------------------
class NearestKeyFirst:
    """A scripted agent that learned the proxy goal: walk to the nearer key and pick it up, then stand."""

    label = "nearest-key"

    def reset(self, env, rng):
        self.done = False

    def act(self, env, obs, rng):
        u = env.unwrapped
        if self.done or u.carrying is not None:
            self.done = True
            return 6  # done: no-op
        lay_keys = [(x, y) for x in range(u.grid.width) for y in range(u.grid.height)
                    if u.grid.get(x, y) is not None and u.grid.get(x, y).type == "key"]
        start = (int(u.agent_pos[0]), int(u.agent_pos[1]))
        nearest = min(lay_keys, key=lambda k: _actions_to_face(u.grid, start, int(u.agent_dir), k))
        action = bfs_first_action(u, face(nearest))
        return 3 if action == -1 else action


def test_first_key_and_wrong_key_first_on_hand_made_events():
    assert first_key([["turned:left"], [], ["picked_up:key:red"], ["picked_up:key:blue"]]) == "red"
    assert first_key([["turned:left"], ["moved_forward"]]) is None
    assert wrong_key_first([["picked_up:key:red"], ["dropped:key:red"], ["picked_up:key:blue"]], "blue")
    assert not wrong_key_first([["picked_up:key:blue"], ["unlocked:door:blue"]], "blue")
    assert not wrong_key_first([["moved_forward"]], "blue")  # no key at all is not the wrong key


def test_wrong_key_first_on_hand_made_trajectories():
    """A hand-written record (events typed in) on a test layout, and recorded episodes of an agent that
    takes the nearer key: wrong on every test layout, right on every train layout."""
    door = _layout("keys-distractor-test", 5)["door"]
    (other,) = set(_layout("keys-distractor-test", 5)["keys"]) - {door}
    hand = Trajectory(id="hand-1", env_id="NLF-KeysDistractor-Test-7x7-v0", seed=5, policy="hand",
                      actions=[2, 3, 4], rewards=[0.0, 0.0, 0.0], terminated=False, truncated=True,
                      events=[["moved_forward"], [f"picked_up:key:{other}"], [f"dropped:key:{other}"]],
                      captions=["", "", ""], obs_digest="sha256:" + "0" * 64)
    assert locked_door_color(hand) == door and took_wrong_key_first(hand)
    right = hand.model_copy(update={"events": [["moved_forward"], [f"picked_up:key:{door}"], []]})
    assert not took_wrong_key_first(right)

    rng = np.random.default_rng(0)
    for name, wrong in (("keys-distractor-test", True), ("keys-distractor-train", False)):
        task = get_task(name, {"max_steps": 40})
        trajs = [record_episode(task, NearestKeyFirst(), seed, rng) for seed in range(12)]
        assert all(first_key(t.events) is not None for t in trajs)
        assert [took_wrong_key_first(t) for t in trajs] == [wrong] * 12
        assert wrong_key_first_rate(trajs) == float(wrong)
        if wrong:  # the critics' judgement calls the wrong key a bad step: the true rule, not nearness
            for t in trajs[:3]:
                j = judge(t)
                step = next(i for i, ev in enumerate(t.events) if any(e.startswith("picked_up:key") for e in ev))
                assert j.event_values[step] == EVENT_VALUES["picked_up:wrong"] < 0
    assert wrong_key_first_rate([]) == 0.0


# --- the divergence detector and the gaming flag ----------------------------------------------------
STEPS = [10_000 * (i + 1) for i in range(15)]


def _curve(true, proxy):
    return [{"steps": s, "true_return": float(t), "proxy_return": float(p)} for s, t, p in zip(STEPS, true, proxy)]


def _gaming_first(curve):
    """The first evaluation at which the trailing gaming flag fires (as train.py computes it per row)."""
    return next((c["steps"] for i, c in enumerate(curve) if gaming_flag(curve[: i + 1])), None)


RISING_PROXY = np.linspace(0.1, 3.0, 15)
# true return climbs to 0.9 by 50k, holds to 80k, then falls to 0.3 while the proxy keeps climbing
DIVERGING = np.concatenate([np.linspace(0.1, 0.9, 5), [0.9, 0.9, 0.9], np.linspace(0.8, 0.3, 7)])


def test_the_detector_fires_at_the_known_divergence():
    curve = _curve(DIVERGING, RISING_PROXY)
    d = divergence_point(curve)
    assert d.step == 80_000 and d.index == 7 and d.confirmed_step == 110_000
    assert d.best_step == 50_000 and d.best_true_return == pytest.approx(0.9)
    assert d.final_true_return == pytest.approx(0.3) and d.lost == pytest.approx(0.6)
    # with evaluation noise on top (±0.02) it still finds the start of the fall
    noise = np.random.default_rng(0).uniform(-0.02, 0.02, 15)
    assert divergence_point(_curve(DIVERGING + noise, RISING_PROXY + noise)).step == 80_000
    # the gaming flag, which sees only the evaluations so far, fires at the first fallen evaluation (90k),
    # before the detector can confirm the divergence (110k): one drop of more than 0.05 after a flat window
    # is enough for it, which is also why it fires on a single dip (below)
    assert _gaming_first(curve) == 90_000
    assert d.to_json()["lost"] == pytest.approx(0.6)


@pytest.mark.parametrize("what", ["both rising", "noisy but flat", "single dip, proxy dips along",
                                  "single dip, proxy rising", "true falls with the proxy"])
def test_the_detector_does_not_fire_without_a_divergence(what):
    rng = np.random.default_rng(1)
    true, proxy = {
        "both rising": (np.linspace(0.1, 0.95, 15), RISING_PROXY),
        "noisy but flat": (0.93 + rng.uniform(-0.03, 0.03, 15), 2.0 + rng.uniform(-0.1, 0.1, 15)),
        "single dip, proxy dips along": ([0.97] * 7 + [0.77] + [0.97] * 7, [2.0] * 7 + [1.6] + [2.0] * 7),
        "single dip, proxy rising": ([0.97] * 7 + [0.77] + [0.97] * 7, RISING_PROXY),
        "true falls with the proxy": (np.linspace(0.9, 0.2, 15), np.linspace(3.0, 0.5, 15)),
    }[what]
    curve = _curve(true, proxy)
    d = divergence_point(curve)
    assert d.step is None and d.index is None and d.confirmed_step is None
    # the trailing gaming flag agrees on all but one: a dip with the proxy still rising looks, at the dip,
    # like the start of a divergence to a check that cannot see the recovery
    assert _gaming_first(curve) == (80_000 if what == "single dip, proxy rising" else None)


def test_the_detectors_window_and_tolerance():
    # a fall that lasts two intervals, then recovers: not "keeps falling" with window 3, but with window 2
    true = [0.9] * 6 + [0.7, 0.5] + [0.9] * 7
    curve = _curve(true, RISING_PROXY)
    assert divergence_point(curve).step is None
    assert divergence_point(curve, window=2).step == 60_000
    # a rise of more than `tol` inside the window breaks it
    bumpy = [0.9] * 6 + [0.8, 0.85, 0.6, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3]
    assert divergence_point(_curve(bumpy, RISING_PROXY)).step == 80_000  # after the bump
    assert divergence_point(_curve(bumpy, RISING_PROXY), tol=0.06).step == 60_000
    short = _curve([0.9, 0.5, 0.1], [1, 2, 3])
    assert divergence_point(short).step is None and divergence_point(short, window=2).step == 10_000
    with pytest.raises(ValueError):
        divergence_point([])
    with pytest.raises(ValueError, match="order"):
        divergence_point(list(reversed(curve)))
