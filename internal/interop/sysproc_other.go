//go:build !linux

package interop

import "syscall"

// sysProcAttr puts each program in a process group of its own, so that a
// stop reaches everything it forked. Only Linux can also tie the program's
// life to the test binary's.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
