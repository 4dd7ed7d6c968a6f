//go:build race

package pdu

// raceEnabled lets allocation tests skip under -race, which adds its own.
const raceEnabled = true
