package link

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/internal/pki"
	"github.com/tickcast/tickcast/wire"
)

// rawDial opens an authenticated QUIC connection and a control stream to s,
// bypassing Client, so a test can send anything.
func rawDial(t *testing.T, s *Server, p *pki.TestPKI) (*quic.Conn, *quic.Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, s.Addr().String(), tlsConfig(p.ClientTLS()), quicConfig(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseWithError(0, "") })
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return conn, st
}

// readConfirmation reads one framed packet from the control stream.
func readConfirmation(t *testing.T, st *quic.Stream) wire.Packet {
	t.Helper()
	st.SetReadDeadline(time.Now().Add(30 * time.Second))
	pkt, err := newFrameReader(st).next()
	if err != nil {
		t.Fatal(err)
	}
	p, err := wire.Parse(pkt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServerCountsMalformedControlPackets(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{}, nil)
	_, st := rawDial(t, s, p)
	var b []byte
	b = appendFrame(b, []byte("garbage"))                                        // not a packet
	b = appendFrame(b, nil)                                                      // empty
	b = appendFrame(b, mkPacket(0, 1, 1, 1, 1))                                  // market data on the control stream
	b = appendFrame(b, append(wire.Header{Count: 1}.Append(nil), 4, 0, 0x7f, 0)) // an unknown type: skipped
	b = appendControlFrame(b, 1, 0, 0, liveSub(1))                               // then a valid subscribe
	if _, err := st.Write(b); err != nil {
		t.Fatal(err)
	}
	if p := readConfirmation(t, st); p.Channel != 1 {
		t.Fatalf("confirmation %+v", p.Header)
	}
	peer := s.Stats().Peers[0]
	if peer.Malformed != 3 || len(peer.Channels) != 1 {
		t.Errorf("peer stats %+v, want 3 malformed and the subscription", peer)
	}
}

func TestServerClosesLinkOnBrokenControl(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{}, nil)
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"absurd length", binary.LittleEndian.AppendUint32(nil, 1<<31)},
		{"unknown subscribe mode", appendControlFrame(nil, 1, 0, 0, wire.Subscribe{Channel: 1, Mode: 9})},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, st := rawDial(t, s, p)
			if _, err := st.Write(c.b); err != nil {
				t.Fatal(err)
			}
			select {
			case <-conn.Context().Done():
			case <-time.After(30 * time.Second):
				t.Fatal("the server kept the link open")
			}
			var ae *quic.ApplicationError
			if err := context.Cause(conn.Context()); !errors.As(err, &ae) || ae.ErrorCode != codeProtocol {
				t.Errorf("link closed with %v, want a protocol error", err)
			}
		})
	}
}

// fakeUpstream is a hand-driven link server: it confirms subscriptions, then
// lets the test send anything.
// Its socket is returned to send data-path datagrams from.
func fakeUpstream(t *testing.T) (addr string, conns <-chan *quic.Conn, p *pki.TestPKI, sock *net.UDPConn) {
	t.Helper()
	p = newPKI(t)
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	ln, err := tr.Listen(tlsConfig(p.ServerTLS()), quicConfig(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); tr.Close(); udp.Close() })
	ch := make(chan *quic.Conn, 1)
	go func() {
		ctx := context.Background()
		conn, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		st, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		pkt, err := newFrameReader(st).next()
		if err != nil {
			return
		}
		st.Write(appendFrame(nil, pkt)) // confirm the one subscription
		ch <- conn
	}()
	return ln.Addr().String(), ch, p, udp
}

func TestClientCountsMalformedInput(t *testing.T) {
	t.Parallel()
	addr, conns, p, linkSock := fakeUpstream(t)
	var rec recorder
	c := dial(t, addr, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(1)}})
	runUntilCleanup(t, c, &rec)
	conn := <-conns

	// The data path: sealed with the link's keys from the server's socket,
	// or forged.
	keys, err := deriveKeys(conn.ConnectionState().TLS)
	if err != nil {
		t.Fatal(err)
	}
	down, up := keys.down.sealer(), keys.up.sealer()
	other, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	to := conn.RemoteAddr()
	// The client takes data datagrams from the server's address only.
	sendData := func(from *net.UDPConn, b []byte) {
		t.Helper()
		if _, err := from.WriteTo(b, to); err != nil {
			t.Fatal(err)
		}
	}
	good := mkPacket(0, 1, 1, 1, 2)
	sendData(linkSock, down.seal(nil, typeData, 1, []byte("TC garbage"))) // sealed, not a packet: malformed
	sendData(linkSock, down.seal(nil, typeData, 2, good))                 // delivered
	sendData(linkSock, up.seal(nil, typeData, 3, good))                   // the wrong key: unsealed
	sendData(linkSock, append(down.seal(nil, typeData, 4, good)[:30], 0)) // cut short: unsealed
	sendData(other, down.seal(nil, typeData, 5, good))                    // another address: foreign
	stream := func(b []byte) {
		t.Helper()
		st, err := conn.OpenUniStreamSync(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write(b); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	// Valid, then an absurd length: the first is delivered, the stream closed.
	stream(binary.LittleEndian.AppendUint32(appendFrame(nil, good), 0xffffffff))
	// A packet cut short by the end of the stream.
	stream(appendFrame(nil, good)[:20])
	// An empty frame is a malformed packet; the stream goes on.
	stream(appendFrame(appendFrame(nil, nil), good))

	waitFor(t, "counters", func() bool {
		st := c.Stats()
		return st.Datagrams == 1 && st.StreamPackets == 2 && st.Malformed == 4 && st.Streams == 3 &&
			st.Unsealed == 2 && st.Foreign == 1
	})
	if n := rec.count(func(recorded) bool { return true }); n != 3 {
		t.Errorf("handler got %d packets, want 3", n)
	}
}
