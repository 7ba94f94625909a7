package link

import (
	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

func liveSub(ch uint16) wire.Subscribe { return wire.Subscribe{Channel: ch, Mode: wire.SubscribeLive} }

func TestLiveDatagramsOnlyForSubscribedChannels(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{session: 9}, nil)
	var rec recorder
	testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(1), liveSub(3)}}, &rec)

	// Windows of 20 packets per channel: a burst beyond quic-go's 128-datagram
	// receive queue could be dropped by a starved client (then repaired by
	// NACK in real use, but not here).
	const n, window = 100, 20
	sent := make(map[uint16][][]byte)
	for w := uint64(0); w < n; w += window {
		for i := w; i < w+window; i++ {
			for _, ch := range []uint16{1, 2, 3} {
				pkt := mkPacket(0, ch, 9, 1+i*2, 2)
				sent[ch] = append(sent[ch], pkt)
				s.Publish(ch, pkt)
			}
		}
		waitFor(t, "live packets of channels 1 and 3", func() bool { return rec.count(live) == 2*int(w+window) })
	}
	for _, ch := range []uint16{1, 3} {
		got := rec.matching(func(r recorded) bool { return r.h.Channel == ch })
		for i, r := range got {
			if !bytes.Equal(r.bytes, sent[ch][i]) {
				t.Fatalf("channel %d packet %d differs", ch, i)
			}
		}
	}
	if got := rec.count(func(r recorded) bool { return r.h.Channel == 2 }); got != 0 {
		t.Errorf("%d packets of unsubscribed channel 2 delivered", got)
	}
	st := s.Stats()
	if st.Clients != 1 || len(st.Peers) != 1 {
		t.Fatalf("stats %+v", st)
	}
	peer := st.Peers[0]
	if peer.Name != "client" || peer.Datagrams != 2*n || peer.Dropped != 0 {
		t.Errorf("peer stats %+v", peer)
	}
	if len(peer.Channels) != 2 || peer.Channels[0] != 1 || peer.Channels[1] != 3 {
		t.Errorf("peer channels %v", peer.Channels)
	}
}

func TestNACKAnsweredWithExactPackets(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	feed := &fakeFeed{session: 5, last: 40}
	s := testServer(t, p, feed, nil)
	var rec recorder
	c := testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(4)}}, &rec)

	if err := c.Request(wire.RetransmitRequest{Channel: 4, Session: 5, FirstSeq: 10, Count: 6}); err != nil {
		t.Fatal(err)
	}
	retrans := func(r recorded) bool { return r.h.Has(wire.FlagRetransmission) }
	// Sequences 10..15 live in the feed's packets starting at 10 and 13.
	want := [][]byte{feed.packetAt(4, 10), feed.packetAt(4, 13)}
	waitFor(t, "retransmitted packets", func() bool { return rec.count(retrans) == len(want) })
	got := rec.matching(retrans)
	for i := range want {
		// The send time differs: compare everything else.
		wire.SetSendTime(want[i], got[i].h.SendTime)
		if !bytes.Equal(got[i].bytes, want[i]) {
			t.Errorf("retransmitted packet %d:\n got %x\nwant %x", i, got[i].bytes, want[i])
		}
	}
	feed.mu.Lock()
	req := feed.requests[0]
	feed.mu.Unlock()
	if req != (wire.RetransmitRequest{Channel: 4, Session: 5, FirstSeq: 10, Count: 6}) {
		t.Errorf("feed got %+v", req)
	}
	waitFor(t, "NACK counted", func() bool { return s.Stats().Peers[0].NACKs == 1 })
	// The answer came on the data path: no stream.
	if st := c.Stats(); st.Streams != 0 || st.Datagrams != 2 || st.Malformed != 0 {
		t.Errorf("client stats %+v", st)
	}
}

