#!/usr/bin/python3
"""Generate golden pickles for horizon.DecodePickle.

Written for and run with Debian's Python 3.11.2 (/usr/bin/python3), whose pickle module is
what carbon-relay (Debian graphite-carbon 1.1.7) uses to build its frames:

    cd horizon/testdata/pickle && /usr/bin/python3 gen.py

(Python warns about the invalid escapes \q and \777 of textstrs: they are tested on purpose.)

It writes one <case>.p<protocol>.pickle file per case and protocol (the payload of a frame,
without carbon's 4-byte length) and golden.json, a list of
  {"file": ..., "case": ..., "protocol": N,
   "samples": [{"n": name, "t": timestamp, "v": "0x%016x" IEEE-754 bits of the value}],
   "rejects": [reason, ...]}                     for a pickle that must decode,
  {"file": ..., "case": ..., "protocol": N, "refused": "OPCODE"}
for a pickle that must be refused because of that opcode (the first one of the pickle
outside the decoder's allow-list, found with pickletools.genops), or
  {"file": ..., "case": ..., "protocol": N, "error": "what pickle.loads raised"}
for a pickle of allowed opcodes that Python itself cannot load (DecodePickle must fail too)
(one entry a line; a name that is not valid UTF-8 is given as "x": hex of its bytes instead of "n";
the small random cases at the end carry their pickle inline as "hex" instead of a "file").

The expectation of a decodable pickle is computed here from pickle.loads(data) (so the memo,
list identity and escape rules are Python's own), then the conversion rules DecodePickle
documents:
  - an element is a tuple or list of (name, pair); name is str, bytes or bytearray (str
    encoded with 'surrogatepass', as pickle's BINUNICODE does); pair is a tuple or list of
    2 items; anything else is "malformed";
  - the timestamp is a bool, an int within int64, or anything float() accepts among float,
    str, bytes, bytearray, finite and within int64 after truncation toward zero; anything else
    is "bad_timestamp";
  - the value is float(x) for a bool, int, float, str, bytes or bytearray (an int too big for
    a float64 is "non_numeric", as float() raises OverflowError); anything else is
    "non_numeric".
"""
import json
import math
import os
import pickle
import pickletools
import random
import struct
import sys

assert sys.version_info[:2] == (3, 11), "golden files are made with Debian's Python 3.11"

HERE = os.path.dirname(os.path.abspath(__file__))
T = 1700000000.0

ALLOWED = {
    "MARK", "STOP", "POP", "POP_MARK", "DUP", "FLOAT", "INT", "BININT", "BININT1", "BININT2",
    "LONG", "LONG1", "LONG4", "NONE", "NEWTRUE", "NEWFALSE", "STRING", "BINSTRING",
    "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES",
    "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "BINFLOAT", "EMPTY_LIST", "LIST", "APPEND",
    "APPENDS", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_DICT", "DICT",
    "SETITEM", "SETITEMS", "EMPTY_SET", "ADDITEMS", "FROZENSET", "PUT", "BINPUT",
    "LONG_BINPUT", "MEMOIZE", "GET", "BINGET", "LONG_BINGET", "PROTO", "FRAME",
}

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def timestamp(ts):
    if isinstance(ts, int):  # bool is an int
        return int(ts) if INT64_MIN <= ts <= INT64_MAX else None
    if not isinstance(ts, (float, str, bytes, bytearray)):
        return None
    try:
        f = float(ts)
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(f) or not (-(2.0 ** 63) <= f < 2.0 ** 63):
        return None
    return int(f)  # truncation toward zero


def value(v):
    if not isinstance(v, (int, float, str, bytes, bytearray)):
        return None
    try:
        return float(v)
    except (ValueError, OverflowError):
        return None


def name_bytes(name):
    if isinstance(name, str):
        return name.encode("utf-8", "surrogatepass")
    return bytes(name)


def expect(top):
    samples, rejects = [], []
    for el in top:
        if not isinstance(el, (tuple, list)) or len(el) != 2:
            rejects.append("malformed")
            continue
        name, pair = el
        if not isinstance(name, (str, bytes, bytearray)) or not isinstance(pair, (tuple, list)) or len(pair) != 2:
            rejects.append("malformed")
            continue
        ts, v = timestamp(pair[0]), value(pair[1])
        if ts is None:
            rejects.append("bad_timestamp")
            continue
        if v is None:
            rejects.append("non_numeric")
            continue
        sample = {"t": ts, "v": "0x%016x" % struct.unpack(">Q", struct.pack(">d", v))[0]}
        b = name_bytes(name)
        try:
            sample["n"] = b.decode("utf-8")
        except UnicodeDecodeError:
            sample["x"] = b.hex()
        samples.append(sample)
    return samples, rejects


