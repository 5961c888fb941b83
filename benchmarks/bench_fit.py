"""``siege fit`` speed: every law by every estimator, with profile-likelihood intervals, on a
32-day record, on one core (BLAS threads 1, the process pinned to one CPU).

    python benchmarks/bench_fit.py [--repeat 5]

The record is synthetic: square-law Poisson losses from Engel's (1954) Iwo Jima coefficients
(0.0106 Japanese lost per US soldier-day, 0.0544 US per Japanese soldier-day; 21,500 Japanese;
US landings of 54,000, 6,000 and 13,000 on days 0, 2 and 5), seed 0. Prints the median wall
time of the fit over the repeats, against the target of 10 s.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from siege.analysis.fit import fit_record  # noqa: E402
from siege.analysis.fit_laws import ESTIMATORS, LAW_NAMES, run_forward  # noqa: E402
from siege.analysis.fit_record import AttritionRecord, record_from_arrays  # noqa: E402

TARGET_S = 10.0


def iwo_jima_like(n_days: int = 32, seed: int = 0) -> AttritionRecord:
    """Days 1..n_days of a square-law run from Engel's coefficients (day 0 has no US)."""
    landings = np.zeros(n_days + 1)
    landings[[0, 2, 5]] = 54_000.0, 6_000.0, 13_000.0
    us, japanese, us_lost, japanese_lost = run_forward(
        np.full(n_days + 1, 0.0106), np.full(n_days + 1, 0.0544), 1.0, 0.0, 1.0, 21_500.0,
        landings, np.zeros(n_days + 1), np.random.default_rng(seed),
    )
    days = slice(1, None)
    return record_from_arrays(np.arange(1.0, n_days + 1), us[days], japanese[days],
                              us_lost[days], japanese_lost[days], landings[days])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    record = iwo_jima_like()
    walls = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        fits = fit_record(record, laws=LAW_NAMES, estimators=ESTIMATORS)
        walls.append(time.perf_counter() - start)
    best = fits.fits[0]
    print(f"{len(fits.fits)} fits ({len(LAW_NAMES)} laws x {len(ESTIMATORS)} estimators) on "
          f"{record.n_days} days, one core: median {statistics.median(walls):.2f} s over "
          f"{args.repeat} runs (target {TARGET_S:g} s); best by {best.estimator} AIC: "
          f"{best.law}, attacker_kill_rate {best.params['attacker_kill_rate'].estimate:.4g}, "
          f"defender_kill_rate {best.params['defender_kill_rate'].estimate:.4g}")


if __name__ == "__main__":
    main()
