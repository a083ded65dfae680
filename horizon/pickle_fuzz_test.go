package horizon

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/go-kale/kale/internal/series"
)

// pickleFuzzSeeds are hostile payloads, small enough to mutate.
var pickleFuzzSeeds = []string{
	"cos\nsystem\n(S'echo pwned'\ntR.",
	"\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c\x01x\x85R.",
	"\x80\x02]}b.", "(i__main__\nC\n.", "(N)o.", "\x80\x02N)\x81.",
	"\x80\x04\x8d\x00\x00\x00\x00\x00\x00\x00\x80abc.",
	"\x80\x02X\xff\xff\xff\xffab.", "T\xff\xff\xff\xffab.", "\x80\x02\x8b\xff\xff\xff\x7f\x01.",
	"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x01\x00].",
	"\x80\x02]h\x05.", "\x80\x02]r\xff\xff\xff\xff.", "(lp0\ng1\n.", "](.", "](Na.", "]1.", "(Ne.",
	"N(Ne.", "}(Nu.", "N.", "\x80\x06].", "S'\\x4'\n.", "V\\u12\n.", "Iabc\n.",
	strings.Repeat("(", 5000) + ".",
	strings.Repeat("]", 1000) + strings.Repeat("a", 999) + ".",
	"]" + strings.Repeat("2a", 1000) + ".",
	"]q\x00" + strings.Repeat("h\x00a", 1000) + ".",
	"](X\x01\x00\x00\x00aK\x01K\x02\x86\x86(0(NN1e.",
	"\x80\x02]q\x000]X\x04\x00\x00\x00nameh\x00\x86ah\x00J\x00\xf1\x53\x65ah\x00G?\xf8\x00\x00\x00\x00\x00\x00a00.",
}

// FuzzDecodePickle checks that DecodePickle never panics and keeps its
// contract: a failed decode appends nothing, rejects nothing and wraps one
// of the sentinel errors; a successful one rejects only with the three
// element reasons, yields at most one sample or reject per payload byte,
// and gives the same result again (the pooled state does not leak between
// calls) and from a copy of the payload.
func FuzzDecodePickle(f *testing.F) {
	for _, g := range readPickleGolden(f) {
		if g.Case != "frames" {
			f.Add(g.payload(f))
		}
	}
	for _, s := range pickleFuzzSeeds {
		f.Add([]byte(s))
	}
	prefix := []series.Sample{{Name: "prefix"}}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var rejects []error
		out, err := DecodePickle(prefix, payload, func(err error) { rejects = append(rejects, err) })
		if err != nil {
			if len(out) != len(prefix) || len(rejects) != 0 {
				t.Fatalf("failed decode (%v) returned %d samples and %d rejects", err, len(out)-len(prefix), len(rejects))
			}
			if !strings.HasPrefix(err.Error(), "cannot decode pickle: ") || !(errors.Is(err, ErrPickleRefused) ||
				errors.Is(err, ErrPickleTruncated) || errors.Is(err, ErrPickleInvalid) ||
				errors.Is(err, ErrPickleLimit) || errors.Is(err, ErrPickleNotList)) {
				t.Fatalf("error %q wraps no sentinel", err)
			}
			return
		}
		if len(out) < len(prefix) || out[0].Name != "prefix" {
			t.Fatalf("dst's samples were not kept")
		}
		if n := len(out) - len(prefix) + len(rejects); n > len(payload) {
			t.Fatalf("%d elements from a %d-byte payload", n, len(payload))
		}
		for _, r := range rejects {
			var re *RejectError
			if !errors.As(r, &re) || (re.Reason != ReasonMalformed && re.Reason != ReasonNonNumeric && re.Reason != ReasonBadTimestamp) {
				t.Fatalf("reject %v is not a *RejectError with an element reason", r)
			}
		}
		var n int
		again, err := DecodePickle(nil, bytes.Clone(payload), func(error) { n++ })
		if err != nil || n != len(rejects) {
			t.Fatalf("second decode: err %v, %d rejects (first: %d)", err, n, len(rejects))
		}
		first := out[len(prefix):]
		same := len(first) == len(again)
		for i := 0; same && i < len(first); i++ {
			same = first[i].Name == again[i].Name && first[i].Timestamp == again[i].Timestamp &&
				math.Float64bits(first[i].Value) == math.Float64bits(again[i].Value)
		}
		if !same {
			t.Fatalf("second decode differs (-first +second):\n%s", cmp.Diff(first, again, pickleBits, cmpopts.EquateEmpty()))
		}
	})
}
