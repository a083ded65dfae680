package app

import (
	"context"
	"log/slog"

	"github.com/go-kale/kale/oculus"
	"github.com/go-kale/kale/oculus/elastic"
)

// openElastic opens Oculus's Elasticsearch backend (oculus/elastic).
func openElastic(ctx context.Context, cfg oculus.ElasticConfig, logger *slog.Logger) (oculus.Index, error) {
	return elastic.New(ctx, cfg, logger)
}
