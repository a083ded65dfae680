package testserver

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Python that sees Debian's packages, and the package holding aiosmtpd.
const (
	smtpPython = "/usr/bin/python3"
	smtpPkg    = "python3-aiosmtpd"
)

// Waits of the SMTP sink.
const (
	smtpReadyTimeout = 15 * time.Second // python start and aiosmtpd import: about 0.3 s
	smtpWaitTimeout  = 5 * time.Second  // Messages: for a first message
)

// SMTPTLS selects the TLS behaviour of the SMTP sink.
type SMTPTLS int

// TLS modes of the SMTP sink. Every TLS mode uses a fresh self-signed
// certificate for 127.0.0.1 and localhost, whose PEM is in SMTP.CAFile.
const (
	SMTPNoTLS           SMTPTLS = iota // plain SMTP, no STARTTLS offered
	SMTPStartTLS                       // STARTTLS offered, not required
	SMTPRequireStartTLS                // STARTTLS required before any mail command
	SMTPImplicitTLS                    // TLS from the first byte (SMTPS)
)

// SMTPOptions configure StartSMTPWith. The zero value is a plain SMTP
// server without AUTH that accepts every message.
type SMTPOptions struct {
	TLS SMTPTLS
	// Username and Password, when Username is set, make AUTH (PLAIN and
	// LOGIN) required before MAIL; other credentials get 535.
	Username, Password string
	// ExcludeAuth are AUTH mechanisms not to offer (e.g. "PLAIN").
	ExcludeAuth []string
	// AuthWithoutTLS offers AUTH on an unencrypted connection (aiosmtpd
	// offers it only after STARTTLS by default).
	AuthWithoutTLS bool
}

// SMTP is a real SMTP server (Debian python3-aiosmtpd, run by
// /usr/bin/python3) started by StartSMTP. It stores every message it
// accepts, with its envelope, before answering 250 to the DATA, so a
// message a client saw accepted is already stored.
type SMTP struct {
	Host   string // "127.0.0.1"
	Port   int
	CAFile string // PEM file of the server's self-signed certificate; "" without TLS

	dir  string
	proc *exec.Cmd
	out  *SyncBuffer
}

// ReceivedMail is one message the SMTP sink accepted.
type ReceivedMail struct {
	MailFrom string   // envelope sender (MAIL FROM)
	RcptTo   []string // envelope recipients (RCPT TO)
	TLS      bool     // the session was encrypted (STARTTLS or implicit TLS)
	AuthUser string   // the AUTH login, "" without AUTH
	HELO     string   // the name the client gave in EHLO/HELO
	Data     []byte   // the raw RFC 5322 message as received (dot-unstuffed)
}

// StartSMTP starts a plain SMTP server without AUTH on a free loopback
// port; see StartSMTPWith.
func StartSMTP(t testing.TB) *SMTP {
	t.Helper()
	return StartSMTPWith(t, SMTPOptions{})
}

// StartSMTPWith starts aiosmtpd with the options on 127.0.0.1 port 0 (the
// port it got is read back from its first output line), waits until it
// listens, and kills it in t.Cleanup. Without python3-aiosmtpd it skips
// (or fails when KALE_REQUIRE_SERVERS=1) with the apt-get command that
// installs it.
func StartSMTPWith(t testing.TB, o SMTPOptions) *SMTP {
	t.Helper()
	py := LookPath(t, smtpPython, "python3 "+smtpPkg)
	if out, err := exec.Command(py, "-c", "import aiosmtpd.smtp").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s cannot import aiosmtpd: install with: apt-get install -y %s (%v: %s)",
			py, smtpPkg, err, strings.TrimSpace(string(out)))
		if RequireServers() {
			t.Fatalf("%s (%s=1 makes this a failure)", msg, RequireEnv)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	mailDir := filepath.Join(dir, "mail")
	if err := os.Mkdir(mailDir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "smtp_sink.py")
	if err := os.WriteFile(script, []byte(smtpSinkPy), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &SMTP{Host: "127.0.0.1", dir: mailDir, out: &SyncBuffer{}}
	cfg := map[string]any{
		"dir":              mailDir,
		"tls":              [...]string{"none", "starttls", "require_starttls", "implicit"}[o.TLS],
		"user":             o.Username,
		"password":         o.Password,
		"exclude_auth":     append([]string{}, o.ExcludeAuth...),
		"auth_without_tls": o.AuthWithoutTLS,
	}
	if o.TLS != SMTPNoTLS {
		certFile, keyFile, err := selfSignedCert(dir)
		if err != nil {
			t.Fatalf("cannot make a certificate for the SMTP server: %v", err)
		}
		s.CAFile = certFile
		cfg["cert"], cfg["key"] = certFile, keyFile
	}
	arg, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(py, script, string(arg))
	cmd.Stderr = s.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start the SMTP server: %v", err)
	}
	s.proc = cmd
	exited := make(chan struct{})
	portc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		portc <- strings.TrimSpace(line)
		_ = cmd.Wait() // after the pipe is read: Wait closes it
		close(exited)
	}()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
	}
	t.Cleanup(stop)

	select {
	case line := <-portc:
		p, err := strconv.Atoi(line)
		if err != nil || p <= 0 || p > 65535 {
			stop()
			t.Fatalf("SMTP server did not report its port (got %q): %s", line, s.out.String())
		}
		s.Port = p
	case <-time.After(smtpReadyTimeout):
		stop()
		t.Fatalf("SMTP server did not start within %v: %s", smtpReadyTimeout, s.out.String())
	}
	return s
}

