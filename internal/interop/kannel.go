package interop

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// kannelStartTimeout bounds how long bearerbox and smsbox may take to open
// their ports.
const kannelStartTimeout = 20 * time.Second

// KannelSMSCID is the smsc-id of the one SMPP connection the harness
// configures; it is what %i expands to and what the admin pages call it.
const KannelSMSCID = "switchboard"

// KannelConfig says where Kannel's SMPP client connects and how it binds.
// Kannel is the downstream peer (an ESME) of our SMPP server: it connects
// to SMSCHost:SMSCPort and sends bind_transceiver with SystemID, Password
// and SystemType.
type KannelConfig struct {
	SMSCHost   string // default 127.0.0.1
	SMSCPort   int
	SystemID   string // smsc-username
	Password   string // smsc-password
	SystemType string // system-type; Kannel sends "VMA" when empty

	// EnquireLinkInterval is how often Kannel sends enquire_link on an idle
	// session (default 30s, Kannel's own default). Whole seconds.
	EnquireLinkInterval time.Duration
	// ReconnectDelay is how long Kannel waits before reconnecting after a
	// failed connect, bind or lost session (default 1s; Kannel's own is
	// 10s, too slow for tests). Whole seconds, at least 1.
	ReconnectDelay time.Duration
	// MsgIDType is Kannel's msg-id-type, how it reads the message ids of
	// submit_sm_resp (bit 0) and of receipts (bit 1): a set bit means hex,
	// a clear one decimal. The default, 0x00, suits our server, which gives
	// decimal ids in both places: Kannel then stores and looks up the id as
	// a number (strtoll base 10, printed back with %llu), so "42" and
	// "0000000042" match, as Appendix B's zero-padded 10-digit id field and
	// a bare submit_sm_resp id should. MsgIDCString overrides it.
	MsgIDType int
	// MsgIDCString leaves msg-id-type unset: Kannel then treats ids as
	// opaque C strings that must match byte for byte.
	MsgIDCString bool
	// ResendFreq is how soon bearerbox retries an MT that failed
	// temporarily, for example answered ESME_RTHROTTLED (core
	// sms-resend-freq; default 1s here, Kannel's own 60s would stall a
	// throttling test for a minute). Whole seconds.
	ResendFreq time.Duration
	// MaxPendingSubmits is Kannel's window of unacknowledged submit_sm
	// (default 10, Kannel's own).
	MaxPendingSubmits int
	// WaitAck is how long Kannel waits for a submit_sm_resp before acting
	// on wait-ack-expire (default 60s, Kannel's own). Whole seconds.
	WaitAck time.Duration
	// MaxMessages is how many SMS parts one sendsms may be split into
	// (sendsms-user max-messages, default 10). Long texts become
	// concatenated parts with a UDH.
	MaxMessages int
	// SMSCExtra, CoreExtra and SmsboxExtra are raw "key = value" lines
	// added to the smsc, core and smsbox groups, for settings the harness
	// does not model.
	SMSCExtra, CoreExtra, SmsboxExtra []string
}

// Kannel is a running bearerbox and smsbox configured by StartKannel.
type Kannel struct {
	// SendSMSURL is smsbox's sendsms endpoint (…/cgi-bin/sendsms).
	SendSMSURL string
	// AdminURL is bearerbox's admin HTTP root (append "status.xml").
	AdminURL      string
	AdminPassword string
	// Username and Password are the sendsms-user's credentials.
	Username, Password string
	// HTTPURL is the harness's own server that get-url and dlr-url point
	// at.
	HTTPURL string
	// ConfigPath is the generated kannel.conf, and Dir the directory that
	// holds it and every log.
	ConfigPath string
	Dir        string

	Bearerbox *Process
	Smsbox    *Process

	mo  *queue[KannelMO]
	dlr *queue[KannelDLR]
}

// KannelMT is one message submitted through smsbox's sendsms interface.
type KannelMT struct {
	From, To string
	Text     string // UTF-8; the harness sends charset=UTF-8
	// Coding is Kannel's coding: 0 (default) the GSM 7-bit alphabet, 1
	// 8-bit binary, 2 UCS-2.
	Coding int
	// UDH, when set, is sent as the udh parameter.
	UDH []byte
	// DLR asks for delivery reports to the harness's dlr-url, with
	// DLRMask (default 31: delivered, failed, buffered, SMSC ack, SMSC
	// nack).
	DLR     bool
	DLRMask int
	// ID is echoed in every KannelDLR of this message, so that a test can
	// tell its reports apart. Letters, digits, '.', '_' and '-' only.
	ID string
	// Extra sendsms parameters (for example "validity", "mclass",
	// "priority", "meta-data").
	Extra url.Values
}

