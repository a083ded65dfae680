#!/usr/bin/python3
"""Independent pure-Python implementation of the parity corpus recipe of
../shared/parity/README.md (CPython floats are IEEE-754 doubles, each
operation rounded, never fused), used to produce testdata/reference.json:
the digests and ground-truth tails of small corpora that the shared ones do
not cover (spikes at N=20, negative T0, other seeds and fractions).

Run: /usr/bin/python3 testdata/reference.py > testdata/reference.json
"""
import hashlib
import json
import math
import struct

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def corpus(M, N, STEP, SEED, T0, FRAC):
    header = b"SKYBNCH1" + struct.pack("<IIqqQd", M, N, T0, STEP, SEED, FRAC) + bytes(16)
    assert len(header) == 64
    hv, hf = hashlib.sha256(), hashlib.sha256()
    hf.update(header)
    tails = []
    first = []
    for m in range(M):
        st = mix64((SEED + (m + 1) * GAMMA) & MASK)

        def U(k):
            return float(mix64((st + (k + 1) * GAMMA) & MASK) >> 11) * 2.0 ** -53

        base = 10 + 990 * U(0)
        amp = base * (0.1 + 0.4 * U(1))
        sigma = base * (0.01 + 0.09 * U(2))
        off = int(math.floor(86400 * U(3)))
        trend = (base * 0.02) * (U(4) - 0.5)
        tail = U(5) < FRAC
        S = min(3, (N * STEP) // 28800)
        v = []
        for i in range(N):
            t = T0 + i * STEP
            noise = U(16 + 12 * i)
            for j in range(1, 12):
                noise = noise + U(16 + 12 * i + j)
            noise = noise - 6
            ph = float((t + off) % 86400) / 86400
            d = 2 * abs(ph - 0.5)
            s = 1 - (d * d) * (3 - 2 * d)
            x = base + amp * s
            x = x + trend * (float(t - T0) / 86400)
            x = x + sigma * noise
            v.append(x)
        for j in range(S):
            pos = int(math.floor(float(N - 20) * U(6 + j)))
            v[pos] += (1 + U(9 + j)) * (amp + 10 * sigma)
        if tail:
            tails.append(m)
            H = (1.5 * U(12)) * amp + (1 + 4 * U(13)) * sigma
            for i in (N - 3, N - 2, N - 1):
                v[i] += H
        b = struct.pack("<%dd" % N, *v)
        hv.update(b)
        hf.update(b)
        first.append(v[0].hex())
    return {"metrics": M, "points": N, "step": STEP, "seed": SEED, "t0": T0,
            "anomaly_fraction": FRAC, "sha256_values": hv.hexdigest(),
            "sha256_file": hf.hexdigest(), "tail_anomalous_metrics": tails,
            "first_values_hex": first}


CASES = [
    (5, 60, 60, 42, 1699999200, 0.05),
    (4, 100, 3600, 7, -100000, 0.5),   # 3 spikes, negative T0 (floor mod)
    (3, 20, 1440, 0, 0, 1.0),          # 1 spike at N=20, every metric a tail
    (6, 30, 960, 2**64 - 1, 1700000123, 0.0),  # 1 spike, seed wraps, no tails
]
print(json.dumps({"source": "testdata/reference.py (pure CPython port of ../shared/parity/README.md)",
                  "corpora": [corpus(*c) for c in CASES]}, indent=1))
