// Command kale is Kale's one binary: a streaming anomaly detector for
// operations metrics. See `kale help` and docs/interfaces.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/app"
	"github.com/go-kale/kale/internal/config"
	"github.com/go-kale/kale/webapp"
)

const usage = `kale: streaming anomaly detection for operations metrics

Usage:
  kale run       [--config FILE] [flags]   every component in one process
  kale horizon   [--config FILE] [flags]   ingest only
  kale analyzer  [--config FILE] [flags]   analysis + alerting only
  kale oculus    [--config FILE] [flags]   fingerprint importer only (needs --elasticsearch)
  kale webapp    [--config FILE] [flags]   web page + JSON API only
  kale config defaults                     print the full default config, every key commented
  kale config check --config FILE          validate a config
  kale replay    --in CSV_OR_DIR --out DIR [--profile NAME]   run a profile over recorded series
  kale bench     ingest|gen|analyze|nab|oculus [flags]   benchmarks
  kale version

Run "kale COMMAND --help" for a command's flags.
`

// exitUsage is the exit code for bad usage, failed checks and commands not
// built yet.
const exitUsage = 2

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return serve(cmd, rest, app.Components{Horizon: true, Analyzer: true, Webapp: true, Oculus: true}, stdout, stderr)
	case "horizon":
		return serve(cmd, rest, app.Components{Horizon: true}, stdout, stderr)
	case "webapp":
		return serve(cmd, rest, app.Components{Webapp: true}, stdout, stderr)
	case "analyzer":
		return serve(cmd, rest, app.Components{Analyzer: true}, stdout, stderr)
	case "oculus":
		return serve(cmd, rest, app.Components{Oculus: true}, stdout, stderr)
	case "replay":
		return replayCmd(rest, stdout, stderr)
	case "config":
		return configCmd(rest, stdout, stderr)
	case "bench":
		return benchCmd(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "kale", version())
		return 0
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "kale: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
		return strings.TrimSpace(v)
	}
	return "(unknown)"
}

// serviceFlags are the flags shared by the service commands
// (docs/interfaces.md); each overrides its config key when given.
type serviceFlags struct {
	fs         *flag.FlagSet
	configPath string
	set        map[string]*string
}

var serviceFlagDefs = []struct{ name, usage string }{
	{"data-dir", "where the embedded store and index keep their files (data_dir)"},
	{"redis", "redis://host:port/db; several comma-separated host:port = Redis Cluster (store.redis.url); empty: embedded store"},
	{"elasticsearch", "Elasticsearch base URL(s), comma-separated (elasticsearch.urls); empty: embedded index"},
	{"kafka", "Kafka bootstrap brokers, comma-separated (horizon.kafka.brokers); empty: off"},
	{"kafka-topic", "Kafka topic to consume (horizon.kafka.topic)"},
	{"pickle-addr", `Graphite pickle over TCP (horizon.pickle.addr); "" turns it off`},
	{"msgpack-addr", `MessagePack over UDP (horizon.msgpack.addr); "" turns it off`},
	{"plaintext-addr", `Graphite plaintext, TCP and UDP (horizon.plaintext.addr); "" turns it off`},
	{"http-addr", `web page, JSON API, /metrics, /healthz (http.addr); "" turns it off; horizon, analyzer and oculus alone serve /metrics and /healthz here only when given`},
	{"log-level", "debug, info, warn, error (log_level)"},
}

func newServiceFlags(name string, stderr io.Writer) *serviceFlags {
	sf := &serviceFlags{fs: flag.NewFlagSet("kale "+name, flag.ContinueOnError), set: map[string]*string{}}
	sf.fs.SetOutput(stderr)
	sf.fs.StringVar(&sf.configPath, "config", "", "YAML config file (kale config defaults prints one)")
	for _, d := range serviceFlagDefs {
		sf.set[d.name] = sf.fs.String(d.name, "", d.usage)
	}
	return sf
}