// KannelMO is one MO message Kannel fetched the get-url for.
type KannelMO struct {
	From, To string
	// Text is the message as UTF-8: Kannel hands GSM 7-bit MOs over in
	// UTF-8 and UCS-2 ones in UTF-16BE (charset "UTF-16BE"), which the
	// harness decodes.
	Text string
	// Data is the message bytes as Kannel gave them (%b).
	Data    []byte
	Coding  int    // %c: 0 7-bit, 1 8-bit, 2 UCS-2
	Charset string // %C
	UDH     []byte // %u
	SMSCID  string // %i
	Query   url.Values
}

// KannelDLR is one delivery report Kannel fetched the dlr-url for.
type KannelDLR struct {
	// Type is %d: 1 delivered to phone, 2 non-delivered, 4 queued on
	// SMSC, 8 delivered to SMSC (submit_sm_resp OK), 16 non-delivered to
	// SMSC (submit_sm_resp error).
	Type int
	ID   string // KannelMT.ID
	// Answer is %A, the SMSC's reply: "ACK/" for an accepted submit_sm,
	// "NACK/0x.../..." for a refused one, the receipt text for a receipt.
	Answer    string
	From, To  string // %p, %P
	SMSCID    string // %i
	ForeignID string // %F, the SMSC's message id
	Text      string // %b
	Query     url.Values
}

// StartKannel writes a Kannel configuration for cfg into a temporary
// directory, starts bearerbox, waits for its admin and smsbox ports,
// starts smsbox and waits for its sendsms port. Both are stopped at the
// end of the test. It does not wait for the SMPP bind: see WaitOnline.
func StartKannel(t testing.TB, cfg KannelConfig) *Kannel {
	t.Helper()
	Require(t, "bearerbox")
	Require(t, "smsbox")
	bearerbox, _ := programPath("bearerbox")
	smsbox, _ := programPath("smsbox")
	if cfg.SMSCHost == "" {
		cfg.SMSCHost = "127.0.0.1"
	}
	if cfg.SMSCPort == 0 {
		t.Fatal("KannelConfig.SMSCPort is required")
	}
	for _, s := range []string{cfg.SMSCHost, cfg.SystemID, cfg.Password, cfg.SystemType} {
		if strings.ContainsAny(s, "\"\\\n\r") {
			t.Fatalf("KannelConfig: %q cannot be written in a Kannel configuration", s)
		}
	}
	dir := t.TempDir()
	k := &Kannel{
		Dir:           dir,
		AdminPassword: "admin-pw",
		Username:      "tester",
		Password:      "tester-pw",
		mo:            newQueue[KannelMO](),
		dlr:           newQueue[KannelDLR](),
	}

	// The harness's HTTP server comes first, so that (cleanups running
	// last in, first out) it closes after Kannel has stopped.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: k.handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		k.mo.Close()
		k.dlr.Close()
	})
	k.HTTPURL = "http://" + ln.Addr().String()

	adminPort, boxPort, sendsmsPort := FreePort(t), FreePort(t), FreePort(t)
	k.AdminURL = fmt.Sprintf("http://127.0.0.1:%d/", adminPort)
	k.SendSMSURL = fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", sendsmsPort)
	conf := k.config(cfg, adminPort, boxPort, sendsmsPort)
	k.ConfigPath = filepath.Join(dir, "kannel.conf")
	if err := os.WriteFile(k.ConfigPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), kannelStartTimeout)
	defer cancel()
	k.Bearerbox = startProcess(t, procSpec{
		name:      "bearerbox",
		path:      bearerbox,
		args:      []string{"-v", "1", k.ConfigPath},
		logDir:    dir,
		extraLogs: []string{filepath.Join(dir, "bearerbox.log")},
	})
	// The admin port opens before bearerbox reads the smsc group, and a bad
	// group makes it panic after that: readiness is status.xml answering,
	// which only a bearerbox that got through its start does.
	if err := k.waitStatus(ctx, nil); err != nil {
		t.Fatal(err)
	}
	k.Smsbox = startProcess(t, procSpec{
		name:      "smsbox",
		path:      smsbox,
		args:      []string{"-v", "1", k.ConfigPath},
		logDir:    dir,
		extraLogs: []string{filepath.Join(dir, "smsbox.log")},
	})
	// smsbox opens its sendsms port before it connects to bearerbox (and
	// panics if that fails): ready means bearerbox lists it among its boxes.
	if err := waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", sendsmsPort), k.Smsbox); err != nil {
		t.Fatal(err)
	}
	if err := k.waitStatus(ctx, func(st kannelStatus) bool { return st.smsboxes() > 0 }); err != nil {
		t.Fatal(err)
	}
	return k
}

