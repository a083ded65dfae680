#!/usr/bin/python3
"""Reference values for package algorithms' Skyline detectors and statistics.

Run with Debian's Python and libraries (the versions Etsy Skyline's parity
verdicts were produced with):  /usr/bin/python3 gen.py
It rewrites stats.json, ks.json, adf.json and skyline.json in this directory.

The Etsy functions below restate src/analyzer/algorithms.py of
github.com/etsy/skyline (archived HEAD) with the parity shims: pandas
Series.iget(i) -> .iloc[i], ewma(s, com) -> s.ewm(com=com).mean(),
ewmstd(s, com) -> s.ewm(com=com).std(bias=False), time() -> now, and
FULL_DURATION a parameter. Each returns (vote, statistics) where vote is
True/False/None as Etsy's function returns, or the string "raise" when the
Python raises. Floats are written as JSON numbers (shortest round-trip
repr) or the strings "NaN", "Inf", "-Inf".
"""
import json
import math
import os
import warnings

import numpy as np
import pandas
import scipy
import scipy.stats
import statsmodels
import statsmodels.api as sm

warnings.simplefilter("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = {
    "numpy": np.__version__,
    "scipy": scipy.__version__,
    "pandas": pandas.__version__,
    "statsmodels": statsmodels.__version__,
}


