// Package redact hides phone numbers in texts bound for logs and for the
// network, such as error texts that quote a far end's words: those may
// hold a number in any format, not only the one that was dialled.
package redact

import "regexp"

// Numbers replaces by "#" every run of four digits or more in s, counting
// across the separators phone numbers are written with (spaces, dots,
// dashes, parentheses) and with a leading "+". Shorter runs, such as
// three-digit SIP status codes, stay. Other figures of four digits or
// more (ports, addresses, years) go as well: a text cannot tell them from
// a phone number, and a number must never get through.
func Numbers(s string) string {
	return digitRun.ReplaceAllStringFunc(s, func(run string) string {
		n := 0
		for _, c := range run {
			if c >= '0' && c <= '9' {
				n++
			}
		}
		if n >= 4 {
			return "#"
		}
		return run
	})
}

var digitRun = regexp.MustCompile(`\+?[0-9][0-9 ().-]*[0-9]`)