func TestNACKRejected(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{session: 5, last: 40}, nil)
	var rec recorder
	c := testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(4)}}, &rec)

	if err := c.Request(wire.RetransmitRequest{Channel: 4, Session: 5, FirstSeq: 100, Count: 3}); err != nil {
		t.Fatal(err)
	}
	isReject := func(r recorded) bool {
		pk, _ := wire.Parse(r.bytes)
		it := pk.Messages()
		return it.Next() && it.Message().Type() == wire.TypeRetransmitReject
	}
	waitFor(t, "reject", func() bool { return rec.count(isReject) == 1 })
	r := rec.matching(isReject)[0]
	pk, _ := wire.Parse(r.bytes)
	it := pk.Messages()
	it.Next()
	rej, err := wire.DecodeRetransmitReject(it.Message().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := wire.RetransmitReject{Channel: 4, Reason: wire.RejectNotYetSent, Count: 3, RetryAfterMs: retryAfterNotYetSent, Session: 5, FirstSeq: 100}
	if rej != want {
		t.Errorf("reject %+v, want %+v", rej, want)
	}
	waitFor(t, "reject counted", func() bool { return s.Stats().Peers[0].Rejects == 1 })
}

// TestNACKPartlyNotYetSent: a NACK reaching past what the feed sent gets
// the part that was sent, then a reject for the remainder only, so the
// requester knows exactly where the sent part ends.
func TestNACKPartlyNotYetSent(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{session: 5, last: 40}, nil)
	var rec recorder
	c := testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(4)}}, &rec)
	if err := c.Request(wire.RetransmitRequest{Channel: 4, Session: 5, FirstSeq: 37, Count: 10}); err != nil {
		t.Fatal(err)
	}
	isReject := func(r recorded) bool {
		pk, _ := wire.Parse(r.bytes)
		it := pk.Messages()
		return it.Next() && it.Message().Type() == wire.TypeRetransmitReject
	}
	isAnswer := func(r recorded) bool { return r.h.Has(wire.FlagRetransmission) }
	waitFor(t, "the answer and the reject", func() bool { return rec.count(isReject) == 1 && rec.count(isAnswer) == 2 })
	pk, _ := wire.Parse(rec.matching(isReject)[0].bytes)
	it := pk.Messages()
	it.Next()
	rej, err := wire.DecodeRetransmitReject(it.Message().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if rej.Reason != wire.RejectNotYetSent || rej.FirstSeq != 41 || rej.Count != 6 {
		t.Errorf("reject %+v, want not yet sent for 41+6", rej)
	}
}

// snapshotBytes returns the recorded snapshot packets.
func snapshotOf(rec *recorder, ch uint16) []recorded {
	return rec.matching(func(r recorded) bool { return r.h.Has(wire.FlagSnapshot) && r.h.Channel == ch })
}

func checkSnapshot(t *testing.T, got []recorded, ch uint16, session, last uint64) {
	t.Helper()
	want := snapshotPackets(ch, session, last)
	if len(got) != len(want) {
		t.Fatalf("%d snapshot packets, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].bytes, want[i]) {
			t.Errorf("snapshot packet %d differs", i)
		}
	}
	pk, _ := wire.Parse(got[len(got)-1].bytes)
	it := pk.Messages()
	if !it.Next() || it.Message().Type() != wire.TypeSnapshotEnd {
		t.Fatal("last snapshot packet does not hold SnapshotEnd")
	}
	end, _ := wire.DecodeSnapshotEnd(it.Message().Bytes())
	if end.LastSeq != last || end.Channel != ch {
		t.Errorf("SnapshotEnd %+v", end)
	}
}

func TestSnapshotRequest(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{session: 5, last: 77}, nil)
	var rec recorder
	c := testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(2)}}, &rec)
	if err := c.RequestSnapshot(wire.SnapshotRequest{Channel: 2}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "snapshot", func() bool { return len(snapshotOf(&rec, 2)) == 3 })
	checkSnapshot(t, snapshotOf(&rec, 2), 2, 5, 77)
	waitFor(t, "snapshot counted", func() bool { return s.Stats().Peers[0].Snapshots == 1 })
}

