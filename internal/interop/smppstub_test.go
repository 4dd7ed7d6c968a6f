package interop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// stubSMSC is the smallest SMPP 3.4 server that lets Kannel bind as a
// transceiver and submit: raw bytes with encoding/binary, only for the
// harness's own tests, so that they can check what Kannel really sends and
// what it needs back before our own server exists. It is not a model for
// internal/smpp.
type stubSMSC struct {
	ln       net.Listener
	password string
	// status, when set (setStatus), gives the command_status of the n-th
	// submit_sm (n from 1); a non-zero status answers without a message_id.
	status func(n int) uint32
	// messageID makes the message_id of the n-th accepted submit_sm
	// (n from 1); nil gives decimal n+41 ("42", "43", ...).
	messageID func(n int) string

	binds   *queue[stubPDU]
	submits *queue[stubPDU]
	// resps has the other PDUs Kannel sends: deliver_sm_resp,
	// generic_nack, enquire_link, unbind.
	resps *queue[stubPDU]
	mu    sync.Mutex
	conn  net.Conn // the bound session, for deliver_sm
	seq   uint32
	n     int
}

// stubPDU is one decoded PDU.
type stubPDU struct {
	ID, Status, Seq uint32
	// bind fields
	SystemID, Password, SystemType     string
	InterfaceVersion, AddrTON, AddrNPI byte
	AddressRange                       string
	// submit_sm fields
	ServiceType                       string
	SrcTON, SrcNPI                    byte
	Src                               string
	DstTON, DstNPI                    byte
	Dst                               string
	ESMClass, ProtocolID, Priority    byte
	ScheduleDeliveryTime, Validity    string
	RegisteredDelivery, ReplaceIfPres byte
	DataCoding, DefaultMsgID          byte
	ShortMessage                      []byte
	TLVs                              map[uint16][]byte
	// MessageID is what the stub answered.
	MessageID string
}

const (
	cmdGenericNack     = 0x80000000
	cmdSubmitSM        = 0x00000004
	cmdDeliverSM       = 0x00000005
	cmdUnbind          = 0x00000006
	cmdBindTransceiver = 0x00000009
	cmdEnquireLink     = 0x00000015
	respBit            = 0x80000000
)

func startStubSMSC(t *testing.T, password string) *stubSMSC {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stubSMSC{ln: ln, password: password, binds: newQueue[stubPDU](), submits: newQueue[stubPDU](), resps: newQueue[stubPDU]()}
	var wg sync.WaitGroup
	conns := map[net.Conn]bool{}
	var connsMu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			connsMu.Lock()
			conns[c] = true
			connsMu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serve(t, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		connsMu.Lock()
		for c := range conns {
			c.Close()
		}
		connsMu.Unlock()
		wg.Wait()
		s.binds.Close()
		s.submits.Close()
		s.resps.Close()
	})
	return s
}

// setStatus sets the status function under the lock the serving
// goroutines read it with.
func (s *stubSMSC) setStatus(f func(n int) uint32) {
	s.mu.Lock()
	s.status = f
	s.mu.Unlock()
}

func (s *stubSMSC) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// write sends one PDU; body is everything after the header.
func (s *stubSMSC) write(c net.Conn, id, status, seq uint32, body []byte) error {
	b := make([]byte, 16, 16+len(body))
	binary.BigEndian.PutUint32(b[0:], uint32(16+len(body)))
	binary.BigEndian.PutUint32(b[4:], id)
	binary.BigEndian.PutUint32(b[8:], status)
	binary.BigEndian.PutUint32(b[12:], seq)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := c.Write(append(b, body...))
	return err
}

