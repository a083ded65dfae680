package testserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Redis binaries and the Debian packages that hold them.
const (
	redisServerBin = "redis-server"
	redisServerPkg = "redis-server"
	redisCLIBin    = "redis-cli"
	redisCLIPkg    = "redis-tools"
)

// Waits. They bound how long a broken start takes to fail; a healthy
// standalone server answers in about 20 ms and a cluster is ok in about 2 s.
const (
	readyTimeout   = 10 * time.Second
	clusterTimeout = 30 * time.Second
	startAttempts  = 5 // a free port can be taken before redis-server binds it
)

// Redis is a redis-server started by StartRedis.
type Redis struct {
	Addr string // "127.0.0.1:port"
	URL  string // "redis://127.0.0.1:port/0"
	Port int

	proc *redisProc
}

// StartRedis starts a standalone redis-server on a free loopback port with
// persistence off (--save ” --appendonly no), waits until it answers PING,
// and stops it in t.Cleanup. Without redis-server it skips (or fails, see
// LookPath) with the apt-get command that installs it.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := LookPath(t, redisServerBin, redisServerPkg)
	dir := t.TempDir()
	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("cannot find a free port: %v", err)
		}
		p, err := startRedisProc(bin, dir, port)
		if err != nil {
			lastErr = err
			continue
		}
		t.Cleanup(p.stop)
		return &Redis{Addr: p.addr, URL: "redis://" + p.addr + "/0", Port: port, proc: p}
	}
	t.Fatalf("cannot start redis-server after %d attempts: %v", startAttempts, lastErr)
	return nil
}

// FlushAll empties every database of the server.
func (r *Redis) FlushAll(t testing.TB) {
	t.Helper()
	if _, err := command(r.Addr, "FLUSHALL"); err != nil {
		t.Fatalf("cannot flush redis at %s: %v", r.Addr, err)
	}
}

// StartRedisForBench starts a standalone redis-server like StartRedis,
// without a *testing.T, for `kale bench ingest` when no Redis is given. dir
// is its working folder (it writes nothing there with persistence off, but
// must exist). stop kills the server and waits for it; call it once.
func StartRedisForBench(dir string) (addr string, stop func(), err error) {
	bin, err := lookPath(redisServerBin)
	if err != nil {
		return "", nil, fmt.Errorf("%w: install with: apt-get install -y %s", err, redisServerPkg)
	}
	for range startAttempts {
		port, perr := freePort()
		if perr != nil {
			return "", nil, fmt.Errorf("cannot find a free port: %w", perr)
		}
		p, perr := startRedisProc(bin, dir, port)
		if perr != nil {
			err = perr
			continue
		}
		return p.addr, p.stop, nil
	}
	return "", nil, fmt.Errorf("cannot start redis-server after %d attempts: %w", startAttempts, err)
}

// RedisCluster is a Redis Cluster of masters without replicas started by
// StartRedisCluster.
type RedisCluster struct {
	Addrs []string // "127.0.0.1:port" of every master

	procs []*redisProc
}

// StartRedisCluster starts masters (at least 3, as redis-cli requires)
// cluster-enabled redis-servers with persistence off on free loopback
// ports p whose cluster-bus port p+10000 is also free, each with its own
// folder in t.TempDir(), joins them with `redis-cli --cluster create ...
// --cluster-yes`, waits until every node reports cluster_state:ok, and
// stops them all in t.Cleanup. Without redis-server or redis-cli it skips
// (or fails, see LookPath).
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("StartRedisCluster(%d): a Redis Cluster needs at least 3 masters", masters)
	}
	bin := LookPath(t, redisServerBin, redisServerPkg)
	cli := LookPath(t, redisCLIBin, redisCLIPkg)
	root := t.TempDir()
	c := &RedisCluster{}
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.stop()
		}
	})
	used := map[int]bool{}
	for i := range masters {
		dir := filepath.Join(root, strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var lastErr error
		for range startAttempts {
			port, err := clusterPort(used)
			if err != nil {
				t.Fatal(err)
			}
			p, err := startRedisProc(bin, dir, port,
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", "5000")
			if err != nil {
				lastErr = err
				continue
			}
			used[port], used[port+10000] = true, true
			c.procs = append(c.procs, p)
			c.Addrs = append(c.Addrs, p.addr)
			lastErr = nil
			break
		}
		if lastErr != nil {
			t.Fatalf("cannot start cluster node %d after %d attempts: %v", i, startAttempts, lastErr)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("cannot create the cluster: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, addr := range c.Addrs {
		for {
			info, err := command(addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("cluster node %s not ok after %v: %q, %v", addr, clusterTimeout, info, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c
}

// FlushAll empties every master of the cluster.
func (c *RedisCluster) FlushAll(t testing.TB) {
	t.Helper()
	for _, addr := range c.Addrs {
		if _, err := command(addr, "FLUSHALL"); err != nil {
			t.Fatalf("cannot flush cluster node %s: %v", addr, err)
		}
	}
}

// clusterPort returns a free port p, not in used, whose bus port p+10000
// is free too.
func clusterPort(used map[int]bool) (int, error) {
	for range 200 {
		p, err := freePort()
		if err != nil {
			return 0, fmt.Errorf("cannot find a free port: %w", err)
		}
		if p+10000 <= 65535 && !used[p] && !used[p+10000] && portFree(p+10000) {
			return p, nil
		}
	}
	return 0, errors.New("cannot find a free port p with p+10000 free too")
}

// redisProc is a running redis-server child process.
type redisProc struct {
	addr     string
	cmd      *exec.Cmd
	out      *SyncBuffer
	exited   chan struct{} // closed when the process has exited
	stopOnce sync.Once
}

// startRedisProc starts redis-server on 127.0.0.1:port in dir with
// persistence off and extra arguments, and waits until it answers PING.
// On failure the process is gone and the error holds its output.
func startRedisProc(bin, dir string, port int, extra ...string) (*redisProc, error) {
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", dir,
		"--logfile", "",
	}
	args = append(args, extra...)
	p := &redisProc{
		addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		cmd:    exec.Command(bin, args...),
		out:    &SyncBuffer{},
		exited: make(chan struct{}),
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(readyTimeout)
	for {
		reply, err := command(p.addr, "PING")
		if err == nil && reply == "PONG" {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("redis-server on port %d exited: %s", port, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("redis-server on port %d did not answer PING within %v (last: %q, %v): %s",
				port, readyTimeout, reply, err, p.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop kills the process and waits for it to exit. It is idempotent.
func (p *redisProc) stop() {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes and reads: a
// server process's output, a logger's lines read while it logs.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// command sends one command to the Redis server at addr on a new
// connection and returns its reply: the text of a simple string, integer
// or bulk string ("" for a nil bulk). An error reply becomes an error.
// It keeps testserver free of a Redis client library.
func command(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis error: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("unsupported reply %q", line)
	}
}
