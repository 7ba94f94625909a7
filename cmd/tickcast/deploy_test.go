package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/internal/pki"
)

// Every example config in deploy/ checks, with a development CA standing in
// for the certificates under /etc/tickcast/tls.
func TestDeployConfigs(t *testing.T) {
	files, err := filepath.Glob("../../deploy/config/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("%d example configs in deploy/config, want publisher, hub, edge and subscriber", len(files))
	}
	dir := t.TempDir()
	if err := pki.WriteDevCA(dir); err != nil {
		t.Fatal(err)
	}
	if err := pki.IssueCert(dir, "host", []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	tlsFlags := []string{"--cert", pki.CertFile(dir, "host"), "--key", pki.KeyFile(dir, "host"), "--ca", pki.CertFile(dir, "ca")}
	for _, f := range files {
		var out, errb bytes.Buffer
		if code := run(append([]string{"check-config", f}, tlsFlags...), &out, &errb); code != 0 {
			t.Errorf("%s: exit %d: %s", f, code, errb.String())
			continue
		}
		if !strings.Contains(out.String(), "# file") {
			t.Errorf("%s: no setting came from the file:\n%s", f, out.String())
		}
	}
}
