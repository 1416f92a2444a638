"""The report's PNG plots: final true return against feedback items and annotator-seconds, learning curves, and
true against proxy return per feedback arm. matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nlfeedback.experiments.analysis import Analysis, Group, noise_name, proxy_panels
from nlfeedback.experiments.results import CellRow
from nlfeedback.experiments.stats import Stat


def write_plots(a: Analysis, plots_dir: Path) -> list[Path]:
    """Draw every plot the analysis has data for into ``plots_dir``; the paths written, in report order."""
    plots = []
    if a.sections:
        for attr, xlabel, name in (("items", "feedback items", "return_vs_items.png"),
                                   ("seconds", "annotator-seconds", "return_vs_seconds.png")):
            _plot_vs(a, attr, xlabel, plots_dir / name)
            plots.append(plots_dir / name)
    if a.sections or a.oracle or a.judged:
        if not a.sections:  # references only: one panel per task
            tasks = sorted(set(a.oracle) | set(a.judged))
            a_plot = Analysis(a.groups, a.oracle, [(t, "") for t in tasks], {(t, ""): [] for t in tasks},
                              {(t, ""): [0] for t in tasks}, [], [], judged=a.judged)
            _plot_curves(a_plot, plots_dir / "learning_curves.png")
        else:
            _plot_curves(a, plots_dir / "learning_curves.png")
        plots.append(plots_dir / "learning_curves.png")
    if proxy_panels(a):
        _plot_proxy_curves(a, plots_dir / "curves_proxy.png")
        plots.append(plots_dir / "curves_proxy.png")
    return plots


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid_axes(plt, n: int, width: float = 5.2, height: float = 3.8):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


REFERENCE_STYLE = {"oracle": ("black", "--", "oracle (true reward)"),
                   "judgement": ("tab:gray", ":", "PPO on the dense judgement")}


def _reference_bands(ax, a: Analysis, task: str, noise: Any) -> list[float]:
    """The oracle's and the dense judgement's final true return as lines with their 95% intervals, and the
    BFS expert's mean with the 90% threshold the sample-efficiency table uses (when the result files record
    the expert). Returns the values drawn, for :func:`return_limits`."""
    drawn: list[float] = []
    for ref in (a.oracle.get(task), a.judged.get(task)):
        if not ref or not ref.rows:
            continue
        color, ls, label = REFERENCE_STYLE[ref.label]
        s = ref.stat("final_return")
        ax.axhline(s.mean, color=color, ls=ls, lw=1, label=label)
        drawn.append(s.mean)
        if s.lo is not None:
            ax.axhspan(s.lo, s.hi, color=color, alpha=0.08)
    expert = expert_reference(a, task, noise)
    if expert is not None:
        mean, threshold = expert
        ax.axhline(mean, color="tab:green", ls="-", lw=0.8, alpha=0.7, label="BFS expert")
        ax.axhline(threshold, color="tab:green", ls="-.", lw=0.8, alpha=0.7, label="90% of the expert")
        drawn += [mean, threshold]
    return drawn


def expert_reference(a: Analysis, task: str, noise: Any) -> tuple[float, float] | None:
    """The BFS expert's mean true return on a section's evaluation layouts and 90% of it, as the
    sample-efficiency table has them; ``None`` when no result file records the expert."""
    for e in a.sample_efficiency:
        if e["task"] == task and e["noise"] == noise and e["expert_threshold"] is not None:
            return e["expert_mean"], e["expert_threshold"]
    return None


def return_limits(values: Sequence[float], low: float = 0.0, high: float = 1.0,
                  margin: float = 0.05) -> tuple[float, float]:
    """The y-range of a return plot: the task return's range [``low``, ``high``] widened to every plotted mean,
    plus a margin. Intervals reaching past it (a t-interval over two or three seeds easily spans −2 … 4 on a
    return in [0, 1]) are cut at the frame rather than squeezing every mean into a line."""
    lo, hi = min([low, *values]), max([high, *values])
    return lo - margin, hi + margin


def _plot_vs(a: Analysis, attr: str, xlabel: str, path: Path) -> None:
    plt = _plt()
    fig, axes = _grid_axes(plt, max(1, len(a.sections)))
    for ax, (task, noise) in zip(axes, a.sections):
        xs_all: list[float] = []
        means: list[float] = []
        for label in a.arms[(task, noise)]:
            pts = []
            for b in a.budgets[(task, noise)]:
                g = a.groups.get((task, noise, label, b))
                if g and g.rows:
                    pts.append((g.mean(attr), g.stat("final_return")))
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ys = [p[1].mean for p in pts]
            err = [[(p[1].mean - p[1].lo) if p[1].lo is not None else 0 for p in pts],
                   [(p[1].hi - p[1].mean) if p[1].hi is not None else 0 for p in pts]]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
            xs_all += [x for x in xs if x and x > 0]
            means += ys
        means += _reference_bands(ax, a, task, noise)
        ax.set_ylim(*return_limits(means))
        if xs_all and max(xs_all) / min(xs_all) >= 5:
            from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, StrMethodFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_locator(FixedLocator(sorted({float(f"{x:.3g}") for x in xs_all})))
            ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{task} ({noise_name(noise)})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("final true return (mean, 95% CI)")
        ax.grid(alpha=0.3)
    # one legend for every panel, below them: with many arms a legend inside a panel covers its curves
    handles: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    rows = -(-len(handles) // 4)
    room = 0.2 * rows + 0.15  # inches under the panels for the legend
    fig.set_figheight(fig.get_figheight() + room)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, room / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _mean_curve(rows: list[CellRow],
                attr: str = "curve") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean and 95% band over seeds of ``attr`` (``curve`` or ``proxy_curve``), seeds interpolated onto the union
    of their evaluation steps up to the shortest seed's last."""
    curves = [getattr(r, attr) for r in rows if getattr(r, attr)]
    if not curves:
        return None
    end = min(c[-1][0] for c in curves)
    grid = np.array(sorted({s for c in curves for s, _ in c if s <= end}), dtype=float)
    ys = np.array([np.interp(grid, [s for s, _ in c], [v for _, v in c]) for c in curves])
    stats = [Stat.of(ys[:, i]) for i in range(len(grid))]
    mean = np.array([s.mean for s in stats])
    lo = np.array([s.lo if s.lo is not None else s.mean for s in stats])
    hi = np.array([s.hi if s.hi is not None else s.mean for s in stats])
    return grid, mean, lo, hi


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: f"{x / 1000:,.0f}k" if x else "0")


