package interop

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// nodeStartTimeout bounds how long a node script may take to say "ready".
const nodeStartTimeout = 20 * time.Second

// ackTimeout bounds how long NodeSMSC.Send waits for the script to confirm
// a command.
const ackTimeout = 10 * time.Second

// NodeEvent is one JSON line printed by interop/node/smsc.js or client.js.
// The common fields are decoded into the struct; Fields holds every field
// of the line, for anything else.
type NodeEvent struct {
	Type           string `json:"type"`
	Session        int    `json:"session"`
	Ref            int    `json:"ref"`
	Command        string `json:"command"`
	Cmd            string `json:"cmd"`
	OK             bool   `json:"ok"`
	Error          string `json:"error"`
	Status         uint32 `json:"status"`
	Result         string `json:"result"`
	SequenceNumber uint32 `json:"sequence_number"`
	Port           int    `json:"port"`

	// bind
	SystemID         string `json:"system_id"`
	Password         string `json:"password"`
	SystemType       string `json:"system_type"`
	InterfaceVersion int    `json:"interface_version"`

	// submit_sm, deliver_sm and their responses
	MessageID          string `json:"message_id"`
	ServiceType        string `json:"service_type"`
	SourceAddrTON      int    `json:"source_addr_ton"`
	SourceAddrNPI      int    `json:"source_addr_npi"`
	SourceAddr         string `json:"source_addr"`
	DestAddrTON        int    `json:"dest_addr_ton"`
	DestAddrNPI        int    `json:"dest_addr_npi"`
	DestinationAddr    string `json:"destination_addr"`
	ESMClass           int    `json:"esm_class"`
	ProtocolID         int    `json:"protocol_id"`
	PriorityFlag       int    `json:"priority_flag"`
	RegisteredDelivery int    `json:"registered_delivery"`
	DataCoding         int    `json:"data_coding"`
	ShortMessageHex    string `json:"short_message_hex"`
	MessagePayloadHex  string `json:"message_payload_hex"`
	UDHHex             string `json:"udh_hex"`
	// Text is the user data (after any UDH) decoded by data_coding: GSM
	// 03.38 for 0, UCS-2 for 8, Latin-1 for 3, ASCII for 1.
	Text               string `json:"text"`
	ReceiptedMessageID string `json:"receipted_message_id"`
	MessageState       int    `json:"message_state"`

	Fields map[string]any `json:"-"`
	Line   string         `json:"-"`
}

// ShortMessage is the exact short_message octets (UDH included).
func (e NodeEvent) ShortMessage() []byte {
	b, _ := hex.DecodeString(e.ShortMessageHex)
	return b
}

// UDH is the user data header, if esm_class announced one.
func (e NodeEvent) UDH() []byte {
	b, _ := hex.DecodeString(e.UDHHex)
	return b
}

func parseNodeEvent(line []byte) (NodeEvent, error) {
	var ev NodeEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return NodeEvent{Type: "unparsed", Line: string(line)}, err
	}
	if err := json.Unmarshal(line, &ev.Fields); err != nil {
		return ev, err
	}
	ev.Line = string(line)
	return ev, nil
}

// nodeDir is interop/node in the module, with its node_modules installed.
// A missing install is reported like a missing program (see Require).
func nodeDir(t testing.TB) string {
	t.Helper()
	Require(t, "node")
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "interop", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "smpp", "package.json")); err != nil {
		missing(t, "npm package smpp is not installed in interop/node (npm ci --prefix interop/node)")
	}
	return dir
}

// NodeSMSCConfig configures interop/node/smsc.js.
type NodeSMSCConfig struct {
	// SystemID and Password are the only credentials it accepts; any other
	// bind is answered ESME_RBINDFAIL (0x0D).
	SystemID, Password string
	// Sink keeps nothing and prints no per-PDU events: submit_sm is
	// answered at once (for benchmarks). Stats still counts.
	Sink bool
	// FirstMessageID is the first message_id it gives (decimal strings
	// counting up); 0 means 1.
	FirstMessageID int
}

// NodeSMSC is a running interop/node/smsc.js: an SMPP server on
// 127.0.0.1:Port standing in for the upstream SMSC that our uplink binds
// to.
type NodeSMSC struct {
	Port int
	Proc *Process

	events  *queue[NodeEvent]
	mu      sync.Mutex
	nextRef int
	acks    map[int]chan NodeEvent
}

