"""Sensitivity of a sweep's outcomes to its parameters.

* :func:`sobol_indices`: first-order (Saltelli 2010) and total (Jansen 1999) Sobol' indices
  from outputs on Saltelli's A, B and AB_i matrices, computed by
  ``scipy.stats.sobol_indices``, with percentile bootstrap intervals over the N base rows.
  What a ``sobol`` design (``saltelli = true``) provides. The intervals come from
  ``scipy.stats.bootstrap`` with a seeded generator rather than from SciPy's
  ``SobolResult.bootstrap()``, which takes no seed (it draws from NumPy's global state, so
  ``siege sensitivity --seed`` could not repeat its intervals) and uses BCa, whose jackknife
  evaluates N − 1 rows, which ``sobol_indices`` refuses (N must be a power of 2).
* :func:`prcc`: partial rank correlation coefficients with bootstrap intervals, a model-free
  measure that works on any design (grid, LHS, Sobol', random); parameters are ranked by
  ``|PRCC|``.

Both take plain arrays (SALib's ``analyze(problem, Y)``); :func:`analyze_store` applies them
to a sweep store's per-point summaries. The outcome measures are per-point end-reason
probabilities and the means (medians, for measures that can be infinite) of the summary's
measures, columns of ``summary.parquet``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from scipy import stats

from siege.errors import SweepError
from siege.files import atomic_write_table, atomic_write_text
from siege.jsonsafe import json_safe
from siege.model.rules import END_REASONS
from siege.results.summary import CAN_BE_INFINITE, SUMMARY_MEASURES

#: Per-point outcome measures analysed (columns of ``summary.parquet``).
MEASURES: tuple[str, ...] = (
    *(f"p_{r}" for r in END_REASONS),
    *(f"{m}_{'median' if m in CAN_BE_INFINITE else 'mean'}" for m in SUMMARY_MEASURES),
)


@dataclass(frozen=True)
class SobolResult:
    """Indices ``(d,)`` per parameter with 95 % bootstrap intervals ``low``/``high``."""

    first_order: NDArray[np.float64]
    first_order_low: NDArray[np.float64]
    first_order_high: NDArray[np.float64]
    total_order: NDArray[np.float64]
    total_order_low: NDArray[np.float64]
    total_order_high: NDArray[np.float64]


def sobol_indices(
    f_a: NDArray[np.float64],
    f_b: NDArray[np.float64],
    f_ab: NDArray[np.float64],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> SobolResult:
    """Sobol' indices of one output from its values on A ``(n,)``, B ``(n,)`` and AB_i
    ``(d, n)`` (``n`` a power of 2); percentile bootstrap intervals resample the n base
    rows. Indices of an output that does not vary are 0, as SciPy has them."""
    f_a = np.asarray(f_a, dtype=float)
    f_b = np.asarray(f_b, dtype=float)
    f_ab = np.asarray(f_ab, dtype=float)
    d, n = f_ab.shape

    def indices(rows: NDArray[np.intp]) -> NDArray[np.float64]:
        """First and total indices ``(2d,)`` of the base rows ``rows``."""
        res = stats.sobol_indices(
            func={"f_A": f_a[None, rows], "f_B": f_b[None, rows], "f_AB": f_ab[:, None, rows]},
            n=rows.size,
        )
        return np.concatenate([np.reshape(res.first_order, d), np.reshape(res.total_order, d)])

    estimate = indices(np.arange(n))
    if n < 2:  # nothing to resample
        low = high = np.full(2 * d, np.nan)
    else:
        boot = stats.bootstrap(
            (np.arange(n),), indices, vectorized=False, n_resamples=n_resamples,
            confidence_level=confidence, method="percentile",
            rng=np.random.default_rng(np.random.SeedSequence(seed)),
        )
        low, high = boot.confidence_interval
    return SobolResult(estimate[:d], low[:d], high[:d], estimate[d:], low[d:], high[d:])


def _ranks(x: NDArray[np.float64]) -> NDArray[np.float64]:
    from scipy.stats import rankdata

    return np.asarray(rankdata(x, axis=0), dtype=float)


def _prcc_point(x_rank: NDArray[np.float64], y_rank: NDArray[np.float64]) -> NDArray[np.float64]:
    """PRCC of each column of ``x_rank`` ``(n, d)`` with ``y_rank`` ``(n,)``."""
    n, d = x_rank.shape
    out = np.full(d, np.nan)
    ones = np.ones((n, 1))
    for j in range(d):
        others = np.hstack([ones, np.delete(x_rank, j, axis=1)])
        coef_x, *_ = np.linalg.lstsq(others, x_rank[:, j], rcond=None)
        coef_y, *_ = np.linalg.lstsq(others, y_rank, rcond=None)
        rx = x_rank[:, j] - others @ coef_x
        ry = y_rank - others @ coef_y
        denom = np.sqrt(np.sum(rx * rx) * np.sum(ry * ry))
        out[j] = np.sum(rx * ry) / denom if denom > 0 else np.nan
    return out


@dataclass(frozen=True)
class PrccResult:
    """Partial rank correlations ``(d,)`` with 95 % bootstrap intervals."""

    prcc: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]


def prcc(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    *,
    n_resamples: int = 500,
    confidence: float = 0.95,
    seed: int = 0,
) -> PrccResult:
    """Partial rank correlation of ``y`` ``(n,)`` with each column of ``x`` ``(n, d)``: the
    rank correlation left once the (ranked) other parameters are regressed out."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    estimate = _prcc_point(_ranks(x), _ranks(y))
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    n = y.shape[0]
    boot = np.empty((n_resamples, x.shape[1]))
    for r in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        boot[r] = _prcc_point(_ranks(x[idx]), _ranks(y[idx]))
    q = [(1 - confidence) / 2, (1 + confidence) / 2]
    low, high = np.nanquantile(boot, q, axis=0)
    return PrccResult(estimate, low, high)


