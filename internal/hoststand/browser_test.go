package hoststand_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"switchboard/internal/interop"
	"switchboard/internal/pager"
	"switchboard/internal/server"
	"switchboard/internal/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const sender = "16195550100"

// startServer runs a whole switchboard with the pager on; no uplink, so
// a "table ready" SMS is accepted and waits in RAM.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	c := servertest.Config(t)
	c.SMPP.Listen, c.CPT.Listen, c.UDPChat.Listen, c.Voice.Listen = "", "", "", ""
	c.Pager.Sender = sender
	c.Pager.Retransmit.Duration = 20 * time.Millisecond
	servertest.AddLocalNumber(t, c, sender, true)
	s, _ := servertest.Start(t, c)
	return s
}

// browser starts headless Debian chromium with a fresh profile. The
// first Do has no deadline (it would bound the browser's life); callers
// bound their steps with a context derived from the one returned.
func browser(t *testing.T) context.Context {
	t.Helper()
	interop.Require(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel()
		acancel()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("chromium did not start: %v", err)
	}
	tctx, tcancel := context.WithTimeout(bctx, 60*time.Second)
	t.Cleanup(tcancel)
	return tctx
}

type pushes struct {
	mu   sync.Mutex
	seen []pager.Packet
}

func (p *pushes) add(x pager.Packet) { p.mu.Lock(); p.seen = append(p.seen, x); p.mu.Unlock() }
func (p *pushes) has(opt uint8, n uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range p.seen {
		if x.Options&opt != 0 && x.Number == n {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHostStandInChromium drives the page in a real browser: a number
// added by another station appears live; the page's add reaches the
// stations; table ready, call (NACKed: no SIP proxy) and remove work.
func TestHostStandInChromium(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	secret, err := server.ReadPagerSecret(filepath.Join(s.Config().DataDir, server.PagerSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	dial := func(id uint32, onPush func(pager.Packet)) *pager.Client {
		c, err := pager.Dial(pager.ClientConfig{Server: s.PagerAddr().String(), Secret: secret, ID: id, OnPush: onPush, Retransmit: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tool := dial(0, nil)
	if err := tool.AddClient(rctx, 5); err != nil {
		t.Fatal(err)
	}
	var got pushes
	st := dial(5, got.add)
	if err := st.Hello(rctx); err != nil {
		t.Fatal(err)
	}

	url := "http://" + s.AdminAddr().String() + "/pager/"
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#live`))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("live").textContent === "live"`)); err != nil {
		t.Fatalf("no live event stream: %v", err)
	}
	// Another station adds a number: the open page shows it, no reload.
	if err := st.Add(rctx, 442079460000); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`tr[data-phone="+442079460000"]`))); err != nil {
		t.Fatalf("live update not shown: %v", err)
	}
	// The page adds a party: the server lists it with its details and
	// the station gets the push.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#name`), "Okafor"),
		chromedp.SendKeys(chromedp.CSS(`#size`), "4"),
		chromedp.SendKeys(chromedp.CSS(`#phone`), "+1 619 555 0142"),
		chromedp.Click(chromedp.CSS(`#add`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-phone="+16195550142"]`)),
	); err != nil {
		t.Fatal(err)
	}
	live, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-phone="+16195550142"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(live, "Okafor") || !strings.Contains(live, "4") {
		t.Errorf("row shows %q", live)
	}
	waitFor(t, "the station's push", func() bool { return got.has(pager.OptAdd, 16195550142) })
	ps := s.Pager().Parties()
	if len(ps) != 2 || ps[1].Name != "Okafor" || ps[1].Size != 4 {
		t.Fatalf("server waitlist %+v", ps)
	}
	// Table ready: the SMS is accepted by the core.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`tr[data-phone="+16195550142"] button.notify`)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`document.getElementById("status").textContent.startsWith("Table-ready SMS sent")`)(ctx, t)
			return err
		}),
	); err != nil {
		t.Fatalf("table ready: %v", err)
	}
	// Call: no SIP proxy, so the reason is shown.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-phone="+16195550142"] button.call`))); err != nil {
		t.Fatalf("call: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("status").className === "error"`)); err != nil {
		t.Fatalf("call: %v", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#status`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status, "calls disabled") {
		t.Errorf("call status %q", status)
	}
	// Remove: gone from the page and from the server, pushed to the station.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`tr[data-phone="+16195550142"] button.remove`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-phone="+16195550142"]`)),
	); err != nil {
		t.Fatalf("remove: %v", err)
	}
	waitFor(t, "the removal push", func() bool { return got.has(pager.OptRemove, 16195550142) })
	if n := len(s.Pager().Waitlist()); n != 1 {
		t.Errorf("%d numbers left, want 1", n)
	}
}

// TestAPIRefusesCrossSitePosts: a POST without the custom header (what a
// cross-site form sends) is refused and changes nothing.
func TestAPIRefusesCrossSitePosts(t *testing.T) {
	s := startServer(t)
	url := "http://" + s.AdminAddr().String() + "/pager/api/add"
	resp, err := http.Post(url, "text/plain", strings.NewReader(`{"phone":"+16195550142"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(s.Pager().Waitlist()) != 0 {
		t.Fatalf("status %d, list %v", resp.StatusCode, s.Pager().Waitlist())
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"phone":"12"}`))
	req.Header.Set("X-Switchboard-Pager", "1")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), "bad_number") {
		t.Fatalf("bad number: %d %s", resp.StatusCode, b)
	}
}
