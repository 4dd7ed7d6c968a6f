//go:build !linux

package cpt

import "github.com/prometheus/client_golang/prometheus"

// parker is Linux-only; elsewhere every connection keeps its goroutine.
type parker struct{}

func newParker(prometheus.Gauge) (*parker, error) { return nil, nil }
func (p *parker) park(*conn) bool                 { return false }
func (p *parker) unpark(*conn) bool               { return false }
func (p *parker) close()                          {}
