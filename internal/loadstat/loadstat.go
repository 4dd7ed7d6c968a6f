// Package loadstat is what the load generators of `switchboard bench`
// measure alike: latency percentiles, the process's own CPU time, and the
// figures of a server's Prometheus page.
package loadstat

import (
	"bufio"
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Percentiles sorts s and returns its median, 99th percentile and
// maximum; zero values for an empty s.
func Percentiles[T cmp.Ordered](s []T) (p50, p99, max T) {
	if len(s) == 0 {
		return p50, p99, max
	}
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*99/100], s[len(s)-1]
}

// ProcessCPU is this process's user and system CPU time in seconds (0 if
// the kernel will not say, which getrusage on the own process never does
// short of a bad argument).
func ProcessCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// Scrape reads the unlabelled samples of a Prometheus text page.
func Scrape(u string) (map[string]float64, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(l, " ")
		if !ok || strings.ContainsRune(name, '{') {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = f
		}
	}
	return out, sc.Err()
}

// Warmup is the load generators' one rule for the start of a run left out
// of its figures: w as given when positive, none when negative, and when
// 0 (unset) a fifth of the run, at most 2 s: long enough for connections,
// caches and the garbage collector's pace to settle, short enough to leave
// most of a short run measured.
func Warmup(w, run time.Duration) time.Duration {
	switch {
	case w > 0:
		return w
	case w < 0:
		return 0
	}
	return min(run/5, 2*time.Second)
}
