"""Fitting a reward model to :class:`RewardData` (``nlf train-reward``).

All kinds train the same network with their own loss (:mod:`nlfeedback.reward.losses`); ``mixed`` data
sums the losses of the kinds present. 10% of the trajectories (at least one) are held out: rows that
touch them form the validation set. Training stops with an error on a non-finite loss.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from nlfeedback.errors import NlfError
from nlfeedback.reward.data import RewardData, StepRow
from nlfeedback.reward.losses import bradley_terry, segment_regression, weighted_regression
from nlfeedback.reward.model import (DEFAULT_CHANNELS, DEFAULT_HIDDEN, FORMS, RewardModel, RewardNet, net_outputs,
                                     penalty, potential, shaped_rewards, terminal_value)
from nlfeedback.reward.observations import one_hot, trajectory_states
from nlfeedback.versions import package_versions

_AGENT = 10  # MiniGrid's object code of the agent


@dataclass
class RewardConfig:
    obs_mode: str = "partial"
    form: str = "shaped"  # "shaped" (loop-proof, see reward.model) | "action" (plain r(s, a))
    gamma: float = 0.99  # the discount of the shaped form; use the agent's
    epochs: int = 30
    lr: float = 1e-3
    weight_decay: float = 1e-4
    hidden: int = DEFAULT_HIDDEN
    channels: tuple[int, int] = DEFAULT_CHANNELS  # the two convolutions' widths
    members: int = 1
    step_batch: int = 256
    pair_batch: int = 32
    val_fraction: float = 0.1
    eval_every: int = 10  # epochs between full train/validation loss evaluations
    potential_l2: float = 1e-3  # shaped form: pulls Φ to 0 where the feedback says nothing (fixes its level)
    penalties: bool = False  # shaped form: learn the penalty term min(0, C(s, a)) too (see reward.model)
    penalty_l1: float = 1e-2  # shaped form with penalties: keeps C(s, a) for what the potential cannot explain
    failure_floor: float = 1.0  # shaped form: weight of the hinge G(s, a) ≤ 0 on endings judged bad (see _bad_endings)
    seed: int = 0


@dataclass
class _Tensors:
    x: torch.Tensor  # (S, 20, H, W): every state of every trajectory, final ones included
    actions: torch.Tensor  # (N,) one per step
    state: torch.Tensor  # (N,) index in ``x`` of the state each step acts in (the next state is +1)
    terminal: torch.Tensor  # (N,) bool: the step ended its episode (goal, lava)
    offsets: np.ndarray  # first step of each trajectory in the per-step arrays
    state_start: np.ndarray  # index in ``x`` of each trajectory's first state
    lengths: np.ndarray  # steps of each trajectory
    ended: np.ndarray  # each trajectory ended by termination (goal, lava)
    entered: np.ndarray  # (N,) on a terminated episode's last step, the object it steps onto (-1 elsewhere)
    form: str
    gamma: float
    penalties: bool


def _row_groups(data: RewardData) -> dict[str, list]:
    """The data's rows by group, as :func:`train_reward` batches them."""
    return {"steps": data.steps, "states": data.states, "segments": data.segments, "pairs": data.pairs}


def _batch_sizes(config: RewardConfig) -> dict[str, int]:
    """Rows per batch of each row group."""
    return {"steps": config.step_batch, "states": config.step_batch, "segments": config.pair_batch,
            "pairs": config.pair_batch}


def _batches_per_epoch(rows: dict[str, list], config: RewardConfig) -> int:
    """Gradient steps per epoch: the batches of the largest row group (the others cycle with it)."""
    size = _batch_sizes(config)
    return max([math.ceil(len(r) / size[g]) for g, r in rows.items()] + [1])


def capped_epochs(data: RewardData, epochs: int, updates: int, config: RewardConfig | None = None) -> int:
    """Epochs for a fit of ``data`` capped at about ``updates`` gradient steps: min(``epochs``, ⌈updates /
    batches per epoch⌉), at least one (``updates`` = 0: no cap). Whole epochs, so every row is seen alike;
    batches per epoch as in :func:`train_reward`. The reward-quality curves and the online loop's
    ``reward_updates`` use it, so their fits are the same length."""
    if updates <= 0:
        return epochs
    return max(1, min(epochs, math.ceil(updates / _batches_per_epoch(_row_groups(data), config or RewardConfig()))))


