// Package horizon is Kale's ingest: listeners for Graphite pickle (TCP),
// MessagePack (UDP), Graphite plaintext (TCP and UDP) and a Kafka topic;
// parsers (pure functions); filters; and the queue and writers that put the
// points into the series store.
//
// Data flow: listener -> parser -> filter -> queue (batches) -> writers ->
// store.Append. TCP never drops: when the queue is full a connection stops
// reading, so the sender (carbon-relay) waits and queues. UDP cannot wait:
// a full queue drops the datagrams' points, counted in
// kale_horizon_points_dropped_total{reason="queue_full"}. Writers merge
// batches up to queue.batch_size points or queue.flush_interval, whichever
// comes first, and retry a failed store write with backoff until it succeeds
// (so a store outage turns into backpressure, not loss).
package horizon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// Server is a running Horizon. Create it with New, bind with Listen, serve
// with Run.
type Server struct {
	cfg     Config
	store   store.Store
	logger  *slog.Logger
	metrics *metrics
	warn    *rateLog
	filter  *filter
	now     func() time.Time

	queue   chan *batch
	pending atomic.Int64 // points in the queue and in writers' buffers

	pickleLn    net.Listener
	plainLn     net.Listener
	msgpackConn net.PacketConn
	plainUDP    net.PacketConn

	connMu sync.Mutex
	conns  map[net.Conn]struct{}

	written atomic.Int64

	handlers sync.WaitGroup // TCP connection handlers

	// giveUp is cancelled drainTimeout after shutdown begins, if Horizon
	// has not drained by then: a store still failing then loses the points
	// Horizon holds (counted as dropped, reason store_unavailable) rather
	// than hanging shutdown forever. Store calls run under it.
	giveUp       context.Context
	cancelGiveUp context.CancelFunc
	drainTimeout time.Duration // drainTimeoutDefault; tests shorten it
}

// drainTimeoutDefault bounds how long shutdown waits for a failing store.
const drainTimeoutDefault = 15 * time.Second

// shutdownGrace is how long connections keep being read after shutdown
// begins, so that what senders already sent (and the kernel acknowledged)
// is taken in rather than cut off.
const shutdownGrace = time.Second

// batch is what a listener hands to the writers: a frame, a read burst.
type batch struct {
	samples []series.Sample
	done    func(error) // optional; called once the samples are stored (or given up on)
}

var batchPool = sync.Pool{New: func() any { return &batch{samples: make([]series.Sample, 0, 512)} }}

func getBatch() *batch { return batchPool.Get().(*batch) }

func putBatch(b *batch) {
	if cap(b.samples) > 1<<16 {
		return // let a huge frame's slice go
	}
	clear(b.samples) // drop name references
	b.samples, b.done = b.samples[:0], nil
	batchPool.Put(b)
}

// New checks cfg and returns a Server writing to st. It does no I/O.
func New(cfg Config, st store.Store, logger *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Queue.Writers == 0 {
		cfg.Queue.Writers = runtime.GOMAXPROCS(0)
	}
	giveUp, cancel := context.WithCancel(context.Background())
	return &Server{
		giveUp:       giveUp,
		cancelGiveUp: cancel,
		drainTimeout: drainTimeoutDefault,
		cfg:          cfg,
		store:        st,
		logger:       logger,
		metrics:      newMetrics(reg),
		warn:         newRateLog(logger, 10*time.Second),
		filter:       newFilter(cfg.Filters),
		now:          time.Now,
		queue:        make(chan *batch, cfg.Queue.Size),
		conns:        make(map[net.Conn]struct{}),
	}, nil
}

// Listen binds every configured listener. An address that cannot be bound
// gives an error naming the listener, the address and what to do.
func (s *Server) Listen() error {
	var err error
	fail := func(what, flag, addr string, err error) error {
		s.closeListeners()
		return fmt.Errorf("cannot listen for %s on %q: %w (is another process, such as Skyline's Horizon, using it? set %s to a free address, or to \"\" to turn this listener off)", what, addr, err, flag)
	}
	if a := s.cfg.Pickle.Addr; a != "" {
		if s.pickleLn, err = net.Listen("tcp", a); err != nil {
			return fail("Graphite pickle (TCP)", "--pickle-addr", a, err)
		}
	}
	if a := s.cfg.Plaintext.Addr; a != "" {
		if s.plainLn, err = net.Listen("tcp", a); err != nil {
			return fail("Graphite plaintext (TCP)", "--plaintext-addr", a, err)
		}
		if s.plainUDP, err = net.ListenPacket("udp", a); err != nil {
			return fail("Graphite plaintext (UDP)", "--plaintext-addr", a, err)
		}
	}
	if a := s.cfg.Msgpack.Addr; a != "" {
		if s.msgpackConn, err = net.ListenPacket("udp", a); err != nil {
			return fail("MessagePack (UDP)", "--msgpack-addr", a, err)
		}
	}
	if len(s.cfg.Kafka.Brokers) > 0 {
		if err := s.checkKafka(); err != nil {
			s.closeListeners()
			return err
		}
	}
	for _, c := range []net.PacketConn{s.msgpackConn, s.plainUDP} {
		if uc, ok := c.(*net.UDPConn); ok {
			// A burst larger than the kernel's default buffer (~200 KB, about
			// 200 datagrams) would be dropped before Kale sees it. The
			// kernel caps this at net.core.rmem_max.
			if err := uc.SetReadBuffer(udpReadBuffer); err != nil {
				s.logger.Warn("cannot enlarge the UDP receive buffer", "addr", uc.LocalAddr().String(), "err", err)
			}
		}
	}
	return nil
}