func (s *stubSMSC) serve(t *testing.T, c net.Conn) {
	defer c.Close()
	for {
		var h [16]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(h[0:])
		if n < 16 || n > 64<<10 {
			t.Errorf("stub: PDU length %d", n)
			return
		}
		body := make([]byte, n-16)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		p := stubPDU{ID: binary.BigEndian.Uint32(h[4:]), Status: binary.BigEndian.Uint32(h[8:]), Seq: binary.BigEndian.Uint32(h[12:])}
		switch p.ID {
		case cmdBindTransceiver:
			r := &reader{b: body}
			p.SystemID, p.Password, p.SystemType = r.cstr(), r.cstr(), r.cstr()
			p.InterfaceVersion, p.AddrTON, p.AddrNPI = r.byte(), r.byte(), r.byte()
			p.AddressRange = r.cstr()
			status := uint32(0)
			if p.Password != s.password {
				status = 0x0D
			}
			p.Status = status
			if status == 0 {
				s.mu.Lock()
				s.conn = c
				s.mu.Unlock()
				s.write(c, cmdBindTransceiver|respBit, 0, p.Seq, []byte("stub\x00"))
			} else {
				s.write(c, cmdBindTransceiver|respBit, status, p.Seq, nil)
			}
			s.binds.Push(p)
		case cmdEnquireLink:
			s.write(c, cmdEnquireLink|respBit, 0, p.Seq, nil)
			s.resps.Push(p)
		case cmdSubmitSM:
			if err := p.decodeSM(body); err != nil {
				t.Errorf("stub: submit_sm: %v", err)
				s.write(c, cmdSubmitSM|respBit, 0x08, p.Seq, nil)
				continue
			}
			s.mu.Lock()
			s.n++
			n := s.n
			s.mu.Unlock()
			s.mu.Lock()
			statusFor := s.status
			s.mu.Unlock()
			if statusFor != nil {
				if st := statusFor(n); st != 0 {
					p.Status = st
					s.write(c, cmdSubmitSM|respBit, st, p.Seq, nil)
					s.submits.Push(p)
					continue
				}
			}
			if s.messageID != nil {
				p.MessageID = s.messageID(n)
			} else {
				p.MessageID = strconv.Itoa(n + 41)
			}
			s.write(c, cmdSubmitSM|respBit, 0, p.Seq, append([]byte(p.MessageID), 0))
			s.submits.Push(p)
		case cmdUnbind:
			s.write(c, cmdUnbind|respBit, 0, p.Seq, nil)
			s.resps.Push(p)
			return
		case cmdEnquireLink | respBit, cmdUnbind | respBit:
			s.resps.Push(p)
		case cmdDeliverSM | respBit, cmdGenericNack:
			s.resps.Push(p)
		default:
			if p.ID&respBit == 0 {
				s.write(c, cmdGenericNack, 0x03, p.Seq, nil)
			}
		}
	}
}

// deliver sends a deliver_sm on the bound session. tlvs are appended in
// tag order given.
func (s *stubSMSC) deliver(src, dst string, esmClass, dataCoding byte, sm []byte, tlvs ...stubTLV) error {
	s.mu.Lock()
	c := s.conn
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	if c == nil {
		return errors.New("stub: no bound session")
	}
	var b bytes.Buffer
	b.WriteString("\x00")        // service_type
	b.Write([]byte{1, 1})        // source ton, npi
	b.WriteString(src + "\x00")  // source_addr
	b.Write([]byte{1, 1})        // dest ton, npi
	b.WriteString(dst + "\x00")  // destination_addr
	b.Write([]byte{esmClass, 0}) // esm_class, protocol_id
	b.WriteByte(0)               // priority_flag
	b.WriteString("\x00\x00")    // schedule_delivery_time, validity_period
	b.Write([]byte{0, 0})        // registered_delivery, replace_if_present
	b.Write([]byte{dataCoding, 0, byte(len(sm))})
	b.Write(sm)
	for _, tlv := range tlvs {
		var h [4]byte
		binary.BigEndian.PutUint16(h[0:], tlv.tag)
		binary.BigEndian.PutUint16(h[2:], uint16(len(tlv.value)))
		b.Write(h[:])
		b.Write(tlv.value)
	}
	return s.write(c, cmdDeliverSM, 0, 0x40000000+seq, b.Bytes())
}

type stubTLV struct {
	tag   uint16
	value []byte
}

// reader decodes the fields of a PDU body; a short body reads as zeros
// and sets err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.err = io.ErrUnexpectedEOF
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) cstr() string {
	i := bytes.IndexByte(r.b, 0)
	if i < 0 {
		r.err = errors.New("unterminated C-Octet String")
		return ""
	}
	v := string(r.b[:i])
	r.b = r.b[i+1:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if len(r.b) < n {
		r.err = io.ErrUnexpectedEOF
		return nil
	}
	v := append([]byte(nil), r.b[:n]...)
	r.b = r.b[n:]
	return v
}

func (p *stubPDU) decodeSM(body []byte) error {
	r := &reader{b: body}
	p.ServiceType = r.cstr()
	p.SrcTON, p.SrcNPI, p.Src = r.byte(), r.byte(), r.cstr()
	p.DstTON, p.DstNPI, p.Dst = r.byte(), r.byte(), r.cstr()
	p.ESMClass, p.ProtocolID, p.Priority = r.byte(), r.byte(), r.byte()
	p.ScheduleDeliveryTime, p.Validity = r.cstr(), r.cstr()
	p.RegisteredDelivery, p.ReplaceIfPres = r.byte(), r.byte()
	p.DataCoding, p.DefaultMsgID = r.byte(), r.byte()
	p.ShortMessage = r.bytes(int(r.byte()))
	p.TLVs = map[uint16][]byte{}
	for r.err == nil && len(r.b) >= 4 {
		tag := binary.BigEndian.Uint16(r.b[0:])
		n := int(binary.BigEndian.Uint16(r.b[2:]))
		r.b = r.b[4:]
		p.TLVs[tag] = r.bytes(n)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d stray bytes", len(r.b))
	}
	return r.err
}
