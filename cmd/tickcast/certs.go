package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tickcast/tickcast/internal/pki"
)

const certsNotes = `
Makes a development CA (ca.pem, ca-key.pem) in --dir if there is none, then
issues one certificate per --names entry (NAME.pem, NAME-key.pem) for the
hosts in --hosts, usable for both ends of the QUIC link. Existing files are
never overwritten. For production use your own CA.

Example:
  tickcast certs --dir certs --names server,client --hosts 127.0.0.1,localhost
`

func runCerts(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlags("certs", "certs [flags]", certsNotes, stdout)
	dir := fs.String("dir", "certs", "directory for the CA and the certificates")
	names := fs.String("names", "server,client", "certificates to issue, comma-separated")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "DNS names and IP addresses the certificates are valid for")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(pki.CertFile(*dir, "ca")); os.IsNotExist(err) {
		if err := pki.WriteDevCA(*dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", pki.CertFile(*dir, "ca"))
	}
	var hs []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	for _, n := range strings.Split(*names, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if err := pki.IssueCert(*dir, n, hs); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", pki.CertFile(*dir, n), pki.KeyFile(*dir, n))
	}
	return nil
}
