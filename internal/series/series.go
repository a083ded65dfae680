// Package series holds the data types shared by every Kale component: a
// datapoint, a named sample as it travels from a listener to the store, and
// the codec of Skyline's Redis value format (see codec.go).
//
// Timestamps are whole UNIX seconds, as in Graphite: carbon sends floats, and
// Kale truncates them toward zero when it parses them. Values are float64 and
// are kept bit-exact from the wire to the store.
package series

// Point is one datapoint of a series.
type Point struct {
	Timestamp int64   // UNIX epoch seconds
	Value     float64 // never NaN or ±Inf once it has passed Horizon's filters
}

// Sample is a datapoint with the base name of its metric (the Graphite path,
// without Skyline's "metrics." namespace), as produced by Horizon's parsers.
type Sample struct {
	Name string
	Point
}
