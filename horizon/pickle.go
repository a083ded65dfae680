package horizon

// The Graphite pickle protocol (skyline-spec 1.2): a restricted Python
// unpickler that understands only data opcodes. See DecodePickle.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/go-kale/kale/internal/series"
)

// Errors of DecodePickle for a payload it cannot decode as a whole. Each is
// wrapped with the opcode and its offset: "cannot decode pickle: GLOBAL
// (0x63) at offset 2: refused opcode: it would import an object".
var (
	// ErrPickleRefused is an opcode that would look up, construct or call
	// an object (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ,
	// NEWOBJ_EX, EXT1/2/4, PERSID, BINPERSID, NEXT_BUFFER, READONLY_BUFFER)
	// or an opcode unknown to protocols 0-5.
	ErrPickleRefused = errors.New("refused opcode")
	// ErrPickleTruncated is a payload that ends inside an opcode's argument
	// or before STOP.
	ErrPickleTruncated = errors.New("truncated pickle")
	// ErrPickleInvalid is a bad argument (an unquoted STRING, a bad escape,
	// a negative length, an unsupported PROTO) or a misuse of the stack: an
	// underflow, a missing MARK, APPEND to something not a list, a memo
	// index never PUT.
	ErrPickleInvalid = errors.New("invalid pickle")
	// ErrPickleLimit is a payload that exceeds one of the decoder's limits
	// (stack depth, MARK depth, memo size, values held, digits of a text
	// integer).
	ErrPickleLimit = errors.New("pickle exceeds a decoder limit")
	// ErrPickleNotList is a pickle whose top-level object is not a list or
	// a tuple.
	ErrPickleNotList = errors.New("top-level object is not a list")
)

// Limits of one DecodePickle call. Every value the decoder holds came from
// at least one opcode byte, so memory is already O(len(payload)); these caps
// bound it whatever the payload: values are 16 bytes, so the stack, memo and
// containers hold at most about (pickleMaxStack + pickleMaxMemo +
// pickleMaxValues) * 16 bytes = 96 MiB (plus a 24-byte header per list),
// and a carbon-relay frame of 500 points needs about 2,000 values.
const (
	pickleMaxStack  = 1 << 20 // values on the stack at once
	pickleMaxMarks  = 1 << 12 // nested MARKs (Python's pickler recurses; it cannot nest 4096 deep)
	pickleMaxMemo   = 1 << 20 // memo index + 1 (and at most len(payload) + 256: picklers number slots densely from 0)
	pickleMaxValues = 1 << 22 // items put in tuples and lists, plus lists made
	pickleMaxDigits = 4300    // digits of an INT/LONG text argument, as Python's int() (sys.int_info)

	// pickleMaxPayload keeps every offset and length (protocol 0 strings
	// may double in UTF-8) within 32 bits. Frames are far smaller.
	pickleMaxPayload = 1<<31 - 1 // also fits a 32-bit int
)

// DecodePickle decodes one pickle payload (a frame without its 4-byte length) and appends its samples to dst.
// reject is called (may be nil) once per element that is not a usable (name, (ts, value)) with a *RejectError
// (ReasonMalformed for a wrong shape or name type, ReasonNonNumeric for a value that is not a number,
// ReasonBadTimestamp for a timestamp that is not finite or outside int64 seconds); other elements still decode.
// It returns an error (and dst unchanged in length) when the payload as a whole cannot be decoded: a refused
// opcode, truncation, stack misuse, limits exceeded, top level not a list/tuple. That error should close the connection.
//
// The payload is what carbon's pickle.dumps(list, protocol) writes for any
// protocol 0-5 (carbon-relay uses 2): a list (or tuple) of
// (metric_path, (timestamp, value)). Only the data opcodes are executed:
// MARK, STOP, POP, POP_MARK, DUP, INT, LONG, FLOAT, STRING, UNICODE (the
// text forms of protocol 0, read as CPython's _pickle reads them: INT is C's
// strtol(s, 0) (a leading 0 is octal; a 2-byte argument worth 0 or 1, such
// as 00 and 01, is a bool) falling back to int(s, 0); LONG is int(s, 0)
// after its final L; FLOAT is PyOS_string_to_double, with no whitespace or
// underscores and an overflow refused; a NUL ends each of these; STRING is
// Python's escape_decode of the quoted bytes and UNICODE raw-unicode-escape),
// BININT, BININT1, BININT2, LONG1, LONG4, BINFLOAT,
// NONE, NEWTRUE, NEWFALSE, BINSTRING, SHORT_BINSTRING, BINUNICODE,
// SHORT_BINUNICODE, BINUNICODE8, BINBYTES, SHORT_BINBYTES, BINBYTES8,
// BYTEARRAY8, the list, tuple, dict and set opcodes, the memo opcodes (PUT,
// BINPUT, LONG_BINPUT, MEMOIZE, GET, BINGET, LONG_BINGET), PROTO and FRAME.
// The stack, MARK and memo rules are CPython's: an opcode cannot pop past the
// last MARK, POP on an empty MARK frame drops the MARK, and the memo holds
// references (APPENDs to a memoised list show through a later GET). Bytes
// after STOP are ignored, as pickle.loads does. Any other opcode is refused
// with ErrPickleRefused, before anything is looked up.
//
// Where it parts from CPython's pickle.loads on the data opcodes: it does
// not check that BINUNICODE or UNICODE hold valid UTF-8, nor decode STRING
// as ASCII (the bytes go through; the filters judge names), nor that dict
// keys and set items are hashable (their contents are never used); APPEND
// and SETITEM need a real list or dict (CPython would call an .append or
// __setitem__ of whatever is there); an opcode may not cross the end of its
// FRAME, as pickle.py checks and the C unpickler does not; and memo indexes
// past len(payload)+256, which picklers never write, exceed a limit.
//
// Each element is converted as carbon's pickle receiver does, minus its
// blind spots:
//
//   - the element and its (timestamp, value) pair must each be a tuple or a
//     list of exactly 2 items, and the name a str, bytes or bytearray;
//     anything else is ReasonMalformed. Name bytes are kept as they are
//     (BINUNICODE's UTF-8; a protocol 0 lone surrogate becomes its 3-byte
//     "surrogatepass" form, as BINUNICODE would carry it): invalid UTF-8 and
//     empty names are the filters' business.
//   - numbers are what carbon's float() takes: int (of any size), float,
//     bool (as 0 and 1: float(True) is 1.0, so carbon takes bools too), and
//     str/bytes/bytearray holding Python float syntax (ASCII whitespace
//     around, "_" between digits, inf/infinity/nan in any case; no hex, and
//     only ASCII digits, where Python's str also takes other Unicode
//     digits). None, containers and the rest are not numbers.
//   - the timestamp is truncated toward zero to whole seconds; an int
//     outside int64, a float (or numeric string) that is not finite or whose
//     truncation is outside int64, or a non-number is ReasonBadTimestamp.
//   - the value is the float64 of the number: BINFLOAT bits are kept
//     exactly (NaN and ±Inf included: the filters reject those with their
//     own reasons); an int is rounded to nearest-even like float(int); an int
//     too large for a float64 (float() raises OverflowError) or a non-number
//     is ReasonNonNumeric.
//
// The decoder is iterative, checks every declared length against the bytes
// left before using it, and caps its stack, MARK depth, memo and values held
// (see ErrPickleLimit), so memory is O(len(payload)) and bounded, and time
// is linear in len(payload) however DUP, GET and nesting are combined.
// Strings stay slices of payload until an element's name is copied out: one
// allocation per name string of the payload, shared by every use of that
// string through the memo (GET, DUP) and by a next sample of equal name;
// each string is copied, compared and parsed as a number at most once. It
// is safe for concurrent use, keeps its state in a sync.Pool, and does not
// retain payload: names are copies.
func DecodePickle(dst []series.Sample, payload []byte, reject func(error)) ([]series.Sample, error) {
	if len(payload) > pickleMaxPayload {
		return dst, fmt.Errorf("cannot decode pickle: %w: %d bytes, more than %d", ErrPickleLimit, len(payload), pickleMaxPayload)
	}
	d := pickleDecoders.Get().(*pickleDecoder)
	top, err := d.run(payload)
	if err == nil {
		dst, err = d.samples(dst, top, reject)
	}
	if d.reset() {
		pickleDecoders.Put(d)
	}
	return dst, err
}

