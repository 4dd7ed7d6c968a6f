package interop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// EnvInterop is the variable scripts/test.sh sets to say that every interop
// program must be present: a missing one then fails the test instead of
// skipping it.
const EnvInterop = "SWITCHBOARD_INTEROP"

// sbinDirs are searched after PATH because Debian installs bearerbox and
// smsbox in /usr/sbin, which a non-root PATH often lacks.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// programPath finds an executable by name on PATH or in the sbin
// directories.
func programPath(program string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, program)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in %v", program, sbinDirs)
}

// Require makes sure program (for example "bearerbox", "smsbox" or "node")
// can be run. If it cannot, the test fails when SWITCHBOARD_INTEROP=1 is set
// and is skipped otherwise, with a hint to run ./scripts/test.sh, which
// installs everything.
func Require(t testing.TB, program string) {
	t.Helper()
	if _, err := programPath(program); err != nil {
		missing(t, fmt.Sprintf("interop program %q is missing: %v", program, err))
	}
}

// missing reports a missing prerequisite by the rule of Require.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(EnvInterop) == "1" {
		t.Fatalf("%s; %s=1 is set, so this fails instead of skipping (./scripts/test.sh installs it)", what, EnvInterop)
	}
	t.Skipf("%s; run ./scripts/test.sh to install the interop programs", what)
}

// portsMu guards portsGiven.
var portsMu sync.Mutex

// portsGiven remembers every port FreePort handed out in this test binary,
// so that two harness pieces started back to back never get the same one
// (the kernel may offer a just-closed port again at once).
var portsGiven = map[int]bool{}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that this process has not handed out before. Programs that take a port
// number in their configuration (Kannel) need one; where a program can
// report the port it bound itself, the harness uses port 0 instead, which
// has no race at all.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("FreePort: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		portsMu.Lock()
		fresh := !portsGiven[port]
		portsGiven[port] = true
		portsMu.Unlock()
		if fresh {
			return port
		}
	}
	t.Fatal("FreePort: no fresh port after 100 tries")
	return 0
}

// repoRoot finds the module root (the directory of go.mod), where
// interop/node lives. Tests run in their package's directory, so walking up
// from the working directory finds it; the source location of this file is
// the fallback for a test binary run from elsewhere.
func repoRoot() (string, error) {
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if isModuleRoot(dir) {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "..", "..")
		if isModuleRoot(dir) {
			return filepath.Clean(dir), nil
		}
	}
	return "", errors.New("cannot find the switchboard module root (go.mod) above the working directory")
}

// isModuleRoot says whether dir holds switchboard's go.mod.
func isModuleRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1] == "switchboard"
		}
	}
	return false
}
