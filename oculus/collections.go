package oculus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-kale/kale/internal/store"
)

// Limits of a collection.
const (
	MaxCollectionName        = 200
	MaxCollectionDescription = 20000
	MaxCollectionMetrics     = 1000
)

// ErrInvalidCollection wraps what is wrong with a collection request (a
// 400 in the API).
var ErrInvalidCollection = errors.New("invalid collection")

// CollectionInput is what a user gives to create or change a collection.
// On a change, a nil field keeps the stored value.
type CollectionInput struct {
	Name        *string  `json:"name"`
	Description *string  `json:"description"`
	Metrics     []string `json:"metrics"`
	// Add and Remove change the member list in place of Metrics: the
	// metrics of Add not yet members are appended, those of Remove taken
	// out, in one step of the server, so two people adding to one
	// incident's collection at once both get their metrics in.
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
	// Window of the shapes to save for new members: zero means the
	// index's window (the last hour of the latest import).
	From  int64 `json:"from"`
	Until int64 `json:"until"`
}

// SaveCollection creates a collection (id "") or changes one. Each new
// member is saved with its shape over the window, so that a later search
// whose query resembles it lists the collection; members kept from before
// keep the shape they were saved with. A metric unknown to the store is
// an error; one with too few points in the window is saved without a shape.
//
// Saves through one Searcher are serialised, so an Add or Remove is never
// lost to a concurrent save. (Two Kale processes saving one collection in
// Elasticsearch at the same instant can still overwrite each other.)
func (s *Searcher) SaveCollection(ctx context.Context, id string, in CollectionInput) (Collection, error) {
	if in.Metrics != nil && (in.Add != nil || in.Remove != nil) {
		return Collection{}, fmt.Errorf("%w: give metrics (the whole list) or add and remove (changes), not both", ErrInvalidCollection)
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	var c Collection
	now := s.now().UTC().Truncate(time.Second)
	if id == "" {
		if in.Name == nil {
			return Collection{}, fmt.Errorf("%w: a name is required", ErrInvalidCollection)
		}
		c = Collection{Created: now, Members: []Member{}}
	} else {
		var err error
		if c, err = s.idx.Collection(ctx, id); err != nil {
			return Collection{}, err
		}
	}
	if in.Name != nil {
		c.Name = strings.TrimSpace(*in.Name)
	}
	if in.Description != nil {
		c.Description = *in.Description
	}
	if err := validName(c.Name); err != nil {
		return Collection{}, err
	}
	if len(c.Description) > MaxCollectionDescription || !utf8.ValidString(c.Description) {
		return Collection{}, fmt.Errorf("%w: the description must be valid UTF-8 of at most %d bytes", ErrInvalidCollection, MaxCollectionDescription)
	}
	if in.Add != nil || in.Remove != nil {
		list := make([]string, 0, len(c.Members)+len(in.Add))
		for _, m := range c.Members {
			if !slices.Contains(in.Remove, m.Metric) {
				list = append(list, m.Metric)
			}
		}
		for _, m := range in.Add {
			if !slices.Contains(list, m) && !slices.Contains(in.Remove, m) {
				list = append(list, m)
			}
		}
		in.Metrics = list
	}
	if in.Metrics != nil {
		members, err := s.members(ctx, c.Members, in)
		if err != nil {
			return Collection{}, err
		}
		c.Members = members
	}
	c.Updated = now
	if id == "" {
		var err error
		if c.ID, err = s.freeID(ctx, c.Name); err != nil {
			return Collection{}, err
		}
	}
	if err := s.idx.PutCollection(ctx, c); err != nil {
		return Collection{}, err
	}
	return c, nil
}

func validName(name string) error {
	if name == "" || len(name) > MaxCollectionName || !utf8.ValidString(name) {
		return fmt.Errorf("%w: the name must be 1 to %d bytes of UTF-8", ErrInvalidCollection, MaxCollectionName)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: the name must not hold control characters", ErrInvalidCollection)
		}
	}
	return nil
}

// members returns the collection's new member list: kept members keep
// their shape, new ones get their shape over the requested window.
func (s *Searcher) members(ctx context.Context, old []Member, in CollectionInput) ([]Member, error) {
	if len(in.Metrics) > MaxCollectionMetrics {
		return nil, fmt.Errorf("%w: at most %d metrics", ErrInvalidCollection, MaxCollectionMetrics)
	}
	st, err := s.idx.Stats(ctx)
	if err != nil {
		return nil, err
	}
	w := Window{From: in.From, Until: in.Until}
	if w == (Window{}) {
		w = st.Window
	}
	n := st.Points
	if n == 0 {
		n = s.cfg.Points
	}
	if !w.Valid() {
		return nil, fmt.Errorf("%w: give a window (from before until), or wait for the first import", ErrInvalidCollection)
	}
	out := make([]Member, 0, len(in.Metrics))
	for _, m := range in.Metrics {
		if m == "" || slices.ContainsFunc(out, func(x Member) bool { return x.Metric == m }) {
			continue
		}
		if i := slices.IndexFunc(old, func(x Member) bool { return x.Metric == m }); i >= 0 {
			out = append(out, old[i])
			continue
		}
		mem := Member{Metric: m, Window: w}
		if d, err := s.idx.Get(ctx, m); err == nil && w == st.Window {
			mem.Values = slices.Clone(d.Values)
		} else {
			if s.st == nil {
				return nil, fmt.Errorf("%w: %s", ErrUnknownMetric, m)
			}
			pts, err := s.st.Fetch(ctx, m, w.From, w.Until-1)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("%w: %s", ErrUnknownMetric, m)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m, err)
			}
			if d, _, ok := Shape(m, pts, w, n, s.cfg.MinPoints, nil); ok {
				mem.Values = d.Values
			}
		}
		out = append(out, mem)
	}
	return out, nil
}

// freeID derives an id from the name ("March disk-full" ->
// "march-disk-full"), with a number appended when it is taken.
func (s *Searcher) freeID(ctx context.Context, name string) (string, error) {
	base := slug(name)
	for i := 1; ; i++ {
		id := base
		if i > 1 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		_, err := s.idx.Collection(ctx, id)
		if errors.Is(err, ErrCollectionNotFound) {
			return id, nil
		}
		if err != nil {
			return "", err
		}
	}
}

func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if unicode.IsLetter(r) && r < utf8.RuneSelf || unicode.IsDigit(r) && r < utf8.RuneSelf {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "collection"
	}
	return b.String()[:min(b.Len(), 64)]
}
