"""``siege optimize`` for people: the front table (levers, objectives with 95 % intervals),
the pairwise dominance probabilities, the generations (hypervolume, ε-progress) as text, and
two figures: the front, and hypervolume and ε-progress per generation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siege.analysis.optimize_result import OptimizeResult
from siege.files import atomic_path
from siege.output.figure_style import pyplot, thousands

MATRIX_MEMBERS = 12  # the dominance matrix is printed for fronts this small (all in --json)


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
    return str(v)


def _ids(ids: tuple[int, ...]) -> str:
    """``3, 7, 8`` (at most six, then how many more)."""
    shown = ", ".join(map(str, ids[:6]))
    return shown + (f" +{len(ids) - 6}" if len(ids) > 6 else "")


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    out = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]
    return out


def front_text(result: OptimizeResult) -> str:
    """The front, its dominance probabilities and the generations, as plain text."""
    twins = sum(len(m.same_outcomes) for m in result.front)
    lines = [f"front: {len(result.front)} members of {result.candidates_total} candidates "
             f"({result.evaluations_run} evaluations run now, {result.racing_rounds} racing "
             "rounds); objectives with 95 % bootstrap intervals"]
    if twins:
        lines.append(f"{twins} more candidates had outcomes identical to a member's in every "
                     "replication (their levers made no difference): `same as` lists them")
    if not result.front:
        lines.append("no candidate meets the constraints")
    levers = list(result.front[0].levers) if result.front else []
    header = ["candidate", *levers, "reps",
              *[f"{k} ({d})" for k, d in zip(result.objective_keys, result.directions,
                                              strict=True)], *(["same as"] if twins else [])]
    rows = []
    for m in result.front:
        row = [str(m.candidate), *[_num(m.levers[p]) for p in levers], f"{m.replications:,}"]
        for k in result.objective_keys:
            v = m.objectives[k]
            row.append(f"{_num(v.estimate)} [{_num(v.low)}, {_num(v.high)}]")
        if twins:
            row.append(_ids(m.same_outcomes))
        rows.append(row)
    lines += _grid(header, rows)
    if 1 < len(result.front) <= MATRIX_MEMBERS:
        lines += ["", "P(row dominates column), paired bootstrap over replications:"]
        ids = [str(m.candidate) for m in result.front]
        lines += _grid(["", *ids], [
            [ids[i], *["-" if i == j else f"{result.dominance[i, j]:.2f}"
                       for j in range(len(ids))]] for i in range(len(ids))])
    lines += ["", "generations (search estimates):"]
    lines += _grid(["generation", "candidates", "new", "hypervolume", "ε-progress"], [
        [str(g.generation), str(g.candidates), str(g.new), f"{g.hypervolume:.4f}",
         str(g.epsilon_progress)] for g in result.generations])
    return "\n".join(lines)


def front_figure(result: OptimizeResult, path: str | Path) -> Path:
    """The front on the first two objectives (every other candidate in gray), intervals as
    bars."""
    plt = pyplot()
    table = result.candidates
    keys = result.objective_keys
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    if len(keys) >= 2:
        x, y = keys[0], keys[1]
        ax.scatter(table.column(x).to_numpy(), table.column(y).to_numpy(), s=8,
                   color="#b0b0b0", label="evaluated")
        for m in result.front:
            a, b = m.objectives[x], m.objectives[y]
            ax.errorbar(a.estimate, b.estimate, xerr=[[a.estimate - a.low], [a.high - a.estimate]],
                        yerr=[[b.estimate - b.low], [b.high - b.estimate]], fmt="o",
                        color="#1f5fa8", ms=4, lw=0.8)
            ax.annotate(str(m.candidate), (a.estimate, b.estimate), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(f"{x} ({result.directions[0]})")
        ax.set_ylabel(f"{y} ({result.directions[1]})")
        thousands(ax.xaxis)
        thousands(ax.yaxis)
    ax.set_title("front (blue, 95 % intervals) and every candidate evaluated (gray)")
    return _save(fig, plt, path)


def progress_figure(result: OptimizeResult, path: str | Path) -> Path:
    """Hypervolume (line) and ε-progress (bars) per generation."""
    plt = pyplot()
    gens = [g.generation for g in result.generations]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(gens, [g.hypervolume for g in result.generations], "o-", color="#1b1b1b")
    ax.set_xlabel("generation")
    ax.set_ylabel("hypervolume (normalised)")
    twin = ax.twinx()
    twin.bar(gens, [g.epsilon_progress for g in result.generations], alpha=0.3,
             color="#1f5fa8")
    twin.set_ylabel("ε-progress (archive improvements)")
    ax.set_title("search progress per generation")
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: str | Path) -> Path:
    target = Path(path)
    try:
        fig.tight_layout()
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=target.suffix.lstrip(".") or "png", dpi=120)
    finally:
        plt.close(fig)
    return target
