package sipcall

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrBadSDP is wrapped by every error of the SDP answer parser.
var ErrBadSDP = errors.New("sipcall: unusable SDP answer")

// codec is one G.711 law this dialer can send.
type codec uint8

const (
	codecPCMU codec = iota + 1
	codecPCMA
)

// String is the codec's SDP encoding name.
func (c codec) String() string {
	switch c {
	case codecPCMU:
		return "PCMU"
	case codecPCMA:
		return "PCMA"
	}
	return "unknown"
}

// Static RTP payload types of RFC 3551.
const (
	ptPCMU = 0
	ptPCMA = 8
)

// maxSDP bounds the answer the parser looks at; real answers are a few
// hundred bytes.
const maxSDP = 16 << 10

// sdpOffer builds the offer of an INVITE: one audio stream on rtpPort
// offering PCMU then PCMA at 8 kHz in 20 ms packets. sendrecv rather than
// sendonly because several PBXs treat a sendonly offer as "call on hold" and
// play their own music over the announcement; what arrives is discarded.
func sdpOffer(ip netip.Addr, rtpPort int, sessionID uint64) []byte {
	family := "IP4"
	if ip.Is6() && !ip.Is4In6() {
		family = "IP6"
	}
	addr := ip.Unmap().String()
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\n")
	fmt.Fprintf(&b, "o=switchboard %d %d IN %s %s\r\n", sessionID, sessionID, family, addr)
	fmt.Fprintf(&b, "s=switchboard\r\n")
	fmt.Fprintf(&b, "c=IN %s %s\r\n", family, addr)
	fmt.Fprintf(&b, "t=0 0\r\n")
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %d %d\r\n", rtpPort, ptPCMU, ptPCMA)
	fmt.Fprintf(&b, "a=rtpmap:%d PCMU/8000\r\n", ptPCMU)
	fmt.Fprintf(&b, "a=rtpmap:%d PCMA/8000\r\n", ptPCMA)
	fmt.Fprintf(&b, "a=ptime:20\r\n")
	fmt.Fprintf(&b, "a=sendrecv\r\n")
	return []byte(b.String())
}

// media is what the answer chose: where to send RTP and in which law.
type media struct {
	Addr        netip.AddrPort
	Codec       codec
	PayloadType uint8
}

// parseSDPAnswer reads an SDP answer (RFC 4566, RFC 3264): the first audio
// stream with a non-zero port, its connection address (media level before
// session level, numeric only) and the first of its formats that is PCMU or
// PCMA at 8 kHz, static or mapped by a=rtpmap. It is a pure function.
func parseSDPAnswer(body []byte) (media, error) {
	if len(body) > maxSDP {
		return media{}, fmt.Errorf("%w: %d bytes, at most %d", ErrBadSDP, len(body), maxSDP)
	}
	var (
		sessionAddr, mediaAddr string
		inAudio                bool
		port                   int
		formats                []string
		rtpmap                 = map[string]string{}
		sawAudio               bool
	)
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		typ, val := line[0], line[2:]
		if typ == 'm' {
			if inAudio {
				// The audio stream we took has ended.
				break
			}
			f := strings.Fields(val)
			if len(f) >= 4 && f[0] == "audio" && strings.HasPrefix(f[2], "RTP/AVP") {
				p, err := strconv.Atoi(f[1])
				if err == nil && p > 0 && p <= 65535 {
					inAudio, sawAudio, port, formats = true, true, p, f[3:]
				} else if err == nil && p == 0 {
					sawAudio = true
				}
			}
			continue
		}
		switch {
		case typ == 'c' && !sawAudio && !inAudio:
			sessionAddr = val
		case typ == 'c' && inAudio:
			mediaAddr = val
		case typ == 'a' && inAudio && strings.HasPrefix(val, "rtpmap:"):
			pt, enc, ok := strings.Cut(strings.TrimPrefix(val, "rtpmap:"), " ")
			if ok {
				rtpmap[pt] = strings.ToUpper(strings.TrimSpace(enc))
			}
		}
	}
	if !inAudio {
		return media{}, fmt.Errorf("%w: no audio stream", ErrBadSDP)
	}
	conn := mediaAddr
	if conn == "" {
		conn = sessionAddr
	}
	if conn == "" {
		return media{}, fmt.Errorf("%w: no connection address", ErrBadSDP)
	}
	ip, err := parseConnection(conn)
	if err != nil {
		return media{}, err
	}
	m := media{Addr: netip.AddrPortFrom(ip, uint16(port))}
	for _, f := range formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		enc, mapped := rtpmap[f]
		switch {
		case mapped && (enc == "PCMU/8000" || enc == "PCMU/8000/1"),
			!mapped && pt == ptPCMU:
			m.Codec, m.PayloadType = codecPCMU, uint8(pt)
		case mapped && (enc == "PCMA/8000" || enc == "PCMA/8000/1"),
			!mapped && pt == ptPCMA:
			m.Codec, m.PayloadType = codecPCMA, uint8(pt)
		default:
			continue
		}
		return m, nil
	}
	return media{}, fmt.Errorf("%w: no PCMU or PCMA among the answered formats", ErrBadSDP)
}

// parseConnection reads the value of a c= line: "IN IP4 192.0.2.1" (a TTL or
// count suffix after a slash is ignored). Host names are not resolved: an
// answer with one is refused, as is the unspecified address (an old form of
// "on hold").
func parseConnection(v string) (netip.Addr, error) {
	f := strings.Fields(v)
	if len(f) != 3 || f[0] != "IN" || (f[1] != "IP4" && f[1] != "IP6") {
		return netip.Addr{}, fmt.Errorf("%w: connection line %q", ErrBadSDP, clip(v))
	}
	host, _, _ := strings.Cut(f[2], "/")
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w: connection address %q is not a numeric address", ErrBadSDP, clip(host))
	}
	if (f[1] == "IP4") != ip.Is4() {
		return netip.Addr{}, fmt.Errorf("%w: connection address %q is not %s", ErrBadSDP, clip(host), f[1])
	}
	if ip.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("%w: connection address %s (on hold)", ErrBadSDP, ip)
	}
	return ip, nil
}

// clip shortens a string taken from the wire before it goes into an error.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
