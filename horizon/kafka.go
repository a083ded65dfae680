package horizon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// kafkaBatch is the most messages gathered before they are stored and their
// offsets committed.
const kafkaBatch = 1000

// runKafka consumes the configured topic as a member of the consumer group
// until ctx is done. Each message holds Graphite plaintext lines or one
// MessagePack [name, [ts, value]] (horizon.kafka.format). Offsets are
// committed only after the message's points have been written to the store,
// so a crash replays messages rather than losing them (at-least-once; a
// replayed point rewrites the same timestamp, which is harmless). A broker
// outage is logged and retried for as long as Kale runs.
func (s *Server) runKafka(ctx context.Context) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        s.cfg.Kafka.Brokers,
		GroupID:        s.cfg.Kafka.Group,
		Topic:          s.cfg.Kafka.Topic,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        s.cfg.Queue.FlushInterval,
		CommitInterval: 0, // synchronous commits, after the store write
		ErrorLogger:    kafka.LoggerFunc(func(msg string, args ...any) { s.warn.Warn("kafka", "kafka reader", "msg", fmt.Sprintf(msg, args...)) }),
	})
	defer r.Close()

	msgs := make(chan kafka.Message, kafkaBatch)
	go func() {
		defer close(msgs)
		backoff := 100 * time.Millisecond
		for {
			m, err := r.FetchMessage(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				// kafka-go gives up on a group after a few failed joins;
				// it recovers once the broker is back, so keep asking.
				s.warn.Warn("kafka_fetch", "cannot read from kafka; retrying", "topic", s.cfg.Kafka.Topic,
					"brokers", s.cfg.Kafka.Brokers, "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return
				}
				backoff = min(backoff*2, 5*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	received := s.metrics.received.WithLabelValues(listenerKafka)
	onReject := s.rejectFunc(listenerKafka)
	var pending []kafka.Message // decoded into b, not yet committed
	b := getBatch()
	defer func() { putBatch(b) }()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// store writes b and commits pending; false once Horizon has given up
	// on the store at shutdown (then nothing is committed, and the messages
	// are read again on the next start).
	store := func() bool {
		timer.Stop()
		if len(pending) == 0 {
			return true
		}
		s.accept(listenerKafka, b, s.now().Unix())
		done := make(chan error, 1)
		b.done = func(err error) { done <- err }
		ok := s.submit(listenerKafka, b)
		b = getBatch()
		if !ok {
			return false
		}
		if err := <-done; err != nil {
			return false
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := r.CommitMessages(cctx, pending...); err != nil {
			s.warn.Warn("kafka_commit", "cannot commit kafka offsets; the messages will be read again", "err", err)
		}
		cancel()
		pending = pending[:0]
		return true
	}
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				store()
				return nil
			}
			if len(pending) == 0 {
				timer.Reset(s.cfg.Queue.FlushInterval)
			}
			received.Add(float64(s.decodeKafka(m.Value, b, s.now().Unix(), onReject)))
			pending = append(pending, m)
			if len(pending) >= kafkaBatch && !store() {
				return nil
			}
		case <-timer.C:
			if !store() {
				return nil
			}
		}
	}
}

// checkKafka reports an error naming the brokers when none of them answers,
// so that a wrong --kafka fails at startup rather than in a retry loop.
func (s *Server) checkKafka() error {
	var errs []error
	for _, b := range s.cfg.Kafka.Brokers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := kafka.DialContext(ctx, "tcp", b)
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("cannot reach any Kafka broker of %v: %w (start the broker, or fix --kafka / horizon.kafka.brokers)",
		s.cfg.Kafka.Brokers, errors.Join(errs...))
}

// decodeKafka appends the points of one message to b and returns how many
// elements it held.
func (s *Server) decodeKafka(v []byte, b *batch, now int64, onReject func(error)) int {
	format := s.cfg.Kafka.Format
	if format == "auto" {
		format = "plaintext"
		if len(v) > 0 && (v[0]&0xf0 == 0x90 || v[0] == 0xdc || v[0] == 0xdd) {
			format = "msgpack"
		}
	}
	if format == "msgpack" {
		sample, err := DecodeMsgpack(v)
		if err != nil {
			onReject(err)
			return 1
		}
		b.samples = append(b.samples, sample)
		return 1
	}
	return appendPlaintextLines(b, v, now, onReject)
}
