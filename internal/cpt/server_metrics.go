package cpt

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the CPT server's Prometheus collectors.
type Metrics struct {
	conns         prometheus.Gauge
	parked        prometheus.Gauge
	lines         prometheus.Counter
	logins        prometheus.Counter
	sends         prometheus.Counter
	syncs         prometheus.Counter
	slowConsumers prometheus.Counter
	refusedVec    *prometheus.CounterVec
	declinedVec   *prometheus.CounterVec
	badInputVec   *prometheus.CounterVec

	// byReason caches the labelled counters: WithLabelValues hashes and
	// locks on every call, and the reasons are a small fixed set.
	byReason sync.Map // string → prometheus.Counter, keyed "vec/reason"
}

// NewMetrics creates the collectors and registers them with reg (nil:
// unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_cpt_connections", Help: "CPT connections open."}),
		parked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_cpt_parked_connections", Help: "Idle CPT connections waiting without a goroutine."}),
		lines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_cpt_lines_total", Help: "Command lines read from CPT clients."}),
		logins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_cpt_logins_total", Help: "CONNECTs accepted."}),
		sends: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_cpt_sends_total", Help: "SEND commands taken."}),
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_cpt_syncs_total", Help: "SYNC commands answered."}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_cpt_slow_consumers_total", Help: "Clients disconnected because their send queue overflowed."}),
		refusedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_cpt_connections_refused_total", Help: "Connections refused or failed before serving, by reason."}, []string{"reason"}),
		declinedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_cpt_declines_total", Help: "DECLINE lines sent, by reason."}, []string{"reason"}),
		badInputVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_cpt_bad_input_total", Help: "Malformed, oversized or excess client input, by reason."}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.conns, m.parked, m.lines, m.logins, m.sends, m.syncs, m.slowConsumers,
			m.refusedVec, m.declinedVec, m.badInputVec)
	}
	return m
}

func (m *Metrics) counter(vec *prometheus.CounterVec, kind, reason string) prometheus.Counter {
	key := kind + "/" + reason
	if c, ok := m.byReason.Load(key); ok {
		return c.(prometheus.Counter)
	}
	c := vec.WithLabelValues(reason)
	m.byReason.Store(key, c)
	return c
}

func (m *Metrics) refused(reason string)  { m.counter(m.refusedVec, "refused", reason).Inc() }
func (m *Metrics) declines(reason string) { m.counter(m.declinedVec, "declined", reason).Inc() }
func (m *Metrics) badInput(reason string) { m.counter(m.badInputVec, "bad", reason).Inc() }

// sendRefused counts a SEND's DECLINE, which is written by resolve
// rather than decline.
func (m *Metrics) sendRefused(reason string) { m.declines(reason) }
