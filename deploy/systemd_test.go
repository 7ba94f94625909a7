package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// units are the service units and the command and file each runs.
var units = map[string]string{
	"tickcast-publisher.service":  "/usr/local/bin/tickcast publish --config /etc/tickcast/publisher.toml",
	"tickcast-relay.service":      "/usr/local/bin/tickcast relay --config /etc/tickcast/relay.toml",
	"tickcast-subscriber.service": "/usr/local/bin/tickcast subscribe --config /etc/tickcast/subscriber.toml",
}

// unitSettings returns a unit's key=value lines by key (comments skipped).
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: %q is not key=value", path, line)
			continue
		}
		kv[k] = append(kv[k], v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestUnitsHardened: each unit runs its role from its file as the tickcast
// user, with the hardening the deployment relies on and no capability but
// CAP_NET_ADMIN.
func TestUnitsHardened(t *testing.T) {
	for name, cmdline := range units {
		kv := unitSettings(t, filepath.Join("systemd", name))
		want := map[string]string{
			"ExecStart":               cmdline,
			"ExecReload":              "/bin/kill -HUP $MAINPID",
			"User":                    "tickcast",
			"Group":                   "tickcast",
			"Restart":                 "on-failure",
			"ProtectSystem":           "strict",
			"ProtectHome":             "yes",
			"PrivateTmp":              "yes",
			"NoNewPrivileges":         "yes",
			"CapabilityBoundingSet":   "CAP_NET_ADMIN",
			"AmbientCapabilities":     "CAP_NET_ADMIN",
			"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
			"WantedBy":                "multi-user.target",
			"SystemCallArchitectures": "native",
			"MemoryDenyWriteExecute":  "yes",
			"ProtectKernelTunables":   "yes",
			"RestrictSUIDSGID":        "yes",
			"ProtectControlGroups":    "yes",
			"RestrictNamespaces":      "yes",
			"LockPersonality":         "yes",
			"ProtectKernelModules":    "yes",
			"SystemCallFilter":        "@system-service",
			"StateDirectory":          "tickcast",
			"RestartSec":              "2s",
			"After":                   "network-online.target",
			"Wants":                   "network-online.target",
			"Type":                    "exec",
			"PrivateDevices":          "yes",
			"ProtectClock":            "yes",
			"RemoveIPC":               "yes",
			"ProtectKernelLogs":       "yes",
			"ProtectHostname":         "yes",
			"RestrictRealtime":        "yes",
			"ProtectProc":             "invisible",
			"UMask":                   "0027",
			"WorkingDirectory":        "/var/lib/tickcast",
			"SystemCallErrorNumber":   "EPERM",
		}
		for k, v := range want {
			if got := kv[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s=%q, want %q", name, k, got, v)
			}
		}
		if _, ok := kv["LimitMEMLOCK"]; ok {
			t.Errorf("%s: LimitMEMLOCK set, but nothing in tickcast locks memory", name)
		}
	}
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify on the units. It
// checks that ExecStart's binary exists, so the units are verified as
// copies running this test's binary instead of /usr/local/bin/tickcast. Any
// output (systemd-analyze warns about unknown keys and bad values without
// failing) fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found (Debian package systemd): the units are not verified here")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	for name := range units {
		b, err := os.ReadFile(filepath.Join("systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/tickcast", self)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, err := exec.Command(tool, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestSysusers: the unit's user is the one the sysusers file creates.
func TestSysusers(t *testing.T) {
	b, err := os.ReadFile("systemd/tickcast.sysusers.conf")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "u" && f[1] == "tickcast" {
			return
		}
	}
	t.Fatal("tickcast.sysusers.conf creates no user tickcast")
}