def _flatten(data: RewardData, obs_mode: str, form: str, gamma: float, penalties: bool) -> tuple[_Tensors, np.ndarray]:
    """All states in one array, and per-step indices into it."""
    images, actions, state, terminal, entered, offsets = [], [], [], [], [], [0]
    n_states = 0
    for t in data.trajectories:
        states = trajectory_states(t, obs_mode)
        T = len(t.actions)
        images.append(states)
        actions.append(np.asarray(t.actions, dtype=np.int64))
        state.append(n_states + np.arange(T))
        end = np.zeros(T, dtype=bool)
        end[-1:] = bool(t.terminated)
        terminal.append(end)
        entered.append(np.where(end, _entered(states[T - 1], obs_mode) if t.terminated else -1, -1))
        n_states += len(states)
        offsets.append(offsets[-1] + T)
    flat_images = np.concatenate(images)
    lengths = np.asarray([len(t.actions) for t in data.trajectories])
    return _Tensors(one_hot(flat_images).contiguous(), torch.from_numpy(np.concatenate(actions)),
                    torch.from_numpy(np.concatenate(state)), torch.from_numpy(np.concatenate(terminal)),
                    np.asarray(offsets), np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]), lengths,
                    np.asarray([bool(t.terminated) for t in data.trajectories]), np.concatenate(entered), form, gamma,
                    penalties), flat_images


