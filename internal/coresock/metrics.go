package coresock

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the transport's Prometheus collectors. One Metrics is shared by
// every Peer that is given it (a server's peers, or all of a process's
// clients), so the series count traffic on the socket as a whole. A nil
// *Metrics counts nothing.
type Metrics struct {
	messagesIn     prometheus.Counter
	messagesOut    prometheus.Counter
	malformed      prometheus.Counter
	oversize       prometheus.Counter
	slowConsumers  prometheus.Counter
	unmatched      prometheus.Counter
	packetsIn      prometheus.Counter
	packetsOut     prometheus.Counter
	connections    prometheus.Gauge
	connectionsAll prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg (nil: keep
// them unregistered, which tests and short-lived clients use). The names
// are fixed, so a process registers one Metrics per registry and hands it to
// all its peers.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_coresock_" + name, Help: help})
	}
	m := &Metrics{
		messagesIn:     c("messages_in_total", "Messages received on core socket connections (each member of a BATCH counts)."),
		messagesOut:    c("messages_out_total", "Messages sent on core socket connections (each member of a BATCH counts)."),
		packetsIn:      c("packets_in_total", "Packets received on core socket connections (a BATCH of several messages counts once)."),
		packetsOut:     c("packets_out_total", "Packets sent on core socket connections (a BATCH of several messages counts once)."),
		malformed:      c("malformed_total", "Received packets that could not be decoded (answered MALFORMED or UNKNOWN_TYPE when the header was readable, else dropped)."),
		oversize:       c("oversize_total", "Received packets larger than the maximum message size."),
		slowConsumers:  c("slow_consumer_disconnects_total", "Connections cut because the other end did not read its messages."),
		unmatched:      c("unmatched_responses_total", "Responses that matched no outstanding request (late after a cancelled call, or bogus)."),
		connectionsAll: c("connections_total", "Connections opened."),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_coresock_connections", Help: "Connections currently open.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.messagesIn, m.messagesOut, m.malformed, m.oversize,
			m.slowConsumers, m.unmatched, m.packetsIn, m.packetsOut, m.connections, m.connectionsAll)
	}
	return m
}

func (m *Metrics) in() {
	if m != nil {
		m.messagesIn.Inc()
	}
}

func (m *Metrics) packetsInN(n int) {
	if m != nil {
		m.packetsIn.Add(float64(n))
	}
}

func (m *Metrics) outN(messages, packets int) {
	if m != nil {
		m.messagesOut.Add(float64(messages))
		m.packetsOut.Add(float64(packets))
	}
}

func (m *Metrics) bad() {
	if m != nil {
		m.malformed.Inc()
	}
}

func (m *Metrics) big() {
	if m != nil {
		m.oversize.Inc()
	}
}

func (m *Metrics) slow() {
	if m != nil {
		m.slowConsumers.Inc()
	}
}

func (m *Metrics) stray() {
	if m != nil {
		m.unmatched.Inc()
	}
}

func (m *Metrics) opened() {
	if m != nil {
		m.connections.Inc()
		m.connectionsAll.Inc()
	}
}

func (m *Metrics) closed() {
	if m != nil {
		m.connections.Dec()
	}
}
