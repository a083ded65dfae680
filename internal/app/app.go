// Package app wires Kale's components into one process, in the order the
// data flows: store, Horizon, analyzer (with the anomaly store and the
// alerters), Oculus (index and importer), web server. `kale run`,
// `kale horizon`, `kale analyzer`, `kale oculus`, `kale webapp` and
// `kale bench ingest` all start through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/algorithms"
	"github.com/go-kale/kale/analyzer"
	"github.com/go-kale/kale/horizon"
	"github.com/go-kale/kale/internal/anomalies"
	"github.com/go-kale/kale/internal/config"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/internal/store/embedded"
	"github.com/go-kale/kale/internal/store/redisstore"
	"github.com/go-kale/kale/oculus"
	"github.com/go-kale/kale/webapp"
)

// Components says which parts of Kale a process runs.
type Components struct {
	Horizon  bool // listeners writing to the store, and Roomba
	Analyzer bool // cycles over the store, anomaly records, alerts
	Webapp   bool // HTTP: page, API, /metrics, /healthz
	Oculus   bool // the importer fingerprinting the store into the index
}

// App is a started Kale process.
type App struct {
	cfg      config.Config
	comps    Components
	logger   *slog.Logger
	Registry *prometheus.Registry
	Store    store.Store
	Horizon  *horizon.Server // nil unless Components.Horizon
	// Anomalies holds the analyzer's records, claims and incidents: opened
	// with the analyzer, or for the web page alone on Redis; else nil.
	Anomalies  anomalies.Store
	Analyzer   *analyzer.Analyzer   // nil unless Components.Analyzer
	Router     *analyzer.Router     // nil unless Components.Analyzer
	dispatcher *alerters.Dispatcher // nil unless Components.Analyzer
	// Index holds Oculus's shapes and collections: opened with the
	// importer, or for the web page alone on Elasticsearch; else nil.
	Index    oculus.Index
	Searcher *oculus.Searcher // nil when Index is
	Importer *oculus.Importer // nil unless Components.Oculus
	httpLn   net.Listener
}