// Opcodes of pickle protocols 0-5 (CPython Lib/pickle.py).
const (
	pkMARK            = '('
	pkSTOP            = '.'
	pkPOP             = '0'
	pkPOP_MARK        = '1'
	pkDUP             = '2'
	pkFLOAT           = 'F'
	pkINT             = 'I'
	pkBININT          = 'J'
	pkBININT1         = 'K'
	pkLONG            = 'L'
	pkBININT2         = 'M'
	pkNONE            = 'N'
	pkPERSID          = 'P'
	pkBINPERSID       = 'Q'
	pkREDUCE          = 'R'
	pkSTRING          = 'S'
	pkBINSTRING       = 'T'
	pkSHORT_BINSTRING = 'U'
	pkUNICODE         = 'V'
	pkBINUNICODE      = 'X'
	pkAPPEND          = 'a'
	pkBUILD           = 'b'
	pkGLOBAL          = 'c'
	pkDICT            = 'd'
	pkEMPTY_DICT      = '}'
	pkAPPENDS         = 'e'
	pkGET             = 'g'
	pkBINGET          = 'h'
	pkINST            = 'i'
	pkLONG_BINGET     = 'j'
	pkLIST            = 'l'
	pkEMPTY_LIST      = ']'
	pkOBJ             = 'o'
	pkPUT             = 'p'
	pkBINPUT          = 'q'
	pkLONG_BINPUT     = 'r'
	pkSETITEM         = 's'
	pkTUPLE           = 't'
	pkEMPTY_TUPLE     = ')'
	pkSETITEMS        = 'u'
	pkBINFLOAT        = 'G'
	pkPROTO           = 0x80
	pkNEWOBJ          = 0x81
	pkEXT1            = 0x82
	pkEXT2            = 0x83
	pkEXT4            = 0x84
	pkTUPLE1          = 0x85
	pkTUPLE2          = 0x86
	pkTUPLE3          = 0x87
	pkNEWTRUE         = 0x88
	pkNEWFALSE        = 0x89
	pkLONG1           = 0x8a
	pkLONG4           = 0x8b
	pkBINBYTES        = 'B'
	pkSHORT_BINBYTES  = 'C'
	pkSHORT_BINUNI    = 0x8c
	pkBINUNICODE8     = 0x8d
	pkBINBYTES8       = 0x8e
	pkEMPTY_SET       = 0x8f
	pkADDITEMS        = 0x90
	pkFROZENSET       = 0x91
	pkNEWOBJ_EX       = 0x92
	pkSTACK_GLOBAL    = 0x93
	pkMEMOIZE         = 0x94
	pkFRAME           = 0x95
	pkBYTEARRAY8      = 0x96
	pkNEXT_BUFFER     = 0x97
	pkREADONLY_BUFFER = 0x98
)

// pickleOpNames names every opcode of protocols 0-5, for messages.
var pickleOpNames = [256]string{
	pkMARK: "MARK", pkSTOP: "STOP", pkPOP: "POP", pkPOP_MARK: "POP_MARK", pkDUP: "DUP",
	pkFLOAT: "FLOAT", pkINT: "INT", pkBININT: "BININT", pkBININT1: "BININT1", pkLONG: "LONG",
	pkBININT2: "BININT2", pkNONE: "NONE", pkPERSID: "PERSID", pkBINPERSID: "BINPERSID",
	pkREDUCE: "REDUCE", pkSTRING: "STRING", pkBINSTRING: "BINSTRING",
	pkSHORT_BINSTRING: "SHORT_BINSTRING", pkUNICODE: "UNICODE", pkBINUNICODE: "BINUNICODE",
	pkAPPEND: "APPEND", pkBUILD: "BUILD", pkGLOBAL: "GLOBAL", pkDICT: "DICT",
	pkEMPTY_DICT: "EMPTY_DICT", pkAPPENDS: "APPENDS", pkGET: "GET", pkBINGET: "BINGET",
	pkINST: "INST", pkLONG_BINGET: "LONG_BINGET", pkLIST: "LIST", pkEMPTY_LIST: "EMPTY_LIST",
	pkOBJ: "OBJ", pkPUT: "PUT", pkBINPUT: "BINPUT", pkLONG_BINPUT: "LONG_BINPUT",
	pkSETITEM: "SETITEM", pkTUPLE: "TUPLE", pkEMPTY_TUPLE: "EMPTY_TUPLE", pkSETITEMS: "SETITEMS",
	pkBINFLOAT: "BINFLOAT", pkPROTO: "PROTO", pkNEWOBJ: "NEWOBJ", pkEXT1: "EXT1", pkEXT2: "EXT2",
	pkEXT4: "EXT4", pkTUPLE1: "TUPLE1", pkTUPLE2: "TUPLE2", pkTUPLE3: "TUPLE3",
	pkNEWTRUE: "NEWTRUE", pkNEWFALSE: "NEWFALSE", pkLONG1: "LONG1", pkLONG4: "LONG4",
	pkBINBYTES: "BINBYTES", pkSHORT_BINBYTES: "SHORT_BINBYTES", pkSHORT_BINUNI: "SHORT_BINUNICODE",
	pkBINUNICODE8: "BINUNICODE8", pkBINBYTES8: "BINBYTES8", pkEMPTY_SET: "EMPTY_SET",
	pkADDITEMS: "ADDITEMS", pkFROZENSET: "FROZENSET", pkNEWOBJ_EX: "NEWOBJ_EX",
	pkSTACK_GLOBAL: "STACK_GLOBAL", pkMEMOIZE: "MEMOIZE", pkFRAME: "FRAME",
	pkBYTEARRAY8: "BYTEARRAY8", pkNEXT_BUFFER: "NEXT_BUFFER", pkREADONLY_BUFFER: "READONLY_BUFFER",
}