// PickleAddr returns the bound pickle address, or nil when it is off.
func (s *Server) PickleAddr() net.Addr { return addrOf(s.pickleLn) }

// PlaintextAddr returns the bound plaintext TCP address, or nil when it is
// off. With a fixed port UDP listens on the same port; with port 0 the
// kernel picks each separately (see PlaintextUDPAddr).
func (s *Server) PlaintextAddr() net.Addr { return addrOf(s.plainLn) }

// PlaintextUDPAddr returns the bound plaintext UDP address, or nil.
func (s *Server) PlaintextUDPAddr() net.Addr {
	if s.plainUDP == nil {
		return nil
	}
	return s.plainUDP.LocalAddr()
}

// MsgpackAddr returns the bound MessagePack UDP address, or nil when off.
func (s *Server) MsgpackAddr() net.Addr {
	if s.msgpackConn == nil {
		return nil
	}
	return s.msgpackConn.LocalAddr()
}

func addrOf(l net.Listener) net.Addr {
	if l == nil {
		return nil
	}
	return l.Addr()
}

// Written returns the number of points written to the store so far.
func (s *Server) Written() int64 { return s.written.Load() }

// Pending returns the points received and accepted but not yet written.
func (s *Server) Pending() int64 { return s.pending.Load() }

// Run serves until ctx is done, then stops the listeners, writes what is
// queued and returns. Listen must have been called.
func (s *Server) Run(ctx context.Context) error {
	var listeners, writers sync.WaitGroup
	for range s.cfg.Queue.Writers {
		writers.Go(func() { s.writer() })
	}
	if s.pickleLn != nil {
		listeners.Go(func() { s.serveTCP(ctx, s.pickleLn, listenerPickle, s.handlePickle) })
	}
	if s.plainLn != nil {
		listeners.Go(func() { s.serveTCP(ctx, s.plainLn, listenerPlaintextTCP, s.handlePlaintext) })
		listeners.Go(func() { s.serveUDP(s.plainUDP, listenerPlaintextUDP, s.decodePlaintextDatagram) })
	}
	if s.msgpackConn != nil {
		listeners.Go(func() { s.serveUDP(s.msgpackConn, listenerMsgpack, s.decodeMsgpackDatagram) })
	}
	var kafkaErr error
	if len(s.cfg.Kafka.Brokers) > 0 {
		listeners.Go(func() { kafkaErr = s.runKafka(ctx) })
	}
	s.logger.Info("horizon started", "pickle", s.PickleAddr(), "plaintext", s.PlaintextAddr(),
		"msgpack", s.MsgpackAddr(), "kafka_topic", s.cfg.Kafka.Topic, "writers", s.cfg.Queue.Writers)

	<-ctx.Done()
	// Shutdown: stop accepting; read what connections already carry for a
	// moment; hand everything to the writers; let them write it. If the
	// store cannot take it within drainTimeout, give up (counted).
	deadline := time.AfterFunc(s.drainTimeout, s.cancelGiveUp)
	defer deadline.Stop()
	s.closeListeners()
	s.connMu.Lock()
	for c := range s.conns {
		c.SetReadDeadline(time.Now().Add(shutdownGrace))
	}
	s.connMu.Unlock()
	listeners.Wait()
	s.handlers.Wait() // no handler can submit after this
	close(s.queue)
	writers.Wait()
	s.cancelGiveUp()
	s.logger.Info("horizon stopped", "points_written", s.written.Load())
	return kafkaErr
}

// Close releases the listeners of a Server whose Run is never called.
func (s *Server) Close() { s.closeListeners() }

func (s *Server) closeListeners() {
	// A nil listener interface converts to a nil io.Closer.
	for _, c := range []io.Closer{s.pickleLn, s.plainLn, s.plainUDP, s.msgpackConn} {
		if c != nil {
			c.Close()
		}
	}
}

// accept filters b's samples in place and counts what it refused.
func (s *Server) accept(listener string, b *batch, now int64) {
	kept := b.samples[:0]
	for i := range b.samples {
		if r := s.filter.check(&b.samples[i], now); r != "" {
			s.countReject(listener, r, b.samples[i].Name)
			continue
		}
		kept = append(kept, b.samples[i])
	}
	clear(b.samples[len(kept):])
	b.samples = kept
}

