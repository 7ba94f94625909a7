package main

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
)

// booksLine returns the "books: …" line of out.
func booksLine(t *testing.T, what string, out *bytes.Buffer) feed.Digest {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	for sc.Scan() {
		if d, ok := feed.ParseDigest(sc.Text()); ok {
			return d
		}
	}
	t.Fatalf("%s printed no books line:\n%s", what, out.String())
	return feed.Digest{}
}

// The publisher's books line at the end of its session equals the line of a
// subscriber that outlives it (subscribe --stats): the comparison the
// multi-host lab makes across processes.
func TestPublishSubscribeBooksLines(t *testing.T) {
	a, b := mcasttest.FreeGroup(t), mcasttest.FreeGroup(t)
	rtx, link := freeUDP(t), freeUDP(t)
	dir := t.TempDir()
	if code := run([]string{"certs", "--dir", dir}, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("certs failed")
	}
	var wg sync.WaitGroup
	var pubOut, pubErr bytes.Buffer
	var pubCode int
	wg.Add(1)
	go func() {
		defer wg.Done()
		pubCode = run([]string{"publish", "--a", a.String(), "--b", b.String(), "--retransmit", rtx, "--recovery-a", "",
			"--link", link, "--cert", filepath.Join(dir, "server.pem"), "--key", filepath.Join(dir, "server-key.pem"), "--ca", filepath.Join(dir, "ca.pem"),
			"--instruments", "4", "--levels", "20", "--rate", "5000", "--duration", "2s", "--log-level", "error"}, &pubOut, &pubErr)
	}()
	var subOut, subErr bytes.Buffer
	code := run([]string{"subscribe", "--a", a.String(), "--b", b.String(), "--retransmit", rtx, "--recovery-a", "", "--recovery-b", "",
		"--link", link, "--cert", filepath.Join(dir, "client.pem"), "--key", filepath.Join(dir, "client-key.pem"), "--ca", filepath.Join(dir, "ca.pem"),
		"--stats", "--top", "0", "--duration", "4s", "--log-level", "error"}, &subOut, &subErr)
	wg.Wait()
	if code != 0 || pubCode != 0 {
		t.Fatalf("subscribe exit %d (%s), publish exit %d (%s)", code, subErr.String(), pubCode, pubErr.String())
	}
	pub, sub := booksLine(t, "publish", &pubOut), booksLine(t, "subscribe", &subOut)
	if pub.Instruments != 4 || pub.Seq == 0 || !pub.Equal(sub) {
		t.Fatalf("publisher %q, subscriber %q", pub, sub)
	}
	if !strings.Contains(pubOut.String(), "published") {
		t.Fatalf("publish output:\n%s", pubOut.String())
	}
}
