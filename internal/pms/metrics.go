package pms

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the store's Prometheus collectors. They are created once per
// registry and outlive any one Store, so a store reopened in the same
// process (tests, archive) reports into the same series.
type Metrics struct {
	appends      prometheus.Counter
	updates      prometheus.Counter
	syncs        prometheus.Counter
	writeErrors  prometheus.Counter
	tornRecords  prometheus.Counter
	batchRecords prometheus.Histogram
	syncSeconds  prometheus.Histogram
	active       prometheus.Gauge
	fileBytes    prometheus.Gauge
	historicalMB prometheus.Gauge
	preallocated prometheus.Gauge
	// preallocWaits counts appends that waited for the zero tail.
	preallocWaits prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg (nil: keep
// them unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		appends: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_pms_appended_records_total", Help: "Records appended to the message store.",
		}),
		updates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_pms_state_updates_total", Help: "In-place state updates of active records.",
		}),
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_pms_syncs_total", Help: "Flushes to disk (fdatasync, or a write with RWF_DSYNC), one per group commit.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_pms_write_errors_total", Help: "Failed writes or syncs; the store stops accepting writes after one.",
		}),
		tornRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_pms_torn_records_cut_total", Help: "Unacknowledged records cut from the tail at startup.",
		}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "switchboard_pms_batch_records", Help: "Records appended per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13),
		}),
		syncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "switchboard_pms_sync_seconds", Help: "Duration of a flush to disk (fdatasync, or a write with RWF_DSYNC including the write).",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 14),
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_pms_active_records", Help: "Active (not yet historical) records.",
		}),
		fileBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_pms_file_bytes", Help: "Bytes of records in pms.bin (its zero tail not counted).",
		}),
		historicalMB: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_pms_historical_megabytes", Help: "Leading megabytes of pms.bin holding only historical records.",
		}),
		preallocated: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_pms_allocated_bytes", Help: "Size of pms.bin, its zero tail included, as of the last extension.",
		}),
		preallocWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_pms_preallocation_waits_total", Help: "Group commits that waited for the zero tail to be extended.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.appends, m.updates, m.syncs, m.writeErrors, m.tornRecords,
			m.batchRecords, m.syncSeconds, m.active, m.fileBytes, m.historicalMB,
			m.preallocated, m.preallocWaits)
	}
	return m
}

func (m *Metrics) set(s *Store) {
	m.active.Set(float64(s.activePub.Load()))
	m.fileBytes.Set(float64((s.nextPub.Load() - s.base) * RecordSize))
	m.historicalMB.Set(float64(s.histMBPub.Load()))
}
