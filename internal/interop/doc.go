// Package interop starts the real programs that switchboard's interop tests
// talk to: Kannel (bearerbox and smsbox, binding to our SMPP server as a
// downstream ESME), the npm smpp package (an upstream SMSC stand-in and a
// second SMPP client) and SIPp (the far end of SIP calls), all on
// 127.0.0.1 with free ports.
//
// It exists for tests only: its files are ordinary .go files so that the
// tests of any package can import it, but no non-test code may import it
// (TestOnlyTestsImportInterop checks that). Every program it starts logs to
// files in t.TempDir(), is stopped and waited for in t.Cleanup, and has the
// tail of its logs printed when the test fails. Readiness is always a port
// that answers or a line the program prints, under a deadline.
//
// When a program is missing, Require skips the test with a hint to run
// ./scripts/test.sh, except when SWITCHBOARD_INTEROP=1 is set (as
// scripts/test.sh and so CI do), where it fails the test: CI must never pass
// by skipping. See docs/interop.md.
package interop