// StartNodeSMSC starts the SMSC stand-in and waits for it to listen.
func StartNodeSMSC(t testing.TB, cfg NodeSMSCConfig) *NodeSMSC {
	t.Helper()
	dir := nodeDir(t)
	node, _ := programPath("node")
	args, err := json.Marshal(map[string]any{
		"host":      "127.0.0.1",
		"port":      0,
		"system_id": cfg.SystemID,
		"password":  cfg.Password,
		"sink":      cfg.Sink,
		"first_id":  max(cfg.FirstMessageID, 1),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &NodeSMSC{events: newQueue[NodeEvent](), acks: map[int]chan NodeEvent{}}
	ready := make(chan int, 1)
	s.Proc = startProcess(t, procSpec{
		name:  "node-smsc",
		path:  node,
		args:  []string{filepath.Join(dir, "smsc.js"), string(args)},
		dir:   dir,
		stdin: true,
		onLine: func(line []byte) {
			ev, err := parseNodeEvent(line)
			if err != nil {
				s.events.Push(ev)
				return
			}
			switch ev.Type {
			case "ready":
				select {
				case ready <- ev.Port:
				default:
				}
			case "ack":
				s.mu.Lock()
				ch := s.acks[ev.Ref]
				delete(s.acks, ev.Ref)
				s.mu.Unlock()
				if ch != nil {
					ch <- ev
				}
				return
			}
			s.events.Push(ev)
		},
	})
	// The queue is closed after the process is stopped (cleanups run last
	// in, first out), so that its pump goroutine ends with the test.
	t.Cleanup(s.events.Close)
	go func() {
		<-s.Proc.Exited()
		s.Proc.readers.Wait()
		s.events.Finish()
	}()
	timer := time.NewTimer(nodeStartTimeout)
	defer timer.Stop()
	select {
	case s.Port = <-ready:
	case <-s.Proc.Exited():
		t.Fatalf("node-smsc exited before it was ready: %v", s.Proc.Err())
	case <-timer.C:
		t.Fatalf("node-smsc did not print its ready line within %v", nodeStartTimeout)
	}
	return s
}

// Addr is host:port of the SMSC stand-in.
func (s *NodeSMSC) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

// Events delivers every event line except "ready" and command acks, in
// order. It is closed when the script's output ends.
func (s *NodeSMSC) Events() <-chan NodeEvent { return s.events.Out() }

// WaitEvent reads Events until one satisfies match, and returns it. Events
// that do not match are dropped.
func (s *NodeSMSC) WaitEvent(ctx context.Context, match func(NodeEvent) bool) (NodeEvent, error) {
	return waitEvent(ctx, s.Events(), match)
}

func waitEvent(ctx context.Context, ch <-chan NodeEvent, match func(NodeEvent) bool) (NodeEvent, error) {
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return NodeEvent{}, errors.New("event stream ended (the program exited)")
			}
			if match(ev) {
				return ev, nil
			}
		case <-ctx.Done():
			return NodeEvent{}, ctx.Err()
		}
	}
}

// Send writes one command (any value that marshals to a JSON object with a
// "cmd" field) to the script's stdin and waits for its ack. It returns the
// ack, whose fields say what was done (for example the sequence_number of
// a deliver_sm); a refused command is an error.
func (s *NodeSMSC) Send(cmd any) error {
	_, err := s.send(cmd)
	return err
}

func (s *NodeSMSC) send(cmd any) (NodeEvent, error) {
	b, err := json.Marshal(cmd)
	if err != nil {
		return NodeEvent{}, err
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return NodeEvent{}, fmt.Errorf("node-smsc command must be a JSON object: %w", err)
	}
	ch := make(chan NodeEvent, 1)
	s.mu.Lock()
	s.nextRef++
	ref := s.nextRef
	s.acks[ref] = ch
	s.mu.Unlock()
	obj["ref"] = ref
	if b, err = json.Marshal(obj); err != nil {
		return NodeEvent{}, err
	}
	if err := s.Proc.WriteLine(b); err != nil {
		return NodeEvent{}, fmt.Errorf("node-smsc stdin: %w", err)
	}
	timer := time.NewTimer(ackTimeout)
	defer timer.Stop()
	select {
	case ack := <-ch:
		if !ack.OK {
			return ack, fmt.Errorf("node-smsc refused %s: %s", obj["cmd"], ack.Error)
		}
		return ack, nil
	case <-s.Proc.Exited():
		return NodeEvent{}, fmt.Errorf("node-smsc exited: %v", s.Proc.Err())
	case <-timer.C:
		return NodeEvent{}, fmt.Errorf("node-smsc did not acknowledge %s within %v", obj["cmd"], ackTimeout)
	}
}

