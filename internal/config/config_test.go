package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/go-kale/kale/analyzer"
	"gopkg.in/yaml.v3"
)

// The printed defaults decode to exactly Default().
func TestDefaultsYAMLMatchesDefault(t *testing.T) {
	t.Parallel()
	var got Config // decode into a zero config: every value must come from the file
	if err := Decode(bytes.NewReader(DefaultsYAML()), &got); err != nil {
		t.Fatal(err)
	}
	want := Default()
	// yaml:"-" fields are set by the wiring, not the file.
	got.Store.Embedded.Retention = want.Store.Embedded.Retention
	got.Store.Redis.Retention = want.Store.Redis.Retention
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("defaults.yaml differs from Default() (-Default +yaml):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
}

// Every key of the Config structs is in defaults.yaml, each with a comment
// on it or on the line(s) just above.
func TestDefaultsYAMLCommentsEveryKey(t *testing.T) {
	t.Parallel()
	var root yaml.Node
	if err := yaml.Unmarshal(DefaultsYAML(), &root); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(DefaultsYAML()), "\n")
	keys := map[string]int{} // dotted path -> line
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind == yaml.DocumentNode {
			walk(n.Content[0], prefix)
			return
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			keys[prefix+k.Value] = k.Line
			walk(v, prefix+k.Value+".")
		}
	}
	walk(&root, "")
	for _, path := range structKeys(reflect.TypeFor[Config](), "") {
		line, ok := keys[path]
		if !ok {
			t.Errorf("defaults.yaml lacks key %s", path)
			continue
		}
		if !commented(lines, line) {
			t.Errorf("defaults.yaml key %s (line %d) has no comment", path, line)
		}
	}
}

// commented reports whether the key on 1-based line has a comment on it or
// directly above (a group of keys may share one comment block, up to the
// previous blank line or section).
func commented(lines []string, line int) bool {
	if strings.Contains(lines[line-1], "#") {
		return true
	}
	for i := line - 2; i >= 0; i-- {
		s := strings.TrimSpace(lines[i])
		if strings.HasPrefix(s, "#") {
			return true
		}
		if s == "" || strings.HasSuffix(s, ":") {
			return false
		}
	}
	return false
}

// structKeys lists the dotted YAML keys of the leaves and sections of t.
func structKeys(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if opts == "inline" {
			out = append(out, structKeys(f.Type, prefix)...)
			continue
		}
		path := prefix + name
		if f.Type.Kind() == reflect.Struct && f.Type.String() != "time.Duration" {
			out = append(out, structKeys(f.Type, path+".")...)
			continue
		}
		out = append(out, path)
	}
	return out
}

func TestLoadStrict(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := func(body, wantErr string) {
		t.Helper()
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p)
		if err == nil {
			err = c.Validate()
		}
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("Load(%q): %v", body, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("Load(%q) = %v, want an error containing %q", body, err, wantErr)
		}
	}
	f("", "")
	f("horizon:\n  pickle:\n    addr: 127.0.0.1:2124\n", "")
	f("horizon:\n  pickel:\n    addr: x\n", "field pickel not found")
	f("store:\n  backend: mongo\n", `store.backend "mongo"`)
	f("store:\n  backend: redis\n", "store.redis.url (--redis) is empty")
	f("log_level: loud\n", `log_level "loud"`)
	f("horizon:\n  queue:\n    flush_interval: 0s\n", "flush_interval must be > 0")
	f("horizon:\n  kafka:\n    topic: t\n", "set both brokers and topic")
	f("store:\n  full_duration: 1 day\n", "1 day")
}

func TestLoadKeepsDefaults(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("data_dir: /var/lib/kale\n"), 0o644)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.DataDir = "/var/lib/kale"
	if diff := cmp.Diff(want, c); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// The example configs shipped in deploy/ stay valid.
func TestDeployExamples(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../../deploy/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example configs found in deploy/")
	}
	for _, f := range files {
		c, err := Load(f)
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// store.full_duration 0 resolves by backend; a set value is kept.
func TestRetentionAuto(t *testing.T) {
	t.Parallel()
	c := Default()
	if got := c.Retention().FullDuration; got != AutoFullDurationEmbedded {
		t.Errorf("embedded auto = %v, want %v", got, AutoFullDurationEmbedded)
	}
	c.Store.Redis.URL = "redis://127.0.0.1:6379"
	if got := c.Retention().FullDuration; got != AutoFullDurationRedis {
		t.Errorf("redis auto = %v, want %v", got, AutoFullDurationRedis)
	}
	c.Store.Retention.FullDuration = 36 * time.Hour
	if got := c.Retention().FullDuration; got != 36*time.Hour {
		t.Errorf("set = %v, want 36h", got)
	}
	if got := c.Retention().Grace; got != 10*time.Minute {
		t.Errorf("grace = %v, want 10m", got)
	}
	c.Store.Retention.FullDuration = time.Millisecond
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "full_duration") {
		t.Errorf("1ms full_duration: Validate = %v, want an error naming it", err)
	}
}