golden = []


def emit(case, protocol, data, loads_kw=None, inline=False):
    if inline:
        entry = {"hex": data.hex(), "case": case, "protocol": protocol}
    else:
        fname = "%s.p%d.pickle" % (case, protocol)
        with open(os.path.join(HERE, fname), "wb") as f:
            f.write(data)
        entry = {"file": fname, "case": case, "protocol": protocol}
    refused = None
    try:
        for op, _, _ in pickletools.genops(data):
            if op.name not in ALLOWED:
                refused = op.name
                break
    except Exception:  # pickletools cannot parse an argument: pickle.loads below decides
        pass
    if refused:
        entry["refused"] = refused
    else:
        try:
            top = pickle.loads(data, **(loads_kw or {}))
        except Exception as e:  # Python refuses the whole pickle: so must DecodePickle
            entry["error"] = "%s: %s" % (type(e).__name__, e)
        else:
            if not isinstance(top, (list, tuple)):
                entry["error"] = "top-level object is a %s" % type(top).__name__
                golden.append(entry)
                return
            samples, rejects = expect(top)
            entry["samples"] = samples
            entry["rejects"] = rejects
    golden.append(entry)


def all_protocols(case, obj):
    for p in range(0, 6):
        emit(case, p, pickle.dumps(obj, protocol=p))


# --- carbon-relay shaped: unicode names, float timestamps and values -----------------------
carbon = []
for i in range(50):
    carbon.append(("carbon.agents.host-%02d.cache.size" % (i % 7), (T + 60 * i, [
        0.1, -0.0, 1e-300, 1.7976931348623157e308, 5e-324, 42.5, -3.25, 1e21, 123456789.123,
        float("nan"), float("inf"), float("-inf")][i % 12])))
all_protocols("carbon", carbon)
emit("carbon_optimized", 2, pickletools.optimize(pickle.dumps(carbon, protocol=2)))
emit("carbon_optimized", 4, pickletools.optimize(pickle.dumps(carbon, protocol=4)))

# The benchmark frame: 500 points, carbon-relay's MAX_DATAPOINTS_PER_MESSAGE, protocol 2.
hosts = ["web-%02d" % i for i in range(10)]
metrics = ["cpu.user", "cpu.system", "cpu.idle", "memory.used", "memory.free",
           "disk.sda.reads", "disk.sda.writes", "net.eth0.rx_bytes", "net.eth0.tx_bytes",
           "load.shortterm"]
