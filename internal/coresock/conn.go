package coresock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultSocketMode is the permission of the socket file when Listen is given
// mode 0: owner and group may connect, which is how the core limits who may
// submit messages and register as a role handler.
const DefaultSocketMode os.FileMode = 0o660

// network is the net package's name for unix SOCK_SEQPACKET sockets. Using
// the net package rather than raw file descriptors gives the runtime poller
// (blocking reads that do not hold a thread) and deadlines for free, while
// each Read and Write is still exactly one packet and one system call.
const network = "unixpacket"

// Listener is a SOCK_SEQPACKET unix socket listener.
type Listener struct {
	ln         *net.UnixListener
	path       string
	maxMessage int
}

// Listen creates the socket at path with the given permissions (0 means
// DefaultSocketMode). A socket file already at path is taken over only if it
// is stale, that is if connecting to it is refused because no process
// listens any more; if a server answers there, Listen fails rather than
// stealing the address of a running core. Anything other than a socket at
// path is never removed.
func Listen(path string, mode os.FileMode) (*Listener, error) {
	if mode == 0 {
		mode = DefaultSocketMode
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix(network, &net.UnixAddr{Name: path, Net: network})
	if err != nil {
		return nil, fmt.Errorf("coresock: listen: %w", err)
	}
	// bind(2) creates the file according to the umask; the mode is set
	// right after, before anyone is accepted.
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("coresock: listen: %w", err)
	}
	return &Listener{ln: ln, path: path, maxMessage: MaxMessage}, nil
}

// ErrInUse is returned by Listen when a live server answers on the path.
var ErrInUse = errors.New("coresock: a server is already listening on the socket")

func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("coresock: listen: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("coresock: listen: %s exists and is not a socket", path)
	}
	c, err := net.DialUnix(network, nil, &net.UnixAddr{Name: path, Net: network})
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("%w: %s", ErrInUse, path)
	case errors.Is(err, syscall.ECONNREFUSED):
		// Nobody listens: the file was left by a process that died
		// without unlinking it.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("coresock: removing stale socket: %w", err)
		}
		return nil
	case errors.Is(err, syscall.ENOENT):
		return nil
	default:
		// Anything else (a stream socket answering, EACCES) means we
		// cannot prove the file is stale, so it is left alone.
		return fmt.Errorf("coresock: listen: probing existing socket %s: %w", path, err)
	}
}

// Path returns the socket file path.
func (l *Listener) Path() string { return l.path }

// SetMaxMessage sets the largest message accepted on connections accepted
// from now on (default MaxMessage).
func (l *Listener) SetMaxMessage(n int) { l.maxMessage = n }

// Accept waits for the next connection.
func (l *Listener) Accept() (*Conn, error) {
	c, err := l.ln.AcceptUnix()
	if err != nil {
		return nil, err
	}
	return NewConn(c, l.maxMessage), nil
}

// Close stops listening and removes the socket file.
func (l *Listener) Close() error { return l.ln.Close() }

// Conn is one SOCK_SEQPACKET connection: one message per packet.
type Conn struct {
	c          *net.UnixConn
	maxMessage int
}

// NewConn wraps a connected unixpacket socket. maxMessage <= 0 means
// MaxMessage.
func NewConn(c *net.UnixConn, maxMessage int) *Conn {
	if maxMessage <= 0 {
		maxMessage = MaxMessage
	}
	return &Conn{c: c, maxMessage: maxMessage}
}

// DialConn connects to the socket at path.
func DialConn(ctx context.Context, path string, maxMessage int) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, path)
	if err != nil {
		return nil, fmt.Errorf("coresock: dial: %w", err)
	}
	return NewConn(c.(*net.UnixConn), maxMessage), nil
}

// MaxMessage returns the largest message this connection accepts.
func (c *Conn) MaxMessage() int { return c.maxMessage }

// ReadMessage reads one packet into buf, which must hold at least
// MaxMessage()+1 bytes. The extra byte is how an oversize packet is
// detected: the kernel truncates a packet to the buffer and discards the
// rest, so a read that fills more than MaxMessage bytes was too big. Then
// ReadMessage returns ErrOversize with n = the bytes kept, which still start
// with the header, and the connection remains usable for the next packet.
func (c *Conn) ReadMessage(buf []byte) (int, error) {
	if len(buf) <= c.maxMessage {
		return 0, fmt.Errorf("coresock: read buffer of %d bytes, need %d", len(buf), c.maxMessage+1)
	}
	n, err := c.c.Read(buf[:c.maxMessage+1])
	if err != nil {
		return n, err
	}
	if n > c.maxMessage {
		return n, ErrOversize
	}
	return n, nil
}

// WriteMessage sends b as one packet.
func (c *Conn) WriteMessage(b []byte) error {
	if len(b) > c.maxMessage {
		return fmt.Errorf("%w: %d bytes", ErrOversize, len(b))
	}
	_, err := c.c.Write(b)
	return err
}

// SetWriteDeadline bounds how long WriteMessage may block.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.c.SetWriteDeadline(t) }

// SetReadDeadline bounds how long ReadMessage may block.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// PeerCred returns the credentials (pid, uid, gid) of the process at the
// other end as the kernel recorded them at connect time, so that the core
// can log or restrict who a client is.
func (c *Conn) PeerCred() (*unix.Ucred, error) {
	rc, err := c.c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, serr
}