// waitStatus polls status.xml until it answers and, if ok is set, until ok
// accepts it. It fails early if either box exits.
func (k *Kannel) waitStatus(ctx context.Context, ok func(kannelStatus) bool) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	last := ""
	for {
		st, err := k.status(ctx)
		if err == nil && (ok == nil || ok(st)) {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = "status " + st.Status
		}
		var smsboxExited <-chan struct{}
		if k.Smsbox != nil {
			smsboxExited = k.Smsbox.Exited()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kannel not ready (%s): %w", last, ctx.Err())
		case <-k.Bearerbox.Exited():
			return fmt.Errorf("bearerbox exited (%v); see its logs below", k.Bearerbox.Err())
		case <-smsboxExited:
			return fmt.Errorf("smsbox exited (%v); see its logs below", k.Smsbox.Err())
		case <-ticker.C:
		}
	}
}

// seconds renders a duration as Kannel's whole seconds, with a default.
func seconds(d, def time.Duration) int {
	if d <= 0 {
		d = def
	}
	return max(int(d/time.Second), 1)
}

// config renders kannel.conf; docs/interop.md shows the result annotated.
func (k *Kannel) config(cfg KannelConfig, adminPort, boxPort, sendsmsPort int) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	q := func(s string) string { return `"` + s + `"` }

	line("group = core")
	line("admin-port = %d", adminPort)
	line("admin-interface = %s", q("127.0.0.1"))
	line("admin-password = %s", q(k.AdminPassword))
	line("admin-deny-ip = %s", q("*.*.*.*"))
	line("admin-allow-ip = %s", q("127.0.0.1"))
	line("smsbox-port = %d", boxPort)
	line("smsbox-interface = %s", q("127.0.0.1"))
	line("box-deny-ip = %s", q("*.*.*.*"))
	line("box-allow-ip = %s", q("127.0.0.1"))
	line("log-file = %s", q(filepath.Join(k.Dir, "bearerbox.log")))
	line("log-level = 0")
	line("dlr-storage = internal")
	line("sms-resend-freq = %d", seconds(cfg.ResendFreq, time.Second))
	for _, l := range cfg.CoreExtra {
		line("%s", l)
	}
	line("")

	line("group = smsc")
	line("smsc = smpp")
	line("smsc-id = %s", KannelSMSCID)
	line("host = %s", q(cfg.SMSCHost))
	line("port = %d", cfg.SMSCPort)
	line("transceiver-mode = true")
	line("smsc-username = %s", q(cfg.SystemID))
	line("smsc-password = %s", q(cfg.Password))
	// Kannel 1.4.5 refuses to start without system-type, though its guide
	// says it defaults to "VMA"; the harness supplies that default.
	systemType := cfg.SystemType
	if systemType == "" {
		systemType = "VMA"
	}
	line("system-type = %s", q(systemType))
	if !cfg.MsgIDCString {
		line("msg-id-type = 0x%02x", cfg.MsgIDType)
	}
	line("enquire-link-interval = %d", seconds(cfg.EnquireLinkInterval, 30*time.Second))
	line("reconnect-delay = %d", seconds(cfg.ReconnectDelay, time.Second))
	line("wait-ack = %d", seconds(cfg.WaitAck, 60*time.Second))
	if cfg.MaxPendingSubmits > 0 {
		line("max-pending-submits = %d", cfg.MaxPendingSubmits)
	}
	line("log-file = %s", q(filepath.Join(k.Dir, "smsc.log")))
	line("log-level = 0")
	for _, l := range cfg.SMSCExtra {
		line("%s", l)
	}
	line("")

	line("group = smsbox")
	line("bearerbox-host = %s", q("127.0.0.1"))
	line("bearerbox-port = %d", boxPort)
	line("sendsms-port = %d", sendsmsPort)
	line("sendsms-interface = %s", q("127.0.0.1"))
	line("log-file = %s", q(filepath.Join(k.Dir, "smsbox.log")))
	line("log-level = 0")
	for _, l := range cfg.SmsboxExtra {
		line("%s", l)
	}
	line("")

	maxMessages := cfg.MaxMessages
	if maxMessages == 0 {
		maxMessages = 10
	}
	line("group = sendsms-user")
	line("username = %s", q(k.Username))
	line("password = %s", q(k.Password))
	line("max-messages = %d", maxMessages)
	line("concatenation = true")
	line("user-deny-ip = %s", q("*.*.*.*"))
	line("user-allow-ip = %s", q("127.0.0.1"))
	line("")

	// Every MO goes to the harness; max-messages = 0 stops Kannel from
	// turning the HTTP answer into a reply SMS.
	line("group = sms-service")
	line("keyword = default")
	line("catch-all = yes")
	line("max-messages = 0")
	line("get-url = %s", q(k.HTTPURL+"/mo?from=%p&to=%P&text=%b&coding=%c&charset=%C&udh=%u&smsc=%i&time=%T&dcs=%O&svc=%n&meta=%D"))
	return b.String()
}

