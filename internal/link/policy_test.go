package link

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/wire"
)

// rejectsOf returns the RetransmitRejects rec got.
func rejectsOf(rec *recorder) []wire.RetransmitReject {
	var out []wire.RetransmitReject
	for _, r := range rec.pkts {
		pk, err := wire.Parse(r.bytes)
		if err != nil {
			continue
		}
		it := pk.Messages()
		if it.Next() && it.Message().Type() == wire.TypeRetransmitReject {
			if rej, err := wire.DecodeRetransmitReject(it.Message().Bytes()); err == nil {
				out = append(out, rej)
			}
		}
	}
	return out
}

// retransmittedMessages counts the messages in rec's retransmissions.
func retransmittedMessages(rec *recorder) int {
	n := 0
	for _, r := range rec.matching(func(r recorded) bool { return r.h.Has(wire.FlagRetransmission) }) {
		n += int(r.h.Count)
	}
	return n
}

// The link server enforces its gap.Policy on NACKs: answers are capped, a
// flood is rejected as rate limited with a retry-after, and the budget is
// shared with whatever else uses the same Policy (the UDP server).
func TestLinkPolicyCapsAndRateLimits(t *testing.T) {
	t.Parallel()
	const burst = 20
	pol, err := gap.NewPolicy(gap.PolicyConfig{MaxMessages: 6, Rate: 1e-3, Burst: burst})
	if err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	feed := &fakeFeed{session: 5, last: 1000}
	s := testServer(t, p, feed, func(c *ServerConfig) { c.Policy = pol })
	var rec recorder
	c := testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(4)}}, &rec)

	// One NACK for 30 gets the first 6 (packets 1–3 and 4–6).
	if err := c.Request(wire.RetransmitRequest{Channel: 4, Session: 5, FirstSeq: 1, Count: 30}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the capped answer", func() bool { return retransmittedMessages(&rec) >= 6 })

	// A flood: the bucket (20 messages, refilling 1 per 1000 s) runs dry.
	const flood = 30
	for i := range flood {
		if err := c.Request(wire.RetransmitRequest{Channel: 4, Session: 5, FirstSeq: uint64(7 + 6*i), Count: 6}); err != nil {
			t.Fatal(err)
		}
	}
	// Each NACK of the flood is answered by a reject or by packets starting
	// with its first sequence.
	answered := func() (rejects []wire.RetransmitReject, served int) {
		rec.mu.Lock()
		rejects = rejectsOf(&rec)
		rec.mu.Unlock()
		for _, r := range rec.matching(func(r recorded) bool { return r.h.Has(wire.FlagRetransmission) }) {
			if r.h.Seq >= 7 && (r.h.Seq-7)%6 == 0 {
				served++
			}
		}
		return rejects, served
	}
	waitFor(t, "every NACK answered", func() bool { r, n := answered(); return len(r)+n == flood })
	rejects, _ := answered()
	if got := retransmittedMessages(&rec); got < 6 {
		t.Errorf("capped answer holds %d messages, want 6", got)
	}
	if len(rejects) == 0 {
		_, n := answered()
		t.Fatalf("flood not rejected: served %d, messages %d, stats %+v", n, retransmittedMessages(&rec), s.Stats().Peers)
	}
	for _, r := range rejects {
		if r.Reason != wire.RejectRateLimited || r.RetryAfterMs == 0 {
			t.Errorf("reject %+v, want rate limited with a retry-after", r)
		}
	}
	// Up to workersPerClient answers are admitted at once before any is
	// charged, each up to the cap plus a whole packet's overshoot (2).
	if got := retransmittedMessages(&rec); got > burst+workersPerClient*(6+2) {
		t.Errorf("answered %d messages, bucket holds %d", got, burst)
	}
	waitFor(t, "refusals counted", func() bool { return s.Stats().Peers[0].Refused == uint64(len(rejects)) })

	// The same Policy, seen from the UDP side, has no budget left for
	// this requester either.
	if n, r, retry := pol.Admit(netip.MustParseAddr("127.0.0.1"), time.Now()); n != 0 || r != wire.RejectRateLimited || retry == 0 {
		t.Errorf("shared policy: %d %v %d", n, r, retry)
	}
}

// A requester outside the link policy's allowlist is refused as not allowed.
func TestLinkPolicyAllowlist(t *testing.T) {
	t.Parallel()
	pol, err := gap.NewPolicy(gap.PolicyConfig{Allowed: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	s := testServer(t, p, &fakeFeed{session: 5, last: 100}, func(c *ServerConfig) { c.Policy = pol })
	var rec recorder
	c := testClient(t, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(4)}}, &rec)
	if err := c.Request(wire.RetransmitRequest{Channel: 4, Session: 5, FirstSeq: 1, Count: 3}); err != nil {
		t.Fatal(err)
	}
	var rejects []wire.RetransmitReject
	waitFor(t, "the reject", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rejects = rejectsOf(&rec)
		return len(rejects) > 0
	})
	if len(rejects) != 1 || rejects[0].Reason != wire.RejectNotAllowed || retransmittedMessages(&rec) != 0 {
		t.Errorf("rejects %+v", rejects)
	}
}
