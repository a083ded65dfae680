package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/go-kale/kale/oculus"
)

// openElastic opens Oculus's Elasticsearch backend. Not built yet: it
// lands with oculus/elastic.
func openElastic(ctx context.Context, cfg oculus.ElasticConfig, logger *slog.Logger) (oculus.Index, error) {
	return nil, errors.New("the Elasticsearch backend of Oculus is not built yet: leave --elasticsearch empty to use the embedded index")
}