// pickleRefusedWhy says what a refused opcode would have done.
var pickleRefusedWhy = map[byte]string{
	pkGLOBAL:          "it would import an object",
	pkSTACK_GLOBAL:    "it would import an object",
	pkREDUCE:          "it would call an object",
	pkBUILD:           "it would set an object's state",
	pkINST:            "it would import and call a class",
	pkOBJ:             "it would call a class",
	pkNEWOBJ:          "it would construct an object",
	pkNEWOBJ_EX:       "it would construct an object",
	pkEXT1:            "it would look up the extension registry",
	pkEXT2:            "it would look up the extension registry",
	pkEXT4:            "it would look up the extension registry",
	pkPERSID:          "it would load a persistent object",
	pkBINPERSID:       "it would load a persistent object",
	pkNEXT_BUFFER:     "out-of-band buffers are not supported",
	pkREADONLY_BUFFER: "out-of-band buffers are not supported",
}

func pickleOpName(op byte) string {
	if n := pickleOpNames[op]; n != "" {
		return fmt.Sprintf("%s (0x%02x)", n, op)
	}
	return fmt.Sprintf("opcode 0x%02x", op)
}

// pickleKind is the Python type of a decoded value.
type pickleKind uint8

const (
	pkUnset     pickleKind = iota // an empty memo slot; never on the stack
	pkNone                        // None
	pkBool                        // x = 0 or 1
	pkInt                         // x = int64 bits
	pkBig                         // int outside int64: x = bits of the nearest float64, y = 1 if that is ±Inf
	pkFloat                       // x = float64 bits
	pkStr                         // str, bytes or bytearray: y bytes at offset uint32(x) of the payload or d.text; x>>32 is its string id
	pkTuple                       // items d.arena[x : x+y]
	pkList                        // items d.lists[x]
	pkDict                        // contents are not kept: no dict is ever a usable element
	pkSet                         // likewise
	pkFrozenSet                   // likewise
)

var pickleKindNames = [...]string{
	pkUnset: "unset", pkNone: "None", pkBool: "bool", pkInt: "int", pkBig: "int", pkFloat: "float",
	pkStr: "str", pkTuple: "tuple", pkList: "list", pkDict: "dict", pkSet: "set", pkFrozenSet: "frozenset",
}

func (k pickleKind) String() string { return pickleKindNames[k] }

// pickleValue is one Python object on the stack, in the memo or in a
// container. It holds no pointers: strings are offsets, containers indexes.
type pickleValue struct {
	kind pickleKind
	text bool   // pkStr: the bytes are in d.text, not in the payload
	y    uint32 // lengths fit: payloads are at most pickleMaxPayload bytes
	x    uint64
}

// pickleNumber caches what a string parses to as a number.
type pickleNumber struct {
	f     float64
	state uint8 // 0 not parsed yet, 1 a number, 2 not a number
}

// pickleDecoder is the reusable state of one DecodePickle call.
type pickleDecoder struct {
	p      []byte
	stack  []pickleValue
	marks  []int // stack lengths at each open MARK
	fence  int   // the last MARK's stack length, or 0: pops may not go below it
	memo   []pickleValue
	memoN  int // memo slots set (Python's len(memo), the index MEMOIZE uses)
	arena  []pickleValue
	lists  [][]pickleValue // reused across calls: only lists[:nlists] are live
	nlists int
	text   []byte // strings of protocol 0 after unescaping
	nvals  int    // counted against pickleMaxValues

	// Per string id (one per string opcode executed): 1 + the index in
	// this call's output of the first sample named by it (0 for none yet),
	// and its value as a number, parsed at most once. However often GET or
	// DUP repeat a string, it is copied, compared or parsed once: the work
	// stays linear in the payload.
	strSample []int32
	strNumber []pickleNumber
}

var pickleDecoders = sync.Pool{New: func() any { return new(pickleDecoder) }}

// reset empties d for the next call and reports whether it is small enough
// to keep in the pool.
func (d *pickleDecoder) reset() bool {
	d.p = nil
	d.stack = d.stack[:0]
	d.marks = d.marks[:0]
	d.fence = 0
	clear(d.memo)
	d.memo = d.memo[:0]
	d.memoN = 0
	d.arena = d.arena[:0]
	held := cap(d.stack) + cap(d.memo) + cap(d.arena) + cap(d.marks) + cap(d.text)/16 + len(d.lists)
	for i := range d.lists[:d.nlists] {
		held += cap(d.lists[i])
		d.lists[i] = d.lists[i][:0]
	}
	d.nlists = 0
	d.text = d.text[:0]
	d.nvals = 0
	held += len(d.strSample)/4 + len(d.strNumber)
	clear(d.strSample)
	d.strSample = d.strSample[:0]
	d.strNumber = d.strNumber[:0]
	return held <= 1<<16
}

// fail builds the error for the opcode op at offset at.
func (d *pickleDecoder) fail(sentinel error, op byte, at int, format string, args ...any) error {
	return fmt.Errorf("cannot decode pickle: %s at offset %d: %w: %s",
		pickleOpName(op), at, sentinel, fmt.Sprintf(format, args...))
}

func (d *pickleDecoder) short(op byte, at int, need int) error {
	return d.fail(ErrPickleTruncated, op, at, "needs %d more bytes, %d left", need, len(d.p)-at-1)
}

func (d *pickleDecoder) underflow(op byte, at int) error {
	if len(d.marks) > 0 {
		return d.fail(ErrPickleInvalid, op, at, "stack underflow (below the MARK at stack depth %d)", d.fence)
	}
	return d.fail(ErrPickleInvalid, op, at, "stack underflow")
}

// popMark closes the last MARK and returns the stack index of the first
// item pushed after it; the caller takes stack[k:] and truncates to k.
func (d *pickleDecoder) popMark(op byte, at int) (int, error) {
	n := len(d.marks)
	if n == 0 {
		return 0, d.fail(ErrPickleInvalid, op, at, "no MARK to pop")
	}
	k := d.marks[n-1]
	d.marks = d.marks[:n-1]
	if n > 1 {
		d.fence = d.marks[n-2]
	} else {
		d.fence = 0
	}
	return k, nil
}

func (d *pickleDecoder) newList(items []pickleValue) pickleValue {
	i := d.nlists
	if i == len(d.lists) {
		d.lists = append(d.lists, nil)
	}
	d.lists[i] = append(d.lists[i][:0], items...)
	d.nlists++
	d.nvals += 1 + len(items)
	return pickleValue{kind: pkList, x: uint64(i)}
}

func (d *pickleDecoder) newTuple(items []pickleValue) pickleValue {
	off := len(d.arena)
	d.arena = append(d.arena, items...)
	d.nvals += len(items)
	return pickleValue{kind: pkTuple, x: uint64(off), y: uint32(len(items))}
}

func (d *pickleDecoder) memoPut(op byte, at int, idx uint64) error {
	n := len(d.stack)
	if n <= d.fence {
		return d.underflow(op, at)
	}
	if idx >= pickleMaxMemo || idx >= uint64(len(d.p))+256 {
		return d.fail(ErrPickleLimit, op, at, "memo index %d is too large (limit %d, and the payload's length + 256)", idx, pickleMaxMemo)
	}
	i := int(idx)
	if i >= len(d.memo) {
		// Slots up to cap are zero: reset clears every slot ever used.
		if i >= cap(d.memo) {
			d.memo = append(d.memo[:cap(d.memo)], make([]pickleValue, i+1-cap(d.memo))...)
		}
		d.memo = d.memo[:i+1]
	}
	if d.memo[i].kind == pkUnset {
		d.memoN++
	}
	d.memo[i] = d.stack[n-1]
	return nil
}

