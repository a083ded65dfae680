package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-kale/kale/oculus"
	"github.com/go-kale/kale/oculus/elastic"
)

// openBenchElastic opens the Elasticsearch backend for kale bench oculus
// under a throw-away index prefix, kale-bench-<unix nanos>, so that the
// bench never touches the indexes of a running Kale; the returned close
// function deletes that prefix's indexes.
func openBenchElastic(urls, user, password, query string) (oculus.Index, func(), error) {
	if urls == "" {
		return nil, nil, errors.New("--backend elasticsearch needs --elasticsearch URL (ZincSearch: http://HOST:PORT/es)")
	}
	cfg := oculus.DefaultElasticConfig()
	cfg.URLs = strings.Split(urls, ",")
	cfg.Index = "kale-bench-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	cfg.Username, cfg.Password, cfg.Query = user, password, query
	cfg.Timeout = 2 * time.Minute // a 100k-document generation takes a while to become searchable
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	x, err := elastic.New(ctx, cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	return x, func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
		defer cancel()
		if err := x.Drop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "kale bench oculus: cannot delete the bench's indexes %s-*: %v (delete them by hand)\n", cfg.Index, err)
		}
		x.Close()
	}, nil
}
