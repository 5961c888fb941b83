"""``siege fit`` on the terminal and on disk: the ranking and parameter tables, the best fit as
a scenario ``[attrition]`` fragment, and the CDB90 cross-sectional fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich import box
from rich.table import Table

from siege.analysis.cdb90 import Battles, HelmboldFit, breakpoints, exchange_ratio_by_posture
from siege.analysis.fit import INTERVAL_METHOD, FitSet, LawFit
from siege.analysis.fit_laws import RATE_NAMES, scenario_law
from siege.errors import FitError
from siege.files import atomic_write_text
from siege.output.terminal import fmt_value as _num

UNITS = {
    "square": "per firer-day", "linear": "per firer-target-day", "logarithmic": "per target-day",
    "helmbold": "per firer-day at force ratio 1", "general": "per firer**p target**q-day",
}


def header_line(fits: FitSet) -> str:
    """One line: the record, its days and phases, the interval method."""
    r = fits.record
    phases = "" if not fits.breaks else f", {len(fits.breaks) + 1} phases (breaks at day " + \
        ", ".join(f"{b:g}" for b in fits.breaks) + ")"
    return (f"{r.source}: {r.n_days} days (day {r.day[0]:g} to {r.day[-1]:g}){phases}; "
            f"95 % intervals by {INTERVAL_METHOD}")


def _group(fits: FitSet, estimator: str) -> list[LawFit]:
    return [f for f in fits.fits if f.estimator == estimator]


def estimators(fits: FitSet) -> list[str]:
    return list(dict.fromkeys(f.estimator for f in fits.fits))


def ranking_table(fits: FitSet, estimator: str) -> Table:
    """Laws ranked by AIC for one estimator, with per-side R², RMSE and the lag-1
    autocorrelation of the standardised residuals (def: defender losses, att: attacker)."""
    table = Table(title=f"estimator {estimator}: laws ranked by AIC", box=box.SIMPLE_HEAD)
    for header in ("rank", "law", "ΔAIC", "AIC", "BIC", "log-lik", "R² def", "R² att",
                   "RMSE def", "RMSE att", "r₁ def", "r₁ att", "identified"):
        table.add_column(header, justify="left" if header in ("law", "identified") else "right")
    for f in _group(fits, estimator):
        table.add_row(
            str(f.rank), f.law, f"{f.delta_aic:.1f}", f"{f.aic:.1f}", f"{f.bic:.1f}",
            f"{f.loglik:.1f}", *(f"{f.r2[s]:.3f}" for s in ("defender", "attacker")),
            *(_num(f.rmse[s]) for s in ("defender", "attacker")),
            *(f"{f.residual_autocorrelation[s]:.2f}" for s in ("defender", "attacker")),
            "yes" if f.identified else "NOT IDENTIFIED",
        )
    return table


def params_table(fits: FitSet, estimator: str) -> Table:
    """Every law's parameters with their 95 % intervals; not-identified ones say why instead
    of showing an interval."""
    table = Table(title=f"estimator {estimator}: parameters (95 % {INTERVAL_METHOD})",
                  box=box.SIMPLE_HEAD)
    for header in ("law", "parameter", "estimate", "95 % interval", "note"):
        table.add_column(header, justify="right" if header == "estimate" else "left")
    for f in _group(fits, estimator):
        first = True
        for name, e in f.params.items():
            interval = f"{_num(e.low)} – {_num(e.high)}" if e.identified else "not identified"
            table.add_row(f.law if first else "", name, _num(e.estimate), interval, e.note)
            first = False
        for name, value in f.fixed.items():
            table.add_row(f.law if first else "", name, _num(value), "fixed", "")
            first = False
        if not f.converged:
            table.add_row("", "", "", "", "the optimiser did not converge")
    return table


def scenario_fragment(fits: FitSet) -> str:
    """The best fit (lowest AIC of the first estimator, identified and with a scenario
    equivalent) as a TOML ``[attrition]`` table, with dated events for later phases."""
    estimator = estimators(fits)[0]
    r = fits.record
    skipped: list[str] = []
    for f in _group(fits, estimator):
        keys, note = scenario_law(f.law, *f.powers)
        if keys is None or not f.identified:
            skipped.append(f"# not written: {f.law} (rank {f.rank}): "
                           + (note if keys is None else "not identified"))
            continue
        break
    else:
        raise FitError("--write-scenario: no identified fit has a scenario equivalent:\n"
                       + "\n".join(skipped))
    lines = [
        f"# [attrition] fitted by `siege fit` to {r.source} (days {r.day[0]:g} to "
        f"{r.day[-1]:g}, scenario day 0 = record day {r.day[0]:g}):",
        f"# law {f.law}, estimator {estimator}, rank {f.rank} by AIC; 95 % {INTERVAL_METHOD} "
        "intervals in the comments.",
        *skipped,
        *([f"# {note}"] if note else []),
        "# The kill rates are per unit of fire at effectiveness 1 (quality 1, no fortification,",
        "# supply or other modifier). Paste into a scenario, or put `extends = \"base.toml\"` at",
        "# the top of this file to run it as one (its [[events]] then replace the base's).",
        "[attrition]",
    ]
    for key, value in keys.items():
        comment = (_interval_comment(f, key) if key in f.params
                   else "  # fixed by --helmbold-w" if key in f.fixed else "")
        lines.append(f"{key} = {_toml(value)}{comment}")
    for side, name in enumerate(RATE_NAMES):
        key = name if not fits.breaks else f"{name}[1]"
        lines.append(f"{name} = {_toml(f.kill_rates[side][0])}{_interval_comment(f, key)} "
                     f"({UNITS[f.law]})")
    if estimator == "negbin":
        lines.append(f"overdispersion = {_toml(f.params['overdispersion'].estimate)}"
                     + _interval_comment(f, "overdispersion"))
    elif estimator == "poisson":
        lines.append("overdispersion = 0.0  # Poisson losses")
    for k, day in enumerate(fits.breaks, start=1):
        rates = ", ".join(f'"attrition.{name}" = {_toml(f.kill_rates[side][k])}'
                          for side, name in enumerate(RATE_NAMES))
        intervals = "; ".join(f"{name} {_num(f.params[f'{name}[{k + 1}]'].low)} – "
                              f"{_num(f.params[f'{name}[{k + 1}]'].high)}" for name in RATE_NAMES)
        lines += ["", f"# phase {k + 1}, from record day {day:g}; 95 %: {intervals}",
                  "[[events]]", f"day = {_toml(day - float(r.day[0]))}", f"set = {{ {rates} }}",
                  f'note = "siege fit: kill rates of phase {k + 1}"']
    return "\n".join(lines) + "\n"


def _toml(value: str | float) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    text = f"{float(value):.6g}"
    return text if any(c in text for c in ".en") else text + ".0"


def _interval_comment(f: LawFit, name: str) -> str:
    e = f.params[name]
    return f"  # 95 %: {_num(e.low)} – {_num(e.high)}"


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all (a temporary file beside it, renamed)."""
    if not path.parent.is_dir():
        raise FitError(f"{path}: folder {path.parent} does not exist")
    atomic_write_text(path, text)
    return path


