package link

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tickcast/tickcast/internal/pki"
)

// Certificates from a real CA: a root, an intermediate that signs, and leaf
// files holding the chain, made with openssl by deploy/tls/openssl-chain.sh
// (the README's operator guide), carry a link both ways.
func TestLinkWithIntermediateCAChain(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed (Debian package openssl): cannot make the CA chain")
	}
	_, here, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(here), "..", "..", "deploy", "tls", "openssl-chain.sh")
	dir := t.TempDir()
	if out, err := exec.Command(script, dir, "hub=IP:127.0.0.1", "edge").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	f := func(name string) string { return filepath.Join(dir, name) }
	serverTLS, err := pki.ServerTLS(f("hub.pem"), f("hub-key.pem"), f("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := pki.ClientTLS(f("edge.pem"), f("edge-key.pem"), f("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s := testServer(t, newPKI(t), &fakeFeed{}, func(cfg *ServerConfig) { cfg.TLS = serverTLS })
	if err := dialErr(t, s.Addr().String(), clientTLS); err != nil {
		t.Fatalf("dial through the intermediate: %v", err)
	}
	if st := s.Stats(); st.Accepted != 1 || st.Refused != 0 {
		t.Errorf("server stats %+v", st)
	}
	// The intermediate must travel in the chain: a client presenting its
	// leaf alone is refused (the server trusts only the root).
	if out, err := exec.Command("sh", "-c", "head -n $(grep -n 'END CERTIFICATE' "+f("edge.pem")+" | head -1 | cut -d: -f1) "+f("edge.pem")+" > "+f("edge-leaf.pem")).CombinedOutput(); err != nil {
		t.Fatalf("split the chain: %v %s", err, out)
	}
	leafOnly, err := pki.ClientTLS(f("edge-leaf.pem"), f("edge-key.pem"), f("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := dialErr(t, s.Addr().String(), leafOnly); err == nil {
		t.Error("a leaf without its intermediate was accepted")
	}
}