// A recovery-only subscription gets no live datagrams, but its NACKs and
// snapshot requests are answered.
func TestSubscribeRecoveryOnly(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{session: 5, last: 40}, nil)
	var rec recorder
	c := testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{{Channel: 4, Mode: wire.SubscribeRecovery}}}, &rec)
	if err := c.RequestSnapshot(wire.SnapshotRequest{Channel: 4}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "snapshot", func() bool { return len(snapshotOf(&rec, 4)) == 3 })
	for i := uint64(0); i < 50; i++ {
		s.Publish(4, mkPacket(0, 4, 5, 41+i, 1))
	}
	if err := c.Request(wire.RetransmitRequest{Channel: 4, Session: 5, FirstSeq: 10, Count: 2}); err != nil {
		t.Fatal(err)
	}
	// The answer comes after any live packet would have: none may arrive.
	waitFor(t, "the NACK answer", func() bool {
		return rec.count(func(r recorded) bool { return r.h.Has(wire.FlagRetransmission) }) > 0
	})
	if n := rec.count(live); n != 0 {
		t.Fatalf("%d live packets on a recovery-only link", n)
	}
	if st := s.Stats(); len(st.Peers) != 1 || st.Peers[0].Datagrams != 0 || len(st.Peers[0].Channels) != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSubscribeSnapshotThenLive(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{session: 5, last: 30}, nil)
	var rec recorder
	testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{{Channel: 6, Mode: wire.SubscribeSnapshot}}}, &rec)
	// Dial returned: the subscription is live.
	s.Publish(6, mkPacket(0, 6, 5, 31, 1))
	waitFor(t, "snapshot and live packet", func() bool { return len(snapshotOf(&rec, 6)) == 3 && rec.count(live) == 1 })
	checkSnapshot(t, snapshotOf(&rec, 6), 6, 5, 30)
}

func TestSubscribeFromSeq(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	feed := &fakeFeed{session: 5, last: 21}
	s := testServer(t, p, feed, nil)
	// The live edge: sequences 1..21 were published before the client came.
	for seq := uint64(1); seq <= 21; seq += 3 {
		s.Publish(8, mkPacket(0, 8, 5, seq, 3))
	}
	var rec recorder
	testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{{Channel: 8, Mode: wire.SubscribeFromSeq, Session: 5, FromSeq: 14}}}, &rec)
	s.Publish(8, mkPacket(0, 8, 5, 22, 3))

	retrans := func(r recorded) bool { return r.h.Has(wire.FlagRetransmission) }
	waitFor(t, "retransmission from 14 and live", func() bool { return rec.count(retrans) == 3 && rec.count(live) == 1 })
	got := rec.matching(retrans)
	if got[0].h.Seq != 13 || got[len(got)-1].h.End() != 22 {
		t.Errorf("retransmitted %d..%d, want the packets covering 14..21", got[0].h.Seq, got[len(got)-1].h.End()-1)
	}
	feed.mu.Lock()
	req := feed.requests[0]
	feed.mu.Unlock()
	if req.FirstSeq != 14 || req.Count != 8 {
		t.Errorf("feed asked for %d from %d, want 8 from 14", req.Count, req.FirstSeq)
	}
	if l := rec.matching(live)[0]; l.h.Seq != 22 {
		t.Errorf("live packet seq %d", l.h.Seq)
	}
}