// Open opens the store and binds every listener, so that every startup
// problem (a taken port, an unreachable Redis) is reported here, before
// anything runs. Close the App with Run (or Close when Run is never called).
func Open(cfg config.Config, comps Components, logger *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HTTP.Addr != "" {
		// The web server's env: secrets, read now so that an unset
		// variable stops Kale here (webapp.New would refuse every request).
		if _, err := cfg.HTTP.Auth.Resolve(); err != nil {
			return nil, fmt.Errorf("cannot start the web server: %w", err)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &App{cfg: cfg, comps: comps, logger: logger, Registry: reg}
	var err error
	if a.Store, err = OpenStore(cfg, logger, reg); err != nil {
		return nil, err
	}
	if comps.Horizon {
		if a.Horizon, err = horizon.New(cfg.Horizon, a.Store, logger.With("component", "horizon"), reg); err != nil {
			a.Store.Close()
			return nil, err
		}
		if err := a.Horizon.Listen(); err != nil { // closes what it bound on failure
			a.Store.Close()
			return nil, err
		}
	}
	if comps.Analyzer || (comps.Webapp && cfg.BackendName() == "redis") {
		if a.Anomalies, err = openAnomalies(cfg, a.Store, logger); err != nil {
			a.Close()
			return nil, err
		}
	}
	if comps.Analyzer {
		if err := a.openAnalyzer(); err != nil {
			a.Close()
			return nil, err
		}
	}
	if comps.Oculus || (comps.Webapp && len(cfg.Elasticsearch.URLs) > 0) {
		if err := a.openOculus(); err != nil {
			a.Close()
			return nil, err
		}
	}
	// HTTP: the page, the API, /metrics and /healthz with the web page;
	// only /metrics and /healthz for the other components alone.
	if cfg.HTTP.Addr != "" {
		if a.httpLn, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
			a.Close()
			return nil, fmt.Errorf("cannot listen for HTTP on %q: %w (set --http-addr to a free address)", cfg.HTTP.Addr, err)
		}
	}
	return a, nil
}

// OpenStore opens the configured store backend and checks that it answers.
func OpenStore(cfg config.Config, logger *slog.Logger, reg prometheus.Registerer) (store.Store, error) {
	switch cfg.BackendName() {
	case "redis":
		rc := cfg.Store.Redis
		rc.Retention = cfg.Retention()
		s, err := redisstore.New(rc, logger.With("component", "store"), reg)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Ping(ctx); err != nil { // names the address and what to do
			s.Close()
			return nil, err
		}
		return s, nil
	default:
		ec := cfg.Store.Embedded
		ec.Dir = filepath.Join(cfg.DataDir, "store")
		ec.Retention = cfg.Retention()
		s, err := embedded.Open(ec, logger.With("component", "store"), reg)
		if err != nil {
			return nil, fmt.Errorf("cannot open the embedded store in %s: %w", ec.Dir, err)
		}
		return s, nil
	}
}

// openAnomalies opens the anomaly store beside the series store: a log
// under data_dir on the embedded store, keys beside the series on Redis.
func openAnomalies(cfg config.Config, st store.Store, logger *slog.Logger) (anomalies.Store, error) {
	retention := cfg.Analyzer.AnomalyHistory
	if rs, ok := st.(*redisstore.Store); ok {
		// "kale." beside Skyline's default namespace; a deployment with its
		// own store.redis.namespace gets its own records too.
		ns := anomalies.DefaultNamespace
		if n := cfg.Store.Redis.Namespace; n != redisstore.DefaultConfig().Namespace {
			ns += n
		}
		return anomalies.NewRedis(rs.Client(), ns, retention), nil
	}
	dir := filepath.Join(cfg.DataDir, "anomalies")
	s, err := anomalies.OpenEmbedded(dir, retention, logger.With("component", "anomalies"))
	if err != nil {
		return nil, fmt.Errorf("cannot open the anomaly records in %s: %w", dir, err)
	}
	return s, nil
}

// openAnalyzer builds the alerters, their dispatcher, the router and the
// analyzer.
func (a *App) openAnalyzer() error {
	cfg, logger := a.cfg, a.logger.With("component", "analyzer")
	chans, err := cfg.Alerts.NewAlerters(a.logger.With("component", "alerters"))
	if err != nil {
		return err
	}
	// An alert the dispatcher cannot deliver goes back to the router
	// (created below, before anything is enqueued) to release its claim.
	var router *analyzer.Router
	delivery := cfg.Alerts.Delivery
	delivery.OnLost = func(alerter string, al alerters.Alert) { router.Lost(alerter, al) }
	if a.dispatcher, err = alerters.NewDispatcher(chans, delivery, a.logger.With("component", "alerters"), a.Registry); err != nil {
		return err
	}
	settings, err := algorithms.ProfileSettings(cfg.Analyzer.Profile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	router, err = analyzer.NewRouter(ctx, analyzer.RouterConfig{
		Rules:             cfg.Alerts.Rules,
		SendResolved:      cfg.Alerts.SendResolved(),
		LinkBase:          linkBase(cfg),
		DefaultExpiration: settings.AlertExpiration,
		AnomaliesJSON:     cfg.Analyzer.AnomaliesJSON,
	}, a.Anomalies, a.dispatcher, logger)
	if err != nil {
		return err
	}
	a.Router = router
	m, err := analyzer.NewMetrics(a.Registry)
	if err != nil {
		return err
	}
	a.Analyzer, err = analyzer.New(cfg.Analyzer, cfg.Retention().FullDuration, a.Store, a.Router,
		analyzer.Options{Logger: logger, Metrics: m})
	return err
}

// openOculus opens the index (embedded, or Elasticsearch with
// --elasticsearch), the searcher and, with Components.Oculus, the importer.
func (a *App) openOculus() error {
	cfg := a.cfg
	logger := a.logger.With("component", "oculus")
	if len(cfg.Elasticsearch.URLs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		idx, err := openElastic(ctx, cfg.Elasticsearch, logger)
		if err != nil {
			return err
		}
		a.Index = idx
	} else {
		if a.comps.Oculus && !a.comps.Webapp {
			return errors.New("the embedded Oculus index lives in the process that serves searches: run kale run, " +
				"or give --elasticsearch so that kale webapp can search what kale oculus imports")
		}
		dir := filepath.Join(cfg.DataDir, "oculus")
		idx, err := oculus.NewEmbedded(oculus.EmbeddedOptions{Dir: dir})
		if err != nil {
			return fmt.Errorf("cannot open the Oculus index in %s: %w", dir, err)
		}
		a.Index = idx
	}
	m, err := oculus.NewMetrics(a.Registry)
	if err != nil {
		return err
	}
	a.Searcher = oculus.NewSearcher(a.Index, a.Store, cfg.Oculus, m)
	if a.comps.Oculus {
		a.Importer = oculus.NewImporter(a.Store, a.Index, cfg.Oculus, m, logger, nil)
	}
	return nil
}

// linkBase is alerts.link_base, or http://<hostname>:<http port>.
func linkBase(cfg config.Config) string {
	if cfg.Alerts.LinkBase != "" {
		return cfg.Alerts.LinkBase
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	_, port, err := net.SplitHostPort(cfg.HTTP.Addr)
	if err != nil || port == "" || port == "0" {
		return ""
	}
	if _, err := strconv.Atoi(port); err != nil {
		return ""
	}
	return "http://" + net.JoinHostPort(host, port)
}

// HTTPAddr returns the bound HTTP address, or nil when HTTP is off.
func (a *App) HTTPAddr() net.Addr {
	if a.httpLn == nil {
		return nil
	}
	return a.httpLn.Addr()
}

// Run serves until ctx is done, then stops in order: listeners first, then
// HTTP, then the store (after everything queued is written).
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var horizonErr error
	// Horizon and Roomba stop on ctx; HTTP stops after Horizon has drained.
	if a.Horizon != nil {
		wg.Go(func() { horizonErr = a.Horizon.Run(ctx) })
		wg.Go(func() {
			store.RunRoomba(ctx, a.Store, a.cfg.Store.RoombaInterval, time.Now,
				a.logger.With("component", "roomba"), a.Registry)
		})
	}
	if a.Importer != nil {
		wg.Go(func() { a.Importer.Run(ctx) })
	}
	var analyzerDone chan struct{}
	if a.Analyzer != nil {
		analyzerDone = make(chan struct{})
		go func() { defer close(analyzerDone); a.Analyzer.Run(ctx) }()
	}
	var srv *http.Server
	httpErr := make(chan error, 1)
	if a.httpLn != nil {
		var h http.Handler
		if a.comps.Webapp {
			wh := webapp.New(a.cfg.HTTP, a.Store, a.Registry, a.logger.With("component", "webapp"))
			if a.Anomalies != nil {
				wh.WithAnomalies(a.Anomalies)
			}
			if a.Searcher != nil {
				wh.WithOculus(a.Searcher)
			}
			h = wh
		} else {
			h = webapp.NewOps(a.cfg.HTTP, a.Store, a.Index, a.Registry, a.logger.With("component", "http"))
		}
		srv = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
		}
		go func() {
			err := srv.Serve(a.httpLn)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			httpErr <- err
		}()
		a.logger.Info("http listening", "addr", a.httpLn.Addr().String())
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-httpErr:
		if runErr != nil {
			runErr = fmt.Errorf("http server: %w", runErr)
		}
	}
	cancel()
	wg.Wait()
	if analyzerDone != nil {
		<-analyzerDone
		// Alerts already queued get a few seconds to go out.
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		a.dispatcher.Close(dctx)
		dcancel()
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(sctx)
		cancel()
	}
	if a.Anomalies != nil {
		if err := a.Anomalies.Close(); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("cannot close the anomaly records: %w", err))
		}
	}
	if a.Index != nil {
		if err := a.Index.Close(); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("cannot close the Oculus index: %w", err))
		}
	}
	if err := a.Store.Close(); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("cannot close the store: %w", err))
	}
	return errors.Join(runErr, horizonErr)
}

// Close releases what Open acquired, for an App that is not Run.
func (a *App) Close() error {
	if a.httpLn != nil {
		a.httpLn.Close()
	}
	if a.Horizon != nil {
		a.Horizon.Close()
	}
	if a.dispatcher != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		a.dispatcher.Close(ctx)
		cancel()
	}
	if a.Anomalies != nil {
		a.Anomalies.Close()
	}
	if a.Index != nil {
		a.Index.Close()
	}
	return a.Store.Close()
}