// NodeDeliverSM is an MO for NodeSMSC.SendDeliverSM.
type NodeDeliverSM struct {
	From, To string
	// Text is encoded by DataCoding (GSM 03.38 unpacked for 0, UCS-2 for
	// 8); Data, when set, is sent as the exact octets instead.
	Text       string
	Data       []byte
	DataCoding *int
	UDH        []byte
	ESMClass   int
	// Session picks the SMPP session; 0 means the most recently bound one
	// that can receive.
	Session int
}

// SendDeliverSM sends a deliver_sm on a bound session and returns its
// sequence number once it is written; its answer comes as a
// "deliver_sm_resp" event.
func (s *NodeSMSC) SendDeliverSM(m NodeDeliverSM) (uint32, error) {
	cmd := map[string]any{"cmd": "deliver_sm", "source_addr": m.From, "destination_addr": m.To, "esm_class": m.ESMClass}
	if m.Data != nil {
		cmd["hex"] = hex.EncodeToString(m.Data)
	} else {
		cmd["text"] = m.Text
	}
	if m.DataCoding != nil {
		cmd["data_coding"] = *m.DataCoding
	}
	if m.UDH != nil {
		cmd["udh_hex"] = hex.EncodeToString(m.UDH)
	}
	if m.Session != 0 {
		cmd["session"] = m.Session
	}
	ack, err := s.send(cmd)
	return ack.SequenceNumber, err
}

// SendMO sends an MO text as deliver_sm: data_coding 0 (GSM 03.38) when
// the text fits that alphabet, else 8 (UCS-2).
func (s *NodeSMSC) SendMO(from, to, text string) error {
	_, err := s.SendDeliverSM(NodeDeliverSM{From: from, To: to, Text: text})
	return err
}

// SendReceipt sends a delivery receipt for a message id the SMSC gave in a
// submit_sm_resp: a deliver_sm with esm_class 0x04, source and destination
// swapped from the submit_sm, the SMPP 3.4 Appendix B text
// "id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
// stat:<stat> err:000 text:", and the receipted_message_id and
// message_state TLVs. stat is an Appendix B word: DELIVRD, UNDELIV,
// EXPIRED, REJECTD, ACCEPTD, DELETED, UNKNOWN, ENROUTE.
func (s *NodeSMSC) SendReceipt(msgID string, stat string) error {
	return s.Send(map[string]any{"cmd": "receipt", "message_id": msgID, "stat": stat})
}

// Throttle answers the next n submit_sm with status instead of accepting
// them (for example 0x58, ESME_RTHROTTLED); n < 0 means until the next
// Throttle, and n = 0 ends throttling.
func (s *NodeSMSC) Throttle(status uint32, n int) error {
	return s.Send(map[string]any{"cmd": "throttle", "status": status, "count": n})
}

// Disconnect drops every SMPP session abruptly (no unbind), to test
// reconnection.
func (s *NodeSMSC) Disconnect() error {
	return s.Send(map[string]any{"cmd": "disconnect"})
}

// NodeSMSCStats are the SMSC stand-in's counters.
type NodeSMSCStats struct {
	Sessions, Submits, Rejected int
}

// Stats returns the counters (the only view of a Sink).
func (s *NodeSMSC) Stats() (NodeSMSCStats, error) {
	ack, err := s.send(map[string]any{"cmd": "stats"})
	if err != nil {
		return NodeSMSCStats{}, err
	}
	num := func(k string) int { f, _ := ack.Fields[k].(float64); return int(f) }
	return NodeSMSCStats{Sessions: num("sessions"), Submits: num("submits"), Rejected: num("rejected")}, nil
}

// NodeAction is one step for interop/node/client.js; see the constructors
// below and docs/interop.md for every field.
type NodeAction map[string]any

// BindAction binds as "transceiver", "transmitter" or "receiver".
func BindAction(mode, systemID, password string) NodeAction {
	return NodeAction{"op": "bind", "mode": mode, "system_id": systemID, "password": password}
}

