#!/usr/bin/python3
"""Generate golden MessagePack datagrams for horizon.DecodeMsgpack.

Run with Debian's Python and python3-msgpack (the encoder Skyline's senders use):

    /usr/bin/python3 horizon/testdata/msgpack/gen.py > horizon/testdata/msgpack/vectors.jsonl

Each output line is one JSON object:
  {"case": label, "hex": datagram, "name": str, "ts": int, "value_bits": "0x%016x"}
for a datagram that must decode (name, ts and value computed here by Python:
msgpack.unpackb, then int() for the timestamp -- truncation toward zero -- and the
IEEE-754 bits of float(value)), or
  {"case": label, "hex": datagram, "reject": reason}
for a datagram that must be refused with that horizon.Reason (labelled by hand).
"""
import json
import math
import struct
import sys

import msgpack

out = []


def ok(label, data):
    name, (ts, value) = msgpack.unpackb(data, raw=False)
    if isinstance(name, bytes):
        name = name.decode("utf-8")
    bits = struct.unpack(">Q", struct.pack(">d", float(value)))[0]
    out.append({"case": label, "hex": data.hex(), "name": name, "ts": int(ts),
                "value_bits": "0x%016x" % bits})


def bad(label, data, reason):
    out.append({"case": label, "hex": data.hex(), "reject": reason})


NAME = "test.udp.metric"
T = 1700000000

# --- what real senders produce ------------------------------------------------------------
ok("servers.md int ts uint32, double value", msgpack.packb([NAME, [T, 42.5]]))
ok("float ts and value (carbon/Oculus style)", msgpack.packb([NAME, [1700000000.0, 1.5]]))
ok("float ts truncated toward zero", msgpack.packb([NAME, [1700000000.9, 1.5]]))
ok("negative float ts truncated toward zero", msgpack.packb([NAME, [-5.9, 1.5]]))
ok("use_bin_type=False (raw str)", msgpack.packb([NAME, [T, 42.5]], use_bin_type=False))
ok("bytes name with use_bin_type=True (bin8)", msgpack.packb([NAME.encode(), [T, 42.5]], use_bin_type=True))
ok("bytes name with use_bin_type=False (raw)", msgpack.packb([NAME.encode(), [T, 42.5]], use_bin_type=False))
ok("use_single_float: float32 ts and value", msgpack.packb([NAME, [1700000000.0, 0.1]], use_single_float=True))
ok("float32 value via struct", bytes([0x92, 0xaf]) + NAME.encode() + bytes([0x92, 0xce]) + struct.pack(">I", T)
   + b"\xca" + struct.pack(">f", 3.25))
ok("str8 name (32 bytes)", msgpack.packb(["a" * 32, [T, 1.0]]))
ok("str16 name (300 bytes)", msgpack.packb(["b" * 300, [T, 1.0]]))
ok("utf-8 name", msgpack.packb(["caf\u00e9.\u00fc", [T, 1.0]]))
ok("empty name (filters reject it later)", msgpack.packb(["", [T, 1.0]]))

# --- every integer width for the timestamp -----------------------------------------------
ok("ts positive fixint", msgpack.packb([NAME, [5, 1.0]]))
ok("ts negative fixint", msgpack.packb([NAME, [-5, 1.0]]))
ok("ts uint8", msgpack.packb([NAME, [200, 1.0]]))
ok("ts uint16", msgpack.packb([NAME, [60000, 1.0]]))
ok("ts uint32", msgpack.packb([NAME, [4000000000, 1.0]]))
ok("ts uint64 small", msgpack.packb([NAME, [2**40, 1.0]]))
ok("ts uint64 = max int64", msgpack.packb([NAME, [2**63 - 1, 1.0]]))
ok("ts int8", msgpack.packb([NAME, [-100, 1.0]]))
ok("ts int16", msgpack.packb([NAME, [-30000, 1.0]]))
ok("ts int32", msgpack.packb([NAME, [-2000000000, 1.0]]))
ok("ts int64 = min int64", msgpack.packb([NAME, [-2**63, 1.0]]))
ok("ts double -2^63 (in range)", msgpack.packb([NAME, [-9223372036854775808.0, 1.0]]))
ok("ts -1 is just -1 (no 'now' in msgpack)", msgpack.packb([NAME, [-1, 1.0]]))

# --- every numeric type for the value -----------------------------------------------------
ok("value positive fixint", msgpack.packb([NAME, [T, 7]]))
ok("value negative fixint", msgpack.packb([NAME, [T, -1]]))
ok("value uint8", msgpack.packb([NAME, [T, 255]]))
ok("value uint16", msgpack.packb([NAME, [T, 65535]]))
ok("value uint32", msgpack.packb([NAME, [T, 2**32 - 1]]))
ok("value uint64 max", msgpack.packb([NAME, [T, 2**64 - 1]]))
ok("value int8", msgpack.packb([NAME, [T, -128]]))
ok("value int16", msgpack.packb([NAME, [T, -32768]]))
ok("value int32", msgpack.packb([NAME, [T, -2**31]]))
ok("value int64 min", msgpack.packb([NAME, [T, -2**63]]))
ok("value negative zero", msgpack.packb([NAME, [T, -0.0]]))
ok("value smallest subnormal", msgpack.packb([NAME, [T, 5e-324]]))
ok("value NaN passes through", msgpack.packb([NAME, [T, float("nan")]]))
ok("value +Inf passes through", msgpack.packb([NAME, [T, math.inf]]))
ok("value -Inf passes through", msgpack.packb([NAME, [T, -math.inf]]))
ok("value NaN with payload, bit-exact", bytes([0x92, 0xaf]) + NAME.encode() + bytes([0x92, 0xce])
   + struct.pack(">I", T) + b"\xcb" + struct.pack(">Q", 0x7ff8000000000abc))
