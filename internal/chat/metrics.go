package chat

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the chat service's Prometheus collectors.
type Metrics struct {
	online     prometheus.Gauge
	posted     prometheus.Counter
	duplicates prometheus.Counter
	deliveries prometheus.Counter
	smsIn      prometheus.Counter
	smsOut     prometheus.Counter
	readErrors prometheus.Counter
	// historyCached and historyRead count the messages History served
	// from the cache of recent messages and from the store.
	historyCached prometheus.Counter
	historyRead   prometheus.Counter
	// groupsLeft counts groups a session stopped following because it
	// joined more than MaxGroups.
	groupsLeft prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg (nil:
// unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		online: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_chat_online_users", Help: "Users logged in on any chat front-end."}),
		posted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_chat_messages_total", Help: "Chat messages stored."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_chat_duplicates_total", Help: "Resent chat messages answered with the original instead of stored again."}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_chat_deliveries_total", Help: "Messages handed to connected users' endpoints."}),
		smsIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_chat_sms_received_total", Help: "SMS shown to the chat user owning the number."}),
		smsOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_chat_sms_sent_total", Help: "SMS sent by chat users from their numbers."}),
		readErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_chat_history_read_errors_total", Help: "Indexed records that could not be read back for SYNC."}),
		historyCached: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_chat_history_cached_total", Help: "Messages SYNC returned from the cache of recent messages."}),
		historyRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_chat_history_read_total", Help: "Messages SYNC read from the store."}),
		groupsLeft: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_chat_groups_left_total", Help: "Groups sessions stopped following because they joined more than max_groups."}),
	}
	if reg != nil {
		reg.MustRegister(m.online, m.posted, m.duplicates, m.deliveries, m.smsIn, m.smsOut, m.readErrors,
			m.historyCached, m.historyRead, m.groupsLeft)
	}
	return m
}