def _entered(image: np.ndarray, obs_mode: str) -> int:
    """The object code of the cell ahead of the agent in ``image`` ((W, H, 3), MiniGrid's encoding): the
    one an episode-ending step moves onto (goal, lava). The partial view puts the agent at the bottom
    centre facing up; the full grid draws it as the agent object with its direction as the state."""
    if obs_mode == "partial":
        return int(image[image.shape[0] // 2, image.shape[1] - 2, 0])
    x, y = np.argwhere(image[:, :, 0] == _AGENT)[0]
    dx, dy = ((1, 0), (0, 1), (-1, 0), (0, -1))[int(image[x, y, 2]) % 4]
    x, y = x + dx, y + dy
    return int(image[x, y, 0]) if 0 <= x < image.shape[0] and 0 <= y < image.shape[1] else -1


def _rewards(model: torch.nn.Module, T: _Tensors, idx: np.ndarray, aux: list | None = None) -> torch.Tensor:
    """Rewards of the steps ``idx`` (indices into the per-step arrays). For the shaped form, ``aux``
    (if given) receives the potentials and penalties involved, for the regularisers."""
    ii = torch.as_tensor(idx, dtype=torch.long)
    s, a = T.state[ii], T.actions[ii]
    if T.form == "action":
        return model(T.x[s]).gather(1, a.view(-1, 1)).squeeze(1)
    out = model(torch.cat([T.x[s], T.x[s + 1]]))
    here = out[:len(ii)]
    if aux is not None:
        aux.append((potential(out), penalty(here, a)))
    return shaped_rewards(here, out[len(ii):], a, T.terminal[ii], T.gamma, T.penalties)


def _potentials(model: torch.nn.Module, T: _Tensors, rows: np.ndarray) -> torch.Tensor:
    """Φ of the states ``(traj, k)`` in ``rows``; the state a terminated episode ends in reads G(s, a) of
    its last step instead (that state hides the goal or lava under the agent)."""
    traj, k = rows[:, 0].astype(int), rows[:, 1].astype(int)
    end = (k == T.lengths[traj]) & T.ended[traj]
    where = T.state_start[traj] + np.where(end, k - 1, k)
    out = model(T.x[torch.as_tensor(where, dtype=torch.long)])
    last = torch.as_tensor(T.offsets[traj] + np.maximum(k - 1, 0), dtype=torch.long)
    return torch.where(torch.as_tensor(end), terminal_value(out, T.actions[last]), potential(out))


def _bad_endings(T: _Tensors, steps: list[StepRow]) -> np.ndarray:
    """Per-step indices of the episode-ending steps whose step rows judge them bad on balance (weighted
    mean target < 0): lava, say, but not a goal reached slowly that one remark called too slow — and
    whose kind (the action and the object it steps onto) the rows on all endings of that kind judge bad
    on balance too.

    A target on such a step says how much worse the ending is than the state it left, so fitting it alone
    sets G ≈ (Φ(s) + target)/γ: where negative feedback on wandering has made Φ fall along the way, an
    early death then beats walking on, and PPO learns to jump into the lava (measured on lavagap-5, with
    oracle-intent text too). The hinge relu(G)² on these endings keeps G ≤ 0 ≤ Φ, so a bad ending is never
    worth more than not ending at all — as with the task's own reward, where dying pays what running out
    of time pays: nothing.

    Endings of one kind look alike to the network (the goal or the lava ahead of the agent), so a hinge
    on a few of them moves G on all of them. Judged one by one, two goal endings that a misread remark
    called bad (doorkey-5x5 quickstart, trained reader) pulled G ≤ 0 on every goal against the ~20 goal
    endings whose rows called them good: the goal step's reward fell to −0.53 (G(goal) +1.9 without the
    floor) and reaching the goal returned less than timing out. A kind the evidence calls good on balance
    gets no floor; within a kind called bad, only the endings whose own rows call them bad get one, as
    before."""
    if not steps or T.form != "shaped":
        return np.zeros(0, dtype=np.int64)
    arr = _step_table(steps)
    idx = T.offsets[arr[:, 0].astype(int)] + arr[:, 1].astype(int)
    terminal = T.terminal.numpy()[idx]
    if not terminal.any():
        return np.zeros(0, dtype=np.int64)
    idx, y, w = idx[terminal], arr[terminal, 2], arr[terminal, 3]

    def bad_on_balance(key: np.ndarray) -> np.ndarray:  # per row: its group's weighted mean target < 0
        _, inv = np.unique(key, return_inverse=True)
        return (np.bincount(inv, weights=w * y) / np.maximum(np.bincount(inv, weights=w), 1e-12))[inv] < 0

    kind = T.actions.numpy()[idx] * (_AGENT + 2) + T.entered[idx] + 1
    return np.unique(idx[bad_on_balance(idx) & bad_on_balance(kind)])


def _step_table(steps: list[StepRow]) -> np.ndarray:
    """``(N, 4)`` float array of step rows: trajectory index, step, target, weight."""
    return np.asarray([(r.traj, r.step, r.target, r.weight) for r in steps], dtype=np.float64)


def _segment_sums(model: torch.nn.Module, T: _Tensors, segs: list[tuple[int, int, int]],
                  aux: list | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    idx = np.concatenate([np.arange(T.offsets[i] + a, T.offsets[i] + b) for i, a, b in segs])
    owner = np.concatenate([np.full(b - a, k) for k, (_, a, b) in enumerate(segs)])
    r = _rewards(model, T, idx, aux)
    sums = torch.zeros(len(segs)).index_add(0, torch.as_tensor(owner), r)
    lengths = torch.as_tensor([b - a for _, a, b in segs], dtype=torch.float32)
    return sums, lengths


def _loss(model, T: _Tensors, steps, states, segments, pairs, config: RewardConfig, ends: np.ndarray | None = None
          ) -> tuple[torch.Tensor, dict[str, float]]:
    parts: dict[str, torch.Tensor] = {}
    if ends is not None and len(ends) and T.form == "shaped" and config.failure_floor > 0:
        ii = torch.as_tensor(ends, dtype=torch.long)
        g = terminal_value(model(T.x[T.state[ii]]), T.actions[ii])
        parts["failure_floor"] = config.failure_floor * (torch.relu(g) ** 2).mean()
    aux: list = []
    if steps:
        arr = _step_table(steps)
        idx = T.offsets[arr[:, 0].astype(int)] + arr[:, 1].astype(int)
        r = _rewards(model, T, idx, aux)
        parts["steps"] = weighted_regression(r, torch.as_tensor(arr[:, 2], dtype=torch.float32),
                                             torch.as_tensor(arr[:, 3], dtype=torch.float32))
    if states:
        arr = np.asarray([(r.traj, r.state, r.value, r.weight) for r in states], dtype=np.float64)
        phi = _potentials(model, T, arr)
        parts["states"] = weighted_regression(phi, torch.as_tensor(arr[:, 2], dtype=torch.float32),
                                              torch.as_tensor(arr[:, 3], dtype=torch.float32))
    if segments:
        sums, lengths = _segment_sums(model, T, [(r.traj, r.start, r.end) for r in segments], aux)
        parts["segments"] = segment_regression(sums / lengths, torch.as_tensor([r.value for r in segments],
                                                                             dtype=torch.float32))
    if pairs:
        s0, _ = _segment_sums(model, T, [(r.traj, r.start, r.end) for r in pairs], aux)
        s1, _ = _segment_sums(model, T, [(r.other_traj, r.other_start, r.other_end) for r in pairs], aux)
        parts["pairs"] = bradley_terry(s0, s1, torch.as_tensor([r.preferred for r in pairs], dtype=torch.float32))
    if aux:
        phi = torch.cat([p for p, _ in aux])
        pen = torch.cat([c for _, c in aux])
        parts["regulariser"] = config.potential_l2 * (phi ** 2).mean() + (
            config.penalty_l1 * pen.abs().mean() if config.penalties else 0.0)
    total = sum(parts.values())
    return total, {k: float(v.detach()) for k, v in parts.items()}


class _Ensemble(torch.nn.Module):
    def __init__(self, members: list[RewardNet]) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members]).mean(0)


def _split(rows: list, traj_of, val: set[int]) -> tuple[list, list]:
    tr, va = [], []
    for r in rows:
        (va if traj_of(r) & val else tr).append(r)
    return tr, va


def train_reward(data: RewardData, kind: str, config: RewardConfig | None = None, *,
                 progress=None, init: RewardModel | None = None) -> tuple[RewardModel, dict[str, Any]]:
    """Fit a reward model; ``init`` (same form, observation shape and ensemble size) warm-starts the members."""
    config = config or RewardConfig()
    if config.form not in FORMS:
        raise NlfError(f"reward form must be one of {FORMS}, got {config.form!r}")
    rng = np.random.default_rng(config.seed)
    T, flat_images = _flatten(data, config.obs_mode, config.form, config.gamma, config.penalties)
    if data.states and config.form != "shaped":
        raise NlfError("potential (state) rows need a shaped reward model; build the data with form='action'")
    n_traj = len(data.trajectories)
    groups = _row_groups(data)
    batch = _batch_sizes(config)
    owners = {"steps": lambda r: {r.traj}, "states": lambda r: {r.traj}, "segments": lambda r: {r.traj},
              "pairs": lambda r: {r.traj, r.other_traj}}
    used = sorted(set().union(*(owners[g](r) for g, rows in groups.items() for r in rows)))
    n_val = max(1, int(round(len(used) * config.val_fraction))) if len(used) >= 5 else 0
    val = set(rng.choice(used, size=n_val, replace=False).tolist()) if n_val else set()
    train_rows, val_rows = {}, {}
    for g, rows in groups.items():
        train_rows[g], val_rows[g] = _split(rows, owners[g], val)
    if not any(train_rows.values()):
        raise NlfError("nothing left to train on after holding out validation trajectories")

    ends = {"train": _bad_endings(T, train_rows["steps"]), "val": _bad_endings(T, val_rows["steps"])}

    def loss_of(net, rows, split="train"):
        return _loss(net, T, rows["steps"], rows["states"], rows["segments"], rows["pairs"], config, ends[split])

    h, w = flat_images.shape[1:3]
    members = []
    history: list[dict[str, float]] = []
    for m in range(config.members):
        torch.manual_seed(config.seed * 100 + m)
        net = RewardNet(h, w, config.hidden, net_outputs(config.form), tuple(config.channels))
        if init is not None:
            if (init.form, tuple(init.obs_shape), len(init.members)) != (config.form, tuple(flat_images.shape[1:]),
                                                                         config.members):
                raise NlfError("a warm start needs a model of the same form, observation shape and ensemble size")
            net.load_state_dict(init.members[m].state_dict())
        opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        for epoch in range(config.epochs):
            net.train()
            order = {g: rng.permutation(len(rows)) for g, rows in train_rows.items()}
            n_batches = _batches_per_epoch(train_rows, config)
            for b in range(n_batches):
                chunk = {g: [train_rows[g][k] for k in order[g][b * batch[g]:(b + 1) * batch[g]]] for g in groups}
                if not any(chunk.values()):
                    continue
                loss, _ = loss_of(net, chunk)
                if not torch.isfinite(loss):
                    raise NlfError(f"reward training diverged at epoch {epoch} (loss {float(loss.detach())}); "
                                   "lower the learning rate or check the feedback")
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            if epoch % config.eval_every == config.eval_every - 1 or epoch == config.epochs - 1:
                with torch.no_grad():
                    _, tr_parts = loss_of(net, train_rows)
                    _, va_parts = loss_of(net, val_rows, "val") if any(val_rows.values()) else (0, {})
                history.append({"member": m, "epoch": epoch, **{f"train_{k}": v for k, v in tr_parts.items()},
                                **{f"val_{k}": v for k, v in va_parts.items()}})
            if progress:
                progress(m * config.epochs + epoch + 1, config.members * config.epochs)
        members.append(net)
    model = RewardModel(members, config.obs_mode, tuple(flat_images.shape[1:]), data.trajectories[0].env_id, kind,
                        form=config.form, gamma=config.gamma, penalties=config.penalties)
    with torch.no_grad():
        raw = torch.cat([_rewards(members[0] if len(members) == 1 else _Ensemble(members), T, chunk)
                         for chunk in np.array_split(np.arange(len(T.actions)), max(1, len(T.actions) // 4096))])
    raw = raw.numpy()
    # The action form is centred and scaled; the shaped form only scaled (a shift pays or charges for time).
    model.mean = float(raw.mean()) if config.form == "action" else 0.0
    model.std = float(raw.std()) or 1.0
    report = {"counts": data.counts, "train_trajectories": n_traj - len(val), "val_trajectories": sorted(
        data.trajectories[i].id for i in val), "final": history[-1] if history else {}, "history": history}
    model.meta = {"config": asdict(config), "versions": package_versions(), "report": {k: v for k, v in report.items()
                                                                               if k != "history"}}
    return model, report