bench = []
for i in range(500):
    name = "servers.%s.%s.%d" % (hosts[i % 10], metrics[(i // 10) % 10], i // 100)
    bench.append((name, (T + (i % 5) * 60.0, (i * 7919 % 10007) / 7.0)))
emit("carbon500", 2, pickle.dumps(bench, protocol=2))

# Several protocol 4 frames: a str of 70000 bytes (a value float() accepts, whitespace and
# all) is written between two FRAMEs. APPENDS batches of 1000: 1010 elements (memo GETs).
frames = [("f.a", (T, 1.0)), ("f.big", (T, "1.5" + " " * 70000)), ("f.b", (T, 2.0))]
emit("frames", 4, pickle.dumps(frames, protocol=4))
assert sum(op.name == "FRAME" for op, _, _ in pickletools.genops(pickle.dumps(frames, protocol=4))) > 1
appends = [("a.%d" % i, (T, float(i))) for i in range(5)] + [("a.same", (T, 1.0))] * 1005
for p in (1, 2):
    emit("appends", p, pickle.dumps(appends, protocol=p))
assert sum(op.name == "APPENDS" for op, _, _ in pickletools.genops(pickle.dumps(appends, protocol=2))) == 2

# --- integers: int timestamps and values, BININT*, LONG, LONG1, LONG4 -----------------------
ints = [
    ("i.zero", (0, 0)), ("i.small", (1700000000, 7)), ("i.neg", (-1, -1)),
    ("i.byte", (255, 256)), ("i.short", (65535, 65536)), ("i.int32", (2 ** 31 - 1, -(2 ** 31))),
    ("i.int33", (2 ** 31, 2 ** 32 + 1)), ("i.max", (INT64_MAX, INT64_MIN)),
    ("i.min", (INT64_MIN, 2 ** 53 + 1)), ("i.long1", (2 ** 62, 2 ** 64)),
    ("i.neglong1", (-(2 ** 62), -(2 ** 64) - 3)), ("i.huge", (1, 2 ** 100 + 2 ** 47 + 1)),
    ("i.toobig", (1, 10 ** 400)), ("i.toobig.ts", (2 ** 63, 1)), ("i.toosmall.ts", (-(2 ** 63) - 1, 1)),
    ("i.bool", (True, False)), ("i.bool2", (False, True)), ("i.long4", (1, -(2 ** 2100) + 1)),
]
all_protocols("ints", ints)

# --- unicode names, escapes of protocol 0 (raw-unicode-escape) ----------------------------
uni = [("café.ü", (T, 1.0)), ("中文.指标", (T, 2.0)), ("emoji.\U0001f600", (T, 3.0)),
       ("back\\slash", (T, 4.0)), ("new\nline", (T, 5.0)), ("nul\x00.sub\x1a", (T, 6.0)),
       ("quote'\"", (T, 7.0)), ("lone.\ud800", (T, 8.0)), ("latin1.\xff\x80", (T, 9.0)),
       ("", (T, 10.0)), ("u.\\u0041", (T, 11.0)), ("x" * 300, (T, 12.0))]
all_protocols("unicode", uni)

# --- memo: the same name, pair and element objects repeated -------------------------------
n1, n2 = "memo.shared.name", "memo.other"
pair = (T, 1.5)
el = (n2, (T + 1, 2.5))
memo = [(n1, pair), (n1, (T + 60, 3.0)), el, (n1, pair), el, (n2, pair), (n1, (T + 120, 4.0))]
all_protocols("memo", memo)

# A list referenced from inside itself before its APPENDs (memo GET sees later appends).
selfref = []
selfref.append(("selfref.a", (T, 1.0)))
selfref.append(selfref)
selfref.append(("selfref.b", (T, 2.0)))
all_protocols("selfref", selfref)

# --- bytes and bytearray names (pickled with REDUCE below protocol 3/5: refused) ----------
all_protocols("bytes_names", [(b"bytes.name", (T, 1.0)), (b"bytes.\xffinvalid", (T, 2.0)),
                              ("str.name", (T, 3.0)), (b"", (T, 4.0))])
all_protocols("bytearray_names", [(bytearray(b"ba.name"), (T, 1.0))])

# --- shapes and element conversion (rejects are counted, the rest decodes) ----------------
shapes = [
    ("ok.list.pair", [T, 1.0]), ["ok.list.element", (T, 2.0)], ("three", (T, 1.0), "x"),
    ("one",), 5, None, "ab", {}, (7, (T, 1.0)), (None, (T, 1.0)), (("n",), (T, 1.0)),
    ("pair3", (T, 1.0, 2.0)), ("pair1", (T,)), ("pairstr", "ab"), ("pairnone", None),
    ("v.none", (T, None)), ("v.str.bad", (T, "abc")), ("v.str.ok", (T, "1.5")),
    ("v.str.space", (T, " 7 ")), ("v.str.under", (T, "1_000.5")), ("v.str.nan", (T, "nan")),
    ("v.str.inf", (T, "-Infinity")), ("v.str.exp", (T, "1e400")), ("v.str.hex", (T, "0x10")),
    ("v.list", (T, [1.0])), ("v.dict", (T, {})), ("v.tuple", (T, ())),
    ("ts.str.ok", ("1700000000.9", 1.0)), ("ts.str.bad", ("now", 1.0)), ("ts.nan", (float("nan"), 1.0)),
    ("ts.inf", (float("inf"), 1.0)), ("ts.big", (1e19, 1.0)), ("ts.neg", (-5.9, 1.0)),
    ("ts.min", (-(2.0 ** 63), 1.0)), ("ts.none", (None, 1.0)), ("ts.list", ([T], 1.0)),
    ("ts.bad.v.bad", (None, None)), ("ts.trunc", (T + 0.999, 1.0)), ("v.neg.zero", (T, -0.0)),
]
all_protocols("shapes", shapes)
all_protocols("top_tuple", tuple(carbon[:5]))
all_protocols("empty", [])

# Dicts, sets and frozensets as values (REDUCE below protocol 4: refused).
all_protocols("containers", [("c.ok", (T, 1.0)), ("c.set", (T, {1, 2})), ("c.frozen", (T, frozenset([3]))),
                             ("c.dict", (T, {"a": 1, "b": [2]})), {"k": ("c.x", (T, 1.0))},
                             ("c.ok2", (T, 2.0))])

# --- the classic os.system REDUCE exploit: must be refused, never run -------------------
class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


for p in range(0, 6):
    emit("exploit", p, pickle.dumps([("a", (T, 1.0)), Exploit()], protocol=p))

# --- hand-written Python 2 pickles (STRING, BINSTRING, SHORT_BINSTRING, I00/I01, L...L) ----
# The bytes follow Python 2.7's pickle.py; STRING names load as bytes with encoding='bytes'.
py2_p0 = (b"(lp0\n(S'a.b'\np1\n(F1700000000.0\nF1.5\ntp2\ntp3\na"
          b"(S'esc\\'aped\\\\.\\x41\\101\\n\\t'\np4\n(I1700000060\nL2L\ntp5\ntp6\na"
          b"(S\"dq'\"\n(I01\nI00\ntp7\ntp8\na"
          b"(Vcaf\xe9.\\u20ac\np9\n(L1700000120L\nF-2.5e-3\ntp10\ntp11\na"
          b"(g1\n(I1700000180\nF1e+300\ntp12\ntp13\na.")
emit("python2", 0, py2_p0, {"encoding": "bytes"})
py2_p2 = (b"\x80\x02]q\x00(U\x03a.bq\x01GA\xd9T\xfc@\x00\x00\x00G?\xf8\x00\x00\x00\x00\x00\x00\x86q\x02\x86q\x03"
          b"T\x05\x00\x00\x00c.d.eq\x04J\x3c\xf1\x53\x65K\x07\x86q\x05\x86q\x06"
          b"h\x01M\x00\x01\x8a\x05\x00\x00\x00\x00\x01\x86q\x07\x86q\x08e.")
emit("python2", 2, py2_p2, {"encoding": "bytes"})

# --- numeric strings: what float() accepts (value and timestamp) --------------------------
numstr = ["1.5", " \t1.5\n ", "1_000.5", "1__0", "_1", "1_", "1_.5", "1._5", "1e1_0", "0x10", "1.5j",
          "+nan", "-nan", "NaN", "nAn", "-inf", "+Infinity", "INF", "infinit", "infx", "1.", ".5", ".",
          "e5", "1e", "1e+", "1e+5", "5e-324", "1e-400", "-1e400", "-0", "0.1E-5", "", " ", "+", "--1",
          "1 2", "1\x00", "00012.50", "1_2_3", "9007199254740993", "1700000000.999999", "0b1"]
emit("numstr", 0, pickle.dumps([("v.%d" % i, (T, x)) for i, x in enumerate(numstr)] +
                               [("t.%d" % i, (x, 1.0)) for i, x in enumerate(numstr)], protocol=2))
emit("numbytes", 3, pickle.dumps([("b.%d" % i, (x.encode("utf-8"), x.encode("utf-8")))
                                  for i, x in enumerate(numstr)], protocol=3))


# --- protocol 0 text numbers as CPython's _pickle reads them: INT is C strtol(s, 0) (octal with a
# leading 0, a 2-byte 0/1 is a bool) falling back to int(s, 0); LONG is int(s, 0); FLOAT is
# PyOS_string_to_double (no whitespace or underscores, overflow is an error); a NUL ends them.
def p0list(items):
    out = b"(lp0\n"
    for i, (ts, v) in enumerate(items):
        out += b"(S'p0.%d'\n(%s\n%s\ntta" % (i, ts, v)
    return out + b"."


emit("textnums", 0, p0list([
    (b"I0x10", b"F1.5"), (b"I0o17", b"F-0.0"), (b"I0b101", b"Finf"), (b"I1_000", b"F-inf"),
    (b"I 42 ", b"Fnan"), (b"I-0", b"F-nan"), (b"L-0x_ffL", b"F1e-400"), (b"I000", b"F.5"),
    (b"I01", b"I00"), (b"L0L", b"L" + b"9" * 4300 + b"L"), (b"I+7", b"L-" + b"1" * 30),
    (b"I9223372036854775807", b"L0x" + b"f" * 40 + b"L"), (b"I-9223372036854775808", b"I9223372036854775808"),
    (b"I010", b"F1."), (b"I 1", b"I+1"), (b"I5\x00xyz", b"F1.5\x00zz"), (b"I1\x00", b"L12\x00L"),
    (b"I-010", b"I+0x10"), (b"L 5 L", b"FInfinity"), (b"I\t7", b"F1E+05"), (b"I-9223372036854775809", b"F5e-324"),
]))
for i, bad in enumerate([b"(I08\n.", b"(I0x\n.", b"(F 2.5\n.", b"(F2.5 \n.", b"(F1e400\n.", b"(F1_0.5\n.",
                         b"(F.\n.", b"(L010L\n.", b"(I0777777777777777777777777777\n.", b"(I010\n.", b"(I1__0\n.", b"(Iabc\n.", b"(I\n.", b"(I" + b"9" * 4301 + b"\n.",
                         b"(F1.5j\n.", b"(F0x10\n.", b"(S'abc\n.", b"(Sabc'\n.", b"(S'a\\x4'\n.",
                         b"(S'a\\'\n.", b"(V\\u12\n.", b"(V\\U00110000\n.", b"(V\\U0001F60\n.",
                         b"(L12LL\n.", b"p0\n.", b"N\x80\x06."]):
    emit("textbad%02d" % i, 0, bad)

# protocol 0 strings: escapes of STRING (codecs.escape_decode) and UNICODE (raw-unicode-escape)
textstrs = [
    b"S'plain'", b'S"dq"', b"S'\\a\\b\\f\\n\\r\\t\\v'", b"S'\\0\\07\\101\\1012\\777\\8'",
    b"S'\\x41\\xfF'", b"S'\\q\\\\\\''", b"S'\xe9raw'",
    b"Vplain", b"V\\u0041\\U0001f600\\ud800", b"V\\\\u0041", b"V\\\\\\u0041", b"Vtrail\\",
    b"V\\x41\\q", b"V\xe9\xff", b"V",
]
emit("textstrs", 0, b"(lp0\n" + b"".join(b"(%s\n(I1\nI2\ntta" % x for x in textstrs) + b".", {"encoding": "bytes"})

# --- random carbon-like structures (seeded): numbers of every kind, str/bytes/bytearray names,
# lists, tuples, dicts, sets, shared (memoised) elements, a list containing itself -----------
rng = random.Random(20240601)


def rnum():
    return rng.choice([
        lambda: rng.randrange(-300, 300), lambda: rng.randrange(-2 ** 70, 2 ** 70),
        lambda: rng.choice([True, False]), lambda: rng.choice([float("nan"), float("inf"), -0.0, 5e-324]),
        lambda: rng.choice(["1.5", " 2 ", "x", "1_0", "nan", "-inf", "1e999", "", "0x1"]),
        lambda: rng.choice([b"3.25", b"abc"]), lambda: rng.randrange(-2 ** 63 - 3, -2 ** 63 + 3),
        lambda: rng.randrange(2 ** 63 - 3, 2 ** 63 + 3), lambda: rng.choice([None, [], {}, (), {1}, frozenset()]),
        lambda: 2 ** rng.randrange(60, 1100) * rng.choice([1, -1]), lambda: rng.uniform(-1e12, 1e12),
    ])()


RNAMES = ["a.b", "c", "", "é.ü", "\U0001f600", "x" * 40, b"bytes.n", bytearray(b"ba"), "\ud800"]


def robj(depth=0):
    c = rng.randrange(10)
    if c < 5:
        pair = (rnum(), rnum()) if rng.random() < 0.8 else [rnum(), rnum()]
        if rng.random() < 0.1:
            pair = (rnum(),) if rng.random() < .5 else (rnum(), rnum(), rnum())
        name = rng.choice(RNAMES)
        return (name, pair) if rng.random() < 0.85 else [name, pair]
    if c == 5:
        return rng.choice(RNAMES)
    if c == 6 and depth < 3:
        return [robj(depth + 1) for _ in range(rng.randrange(4))]
    if c == 7 and depth < 3:
        return {rng.randrange(5): robj(depth + 1) for _ in range(rng.randrange(3))}
    if c == 8:
        return rnum()
    return (robj(depth + 1),) if depth < 3 else None


for i in range(120):
    shared = [robj() for _ in range(3)]
    top = [rng.choice(shared) if rng.random() < 0.3 else robj() for _ in range(rng.randrange(10))]
    if rng.random() < 0.1:
        top.append(top)
    if rng.random() < 0.1:
        top = tuple(top)
    p = rng.randrange(6)
    emit("random%03d" % i, p, pickle.dumps(top, protocol=p), inline=True)

with open(os.path.join(HERE, "golden.json"), "w") as f:
    f.write("[\n" + ",\n".join(json.dumps(e, separators=(",", ":")) for e in golden) + "\n]\n")
print("wrote %d golden pickles" % len(golden))
