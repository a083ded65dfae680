package main

import (
	"errors"

	"github.com/go-kale/kale/oculus"
)

// openBenchElastic opens the Elasticsearch backend for kale bench oculus.
// Not built yet: the backend (oculus/elastic) lands in a later step.
func openBenchElastic(url, user, password string) (oculus.Index, func(), error) {
	return nil, nil, errors.New("the Elasticsearch backend is not built yet")
}
