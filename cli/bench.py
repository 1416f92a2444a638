"""``nlf bench …``: performance benchmarks (figures for README.md, never asserted in tests)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.common import cli_errors, console
from nlfeedback.envs.tasks import DEFAULT_TASK, get_task

app = typer.Typer(help="Benchmarks: throughput figures for README.md.", no_args_is_help=True)


@app.command("rollout")
@cli_errors
def bench_rollout_command(
    task: Annotated[str, typer.Option(help="Task short name or gymnasium id.")] = DEFAULT_TASK,
    steps: Annotated[int, typer.Option(min=100, help="Steps per round and arm.")] = 50_000,
    rounds: Annotated[int, typer.Option(min=1, help="Alternating rounds of raw, tracked and MiniGrid-view stepping.")] = 3,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Steps/s of rollout with event tracking and digests against raw env.step, and raw env.step with
    MiniGrid's own observation code against the direct view, in the same run.

    Example: nlf bench rollout --task doorkey-5x5
    """
    from nlfeedback.bench.rollout import bench_rollout

    result = bench_rollout(get_task(task), steps=steps, rounds=rounds)
    if json_out:
        console.print_json(json.dumps(result))
        return
    console.print(
        f"{result['task']}: raw env.step {result['raw_steps_per_s']:,.0f} steps/s, "
        f"with event tracking {result['tracked_steps_per_s']:,.0f} steps/s, "
        f"ratio {result['ratio']:.2f}; with MiniGrid's own gen_obs {result['minigrid_view_steps_per_s']:,.0f} steps/s "
        f"(the direct view {result['view_speedup']:.2f} × as fast) ({result['machine']})", highlight=False,
    )


@app.command("interpret")
@cli_errors
def bench_interpret_command(
    interpreter: Annotated[str, typer.Option(help="keyword | zero-shot | trained | oracle-intent")] = "trained",
    items: Annotated[int, typer.Option(min=10, help="Feedback items (half train, half heldout phrasings).")] = 1000,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Feedback items/s interpreted cold (no embedding cache) and warm.

    Example: nlf bench interpret --interpreter trained
    """
    from nlfeedback.bench.interpret import bench_interpret

    result = bench_interpret(interpreter, items)
    if json_out:
        console.print_json(json.dumps(result))
        return
    console.print(
        f"{result['interpreter']}: {result['items']} items ({result['distinct_texts']} distinct texts): "
        f"cold {result['cold_items_per_s']:,.0f} items/s, warm {result['warm_items_per_s']:,.0f} items/s "
        f"({result['machine']})", soft_wrap=True,
    )


@app.command("agent")
@cli_errors
def bench_agent_command(
    steps: Annotated[int, typer.Option(min=1000, help="PPO steps per arm and round.")] = 10_000,
    rounds: Annotated[int, typer.Option(min=1, help="Alternating rounds; the ratio is their median.")] = 5,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """PPO fps with the learned-reward wrapper against PPO on the true reward, same config, same run.

    Example: nlf bench agent
    """
    from nlfeedback.bench.agent import bench_agent

    result = bench_agent(steps, rounds)
    if json_out:
        console.print_json(json.dumps(result))
        return
    console.print(f"PPO on {result['task']}: true reward {result['oracle_fps']:,.0f} fps, learned reward "
                  f"{result['learned_reward_fps']:,.0f} fps, ratio {result['ratio']:.2f} (median of rounds; range "
                  f"{result['round_ratios'][0]:.2f}–{result['round_ratios'][-1]:.2f}) ({result['machine']})",
                  soft_wrap=True, markup=False)


@app.command("ablate")
@cli_errors
def bench_ablate_command(
    steps: Annotated[int, typer.Option(min=1000, help="PPO steps per cell.")] = 65_536,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per kind (cells = kinds × seeds).")] = 4,
    kinds: Annotated[list[str] | None, typer.Option("--kind", help="Kinds of the grid, repeatable, e.g. --kind "
                                                    "oracle --kind sketch (default: oracle).")] = None,
    budget: Annotated[int, typer.Option(min=1, help="Feedback items per feedback cell.")] = 20,
    ray: Annotated[bool, typer.Option(help="Also time the Ray backend on a throw-away local cluster.")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Sweep wall time with --workers 2 against --workers 1, and Ray against the local pool, same grid.

    Example: nlf bench ablate
    """
    from nlfeedback.bench.ablate import bench_ablate

    result = bench_ablate(steps=steps, seeds=seeds, budget=budget, kinds=tuple(kinds or ("oracle",)), ray=ray)
    if json_out:
        console.print_json(json.dumps(result))
        return
    line = (f"{result['cells']} cells ({result['grid']}): workers=1 {result['workers1_s']:.1f}s, workers=2 "
            f"{result['workers2_s']:.1f}s, ratio {result['ratio_2_vs_1']:.2f} (target ≤ 0.6)")
    if "ray_s" in result:
        line += (f"; ray (2 CPUs, local cluster) {result['ray_s']:.1f}s, overhead {result['ray_overhead']:+.0%} "
                 f"against local (target ≤ +15%; cluster start {result['ray_cluster_start_s']:.0f}s not counted)")
    console.print(line + f" ({result['machine']})", soft_wrap=True, markup=False)
