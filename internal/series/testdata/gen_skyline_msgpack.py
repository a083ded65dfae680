#!/usr/bin/python3
"""Writes skyline_msgpack.bin and skyline_msgpack.want for codec_test.go.

skyline_msgpack.bin is a Skyline Redis value as Python's msgpack writes it:
a concatenation of packb([ts, value]) as Skyline's Horizon APPENDs them
(carbon-relay's float timestamps, the UDP listener's ints, floats packed as
float32 by a use_single_float packer, and arrays with extra items, which
Skyline's webapp cuts to two). skyline_msgpack.want has one line per point:
the timestamp truncated toward zero, and the float64 bits of the value in
hex, computed here in Python, independently of the Go decoder.

Run with Debian's Python (python3-msgpack):
    cd internal/series/testdata && /usr/bin/python3 gen_skyline_msgpack.py
"""
import math
import struct

import msgpack

double = msgpack.Packer(use_bin_type=True)
single = msgpack.Packer(use_bin_type=True, use_single_float=True)


def f32(x):
    return struct.unpack('>f', struct.pack('>f', x))[0]


rows = []  # (packer, item, expected ts, expected value)


def add(item, packer=double):
    ts, value = item[0], item[1]
    if packer is single:
        ts = f32(ts) if isinstance(ts, float) else ts
        value = f32(value) if isinstance(value, float) else value
    rows.append((packer, item, math.trunc(ts), float(value)))


# carbon-relay pickles send float timestamps and values: Horizon packs the
# (ts, value) tuple as it came.
t0 = 1700000000.0
for i, v in enumerate([1.5, -0.0, 0.0, 1e-320, 2.2250738585072014e-308,
                       1.7976931348623157e308, -123456.789, 0.1, 1 / 3]):
    add((t0 + 60 * i, v))
# A fractional timestamp is truncated toward zero, also below zero.
add((1700000599.9, 7.0))
add((-1.5, 8.0))
# The UDP listener unpacks ints and packs them back as the smallest int.
t1 = 1700001000
for i, v in enumerate([0, 42, 127, 128, 255, 256, 65535, 65536, 2**32 - 1,
                       2**32, 2**53 + 1, 2**63 - 1, -1, -32, -33, -128,
                       -129, -32768, -32769, -2**31, -2**31 - 1, -2**63]):
    add([t1 + 10 * i, v])
# Small and negative int timestamps of every width.
for ts in [0, 1, 127, 200, 40000, -1, -100, -40000, -3000000000, 2**40]:
    add([ts, 0.5])
# float32, as a packer with use_single_float writes them.
add([1700002000.0, 1.1], single)
add([1700002060.0, -2.5e-30], single)
add([16777217.0, 3.0], single)
# Extra items after [ts, value] are ignored by readers.
add([1700003000, 1.25, 'extra'])
add([1700003060, 2.25, None, {'a': [1, 2.0, b'x']}, True])
add([1700003120.0, 3.25] + list(range(20)))  # array16 header

with open('skyline_msgpack.bin', 'wb') as out:
    for packer, item, _, _ in rows:
        out.write(packer.pack(item))
with open('skyline_msgpack.want', 'w') as out:
    out.write('# ts value_float64_bits_hex (from gen_skyline_msgpack.py)\n')
    for _, _, ts, value in rows:
        out.write('%d %s\n' % (ts, struct.pack('>d', value).hex()))
