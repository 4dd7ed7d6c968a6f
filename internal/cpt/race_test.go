//go:build race

package cpt

// raceEnabled lets allocation tests skip under -race, which adds its own.
const raceEnabled = true
