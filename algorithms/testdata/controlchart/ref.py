#!/usr/bin/python3
"""Reference values for algorithms/controlchart.go (EWMAChart, CUSUM,
WesternElectric).

Run from this directory with /usr/bin/python3 (Debian numpy): it writes
cases.json. An independent numpy implementation of the maths documented in
controlchart.go: baseline = every point before the newest `window`, mean
and sample standard deviation (numpy ddof=1) over its finite values taken
relative to the first of them, sigma floored at 1e-13*|mean|; EWMA with the exact time-varying variance
sigma^2 * lam/(2-lam) * (1-(1-lam)^(2i)); tabular CUSUM; the four Western
Electric rules at the newest point, each rule also checked by brute force
(counting points beyond the zone) against its ratio form.
"""
import json
import math

import numpy as np


def baseline(v, w):
    base = v[:-w]
    base = base[np.isfinite(base)]
    if len(base) < 10 or not np.isfinite(v[-1]):
        return None
    # Shifted by the first baseline value, as Go does, so that a constant
    # baseline has exactly its value as mean and 0 as deviation.
    mu = base[0] + (base - base[0]).mean()
    sd = (base - base[0]).std(ddof=1)
    return mu, max(sd, 1e-13 * abs(mu))


def ratio(stat, limit):
    if limit > 0:
        return stat / limit
    return 0.0 if stat == 0 else math.inf


def ewma(v, lam=0.2, L=3.0, w=10):
    b = baseline(v, w)
    if b is None:
        return None
    mu, sd = b
    win = v[-w:]
    win = win[np.isfinite(win)]
    i = len(win)
    z = mu
    for x in win:
        z = lam * x + (1 - lam) * z
    # Cross-check with the closed form
    # z_i = (1-lam)^i mu + sum_j lam (1-lam)^(i-j) x_j.
    weights = lam * (1 - lam) ** np.arange(i - 1, -1, -1)
    assert math.isclose(z, (1 - lam) ** i * mu + np.dot(weights, win), rel_tol=1e-12)
    sz = sd * math.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * i)))
    return dict(mu=mu, sigma=sd, z=z, sigma_z=sz, ratio=ratio(abs(z - mu), L * sz))


def cusum(v, k=0.5, h=5.0, w=20):
    b = baseline(v, w)
    if b is None:
        return None
    mu, sd = b
    hi = lo = 0.0
    for x in v[-w:]:
        if np.isfinite(x):
            hi = max(0.0, x - (mu + k * sd) + hi)
            lo = max(0.0, (mu - k * sd) - x + lo)
    return dict(mu=mu, sigma=sd, hi=hi, lo=lo, ratio=ratio(max(hi, lo), h * sd))


def western_electric(v, w=8):
    b = baseline(v, w)
    if b is None:
        return None
    mu, sd = b
    win = v[-w:]
    if win[-1] == mu:
        return dict(mu=mu, sigma=sd, rules=[False] * 4, ratio=0.0)
    S = 1.0 if win[-1] > mu else -1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(np.isfinite(win), S * (win - mu) / sd, -np.inf)
    z = z[::-1]  # z[0] newest
    # Brute-force rule checks.
    r1 = z[0] > 3
    r2 = z[0] > 2 and (z[1:3] > 2).sum() >= 1
    r3 = z[0] > 1 and (z[1:5] > 1).sum() >= 3
    run = 0
    while run < len(z) and z[run] > 0:
        run += 1
    r4 = run >= 8
    # Ratio forms.
    q1 = z[0] / 3
    q2 = min(z[0], z[1:3].max()) / 2
    q3 = min(z[0], np.sort(z[1:5])[::-1][2]) / 1
    q4 = run / 7
    rat = max(q1, q2, q3, q4)
    assert (rat > 1) == (r1 or r2 or r3 or r4), (rat, r1, r2, r3, r4)
    assert (q1 > 1) == r1 and (q2 > 1) == r2 and (q3 > 1) == r3 and (q4 > 1) == r4
    return dict(mu=mu, sigma=sd, rules=[bool(r1), bool(r2), bool(r3), bool(r4)], ratio=float(rat))


def jsonable(x):
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "+Inf" if x > 0 else "-Inf"
        return x
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def main():
    rng = np.random.default_rng(7)
    cases = []

    def add(name, v, note):
        v = np.asarray(v, dtype=float)
        cases.append(dict(name=name, note=note, v=[None if not np.isfinite(a) else float(a) for a in v],
                          ewma=ewma(v), cusum=cusum(v), western_electric=western_electric(v)))

    base = 10 + rng.normal(0, 1, 200)
    add("in_control", base, "N(10,1), nothing unusual")
    v = base.copy(); v[-1] += 7
    add("spike_7sigma", v, "newest point +7 sigma")
    v = base.copy(); mu, sd = baseline(v, 8); v[-1] = mu - 3.5 * sd
    add("dip_3.5sigma", v, "newest at -3.5 sigma of the WE baseline: rule 1")
    v = base.copy(); v[-6:] += 1.5
    add("shift_1.5sigma_6pts", v, "sustained +1.5 sigma over the newest 6 points")
    v = base.copy(); v[-20:] += 0.1 * np.arange(20)
    add("drift", v, "linear drift over the newest 20 points")
    # Western Electric rule cases, with the baseline of 100 points of a
    # fixed zig-zag (mean 0, sample std known) so z is exact.
    zig = np.tile([1.0, -1.0], 50)
    sd = zig.std(ddof=1)
    add("we_rule2", np.concatenate([zig, sd * np.array([0.1, -0.2, 0.3, 0.1, -0.5, 2.5, 0.4, 2.2])]),
        "two of three beyond 2 sigma: rule 2 only")
    add("we_rule3", np.concatenate([zig, sd * np.array([0.1, -0.2, 0.3, 1.2, 1.5, 0.4, 1.1, 1.3])]),
        "four of five beyond 1 sigma: rule 3 only")
    add("we_rule4", np.concatenate([zig, sd * np.array([0.2, 0.5, 0.1, 0.9, 0.3, 0.2, 0.6, 0.4])]),
        "eight in a row above the mean: rule 4 only")
    add("we_rule4_broken_by_nan", np.concatenate([zig, sd * np.array([0.2, 0.5, 0.1, np.nan, 0.3, 0.2, 0.6, 0.4])]),
        "as we_rule4 with a NaN: the run is broken")
    add("we_stale_rule2", np.concatenate([zig, sd * np.array([0.1, -0.2, 0.3, 0.1, 2.5, 2.2, 0.4, 0.3])]),
        "rule 2 completed earlier, the newest point is not beyond 2 sigma")
    v = base.copy(); v[-3] = np.nan; v[50] = np.nan; v[-1] += 4
    add("nan_inside", v, "NaN in baseline and window, newest +4")
    add("constant", np.full(60, 0.1), "constant: sigma floored, ratio 0")
    v = np.full(60, 0.1); v[-1] = 0.2
    add("constant_then_change", v, "constant then a change: huge ratio")
    add("too_short", base[:15], "15 points: baseline < 10 for EWMA and CUSUM")

    with open("cases.json", "w") as f:
        json.dump(jsonable(dict(source="algorithms/testdata/controlchart/ref.py (numpy %s)" % np.__version__,
                                cases=cases)), f)
        f.write("\n")
    for c in cases:
        print(c["name"], *[(k, None if c[k] is None else round(c[k]["ratio"], 4)) for k in ("ewma", "cusum", "western_electric")],
              c["western_electric"] and c["western_electric"]["rules"])


if __name__ == "__main__":
    main()