// The alerts section decodes each channel over its defaults, strictly, and
// validation names what is wrong.
func TestAlertsConfig(t *testing.T) {
	t.Parallel()
	body := `
alerts:
  rules:
    - pattern: prod.
      alerter: oncall
      resolve_after: 45m
    - regex: '^db\.'
      alerter: mail
      expiration: 2h
  alerters:
    - name: oncall
      pagerduty: {routing_key: "env:KALE_TEST_PD_KEY"}
    - name: mail
      email: {addr: "127.0.0.1:25", from: kale@example.com, to: [ops@example.com]}
    - name: chat
      send_resolved: false
      webhook: {url: "http://127.0.0.1:9/hook", format: slack}
    - name: log
      syslog: {network: udp, addr: "127.0.0.1:514"}
`
	var c Config = Default()
	if err := Decode(strings.NewReader(body), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	a := c.Alerts
	if len(a.Alerters) != 4 || a.Alerters[1].Email == nil || a.Alerters[1].Email.StartTLS == "" {
		t.Fatalf("alerters %+v: want 4, the email one with its default starttls", a.Alerters)
	}
	if got := a.SendResolved(); !got["oncall"] || got["mail"] || got["chat"] || got["log"] {
		t.Errorf("SendResolved() = %v, want only oncall", got)
	}
	if a.Rules[0].ResolveAfter != 45*time.Minute || a.Rules[1].Expiration != 2*time.Hour ||
		a.Rules[1].ResolveAfter != analyzer.DefaultResolveAfter {
		t.Errorf("rules %+v", a.Rules)
	}

	f := func(body, wantErr string) { t.Helper(); wantConfigError(t, body, wantErr) }
	f("alerts:\n  alerters:\n    - name: m\n      email: {adr: x}\n", "field adr not found")
	f("alerts:\n  alerters:\n    - name: m\n      emial: {}\n", "field emial not found")
	f("alerts:\n  alerters:\n    - name: m\n", "exactly one of")
	f("alerts:\n  alerters:\n    - name: m\n      webhook: {url: http://x/}\n      syslog: {}\n", "exactly one of")
	f("alerts:\n  rules:\n    - alerter: nobody\n", `alerter "nobody" is not one of`)
	f("alerts:\n  rules:\n    - alerter: m\n      regex: '('\n  alerters:\n    - name: m\n      syslog: {}\n", "regex")
	f("analyzer:\n  profile: fancy\n", "analyzer.profile")
	f("alerts:\n  rules:\n    - alerter: m\n      patern: x\n  alerters:\n    - name: m\n      syslog: {}\n", "field patern not found")
	f("alerts:\n  alerters:\n    - name: a.b\n      syslog: {}\n", "without dots")
}

// The http section's read_only and auth keys decode, and Validate reports
// auth mistakes by key without resolving env: secrets (a config can be
// checked on a machine that lacks the variables).
func TestHTTPAuthConfig(t *testing.T) {
	t.Parallel()
	c := Default()
	body := "http:\n  read_only: true\n  auth:\n    username: ops\n    password: env:KALE_TEST_SURELY_UNSET_PW\n    token: abc123\n"
	if err := Decode(strings.NewReader(body), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if !c.HTTP.ReadOnly || c.HTTP.Auth.Username != "ops" || c.HTTP.Auth.Password.Reveal() != "env:KALE_TEST_SURELY_UNSET_PW" ||
		c.HTTP.Auth.Token.Reveal() != "abc123" {
		t.Errorf("decoded http %+v", c.HTTP)
	}
	if _, err := c.HTTP.Auth.Resolve(); err == nil || !strings.Contains(err.Error(), "KALE_TEST_SURELY_UNSET_PW") {
		t.Errorf("Resolve = %v, want an error naming the unset variable", err)
	}
	f := func(body, wantErr string) { t.Helper(); wantConfigError(t, body, wantErr) }
	f("http:\n  auth:\n    username: ops\n", "http.auth.password is required with http.auth.username")
	f("http:\n  auth:\n    password: pw\n", "http.auth.username is required with http.auth.password")
	f("http:\n  auth:\n    token: 'two words'\n", "http.auth.token must be printable ASCII")
	f("http:\n  auth:\n    token: 'env:'\n", `http.auth.token: "env:" names no environment variable`)
	f("http:\n  auth:\n    user: ops\n", "field user not found")
	f("http:\n  readonly: true\n", "field readonly not found")
}

// wantConfigError checks that body fails to decode or validate with an
// error containing wantErr.
func wantConfigError(t *testing.T, body, wantErr string) {
	t.Helper()
	c := Default()
	err := Decode(strings.NewReader(body), &c)
	if err == nil {
		err = c.Validate()
	}
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Errorf("%q: error %v, want one containing %q", body, err, wantErr)
	}
}