func (d *pickleDecoder) memoGet(op byte, at int, idx uint64) error {
	if idx >= uint64(len(d.memo)) || d.memo[idx].kind == pkUnset {
		return d.fail(ErrPickleInvalid, op, at, "memo index %d was never set", idx)
	}
	d.stack = append(d.stack, d.memo[idx])
	return nil
}

// textInt parses an INT or LONG argument as Python's int(s, 0).
func (d *pickleDecoder) textInt(op byte, at int, arg []byte) (pickleValue, error) {
	v, why := pyInt(arg)
	if why == "" {
		return v, nil
	}
	if why == pyIntTooLong {
		return v, d.fail(ErrPickleLimit, op, at, "%s", why)
	}
	return v, d.fail(ErrPickleInvalid, op, at, "%s", why)
}

// line returns the argument of a text opcode: the bytes from pos to the
// next newline (excluded), and the position after the newline.
func (d *pickleDecoder) line(op byte, at, pos int) ([]byte, int, error) {
	i := bytes.IndexByte(d.p[pos:], '\n')
	if i < 0 {
		return nil, 0, d.fail(ErrPickleTruncated, op, at, "argument has no end of line")
	}
	return d.p[pos : pos+i], pos + i + 1, nil
}

// str pushes a string of n bytes at pos, after checking n against what is
// left. It returns the position after the string.
func (d *pickleDecoder) str(op byte, at, pos int, n uint64) (int, error) {
	if n > uint64(len(d.p)-pos) {
		return 0, d.fail(ErrPickleTruncated, op, at, "declares %d bytes, %d left", n, len(d.p)-pos)
	}
	return pos + int(n), d.pushStr(op, at, pos, int(n), false)
}

// pushStr pushes the string of n bytes at off in the payload (or d.text),
// giving it the next string id.
func (d *pickleDecoder) pushStr(op byte, at, off, n int, text bool) error {
	id := len(d.strSample)
	if id >= pickleMaxValues {
		return d.fail(ErrPickleLimit, op, at, "more than %d strings", pickleMaxValues)
	}
	d.strSample = append(d.strSample, 0)
	d.stack = append(d.stack, pickleValue{kind: pkStr, text: text, x: uint64(off) | uint64(id)<<32, y: uint32(n)})
	return nil
}

func (d *pickleDecoder) bytesOf(v pickleValue) []byte {
	off := uint64(uint32(v.x))
	if v.text {
		return d.text[off : off+uint64(v.y)]
	}
	return d.p[off : off+uint64(v.y)]
}

