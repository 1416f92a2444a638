"""Training a PPO agent (stable-baselines3) on the task's reward (``oracle``) or on a learned reward.

Writes, in ``out_dir``: ``policy.zip``, ``curve.jsonl`` (one evaluation per line: steps, true return,
success rate, proxy return, violations, the gaming flag so far) and ``summary.json`` (config, seeds,
package versions, final evaluation, whether gaming was flagged).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

from nlfeedback.agents.envs import MinigridFeatures, make_vec_env
from nlfeedback.agents.evaluation import evaluate_policy, gaming_flag
from nlfeedback.agents.reward_wrapper import RewardVecEnvWrapper
from nlfeedback.envs.tasks import Task
from nlfeedback.reward.model import RewardModel
from nlfeedback.versions import package_versions


@dataclass
class AgentConfig:
    steps: int = 150_000
    seed: int = 0
    n_envs: int = 8
    n_steps: int = 128
    batch_size: int = 256
    n_epochs: int = 4
    learning_rate: float = 2.5e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.01
    clip_range: float = 0.2
    eval_every: int = 10_000
    eval_episodes: int = 20
    eval_actions: str = "deterministic"  # evaluations: the policy's most likely actions, or "sampled" from it
    reward_scale: float | None = None  # None: the reward model's default_scale
    threads: int = 1


class EvalCallback(BaseCallback):
    """Evaluate every ``every`` environment steps; append to ``curve`` (and a JSONL file). ``extra`` adds
    fields to every row (the online loop adds the feedback spent so far)."""

    def __init__(self, task: Task, config: AgentConfig, reward: RewardModel | None, curve_path: Path | None,
                 extra: Callable[[], dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.task, self.config, self.reward, self.curve_path = task, config, reward, curve_path
        self.extra = extra
        self.curve: list[dict[str, Any]] = []
        self._next = config.eval_every

    def set_reward(self, reward: RewardModel | None) -> None:
        """Evaluate with a refitted reward model from now on (the online loop swaps it between rounds)."""
        self.reward = reward

    def evaluate(self) -> None:
        """Evaluate the policy now and append the row (also called by SB3 every ``eval_every`` steps)."""
        res = evaluate_policy(self.model, self.task, self.config.eval_episodes, seed=10_000 + self.config.seed,
                              reward=self.reward, reward_scale=self.config.reward_scale,
                              deterministic=self.config.eval_actions == "deterministic")
        row = {"steps": int(self.num_timesteps), **res.to_json()}
        self.curve.append(row)
        row["gaming"] = gaming_flag(self.curve)
        if self.extra is not None:
            row.update(self.extra())
        if self.curve_path is not None:
            with open(self.curve_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._next += self.config.eval_every
            self.evaluate()
        return True


def make_ppo(venv, config: AgentConfig) -> PPO:
    """PPO with the project's MiniGrid CNN and ``config``'s hyperparameters."""
    return PPO("CnnPolicy", venv, n_steps=config.n_steps, batch_size=config.batch_size, n_epochs=config.n_epochs,
               learning_rate=config.learning_rate, gamma=config.gamma, gae_lambda=config.gae_lambda,
               ent_coef=config.ent_coef, clip_range=config.clip_range, seed=config.seed, device="cpu", verbose=0,
               policy_kwargs={"features_extractor_class": MinigridFeatures, "normalize_images": False})


def train_agent(task: Task, reward: RewardModel | None, config: AgentConfig, out_dir: str | Path | None = None,
                extra: Callable[[], dict[str, Any]] | None = None, *, judged: bool = False) -> dict[str, Any]:
    """PPO on ``task`` with the learned ``reward``, or with the task's own reward (``None``), or with the dense
    judgement (``judged``: :class:`nlfeedback.agents.envs.JudgedReward`); evaluated on the task's reward."""
    if judged and reward is not None:
        raise ValueError("judged replaces the reward: pass reward=None")
    torch.set_num_threads(config.threads)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "curve.jsonl").unlink(missing_ok=True)
    venv = make_vec_env(task, config.n_envs, config.seed, full_view=reward is not None and reward.obs_mode == "full",
                        judged=judged)
    if reward is not None:
        venv = RewardVecEnvWrapper(venv, reward, env_id=task.env_id, scale=config.reward_scale)
    model = make_ppo(venv, config)
    callback = EvalCallback(task, config, reward, out / "curve.jsonl" if out else None, extra)
    t0 = time.perf_counter()
    model.learn(config.steps, callback=callback)
    elapsed = time.perf_counter() - t0
    if not callback.curve or callback.curve[-1]["steps"] < model.num_timesteps:
        callback.evaluate()
    final = callback.curve[-1]
    summary = {
        "task": task.name, "env_id": task.env_id, "reward": reward.kind if reward is not None else
        "judgement" if judged else "oracle",
        "config": asdict(config), "seed": config.seed, "final": final, "curve": callback.curve,
        "gaming": any(c.get("gaming") for c in callback.curve), "fps": round(model.num_timesteps / elapsed, 1),
        "versions": package_versions("stable_baselines3", "minigrid", "gymnasium"),
    }
    if reward is not None:
        summary["reward_meta"] = {k: v for k, v in reward.meta.items() if k != "report"}
    if out is not None:
        model.save(out / "policy.zip")
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
    venv.close()
    return summary
