package interop

import "syscall"

// sysProcAttr puts each program in a process group of its own, so that a
// stop reaches everything it forked, and asks the kernel to kill it if the
// test binary dies first, so that a crashed test leaves nothing behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
