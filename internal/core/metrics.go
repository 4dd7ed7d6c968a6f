package core

import (
	"errors"
	"strings"
	"sync/atomic"

	"switchboard/internal/pms"
	"switchboard/internal/promvec"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the core's Prometheus collectors.
type Metrics struct {
	submits prometheus.Counter
	// socketBusy counts core-socket requests answered TOO_BUSY because
	// their client had maxBackground in flight.
	socketBusy prometheus.Counter
	accepted   *prometheus.CounterVec
	// acceptedBy caches accepted's counters by class, made on first use
	// (WithLabelValues hashes and locks on every call).
	acceptedBy    [6]atomic.Pointer[prometheus.Counter]
	rejected      *promvec.Counters
	duplicates    prometheus.Counter
	discharged    *promvec.Counters
	statusReports prometheus.Counter
	retries       prometheus.Counter
	retaken       prometheus.Counter
	imsiCacheHits prometheus.Counter
	active        prometheus.Gauge
	ephemeral     prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg (nil:
// unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		submits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_core_submits_total", Help: "SMSC_REQ_SUBMIT requests."}),
		socketBusy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_core_socket_busy_total", Help: "Core-socket requests answered TOO_BUSY: their client had too many in flight."}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_core_accepted_total", Help: "SMs accepted, by destination class."}, []string{"dst"}),
		rejected: promvec.New(prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_core_rejected_total", Help: "SMs rejected at admission, by reason."}, []string{"reason"})),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_core_duplicates_total", Help: "Resubmissions answered with the original id."}),
		discharged: promvec.New(prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_core_discharged_total", Help: "SMs made historical, by disposition."}, []string{"disposition"})),
		statusReports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_core_status_reports_total", Help: "Status reports created."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_core_retries_total", Help: "Temporary failures scheduled for retry."}),
		retaken: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_core_custody_retaken_total", Help: "SMs taken back from a GSM MT handler that went away."}),
		imsiCacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_core_imsi_cache_hits_total", Help: "MSISDN-to-IMSI lookups answered from the cache."}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_core_active_sms", Help: "Active SMs held in the core's queues."}),
		ephemeral: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_core_ephemeral_total", Help: "Ephemeral (RAM-only) SMs accepted."}),
	}
	if reg != nil {
		reg.MustRegister(m.submits, m.socketBusy, m.accepted, m.rejected.Vec(), m.duplicates, m.discharged.Vec(),
			m.statusReports, m.retries, m.retaken, m.imsiCacheHits, m.active, m.ephemeral)
	}
	return m
}

func (m *Metrics) acceptedFor(cl pms.Class) prometheus.Counter {
	if int(cl) >= len(m.acceptedBy) {
		return m.accepted.WithLabelValues(cl.String())
	}
	if p := m.acceptedBy[cl].Load(); p != nil {
		return *p
	}
	ctr := m.accepted.WithLabelValues(cl.String())
	m.acceptedBy[cl].Store(&ctr)
	return ctr
}

// rejection counts err, if it is one of the core's rejections (nil and
// other errors count nothing).
func (m *Metrics) rejection(err error) {
	var e *Error
	if errors.As(err, &e) {
		m.rejected.Inc(statusLabel(e.Status))
	}
}

// statusLabel is the metric label of a rejection: the status name in
// lower case, a small fixed set.
func statusLabel(s Status) string { return strings.ToLower(s.String()) }