def enc(x):
    if isinstance(x, (list, tuple, np.ndarray)):
        return [enc(y) for y in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return x


def tail_avg(ts):
    try:
        return (ts[-1][1] + ts[-2][1] + ts[-3][1]) / 3
    except IndexError:
        return ts[-1][1]


def median_absolute_deviation(ts, now, fd):
    series = pandas.Series([x[1] for x in ts])
    median = series.median()
    demedianed = np.abs(series - median)
    mad = demedianed.median()
    if mad == 0:
        return False, {"mad": mad}
    stat = demedianed.iloc[-1] / mad
    if stat > 6:
        return True, {"mad": mad, "stat": stat}
    return None, {"mad": mad, "stat": stat}


def grubbs(ts, now, fd):
    series = np.array([x[1] for x in ts])
    sd = np.std(series)
    mean = np.mean(series)
    z = (tail_avg(ts) - mean) / sd
    n = len(series)
    thr = scipy.stats.t.isf(.05 / (2 * n), n - 2)
    thr2 = thr * thr
    g = ((n - 1) / np.sqrt(n)) * np.sqrt(thr2 / (n - 2 + thr2))
    return z > g, {"z": z, "g": g}


def first_hour_average(ts, now, fd):
    thr = now - (fd - 3600)
    series = pandas.Series([x[1] for x in ts if x[0] < thr], dtype=float)
    mean = series.mean()
    sd = series.std()
    t = tail_avg(ts)
    return abs(t - mean) > 3 * sd, {"dev": t - mean, "sd": sd}


def stddev_from_average(ts, now, fd):
    series = pandas.Series([x[1] for x in ts])
    mean = series.mean()
    sd = series.std()
    t = tail_avg(ts)
    return abs(t - mean) > 3 * sd, {"dev": t - mean, "sd": sd}


def stddev_from_moving_average(ts, now, fd):
    series = pandas.Series([x[1] for x in ts])
    ewma = series.ewm(com=50).mean()
    ewstd = series.ewm(com=50).std(bias=False)
    dev = series.iloc[-1] - ewma.iloc[-1]
    return abs(dev) > 3 * ewstd.iloc[-1], {"dev": dev, "sd": ewstd.iloc[-1]}


def mean_subtraction_cumulation(ts, now, fd):
    series = pandas.Series([x[1] if x[1] else 0 for x in ts])
    series = series - series[0:len(series) - 1].mean()
    sd = series[0:len(series) - 1].std()
    return abs(series.iloc[-1]) > 3 * sd, {"dev": series.iloc[-1], "sd": sd}


def least_squares(ts, now, fd):
    x = np.array([t[0] for t in ts])
    y = np.array([t[1] for t in ts])
    A = np.vstack([x, np.ones(len(x))]).T
    m, c = np.linalg.lstsq(A, y, rcond=-1)[0]
    errors = [value - (m * x[i] + c) for i, value in enumerate(y)]
    if len(errors) < 3:
        return False, {}
    sd = np.std(errors)
    t = (errors[-1] + errors[-2] + errors[-3]) / 3
    return (abs(t) > sd * 3 and round(sd) != 0 and round(t) != 0), {"dev": t, "sd": sd}


def histogram_bins(ts, now, fd):
    series = np.array([x[1] for x in ts])
    t = tail_avg(ts)
    counts, bins = np.histogram(series, bins=15)
    for index, bin_size in enumerate(counts):
        if bin_size <= 20:
            if index == 0:
                if t <= bins[0]:
                    return True, {"counts": counts, "edges": bins, "bin": index}
            elif t >= bins[index] and t < bins[index + 1]:
                return True, {"counts": counts, "edges": bins, "bin": index}
    return False, {"counts": counts, "edges": bins}


def ks_test(ts, now, fd):
    hour_ago = now - 3600
    ten_minutes_ago = now - 600
    reference = np.array([x[1] for x in ts if x[0] >= hour_ago and x[0] < ten_minutes_ago])
    probe = np.array([x[1] for x in ts if x[0] >= ten_minutes_ago])
    if reference.size < 20 or probe.size < 20:
        return False, {}
    d, p = scipy.stats.ks_2samp(reference, probe)
    st = {"d": d, "p": p}
    if p < 0.05 and d > 0.5:
        adf = sm.tsa.stattools.adfuller(reference, 10)
        st["adf_p"] = adf[1]
        if adf[1] < 0.05:
            return True, st
    return False, st


ALGORITHMS = [
    ("first_hour_average", first_hour_average),
    ("mean_subtraction_cumulation", mean_subtraction_cumulation),
    ("stddev_from_average", stddev_from_average),
    ("stddev_from_moving_average", stddev_from_moving_average),
    ("least_squares", least_squares),
    ("grubbs", grubbs),
    ("histogram_bins", histogram_bins),
    ("median_absolute_deviation", median_absolute_deviation),
    ("ks_test", ks_test),
]


def run_all(ts, now, fd):
    votes, stats = {}, {}
    for name, f in ALGORITHMS:
        try:
            v, st = f(ts, now, fd)
            votes[name] = None if v is None else bool(v)
            stats[name] = {k: enc(x) for k, x in st.items()}
        except Exception as e:  # Etsy's Analyzer catches everything
            votes[name] = "raise"
            stats[name] = {"error": type(e).__name__}
    return votes, stats


def series_cases():
    rng = np.random.RandomState(20240601)
    cases = []
    T0 = 1699999200

    def add(name, v, step=60, fd=None, now=None, t=None):
        v = [float(x) for x in v]
        n = len(v)
        if t is None:
            t = [T0 + i * step for i in range(n)]
        if now is None:
            now = t[-1] if n else T0
        if fd is None:
            fd = n * step
        cases.append({"name": name, "t": t, "v": v, "now": now, "full_duration": fd})

    add("one", [5.0])
    add("two", [5.0, 7.0])
    add("three", [1.0, 1.0, 1000.0])
    add("four", [1.0, 2.0, 3.0, 10.0])
    add("constant60", [3.0] * 60)
    add("constant_tenth", [0.1] * 500)
    add("constant_spike", [2.0] * 59 + [50.0])
    add("constant_dip", [2.0] * 59 + [-50.0])
    add("zeros_spike", [0.0] * 99 + [1.0])
    add("mostly_equal", [1.0] * 40 + list(rng.normal(1, 0.1, 20)))
    for n in (5, 10, 30, 60, 100, 360, 1440):
        add("normal%d" % n, rng.normal(100, 10, n))
    for n in (60, 360, 1440):
        v = rng.normal(50, 5, n)
        v[-3:] += 40
        add("spike_tail%d" % n, v)
    for n in (60, 1440):
        v = rng.normal(50, 5, n)
        v[-1] += 60
        add("spike_last%d" % n, v)
    add("step_up", list(rng.normal(10, 1, 200)) + list(rng.normal(30, 1, 20)))
    add("trend", [0.5 * i + rng.normal(0, 1) for i in range(300)])
    add("trend_break", [0.5 * i + rng.normal(0, 1) for i in range(297)] + [300, 320, 340])
    add("integers", rng.randint(0, 10, 500))
    add("small_ints_spike", list(rng.randint(0, 3, 200)) + [9, 9, 9])
    add("large", rng.normal(1e9, 1e3, 300))
    add("tiny", rng.normal(1e-6, 1e-8, 300))
    add("negative", rng.normal(-500, 50, 300))
    add("lognormal", rng.lognormal(0, 1.5, 1000))
    add("uniform", rng.uniform(0, 1, 2000))
    add("bimodal", np.concatenate([rng.normal(0, 1, 500), rng.normal(20, 1, 500)])[rng.permutation(1000)])
    add("max_at_end", list(rng.uniform(0, 10, 100)) + [20, 20, 20])
    add("min_at_end", list(rng.uniform(0, 10, 100)) + [-20, -20, -20])
    add("ls_small_units", [0.001 * i + rng.normal(0, 0.0001) for i in range(100)] + [0.2, 0.2, 0.2])
    add("ls_fires", [2 * i + rng.normal(0, 1) for i in range(200)] + [450, 460, 470])
    add("with_zeros", [0.0 if rng.rand() < 0.3 else rng.normal(5, 1) for _ in range(300)])
    add("nan_inside", [1.0, 2.0, float("nan")] + list(rng.normal(0, 1, 50)))
    add("nan_last", list(rng.normal(0, 1, 50)) + [float("nan")])
    # A day at 10 s and its first-hour window, with and without a shift.
    day = rng.normal(100, 5, 8640)
    add("day10", day, step=10)
    d2 = day.copy()
    d2[-3:] += 60
    add("day10_tail", d2, step=10)
    # ks_test: 10-second data over 70 minutes.
    n = 420
    ref = rng.normal(10, 1, n)
    ref[-60:] += 5
    add("ks_fires", ref, step=10)
    rw = np.cumsum(rng.normal(0, 1, n))
    rw[-60:] += 40
    add("ks_random_walk", rw, step=10)
    same = rng.normal(10, 1, n)
    add("ks_same", same, step=10)
    c = np.full(n, 7.0)
    c[-60:] = 9.0
    add("ks_const_ref", c, step=10, fd=n * 10)
    # 22 reference points (now-3600 <= t < now-600 spans 3000 s at 136 s)
    # and a dense probe: statsmodels refuses maxlag 10.
    t = [T0 + 136 * i for i in range(23)]
    tp = [t[-1] + 600 - 600 + 1 + 25 * i for i in range(24)]
    vv = list(rng.normal(0, 1, 23)) + list(rng.normal(8, 1, 24))
    tt = t + tp
    add("ks_short_ref", vv, t=tt, now=tt[-1], fd=tt[-1] - tt[0])
    # Grubbs boundary-ish, few points.
    add("grubbs_small", [1, 2, 3, 4, 5, 6, 7, 8, 9, 30])
    add("hist_bin0", [0.0] + list(rng.uniform(5, 6, 100)) + [0.0, 0.0])
    add("hist_edge", list(rng.uniform(0, 1, 100)) + [1.0, 1.0, 1.0])
    # first_hour_average with a wall-clock now after the last point.
    v = rng.normal(20, 2, 1440)
    add("fha_late_now", v, now=T0 + 1440 * 60 + 400, fd=86400)
    add("fha_short_fd", v, fd=3600)
    # The parity generator's shape: daily bump, trend, spike.
    for k in range(6):
        n = 1440
        base = 10 + 990 * rng.rand()
        amp = base * (0.1 + 0.4 * rng.rand())
        sig = base * (0.01 + 0.09 * rng.rand())
        ph = (np.arange(n) * 60 % 86400) / 86400
        d = 2 * np.abs(ph - 0.5)
        s = 1 - (d * d) * (3 - 2 * d)
        v = base + amp * s + sig * (rng.rand(n, 12).sum(axis=1) - 6)
        if k % 2:
            v[-3:] += (1.5 * rng.rand()) * amp + (1 + 4 * rng.rand()) * sig
        add("parity_like%d" % k, v)
    return cases


def main():
    # Statistics.
    rng = np.random.RandomState(7)
    stats = []
    arrays = [[], [1.5], [1.0, 2.0], [0.1] * 7, [0.1] * 8640, list(range(1, 20))]
    for n in (3, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 1000, 1441, 8640, 10080):
        arrays.append(list(rng.normal(rng.uniform(-1e3, 1e3), rng.uniform(0.1, 100), n)))
    arrays.append(list(rng.lognormal(0, 2, 3000)))
    arrays.append([float("nan"), 1.0, 2.0, 4.0])
    arrays.append([1.0, float("nan"), 3.0, 4.0, 10.0])
    for a in arrays:
        s = pandas.Series(a, dtype=float)
        arr = np.array(a, dtype=float)
        rec = {"v": enc(a)}
        rec["mean"] = enc(np.mean(arr)) if len(a) else "NaN"
        rec["std0"] = enc(np.std(arr)) if len(a) else "NaN"
        rec["std1"] = enc(s.std())
        rec["median"] = enc(s.median())
        for com in (50, 15):
            rec["ewm_mean_%d" % com] = enc(s.ewm(com=com).mean().iloc[-1]) if len(a) else "NaN"
            rec["ewm_std_%d" % com] = enc(s.ewm(com=com).std(bias=False).iloc[-1]) if len(a) else "NaN"
        stats.append(rec)

    ks = []
    rng = np.random.RandomState(11)
    pairs = [
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
        ([1.0, 2.0], [3.0, 4.0, 5.0]),
    ]
    for n1, n2, shift in [(20, 20, 0), (20, 20, 2), (50, 20, 1), (300, 60, 0), (300, 60, 0.5),
                          (300, 60, 3), (300, 60, 10), (60, 300, 3), (3000, 600, 0.2),
                          (3000, 600, 5), (7, 13, 1), (100, 100, 0.7), (250, 75, 0.3),
                          (10001, 30, 0.5), (10001, 30, 3), (12000, 500, 0.1)]:
        pairs.append((list(rng.normal(0, 1, n1)), list(rng.normal(shift, 1, n2))))
    pairs.append((list(rng.randint(0, 5, 300).astype(float)), list(rng.randint(2, 7, 60).astype(float))))
    for a, b in pairs:
        d, p = scipy.stats.ks_2samp(a, b)
        ks.append({"a": enc(a), "b": enc(b), "d": enc(d), "p": enc(p)})

    adf = []
    rng = np.random.RandomState(13)
    series = [rng.normal(0, 1, 300), np.cumsum(rng.normal(0, 1, 300)),
              rng.normal(0, 1, 50), np.cumsum(rng.normal(0.1, 1, 100)),
              [math.sin(i / 5.0) + rng.normal(0, 0.1) for i in range(200)],
              rng.normal(5, 2, 24), rng.normal(5, 2, 23), [3.0] * 40, rng.normal(1000, 0.01, 3000)]
    ar = [0.0]
    for _ in range(399):
        ar.append(0.9 * ar[-1] + rng.normal())
    series.append(ar)
    for x in series:
        x = [float(y) for y in x]
        rec = {"x": enc(x), "maxlag": 10}
        try:
            r = sm.tsa.stattools.adfuller(x, 10)
            rec.update({"stat": enc(r[0]), "p": enc(r[1]), "usedlag": int(r[2])})
        except Exception as e:
            rec["error"] = str(e)
        adf.append(rec)
    mk = [-30, -18.9, -18.8, -5, -3.5, -1.61, -1.6, 0, 1, 2.74, 2.75]
    mack = [{"stat": s, "p": enc(statsmodels.tsa.adfvalues.mackinnonp(s, regression="c", N=1))} for s in mk]

    sky = []
    for c in series_cases():
        ts = list(zip(c["t"], c["v"]))
        votes, st = run_all(ts, c["now"], c["full_duration"])
        c2 = dict(c)
        c2["v"] = enc(c["v"])
        c2["votes"] = votes
        c2["stats"] = st
        sky.append(c2)

    for name, obj in (("stats.json", stats), ("ks.json", ks),
                      ("adf.json", {"adf": adf, "mackinnon": mack}),
                      ("skyline.json", sky)):
        with open(os.path.join(HERE, name), "w") as f:
            json.dump({"generator": "gen.py", "versions": VERSIONS, "cases": obj}, f,
                      separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
