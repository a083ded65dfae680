package horizon

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/go-kale/kale/internal/series"
)

// pickleBits compares float64s by their bits (NaN payloads and -0 included).
var pickleBits = cmp.Comparer(func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) })

// pickleGolden is one entry of testdata/pickle/golden.json (see gen.py).
type pickleGolden struct {
	File     string // the pickle, in testdata/pickle
	Hex      string // or the pickle itself, for the small random cases
	Case     string
	Protocol int
	Samples  []struct {
		N *string // name, when valid UTF-8
		X string  // else hex of the name's bytes
		T int64
		V string // IEEE-754 bits, 0x%016x
	}
	Rejects []Reason
	Refused string // the first refused opcode
	Error   string // what pickle.loads raised
}

func readPickleGolden(tb testing.TB) []pickleGolden {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pickle", "golden.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var g []pickleGolden
	if err := json.Unmarshal(b, &g); err != nil {
		tb.Fatal(err)
	}
	return g
}

func readPickle(tb testing.TB, file string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pickle", file))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// name labels the case.
func (g pickleGolden) name() string {
	if g.File != "" {
		return g.File
	}
	return fmt.Sprintf("%s.p%d", g.Case, g.Protocol)
}

func (g pickleGolden) payload(tb testing.TB) []byte {
	tb.Helper()
	if g.File != "" {
		return readPickle(tb, g.File)
	}
	b, err := hex.DecodeString(g.Hex)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func (g pickleGolden) want(tb testing.TB) []series.Sample {
	tb.Helper()
	out := []series.Sample{}
	for _, s := range g.Samples {
		name := ""
		if s.N != nil {
			name = *s.N
		} else {
			b, err := hex.DecodeString(s.X)
			if err != nil {
				tb.Fatal(err)
			}
			name = string(b)
		}
		bits, err := strconv.ParseUint(s.V, 0, 64)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, series.Sample{Name: name, Point: series.Point{Timestamp: s.T, Value: math.Float64frombits(bits)}})
	}
	return out
}

// decodePickleAll decodes payload and collects the reasons of the rejects,
// checking that each is a *RejectError.
func decodePickleAll(tb testing.TB, payload []byte) ([]series.Sample, []Reason, error) {
	tb.Helper()
	reasons := []Reason{}
	out, err := DecodePickle([]series.Sample{}, payload, func(err error) {
		var re *RejectError
		if !errors.As(err, &re) {
			tb.Errorf("reject called with %T %v, want a *RejectError", err, err)
			return
		}
		reasons = append(reasons, re.Reason)
	})
	return out, reasons, err
}

func TestDecodePickleGolden(t *testing.T) {
	for _, g := range readPickleGolden(t) {
		t.Run(g.name(), func(t *testing.T) {
			payload := g.payload(t)
			got, reasons, err := decodePickleAll(t, payload)
			switch {
			case g.Refused != "":
				if !errors.Is(err, ErrPickleRefused) || !strings.Contains(err.Error(), g.Refused+" (0x") {
					t.Fatalf("err = %v, want ErrPickleRefused naming %s", err, g.Refused)
				}
			case g.Error != "":
				if err == nil || errors.Is(err, ErrPickleRefused) {
					t.Fatalf("err = %v, want a decoding error (Python: %s)", err, g.Error)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(g.want(t), got, pickleBits); diff != "" {
					t.Errorf("samples (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(g.Rejects, reasons, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("rejects (-want +got):\n%s", diff)
				}
			}
			if err != nil && len(got) != 0 {
				t.Errorf("failed decode appended %d samples", len(got))
			}
		})
	}
}

// TestDecodePickleAppends checks that samples are appended after what dst
// holds, and that a failed decode leaves dst's length alone.
func TestDecodePickleAppends(t *testing.T) {
	prefix := series.Sample{Name: "already.there", Point: series.Point{Timestamp: 1, Value: 2}}
	dst := []series.Sample{prefix}
	dst, err := DecodePickle(dst, []byte("\x80\x02]X\x01\x00\x00\x00aK\x05G?\xf8\x00\x00\x00\x00\x00\x00\x86\x86a."), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []series.Sample{prefix, {Name: "a", Point: series.Point{Timestamp: 5, Value: 1.5}}}
	if diff := cmp.Diff(want, dst); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	dst2, err := DecodePickle(dst, []byte("\x80\x02]X\x01\x00\x00\x00aK\x05G?\xf8\x00\x00\x00\x00\x00\x00\x86\x86a"), nil)
	if err == nil || len(dst2) != len(dst) {
		t.Errorf("truncated pickle: len %d, err %v; want len %d and an error", len(dst2), err, len(dst))
	}
}

// pickleAllowed are the opcodes DecodePickle executes.
const pickleAllowed = "(.012FIJKLMNSTUVXadegjhlp]qrstu)G}" +
	"\x80\x85\x86\x87\x88\x89\x8a\x8b" + "BC\x8c\x8d\x8e\x8f\x90\x91\x94\x95\x96"

// TestDecodePickleOpcodes sends every byte as an opcode (after a list, with
// zero bytes after it): the allow-list is executed (and may fail for other
// reasons, such as the unknown opcode 0x00 that follows), every other byte
// is refused by name at offset 1.
func TestDecodePickleOpcodes(t *testing.T) {
	refused := map[byte]string{
		'c': "GLOBAL", 0x93: "STACK_GLOBAL", 'R': "REDUCE", 'b': "BUILD", 'i': "INST", 'o': "OBJ",
		0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 'P': "PERSID",
		'Q': "BINPERSID", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
	}
	for op := range 256 {
		payload := append([]byte{']', byte(op)}, make([]byte, 16)...)
		_, err := DecodePickle(nil, payload, nil)
		allowed := strings.IndexByte(pickleAllowed, byte(op)) >= 0
		switch {
		case allowed && errors.Is(err, ErrPickleRefused) && strings.Contains(err.Error(), "at offset 1:"):
			t.Errorf("opcode 0x%02x: %v, want it executed", op, err)
		case !allowed && (!errors.Is(err, ErrPickleRefused) || !strings.Contains(err.Error(), "at offset 1:")):
			t.Errorf("opcode 0x%02x: err = %v, want ErrPickleRefused", op, err)
		case !allowed && refused[byte(op)] != "" && !strings.Contains(err.Error(), refused[byte(op)]+" (0x"):
			t.Errorf("opcode 0x%02x: %v does not name %s", op, err, refused[byte(op)])
		case !allowed && refused[byte(op)] == "" && !strings.Contains(err.Error(), "not an opcode"):
			t.Errorf("opcode 0x%02x: %v does not say it is unknown", op, err)
		}
	}
}

func TestDecodePickleErrors(t *testing.T) {
	f := func(name, payload string, want error, msg string) {
		t.Helper()
		got, reasons, err := decodePickleAll(t, []byte(payload))
		if !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
			return
		}
		if !strings.Contains(err.Error(), msg) || !strings.HasPrefix(err.Error(), "cannot decode pickle: ") {
			t.Errorf("%s: err = %q, want it to contain %q", name, err, msg)
		}
		if len(got) != 0 || len(reasons) != 0 {
			t.Errorf("%s: %d samples and %d rejects from a failed decode", name, len(got), len(reasons))
		}
	}
	// The classic exploit, by hand: os.system('echo pwned') in protocol 0.
	f("os.system REDUCE", "cos\nsystem\n(S'echo pwned'\ntR.", ErrPickleRefused, "GLOBAL (0x63) at offset 0")
	f("GLOBAL inside a list", "\x80\x02]cposix\nsystem\n.", ErrPickleRefused, "GLOBAL (0x63) at offset 3")
	f("STACK_GLOBAL + REDUCE", "\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c\x01x\x85R.", ErrPickleRefused, "STACK_GLOBAL (0x93) at offset 17")
	f("REDUCE", "\x80\x02N)R.", ErrPickleRefused, "REDUCE (0x52)")
	f("BUILD", "\x80\x02]}b.", ErrPickleRefused, "BUILD (0x62)")
	f("INST", "(i__main__\nC\n.", ErrPickleRefused, "INST (0x69)")
	f("OBJ", "(N)o.", ErrPickleRefused, "OBJ (0x6f)")
	f("NEWOBJ", "\x80\x02N)\x81.", ErrPickleRefused, "NEWOBJ (0x81)")
	f("unknown opcode", "\x80\x02]\xff.", ErrPickleRefused, "opcode 0xff at offset 3")

	f("empty payload", "", ErrPickleTruncated, "ends before STOP")
	f("no STOP", "\x80\x02]", ErrPickleTruncated, "ends before STOP")
	f("BINUNICODE8 of 2^63 bytes", "\x80\x04\x8d\x00\x00\x00\x00\x00\x00\x00\x80abc.", ErrPickleTruncated, "declares 9223372036854775808 bytes")
	f("BINBYTES8 of 2^64-1 bytes", "\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xffabc.", ErrPickleTruncated, "declares 18446744073709551615 bytes")
	f("BYTEARRAY8 of 2^40 bytes", "\x80\x05\x96\x00\x00\x00\x00\x00\x01\x00\x00.", ErrPickleTruncated, "declares 1099511627776 bytes")
	f("BINUNICODE of 4 GiB", "\x80\x02X\xff\xff\xff\xffab.", ErrPickleTruncated, "declares 4294967295 bytes")
	f("BINSTRING negative", "T\xff\xff\xff\xffab.", ErrPickleInvalid, "negative byte count -1")
	f("LONG4 huge", "\x80\x02\x8b\xff\xff\xff\x7f\x01.", ErrPickleTruncated, "declares 2147483647 bytes")
	f("LONG4 negative", "\x80\x02\x8b\xff\xff\xff\xff.", ErrPickleInvalid, "negative byte count -1")
	f("LONG1 short", "\x80\x02\x8a\x09\x01.", ErrPickleTruncated, "declares 9 bytes")
	f("FRAME beyond the payload", "\x80\x04\x95\x00\x00\x00\x00\x00\x00\x01\x00].", ErrPickleTruncated, "frame of 281474976710656 bytes")
	f("BINFLOAT cut", "\x80\x02G?\xf8", ErrPickleTruncated, "needs 8 more bytes")
	f("text opcode without newline", "I12", ErrPickleTruncated, "no end of line")

	f("BINGET never put", "\x80\x02]h\x05.", ErrPickleInvalid, "memo index 5 was never set")
	f("LONG_BINGET out of range", "\x80\x02]j\xff\xff\xff\xff.", ErrPickleInvalid, "memo index 4294967295 was never set")
	f("GET never put", "(lp0\ng1\n.", ErrPickleInvalid, "memo index 1 was never set")
	f("GET negative", "(lp0\ng-1\n.", ErrPickleInvalid, "not a non-negative integer")
	f("LONG_BINPUT beyond the memo limit", "\x80\x02]r\xff\xff\xff\xff.", ErrPickleLimit, "memo index 4294967295 is too large")
	f("LONG_BINPUT beyond the payload", "]r\x00\x00\x01\x00.", ErrPickleLimit, "memo index 65536 is too large")
	f("opcode across the end of a frame", "\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00]K\x05a.", ErrPickleInvalid, "BININT1 (0x4b) at offset 12: invalid pickle: crosses the end of its frame (offset 13)")
	f("FRAME inside a frame", "\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00]\x95\x00\x00\x00\x00\x00\x00\x00\x00.", ErrPickleInvalid, "a new frame begins before the end of the current frame")

	f("STOP on an empty stack", ".", ErrPickleInvalid, "stack underflow")
	f("STOP above a MARK", "](.", ErrPickleInvalid, "stack underflow (below the MARK")
	f("APPEND on an empty stack", "a.", ErrPickleInvalid, "APPEND (0x61) at offset 0: invalid pickle: stack underflow")
	f("APPEND across a MARK", "](Na.", ErrPickleInvalid, "stack underflow (below the MARK")
	f("TUPLE2 of one", "N\x86.", ErrPickleInvalid, "stack underflow")
	f("TUPLE3 across a MARK", "NN(N\x87.", ErrPickleInvalid, "stack underflow")
	f("POP on an empty stack", "0.", ErrPickleInvalid, "stack underflow")
	f("DUP on an empty stack", "2.", ErrPickleInvalid, "stack underflow")
	f("BINPUT on an empty stack", "q\x00.", ErrPickleInvalid, "stack underflow")
	f("POP_MARK without MARK", "]1.", ErrPickleInvalid, "no MARK to pop")
	f("TUPLE without MARK", "NNt.", ErrPickleInvalid, "no MARK to pop")
	f("APPENDS without MARK", "]Ne.", ErrPickleInvalid, "no MARK to pop")
	f("APPENDS with nothing under the MARK", "(Ne.", ErrPickleInvalid, "stack underflow")
	f("APPENDS to None", "N(Ne.", ErrPickleInvalid, "cannot append to a None")
	f("APPEND to a tuple", ")Na.", ErrPickleInvalid, "cannot append to a tuple")
	f("SETITEM on a list", "]NNs.", ErrPickleInvalid, "cannot set an item of a list")
	f("SETITEMS odd", "}(Nu.", ErrPickleInvalid, "odd number of items")
	f("DICT odd", "(Nd.", ErrPickleInvalid, "odd number of items")
	f("ADDITEMS to a dict", "}(N\x90.", ErrPickleInvalid, "cannot add items to a dict")

	f("top level None", "N.", ErrPickleNotList, "is a None")
	f("top level int", "\x80\x02K\x05.", ErrPickleNotList, "is a int")
	f("top level str", "\x80\x02X\x01\x00\x00\x00a.", ErrPickleNotList, "is a str")
	f("top level dict", "\x80\x02}.", ErrPickleNotList, "is a dict")

	f("PROTO 6", "\x80\x06].", ErrPickleInvalid, "unsupported pickle protocol 6")
	f("STRING unquoted", "S'abc\n.", ErrPickleInvalid, "must be quoted")
	f("STRING bad \\x", "S'\\x4'\n.", ErrPickleInvalid, `invalid \x escape`)
	f("UNICODE bad \\u", "V\\u12\n.", ErrPickleInvalid, `truncated \u escape`)
	f("UNICODE \\U too big", "V\\U00110000\n.", ErrPickleInvalid, `out of range`)
	f("INT not a number", "Iabc\n.", ErrPickleInvalid, `"abc" is not an integer`)
	f("INT of 4301 digits", "I"+strings.Repeat("9", 4301)+"\n.", ErrPickleLimit, "more than 4300 digits")
	f("FLOAT overflow", "F1e400\n.", ErrPickleInvalid, "not a float")
}

// TestDecodePickleTruncatedEverywhere cuts valid pickles of every protocol at
// every byte: each prefix must fail (the STOP is the last byte), not panic.
func TestDecodePickleTruncatedEverywhere(t *testing.T) {
	for _, g := range readPickleGolden(t) {
		if g.Refused != "" || g.Error != "" || g.Case == "frames" || g.Case == "appends" || g.Case == "carbon500" {
			continue
		}
		payload := g.payload(t)
		for n := range len(payload) {
			out, err := DecodePickle(nil, payload[:n:n], func(error) { t.Fatalf("%s[:%d]: reject called", g.name(), n) })
			if err == nil || len(out) != 0 {
				t.Fatalf("%s[:%d]: %d samples, err %v; want an error", g.name(), n, len(out), err)
			}
		}
	}
}

// TestDecodePickleHostile checks that deep nesting, floods and reference
// tricks stay within the limits (and linear time) instead of recursing or
// allocating without bound.
func TestDecodePickleHostile(t *testing.T) {
	const n = 100_000
	rep := func(s string, k int) string { return strings.Repeat(s, k) }
	f := func(name, payload string, want error, wantRejects int) {
		t.Helper()
		_, reasons, err := decodePickleAll(t, []byte(payload))
		if !errors.Is(err, want) || (want != nil) != (err != nil) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
		if len(reasons) != wantRejects {
			t.Errorf("%s: %d rejects, want %d", name, len(reasons), wantRejects)
		}
	}
	f("100k MARKs", "]"+rep("(", n)+".", ErrPickleLimit, 0)
	f("4096 MARKs are fine", "]"+rep("(", pickleMaxMarks)+rep("1", pickleMaxMarks)+".", nil, 0)
	f("100k nested lists", rep("]", n)+rep("a", n-1)+".", nil, 1)
	f("100k nested 1-tuples in a list", "]"+")"+rep("\x85", n)+"a.", nil, 1)
	f("100k nested tuples at top level", ")"+rep("\x85", n)+".", nil, 1)
	f("a list appended to itself 100k times", "]"+rep("2a", n)+".", nil, n)
	f("a memoised list appended 100k times", "]q\x00"+rep("h\x00a", n)+".", nil, n)
	f("DUP flood past the stack limit", "]"+rep("2", pickleMaxStack+1)+".", ErrPickleLimit, 0)
	f("NONE flood past the stack limit", rep("N", pickleMaxStack+2)+".", ErrPickleLimit, 0)
	f("tuples of a DUP flood past the value limit",
		"N"+rep("2\x86", pickleMaxValues/2+1)+".", ErrPickleLimit, 0)
	f("memo at the limit", "]"+rep("q\x00", n)+".", nil, 0)
}

// TestDecodePickleRepeatedStrings checks that a long string repeated
// through the memo is copied, compared and parsed once, not once per use
// (which would be 100,000 x 100 KB here).
func TestDecodePickleRepeatedStrings(t *testing.T) {
	const k, size = 100_000, 100_000
	binunicode := func(s string) string {
		return "X" + string(binary.LittleEndian.AppendUint32(nil, uint32(len(s)))) + s
	}
	long := strings.Repeat("n", size)
	value := "1.5" + strings.Repeat(" ", size)
	// memo 0: (long, (1, value)); memo 1: an equal name at other offsets, same pair.
	payload := "\x80\x02]" + binunicode(long) + "K\x01" + binunicode(value) + "\x86q\x02\x86q\x00" +
		binunicode(long) + "h\x02\x86q\x01" + "00(" + strings.Repeat("h\x00h\x01", k/2) + "e."
	got, reasons, err := decodePickleAll(t, []byte(payload))
	if err != nil || len(reasons) != 0 || len(got) != k {
		t.Fatalf("%d samples, rejects %v, err %v; want %d samples", len(got), reasons, err, k)
	}
	if got[0].Name != long {
		t.Fatalf("name %.20q..., want %.20q...", got[0].Name, long)
	}
	for _, s := range got {
		if unsafe.StringData(s.Name) != unsafe.StringData(got[0].Name) || len(s.Name) != size || s.Value != 1.5 || s.Timestamp != 1 {
			t.Fatalf("sample %.20q... %v is not the one shared (%.20q..., 1, 1.5)", s.Name, s.Point, long)
		}
	}
}

// TestDecodePickleMemoReference checks CPython's memo semantics: a list
// memoised before it is filled shows its later APPENDs through GET.
func TestDecodePickleMemoReference(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("\x80\x02]q\x000")                        // L = [] (memo 0), popped
	b.WriteString("]X\x04\x00\x00\x00nameh\x00\x86a")       // top = [("name", L)]
	b.WriteString("h\x00J\x00\xf1\x53\x65a")                // L.append(1700000000)
	b.WriteString("h\x00G?\xf8\x00\x00\x00\x00\x00\x00a00") // L.append(1.5); pop both Ls
	b.WriteString(".")
	got, reasons, err := decodePickleAll(t, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []series.Sample{{Name: "name", Point: series.Point{Timestamp: 1700000000, Value: 1.5}}}
	if diff := cmp.Diff(want, got); diff != "" || len(reasons) != 0 {
		t.Errorf("(-want +got):\n%s\nrejects %v", diff, reasons)
	}
}

// TestDecodePicklePop checks CPython's POP: on an empty MARK frame it drops
// the MARK; POP_MARK drops the frame.
func TestDecodePicklePop(t *testing.T) {
	payload := "](X\x01\x00\x00\x00aK\x01K\x02\x86\x86" + "(0" + "(NN1" + "e."
	got, _, err := decodePickleAll(t, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	want := []series.Sample{{Name: "a", Point: series.Point{Timestamp: 1, Value: 2}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDecodePickleRejectMessages(t *testing.T) {
	// [("ok", (1, 2)), 5, (7, (1, 2)), ("n", (1, 2, 3)), ("t", (None, 1)), ("v", (1, "x")), ("big", (1, 2**2000))]
	payload := "\x80\x02](X\x02\x00\x00\x00okK\x01K\x02\x86\x86" +
		"K\x05" +
		"K\x07K\x01K\x02\x86\x86" +
		"X\x01\x00\x00\x00nK\x01K\x02K\x03\x87\x86" +
		"X\x01\x00\x00\x00tNK\x01\x86\x86" +
		"X\x01\x00\x00\x00vK\x01X\x01\x00\x00\x00x\x86\x86" +
		"X\x03\x00\x00\x00bigK\x01\x8b\xfb\x00\x00\x00" + strings.Repeat("\x00", 250) + "\x01\x86\x86e."
	var msgs []string
	got, err := DecodePickle(nil, []byte(payload), func(err error) { msgs = append(msgs, err.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "ok" {
		t.Errorf("samples = %v, want the one ok", got)
	}
	want := []string{
		"malformed: pickle element 1 is a int 5, not a (name, (timestamp, value)) pair",
		"malformed: pickle element 2: metric name is a int 7, not a str or bytes",
		"malformed: pickle element 3: datapoint is a 3-tuple, not a (timestamp, value) pair",
		"bad_timestamp: pickle element 4: timestamp None is not a finite number in int64 seconds",
		`non_numeric: pickle element 5: value str "x" is not a number`,
		"non_numeric: pickle element 6: value is an int too large for a float64",
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestDecodePickleNames checks that names are copies (the caller reuses its
// frame buffer) and that a repeated name is allocated once.
func TestDecodePickleNames(t *testing.T) {
	payload := readPickle(t, "memo.p2.pickle")
	got, err := DecodePickle(nil, bytes.Clone(payload), nil)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]*byte{}
	for _, s := range got {
		p := unsafe.StringData(s.Name)
		if q, ok := data[s.Name]; ok && q != p {
			t.Errorf("name %q allocated twice", s.Name)
		}
		data[s.Name] = p
	}
	if len(data) != 2 {
		t.Errorf("%d distinct names, want 2", len(data))
	}

	frame := readPickle(t, "carbon500.p2.pickle")
	buf := bytes.Clone(frame)
	got, err = DecodePickle(nil, buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, s := range got {
		want = append(want, s.Name...)
	}
	clear(buf) // the caller's next frame
	var after []byte
	for _, s := range got {
		after = append(after, s.Name...)
	}
	if !bytes.Equal(want, after) {
		t.Error("names changed with the payload buffer")
	}

	dst := make([]series.Sample, 0, 500)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := DecodePickle(dst[:0], frame, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 500+2 && !raceEnabled { // one per distinct name (500), plus slack for the pool
		t.Errorf("%.0f allocations for a 500-point frame of 500 names, want about 500", allocs)
	}
}

func TestDecodePickleConcurrent(t *testing.T) {
	var frames [][]byte
	var wants [][]series.Sample
	for _, g := range readPickleGolden(t) {
		if g.Refused == "" && g.Error == "" {
			frames = append(frames, g.payload(t))
			wants = append(wants, g.want(t))
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range frames {
				k := (i + w*7) % len(frames)
				got, err := DecodePickle(nil, frames[k], nil)
				if err != nil {
					t.Error(err)
					return
				}
				if diff := cmp.Diff(wants[k], got, pickleBits, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("frame %d (-want +got):\n%s", k, diff)
				}
			}
		})
	}
	wg.Wait()
}

// TestPickleLong checks LONG1/LONG4 decoding against Python's
// int.to_bytes(n, 'little', signed=True) (the values are exact: 2^63 and
// beyond are powers of two or round exactly to their float64).
func TestPickleLong(t *testing.T) {
	f := func(b []byte, kind pickleKind, want float64) {
		t.Helper()
		v := pickleLong(b)
		got := float64(int64(v.x))
		if v.kind == pkBig {
			got = math.Float64frombits(v.x)
		}
		if v.kind != kind || got != want {
			t.Errorf("pickleLong(% x) = %v %v, want %v %v", b, v.kind, got, kind, want)
		}
	}
	f(nil, pkInt, 0)
	f([]byte{0xff}, pkInt, -1)
	f([]byte{0x80}, pkInt, -128)
	f([]byte{0x00, 0x80}, pkInt, -32768)
	f([]byte{0x00, 0x80, 0x00}, pkInt, 32768)
	f([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, pkInt, math.MaxInt64)
	f([]byte{0, 0, 0, 0, 0, 0, 0, 0x80}, pkInt, math.MinInt64)
	f([]byte{5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, pkInt, 5)                             // redundant sign bytes
	f([]byte{0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, pkInt, -5) // likewise
	f([]byte{0, 0, 0, 0, 0, 0, 0, 0x80, 0}, pkBig, 0x1p63)
}

func TestPickleLongBig(t *testing.T) {
	// -(2^63) - 1 in 9 bytes: its nearest float64 is -2^63.
	v := pickleLong([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff})
	if v.kind != pkBig || math.Float64frombits(v.x) != -0x1p63 {
		t.Errorf("got %v %v, want pkBig -2^63", v.kind, math.Float64frombits(v.x))
	}
	// 2^1024 (129 bytes) does not fit a float64.
	b := make([]byte, 129)
	b[128] = 1
	if v := pickleLong(b); v.kind != pkBig || v.y != 1 {
		t.Errorf("2^1024: %+v, want pkBig overflowed", v)
	}
	// -(2^1023) fits exactly.
	b = make([]byte, 128)
	b[127] = 0x80
	if v := pickleLong(b); v.kind != pkBig || math.Float64frombits(v.x) != -0x1p1023 {
		t.Errorf("-2^1023: %v", math.Float64frombits(v.x))
	}
}
