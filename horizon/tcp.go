package horizon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// serveTCP accepts connections on ln and serves each in its own goroutine
// with handle, until ln is closed.
func (s *Server) serveTCP(ctx context.Context, ln net.Listener, listener string, handle func(net.Conn, string) error) {
	gauge := s.metrics.connections.WithLabelValues(listener)
	s.metrics.received.WithLabelValues(listener) // exported as 0 before the first connection
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			// e.g. EMFILE: wait and go on, as net/http does.
			s.warn.Warn(listener+"accept", "cannot accept connection; retrying", "listener", listener, "err", err)
			time.Sleep(backoff)
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.connMu.Lock()
		if ctx.Err() != nil {
			s.connMu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.handlers.Add(1)
		s.connMu.Unlock()
		gauge.Inc()
		go func() {
			defer s.handlers.Done()
			defer func() {
				c.Close()
				s.connMu.Lock()
				delete(s.conns, c)
				s.connMu.Unlock()
				gauge.Dec()
			}()
			err := handle(c, listener)
			var fe *frameError
			switch {
			case errors.As(err, &fe):
				s.metrics.badFrames.WithLabelValues(listener).Inc()
				s.warn.Warn(listener+"frame", "bad frame: closing the connection", "listener", listener,
					"remote", c.RemoteAddr().String(), "err", err)
			case err != nil && ctx.Err() == nil:
				s.warn.Warn(listener+"conn", "connection failed", "listener", listener,
					"remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// frameError is a frame that could not be taken: counted in
// kale_horizon_bad_frames_total, unlike a connection that merely failed.
type frameError struct{ err error }

func (e *frameError) Error() string { return e.err.Error() }
func (e *frameError) Unwrap() error { return e.err }

func badFrame(format string, args ...any) error {
	return &frameError{fmt.Errorf(format, args...)}
}

// handlePickle reads length-prefixed pickle frames until EOF. A frame that
// cannot be decoded, declares more than max_frame_bytes, or is cut short by
// the sender ends the connection with a *frameError; the points of earlier
// frames are kept.
func (s *Server) handlePickle(c net.Conn, listener string) error {
	r := bufio.NewReaderSize(c, 64<<10)
	received := s.metrics.received.WithLabelValues(listener)
	onReject := s.rejectFunc(listener)
	var rejected int
	countingReject := func(err error) { rejected++; onReject(err) }
	var hdr [4]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return badFrame("connection closed inside a frame header")
			}
			return err
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if uint64(n) > uint64(s.cfg.Pickle.MaxFrameBytes) {
			return badFrame("frame of %d bytes exceeds horizon.pickle.max_frame_bytes (%d)", n, s.cfg.Pickle.MaxFrameBytes)
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return badFrame("connection closed inside a frame (%d bytes declared)", n)
			}
			return err
		}
		b := getBatch()
		rejected = 0
		var err error
		b.samples, err = DecodePickle(b.samples, payload, countingReject)
		if err != nil {
			putBatch(b)
			return &frameError{err}
		}
		received.Add(float64(len(b.samples) + rejected))
		s.accept(listener, b, s.now().Unix())
		if !s.submit(listener, b) {
			return nil
		}
		if cap(payload) > 1<<20 {
			payload = nil // do not keep a huge buffer for a connection's life
		}
	}
}

// handlePlaintext reads "name value timestamp\n" lines until EOF. Bad lines
// are counted and skipped; blank lines are skipped; a line longer than
// max_line_length is skipped whole. An unterminated last line is parsed only
// at a clean EOF: a connection that fails mid-line leaves a fragment
// ("... 1700" of "... 1700000000") that must not become a point.
func (s *Server) handlePlaintext(c net.Conn, listener string) error {
	// +2: the limit is on the line, without its "\r\n".
	r := bufio.NewReaderSize(c, s.cfg.Plaintext.MaxLineLength+2)
	received := s.metrics.received.WithLabelValues(listener)
	onReject := s.rejectFunc(listener)
	b := getBatch()
	var n int // lines in b, good or bad
	skipping := false
	flush := func() bool {
		received.Add(float64(n))
		s.accept(listener, b, s.now().Unix())
		ok := s.submit(listener, b)
		b, n = getBatch(), 0
		return ok
	}
	defer func() { putBatch(b) }()
	for {
		line, err := r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !skipping {
				n++
				onReject(reject(ReasonMalformed, "line longer than horizon.plaintext.max_line_length"))
			}
			skipping = true
			continue
		case skipping:
			skipping = err != nil // the tail of a long line: drop it
		case len(line) > 0 && line[len(line)-1] != '\n' && !errors.Is(err, io.EOF):
			// a fragment cut off by a failed connection: not a line
		case len(bytes.TrimSpace(line)) > 0:
			n++
			if sample, perr := ParsePlaintext(trimNewline(line), s.now().Unix()); perr != nil {
				onReject(perr)
			} else {
				b.samples = append(b.samples, sample)
			}
		}
		if err != nil {
			if n > 0 {
				flush()
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		// Hand over what we have before blocking on the socket again, so a
		// slow sender's points never wait in a connection.
		if n >= 512 || r.Buffered() == 0 {
			if !flush() {
				return nil
			}
		}
	}
}

func trimNewline(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	return line
}
