"""Fitting a reward model to :class:`RewardData` (``nlf train-reward``).

All kinds train the same network with their own loss (:mod:`nlfeedback.reward.losses`); ``mixed`` data
sums the losses of the kinds present. 10% of the trajectories (at least one) are held out: rows that
touch them form the validation set. Training stops with an error on a non-finite loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from nlfeedback.errors import NlfError
from nlfeedback.reward.data import RewardData
from nlfeedback.reward.losses import bradley_terry, segment_regression, weighted_regression
from nlfeedback.reward.model import RewardModel, RewardNet
from nlfeedback.reward.observations import one_hot, trajectory_observations, trajectory_states
from nlfeedback.versions import package_versions


@dataclass
class RewardConfig:
    obs_mode: str = "partial"
    epochs: int = 30
    lr: float = 1e-3
    weight_decay: float = 1e-4
    hidden: int = 128
    members: int = 1
    step_batch: int = 256
    pair_batch: int = 32
    val_fraction: float = 0.1
    eval_every: int = 10  # epochs between full train/validation loss evaluations
    seed: int = 0


@dataclass
class _Tensors:
    x: torch.Tensor  # (N, 20, H, W)
    actions: torch.Tensor  # (N,)
    offsets: np.ndarray  # start of each trajectory in the flat arrays


def _flatten(data: RewardData, obs_mode: str) -> tuple[_Tensors, np.ndarray]:
    """All observations in one array. Potential data indexes states 0..T (action column 0 = Φ)."""
    images, actions, offsets = [], [], [0]
    for t in data.trajectories:
        if data.form == "potential":
            obs = trajectory_states(t, obs_mode)
            acts = np.zeros(len(obs), dtype=np.int64)
        else:
            obs = trajectory_observations(t, obs_mode)
            acts = np.asarray(t.actions, dtype=np.int64)
        images.append(obs)
        actions.append(acts)
        offsets.append(offsets[-1] + len(obs))
    flat_images = np.concatenate(images)
    return _Tensors(torch.from_numpy(one_hot(flat_images)), torch.from_numpy(np.concatenate(actions)),
                    np.asarray(offsets)), flat_images


def _rewards(model: torch.nn.Module, T: _Tensors, idx: np.ndarray) -> torch.Tensor:
    ii = torch.as_tensor(idx, dtype=torch.long)
    return model(T.x[ii]).gather(1, T.actions[ii].view(-1, 1)).squeeze(1)


def _segment_sums(model: torch.nn.Module, T: _Tensors, segs: list[tuple[int, int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    idx = np.concatenate([np.arange(T.offsets[i] + a, T.offsets[i] + b) for i, a, b in segs])
    owner = np.concatenate([np.full(b - a, k) for k, (_, a, b) in enumerate(segs)])
    r = _rewards(model, T, idx)
    sums = torch.zeros(len(segs)).index_add(0, torch.as_tensor(owner), r)
    lengths = torch.as_tensor([b - a for _, a, b in segs], dtype=torch.float32)
    return sums, lengths


def _loss(model, T: _Tensors, steps, segments, pairs) -> tuple[torch.Tensor, dict[str, float]]:
    parts: dict[str, torch.Tensor] = {}
    if steps:
        arr = np.asarray(steps)
        idx = (T.offsets[arr[:, 0].astype(int)] + arr[:, 1].astype(int))
        r = _rewards(model, T, idx)
        parts["steps"] = weighted_regression(r, torch.as_tensor(arr[:, 2], dtype=torch.float32),
                                             torch.as_tensor(arr[:, 3], dtype=torch.float32))
    if segments:
        sums, lengths = _segment_sums(model, T, [(i, a, b) for i, a, b, _ in segments])
        parts["segments"] = segment_regression(sums / lengths, torch.as_tensor([v for *_, v in segments],
                                                                             dtype=torch.float32))
    if pairs:
        s0, _ = _segment_sums(model, T, [(i, a, b) for i, a, b, *_ in pairs])
        s1, _ = _segment_sums(model, T, [(j, c, d) for _, _, _, j, c, d, _ in pairs])
        parts["pairs"] = bradley_terry(s0, s1, torch.as_tensor([p for *_, p in pairs], dtype=torch.float32))
    total = sum(parts.values())
    return total, {k: float(v.detach()) for k, v in parts.items()}


def _split(rows: list, traj_of, val: set[int]) -> tuple[list, list]:
    tr, va = [], []
    for r in rows:
        (va if traj_of(r) & val else tr).append(r)
    return tr, va


def train_reward(data: RewardData, kind: str, config: RewardConfig | None = None, *,
                 progress=None) -> tuple[RewardModel, dict[str, Any]]:
    config = config or RewardConfig()
    rng = np.random.default_rng(config.seed)
    T, flat_images = _flatten(data, config.obs_mode)
    n_traj = len(data.trajectories)
    used = sorted({r[0] for r in data.steps} | {r[0] for r in data.segments}
                  | {r[0] for r in data.pairs} | {r[3] for r in data.pairs})
    n_val = max(1, int(round(len(used) * config.val_fraction))) if len(used) >= 5 else 0
    val = set(rng.choice(used, size=n_val, replace=False).tolist()) if n_val else set()
    steps_tr, steps_va = _split(data.steps, lambda r: {r[0]}, val)
    segs_tr, segs_va = _split(data.segments, lambda r: {r[0]}, val)
    pairs_tr, pairs_va = _split(data.pairs, lambda r: {r[0], r[3]}, val)
    if not (steps_tr or segs_tr or pairs_tr):
        raise NlfError("nothing left to train on after holding out validation trajectories")
    h, w = flat_images.shape[1:3]
    members = []
    history: list[dict[str, float]] = []
    for m in range(config.members):
        torch.manual_seed(config.seed * 100 + m)
        net = RewardNet(h, w, config.hidden)
        opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        for epoch in range(config.epochs):
            net.train()
            order_s = rng.permutation(len(steps_tr))
            order_g = rng.permutation(len(segs_tr))
            order_p = rng.permutation(len(pairs_tr))
            n_batches = max(int(np.ceil(len(steps_tr) / config.step_batch)),
                            int(np.ceil(len(segs_tr) / config.pair_batch)),
                            int(np.ceil(len(pairs_tr) / config.pair_batch)), 1)
            for b in range(n_batches):
                sb = [steps_tr[k] for k in order_s[b * config.step_batch:(b + 1) * config.step_batch]]
                gb = [segs_tr[k] for k in order_g[b * config.pair_batch:(b + 1) * config.pair_batch]]
                pb = [pairs_tr[k] for k in order_p[b * config.pair_batch:(b + 1) * config.pair_batch]]
                if not (sb or gb or pb):
                    continue
                loss, _ = _loss(net, T, sb, gb, pb)
                if not torch.isfinite(loss):
                    raise NlfError(f"reward training diverged at epoch {epoch} (loss {float(loss.detach())}); "
                                   "lower the learning rate or check the feedback")
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            if epoch % config.eval_every == config.eval_every - 1 or epoch == config.epochs - 1:
                with torch.no_grad():
                    _, tr_parts = _loss(net, T, steps_tr, segs_tr, pairs_tr)
                    _, va_parts = (_loss(net, T, steps_va, segs_va, pairs_va) if (steps_va or segs_va or pairs_va)
                                   else (0, {}))
                history.append({"member": m, "epoch": epoch, **{f"train_{k}": v for k, v in tr_parts.items()},
                                **{f"val_{k}": v for k, v in va_parts.items()}})
            if progress:
                progress(m * config.epochs + epoch + 1, config.members * config.epochs)
        members.append(net)
    model = RewardModel(members, config.obs_mode, tuple(flat_images.shape[1:]), data.trajectories[0].env_id, kind,
                        form=data.form)
    if data.form == "action":
        raw = model.raw(flat_images, T.actions.numpy())
        model.mean = float(raw.mean())
        model.std = float(raw.std()) or 1.0
    report = {"counts": data.counts, "train_trajectories": n_traj - len(val), "val_trajectories": sorted(
        data.trajectories[i].id for i in val), "final": history[-1] if history else {}, "history": history}
    model.meta = {"config": asdict(config), "versions": package_versions(), "report": {k: v for k, v in report.items()
                                                                               if k != "history"}}
    return model, report
