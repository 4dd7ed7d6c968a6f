//go:build !linux

package hugepages

// Reserve does nothing outside Linux.
func Reserve(n int) error { return ErrUnsupported }
