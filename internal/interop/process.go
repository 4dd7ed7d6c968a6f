package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StopGrace is how long a stopped program has between SIGTERM and SIGKILL.
// Kannel's boxes shut down cleanly well within it; a program that hangs is
// killed rather than left behind.
const StopGrace = 5 * time.Second

// tailBytes is how much of the end of each log a failed test prints.
const tailBytes = 6 << 10

// Process is one program the harness started for a test. Its stdout and
// stderr go to StdoutPath and StderrPath in the test's temporary directory;
// it runs in a process group of its own so that stopping it stops anything
// it forked too.
type Process struct {
	Name       string
	Path       string
	Args       []string
	StdoutPath string
	StderrPath string
	// ExtraLogs are log files the program writes itself.
	ExtraLogs []string

	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stdinMu  sync.Mutex
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	readers  sync.WaitGroup
}

// procSpec says how to start a Process.
type procSpec struct {
	name string   // for logs and file names
	path string   // executable
	args []string // arguments after the executable
	dir  string   // working directory; empty for the log directory
	env  []string // added to the environment
	// logDir holds the log files; empty for a fresh t.TempDir().
	logDir string
	// stdin, when set, gives the process a pipe on stdin (Process.WriteLine).
	stdin bool
	// extraLogs are more log files the program writes itself (Kannel's
	// log-file), printed with stdout and stderr when the test fails.
	extraLogs []string
	// onLine, when set, is called with every line the process writes on
	// stdout (without the newline); the lines still go to the log file.
	onLine func(line []byte)
}

// startProcess starts a program and registers its stop with t.Cleanup. It
// fails the test if the program cannot be started.
func startProcess(t testing.TB, spec procSpec) *Process {
	t.Helper()
	logDir := spec.logDir
	if logDir == "" {
		// Asked for before the stop is registered, so that (cleanups running
		// last-in first-out) the program is stopped before its directory is
		// removed.
		logDir = t.TempDir()
	}
	p := &Process{
		Name:       spec.name,
		Path:       spec.path,
		Args:       spec.args,
		StdoutPath: filepath.Join(logDir, spec.name+".stdout"),
		StderrPath: filepath.Join(logDir, spec.name+".stderr"),
		ExtraLogs:  spec.extraLogs,
		done:       make(chan struct{}),
	}
	stdoutFile, err := os.Create(p.StdoutPath)
	if err != nil {
		t.Fatalf("%s: %v", spec.name, err)
	}
	stderrFile, err := os.Create(p.StderrPath)
	if err != nil {
		stdoutFile.Close()
		t.Fatalf("%s: %v", spec.name, err)
	}

	cmd := exec.Command(spec.path, spec.args...)
	cmd.Dir = spec.dir
	if cmd.Dir == "" {
		cmd.Dir = logDir
	}
	cmd.Env = append(os.Environ(), spec.env...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Stderr = stderrFile

	// A pipe of our own rather than cmd.StdoutPipe: Wait then does not wait
	// for our reader, and the reader sees EOF once every holder of the write
	// end (the program and anything it forked) is gone.
	var stdoutR, stdoutW *os.File
	if spec.onLine != nil {
		stdoutR, stdoutW, err = os.Pipe()
		if err != nil {
			t.Fatalf("%s: %v", spec.name, err)
		}
		cmd.Stdout = stdoutW
	} else {
		cmd.Stdout = stdoutFile
	}
	if spec.stdin {
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatalf("%s: %v", spec.name, err)
		}
		p.stdin = w
	}
	if err := cmd.Start(); err != nil {
		stdoutFile.Close()
		stderrFile.Close()
		if stdoutR != nil {
			stdoutR.Close()
			stdoutW.Close()
		}
		t.Fatalf("start %s: %v", spec.name, err)
	}
	p.cmd = cmd
	if stdoutW != nil {
		stdoutW.Close()
		p.readers.Add(1)
		go func() {
			defer p.readers.Done()
			defer stdoutR.Close()
			copyLines(stdoutR, stdoutFile, spec.onLine)
		}()
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Logf("interop: started %s (pid %d): %s %s; logs in %s", spec.name, cmd.Process.Pid, spec.path, strings.Join(spec.args, " "), logDir)

	t.Cleanup(func() {
		p.Stop()
		// The reader ends at EOF, which the stop guarantees; waiting for it
		// means the last lines are in the log before it is printed.
		p.readers.Wait()
		stdoutFile.Close()
		stderrFile.Close()
		if t.Failed() {
			p.logTails(t)
		}
	})
	return p
}

// copyLines copies r to log line by line, handing each line to onLine.
func copyLines(r io.Reader, log io.Writer, onLine func([]byte)) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			log.Write(line)
			onLine(bytes.TrimRight(line, "\r\n"))
		}
		if err != nil {
			return
		}
	}
}

// PID is the process id of the program (also its process group id).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the program has exited and been waited for.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is the program's exit status once Exited is closed.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// WriteLine writes one line to the program's stdin.
func (p *Process) WriteLine(b []byte) error {
	if p.stdin == nil {
		return errors.New(p.Name + ": no stdin pipe")
	}
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	_, err := p.stdin.Write(append(append([]byte(nil), b...), '\n'))
	return err
}

// Stop ends the program: its stdin is closed, SIGTERM goes to its process
// group, and after StopGrace SIGKILL. It returns once the program has been
// waited for. Stop is safe to call more than once; t.Cleanup calls it
// anyway.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		if p.stdin != nil {
			p.stdinMu.Lock()
			p.stdin.Close()
			p.stdinMu.Unlock()
		}
		select {
		case <-p.done:
		default:
			syscall.Kill(-pgid, syscall.SIGTERM)
			timer := time.NewTimer(StopGrace)
			select {
			case <-p.done:
				timer.Stop()
			case <-timer.C:
				syscall.Kill(-pgid, syscall.SIGKILL)
				<-p.done
			}
		}
		// Anything the program forked and left behind in its group goes
		// too: no process may outlive the test. ESRCH (none left) is the
		// normal answer.
		syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// logTails prints the end of both logs of the program to the test log.
func (p *Process) logTails(t testing.TB) {
	t.Helper()
	for _, path := range append([]string{p.StdoutPath, p.StderrPath}, p.ExtraLogs...) {
		if tail := fileTail(path, tailBytes); tail != "" {
			t.Logf("interop: %s, end of %s:\n%s", p.Name, filepath.Base(path), tail)
		}
	}
}

// fileTail returns up to n bytes from the end of a file, from a line start.
func fileTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return ""
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return ""
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
		return "[...]\n" + string(b)
	}
	return string(b)
}

// pollInterval is how often readiness conditions are checked.
const pollInterval = 20 * time.Millisecond

// waitTCP waits until something accepts TCP connections on addr, failing
// early if the program that should listen there exits.
func waitTCP(ctx context.Context, addr string, p *Process) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: nothing listens on %s: %w", p.Name, addr, ctx.Err())
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before listening on %s", p.Name, p.waitErr, addr)
		case <-ticker.C:
		}
	}
}
