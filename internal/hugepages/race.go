//go:build race

package hugepages

// raceEnabled: the race detector gives every byte of a heap allocation
// shadow memory, so a reservation would cost its size in resident memory.
const raceEnabled = true
