//go:build !linux

package hugepages

// Reserve does nothing outside Linux.
func Reserve(mb int) error { return ErrUnsupported }
