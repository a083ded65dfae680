package elastic

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/go-kale/kale/oculus"
)

// maxCollections is how many collections one listing reads (a search
// answers at most 10,000 documents).
const maxCollections = maxCandidates

// PutCollection stores c under c.ID, replacing what had that ID, and
// returns once it is visible. ErrCollectionExists when another collection
// has the same Name: the check is a search by name before the write, made
// atomic within this process by a lock (two Kale processes writing the
// same new name at the same moment could both succeed).
func (x *Index) PutCollection(ctx context.Context, c oculus.Collection) error {
	if c.ID == "" {
		return errors.New("oculus/elastic: a collection needs an ID")
	}
	x.putMu.Lock()
	defer x.putMu.Unlock()
	r, err := x.search(ctx, x.collections, map[string]any{
		"size": 10, "_source": []string{"id"},
		"query": term("name", c.Name),
	})
	if err != nil {
		return err
	}
	for _, h := range r.Hits {
		if h.ID != c.ID {
			return oculus.ErrCollectionExists
		}
	}
	whole, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("oculus/elastic: cannot encode collection %q: %w", c.ID, err)
	}
	src, err := json.Marshal(collectionSource{ID: c.ID, Name: c.Name, Collection: string(whole)})
	if err != nil {
		return err
	}
	if err := x.putDoc(ctx, x.collections, c.ID, src, true, fmt.Sprintf("collection %q", c.ID)); err != nil {
		return err
	}
	return x.waitFor(ctx, "making collection "+c.ID+" visible", func() (bool, string, error) {
		h, found, err := x.collectionHit(ctx, c.ID)
		if err != nil || !found {
			return false, "not found yet", err
		}
		var s collectionSource
		if err := json.Unmarshal(h.Source, &s); err != nil {
			return false, "", fmt.Errorf("oculus/elastic: unreadable collection document %q: %w", c.ID, err)
		}
		return s.Collection == string(whole), "an older version is visible", nil
	})
}

// Collections lists every collection, sorted by name.
func (x *Index) Collections(ctx context.Context) ([]oculus.Collection, error) {
	r, err := x.search(ctx, x.collections, map[string]any{
		"size": maxCollections, "track_total_hits": true,
		"query": map[string]any{"match_all": map[string]any{}},
	})
	if err != nil {
		return nil, err
	}
	if r.Total > len(r.Hits) {
		return nil, fmt.Errorf("oculus/elastic: %s holds %d collections; Kale lists at most %d", x.collections, r.Total, maxCollections)
	}
	out := make([]oculus.Collection, 0, len(r.Hits))
	for _, h := range r.Hits {
		c, err := decodeCollection(h.Source)
		if err != nil {
			return nil, fmt.Errorf("oculus/elastic: %s: %w", x.collections, err)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b oculus.Collection) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// Collection returns one collection, or ErrCollectionNotFound.
func (x *Index) Collection(ctx context.Context, id string) (oculus.Collection, error) {
	h, found, err := x.collectionHit(ctx, id)
	if err != nil {
		return oculus.Collection{}, err
	}
	if !found {
		return oculus.Collection{}, oculus.ErrCollectionNotFound
	}
	c, err := decodeCollection(h.Source)
	if err != nil {
		return oculus.Collection{}, fmt.Errorf("oculus/elastic: %s: %w", x.collections, err)
	}
	return c, nil
}

// DeleteCollection removes one and returns once it is gone from searches,
// or returns ErrCollectionNotFound.
func (x *Index) DeleteCollection(ctx context.Context, id string) error {
	x.putMu.Lock()
	defer x.putMu.Unlock()
	if _, found, err := x.collectionHit(ctx, id); err != nil {
		return err
	} else if !found {
		return oculus.ErrCollectionNotFound
	}
	action, _ := json.Marshal(map[string]any{"delete": map[string]string{"_index": x.collections, "_id": id}})
	items, err := x.bulk(ctx, x.collections, append(action, '\n'), 1, true)
	if err != nil {
		return err
	}
	if it := items[0]; it.Failed {
		if it.Status == http.StatusNotFound {
			return oculus.ErrCollectionNotFound // deleted meanwhile by another process
		}
		return fmt.Errorf("oculus/elastic: cannot delete collection %q: %s", id, it.Reason)
	}
	return x.waitFor(ctx, "removing collection "+id, func() (bool, string, error) {
		_, found, err := x.collectionHit(ctx, id)
		return !found, "still visible", err
	})
}

// collectionHit finds the document of collection id.
func (x *Index) collectionHit(ctx context.Context, id string) (hit, bool, error) {
	r, err := x.search(ctx, x.collections, map[string]any{
		"size": 1, "query": map[string]any{"ids": map[string]any{"values": []string{id}}},
	})
	if err != nil || len(r.Hits) == 0 {
		return hit{}, false, err
	}
	return r.Hits[0], true, nil
}
