package interop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRequireMissingProgram runs this test binary again on
// TestRequireHelper, which requires a program that does not exist: with
// SWITCHBOARD_INTEROP=1 that must fail, without it skip.
func TestRequireMissingProgram(t *testing.T) {
	for _, tc := range []struct {
		interop  string
		wantFail bool
		wantText string
	}{
		{"1", true, "SWITCHBOARD_INTEROP=1 is set"},
		{"", false, "--- SKIP: TestRequireHelper"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRequireHelper$", "-test.v")
		cmd.Env = append(os.Environ(), "INTEROP_REQUIRE_HELPER=1", EnvInterop+"="+tc.interop)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail || !strings.Contains(string(out), tc.wantText) {
			t.Errorf("%s=%q: err %v, output:\n%s", EnvInterop, tc.interop, err, out)
		}
	}
}

func TestRequireHelper(t *testing.T) {
	if os.Getenv("INTEROP_REQUIRE_HELPER") != "1" {
		t.Skip("run by TestRequireMissingProgram")
	}
	Require(t, "no-such-interop-program-xyzzy")
	t.Fatal("Require returned for a missing program")
}

// TestOnlyTestsImportInterop keeps the harness out of the product: no
// package's non-test code may import it.
func TestOnlyTestsImportInterop(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Skip("no go command to list packages with")
		}
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "list", "-e", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			if imp == "switchboard/internal/interop" || imp == "switchboard/internal/servertest" {
				t.Errorf("%s imports a test harness (%s) from non-test code", fields[0], imp)
			}
		}
	}
}

// TestKannelWithNodeSMSC puts the two real programs together: Kannel binds
// to the node SMSC stand-in, whose receipts and MOs Kannel must accept.
func TestKannelWithNodeSMSC(t *testing.T) {
	smsc := StartNodeSMSC(t, NodeSMSCConfig{SystemID: "kannel", Password: "pw", FirstMessageID: 500})
	k := StartKannel(t, KannelConfig{SMSCPort: smsc.Port, SystemID: "kannel", Password: "pw"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := k.SendSMS(ctx, KannelMT{From: "15550001111", To: "15550002222", Text: "via node", DLR: true, DLRMask: 3, ID: "n1"}); err != nil {
		t.Fatal(err)
	}
	sub, err := smsc.WaitEvent(ctx, func(ev NodeEvent) bool { return ev.Type == "submit_sm" })
	if err != nil {
		t.Fatal(err)
	}
	if sub.MessageID != "500" || sub.Text != "via node" || sub.RegisteredDelivery != 1 {
		t.Fatalf("submit_sm: %s", sub.Line)
	}
	if err := smsc.SendReceipt(sub.MessageID, "DELIVRD"); err != nil {
		t.Fatal(err)
	}
	d := next(t, ctx, k.DLR(), "dlr")
	if d.Type != 1 || d.ID != "n1" || d.ForeignID != "500" {
		t.Fatalf("DLR: %+v", d)
	}
	if err := smsc.SendMO("15550003333", "15550001111", "hello kannel"); err != nil {
		t.Fatal(err)
	}
	mo := next(t, ctx, k.MO(), "mo")
	if mo.Text != "hello kannel" || mo.From != "+15550003333" {
		t.Fatalf("MO: %+v", mo)
	}
}