def cdb90_lines(battles: Battles, fit: HelmboldFit) -> list[str]:
    """The cross-sectional Helmbold fit of CDB90, exchange ratios by posture, breakpoints."""
    lines = [
        f"CDB90: {fit.n} battles with strengths and casualties on both sides",
        f"Helmbold exponent W = {fit.exponent:.3f} ± {fit.stderr:.3f} (standard error), from "
        f"the slope {fit.slope:.3f} = 2W - 1 of log(attacker/defender casualties) on "
        "log(defender/attacker strength)",
        "median exchange ratio (attacker over defender casualties) by defender posture:",
    ]
    lines += [f"  {posture:<11} {n:>4} battles  {ratio:.2f}"
              for posture, (n, ratio) in exchange_ratio_by_posture(battles).items()]
    lines.append("share of initial strength lost by the beaten side (quartiles 25/50/75 %):")
    lines += [f"  {side:<9} " + "  ".join(f"{q:.3f}" for q in np.asarray(quartiles))
              for side, quartiles in breakpoints(battles).items()]
    return lines


def cdb90_dict(battles: Battles, fit: HelmboldFit) -> dict[str, object]:
    """JSON-ready form of :func:`cdb90_lines`."""
    return {
        "battles": fit.n, "helmbold_exponent": fit.exponent, "stderr": fit.stderr,
        "slope": fit.slope, "intercept": fit.intercept,
        "exchange_ratio_by_posture": {k: {"battles": n, "median": r} for k, (n, r)
                                      in exchange_ratio_by_posture(battles).items()},
        "breakpoint_quartiles": {k: [float(x) for x in v]
                                 for k, v in breakpoints(battles).items()},
    }
