package algorithms

// Scratch is reusable working memory for detectors, so that analysing a
// metric allocates nothing once the buffers have grown. One Scratch per
// goroutine; the zero value is ready. Detectors document which slots they
// use; a detector never calls another while it holds a slot the other uses.
type Scratch struct {
	floats [][]float64
	ints   [][]int64
}

// Floats returns slot i as a float64 slice of length n. Its contents are
// whatever the slot held before.
func (s *Scratch) Floats(i, n int) []float64 { return slot(&s.floats, i, n) }

// Ints returns slot i as an int64 slice of length n. Its contents are
// whatever the slot held before.
func (s *Scratch) Ints(i, n int) []int64 { return slot(&s.ints, i, n) }

// slot returns (*slots)[i] resized to n, growing it by a quarter beyond n
// when it must be reallocated.
func slot[T any](slots *[][]T, i, n int) []T {
	for len(*slots) <= i {
		*slots = append(*slots, nil)
	}
	if cap((*slots)[i]) < n {
		(*slots)[i] = make([]T, n, n+n/4)
	}
	(*slots)[i] = (*slots)[i][:n]
	return (*slots)[i]
}
