// Package sipcall places outgoing phone calls over SIP for notifications:
// it sends an INVITE through a configured trunk or proxy (UDP), waits while
// the far end rings, plays a short announcement as G.711 over RTP once the
// call is answered, and hangs up. The restaurant pager uses it for its
// "place a phone call" option (seed 000, options bit 3).
//
// A Dialer owns one SIP user agent bound to Config.LocalIP; every Call has a
// dialog of its own and an RTP socket of its own, so calls may run
// concurrently up to Config.MaxCalls. Call blocks until the call has ended
// and maps the outcome to the sentinel errors of this package (ErrBusy,
// ErrNoAnswer, ErrRejected, ...), whose text carries the SIP status.
//
// Phone numbers are personal data: they go into the SIP request only,
// never into a log line or an error text. Logs name the call by its SIP
// Call-ID. The SIP library's own log output is reduced to its constant
// messages at debug level (redact.go), because some of its log lines carry
// whole SIP messages.
//
// The wire details (call ladder, SDP offer, announcement format, timers,
// error mapping) are in docs/sipcall.md.
package sipcall