def _plot_curves(a: Analysis, path: Path) -> None:
    """True return against env steps: one panel per (task, noise, budget), one line per arm, oracle dashed."""
    panels = [(t, n, b) for t, n in a.sections for b in a.budgets[(t, n)]]
    plt = _plt()
    fig, axes = _grid_axes(plt, max(1, len(panels)))
    for ax, (task, noise, b) in zip(axes, panels):
        for label in a.arms[(task, noise)]:
            g = a.groups.get((task, noise, label, b))
            mc = _mean_curve(g.rows) if g else None
            if mc is None:
                continue
            x, m, lo, hi = mc
            (line,) = ax.plot(x, m, label=label)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15)
        for ref in (a.oracle.get(task), a.judged.get(task)):
            mc = _mean_curve(ref.rows) if ref else None
            if mc is not None:
                color, ls, label = REFERENCE_STYLE[ref.label]
                x, m, lo, hi = mc
                ax.plot(x, m, color=color, ls=ls, label=label)
                ax.fill_between(x, lo, hi, color=color, alpha=0.08)
        ax.set_title(f"{task} ({noise_name(noise)}), budget {b}" if a.arms[(task, noise)] else task)
        ax.xaxis.set_major_formatter(_thousands())
        ax.set_xlabel("environment steps")
        ax.set_ylabel("true return (mean, 95% CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_proxy_curves(a: Analysis, path: Path) -> None:
    """True and proxy return against env steps, one panel per (task, noise, arm, budget): true return on the
    left axis, the learned reward's return (its own scale) on the right."""
    from matplotlib.ticker import FuncFormatter

    panels = proxy_panels(a)
    plt = _plt()
    fig, axes = _grid_axes(plt, max(1, len(panels)), width=5.6)
    true_c, proxy_c = "tab:blue", "tab:orange"
    for ax, g in zip(axes, panels):
        handles = []
        for axis, attr, color, ls, label, ylabel in (
                (ax, "curve", true_c, "-", "true return", "true return (mean, 95% CI)"),
                (ax.twinx(), "proxy_curve", proxy_c, "--", "proxy return", "proxy return (learned reward, own scale)")):
            mc = _mean_curve(g.rows, attr)
            if mc is not None:
                x, m, lo, hi = mc
                handles += axis.plot(x, m, color=color, ls=ls, label=label)
                axis.fill_between(x, lo, hi, color=color, alpha=0.15)
            axis.set_ylabel(ylabel, color=color)
            axis.tick_params(axis="y", colors=color)
        n_gaming = sum(r.gaming for r in g.rows)
        flag = f"; gaming flagged {n_gaming}/{len(g.rows)}" if n_gaming else ""
        ax.set_title(f"{g.task} ({noise_name(g.noise)}), budget {g.budget}\n{g.label} ({len(g.rows)} seeds{flag})",
                     fontsize=10)
        ax.set_xlabel("environment steps")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x else "0"))
        ax.grid(alpha=0.3)
        ax.legend(handles=handles, fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
