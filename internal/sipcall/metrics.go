package sipcall

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dialer's Prometheus series. They exist (and count) even
// when no Registerer was given, so that the code never checks for nil.
type metrics struct {
	calls       *prometheus.CounterVec // by result
	active      prometheus.Gauge
	responses   *prometheus.CounterVec // final and provisional SIP responses by class
	rtpPackets  prometheus.Counter
	rtpErrors   prometheus.Counter
	badSDP      prometheus.Counter
	unmatched   prometheus.Counter // responses matching no transaction
	farEndHangs prometheus.Counter
	libProblems prometheus.Counter // what the SIP library dropped or failed at
}

// callResults are the values of the result label, one per outcome.
var callResults = []string{"answered", "busy", "no_answer", "rejected", "unreachable", "media", "canceled", "closed", "too_many_calls", "invalid_number", "error"}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_sipcall_calls_total",
			Help: "Outgoing SIP calls by result.",
		}, []string{"result"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_sipcall_active_calls",
			Help: "Outgoing SIP calls in progress.",
		}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_sipcall_responses_total",
			Help: "SIP responses received to INVITEs, by status class (1xx-6xx).",
		}, []string{"class"}),
		rtpPackets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_sipcall_rtp_packets_sent_total",
			Help: "RTP packets of announcements sent.",
		}),
		rtpErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_sipcall_rtp_send_errors_total",
			Help: "RTP packets that could not be sent.",
		}),
		badSDP: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_sipcall_bad_sdp_total",
			Help: "Answered calls hung up because the SDP answer was unusable.",
		}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_sipcall_unmatched_responses_total",
			Help: "SIP responses that matched no transaction (late retransmissions, strays).",
		}),
		farEndHangs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_sipcall_far_end_hangups_total",
			Help: "Answered calls the far end hung up before the announcement ended.",
		}),
		libProblems: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_sipcall_sip_problems_total",
			Help: "Warnings and errors of the SIP stack: malformed datagrams dropped, socket errors.",
		}),
	}
	for _, r := range callResults {
		m.calls.WithLabelValues(r)
	}
	for c := 1; c <= 6; c++ {
		m.responses.WithLabelValues(fmt.Sprintf("%dxx", c))
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.active, m.responses, m.rtpPackets, m.rtpErrors, m.badSDP, m.unmatched, m.farEndHangs, m.libProblems} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("%w: Registerer: %w", ErrInvalidConfig, err)
		}
	}
	return m, nil
}

// resultLabel maps the error Call returns to the result label.
func resultLabel(err error) string {
	switch {
	case err == nil:
		return "answered"
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.Is(err, ErrNoAnswer):
		return "no_answer"
	case errors.Is(err, ErrRejected):
		return "rejected"
	case errors.Is(err, ErrUnreachable):
		return "unreachable"
	case errors.Is(err, ErrMedia):
		return "media"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, ErrTooManyCalls):
		return "too_many_calls"
	case errors.Is(err, ErrInvalidNumber):
		return "invalid_number"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "error"
}