def analyze_store(
    path: str | Path, *, n_resamples: int = 1000, seed: int = 0
) -> pa.Table:
    """Sensitivity of a sweep store's per-point measures: Sobol' indices (a Saltelli
    ``sobol`` design with every point done) and PRCC (any design, the finished points).

    Returns a long table: measure, parameter, method (``sobol_first``, ``sobol_total``,
    ``prcc``), estimate, low, high, rank (1 = most influential by that method)."""
    from siege.run.store_read import open_store

    store = open_store(path)
    params = store.parameters
    design = store.design.to_pydict()
    summary = store.summary.to_pydict()
    done = summary.get("point", [])
    if len(done) < 3:
        raise SweepError(f"{path}: {len(done)} finished point(s); sensitivity needs at least 3")
    row_of = {p: i for i, p in enumerate(done)}
    x = np.column_stack([_numeric([design[p][pt] for pt in done]) for p in params])
    rows: list[dict[str, object]] = []
    is_saltelli = bool(design["role"]) and design["role"][0] == "A"
    n_base = int(store.design.schema.metadata.get(b"siege.design_base_points", b"0"))
    measures = [m for m in MEASURES if m in summary]
    for measure in measures:
        y_all = np.asarray(summary[measure], dtype=float)
        if not np.all(np.isfinite(y_all)) or np.ptp(y_all) == 0:
            continue  # constant (e.g. an end reason that never happens) or infinite
        if is_saltelli and len(done) == len(design["point"]):
            y = np.array([y_all[row_of[p]] for p in design["point"]])
            d = len(params)
            f_a, f_b = y[:n_base], y[n_base: 2 * n_base]
            f_ab = y[2 * n_base:].reshape(d, n_base)
            res = sobol_indices(f_a, f_b, f_ab, n_resamples=n_resamples, seed=seed)
            for method, est, lo, hi in (
                ("sobol_first", res.first_order, res.first_order_low, res.first_order_high),
                ("sobol_total", res.total_order, res.total_order_low, res.total_order_high),
            ):
                rank = _rank_desc(np.abs(est))
                for j, p in enumerate(params):
                    rows.append(dict(measure=measure, parameter=p, method=method,
                                     estimate=float(est[j]), low=float(lo[j]),
                                     high=float(hi[j]), rank=int(rank[j])))
        pr = prcc(x, y_all, n_resamples=max(100, n_resamples // 2), seed=seed)
        rank = _rank_desc(np.abs(pr.prcc))
        for j, p in enumerate(params):
            rows.append(dict(measure=measure, parameter=p, method="prcc",
                             estimate=float(pr.prcc[j]), low=float(pr.low[j]),
                             high=float(pr.high[j]), rank=int(rank[j])))
    if is_saltelli and len(done) < len(design["point"]):
        missing = sorted(set(design["point"]) - set(done))
        import logging

        logging.getLogger(__name__).warning(
            "Sobol' indices need every point; %d missing (e.g. %s): only PRCC computed",
            len(missing), missing[:5])
    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("measure", pa.string()), ("parameter", pa.string()), ("method", pa.string()),
        ("estimate", pa.float64()), ("low", pa.float64()), ("high", pa.float64()),
        ("rank", pa.int32()),
    ]))
    return table.replace_schema_metadata(
        {"siege.kind": "sensitivity", "siege.points": str(len(done))}
    )


def output_format(path: str | Path) -> str:
    """The format a sensitivity table is saved in, by the file's name: ``json`` for
    ``.json``, ``parquet`` for ``.parquet`` (raises SweepError for any other name)."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".parquet"):
        raise SweepError(f"{path}: give a file name ending in .parquet or .json (the format "
                         "the table is saved in)")
    return suffix[1:]


def write_sensitivity(table: pa.Table, path: str | Path) -> Path:
    """Save a sensitivity table, whole or not at all: JSON (a list of rows) for a ``.json``
    name, else Parquet (see :func:`output_format`)."""
    target = Path(path)
    if output_format(target) == "json":
        rows = json.dumps(json_safe(table.to_pylist()), indent=2) + "\n"
        atomic_write_text(target, rows)
    else:
        atomic_write_table(target, table)
    return target


def _numeric(values: list[object]) -> NDArray[np.float64]:
    """A parameter's values as numbers (non-numeric values: their index in sorted order)."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=float)
    levels = sorted({str(v) for v in values})
    return np.array([levels.index(str(v)) for v in values], dtype=float)


def _rank_desc(values: NDArray[np.float64]) -> NDArray[np.int64]:
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    rank = np.empty(values.size, dtype=np.int64)
    rank[order] = np.arange(1, values.size + 1)
    return rank
