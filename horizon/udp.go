package horizon

import (
	"bytes"
	"errors"
	"net"
	"os"
	"time"
)

// maxDatagram is the largest UDP payload (64 KiB). Skyline read only 1024
// bytes, so larger datagrams failed to decode there.
const maxDatagram = 64 << 10

// udpReadBuffer is the receive buffer asked for on UDP sockets.
const udpReadBuffer = 8 << 20

// udpBatch is how many datagrams' points a UDP reader gathers before it
// hands them over; it also hands over after queue.flush_interval.
const udpBatch = 512

// serveUDP reads datagrams from conn until it is closed. It is the only
// reader of conn: the read deadline that flushes a partial batch belongs to
// the socket, so a second reader would clear the first one's deadline.
// One goroutine decodes millions of datagrams a second. decode appends the
// points of one datagram to b and returns how many elements it held, good
// or bad (bad ones reported through onReject).
func (s *Server) serveUDP(conn net.PacketConn, listener string,
	decode func(d []byte, b *batch, onReject func(error)) int) {
	received := s.metrics.received.WithLabelValues(listener)
	onReject := s.rejectFunc(listener)
	buf := make([]byte, maxDatagram)
	b := getBatch()
	var n int
	var deadline time.Time
	flush := func() {
		received.Add(float64(n))
		s.accept(listener, b, s.now().Unix())
		s.trySubmit(listener, b)
		b, n = getBatch(), 0
		deadline = time.Time{}
		conn.SetReadDeadline(deadline)
	}
	for {
		m, _, err := conn.ReadFrom(buf)
		if m > 0 {
			n += decode(buf[:m], b, onReject)
			if len(b.samples) >= udpBatch {
				flush()
			} else if deadline.IsZero() {
				deadline = time.Now().Add(s.cfg.Queue.FlushInterval)
				conn.SetReadDeadline(deadline)
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				flush()
				continue
			}
			if n > 0 {
				flush()
			}
			putBatch(b)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A read error on UDP (e.g. ICMP-induced) is not fatal.
			s.warn.Warn(listener+"read", "cannot read datagram", "listener", listener, "err", err)
			b = getBatch()
		}
	}
}

func (s *Server) decodeMsgpackDatagram(d []byte, b *batch, onReject func(error)) int {
	sample, err := DecodeMsgpack(d)
	if err != nil {
		s.metrics.badFrames.WithLabelValues(listenerMsgpack).Inc()
		onReject(err)
		return 1
	}
	b.samples = append(b.samples, sample)
	return 1
}

// decodePlaintextDatagram parses one or more newline-separated lines.
func (s *Server) decodePlaintextDatagram(d []byte, b *batch, onReject func(error)) int {
	return appendPlaintextLines(b, d, s.now().Unix(), onReject)
}

// appendPlaintextLines parses the newline-separated lines of d into b,
// skipping blank lines, and returns how many lines it parsed, good or bad.
func appendPlaintextLines(b *batch, d []byte, now int64, onReject func(error)) int {
	n := 0
	for len(d) > 0 {
		var line []byte
		if i := bytes.IndexByte(d, '\n'); i >= 0 {
			line, d = d[:i], d[i+1:]
		} else {
			line, d = d, nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		sample, err := ParsePlaintext(line, now)
		if err != nil {
			onReject(err)
			continue
		}
		b.samples = append(b.samples, sample)
	}
	return n
}
