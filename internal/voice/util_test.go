package voice

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func timeUnix(ns int64) time.Time { return time.Unix(0, ns) }
