// Package mmsg moves several datagrams or packets per system call with
// recvmmsg(2) and sendmmsg(2), for the servers whose cost is system calls
// (the core socket, the pager's receive loop). It works through
// syscall.RawConn, so the socket stays in Go's poller: a Read or Write
// waits there for readiness and honours the connection's deadlines. Each
// packet keeps its own boundary.
//
// Readers and writers allocate nothing per call: the callbacks handed to
// RawConn are bound once and report through fields. Elsewhere than Linux
// they move one packet per call.
package mmsg