// SubmitAction sends a submit_sm with text in data_coding 0 (GSM 03.38);
// set "data_coding", "hex", "udh_hex", "registered_delivery" and the other
// submit_sm fields on the map as needed.
func SubmitAction(from, to, text string) NodeAction {
	return NodeAction{"op": "submit_sm", "source_addr": from, "destination_addr": to, "text": text}
}

// WaitAction waits until count PDUs of a command (for example
// "deliver_sm") have arrived in total, for at most timeout.
func WaitAction(command string, count int, timeout time.Duration) NodeAction {
	return NodeAction{"op": "wait", "command": command, "count": count, "timeout_ms": timeout.Milliseconds()}
}

// UnbindAction sends unbind and waits for unbind_resp.
func UnbindAction() NodeAction { return NodeAction{"op": "unbind"} }

// EnquireLinkAction sends enquire_link and waits for its response.
func EnquireLinkAction() NodeAction { return NodeAction{"op": "enquire_link"} }

// NodeClientConfig configures one run of interop/node/client.js.
type NodeClientConfig struct {
	Host string // default 127.0.0.1
	Port int
	// Actions run in order; each request waits for its response.
	Actions []NodeAction
	// ResponseTimeout bounds each request (default 5s).
	ResponseTimeout time.Duration
	// Timeout bounds the whole run (default 60s).
	Timeout time.Duration
	// DeliverStatus is the command_status of its deliver_sm_resp.
	DeliverStatus uint32
}

// NodeClient is a running interop/node/client.js.
type NodeClient struct {
	Proc    *Process
	events  *queue[NodeEvent]
	mu      sync.Mutex
	all     []NodeEvent
	timeout time.Duration
}

// StartNodeClient starts the client; its events stream on Events while it
// runs, and Wait collects them all.
func StartNodeClient(t testing.TB, cfg NodeClientConfig) *NodeClient {
	t.Helper()
	dir := nodeDir(t)
	node, _ := programPath("node")
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.ResponseTimeout == 0 {
		cfg.ResponseTimeout = 5 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	actions := cfg.Actions
	if actions == nil {
		actions = []NodeAction{}
	}
	args, err := json.Marshal(map[string]any{
		"host":           cfg.Host,
		"port":           cfg.Port,
		"actions":        actions,
		"timeout_ms":     cfg.ResponseTimeout.Milliseconds(),
		"deliver_status": cfg.DeliverStatus,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &NodeClient{events: newQueue[NodeEvent](), timeout: cfg.Timeout}
	c.Proc = startProcess(t, procSpec{
		name: "node-client",
		path: node,
		args: []string{filepath.Join(dir, "client.js"), string(args)},
		dir:  dir,
		onLine: func(line []byte) {
			ev, _ := parseNodeEvent(line)
			c.mu.Lock()
			c.all = append(c.all, ev)
			c.mu.Unlock()
			c.events.Push(ev)
		},
	})
	t.Cleanup(c.events.Close)
	go func() {
		<-c.Proc.Exited()
		c.Proc.readers.Wait()
		c.events.Finish()
	}()
	return c
}

// Events streams the client's events while it runs; it is closed when the
// client's output ends.
func (c *NodeClient) Events() <-chan NodeEvent { return c.events.Out() }

// WaitEvent reads Events until one satisfies match.
func (c *NodeClient) WaitEvent(ctx context.Context, match func(NodeEvent) bool) (NodeEvent, error) {
	return waitEvent(ctx, c.Events(), match)
}

// Wait waits for the client to exit (at most the configured Timeout, after
// which it is stopped) and returns every event it printed. The error is
// non-nil if it did not exit 0 by itself.
func (c *NodeClient) Wait() ([]NodeEvent, error) {
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	var err error
	select {
	case <-c.Proc.Exited():
		err = c.Proc.Err()
	case <-timer.C:
		c.Proc.Stop()
		err = fmt.Errorf("node-client did not finish within %v", c.timeout)
	}
	c.Proc.readers.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]NodeEvent(nil), c.all...), err
}

// RunNodeClient runs the client to the end and returns its events.
func RunNodeClient(t testing.TB, cfg NodeClientConfig) ([]NodeEvent, error) {
	t.Helper()
	return StartNodeClient(t, cfg).Wait()
}
