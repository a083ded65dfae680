package testserver

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/mail"
	"net/smtp"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sendRaw delivers msg with net/smtp to s, upgrading with STARTTLS when
// starttls is set and authenticating when user is set.
func sendRaw(t *testing.T, s *SMTP, starttls bool, user, pass string, msg []byte) error {
	t.Helper()
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatalf("cannot dial the SMTP server: %v", err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if starttls {
		pool := x509.NewCertPool()
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(pem)
		if err := c.StartTLS(&tls.Config{ServerName: s.Host, RootCAs: pool}); err != nil {
			return err
		}
	}
	if user != "" {
		if err := c.Auth(smtp.PlainAuth("", user, pass, s.Host)); err != nil {
			return err
		}
	}
	if err := c.Mail("from@example.com"); err != nil {
		return err
	}
	if err := c.Rcpt("to@example.com"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

const rawMsg = "From: from@example.com\r\nTo: to@example.com\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n"

func TestSMTPStoresMessages(t *testing.T) {
	s := StartSMTP(t)
	if n := s.Count(t); n != 0 {
		t.Fatalf("Count before any mail = %d", n)
	}
	for range 2 {
		if err := sendRaw(t, s, false, "", "", []byte(rawMsg)); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	got := s.WaitMessages(t, 2)
	if len(got) != 2 {
		t.Fatalf("got %d messages, want 2", len(got))
	}
	want := ReceivedMail{MailFrom: "from@example.com", RcptTo: []string{"to@example.com"}, HELO: "client.test", Data: []byte(rawMsg)}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("first message (-want +got):\n%s", diff)
	}
	msgs := s.Messages(t)
	if len(msgs) != 2 || !bytes.Equal(msgs[1], []byte(rawMsg)) {
		t.Errorf("Messages = %q", msgs)
	}
	m, err := mail.ReadMessage(bytes.NewReader(msgs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Subject") != "hi" {
		t.Errorf("Subject = %q", m.Header.Get("Subject"))
	}
}

func TestSMTPStartTLSAndAuth(t *testing.T) {
	s := StartSMTPWith(t, SMTPOptions{TLS: SMTPRequireStartTLS, Username: "u", Password: "p"})
	if err := sendRaw(t, s, false, "", "", []byte(rawMsg)); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("send without STARTTLS: err = %v, want a refusal naming STARTTLS", err)
	}
	if err := sendRaw(t, s, true, "u", "wrong", []byte(rawMsg)); err == nil || !strings.HasPrefix(err.Error(), "535") {
		t.Errorf("send with a wrong password: err = %v, want 535", err)
	}
	if err := sendRaw(t, s, true, "u", "p", []byte(rawMsg)); err != nil {
		t.Fatalf("send with STARTTLS and AUTH: %v", err)
	}
	got := s.WaitMessages(t, 1)
	if len(got) != 1 || !got[0].TLS || got[0].AuthUser != "u" {
		t.Errorf("stored %+v, want one message with TLS and AuthUser u", got)
	}
}
