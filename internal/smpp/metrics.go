package smpp

import (
	"github.com/prometheus/client_golang/prometheus"

	"switchboard/internal/promvec"
	"switchboard/internal/smpp/pdu"
)

// Metrics are the SMPP layer's Prometheus collectors, shared by every
// session of a process (server and uplink). A nil *Metrics counts nothing.
type Metrics struct {
	sessions    prometheus.Gauge
	sessionsAll prometheus.Counter
	// The vectors counted per PDU keep their children (promvec).
	pdusIn        *promvec.Counters
	pdusOut       *promvec.Counters
	respStatus    *promvec.Counters
	malformedPDUs *prometheus.CounterVec
	slowConsumers prometheus.Counter
	unmatchedResp prometheus.Counter
	timeouts      prometheus.Counter
	bindFailures  *prometheus.CounterVec
	submits       *promvec.Counters
	delivers      *promvec.Counters
	uplinkBound   prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg (nil keeps
// them unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_smpp_" + name, Help: help})
	}
	v := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_smpp_" + name, Help: help}, labels)
	}
	kept := func(name, help, label string) *promvec.Counters { return promvec.New(v(name, help, label)) }
	m := &Metrics{
		sessions:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_smpp_sessions", Help: "SMPP sessions open (server and uplink)."}),
		sessionsAll:   c("sessions_total", "SMPP sessions opened."),
		pdusIn:        kept("pdus_in_total", "PDUs received, by command (unknown ones as \"other\").", "command"),
		pdusOut:       kept("pdus_out_total", "PDUs sent, by command.", "command"),
		respStatus:    kept("responses_in_total", "Responses received, by command_status.", "status"),
		malformedPDUs: v("malformed_total", "PDUs that could not be decoded, by the status they were answered with.", "status"),
		slowConsumers: c("slow_consumer_disconnects_total", "Sessions cut because the far end did not read."),
		unmatchedResp: c("unmatched_responses_total", "Responses that matched no outstanding request."),
		timeouts:      c("response_timeouts_total", "Requests that got no response in time."),
		bindFailures:  v("bind_failures_total", "Refused binds, by reason.", "reason"),
		submits:       kept("submits_total", "Messages received for the core (submit_sm, data_sm, MO deliver_sm), by result status.", "status"),
		delivers:      kept("delivers_total", "Messages handed on (deliver_sm to peers, submit_sm to the upstream), by result.", "result"),
		uplinkBound:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_smpp_uplink_bound", Help: "1 while the uplink is bound."}),
	}
	if reg != nil {
		reg.MustRegister(m.sessions, m.sessionsAll, m.pdusIn.Vec(), m.pdusOut.Vec(), m.respStatus.Vec(), m.malformedPDUs,
			m.slowConsumers, m.unmatchedResp, m.timeouts, m.bindFailures, m.submits.Vec(), m.delivers.Vec(), m.uplinkBound)
	}
	return m
}

func (m *Metrics) sessionOpened() {
	if m != nil {
		m.sessions.Inc()
		m.sessionsAll.Inc()
	}
}

func (m *Metrics) sessionClosed() {
	if m != nil {
		m.sessions.Dec()
	}
}

func (m *Metrics) pduIn(c pdu.CommandID) {
	if m != nil {
		m.pdusIn.Inc(commandLabel(c))
	}
}

func (m *Metrics) pduOut(c pdu.CommandID) {
	if m != nil {
		m.pdusOut.Inc(commandLabel(c))
	}
}

func (m *Metrics) responseIn(st pdu.Status) {
	if m != nil {
		m.respStatus.Inc(statusLabel(st))
	}
}

// commandLabel is a command as a metric label: unknown ones (a far end
// can send any 32-bit id) share one, so they cannot grow a series each.
func commandLabel(c pdu.CommandID) string {
	if c.Known() {
		return c.String()
	}
	return "other"
}

// statusLabel is a status as a metric label. A far end can send any
// 32-bit value: unknown ones share one label, so it cannot make us grow a
// series per value.
func statusLabel(st pdu.Status) string {
	if st.Known() {
		return st.String()
	}
	return "other"
}

func (m *Metrics) malformed(reason string) {
	if m != nil {
		m.malformedPDUs.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) slowConsumer() {
	if m != nil {
		m.slowConsumers.Inc()
	}
}

func (m *Metrics) unmatched() {
	if m != nil {
		m.unmatchedResp.Inc()
	}
}

func (m *Metrics) timeout() {
	if m != nil {
		m.timeouts.Inc()
	}
}

func (m *Metrics) bindFailed(reason string) {
	if m != nil {
		m.bindFailures.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) submitted(st pdu.Status) {
	if m != nil {
		m.submits.Inc(statusLabel(st))
	}
}

func (m *Metrics) delivered(result string) {
	if m != nil {
		m.delivers.Inc(result)
	}
}

func (m *Metrics) setUplinkBound(up bool) {
	if m != nil {
		v := 0.0
		if up {
			v = 1
		}
		m.uplinkBound.Set(v)
	}
}
