package core

import (
	"errors"
	"fmt"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
	"switchboard/internal/smstext"
)

// NumberKind is what a destination address is, by NANP rules (seed §1.1).
type NumberKind uint8

const (
	KindNANP          NumberKind = iota + 1 // +1 NPA NXX XXXX
	KindInternational                       // another country code
	KindShortCode                           // USA NXXXX / NXXXXX
	KindSpecial                             // a 4-digit local number
)

// Number is a classified address: E164 is "1NPANXXXXXX" for NANP numbers,
// the digits otherwise.
type Number struct {
	Kind NumberKind
	E164 string
}

// NumberType is how a locally owned number takes SMS.
type NumberType uint8

const (
	TypeLocal NumberType = iota + 1 // store-only: storing is delivery
	TypeGSM                         // delivered to the local GSM network
	TypeNone                        // not SMS-capable
)

// Errors a Directory's Classify returns.
var (
	ErrInvalidNumber = errors.New("not a valid number")
	ErrInvalidNANP   = errors.New("invalid NANP number")
)

// Directory answers the numbering questions of routing. The numbering
// package provides it; tests provide a map.
type Directory interface {
	Classify(ton uint8, digits string) (Number, error)
	// Local looks up a locally owned NANP number.
	Local(e164 string) (typ NumberType, smsProv bool, ok bool)
	// Special looks up a 4-digit local number.
	Special(digits string) (typ NumberType, ok bool)
	// PeerFor is the downstream peer whose pool holds e164.
	PeerFor(e164 string) (peer string, ok bool)
}

// route is the routing decision for one SM.
type route struct {
	dst  pms.Class
	peer string // for ClassDownstream
}

// decide applies seed 001 §2.4.1 (routing) and §2.4.2 (permission to send
// upstream), plus the rule that a downstream peer sends only from numbers in
// its own pool.
func decide(dir Directory, r *pms.Record) (route, *Error) {
	if r.Dst.Digits == "" {
		return route{}, reject(coresock.StatusInvalidNumber, "empty destination")
	}
	if r.Src.Digits == "" {
		return route{}, reject(coresock.StatusInvalidNumber, "empty source")
	}
	rt, rerr := routeDestination(dir, r)
	if rerr != nil {
		return route{}, rerr
	}
	switch r.SrcClass {
	case pms.ClassUpstream:
		// §1.2: anything from the uplink must be for a number we know.
		if rt.dst == pms.ClassUpstream {
			return route{}, reject(coresock.StatusUnknownDestinationFromUpstream, "")
		}
	case pms.ClassDownstream:
		// A peer may send only from its own pool, whatever the
		// destination: its pool is what the upstream provisioned for it.
		src, err := dir.Classify(r.Src.TON, r.Src.Digits)
		if err != nil || src.Kind != KindNANP {
			return route{}, reject(coresock.StatusSourceNotAllowed, "source is not a number of the peer")
		}
		if p, ok := dir.PeerFor(src.E164); !ok || p != r.SrcPeer {
			return route{}, reject(coresock.StatusSourceNotAllowed, "source is not in the peer's pool")
		}
	default:
		if rt.dst == pms.ClassUpstream {
			// §2.4.2: only SMS-provisioned local numbers reach the outside
			// world.
			src, err := dir.Classify(r.Src.TON, r.Src.Digits)
			if err != nil || src.Kind != KindNANP {
				return route{}, reject(coresock.StatusUpstreamNotPermitted, "")
			}
			if _, prov, ok := dir.Local(src.E164); !ok || !prov {
				return route{}, reject(coresock.StatusUpstreamNotPermitted, "")
			}
		}
	}
	return rt, nil
}

func routeDestination(dir Directory, r *pms.Record) (route, *Error) {
	n, err := dir.Classify(r.Dst.TON, r.Dst.Digits)
	switch {
	case errors.Is(err, ErrInvalidNANP):
		return route{}, reject(coresock.StatusInvalidNumber, "invalid NANP number")
	case err != nil:
		return route{}, reject(coresock.StatusUnroutable, "")
	}
	switch n.Kind {
	case KindInternational, KindShortCode:
		return route{dst: pms.ClassUpstream}, nil
	case KindSpecial:
		// Special numbers mean something only to locally originated SMs.
		if r.SrcClass != pms.ClassLocal && r.SrcClass != pms.ClassGSM && r.SrcClass != pms.ClassChat {
			return route{}, reject(coresock.StatusUnroutable, "")
		}
		typ, ok := dir.Special(n.E164)
		if !ok {
			return route{}, reject(coresock.StatusUnroutable, "")
		}
		return localRoute(typ)
	case KindNANP:
		if typ, _, ok := dir.Local(n.E164); ok {
			return localRoute(typ)
		}
		if p, ok := dir.PeerFor(n.E164); ok {
			return route{dst: pms.ClassDownstream, peer: p}, nil
		}
		return route{dst: pms.ClassUpstream}, nil
	}
	return route{}, reject(coresock.StatusUnroutable, "")
}

func localRoute(typ NumberType) (route, *Error) {
	switch typ {
	case TypeLocal:
		return route{dst: pms.ClassLocal}, nil
	case TypeGSM:
		return route{dst: pms.ClassGSM}, nil
	}
	return route{}, reject(coresock.StatusNotSMSCapable, "")
}

// checkContent applies the PID/DCS filter (§2.4.3) and checks that the
// user data length agrees with TP-UDL.
func checkContent(cfg *Config, r *pms.Record) *Error {
	if cfg.filtered(r.SrcClass) {
		if !cfg.PIDAllowed[r.PID] {
			return reject(coresock.StatusPIDNotAllowed, fmt.Sprintf("PID 0x%02X", r.PID))
		}
		if !cfg.DCSAllowed[r.DCS] {
			return reject(coresock.StatusDCSNotAllowed, fmt.Sprintf("DCS 0x%02X", r.DCS))
		}
	}
	if r.Kind != pms.KindSM {
		return nil
	}
	n := len(r.UD)
	if septets(r.DCS) {
		if r.UDL > 160 || (int(r.UDL)*7+7)/8 != n {
			return reject(coresock.StatusBadLength, fmt.Sprintf("UDL %d septets in %d octets", r.UDL, n))
		}
	} else if int(r.UDL) != n {
		return reject(coresock.StatusBadLength, fmt.Sprintf("UDL %d for %d octets", r.UDL, n))
	}
	if r.ESM&0x40 != 0 && (n == 0 || int(r.UD[0])+1 > n) {
		return reject(coresock.StatusBadLength, "UDH runs past the user data")
	}
	return nil
}

// septets reports whether a DCS means the GSM 7-bit default alphabet, where
// TP-UDL counts septets (3GPP TS 23.038 §4). It is smstext's reading of the
// DCS, which every front-end packs and unpacks by: reserved alphabets and
// coding groups count as the default alphabet, as §4 tells a receiver to
// assume. Two readings that disagreed made the SMPP side pack such a
// message as septets and the core then refuse it for its length.
func septets(dcs byte) bool { return smstext.CodingOf(dcs) == smstext.CodingGSM7 }
