package pager

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the pager's Prometheus collectors. Labels are small fixed
// sets; no number, client id or address ever becomes a label.
type Metrics struct {
	dropped   *prometheus.CounterVec
	accepted  prometheus.Counter
	requests  *prometheus.CounterVec
	pushes    *prometheus.CounterVec
	waitlist  prometheus.Gauge
	stations  prometheus.Gauge
	dropShort prometheus.Counter
	dropMagic prometheus.Counter
	dropAuth  prometheus.Counter
}

// Drop reasons, the values of the "reason" label.
const (
	dropShort     = "short"
	dropMagic     = "magic"
	dropAuth      = "auth"
	dropStale     = "stale"
	dropReplay    = "replay"
	dropUnknown   = "unknown_client"
	dropMalformed = "malformed"
	dropProof     = "bad_proof"
	dropStrayAck  = "stray_ack"
)

// NewMetrics creates the collectors and registers them with reg (nil:
// unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_pager_dropped_total", Help: "Datagrams dropped without an answer, by reason."}, []string{"reason"}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_pager_datagrams_total", Help: "Datagrams that authenticated and were accepted."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_pager_requests_total", Help: "Requests answered, by operation and status."}, []string{"op", "status"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_pager_pushes_total", Help: "Waitlist updates pushed to stations, by event."}, []string{"event"}),
		waitlist: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_pager_waitlist_numbers", Help: "Numbers on the waitlist (RAM only)."}),
		stations: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_pager_stations", Help: "Registered host stations."}),
	}
	// The reasons a flood hits are resolved once: WithLabelValues hashes
	// and locks on every call.
	m.dropShort = m.dropped.WithLabelValues(dropShort)
	m.dropMagic = m.dropped.WithLabelValues(dropMagic)
	m.dropAuth = m.dropped.WithLabelValues(dropAuth)
	if reg != nil {
		reg.MustRegister(m.dropped, m.accepted, m.requests, m.pushes, m.waitlist, m.stations)
	}
	return m
}

func (m *Metrics) drop(reason string) { m.dropped.WithLabelValues(reason).Inc() }
