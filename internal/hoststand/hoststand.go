// Package hoststand is the restaurant pager's host-stand web page, served
// on the admin HTTP server under /pager/: the waitlist with party name,
// size and phone, "table ready" (SMS), "call" and remove, updated live
// (server-sent events) when a station or the host tool changes the list.
// It works on the pager server in-process, as the host tool would over
// UDP, so its changes are pushed to every station.
package hoststand

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"switchboard/internal/pager"
)

//go:embed page.html
var page []byte

// Header must be present on every POST. A cross-site form or fetch
// cannot send it without a CORS preflight, which this server never
// grants, so another web site open in the same browser cannot make the
// page's API send SMS.
const Header = "X-Switchboard-Pager"

// Handler serves the page and its API for srv.
func Handler(srv *pager.Server) http.Handler {
	h := &handler{srv: srv}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pager/{$}", h.page)
	mux.HandleFunc("GET /pager/api/list", h.list)
	mux.HandleFunc("GET /pager/events", h.events)
	mux.HandleFunc("POST /pager/api/{op}", h.post)
	return mux
}

type handler struct {
	srv *pager.Server
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// No framing by other sites (clickjacking the buttons).
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Write(page)
}

// entryJSON is one waitlist row.
type entryJSON struct {
	Phone string `json:"phone"`
	Name  string `json:"name"`
	Size  int    `json:"size"`
	Added int64  `json:"added"`
}

func (h *handler) snapshot() []entryJSON {
	ps := h.srv.Parties()
	out := make([]entryJSON, len(ps))
	for i, p := range ps {
		out[i] = entryJSON{Phone: "+" + pager.NumberString(p.Number), Name: p.Name, Size: p.Size, Added: p.Added.Unix()}
	}
	return out
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(h.snapshot())
}

// events streams the list: once at once, then after every change
// (coalesced), with a comment every 15 s to keep proxies from closing it.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	noStore(w)
	w.Header().Set("Content-Type", "text/event-stream")
	changed, stop, err := h.srv.Watch()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer stop()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	send := func() bool {
		b, _ := json.Marshal(h.snapshot())
		if _, err := fmt.Fprintf(w, "event: list\ndata: %s\n\n", b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	if !send() {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-changed:
			if !send() {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// request is a POST body.
type request struct {
	Phone    string `json:"phone"`
	Name     string `json:"name"`
	Size     int    `json:"size"`
	Party    int    `json:"party"`
	Greeting string `json:"greeting"`
}

type answer struct {
	OK     bool   `json:"ok"`
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func (h *handler) post(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get(Header) == "" {
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(answer{Reason: "missing " + Header + " header"})
		return
	}
	var req request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(answer{Reason: "bad request body"})
		return
	}
	number, ok := parsePhone(req.Phone)
	if !ok {
		w.WriteHeader(http.StatusUnprocessableEntity)
		json.NewEncoder(w).Encode(answer{Status: "bad_number", Reason: "not a phone number (+ and 8 to 15 digits)"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	var ans *pager.Packet
	switch r.PathValue("op") {
	case "add":
		name := strings.TrimSpace(req.Name)
		if len(name) > 64 {
			name = name[:64]
		}
		ans = h.srv.AddParty(ctx, number, pager.Party{Name: name, Size: max(0, min(req.Size, 999))})
	case "remove":
		ans = h.srv.Do(ctx, &pager.Packet{Options: pager.OptRemove, Number: number})
	case "notify":
		if req.Party < 0 || req.Party > 65535 {
			req.Party = 0
		}
		ans = h.srv.Do(ctx, &pager.Packet{Options: pager.OptSMS, Number: number, Party: uint16(req.Party), Greeting: []byte(req.Greeting)})
	case "call":
		ans = h.srv.Do(ctx, &pager.Packet{Options: pager.OptCall, Number: number})
	default:
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(answer{Reason: "no such operation"})
		return
	}
	out := answer{OK: ans.Status == pager.StatusOK, Reason: ans.Reason}
	if !out.OK {
		out.Status = pager.StatusName(ans.Status)
		w.WriteHeader(http.StatusUnprocessableEntity)
	}
	json.NewEncoder(w).Encode(out)
}

// parsePhone reads a number as typed into the page: pager.ParseNumber's
// "+" and E.164 digits or ten NANP digits, with the spaces, dashes, dots
// and parentheses people write numbers with ignored.
func parsePhone(s string) (uint64, bool) {
	t := strings.TrimSpace(s)
	d := strings.Map(func(c rune) rune {
		if c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' {
			return -1
		}
		return c
	}, t)
	// A "+" counts only as the first character typed: "(+1)" is no
	// number, although it would be one without the parenthesis.
	if strings.HasPrefix(d, "+") != strings.HasPrefix(t, "+") {
		return 0, false
	}
	v, err := pager.ParseNumber(d)
	return v, err == nil
}