// run executes the pickle and returns the object STOP pops.
func (d *pickleDecoder) run(p []byte) (pickleValue, error) {
	d.p = p
	pos := 0
	// frameEnd is where the current FRAME ends, or len(p) outside frames.
	// As in pickle.py, an opcode may not cross the end of its frame, and a
	// FRAME may begin only outside one (or right at the end of the last).
	frameEnd := len(p)
	for pos < len(p) {
		if pos == frameEnd {
			frameEnd = len(p)
		}
		if len(d.stack) > pickleMaxStack || d.nvals > pickleMaxValues {
			if d.nvals > pickleMaxValues {
				return pickleValue{}, d.fail(ErrPickleLimit, p[pos], pos, "more than %d values held in lists and tuples", pickleMaxValues)
			}
			return pickleValue{}, d.fail(ErrPickleLimit, p[pos], pos, "more than %d values on the stack", pickleMaxStack)
		}
		at := pos
		op := p[pos]
		pos++
		var err error
		switch op {
		case pkBINUNICODE, pkBINBYTES:
			if len(p)-pos < 4 {
				return pickleValue{}, d.short(op, at, 4)
			}
			n := binary.LittleEndian.Uint32(p[pos:])
			pos, err = d.str(op, at, pos+4, uint64(n))
		case pkSHORT_BINUNI, pkSHORT_BINBYTES, pkSHORT_BINSTRING:
			if len(p)-pos < 1 {
				return pickleValue{}, d.short(op, at, 1)
			}
			pos, err = d.str(op, at, pos+1, uint64(p[pos]))
		case pkBINUNICODE8, pkBINBYTES8, pkBYTEARRAY8:
			if len(p)-pos < 8 {
				return pickleValue{}, d.short(op, at, 8)
			}
			n := binary.LittleEndian.Uint64(p[pos:])
			pos, err = d.str(op, at, pos+8, n)
		case pkBINSTRING:
			if len(p)-pos < 4 {
				return pickleValue{}, d.short(op, at, 4)
			}
			n := int32(binary.LittleEndian.Uint32(p[pos:]))
			if n < 0 {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "negative byte count %d", n)
			}
			pos, err = d.str(op, at, pos+4, uint64(n))
		case pkBINFLOAT:
			if len(p)-pos < 8 {
				return pickleValue{}, d.short(op, at, 8)
			}
			d.stack = append(d.stack, pickleValue{kind: pkFloat, x: binary.BigEndian.Uint64(p[pos:])})
			pos += 8
		case pkTUPLE2:
			n := len(d.stack)
			if n-d.fence < 2 {
				return pickleValue{}, d.underflow(op, at)
			}
			off := len(d.arena)
			d.arena = append(d.arena, d.stack[n-2], d.stack[n-1])
			d.nvals += 2
			d.stack = d.stack[:n-1]
			d.stack[n-2] = pickleValue{kind: pkTuple, x: uint64(off), y: 2}
		case pkTUPLE1, pkTUPLE3:
			k := 1
			if op == pkTUPLE3 {
				k = 3
			}
			n := len(d.stack)
			if n-d.fence < k {
				return pickleValue{}, d.underflow(op, at)
			}
			t := d.newTuple(d.stack[n-k:])
			d.stack = append(d.stack[:n-k], t)
		case pkEMPTY_TUPLE:
			d.stack = append(d.stack, pickleValue{kind: pkTuple})
		case pkTUPLE:
			k, err := d.popMark(op, at)
			if err != nil {
				return pickleValue{}, err
			}
			t := d.newTuple(d.stack[k:])
			d.stack = append(d.stack[:k], t)
		case pkBINPUT:
			if len(p)-pos < 1 {
				return pickleValue{}, d.short(op, at, 1)
			}
			i := int(p[pos])
			pos++
			if n := len(d.stack); i == len(d.memo) && i < cap(d.memo) && n > d.fence {
				// The common case, memo slots set in order: the slot is zero.
				d.memo = d.memo[:i+1]
				d.memo[i] = d.stack[n-1]
				d.memoN++
				break
			}
			err = d.memoPut(op, at, uint64(i))
		case pkLONG_BINPUT:
			if len(p)-pos < 4 {
				return pickleValue{}, d.short(op, at, 4)
			}
			i := int(binary.LittleEndian.Uint32(p[pos:]))
			pos += 4
			if n := len(d.stack); i == len(d.memo) && i < cap(d.memo) && n > d.fence {
				d.memo = d.memo[:i+1]
				d.memo[i] = d.stack[n-1]
				d.memoN++
				break
			}
			err = d.memoPut(op, at, uint64(i))
		case pkMEMOIZE:
			err = d.memoPut(op, at, uint64(d.memoN))
		case pkBINGET:
			if len(p)-pos < 1 {
				return pickleValue{}, d.short(op, at, 1)
			}
			err = d.memoGet(op, at, uint64(p[pos]))
			pos++
		case pkLONG_BINGET:
			if len(p)-pos < 4 {
				return pickleValue{}, d.short(op, at, 4)
			}
			err = d.memoGet(op, at, uint64(binary.LittleEndian.Uint32(p[pos:])))
			pos += 4
		case pkPUT, pkGET:
			var arg []byte
			if arg, pos, err = d.line(op, at, pos); err != nil {
				return pickleValue{}, err
			}
			idx, ok := pyIndex(cString(arg))
			if !ok {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "memo index %q is not a non-negative integer", arg)
			}
			if op == pkPUT {
				err = d.memoPut(op, at, idx)
			} else {
				err = d.memoGet(op, at, idx)
			}
		case pkMARK:
			if len(d.marks) >= pickleMaxMarks {
				return pickleValue{}, d.fail(ErrPickleLimit, op, at, "more than %d nested MARKs", pickleMaxMarks)
			}
			d.fence = len(d.stack)
			d.marks = append(d.marks, d.fence)
		case pkEMPTY_LIST:
			d.stack = append(d.stack, d.newList(nil))
		case pkLIST:
			k, err := d.popMark(op, at)
			if err != nil {
				return pickleValue{}, err
			}
			l := d.newList(d.stack[k:])
			d.stack = append(d.stack[:k], l)
		case pkAPPEND:
			n := len(d.stack)
			if n-d.fence < 2 {
				return pickleValue{}, d.underflow(op, at)
			}
			l := d.stack[n-2]
			if l.kind != pkList {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "cannot append to a %s", l.kind)
			}
			d.lists[l.x] = append(d.lists[l.x], d.stack[n-1])
			d.nvals++
			d.stack = d.stack[:n-1]
		case pkAPPENDS:
			k, err := d.popMark(op, at)
			if err != nil {
				return pickleValue{}, err
			}
			if k <= d.fence {
				return pickleValue{}, d.underflow(op, at)
			}
			l := d.stack[k-1]
			if k == len(d.stack) {
				break // no items: CPython does not look at the target
			}
			if l.kind != pkList {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "cannot append to a %s", l.kind)
			}
			d.lists[l.x] = append(d.lists[l.x], d.stack[k:]...)
			d.nvals += len(d.stack) - k
			d.stack = d.stack[:k]
		case pkSTOP:
			if len(d.stack) <= d.fence {
				return pickleValue{}, d.underflow(op, at)
			}
			return d.stack[len(d.stack)-1], nil
		case pkPROTO:
			if len(p)-pos < 1 {
				return pickleValue{}, d.short(op, at, 1)
			}
			if p[pos] > 5 {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "unsupported pickle protocol %d", p[pos])
			}
			pos++
		case pkFRAME:
			if len(p)-pos < 8 {
				return pickleValue{}, d.short(op, at, 8)
			}
			if frameEnd != len(p) {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "a new frame begins before the end of the current frame (offset %d)", frameEnd)
			}
			n := binary.LittleEndian.Uint64(p[pos:])
			pos += 8
			if n > uint64(len(p)-pos) {
				return pickleValue{}, d.fail(ErrPickleTruncated, op, at, "frame of %d bytes, %d left", n, len(p)-pos)
			}
			frameEnd = pos + int(n)
			continue
		case pkBININT:
			if len(p)-pos < 4 {
				return pickleValue{}, d.short(op, at, 4)
			}
			v := int64(int32(binary.LittleEndian.Uint32(p[pos:])))
			d.stack = append(d.stack, pickleValue{kind: pkInt, x: uint64(v)})
			pos += 4
		case pkBININT1:
			if len(p)-pos < 1 {
				return pickleValue{}, d.short(op, at, 1)
			}
			d.stack = append(d.stack, pickleValue{kind: pkInt, x: uint64(p[pos])})
			pos++
		case pkBININT2:
			if len(p)-pos < 2 {
				return pickleValue{}, d.short(op, at, 2)
			}
			d.stack = append(d.stack, pickleValue{kind: pkInt, x: uint64(binary.LittleEndian.Uint16(p[pos:]))})
			pos += 2
		case pkLONG1:
			if len(p)-pos < 1 {
				return pickleValue{}, d.short(op, at, 1)
			}
			n := int(p[pos])
			pos++
			if n > len(p)-pos {
				return pickleValue{}, d.fail(ErrPickleTruncated, op, at, "declares %d bytes, %d left", n, len(p)-pos)
			}
			d.stack = append(d.stack, pickleLong(p[pos:pos+n]))
			pos += n
		case pkLONG4:
			if len(p)-pos < 4 {
				return pickleValue{}, d.short(op, at, 4)
			}
			n := int64(int32(binary.LittleEndian.Uint32(p[pos:])))
			pos += 4
			if n < 0 {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "negative byte count %d", n)
			}
			if n > int64(len(p)-pos) {
				return pickleValue{}, d.fail(ErrPickleTruncated, op, at, "declares %d bytes, %d left", n, len(p)-pos)
			}
			d.stack = append(d.stack, pickleLong(p[pos:pos+int(n)]))
			pos += int(n)
		case pkNONE:
			d.stack = append(d.stack, pickleValue{kind: pkNone})
		case pkNEWTRUE, pkNEWFALSE:
			v := pickleValue{kind: pkBool}
			if op == pkNEWTRUE {
				v.x = 1
			}
			d.stack = append(d.stack, v)
		case pkINT, pkLONG:
			// CPython's _pickle: INT is C strtol(s, 0) (so 010 is octal 8;
			// a 2-byte argument worth 0 or 1, like 00 and 01, is a bool),
			// falling back to int(s, 0); LONG is int(s, 0) after dropping
			// a final L. Either stops at a NUL.
			var arg []byte
			if arg, pos, err = d.line(op, at, pos); err != nil {
				return pickleValue{}, err
			}
			var v pickleValue
			if op == pkLONG && len(arg) > 0 && arg[len(arg)-1] == 'L' {
				v, err = d.textInt(op, at, cString(arg[:len(arg)-1]))
			} else if i, ok := cStrtol(cString(arg)); op == pkINT && ok {
				v = pickleValue{kind: pkInt, x: uint64(i)}
				if len(arg) == 2 && (i == 0 || i == 1) {
					v.kind = pkBool
				}
			} else {
				v, err = d.textInt(op, at, cString(arg))
			}
			if err != nil {
				return pickleValue{}, err
			}
			d.stack = append(d.stack, v)
		case pkFLOAT:
			// CPython's _pickle: PyOS_string_to_double, which takes no
			// whitespace or underscores and refuses an overflow.
			var arg []byte
			if arg, pos, err = d.line(op, at, pos); err != nil {
				return pickleValue{}, err
			}
			f, ok := pyFloat(cString(arg), true)
			if !ok {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "%q is not a float (or overflows)", arg)
			}
			d.stack = append(d.stack, pickleValue{kind: pkFloat, x: math.Float64bits(f)})
		case pkSTRING:
			var arg []byte
			if arg, pos, err = d.line(op, at, pos); err != nil {
				return pickleValue{}, err
			}
			if len(arg) < 2 || arg[0] != arg[len(arg)-1] || (arg[0] != '\'' && arg[0] != '"') {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "the argument must be quoted")
			}
			off := len(d.text)
			var why string
			if d.text, why = pyEscapeDecode(d.text, arg[1:len(arg)-1]); why != "" {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "%s", why)
			}
			err = d.pushStr(op, at, off, len(d.text)-off, true)
		case pkUNICODE:
			var arg []byte
			if arg, pos, err = d.line(op, at, pos); err != nil {
				return pickleValue{}, err
			}
			if pyPlainASCII(arg) {
				err = d.pushStr(op, at, at+1, len(arg), false)
				break
			}
			off := len(d.text)
			var why string
			if d.text, why = pyRawUnicodeEscapeDecode(d.text, arg); why != "" {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "%s", why)
			}
			err = d.pushStr(op, at, off, len(d.text)-off, true)
		case pkPOP:
			n := len(d.stack)
			switch {
			case len(d.marks) > 0 && d.fence == n:
				_, err = d.popMark(op, at)
			case n <= d.fence:
				return pickleValue{}, d.underflow(op, at)
			default:
				d.stack = d.stack[:n-1]
			}
		case pkPOP_MARK:
			k, err := d.popMark(op, at)
			if err != nil {
				return pickleValue{}, err
			}
			d.stack = d.stack[:k]
		case pkDUP:
			n := len(d.stack)
			if n <= d.fence {
				return pickleValue{}, d.underflow(op, at)
			}
			d.stack = append(d.stack, d.stack[n-1])
		case pkEMPTY_DICT:
			d.stack = append(d.stack, pickleValue{kind: pkDict})
		case pkDICT:
			k, err := d.popMark(op, at)
			if err != nil {
				return pickleValue{}, err
			}
			if (len(d.stack)-k)%2 != 0 {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "odd number of items (%d)", len(d.stack)-k)
			}
			d.stack = append(d.stack[:k], pickleValue{kind: pkDict})
		case pkSETITEM:
			n := len(d.stack)
			if n-d.fence < 3 {
				return pickleValue{}, d.underflow(op, at)
			}
			if c := d.stack[n-3]; c.kind != pkDict {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "cannot set an item of a %s", c.kind)
			}
			d.stack = d.stack[:n-2]
		case pkSETITEMS, pkADDITEMS:
			k, err := d.popMark(op, at)
			if err != nil {
				return pickleValue{}, err
			}
			if k <= d.fence {
				return pickleValue{}, d.underflow(op, at)
			}
			want := pkDict
			if op == pkADDITEMS {
				want = pkSet
			} else if (len(d.stack)-k)%2 != 0 {
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "odd number of items (%d)", len(d.stack)-k)
			}
			if c := d.stack[k-1]; c.kind != want && k < len(d.stack) { // no items: CPython does not look
				return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "cannot add items to a %s", c.kind)
			}
			d.stack = d.stack[:k]
		case pkEMPTY_SET:
			d.stack = append(d.stack, pickleValue{kind: pkSet})
		case pkFROZENSET:
			k, err := d.popMark(op, at)
			if err != nil {
				return pickleValue{}, err
			}
			d.stack = append(d.stack[:k], pickleValue{kind: pkFrozenSet})
		default:
			why, refused := pickleRefusedWhy[op]
			if !refused {
				why = "not an opcode of pickle protocols 0-5"
			}
			return pickleValue{}, d.fail(ErrPickleRefused, op, at, "%s", why)
		}
		if err != nil {
			return pickleValue{}, err
		}
		if pos > frameEnd {
			return pickleValue{}, d.fail(ErrPickleInvalid, op, at, "crosses the end of its frame (offset %d)", frameEnd)
		}
	}
	return pickleValue{}, d.fail(ErrPickleTruncated, pkSTOP, len(p), "the payload ends before STOP")
}