// handler serves get-url (/mo) and dlr-url (/dlr).
func (k *Kannel) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/mo", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mo := KannelMO{
			From:    q.Get("from"),
			To:      q.Get("to"),
			Data:    bytesOrNil(q.Get("text")),
			Charset: q.Get("charset"),
			UDH:     bytesOrNil(q.Get("udh")),
			SMSCID:  q.Get("smsc"),
			Query:   q,
		}
		mo.Coding, _ = strconv.Atoi(q.Get("coding"))
		mo.Text = decodeKannelText(mo.Data, mo.Charset, mo.Coding)
		k.mo.Push(mo)
		// An empty 200 answer: nothing to reply (max-messages = 0 anyway).
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/dlr", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		d := KannelDLR{
			ID:        q.Get("id"),
			Answer:    q.Get("answer"),
			From:      q.Get("from"),
			To:        q.Get("to"),
			SMSCID:    q.Get("smsc"),
			ForeignID: q.Get("fid"),
			Text:      q.Get("text"),
			Query:     q,
		}
		d.Type, _ = strconv.Atoi(q.Get("type"))
		k.dlr.Push(d)
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// bytesOrNil keeps "absent" and "empty" alike: nil.
func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// decodeKannelText turns the bytes of an MO into UTF-8 by the charset
// Kannel names: UTF-16BE for UCS-2 messages, UTF-8 for 7-bit ones (Kannel
// converts GSM 03.38 itself).
func decodeKannelText(b []byte, charset string, coding int) string {
	if strings.EqualFold(charset, "UTF-16BE") || (charset == "" && coding == 2) {
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		return string(utf16.Decode(u))
	}
	return string(b)
}

// idPattern is what KannelMT.ID may hold: Kannel expands %-escapes in the
// dlr-url, so the id must not contain '%' or need URL encoding at all.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)

// SendSMS submits an MT through smsbox's sendsms HTTP interface and
// returns Kannel's answer (for example "0: Accepted for delivery" or
// "3: Queued for later delivery"). A non-2xx answer is an error.
func (k *Kannel) SendSMS(ctx context.Context, m KannelMT) (string, error) {
	if !idPattern.MatchString(m.ID) {
		return "", fmt.Errorf("KannelMT.ID %q: only letters, digits, '.', '_' and '-'", m.ID)
	}
	v := url.Values{}
	v.Set("username", k.Username)
	v.Set("password", k.Password)
	v.Set("from", m.From)
	v.Set("to", m.To)
	v.Set("text", m.Text)
	v.Set("charset", "UTF-8")
	v.Set("smsc", KannelSMSCID)
	if m.Coding != 0 {
		v.Set("coding", strconv.Itoa(m.Coding))
	}
	if m.UDH != nil {
		v.Set("udh", string(m.UDH))
	}
	if m.DLR {
		mask := m.DLRMask
		if mask == 0 {
			mask = 31
		}
		v.Set("dlr-mask", strconv.Itoa(mask))
		// Kannel expands the %-escapes when it fetches the URL.
		v.Set("dlr-url", k.HTTPURL+"/dlr?type=%d&id="+m.ID+"&answer=%A&from=%p&to=%P&smsc=%i&fid=%F&text=%b&time=%T&meta=%D")
	}
	for key, vals := range m.Extra {
		for _, val := range vals {
			v.Add(key, val)
		}
	}
	body, status, err := httpGet(ctx, k.SendSMSURL+"?"+v.Encode())
	if err != nil {
		return "", fmt.Errorf("sendsms: %w", err)
	}
	if status < 200 || status > 299 {
		return body, fmt.Errorf("sendsms: HTTP %d: %s", status, body)
	}
	return body, nil
}

