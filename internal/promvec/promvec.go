// Package promvec keeps the children of a one-label Prometheus counter
// vector once they are made. CounterVec.WithLabelValues hashes the value
// and takes a lock on every call, which on a path taken once or more per
// message (every PDU, every discharge) costs a few per cent of the CPU.
package promvec

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Counters is a counter vector of one label whose children are kept by
// label value. The values must come from a small set fixed by the code
// (never straight from the wire), since every value seen is kept.
type Counters struct {
	vec  *prometheus.CounterVec
	kids sync.Map // label value → prometheus.Counter
}

// New wraps vec, which has exactly one label.
func New(vec *prometheus.CounterVec) *Counters { return &Counters{vec: vec} }

// Vec is the wrapped vector, to register.
func (c *Counters) Vec() *prometheus.CounterVec { return c.vec }

// With returns the child for value.
func (c *Counters) With(value string) prometheus.Counter {
	if k, ok := c.kids.Load(value); ok {
		return k.(prometheus.Counter)
	}
	k, _ := c.kids.LoadOrStore(value, c.vec.WithLabelValues(value))
	return k.(prometheus.Counter)
}

// Inc adds one to the child for value.
func (c *Counters) Inc(value string) { c.With(value).Inc() }