// items returns the items of a tuple or list, and false for anything else.
func (d *pickleDecoder) items(v pickleValue) ([]pickleValue, bool) {
	switch v.kind {
	case pkTuple:
		return d.arena[v.x : v.x+uint64(v.y)], true
	case pkList:
		return d.lists[v.x], true
	}
	return nil, false
}

// samples converts the top-level object (a list or tuple of elements).
func (d *pickleDecoder) samples(dst []series.Sample, top pickleValue, reject func(error)) ([]series.Sample, error) {
	elems, ok := d.items(top)
	if !ok {
		return dst, fmt.Errorf("cannot decode pickle: %w: it is a %s", ErrPickleNotList, top.kind)
	}
	dst = slices.Grow(dst, len(elems))
	start := len(dst)
	for i, e := range elems {
		el, ok := d.items(e)
		if !ok || len(el) != 2 {
			if reject != nil {
				reject(d.malformed(i, e))
			}
			continue
		}
		pair, ok := d.items(el[1])
		if el[0].kind != pkStr || !ok || len(pair) != 2 {
			if reject != nil {
				reject(d.malformedPair(i, el[0], el[1]))
			}
			continue
		}
		ts, ok := d.timestamp(pair[0])
		if !ok {
			if reject != nil {
				reject(d.badTimestamp(i, pair[0]))
			}
			continue
		}
		v, ok := d.value(pair[1])
		if !ok {
			if reject != nil {
				reject(d.nonNumeric(i, pair[1]))
			}
			continue
		}
		dst = append(dst, series.Sample{Name: d.name(dst, start, el[0]), Point: series.Point{Timestamp: ts, Value: v}})
	}
	return dst, nil
}

// name returns the string of a pkStr name for the sample about to be
// appended to out (whose samples from this call start at start): the
// string made for an earlier use of the same string (a memo GET), or the
// previous sample's name if equal, or a copy.
func (d *pickleDecoder) name(out []series.Sample, start int, v pickleValue) string {
	id := v.x >> 32
	if i := d.strSample[id]; i > 0 {
		return out[start+int(i)-1].Name
	}
	d.strSample[id] = int32(len(out) - start + 1)
	b := d.bytesOf(v)
	if n := len(out); n > start && out[n-1].Name == string(b) {
		return out[n-1].Name
	}
	return string(b)
}

// strNum parses a string as float() would, once per string id.
func (d *pickleDecoder) strNum(v pickleValue) (float64, bool) {
	if len(d.strNumber) < len(d.strSample) {
		n := len(d.strSample)
		d.strNumber = slices.Grow(d.strNumber[:0], n)[:n]
		clear(d.strNumber)
	}
	c := &d.strNumber[v.x>>32]
	if c.state == 0 {
		c.state = 2
		if f, ok := pyFloat(d.bytesOf(v), false); ok {
			c.f, c.state = f, 1
		}
	}
	return c.f, c.state == 1
}

