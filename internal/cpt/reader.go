package cpt

import (
	"bytes"
	"io"
)

// DefaultMaxLine is the default line limit in bytes, terminator included.
const DefaultMaxLine = 4096

// initialBuffer is the buffer a Reader starts with. Chat lines are short,
// and a server holds many idle connections (the target is 10,000 at no
// more than 4 KiB each, socket and goroutine included), so the common case
// must fit in little memory; the buffer grows only for a line that needs it.
const initialBuffer = 256

// maxEmptyReads bounds how often a broken io.Reader may return 0, nil in a
// row before ReadLine gives up, as bufio does.
const maxEmptyReads = 100

// Reader reads "\n"- or "\r\n"-terminated lines with a hard length limit.
// It is not safe for concurrent use.
//
// The limit counts the whole line including its terminator, so with the
// default 4096 a line has at most 4095 bytes before "\n" (4094 before
// "\r\n"). The buffer never grows beyond the limit: a longer line is
// reported with ErrLineTooLong as soon as the limit is passed, and its rest
// is discarded as it arrives, never buffered.
type Reader struct {
	rd      io.Reader
	max     int
	buf     []byte // nil until the first read, and after Shrink
	start   int    // first unread byte
	end     int    // one past the last buffered byte
	scanned int    // buf[start:scanned] is known to hold no '\n'
	skip    bool   // discarding the rest of a line that was too long
	err     error  // the read error, returned once the buffer is drained
}

// NewReader returns a Reader of lines of at most max bytes, terminator
// included (DefaultMaxLine when max < 2: a limit must leave room for one
// byte and the "\n").
func NewReader(r io.Reader, max int) *Reader {
	if max < 2 {
		max = DefaultMaxLine
	}
	return &Reader{rd: r, max: max}
}

// ReadLine returns the next line without "\n" or "\r\n" (one "\r" before
// the "\n" is removed). The slice is valid until the next call.
//
// A line longer than the limit returns ErrLineTooLong once; the next call
// first discards the rest of that line, up to and including its "\n", so
// the caller can decline it and carry on with the line after.
//
// At the end of the stream ReadLine returns io.EOF (or the underlying read
// error). A final line that is not terminated is not returned: ReadLine
// reports io.ErrUnexpectedEOF for it, once, and the read error after that.
// A peer that closes mid-line was cut off, and executing a truncated SEND
// would deliver a truncated message.
func (r *Reader) ReadLine() ([]byte, error) {
	empty := 0
	for {
		if r.skip {
			if i := bytes.IndexByte(r.buf[r.start:r.end], '\n'); i >= 0 {
				r.start += i + 1
				r.scanned = r.start
				r.skip = false
				continue
			}
			r.start, r.end, r.scanned = 0, 0, 0
		} else if i := bytes.IndexByte(r.buf[r.scanned:r.end], '\n'); i >= 0 {
			nl := r.scanned + i
			line := r.buf[r.start:nl]
			r.start, r.scanned = nl+1, nl+1
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		} else {
			r.scanned = r.end
			if r.end-r.start >= r.max {
				// max bytes and no "\n": even a "\n" as the next byte
				// would make the line longer than the limit.
				r.start, r.end, r.scanned = 0, 0, 0
				r.skip = true
				return nil, ErrLineTooLong
			}
		}
		if r.err != nil {
			err := r.err
			if r.end > r.start && !r.skip {
				err = io.ErrUnexpectedEOF
			}
			r.start, r.end, r.scanned = 0, 0, 0
			return nil, err
		}
		r.makeRoom()
		n, err := r.rd.Read(r.buf[r.end:])
		r.end += n
		r.err = err
		switch {
		case n > 0:
			empty = 0
		case err == nil:
			if empty++; empty >= maxEmptyReads {
				r.err = io.ErrNoProgress
			}
		}
	}
}

// makeRoom ensures there is space after r.end: it allocates the buffer
// lazily, moves a partial line to the front, and doubles the buffer (up to
// the limit) only when a partial line fills it.
func (r *Reader) makeRoom() {
	if r.buf == nil {
		r.buf = make([]byte, min(initialBuffer, r.max))
	}
	if r.start == r.end {
		r.start, r.end, r.scanned = 0, 0, 0
	}
	if r.end < len(r.buf) {
		return
	}
	if r.start > 0 {
		n := copy(r.buf, r.buf[r.start:r.end])
		r.scanned -= r.start
		r.start, r.end = 0, n
		return
	}
	// While skipping the buffer is empty here, so only a real partial
	// line of len(buf) < max bytes gets this far.
	grown := make([]byte, min(2*len(r.buf), r.max))
	copy(grown, r.buf[:r.end])
	r.buf = grown
}

// Buffered returns how many bytes are buffered: a complete or partial
// line that the next ReadLine will return without reading, or part of it.
// A server uses it to answer all pipelined lines before it flushes.
func (r *Reader) Buffered() int { return r.end - r.start }

// Release drops the buffer whatever its size when nothing is buffered, so
// that a connection waiting without a reader goroutine holds none; the next
// ReadLine allocates a small one again.
func (r *Reader) Release() {
	if r.start == r.end && !r.skip {
		r.buf = nil
		r.start, r.end, r.scanned = 0, 0, 0
	}
}

// Shrink releases a buffer that has grown beyond its initial size, when
// nothing is buffered, so that one long line does not pin up to max bytes
// for the life of an idle connection. A buffer of the initial size is kept:
// dropping it would only allocate it again on the next line. A server calls
// Shrink when Buffered is 0, before it waits for the next line.
func (r *Reader) Shrink() {
	if r.start == r.end && len(r.buf) > initialBuffer {
		r.buf = nil
		r.start, r.end, r.scanned = 0, 0, 0
	}
}