func (s *Server) countReject(listener string, r Reason, detail string) {
	s.metrics.rejected.WithLabelValues(listener, string(r)).Inc()
	if r == ReasonSkipped || r == ReasonTooOld {
		return // expected, and counted: not worth a log line
	}
	if len(detail) > 200 {
		detail = detail[:200] + "..."
	}
	s.warn.Warn(listener+string(r), "rejected point", "listener", listener, "reason", string(r), "detail", detail)
}

// rejectFunc returns the callback parsers call for each refused element.
func (s *Server) rejectFunc(listener string) func(error) {
	return func(err error) {
		var re *RejectError
		if errors.As(err, &re) {
			s.countReject(listener, re.Reason, re.Msg)
			return
		}
		s.countReject(listener, ReasonMalformed, err.Error())
	}
}

// submit hands b to the writers, waiting while the queue is full: that
// wait is TCP's backpressure. It returns false only when Horizon has given
// up on a failing store at shutdown; b's points are then counted as
// dropped (store_unavailable) and b is recycled.
func (s *Server) submit(listener string, b *batch) bool {
	if len(b.samples) == 0 && b.done == nil {
		putBatch(b)
		return true
	}
	n := int64(len(b.samples))
	s.pending.Add(n)
	s.metrics.queued.Add(float64(n))
	select {
	case s.queue <- b:
		return true
	case <-s.giveUp.Done():
		s.pending.Add(-n)
		s.metrics.queued.Sub(float64(n))
		s.metrics.dropped.WithLabelValues(listener, string(ReasonStoreUnavailable)).Add(float64(n))
		if b.done != nil {
			b.done(s.giveUp.Err())
		}
		putBatch(b)
		return false
	}
}

// trySubmit hands b to the writers if the queue has room, else drops it and
// counts its points.
func (s *Server) trySubmit(listener string, b *batch) {
	if len(b.samples) == 0 {
		putBatch(b)
		return
	}
	n := int64(len(b.samples))
	s.pending.Add(n)
	s.metrics.queued.Add(float64(n))
	select {
	case s.queue <- b:
	default:
		s.pending.Add(-n)
		s.metrics.queued.Sub(float64(n))
		s.metrics.dropped.WithLabelValues(listener, string(ReasonQueueFull)).Add(float64(n))
		s.warn.Warn(listener+"queue_full", "queue full, dropping UDP points", "listener", listener, "points", n)
		putBatch(b)
	}
}

// writer merges queued batches and writes them, until the queue is closed
// and empty.
func (s *Server) writer() {
	buf := make([]series.Sample, 0, s.cfg.Queue.BatchSize)
	var dones []func(error)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	flush := func() {
		if armed {
			timer.Stop()
			armed = false
		}
		if len(buf) == 0 && len(dones) == 0 {
			return
		}
		err := s.write(buf)
		for _, d := range dones {
			d(err)
		}
		clear(buf)
		buf, dones = buf[:0], dones[:0]
	}
	for {
		select {
		case b, ok := <-s.queue:
			if !ok {
				flush()
				return
			}
			buf = append(buf, b.samples...)
			if b.done != nil {
				dones = append(dones, b.done)
			}
			putBatch(b)
			if len(buf) >= s.cfg.Queue.BatchSize || len(dones) > 0 {
				flush()
			} else if !armed {
				timer.Reset(s.cfg.Queue.FlushInterval)
				armed = true
			}
		case <-timer.C:
			armed = false
			flush()
		}
	}
}

// write stores samples, retrying with backoff until the store accepts them.
// It gives up only when the store is closed, or at shutdown after
// drainTimeout; the points are then counted as dropped (store_unavailable).
func (s *Server) write(samples []series.Sample) error {
	backoff := 50 * time.Millisecond
	for {
		if err := s.giveUp.Err(); err != nil {
			s.lose(samples, err)
			return err
		}
		start := time.Now()
		err := s.store.Append(s.giveUp, samples)
		s.metrics.storeWrite.Observe(time.Since(start).Seconds())
		if err == nil {
			n := int64(len(samples))
			s.written.Add(n)
			s.pending.Add(-n)
			s.metrics.written.Add(float64(n))
			s.metrics.queued.Sub(float64(n))
			return nil
		}
		s.metrics.storeErrors.Inc()
		if errors.Is(err, store.ErrClosed) {
			s.lose(samples, err)
			return err
		}
		s.warn.Warn("store_error", "cannot write to the store; retrying (senders wait meanwhile)",
			"err", err, "points", len(samples), "retry_in", backoff)
		select {
		case <-time.After(backoff):
		case <-s.giveUp.Done():
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// lose accounts for samples Horizon held but could not store.
func (s *Server) lose(samples []series.Sample, err error) {
	n := len(samples)
	s.logger.Error("cannot write points at shutdown: the store does not take them; they are lost",
		"points", n, "err", err)
	s.pending.Add(-int64(n))
	s.metrics.queued.Sub(float64(n))
	s.metrics.dropped.WithLabelValues(listenerWriter, string(ReasonStoreUnavailable)).Add(float64(n))
}
