package testserver

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CarbonRelay is a running Debian carbon-relay (graphite-carbon).
type CarbonRelay struct {
	LineAddr string // plaintext line receiver, 127.0.0.1:port
	Dir      string // its config, logs and pid file
}

// StartCarbonRelay starts carbon-relay with a line receiver on a free port,
// relaying every datapoint as pickle (protocol 2, up to 500 points a frame)
// to destination (host:port), as a production carbon-relay feeds Skyline's
// Horizon. It is stopped with SIGTERM when the test ends.
func StartCarbonRelay(t testing.TB, destination string) *CarbonRelay {
	t.Helper()
	bin := LookPath(t, "carbon-relay", "graphite-carbon")
	dir := t.TempDir()
	for _, d := range []string{"storage/whisper", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	schemas, err := os.ReadFile("/etc/carbon/storage-schemas.conf")
	if err != nil {
		schemas = []byte("[default]\npattern = .*\nretentions = 60s:1d\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "storage-schemas.conf"), schemas, 0o644); err != nil {
		t.Fatal(err)
	}
	linePort, picklePort := FreePort(t), FreePort(t)
	conf := fmt.Sprintf(`[relay]
STORAGE_DIR = %[1]s/storage/
LOCAL_DATA_DIR = %[1]s/storage/whisper/
LOG_DIR = %[1]s/log/
PID_DIR = %[1]s/
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %[2]d
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = %[3]d
ENABLE_UDP_LISTENER = False
RELAY_METHOD = consistent-hashing
REPLICATION_FACTOR = 1
DESTINATIONS = %[4]s
DESTINATION_PROTOCOL = pickle
MAX_DATAPOINTS_PER_MESSAGE = 500
MAX_QUEUE_SIZE = 100000
USE_FLOW_CONTROL = True
CARBON_METRIC_INTERVAL = 0
`, dir, linePort, picklePort, destination)
	confPath := filepath.Join(dir, "carbon.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config="+confPath, "--pidfile="+filepath.Join(dir, "relay.pid"),
		"--nodaemon", "--logfile="+filepath.Join(dir, "log", "relay.log"), "start")
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "log", "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start carbon-relay: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	r := &CarbonRelay{LineAddr: fmt.Sprintf("127.0.0.1:%d", linePort), Dir: dir}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.LineAddr, time.Second)
		if err == nil {
			c.Close()
			return r
		}
		select {
		case <-exited:
			t.Fatalf("carbon-relay exited at start:\n%s", r.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("carbon-relay did not listen on %s within 20s:\n%s", r.LineAddr, r.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logs returns what carbon-relay wrote, for failure messages.
func (r *CarbonRelay) logs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(r.Dir, "log", "*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "== %s\n%s\n", f, data)
	}
	return b.String()
}
