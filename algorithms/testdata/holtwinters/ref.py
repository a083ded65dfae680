#!/usr/bin/python3
"""Reference values for algorithms/season.go and algorithms/holtwinters.go.

Run from this directory with /usr/bin/python3 (Debian numpy 1.24, statsmodels
0.13): it writes cases.json. Everything here is an independent numpy/Python
implementation of the maths documented on FindSeason and HoltWinters (grid
resampling, centred-moving-average detrending, Pearson autocorrelation,
additive Holt-Winters with Brutlag deviations), and the Holt-Winters level,
trend, seasonal states and one-step forecasts are cross-checked against
statsmodels' ExponentialSmoothing(trend='add', seasonal='add',
initialization_method='known') with the same fixed smoothing parameters
(assertion below), so the stored numbers do not rest on this script alone.
"""
import json
import math

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing

ALPHA, BETA, GAMMA, DELTA = 0.1, 0.0035, 0.1, 3.0


def resample(t, v):
    t = np.asarray(t, dtype=np.int64)
    gaps = np.diff(t)
    gaps = np.sort(gaps[gaps > 0])
    step = int(gaps[(len(gaps) - 1) // 2])  # lower median
    G = min(int((t[-1] - t[0]) // step) + 1, 4 * len(t))
    start = int(t[-1]) - (G - 1) * step
    x = [math.nan] * G
    for ti, vi in zip(t, v):
        if vi is None or not math.isfinite(vi):
            continue
        off = int(ti) - start + step // 2
        if off < 0:
            continue
        k = off // step
        if k < G:
            x[k] = vi  # newest wins: t ascending
    first = next(k for k in range(G) if not math.isnan(x[k]))
    for k in range(first):
        x[k] = x[first]
    for k in range(first + 1, G):
        if math.isnan(x[k]):
            x[k] = x[k - 1]
    return np.array(x), step


def strength(x, L):
    """Pearson autocorrelation at lag L of x minus its centred MA of length L."""
    G = len(x)
    if L < 2:
        return None
    if L % 2:
        w = np.ones(L) / L
        h = (L - 1) // 2
    else:
        w = np.ones(L + 1) / L
        w[0] = w[-1] = 0.5 / L
        h = L // 2
    if G - 2 * h - L < L:
        return None
    ma = np.convolve(x, w, mode="valid")  # ma[j] centred on x[j+h]
    y = x[h:G - h] - ma
    pairs = len(y) - L
    if pairs < L:
        return None
    a, b = y[:pairs], y[L:L + pairs]
    if a.var() <= 1e-20 * x.var() or b.var() <= 1e-20 * x.var():
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def find_season(x, step, periods=(86400, 604800), min_strength=0.3):
    cands = []
    for sec in periods:
        L = int((sec + step // 2) // step)
        r = strength(x, L)
        if r is not None:
            cands.append((L, r))
    if not cands:
        return 0, None
    best = max(r for _, r in cands)
    ok = [(L, r) for L, r in cands if r >= min_strength and r >= best - 0.05]
    if not ok:
        return 0, best
    L, r = min(ok)
    return L, r


def hw_seasonal(x, m):
    """Returns states before the last point, forecast, error, deviation."""
    N = len(x) - 1
    m1, m2 = x[:m].mean(), x[m:2 * m].mean()
    b = (m2 - m1) / m
    l = m1 - b * (m + 1) / 2
    c = np.arange(m) - (m - 1) / 2
    s0 = ((x[:m] - m1 - b * c) + (x[m:2 * m] - m1 - b * (c + m))) / 2
    D = x[m:2 * m] - x[:m]
    d0 = np.abs(D - D.mean()).mean() / math.sqrt(2)
    init = dict(level=l, trend=b, seasonal=s0.copy())
    s = list(s0)  # s[t] for t = -m.. ; index t+m
    d = [d0] * m
    fitted = []
    for t in range(N):
        yhat = l + b + s[t]
        fitted.append(yhat)
        e = x[t] - yhat
        ln = ALPHA * (x[t] - s[t]) + (1 - ALPHA) * (l + b)
        bn = BETA * (ln - l) + (1 - BETA) * b
        s.append(GAMMA * (x[t] - l - b) + (1 - GAMMA) * s[t])
        d.append(GAMMA * abs(e) + (1 - GAMMA) * d[t])
        l, b = ln, bn
    f = l + b + s[N]
    return dict(level=l, trend=b, forecast=f, err=x[N] - f, dev=d[N],
                seasonal_by_phase=[s[N + j] if j < m else None for j in range(m)],
                fitted=fitted, init=init, s_hist=s, d_hist=d)


def hw_holt(x):
    N = len(x) - 1
    k = min(32, N)
    d = np.abs(np.diff(x[:k + 1])).mean()
    b = (x[k] - x[0]) / k
    l = x[0] - b
    for t in range(N):
        e = x[t] - (l + b)
        ln = ALPHA * x[t] + (1 - ALPHA) * (l + b)
        b = BETA * (ln - l) + (1 - BETA) * b
        d = GAMMA * abs(e) + (1 - GAMMA) * d
        l = ln
    f = l + b
    return dict(level=l, trend=b, forecast=f, err=x[N] - f, dev=d)


def statsmodels_check(x, m, r):
    """statsmodels must give the same fitted values and final states."""
    N = len(x) - 1
    init = r["init"]
    mod = ExponentialSmoothing(x[:N], trend="add", seasonal="add", seasonal_periods=m,
                               initialization_method="known",
                               initial_level=init["level"], initial_trend=init["trend"],
                               initial_seasonal=init["seasonal"])
    fit = mod.fit(smoothing_level=ALPHA, smoothing_trend=BETA, smoothing_seasonal=GAMMA,
                  optimized=False)
    assert np.allclose(fit.fittedvalues, r["fitted"], rtol=1e-10, atol=1e-8), "fitted"
    assert math.isclose(fit.level[-1], r["level"], rel_tol=1e-10), "level"
    assert math.isclose(fit.trend[-1], r["trend"], rel_tol=1e-8, abs_tol=1e-10), "trend"
    fc = fit.forecast(1)[0]
    assert math.isclose(fc, r["forecast"], rel_tol=1e-10), ("forecast", fc, r["forecast"])
    return float(fc)


def case(name, t, v, period=0, note=""):
    x, step = resample(t, v)
    out = dict(name=name, note=note, t=[int(a) for a in t],
               v=[None if (a is None or not math.isfinite(a)) else float(a) for a in v],
               period_seconds=period, step=step, grid_len=len(x))
    found, strength_ = find_season(x, step)
    out["season_period"] = found
    out["season_strength"] = strength_
    if period > 0:
        m = int((period + step // 2) // step)
    elif period == 0:
        m = found
    else:
        m = 0
    if m >= 2 and len(x) >= 2 * m + 1:
        r = hw_seasonal(x, m)
        out["statsmodels_forecast"] = statsmodels_check(x, m, r)
        N = len(x) - 1
        # seasonal state by phase (t mod m) after processing x[0..N-1]
        s = r["s_hist"]
        out["seasonal"] = [s[N + ((j - N) % m)] for j in range(m)]
        d = r["d_hist"]
        out["deviations"] = [d[N + ((j - N) % m)] for j in range(m)]
    else:
        m = 0
        r = hw_holt(x)
    dev = max(r["dev"], 1e-13 * np.abs(x).max())
    ratio = abs(r["err"]) / (DELTA * dev)
    out.update(model_period=m, level=r["level"], trend=r["trend"], forecast=r["forecast"],
               err=r["err"], dev=dev, ratio=ratio, vote=int(ratio > 1))
    return out


def main():
    rng = np.random.default_rng(20240603)
    cases = []

    # 1. Seven days of a daily sine at 5 minutes, newest point at a daily peak.
    n = 7 * 288
    t = 1_700_000_000 - (1_700_000_000 % 86400) + 300 * np.arange(n)
    phase = 2 * np.pi * np.arange(n) / 288
    base = 100 + 0.001 * np.arange(n) + 10 * np.sin(phase - np.pi / 2 + 2 * np.pi * 1 / 288)
    v = base + rng.normal(0, 1, n)
    cases.append(case("daily_sine_peak", t, list(v), note="7 days at 300 s, A=10, sigma=1; newest at the daily peak"))
    v2 = v.copy()
    v2[-1] += 8
    cases.append(case("daily_sine_spike", t, list(v2), note="as daily_sine_peak, newest point +8"))

    # 2. Ten days at 600 s with timestamp jitter, 10% dropped points, a
    # six-hour gap and NaN values (NAB-like irregular spacing).
    n = 10 * 144
    t = 1_600_000_000 + 600 * np.arange(n) + rng.integers(-120, 121, n)
    t[0] = 1_600_000_000
    t[-1] = 1_600_000_000 + 600 * (n - 1)
    v = 50 + 20 * np.sin(2 * np.pi * (t - t[0]) / 86400) + rng.normal(0, 2, n)
    keep = rng.random(n) > 0.1
    keep[-1] = keep[0] = True
    gap = (t > t[0] + 4 * 86400) & (t < t[0] + 4 * 86400 + 6 * 3600)
    keep &= ~gap
    t, v = t[keep], list(v[keep])
    for i in rng.choice(len(v) - 1, 15, replace=False):
        v[i] = math.nan
    cases.append(case("irregular_gaps", t, v, note="10 days at ~600 s with jitter, drops, a 6 h gap, NaNs"))

    # 3. Random walk at 60 s: no season, Holt fallback.
    n = 2000
    t = 1_650_000_000 + 60 * np.arange(n)
    v = 500 + np.cumsum(rng.normal(0, 1, n))
    cases.append(case("random_walk", t, list(v), note="no season: double exponential smoothing"))

    # 4. Configured hourly season at 60 s over one day (too short for daily).
    n = 1440
    t = 1_650_000_000 + 60 * np.arange(n)
    v = 5 + 3 * np.sign(np.sin(2 * np.pi * np.arange(n) / 60)) + rng.normal(0, 0.3, n)
    cases.append(case("configured_hourly", t, list(v), period=3600, note="Period 3600 s configured, square wave"))

    # 5. Five weeks at one hour with a weekday/weekend pattern: weekly season.
    n = 5 * 168
    t = 1_600_000_000 + 3600 * np.arange(n)
    hour = np.arange(n) % 24
    day = (np.arange(n) // 24) % 7
    v = 100 + 30 * np.sin(2 * np.pi * hour / 24) * np.where(day < 5, 1.0, 0.2) + rng.normal(0, 3, n)
    cases.append(case("weekly", t, list(v), note="5 weeks hourly, weekend days flattened"))

    # 6. Non-seasonal noise with a level shift in the newest point, Period < 0.
    n = 500
    t = 1_650_000_000 + 10 * np.arange(n)
    v = 20 + rng.normal(0, 1, n)
    v[-1] += 6
    cases.append(case("noise_shift_noseason", t, list(v), period=-1, note="Period -1, newest +6 sigma"))

    with open("cases.json", "w") as f:
        json.dump(dict(source="algorithms/testdata/holtwinters/ref.py (numpy %s, statsmodels cross-check)" % np.__version__,
                       alpha=ALPHA, beta=BETA, gamma=GAMMA, delta=DELTA, cases=cases), f, indent=None)
        f.write("\n")
    for c in cases:
        print(c["name"], "grid", c["grid_len"], "step", c["step"], "season", c["season_period"], c["season_strength"],
              "model", c["model_period"], "ratio", round(c["ratio"], 4), "vote", c["vote"])


if __name__ == "__main__":
    main()
