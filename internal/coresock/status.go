package coresock

import "fmt"

// Status is the result code that starts every response body. The numbering is
// part of the wire protocol and is printed by other tools, so a value once
// assigned never changes meaning; new codes are only ever appended.
type Status uint16

// Status codes. OK is the only success; every other code says why a request
// was not carried out. The one-line descriptions are in Status.Description
// and in docs/core-socket.md.
const (
	StatusOK                             Status = 0
	StatusMalformed                      Status = 1
	StatusUnknownType                    Status = 2
	StatusUnroutable                     Status = 3
	StatusInvalidNumber                  Status = 4
	StatusNotSMSCapable                  Status = 5
	StatusUpstreamNotPermitted           Status = 6
	StatusUnknownDestinationFromUpstream Status = 7
	StatusPIDNotAllowed                  Status = 8
	StatusDCSNotAllowed                  Status = 9
	StatusBadLength                      Status = 10
	StatusSourceNotAllowed               Status = 11
	StatusStoreFailed                    Status = 12
	StatusRoleTaken                      Status = 13
	StatusNotRegistered                  Status = 14
	StatusNotFound                       Status = 15
	StatusNotActive                      Status = 16
	StatusShuttingDown                   Status = 17
	StatusTemporaryFailure               Status = 18
	StatusPermanentFailure               Status = 19
	StatusBadRole                        Status = 20
	StatusTooBusy                        Status = 21
)

// statusInfo holds the name and description of every assigned code, indexed
// by the code, so that String and Description cost no allocation.
var statusInfo = [...]struct{ name, desc string }{
	StatusOK:                             {"OK", "success"},
	StatusMalformed:                      {"MALFORMED", "the request could not be decoded"},
	StatusUnknownType:                    {"UNKNOWN_TYPE", "the receiver does not know or does not accept this message type"},
	StatusUnroutable:                     {"UNROUTABLE", "no route leads to the destination"},
	StatusInvalidNumber:                  {"INVALID_NUMBER", "an address is invalid (not a valid NANP number or address field)"},
	StatusNotSMSCapable:                  {"NOT_SMS_CAPABLE", "the destination number cannot receive SMS"},
	StatusUpstreamNotPermitted:           {"UPSTREAM_NOT_PERMITTED", "the sender lacks the SMS-provisioned flag needed to send to the uplink"},
	StatusUnknownDestinationFromUpstream: {"UNKNOWN_DESTINATION_FROM_UPSTREAM", "an SM from the uplink is addressed to a number that is not ours"},
	StatusPIDNotAllowed:                  {"PID_NOT_ALLOWED", "the protocol identifier is not allowed on this path"},
	StatusDCSNotAllowed:                  {"DCS_NOT_ALLOWED", "the data coding scheme is not allowed on this path"},
	StatusBadLength:                      {"BAD_LENGTH", "the user data and its length (UDL) are inconsistent"},
	StatusSourceNotAllowed:               {"SOURCE_NOT_ALLOWED", "the sender may not use this source address"},
	StatusStoreFailed:                    {"STORE_FAILED", "nothing was stored; try again later"},
	StatusRoleTaken:                      {"ROLE_TAKEN", "another client already holds this role"},
	StatusNotRegistered:                  {"NOT_REGISTERED", "the request needs a registered role handler"},
	StatusNotFound:                       {"NOT_FOUND", "no message matches the selector"},
	StatusNotActive:                      {"NOT_ACTIVE", "the message is already historical"},
	StatusShuttingDown:                   {"SHUTTING_DOWN", "the receiver is shutting down"},
	StatusTemporaryFailure:               {"TEMPORARY_FAILURE", "the role handler could not do it now; try again later"},
	StatusPermanentFailure:               {"PERMANENT_FAILURE", "the role handler will never be able to do it"},
	StatusBadRole:                        {"BAD_ROLE", "the role is unknown or its peer name is not allowed for it"},
	StatusTooBusy:                        {"TOO_BUSY", "the receiver is overloaded; try again later"},
}

// String returns the code's protocol name, such as "ROLE_TAKEN", or
// "STATUS_n" for a code this build does not know.
func (s Status) String() string {
	if int(s) < len(statusInfo) {
		return statusInfo[s].name
	}
	return fmt.Sprintf("STATUS_%d", uint16(s))
}

// Description returns a one-line human explanation of the code.
func (s Status) Description() string {
	if int(s) < len(statusInfo) {
		return statusInfo[s].desc
	}
	return "unknown status code"
}

// Known reports whether this build assigns a meaning to the code.
func (s Status) Known() bool { return int(s) < len(statusInfo) }

// Temporary reports whether the same request may succeed if sent again later
// unchanged, which is what a client uses to decide between retrying and
// giving up.
func (s Status) Temporary() bool {
	switch s {
	case StatusStoreFailed, StatusShuttingDown, StatusTemporaryFailure, StatusTooBusy:
		return true
	}
	return false
}

// AllStatuses returns every assigned code in numeric order; the docs test uses
// it to check that the status table is complete.
func AllStatuses() []Status {
	out := make([]Status, len(statusInfo))
	for i := range out {
		out[i] = Status(i)
	}
	return out
}

// StatusError is the error form of a non-OK status, for callers that prefer
// to handle a refusal as an error (Peer.Call reports it as a Status instead).
type StatusError struct {
	Status Status
	Reason uint16
}

func (e *StatusError) Error() string {
	if e.Reason != 0 {
		return fmt.Sprintf("coresock: %s (reason %d): %s", e.Status, e.Reason, e.Status.Description())
	}
	return fmt.Sprintf("coresock: %s: %s", e.Status, e.Status.Description())
}
