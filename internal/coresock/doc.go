// Package coresock is the protocol between the core and every other
// component (submit CLI, shell, role handlers): request/response messages
// over a unix SOCK_SEQPACKET socket, one message per packet (seed 001 §2.5).
// docs/core-socket.md is the wire specification; its examples are tests.
//
// The package has three layers:
//
//   - the codec (Marshal, Unmarshal, the message structs, Status): pure
//     functions from bytes to values, fuzzed, accepting only canonical
//     encodings so that every decoded message re-encodes to the same bytes;
//   - the connection (Listen, Conn): the socket itself, with stale-socket
//     takeover and oversize detection;
//   - the peer (Peer, Server, Dial): request ids and matching, many calls in
//     flight in both directions, dispatch to a Handler, the slow-consumer
//     rule, and clean shutdown that fails outstanding calls and tells the
//     handler once.
//
// The package is Linux-only, like the rest of the switch: it moves packets
// in batches with sendmmsg and recvmmsg and reads SO_PEERCRED.
package coresock
