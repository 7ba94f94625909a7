package impair

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/internal/pki"
)

// quicEcho runs a QUIC server on 127.0.0.1 that echoes each stream, until
// the test ends.
func quicEcho(t *testing.T, tp *pki.TestPKI) string {
	t.Helper()
	tc := tp.ServerTLS()
	tc.NextProtos = []string{"impair-test"}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	ln, err := tr.Listen(tc, &quic.Config{MaxIdleTimeout: deadline})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.CloseWithError(0, "")
				for {
					s, err := conn.AcceptStream(context.Background())
					if err != nil {
						return
					}
					io.Copy(s, s)
					s.Close()
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		tr.Close() // closes the connections too: a lost CONNECTION_CLOSE does not keep them
		wg.Wait()
		udp.Close()
	})
	return ln.Addr().String()
}

// QUIC works through a lossy, delayed proxy, and two clients share it.
func TestQUICThroughLossyProxy(t *testing.T) {
	checkGoroutines(t)
	tp, err := pki.NewTestPKI()
	if err != nil {
		t.Fatal(err)
	}
	server := quicEcho(t, tp)
	spec, err := ParseSpec("loss=2%,delay=1ms,jitter=500us")
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, Config{Upstream: server, Spec: spec, Seed: 5})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- echoOnce(ctx, tp, p.Addr().String())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := p.Stats()
	if st.Opened != 2 || st.Up.Lost == 0 && st.Down.Lost == 0 {
		t.Fatalf("stats %+v: want two sessions and some loss", st)
	}
}

// echoOnce dials addr, sends 256 KiB on a stream and checks the echo.
func echoOnce(ctx context.Context, tp *pki.TestPKI, addr string) error {
	tc := tp.ClientTLS()
	tc.NextProtos = []string{"impair-test"}
	tc.ServerName = "127.0.0.1"
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer udp.Close()
	tr := &quic.Transport{Conn: udp}
	defer tr.Close()
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	conn, err := tr.Dial(ctx, raddr, tc, &quic.Config{MaxIdleTimeout: deadline, HandshakeIdleTimeout: deadline})
	if err != nil {
		return err
	}
	defer conn.CloseWithError(0, "")
	s, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return err
	}
	msg := make([]byte, 256<<10)
	rand.Read(msg)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Write(msg)
		if err == nil {
			err = s.Close()
		}
		errc <- err
	}()
	s.SetReadDeadline(time.Now().Add(deadline))
	got, err := io.ReadAll(s)
	if werr := <-errc; werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return io.ErrUnexpectedEOF
	}
	return nil
}
