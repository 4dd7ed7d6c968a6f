package smpp_test

import (
	"flag"
	"time"
)

var (
	load        = flag.Bool("load", false, "run the throughput tests (TestLoad*)")
	loadDur     = flag.Duration("load-duration", 10*time.Second, "how long each load test submits")
	relayWindow = flag.Int("relay-window", 400, "core peer_window and uplink window in TestLoadRelay")
)
