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
func (s *Scratch) Floats(i, n int) []float64 {
	for len(s.floats) <= i {
		s.floats = append(s.floats, nil)
	}
	if cap(s.floats[i]) < n {
		s.floats[i] = make([]float64, n, n+n/4)
	}
	s.floats[i] = s.floats[i][:n]
	return s.floats[i]
}

// Ints returns slot i as an int64 slice of length n. Its contents are
// whatever the slot held before.
func (s *Scratch) Ints(i, n int) []int64 {
	for len(s.ints) <= i {
		s.ints = append(s.ints, nil)
	}
	if cap(s.ints[i]) < n {
		s.ints[i] = make([]int64, n, n+n/4)
	}
	s.ints[i] = s.ints[i][:n]
	return s.ints[i]
}
