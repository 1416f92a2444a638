"""Interpretation throughput: feedback items/s cold (empty embedding caches) and warm (caches filled).

The items are critic remarks (both phrasing splits) on noisy-expert DoorKey trajectories. Trajectory
judgements (replays, used for grounding) are computed before timing: the benchmark measures reading
language, not replaying episodes. Cold runs start from a fresh encoder with no memory or disk cache (model weights already loaded); the warm
figure is the median of :data:`WARM_ROUNDS` passes.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from nlfeedback.bench.rollout import machine_description
from nlfeedback.critics import critique
from nlfeedback.envs.tasks import get_task
from nlfeedback.language import encoder as encoder_module
from nlfeedback.language.grounding import moments_of
from nlfeedback.language.interpreters import interpret_many, make_interpreter
from nlfeedback.policies import make_policy
from nlfeedback.rollout import rollout

WARM_ROUNDS = 15


def bench_interpret(interpreter: str = "trained", items: int = 1000, seed: int = 0,
                    checkpoint: str | None = None) -> dict[str, Any]:
    trajs = list(rollout(get_task("doorkey-5x5"), make_policy("expert", epsilon=0.15, mistakes=0.35), 100, seed=seed))
    fb = list(critique(trajs, "text", budget=items // 2, seed=seed, split="train"))
    fb += list(critique(trajs, "text", budget=items - items // 2, seed=seed + 1, split="heldout"))
    by_id = {t.id: t for t in trajs}
    pairs = [(f, by_id[f.trajectory_id]) for f in fb]
    for t in trajs:
        moments_of(t)
    encoder_module._SHARED = encoder_module.Encoder(disk_cache=False)  # cold: nothing cached anywhere
    interp = make_interpreter(interpreter, checkpoint=checkpoint)
    encoder_module._SHARED.model  # load the weights before timing (a one-off cost, not per item)
    encoder_module._SHARED.clear_memory()  # interpreters may have encoded prototypes: start empty
    t0 = time.perf_counter()
    interpret_many(interp, pairs)
    cold = time.perf_counter() - t0
    encoded = encoder_module._SHARED.encoded
    times = []  # a warm pass takes ~0.1 s, so one pass is at the mercy of the scheduler: take the median of many
    for _ in range(WARM_ROUNDS):
        t0 = time.perf_counter()
        interpret_many(interp, pairs)
        times.append(time.perf_counter() - t0)
    warm = statistics.median(times)
    encoder_module._SHARED = None
    return {
        "benchmark": "interpret", "interpreter": interpreter, "items": len(pairs),
        "distinct_texts": len({f.text for f in fb}), "texts_encoded_cold": encoded,
        "cold_items_per_s": len(pairs) / cold, "warm_items_per_s": len(pairs) / warm,
        "machine": machine_description(),
    }
