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
// replayed point rewrites the same timestamp, which is harmless).
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
	fetchErr := make(chan error, 1)
	go func() {
		defer close(msgs)
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				if ctx.Err() == nil {
					fetchErr <- err
				}
				return
			}
			msgs <- m
		}
	}()

	received := s.metrics.received.WithLabelValues(listenerKafka)
	onReject := s.rejectFunc(listenerKafka)
	var pending []kafka.Message
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	store := func() error {
		if len(pending) == 0 {
			return nil
		}
		b := getBatch()
		n := 0
		now := s.now().Unix()
		for _, m := range pending {
			n += s.decodeKafka(m.Value, b, now, onReject)
		}
		received.Add(float64(n))
		s.accept(listenerKafka, b, now)
		done := make(chan error, 1)
		b.done = func(err error) { done <- err }
		if !s.submit(ctx, b) {
			return nil // shutting down: uncommitted messages are read again next time
		}
		if err := <-done; err != nil {
			return nil // the store is gone (shutdown): do not commit
		}
		if err := r.CommitMessages(context.WithoutCancel(ctx), pending...); err != nil {
			s.warn.Warn("kafka_commit", "cannot commit kafka offsets; the messages will be read again", "err", err)
		}
		pending = pending[:0]
		return nil
	}
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				store()
				select {
				case err := <-fetchErr:
					return fmt.Errorf("cannot read kafka topic %q from %v: %w", s.cfg.Kafka.Topic, s.cfg.Kafka.Brokers, err)
				default:
					return nil
				}
			}
			if len(pending) == 0 {
				timer.Reset(s.cfg.Queue.FlushInterval)
			}
			pending = append(pending, m)
			if len(pending) >= kafkaBatch {
				store()
			}
		case <-timer.C:
			store()
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
