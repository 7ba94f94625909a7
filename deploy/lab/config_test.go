package lab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every daemon's command line becomes a config file the daemon accepts:
// checked here with tickcast check-config on each (no root needed).
func TestDaemonConfigsCheck(t *testing.T) {
	dir := t.TempDir()
	bin, err := BuildTickcast(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	topo := plannedTopology()
	certs := filepath.Join(dir, "certs")
	run := func(args ...string) (string, error) {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		return string(out), err
	}
	if out, err := run(bin, "certs", "--dir", certs, "--names", "publisher,hub,edge1,edge2,sub1,sub2", "--hosts", "127.0.0.1"); err != nil {
		t.Fatalf("certs: %v\n%s", err, out)
	}
	f := feedParams{Rate: 1000, Duration: 10e9, Instruments: 4, Levels: 10}
	for _, h := range daemonOrder {
		flags := topo.daemonArgs(h, certs, f)
		args, err := writeConfig(dir, h, flags)
		if err != nil {
			t.Fatal(err)
		}
		out, err := run(bin, "check-config", args[2])
		if err != nil {
			t.Errorf("%s: %v\n%s", h, err, out)
			continue
		}
		// Every flag the lab gives came from the file.
		for _, a := range flags[1:] {
			if k, ok := strings.CutPrefix(a, "--"); ok {
				k, _, _ = strings.Cut(k, "=")
				if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
					return strings.HasPrefix(l, k+" = ") && strings.HasSuffix(l, "# file")
				}) {
					t.Errorf("%s: %s not taken from the file:\n%s", h, k, out)
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pub.toml")); err != nil {
		t.Error(err)
	}
}
