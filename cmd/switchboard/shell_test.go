package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sshEnv is a real OpenSSH sshd on 127.0.0.1 whose only key runs
// `switchboard shell` as its forced command.
type sshEnv struct {
	t    *testing.T
	port int
	key  string
	user string
}

func startSSHD(t *testing.T, forced string) *sshEnv {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/sshd"); err != nil {
			t.Skip("OpenSSH server not installed (scripts/test.sh installs openssh-server)")
		}
		sshd = "/usr/sbin/sshd"
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keygen := func(path string) {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	hostKey, userKey := filepath.Join(dir, "host_key"), filepath.Join(dir, "user_key")
	keygen(hostKey)
	keygen(userKey)
	pub, err := os.ReadFile(userKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	// The documented authorized_keys line (docs/shell.md).
	auth := writeFile(t, dir, "authorized_keys", fmt.Sprintf("command=%q,restrict %s", forced, pub))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := writeFile(t, dir, "sshd_config", strings.Join([]string{
		fmt.Sprintf("Port %d", port),
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + auth,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"StrictModes no",
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin forced-commands-only",
		"PermitUserEnvironment no",
		"LogLevel INFO",
	}, "\n")+"\n")
	// sshd insists on its privilege-separation directory.
	os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	startLogged(t, cmd, "sshd", regexp.MustCompile("Server listening on 127.0.0.1"))
	return &sshEnv{t: t, port: port, key: userKey, user: u.Username}
}

// ssh runs a command through the real ssh client.
func (s *sshEnv) ssh(stdin, command string) (string, string, int) {
	s.t.Helper()
	cmd := exec.Command("ssh", "-i", s.key, "-p", fmt.Sprint(s.port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
		s.user+"@127.0.0.1", command)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestShellThroughOpenSSH(t *testing.T) {
	e := startSMSC(t)
	e.run("", "numbers", "add", "+16195550100", "--type", "local")
	e.run("", "numbers", "add", "+16195550101", "--type", "local")
	e.run("", "numbers", "add", "+16195550107", "--type", "local")
	s := startSSHD(t, fmt.Sprintf("%s shell --data %s --number +16195550100", binary(t), e.data))

	// Send from one's own number only.
	out, errs, code := s.ssh("hello over ssh\n", "send +16195550101")
	if code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("send: exit %d %q %q", code, out, errs)
	}
	rows := e.dumpRows("--show-text", "--dst", "+16195550101")
	if len(rows) != 1 || rows[0]["src"] != "+16195550100" || rows[0]["text"] != "hello over ssh" {
		t.Fatalf("sent SM: %v", rows)
	}
	// Someone writes to the user, and a third party writes elsewhere.
	e.run("reply to you\n", "submit", "+16195550101", "+16195550100")
	e.run("not for you\n", "submit", "+16195550101", "+16195550107")

	out, errs, code = s.ssh("", "read")
	if code != 0 || !strings.Contains(out, "reply to you") || !strings.Contains(out, "hello over ssh") {
		t.Fatalf("read: exit %d %q %q", code, out, errs)
	}
	if strings.Contains(out, "not for you") {
		t.Fatalf("read shows another number's message:\n%s", out)
	}
	out, _, code = s.ssh("", "read --json --count 1")
	if code != 0 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.HasPrefix(out, "{") {
		t.Fatalf("read --json --count 1: %d %q", code, out)
	}

	// Everything else is refused.
	for _, bad := range []string{
		"dump --number +16195550107",
		"read --number +16195550107",
		"read --file /etc/passwd",
		"send +16195550101 ; cat /etc/passwd",
		"/bin/sh",
		"submit +16195550107 +16195550101",
		"read --data /tmp",
	} {
		out, errs, code := s.ssh("x\n", bad)
		if code == 0 {
			t.Errorf("%q was allowed: %q %q", bad, out, errs)
		}
		if strings.Contains(out, "not for you") || strings.Contains(out, "root:") {
			t.Errorf("%q leaked: %q", bad, out)
		}
	}
	// Nothing was sent by the refused commands.
	if rows := e.dumpRows("--src", "+16195550100"); len(rows) != 1 {
		t.Fatalf("refused commands sent SMs: %v", rows)
	}
}
