package loadstat

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	if a, b, c := Percentiles([]int{}); a != 0 || b != 0 || c != 0 {
		t.Fatalf("empty: %d %d %d", a, b, c)
	}
	s := make([]int, 0, 200)
	for i := 200; i > 0; i-- {
		s = append(s, i)
	}
	if p50, p99, max := Percentiles(s); p50 != 101 || p99 != 199 || max != 200 {
		t.Fatalf("1..200: p50 %d p99 %d max %d", p50, p99, max)
	}
}

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# HELP x y\nprocess_cpu_seconds_total 1.5\nwith_label{a=\"b\"} 3\nbad line\n")
	}))
	defer srv.Close()
	m, err := Scrape(srv.URL)
	if err != nil || len(m) != 1 || m["process_cpu_seconds_total"] != 1.5 {
		t.Fatalf("%v %v", m, err)
	}
	if ProcessCPU() <= 0 {
		t.Error("no CPU time for this process")
	}
}

func TestWarmup(t *testing.T) {
	for _, c := range []struct{ w, run, want time.Duration }{
		{0, 5 * time.Second, time.Second},
		{0, time.Minute, 2 * time.Second},
		{-1, time.Minute, 0},
		{300 * time.Millisecond, time.Minute, 300 * time.Millisecond},
	} {
		if got := Warmup(c.w, c.run); got != c.want {
			t.Errorf("Warmup(%v, %v) = %v, want %v", c.w, c.run, got, c.want)
		}
	}
}