// number returns the float64 of a number (as float() would) and, for an
// int, also its exact int64. It reports false for a non-number, or an int
// too large for a float64.
func (d *pickleDecoder) number(v pickleValue) (f float64, i int64, isInt, ok bool) {
	switch v.kind {
	case pkFloat:
		return math.Float64frombits(v.x), 0, false, true
	case pkInt, pkBool:
		return float64(int64(v.x)), int64(v.x), true, true
	case pkBig:
		return math.Float64frombits(v.x), 0, false, v.y == 0
	case pkStr:
		f, ok := d.strNum(v)
		return f, 0, false, ok
	}
	return 0, 0, false, false
}

func (d *pickleDecoder) timestamp(v pickleValue) (int64, bool) {
	f, i, isInt, ok := d.number(v)
	if isInt {
		return i, true
	}
	// -2^63 is in range; 2^63 is the first float64 above MaxInt64; floats in
	// between truncate into range. NaN fails both comparisons. A pkBig is
	// outside int64 by construction (even when its float64 rounds into it).
	if !ok || v.kind == pkBig || !(f >= -0x1p63 && f < 0x1p63) {
		return 0, false
	}
	return int64(f), true
}

func (d *pickleDecoder) value(v pickleValue) (float64, bool) {
	f, _, _, ok := d.number(v)
	return f, ok
}

// describe renders a value for a rejection message.
func (d *pickleDecoder) describe(v pickleValue) string {
	switch v.kind {
	case pkStr:
		b := d.bytesOf(v)
		if len(b) > 64 {
			return fmt.Sprintf("str %q...", b[:64])
		}
		return fmt.Sprintf("str %q", b)
	case pkInt:
		return fmt.Sprintf("int %d", int64(v.x))
	case pkBig:
		return fmt.Sprintf("int ~%g", math.Float64frombits(v.x))
	case pkFloat:
		return fmt.Sprintf("float %g", math.Float64frombits(v.x))
	case pkBool:
		return fmt.Sprintf("bool %t", v.x == 1)
	case pkTuple, pkList:
		items, _ := d.items(v)
		return fmt.Sprintf("%d-%s", len(items), v.kind)
	}
	return v.kind.String()
}

func (d *pickleDecoder) malformed(i int, e pickleValue) error {
	return reject(ReasonMalformed, "pickle element %d is a %s, not a (name, (timestamp, value)) pair", i, d.describe(e))
}

func (d *pickleDecoder) malformedPair(i int, name, pair pickleValue) error {
	if name.kind != pkStr {
		return reject(ReasonMalformed, "pickle element %d: metric name is a %s, not a str or bytes", i, d.describe(name))
	}
	return reject(ReasonMalformed, "pickle element %d: datapoint is a %s, not a (timestamp, value) pair", i, d.describe(pair))
}

func (d *pickleDecoder) badTimestamp(i int, ts pickleValue) error {
	return reject(ReasonBadTimestamp, "pickle element %d: timestamp %s is not a finite number in int64 seconds", i, d.describe(ts))
}

func (d *pickleDecoder) nonNumeric(i int, v pickleValue) error {
	if v.kind == pkBig {
		return reject(ReasonNonNumeric, "pickle element %d: value is an int too large for a float64", i)
	}
	return reject(ReasonNonNumeric, "pickle element %d: value %s is not a number", i, d.describe(v))
}

// pickleLong decodes the little-endian two's complement integer of LONG1
// and LONG4 (empty is 0).
func pickleLong(b []byte) pickleValue {
	n := len(b)
	if n == 0 {
		return pickleValue{kind: pkInt}
	}
	neg := b[n-1]&0x80 != 0
	ext := byte(0)
	if neg {
		ext = 0xff
	}
	for n > 1 && b[n-1] == ext && (b[n-2]&0x80 != 0) == neg {
		n-- // a redundant sign byte
	}
	if n <= 8 {
		var u uint64
		for i := n - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(n)
		return pickleValue{kind: pkInt, x: uint64(int64(u<<shift) >> shift)}
	}
	mag := make([]byte, n) // big-endian magnitude
	for i := range n {
		mag[n-1-i] = b[i]
	}
	if neg {
		for i := range mag {
			mag[i] = ^mag[i]
		}
		for i := n - 1; i >= 0; i-- { // +1
			mag[i]++
			if mag[i] != 0 {
				break
			}
		}
	}
	x := new(big.Int).SetBytes(mag)
	if neg {
		x.Neg(x)
	}
	return pickleBig(x)
}

// pickleBig is an int outside int64, as its nearest float64.
func pickleBig(x *big.Int) pickleValue {
	f, _ := new(big.Float).SetInt(x).Float64() // exact, then rounded to nearest even
	v := pickleValue{kind: pkBig, x: math.Float64bits(f)}
	if math.IsInf(f, 0) {
		v.y = 1
	}
	return v
}

// pyIsSpace is Python's bytes whitespace (Py_ISSPACE).
func pyIsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func pyTrimSpace(b []byte) []byte {
	for len(b) > 0 && pyIsSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && pyIsSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// pyDigits appends to clean the digits of s from i that match
// digit ("_"? digit)* in base (as Python's literals allow), and returns the
// index after them and how many digits there were. An underscore not
// between two digits ends the run before it.
func pyDigits(s []byte, i, base int, clean []byte) (int, int, []byte) {
	n := 0
	for i < len(s) {
		c := s[i]
		if c == '_' {
			if n == 0 || i+1 >= len(s) || pyDigitValue(s[i+1]) >= base {
				break
			}
			i++
			continue
		}
		if pyDigitValue(c) >= base {
			break
		}
		clean = append(clean, c)
		n++
		i++
	}
	return i, n, clean
}

func pyDigitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// pyFloat parses b as Python's float() does for ASCII str and bytes:
// optional whitespace, sign, then inf, infinity or nan in any case, or a
// decimal number with optional fraction and exponent, digits optionally
// separated by single underscores. Out-of-range values become ±Inf or ±0,
// as in Python; nan is Python's NaN (0x7ff8000000000000, with the sign).
// strict is C's PyOS_string_to_double instead (the FLOAT opcode): no
// whitespace, no underscores, and an overflow to ±Inf is refused.
func pyFloat(b []byte, strict bool) (float64, bool) {
	s := b
	if !strict {
		s = pyTrimSpace(b)
	}
	var buf [64]byte
	clean := buf[:0]
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		clean = append(clean, s[i])
		i++
	}
	if i < len(s) && (s[i]|0x20 == 'i' || s[i]|0x20 == 'n') {
		neg := len(clean) == 1 && clean[0] == '-'
		switch w := s[i:]; {
		case pyEqualFold(w, "inf"), pyEqualFold(w, "infinity"):
			if neg {
				return math.Inf(-1), true
			}
			return math.Inf(1), true
		case pyEqualFold(w, "nan"):
			bits := uint64(0x7ff8000000000000)
			if neg {
				bits |= 1 << 63
			}
			return math.Float64frombits(bits), true
		}
		return 0, false
	}
	digits := pyDigits
	if strict {
		digits = cDigits
	}
	i, n, clean := digits(s, i, 10, clean)
	if i < len(s) && s[i] == '.' {
		clean = append(clean, '.')
		var m int
		i, m, clean = digits(s, i+1, 10, clean)
		n += m
	}
	if n == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		clean = append(clean, 'e')
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			clean = append(clean, s[i])
			i++
		}
		var m int
		if i, m, clean = digits(s, i, 10, clean); m == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(clean), 64)
	if err != nil && (!errors.Is(err, strconv.ErrRange) || (strict && math.IsInf(f, 0))) {
		return 0, false
	}
	return f, true
}

