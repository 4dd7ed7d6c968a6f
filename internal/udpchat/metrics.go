package udpchat

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the UDP chat server's Prometheus collectors.
type Metrics struct {
	clients       prometheus.Gauge
	received      prometheus.Counter
	sent          prometheus.Counter
	dropped       prometheus.Counter
	sendErrors    prometheus.Counter
	readErrors    prometheus.Counter
	registrations prometheus.Counter
	expired       prometheus.Counter
	broadcasts    prometheus.Counter
	privates      prometheus.Counter
	undeliverable prometheus.Counter
	badVec        *prometheus.CounterVec
	refusedVec    *prometheus.CounterVec

	byReason sync.Map // "vec/reason" → prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg (nil:
// unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_udpchat_" + name, Help: help})
	}
	m := &Metrics{
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_udpchat_clients", Help: "Registered UDP chat clients."}),
		received:      c("datagrams_received_total", "Datagrams read."),
		sent:          c("datagrams_sent_total", "Datagrams sent."),
		dropped:       c("datagrams_dropped_total", "Datagrams not sent because the send queue was full."),
		sendErrors:    c("send_errors_total", "Failed sends (the datagram was skipped)."),
		readErrors:    c("read_errors_total", "Socket read errors other than shutdown."),
		registrations: c("registrations_total", "Successful registrations."),
		expired:       c("sessions_expired_total", "Sessions ended because their address fell silent."),
		broadcasts:    c("broadcasts_total", "Broadcasts stored and forwarded."),
		privates:      c("private_messages_total", "Private messages stored and forwarded."),
		undeliverable: c("undeliverable_total", "Pushed messages too large for a datagram (left for SYNC)."),
		badVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_udpchat_bad_input_total", Help: "Datagrams dropped or answered with Error for their form or rate, by reason."}, []string{"reason"}),
		refusedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_udpchat_refused_total", Help: "Well-formed requests refused, by reason."}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.clients, m.received, m.sent, m.dropped, m.sendErrors, m.readErrors, m.registrations,
			m.expired, m.broadcasts, m.privates, m.undeliverable, m.badVec, m.refusedVec)
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

func (m *Metrics) bad(reason string)     { m.counter(m.badVec, "bad", reason).Inc() }
func (m *Metrics) refused(reason string) { m.counter(m.refusedVec, "refused", reason).Inc() }