ok("array16 headers (non-canonical but valid)", b"\xdc\x00\x02" + msgpack.packb(NAME)
   + b"\xdc\x00\x02" + msgpack.packb(T) + msgpack.packb(2.5))
ok("array32 headers (non-canonical but valid)", b"\xdd\x00\x00\x00\x02" + msgpack.packb(NAME)
   + b"\xdd\x00\x00\x00\x02" + msgpack.packb(T) + msgpack.packb(2.5))

# --- bad timestamps -----------------------------------------------------------------------
bad("ts uint64 above max int64", msgpack.packb([NAME, [2**63, 1.0]]), "bad_timestamp")
bad("ts uint64 max", msgpack.packb([NAME, [2**64 - 1, 1.0]]), "bad_timestamp")
bad("ts double 2^63", msgpack.packb([NAME, [9223372036854775808.0, 1.0]]), "bad_timestamp")
bad("ts double 1e300", msgpack.packb([NAME, [1e300, 1.0]]), "bad_timestamp")
bad("ts NaN", msgpack.packb([NAME, [float("nan"), 1.0]]), "bad_timestamp")
bad("ts +Inf", msgpack.packb([NAME, [math.inf, 1.0]]), "bad_timestamp")
bad("ts -Inf float32", msgpack.packb([NAME, [-math.inf, 1.0]], use_single_float=True), "bad_timestamp")
bad("ts string", msgpack.packb([NAME, [str(T), 1.0]]), "bad_timestamp")
bad("ts nil", msgpack.packb([NAME, [None, 1.0]]), "bad_timestamp")
bad("ts bool", msgpack.packb([NAME, [True, 1.0]]), "bad_timestamp")
bad("ts array", msgpack.packb([NAME, [[T], 1.0]]), "bad_timestamp")

# --- non-numeric values -------------------------------------------------------------------
bad("value numeric string", msgpack.packb([NAME, [T, "1.5"]]), "non_numeric")
bad("value nil", msgpack.packb([NAME, [T, None]]), "non_numeric")
bad("value bool", msgpack.packb([NAME, [T, False]]), "non_numeric")
bad("value bytes", msgpack.packb([NAME, [T, b"\x01"]]), "non_numeric")
bad("value map", msgpack.packb([NAME, [T, {"v": 1}]]), "non_numeric")
bad("value ext", msgpack.packb([NAME, [T, msgpack.ExtType(1, b"abcd")]]), "non_numeric")

# --- wrong shape --------------------------------------------------------------------------
bad("empty datagram", b"", "malformed")
bad("nil", msgpack.packb(None), "malformed")
bad("map", msgpack.packb({NAME: [T, 1.0]}), "malformed")
bad("string", msgpack.packb(NAME), "malformed")
bad("outer 3-array", msgpack.packb([NAME, T, 1.0]), "malformed")
bad("outer 1-array", msgpack.packb([NAME]), "malformed")
bad("outer empty array", msgpack.packb([]), "malformed")
bad("old wiki order name ts value", msgpack.packb([NAME, T, 1.0]), "malformed")
bad("name int", msgpack.packb([1, [T, 1.0]]), "malformed")
bad("name nil", msgpack.packb([None, [T, 1.0]]), "malformed")
bad("inner 3-array", msgpack.packb([NAME, [T, 1.0, 2.0]]), "malformed")
bad("inner 1-array", msgpack.packb([NAME, [T]]), "malformed")
bad("inner nil", msgpack.packb([NAME, None]), "malformed")
bad("inner map", msgpack.packb([NAME, {"t": T}]), "malformed")
bad("inner number", msgpack.packb([NAME, 1.0]), "malformed")
bad("trailing byte", msgpack.packb([NAME, [T, 1.0]]) + b"\x00", "malformed")
bad("two datagrams concatenated", msgpack.packb([NAME, [T, 1.0]]) * 2, "malformed")
full = msgpack.packb([NAME, [T, 1.0]])
bad("truncated in value", full[:-3], "malformed")
bad("truncated in ts", full[:len(full) - 10], "malformed")
bad("truncated in name", full[:5], "malformed")
bad("str32 length past the end", b"\x92\xdb\xff\xff\xff\xff" + b"x" * 8, "malformed")
bad("array32 length huge", b"\xdd\xff\xff\xff\xff", "malformed")
bad("reserved code 0xc1", b"\xc1", "malformed")

for o in out:
    json.dump(o, sys.stdout, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")
