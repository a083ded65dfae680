package testserver

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

func TestStartRedis(t *testing.T) {
	r := StartRedis(t)
	if r.Addr != fmt.Sprintf("127.0.0.1:%d", r.Port) || r.URL != "redis://"+r.Addr+"/0" {
		t.Errorf("Addr %q, URL %q, Port %d do not agree", r.Addr, r.URL, r.Port)
	}
	if _, err := command(r.Addr, "SET", "k", "v\r\nw"); err != nil {
		t.Fatal(err)
	}
	if got, err := command(r.Addr, "GET", "k"); err != nil || got != "v\r\nw" {
		t.Errorf("GET k = %q, %v; want \"v\\r\\nw\"", got, err)
	}
	// Persistence is off: no RDB save points, no AOF.
	for _, c := range [][2]string{{"save", ""}, {"appendonly", "no"}, {"bind", "127.0.0.1"}} {
		out, err := exec.Command(LookPath(t, "redis-cli", "redis-tools"), "-p", fmt.Sprint(r.Port), "CONFIG", "GET", c[0]).Output()
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) < 1 || strings.TrimSpace(strings.Join(lines[1:], "")) != c[1] {
			t.Errorf("CONFIG GET %s = %q, want %q", c[0], out, c[1])
		}
	}
	r.FlushAll(t)
	if got, err := command(r.Addr, "DBSIZE"); err != nil || got != "0" {
		t.Errorf("DBSIZE after FlushAll = %q, %v", got, err)
	}
	r.proc.stop()
	if _, err := command(r.Addr, "PING"); err == nil {
		t.Errorf("PING answered after stop")
	}
}

func TestStartRedisForBench(t *testing.T) {
	LookPath(t, "redis-server", "redis-server")
	addr, stop, err := StartRedisForBench(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := command(addr, "PING"); err != nil || got != "PONG" {
		t.Errorf("PING = %q, %v", got, err)
	}
	stop()
	if _, err := command(addr, "PING"); err == nil {
		t.Errorf("PING answered after stop")
	}
}

func TestStartRedisCluster(t *testing.T) {
	c := StartRedisCluster(t, 3)
	if len(c.Addrs) != 3 {
		t.Fatalf("Addrs = %q, want 3", c.Addrs)
	}
	for _, addr := range c.Addrs {
		info, err := command(addr, "CLUSTER", "INFO")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_slots_ok:16384", "cluster_known_nodes:3", "cluster_size:3"} {
			if !strings.Contains(info, want) {
				t.Errorf("CLUSTER INFO of %s lacks %q:\n%s", addr, want, info)
			}
		}
	}
	// Keys of different slots live on different nodes: a write to the
	// wrong node is redirected.
	moved := 0
	for i := range 10 {
		if _, err := command(c.Addrs[0], "SET", fmt.Sprintf("key%d", i), "v"); err != nil {
			if !strings.Contains(err.Error(), "MOVED") {
				t.Fatalf("SET: %v", err)
			}
			moved++
		}
	}
	if moved == 0 {
		t.Errorf("no SET of 10 keys was redirected: the slots are not spread over the nodes")
	}
	c.FlushAll(t)
}