// cDigits is pyDigits without underscores.
func cDigits(s []byte, i, base int, clean []byte) (int, int, []byte) {
	n := 0
	for ; i < len(s) && pyDigitValue(s[i]) < base; i++ {
		clean = append(clean, s[i])
		n++
	}
	return i, n, clean
}

// cString is b up to its first NUL, as C reads a text argument.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// cStrtol is C's strtol(s, &end, 0) that must use all of s: whitespace,
// sign, then 0x hex, 0 octal or decimal digits, within int64.
func cStrtol(s []byte) (int64, bool) {
	i := 0
	for i < len(s) && pyIsSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(s) && s[i] == '0' && s[i+1]|0x20 == 'x' && pyDigitValue(s[i+2]) < 16:
		base = 16
		i += 2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	start := i
	var u uint64
	for ; i < len(s); i++ {
		dv := uint64(pyDigitValue(s[i]))
		if dv >= base {
			break
		}
		if u > (1<<63)/base { // u*base+dv > 2^63
			return 0, false
		}
		u = u*base + dv
		if u > 1<<63 {
			return 0, false
		}
	}
	if i == start || i != len(s) || (!neg && u > math.MaxInt64) {
		return 0, false
	}
	if neg {
		return int64(-u), true // -2^63 wraps to itself
	}
	return int64(u), true
}

// pyIndex parses a PUT or GET argument as Python's int(s, 10): whitespace,
// sign, decimal digits optionally separated by underscores. A negative index
// is refused; one beyond uint64 saturates (and is then out of range).
func pyIndex(b []byte) (uint64, bool) {
	s := pyTrimSpace(b)
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var buf [24]byte
	i, n, clean := pyDigits(s, i, 10, buf[:0])
	if n == 0 || i != len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(clean), 10, 64)
	if err != nil {
		v = math.MaxUint64
	}
	if neg && v != 0 {
		return 0, false
	}
	return v, true
}

func pyEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

const pyIntTooLong = "integer literal has more than 4300 digits"

// pyInt parses the argument of INT or LONG as Python's int(s, 0):
// whitespace, sign, then 0x/0o/0b digits or a decimal without leading zeros
// (zero itself may be 00...), digits optionally separated by single
// underscores. It returns a pkInt, or a pkBig when outside int64, or why it
// is not an integer.
func pyInt(b []byte) (pickleValue, string) {
	s := pyTrimSpace(b)
	var buf [80]byte
	clean := buf[:0]
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		clean = append(clean, s[i])
		i++
	}
	base := 10
	if i+1 < len(s) && s[i] == '0' {
		switch s[i+1] | 0x20 {
		case 'x':
			base = 16
		case 'o':
			base = 8
		case 'b':
			base = 2
		}
		if base != 10 {
			i += 2
			if i < len(s) && s[i] == '_' { // "0x_1f" is valid
				i++
			}
		}
	}
	start := len(clean)
	i, n, clean := pyDigits(s, i, base, clean)
	if n == 0 || i != len(s) {
		return pickleValue{}, fmt.Sprintf("%q is not an integer", b)
	}
	if base == 10 && clean[start] == '0' {
		for _, c := range clean[start:] {
			if c != '0' {
				return pickleValue{}, fmt.Sprintf("%q is not an integer (leading zeros)", b)
			}
		}
	}
	if n > pickleMaxDigits {
		return pickleValue{}, pyIntTooLong
	}
	v, err := strconv.ParseInt(string(clean), base, 64)
	if err == nil {
		return pickleValue{kind: pkInt, x: uint64(v)}, ""
	}
	x, ok := new(big.Int).SetString(string(clean), base)
	if !ok {
		return pickleValue{}, fmt.Sprintf("%q is not an integer", b)
	}
	return pickleBig(x), ""
}

// pyEscapeDecode appends to dst the bytes of a STRING argument (quotes
// removed) after Python's codecs.escape_decode: \\ \' \" \a \b \f \n \r
// \t \v, \ooo (one to three octal digits), \xhh (exactly two hex digits),
// backslash-newline dropped, any other backslash kept as is.
func pyEscapeDecode(dst, s []byte) ([]byte, string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(s) {
			return dst, `trailing \ in string`
		}
		switch c = s[i]; c {
		case '\n':
		case '\\', '\'', '"':
			dst = append(dst, c)
		case 'a':
			dst = append(dst, '\a')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; k++ {
				i++
				v = v<<3 | int(s[i]-'0')
			}
			dst = append(dst, byte(v))
		case 'x':
			if i+2 >= len(s) {
				return dst, fmt.Sprintf(`invalid \x escape at position %d`, i-1)
			}
			h, l := pyDigitValue(s[i+1]), pyDigitValue(s[i+2])
			if h >= 16 || l >= 16 {
				return dst, fmt.Sprintf(`invalid \x escape at position %d`, i-1)
			}
			dst = append(dst, byte(h<<4|l))
			i += 2
		default:
			dst = append(dst, '\\', c)
		}
	}
	return dst, ""
}

// pyPlainASCII reports whether a UNICODE argument decodes to itself: ASCII
// without backslashes.
func pyPlainASCII(s []byte) bool {
	for _, c := range s {
		if c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

// pyRawUnicodeEscapeDecode appends to dst the UTF-8 of a UNICODE argument
// decoded as Python's raw-unicode-escape: \uXXXX and \UXXXXXXXX are code
// points, any other byte (backslash pairs included) is the Latin-1 code
// point of that byte. A surrogate code point is written in its 3-byte form
// (as Python's "surrogatepass"), which is not valid UTF-8.
func pyRawUnicodeEscapeDecode(dst, s []byte) ([]byte, string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = utf8.AppendRune(dst, rune(c))
			continue
		}
		i++
		c = s[i]
		count := 0
		switch c {
		case 'u':
			count = 4
		case 'U':
			count = 8
		default:
			dst = append(dst, '\\')
			dst = utf8.AppendRune(dst, rune(c))
			continue
		}
		if i+count >= len(s) {
			return dst, fmt.Sprintf(`truncated \%c escape`, c)
		}
		var r uint32
		for k := 1; k <= count; k++ {
			h := pyDigitValue(s[i+k])
			if h >= 16 {
				return dst, fmt.Sprintf(`truncated \%c escape`, c)
			}
			r = r<<4 | uint32(h)
		}
		i += count
		switch {
		case r > utf8.MaxRune:
			return dst, `\Uxxxxxxxx out of range`
		case r >= 0xd800 && r <= 0xdfff:
			dst = append(dst, byte(0xe0|r>>12), byte(0x80|(r>>6)&0x3f), byte(0x80|r&0x3f))
		default:
			dst = utf8.AppendRune(dst, rune(r))
		}
	}
	return dst, ""
}