// given reports whether the flag name was on the command line.
func (sf *serviceFlags) given(name string) bool {
	found := false
	sf.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// load reads the config file and applies the flags that were given.
func (sf *serviceFlags) load() (config.Config, error) {
	cfg, err := config.Load(sf.configPath)
	if err != nil {
		return cfg, err
	}
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	sf.fs.Visit(func(f *flag.Flag) {
		v := f.Value.String()
		switch f.Name {
		case "data-dir":
			cfg.DataDir = v
		case "redis":
			cfg.Store.Redis.URL = v
		case "elasticsearch":
			cfg.Elasticsearch.URLs = split(v)
		case "kafka":
			cfg.Horizon.Kafka.Brokers = split(v)
		case "kafka-topic":
			cfg.Horizon.Kafka.Topic = v
		case "pickle-addr":
			cfg.Horizon.Pickle.Addr = v
		case "msgpack-addr":
			cfg.Horizon.Msgpack.Addr = v
		case "plaintext-addr":
			cfg.Horizon.Plaintext.Addr = v
		case "http-addr":
			cfg.HTTP.Addr = v
		case "log-level":
			cfg.LogLevel = v
		}
	})
	return cfg, cfg.Validate()
}

func newLogger(level string, w io.Writer) *slog.Logger {
	l, err := config.ParseLevel(level)
	if err != nil {
		l = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
	redis.SetLogger(redisLogger{logger.With("component", "go-redis")}) // its logger is global
	return logger
}

// redisLogger routes go-redis's own messages (dial retries, cluster
// reloads) into Kale's log instead of bare stderr lines.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...))
}

// serve runs the service command name with the given components until
// SIGINT or SIGTERM.
func serve(name string, args []string, comps app.Components, stdout, stderr io.Writer) int {
	sf := newServiceFlags(name, stderr)
	if err := sf.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if sf.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kale %s: unexpected argument %q\n", name, sf.fs.Arg(0))
		return exitUsage
	}
	cfg, err := sf.load()
	if err != nil {
		fmt.Fprintf(stderr, "kale %s: bad configuration:\n%v\n", name, err)
		return exitUsage
	}
	if !comps.Webapp && cfg.HTTP.Addr == webapp.DefaultConfig().Addr && !sf.given("http-addr") {
		// horizon, analyzer and oculus alone serve /metrics and /healthz
		// only where told (--http-addr, or http.addr other than the web
		// page's :1500): they often share a host and a config file with
		// kale webapp, which keeps :1500.
		cfg.HTTP.Addr = ""
	}
	logger := newLogger(cfg.LogLevel, stderr)
	a, err := app.Open(cfg, comps, logger)
	if err != nil {
		fmt.Fprintf(stderr, "kale %s: %v\n", name, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C or SIGTERM kills at once, as users expect
	}()
	logger.Info("kale started", "command", name, "version", version(), "store", cfg.BackendName(),
		"data_dir", cfg.DataDir, "http", a.HTTPAddr())
	if err := a.Run(ctx); err != nil {
		logger.Error("kale stopped with an error", "err", err)
		return 1
	}
	return 0
}

func configCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: kale config defaults | kale config check --config FILE\n")
		return exitUsage
	}
	switch args[0] {
	case "defaults":
		stdout.Write(config.DefaultsYAML())
		return 0
	case "check":
		fs := flag.NewFlagSet("kale config check", flag.ContinueOnError)
		fs.SetOutput(stderr)
		path := fs.String("config", "", "YAML config file to check")
		if err := fs.Parse(args[1:]); err != nil {
			return exitUsage
		}
		if *path == "" {
			fmt.Fprintln(stderr, "kale config check: --config FILE is required")
			return exitUsage
		}
		cfg, err := config.Load(*path)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintln(stderr, line)
			}
			return exitUsage
		}
		fmt.Fprintf(stdout, "%s: ok\n", *path)
		return 0
	}
	fmt.Fprintf(stderr, "kale config: unknown subcommand %q (want defaults or check)\n", args[0])
	return exitUsage
}
