package voice

import "github.com/prometheus/client_golang/prometheus"

// Drop reasons of the relay: indexes into dropReasons, whose names are
// the label values of packets_dropped_total.
const (
	dropSize     = iota // not exactly 512 bytes
	dropChecksum        // a system packet with a wrong checksum
	dropOp              // the magic but a non-negative op
	dropSystem          // a system op users may not send (only KEEPALIVE)
	dropUnknown         // the uid has not joined this channel
	dropSpoofed         // the uid is bound to another source address
	dropInvalid         // a uid with a forbidden half, or zero
	dropAckRate         // a KEEPALIVE asking for an ACK beyond the member's ACK budget
	numDrops
)

var dropReasons = [numDrops]string{"size", "checksum", "op", "system_op", "unknown_uid", "spoofed", "invalid_uid", "ack_rate"}

// Metrics are the voice service's Prometheus series. A nil *Metrics
// records nothing (tests and benchmarks that do not care).
type Metrics struct {
	requests     *prometheus.CounterVec
	controlErrs  *prometheus.CounterVec
	received     prometheus.Counter
	forwarded    prometheus.Counter
	sendErrors   prometheus.Counter
	dropped      *prometheus.CounterVec
	dropCounters [numDrops]prometheus.Counter
	bound        prometheus.Counter
	expired      prometheus.Counter
	acks         prometheus.Counter
	gsoFallback  prometheus.Counter
	channels     prometheus.Gauge
	members      prometheus.Gauge
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_voice_control_requests_total",
			Help: "KV control requests by command and result (ok or the error code's name).",
		}, []string{"command", "result"}),
		controlErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_voice_control_protocol_errors_total",
			Help: "KV control connections ended by bad input: short (closed mid-request), timeout, unknown_command, rate_limited, too_many_connections.",
		}, []string{"reason"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_voice_packets_received_total",
			Help: "Datagrams received on channel sockets.",
		}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_voice_packets_forwarded_total",
			Help: "Datagrams sent to channel members (one per receiving member).",
		}),
		sendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_voice_send_errors_total",
			Help: "Datagrams the kernel refused to send to a member.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_voice_packets_dropped_total",
			Help: "Datagrams dropped unforwarded, by reason.",
		}, []string{"reason"}),
		bound: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_voice_members_bound_total",
			Help: "Members whose UDP source address was bound by their first packet after JOIN.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_voice_members_expired_total",
			Help: "Members removed for sending nothing within the keepalive timeout.",
		}),
		acks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_voice_acks_sent_total",
			Help: "Signed ACK system packets sent in answer to an ack id.",
		}),
		gsoFallback: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_voice_gso_fallbacks_total",
			Help: "Channel sockets that send one datagram per message because the kernel does not support or refused UDP GSO (voice.gso on).",
		}),
		channels: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_voice_channels",
			Help: "Channels that exist.",
		}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_voice_members",
			Help: "Channel memberships that exist.",
		}),
	}
	reg.MustRegister(m.requests, m.controlErrs, m.received, m.forwarded, m.sendErrors, m.dropped,
		m.bound, m.expired, m.acks, m.gsoFallback, m.channels, m.members)
	for i, r := range dropReasons {
		m.dropCounters[i] = m.dropped.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) request(cmd Command, code ErrorCode) {
	if m == nil {
		return
	}
	result := "ok"
	if code != CodeSuccess {
		result = code.String()
	}
	m.requests.WithLabelValues(cmd.String(), result).Inc()
}

func (m *Metrics) protocolError(reason string) {
	if m != nil {
		m.controlErrs.WithLabelValues(reason).Inc()
	}
}

// relayCounts are one batch's counters, added to the shared series once
// per batch rather than once per packet.
type relayCounts struct {
	received, forwarded, sendErrors, bound, acks uint64
	dropped                                      [numDrops]uint64
}

func (m *Metrics) addRelay(c *relayCounts) {
	if m == nil {
		return
	}
	if c.received > 0 {
		m.received.Add(float64(c.received))
	}
	if c.forwarded > 0 {
		m.forwarded.Add(float64(c.forwarded))
	}
	if c.sendErrors > 0 {
		m.sendErrors.Add(float64(c.sendErrors))
	}
	if c.bound > 0 {
		m.bound.Add(float64(c.bound))
	}
	if c.acks > 0 {
		m.acks.Add(float64(c.acks))
	}
	for i, n := range c.dropped {
		if n > 0 {
			m.dropCounters[i].Add(float64(n))
		}
	}
}

func (m *Metrics) setGauges(channels, members int) {
	if m != nil {
		m.channels.Set(float64(channels))
		m.members.Set(float64(members))
	}
}

func (m *Metrics) expiredInc(n int) {
	if m != nil && n > 0 {
		m.expired.Add(float64(n))
	}
}

func (m *Metrics) gsoFallbackInc() {
	if m != nil {
		m.gsoFallback.Inc()
	}
}
