package sipcall

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test stops what it starts: dialers, sipp, RTP sinks.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