func TestSubscribeFromSeqOtherSessionIsRejected(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{session: 5, last: 9}, nil)
	s.Publish(8, mkPacket(0, 8, 5, 1, 9))
	var rec recorder
	testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{{Channel: 8, Mode: wire.SubscribeFromSeq, Session: 4, FromSeq: 3}}}, &rec)
	waitFor(t, "reject", func() bool { return rec.count(func(r recorded) bool { return r.h.Count == 1 && r.h.Seq == 0 }) == 1 })
	r := rec.matching(func(r recorded) bool { return r.h.Seq == 0 })[0]
	pk, _ := wire.Parse(r.bytes)
	it := pk.Messages()
	it.Next()
	rej, err := wire.DecodeRetransmitReject(it.Message().Bytes())
	if err != nil || rej.Reason != wire.RejectUnknownSession || rej.Session != 4 || rej.FirstSeq != 3 {
		t.Errorf("reject %+v, %v", rej, err)
	}
}

func TestOversizePacketIsSplit(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{}, nil)
	var rec recorder
	testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(1)}}, &rec)

	big := mkPacket(0, 1, 3, 100, 150) // 150 trades: 7232 bytes, a jumbo packet
	s.Publish(1, big)
	msgs := func() (n int) {
		for _, r := range rec.matching(live) {
			n += int(r.h.Count)
		}
		return n
	}
	waitFor(t, "all 150 messages", func() bool { return msgs() == 150 })
	parts := rec.matching(live)
	if len(parts) < 2 {
		t.Fatalf("%d parts: the packet was not split", len(parts))
	}
	var body []byte
	next := uint64(100)
	for _, part := range parts {
		if part.h.Seq != next {
			t.Errorf("part seq %d, want %d", part.h.Seq, next)
		}
		next = part.h.End()
		body = append(body, part.bytes[wire.HeaderLen:]...)
	}
	if !bytes.Equal(body, big[wire.HeaderLen:]) {
		t.Error("the parts' messages differ from the original's")
	}
	st := s.Stats().Peers[0]
	if st.Split != 1 || st.Datagrams != 1 || st.Sealed != uint64(len(parts)) {
		t.Errorf("peer stats %+v, %d parts", st, len(parts))
	}
}

// With NACKCopies 2 (the default), a NACK reaches the server twice on the
// data path and is answered twice: one lost copy or answer costs nothing.
func TestNACKCopies(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	feed := &fakeFeed{session: 5, last: 40}
	s := testServer(t, p, feed, nil)
	var rec recorder
	c := testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(4)}, NACKCopies: DefaultNACKCopies}, &rec)
	if err := c.Request(wire.RetransmitRequest{Channel: 4, Session: 5, FirstSeq: 10, Count: 3}); err != nil {
		t.Fatal(err)
	}
	retrans := func(r recorded) bool { return r.h.Has(wire.FlagRetransmission) }
	waitFor(t, "both answers", func() bool { return rec.count(retrans) == 2 })
	feed.mu.Lock()
	n := len(feed.requests)
	feed.mu.Unlock()
	if n != 2 {
		t.Fatalf("the feed answered %d requests, want 2", n)
	}
	if st := s.Stats().Peers[0]; st.NACKs != 2 || st.BadReports != 0 {
		t.Fatalf("peer stats %+v", st)
	}
}

// A server listening on every address (an IPv6 dual-stack socket) sends
// its data path to an IPv4 client, one datagram at a time and in batches.
func TestDualStackServer(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{}, func(c *ServerConfig) { c.Addr = ":0" })
	if s.Addr().(*net.UDPAddr).IP.To4() != nil {
		t.Skip("this host gave an IPv4 socket for :0") // no IPv6: nothing dual-stack to test
	}
	port := s.Addr().(*net.UDPAddr).Port
	var rec recorder
	c := dial(t, fmt.Sprintf("127.0.0.1:%d", port), ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(1)}})
	runUntilCleanup(t, c, &rec)
	const n = 200
	for i := range n {
		s.Publish(1, mkPacket(0, 1, 1, uint64(1+i), 1))
	}
	waitFor(t, "every packet over the dual-stack socket", func() bool { return rec.count(live) == n })
	if st := s.Stats().Peers[0]; st.SendFailed != 0 {
		t.Fatalf("send failures: %+v", st)
	}
}
