package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Requests naming the server by an IP address, localhost or a configured
// name are served; any other Host (a rebound name) is refused.
func TestHostCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := Start(Config{Listener: ln, Gatherer: prometheus.NewRegistry(), Health: func() error { return nil }, Hosts: []string{"sb.internal"}, Logger: slog.New(slog.DiscardHandler)})
	defer a.Shutdown(context.Background())
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for host, want := range map[string]int{
		ln.Addr().String():       200,
		"localhost:39180":        200,
		"[::1]:39180":            200,
		"sb.internal:39180":      200,
		"attacker.example:39180": http.StatusMisdirectedRequest,
		"attacker.example":       http.StatusMisdirectedRequest,
	} {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/healthz", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