// MO delivers every MO message Kannel passed to its get-url.
func (k *Kannel) MO() <-chan KannelMO { return k.mo.Out() }

// DLR delivers every delivery report Kannel fired at the dlr-url.
func (k *Kannel) DLR() <-chan KannelDLR { return k.dlr.Out() }

// Admin runs an HTTP administration command of bearerbox (for example
// "status.txt", "stop-smsc", "start-smsc" with smsc=switchboard) and returns
// its answer.
func (k *Kannel) Admin(ctx context.Context, command string, params url.Values) (string, error) {
	v := url.Values{}
	for key, vals := range params {
		v[key] = vals
	}
	v.Set("password", k.AdminPassword)
	body, status, err := httpGet(ctx, k.AdminURL+command+"?"+v.Encode())
	if err != nil {
		return "", fmt.Errorf("kannel admin %s: %w", command, err)
	}
	if status != http.StatusOK && status != http.StatusAccepted {
		return body, fmt.Errorf("kannel admin %s: HTTP %d: %s", command, status, body)
	}
	return body, nil
}

// kannelStatus is the part of status.xml the harness reads.
type kannelStatus struct {
	Status string `xml:"status"`
	Boxes  []struct {
		Type string `xml:"type"`
		ID   string `xml:"id"`
	} `xml:"boxes>box"`
	SMSCs []struct {
		ID      string `xml:"id"`
		AdminID string `xml:"admin-id"`
		Name    string `xml:"name"`
		Status  string `xml:"status"`
	} `xml:"smscs>smsc"`
}

// smsboxes counts the smsbox connections bearerbox lists.
func (st kannelStatus) smsboxes() int {
	n := 0
	for _, b := range st.Boxes {
		if b.Type == "smsbox" {
			n++
		}
	}
	return n
}

// status fetches and decodes status.xml.
func (k *Kannel) status(ctx context.Context) (kannelStatus, error) {
	var st kannelStatus
	body, err := k.Admin(ctx, "status.xml", nil)
	if err != nil {
		return st, err
	}
	if err := xml.Unmarshal([]byte(body), &st); err != nil {
		return st, fmt.Errorf("status.xml: %w", err)
	}
	return st, nil
}

// SMSCStatus returns the status bearerbox reports for the SMPP connection,
// for example "online 12s", "connecting", "re-connecting" or "dead".
func (k *Kannel) SMSCStatus(ctx context.Context) (string, error) {
	st, err := k.status(ctx)
	if err != nil {
		return "", err
	}
	for _, s := range st.SMSCs {
		if s.ID == KannelSMSCID || s.AdminID == KannelSMSCID {
			return s.Status, nil
		}
	}
	return "", fmt.Errorf("status.xml lists no smsc %q", KannelSMSCID)
}

// WaitOnline waits until bearerbox reports the SMPP connection online,
// that is bound to our server.
func (k *Kannel) WaitOnline(ctx context.Context) error {
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	last := ""
	for {
		st, err := k.SMSCStatus(ctx)
		if err == nil && strings.HasPrefix(st, "online") {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = st
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kannel smsc not online (last status %q): %w", last, ctx.Err())
		case <-k.Bearerbox.Exited():
			return errors.New("bearerbox exited")
		case <-ticker.C:
		}
	}
}

// httpClient has a timeout of its own so that a hung Kannel cannot hang a
// test past its context.
var httpClient = &http.Client{Timeout: 30 * time.Second}

func httpGet(ctx context.Context, u string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return strings.TrimSpace(string(b)), resp.StatusCode, err
}
