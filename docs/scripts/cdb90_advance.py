"""Print how fast attackers advanced in CDB90's battles against the force ratio, and which
advance law fits (siege.analysis.advance_fit; the README's Advance-law row cites it).

    python docs/scripts/cdb90_advance.py [--draws 1000]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from siege.analysis.advance_fit import (
    LAWS,
    bootstrap_advance,
    fit_advance,
    fit_law,
    load_advances,
    posture_pace,
)


def main(draws: int) -> None:
    adv = load_advances()
    fit = fit_advance(adv.ratio, adv.rate)
    boot = bootstrap_advance(adv.ratio, adv.rate, draws=draws, seed=1)
    lo, hi = np.percentile(boot, [5, 95], axis=0)
    print(f"CDB90 battles with strengths, advance and length: {fit.n}; "
          f"R from {adv.ratio.min():.2f} to {adv.ratio.max():.1f} "
          f"(10-90 %: {np.percentile(adv.ratio, 10):.2f}-{np.percentile(adv.ratio, 90):.2f})")
    print("\n| quantity | estimate | 90 % bootstrap interval |\n| --- | --- | --- |")
    for k, (name, value) in enumerate((("parity (P(advance) = 1/2)", fit.parity),
                                       ("tanh sensitivity (logistic slope / 2)", fit.sensitivity),
                                       (f"dupuy exponent ({fit.n_advanced} advances above parity)",
                                        fit.exponent))):
        print(f"| {name} | {value:.2f} | {lo[k]:.2f} to {hi[k]:.2f} |")
    print(f"\n({draws} bootstrap resamples of the battles; the exponent's OLS standard error "
          f"{fit.exponent_stderr:.2f})")
    edges = np.quantile(adv.ratio, np.linspace(0, 1, 6))
    print("\n| force ratio R | battles | share advancing | median km/day of the advances |")
    print("| --- | --- | --- | --- |")
    for a, b in itertools.pairwise(edges):
        m = (adv.ratio >= a) & (adv.ratio <= b)
        ahead = adv.rate[m] > 0
        print(f"| {a:.2f}-{b:.2f} | {m.sum()} | {ahead.mean():.2f} | "
              f"{np.median(adv.rate[m][ahead]):.2f} |")
    print("\n| defender posture | battles | share advancing | pace of the advances / hasty |")
    print("| --- | --- | --- | --- |")
    for name, (n, share, scale) in posture_pace(adv).items():
        print(f"| {name} | {n} | {share:.2f} | {scale:.2f} |")
    print("\n| law (whole, least absolute deviations) | km/day at drive 1 (HD, PD, FD) | parity "
          "| shape | mean abs. error (km/day) |\n| --- | --- | --- | --- | --- |")
    fits = {law: fit_law(law, adv.ratio, adv.rate, adv.posture) for law in LAWS}
    for f in fits.values():
        rates = ", ".join(f"{v:.2f}" for v in f.rates.values())
        print(f"| {f.law} | {rates} | {f.parity:.3g} | {f.shape:.3g} | {f.mae:.3f} |")
    flat = float(np.mean(np.abs(adv.rate - np.median(adv.rate))))
    print(f"| none (the median, {np.median(adv.rate):.2f} km/day) | | | | {flat:.3f} |")
    aic = 2 * fit.n * np.log(fits["dupuy"].mae / fits["tanh"].mae)
    print(f"\nLaplace AIC(dupuy) - AIC(tanh) = {aic:.1f} (same parameter count; > 0 favours tanh)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=1000)
    main(parser.parse_args().draws)
