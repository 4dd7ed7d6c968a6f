package core

import (
	"errors"
	"fmt"

	"switchboard/internal/numbering"
)

// tableDirectory routes with a numbering snapshot.
type tableDirectory struct{ t *numbering.Table }

// TableDirectory adapts a numbering snapshot to the core's Directory.
func TableDirectory(t *numbering.Table) Directory { return tableDirectory{t} }

func (d tableDirectory) Classify(ton uint8, digits string) (Number, error) {
	n, err := numbering.ParseDestination(ton, digits)
	if err != nil {
		if errors.Is(err, numbering.ErrInvalidNANP) {
			return Number{}, fmt.Errorf("%w: %w", ErrInvalidNANP, err)
		}
		return Number{}, fmt.Errorf("%w: %w", ErrInvalidNumber, err)
	}
	var k NumberKind
	switch n.Kind {
	case numbering.NANP:
		k = KindNANP
	case numbering.International:
		k = KindInternational
	case numbering.ShortCode:
		k = KindShortCode
	case numbering.Special:
		k = KindSpecial
	default:
		return Number{}, ErrInvalidNumber
	}
	return Number{Kind: k, E164: n.Key()}, nil
}

func numberType(t numbering.Type) NumberType {
	switch t {
	case numbering.Local:
		return TypeLocal
	case numbering.GSM:
		return TypeGSM
	}
	return TypeNone
}

func (d tableDirectory) Local(e164 string) (NumberType, bool, bool) {
	e, ok := d.t.LookupLocal(e164)
	if !ok {
		return 0, false, false
	}
	return numberType(e.Type), e.SMSProv, true
}

func (d tableDirectory) Special(digits string) (NumberType, bool) {
	e, ok := d.t.LookupSpecial(digits)
	if !ok {
		return 0, false
	}
	return numberType(e.Type), true
}

func (d tableDirectory) PeerFor(e164 string) (string, bool) { return d.t.LookupPeer(e164) }
