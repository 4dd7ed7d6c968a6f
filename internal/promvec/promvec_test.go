package promvec

import (
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCounters(t *testing.T) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"k"})
	c := New(vec)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				c.Inc("a")
				c.Inc("b")
			}
		}()
	}
	wg.Wait()
	c.With("b").Add(5)
	if got := testutil.ToFloat64(vec.WithLabelValues("a")); got != 4000 {
		t.Fatalf("a = %v", got)
	}
	if got := testutil.ToFloat64(vec.WithLabelValues("b")); got != 4005 {
		t.Fatalf("b = %v", got)
	}
	if c.Vec() != vec {
		t.Fatal("Vec")
	}
}

func BenchmarkInc(b *testing.B) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"k"})
	c := New(vec)
	b.Run("promvec", func(b *testing.B) {
		for range b.N {
			c.Inc("submit_sm")
		}
	})
	b.Run("WithLabelValues", func(b *testing.B) {
		for range b.N {
			vec.WithLabelValues("submit_sm").Inc()
		}
	})
}