// Addr returns the server's "127.0.0.1:port".
func (s *SMTP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Log returns what the server wrote to stderr so far (aiosmtpd's warnings
// and Python errors), for test failure messages.
func (s *SMTP) Log() string { return s.out.String() }

// Count returns the number of messages stored so far, without waiting.
func (s *SMTP) Count(t testing.TB) int {
	t.Helper()
	return len(s.read(t))
}

// Messages returns the raw RFC 5322 messages received so far, oldest
// first, after waiting up to 5 s for a first one (delivery is synchronous,
// so this wait only matters for senders that deliver in the background).
// To check that nothing arrived, use Count.
func (s *SMTP) Messages(t testing.TB) [][]byte {
	t.Helper()
	rs := s.WaitMessages(t, 1)
	out := make([][]byte, len(rs))
	for i, r := range rs {
		out[i] = r.Data
	}
	return out
}

// WaitMessages waits up to 5 s until at least n messages are stored and
// returns all of them with their envelopes, oldest first. It fails the test
// when fewer arrive.
func (s *SMTP) WaitMessages(t testing.TB, n int) []ReceivedMail {
	t.Helper()
	deadline := time.Now().Add(smtpWaitTimeout)
	for {
		rs := s.read(t)
		if len(rs) >= n {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("SMTP server at %s stored %d messages, want at least %d, within %v; server log: %s",
				s.Addr(), len(rs), n, smtpWaitTimeout, s.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// read loads every stored message.
func (s *SMTP) read(t testing.TB) []ReceivedMail {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(s.dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	out := make([]ReceivedMail, 0, len(names))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("cannot read stored message: %v", err)
		}
		meta, err := os.ReadFile(strings.TrimSuffix(name, ".eml") + ".json")
		if err != nil {
			t.Fatalf("cannot read stored envelope: %v", err)
		}
		var env struct {
			MailFrom string   `json:"mail_from"`
			RcptTos  []string `json:"rcpt_tos"`
			TLS      bool     `json:"tls"`
			Auth     string   `json:"auth"`
			HELO     string   `json:"helo"`
		}
		if err := json.Unmarshal(meta, &env); err != nil {
			t.Fatalf("cannot decode stored envelope %s: %v", meta, err)
		}
		out = append(out, ReceivedMail{MailFrom: env.MailFrom, RcptTo: env.RcptTos, TLS: env.TLS,
			AuthUser: env.Auth, HELO: env.HELO, Data: data})
	}
	return out
}

// selfSignedCert writes a fresh ECDSA P-256 self-signed certificate for
// 127.0.0.1, ::1 and localhost, valid for a day, and its key, as PEM files
// in dir.
func selfSignedCert(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kale test SMTP"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "smtp-cert.pem"), filepath.Join(dir, "smtp-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// smtpSinkPy runs aiosmtpd on 127.0.0.1 port 0 with the JSON config of its
// argument, prints the port it got, and stores each accepted message as
// NNNNNN.eml (raw) and NNNNNN.json (envelope), renamed into place before
// the 250 reply.
const smtpSinkPy = `import asyncio, json, os, ssl, sys
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

cfg = json.loads(sys.argv[1])
tls = cfg["tls"]

ctx = None
if tls != "none":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg["cert"], cfg["key"])

class Handler:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        base = os.path.join(cfg["dir"], "%06d" % Handler.n)
        auth = session.auth_data
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "auth": auth.login.decode() if isinstance(auth, LoginPassword) else "",
            "helo": session.host_name or "",
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".json.tmp", base + ".json")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 OK stored"

def authenticator(server, session, envelope, mechanism, data):
    ok = (isinstance(data, LoginPassword) and data.login == cfg["user"].encode()
          and data.password == cfg["password"].encode())
    if ok:
        return AuthResult(success=True, auth_data=data)
    return AuthResult(success=False, handled=False)

loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
handler = Handler()

def factory():
    kw = {}
    if cfg["user"]:
        kw = dict(authenticator=authenticator, auth_required=True,
                  auth_require_tls=not (cfg["auth_without_tls"] or tls == "implicit"),
                  auth_exclude_mechanism=cfg["exclude_auth"])
    return SMTP(handler, hostname="kale-test-smtp", loop=loop,
                tls_context=ctx if tls in ("starttls", "require_starttls") else None,
                require_starttls=(tls == "require_starttls"), **kw)

server = loop.run_until_complete(loop.create_server(
    factory, host="127.0.0.1", port=0, ssl=ctx if tls == "implicit" else None))
print(server.sockets[0].getsockname()[1], flush=True)
loop.run_forever()
`
