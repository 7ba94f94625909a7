package gap

import (
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

const testSession = 0x5e55

// collector is a Sink recording every delivered message and event.
type collector struct {
	seqs   []uint64
	msgs   [][]byte
	lines  []int
	events []Event
}

func (c *collector) Deliver(d Delivery) {
	it := d.Packet.Messages()
	i := 0
	for it.Next() {
		if i >= d.Skip {
			c.seqs = append(c.seqs, it.Seq())
			c.msgs = append(c.msgs, append([]byte(nil), it.Message().Bytes()...))
			c.lines = append(c.lines, d.Line)
		}
		i++
	}
}

func (c *collector) Event(e Event) { c.events = append(c.events, e) }

func (c *collector) kinds(k EventKind) []Event {
	var out []Event
	for _, e := range c.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// pkt builds a sequenced packet of n LevelUpdates starting at seq.
func pkt(t testing.TB, session, seq uint64, n int) wire.Packet {
	t.Helper()
	var b wire.Builder
	b.Reset(make([]byte, 0, wire.MaxJumboPacket), wire.MaxJumboPacket, wire.Header{Session: session, Seq: seq})
	for i := 0; i < n; i++ {
		wire.Add(&b, wire.LevelUpdate{Instrument: 7, Price: int64(seq) + int64(i), Qty: 1, EndOfEvent: true})
	}
	p, err := wire.Parse(b.Finish(1))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hb builds a heartbeat (or end of session) announcing next.
func hb(t testing.TB, session, next uint64, f wire.Flags) wire.Packet {
	t.Helper()
	p, err := wire.Parse(wire.Header{Flags: f, Session: session, Seq: next}.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type recordingRequester struct{ reqs []wire.RetransmitRequest }

func (r *recordingRequester) Request(q wire.RetransmitRequest) error {
	r.reqs = append(r.reqs, q)
	return nil
}

func newTestArbiter(t *testing.T, cfg Config) (*Arbiter, *collector) {
	t.Helper()
	c := &collector{}
	a, err := NewArbiter(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func wantSeqs(t *testing.T, c *collector, from, to uint64) {
	t.Helper()
	if len(c.seqs) != int(to-from) {
		t.Fatalf("delivered %d messages, want %d (%v…)", len(c.seqs), to-from, head(c.seqs))
	}
	for i, s := range c.seqs {
		if s != from+uint64(i) {
			t.Fatalf("message %d has seq %d, want %d", i, s, from+uint64(i))
		}
	}
}

func head(s []uint64) []uint64 { return s[:min(len(s), 20)] }

func TestArbiterABInOrder(t *testing.T) {
	a, c := newTestArbiter(t, Config{})
	seq := uint64(1)
	for i := 0; i < 100; i++ {
		p := pkt(t, testSession, seq, 3)
		a.Offer(i%2, p, 10)   // the winner alternates
		a.Offer(1-i%2, p, 11) // the other copy is a duplicate
		seq += 3
	}
	wantSeqs(t, c, 1, seq)
	st := a.Stats()
	if st.Lines[0].Won != 50 || st.Lines[1].Won != 50 || st.Lines[0].Duplicates != 50 || st.Lines[1].Duplicates != 50 {
		t.Fatalf("line stats %+v", st.Lines)
	}
	if st.Delivered != 300 || st.Gaps != 0 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
	if j := c.kinds(EventJoin); len(j) != 1 || j[0].Seq != 1 || j[0].Session != testSession {
		t.Fatalf("join events %+v", j)
	}
}

func TestArbiterOtherLineFillsHoleWithoutNack(t *testing.T) {
	r := &recordingRequester{}
	a, c := newTestArbiter(t, Config{Requester: r, Window: time.Millisecond})
	a.Offer(0, pkt(t, testSession, 1, 2), 0)
	a.Offer(0, pkt(t, testSession, 5, 2), 100) // A lost 3-4
	if d, ok := a.Deadline(); !ok || d != 100+int64(time.Millisecond) {
		t.Fatalf("deadline %d %v", d, ok)
	}
	a.Offer(1, pkt(t, testSession, 3, 2), 200) // B fills it within the window
	a.Tick(int64(2 * time.Millisecond))
	wantSeqs(t, c, 1, 7)
	if len(r.reqs) != 0 {
		t.Fatalf("NACKed %v, want nothing", r.reqs)
	}
	if st := a.Stats(); st.Gaps != 1 || st.GapsFilled != 1 || st.Reordered != 1 || st.OpenHoles != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestArbiterNackAfterWindowAndRepair(t *testing.T) {
	r := &recordingRequester{}
	var repairs []time.Duration
	a, c := newTestArbiter(t, Config{Requester: r, Window: time.Millisecond, OnRepair: func(d time.Duration, nacks int) {
		if nacks != 1 {
			t.Errorf("repair after %d NACKs, want 1", nacks)
		}
		repairs = append(repairs, d)
	}})
	a.Offer(0, pkt(t, testSession, 1, 2), 0)
	a.Offer(0, pkt(t, testSession, 10, 2), 0) // 3..9 missing
	a.Offer(0, pkt(t, testSession, 14, 2), 0) // 12..13 missing: coalesced (gap of 2 < 16)
	a.Tick(int64(time.Millisecond) - 1)
	if len(r.reqs) != 0 {
		t.Fatalf("NACK before the window: %v", r.reqs)
	}
	a.Tick(int64(time.Millisecond))
	if len(r.reqs) != 1 || r.reqs[0].FirstSeq != 3 || r.reqs[0].Count != 11 || r.reqs[0].Session != testSession {
		t.Fatalf("requests %+v, want one for 3..13", r.reqs)
	}
	a.Offer(RepairLine, pkt(t, testSession, 3, 7), int64(time.Millisecond)+5000)
	a.Offer(RepairLine, pkt(t, testSession, 12, 2), int64(time.Millisecond)+6000)
	wantSeqs(t, c, 1, 16)
	st := a.Stats()
	if st.Retransmitted != 2 || st.Repair.Won != 2 || st.SRTT != (7*5000+6000)/8 || st.OpenHoles != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Both holes opened at 0 and closed when their retransmission came.
	if len(repairs) != 2 || repairs[0] != time.Millisecond+5000 || repairs[1] != time.Millisecond+6000 {
		t.Fatalf("repair times %v", repairs)
	}
}

func TestArbiterRetriesThenGivesUp(t *testing.T) {
	r := &recordingRequester{}
	a, c := newTestArbiter(t, Config{Requester: r, Window: time.Millisecond, MaxRetries: 3, MinRTO: time.Millisecond, MaxRTO: 4 * time.Millisecond})
	a.Offer(0, pkt(t, testSession, 1, 1), 0)
	a.Offer(0, pkt(t, testSession, 3, 1), 0)
	now := int64(0)
	for i := 0; i < 100 && len(c.kinds(EventLost)) == 0; i++ {
		d, ok := a.Deadline()
		if !ok {
			t.Fatal("no deadline while a hole is open")
		}
		now = d
		a.Tick(now)
	}
	if len(r.reqs) != 3 {
		t.Fatalf("%d NACKs, want 3", len(r.reqs))
	}
	lost := c.kinds(EventLost)
	if len(lost) != 1 || lost[0].Seq != 2 || lost[0].Count != 1 || lost[0].Reason != LostRetries {
		t.Fatalf("lost %+v", lost)
	}
	// Backoff: 1ms window, then RTO 2ms, 4ms, 4ms (capped).
	if now != int64(11*time.Millisecond) {
		t.Fatalf("gave up at %v", time.Duration(now))
	}
	if len(c.seqs) != 2 || c.seqs[0] != 1 || c.seqs[1] != 3 {
		t.Fatalf("delivered %v", c.seqs)
	}
}

func TestArbiterTailGapFromHeartbeat(t *testing.T) {
	r := &recordingRequester{}
	a, c := newTestArbiter(t, Config{Requester: r, Window: -1})
	a.Offer(0, pkt(t, testSession, 1, 4), 0)
	a.Offer(1, hb(t, testSession, 9, wire.FlagHeartbeat), 0) // 5..8 were sent, none arrived
	a.Tick(0)
	if len(r.reqs) != 1 || r.reqs[0].FirstSeq != 5 || r.reqs[0].Count != 4 {
		t.Fatalf("requests %+v", r.reqs)
	}
	a.Offer(RepairLine, pkt(t, testSession, 5, 4), 10)
	wantSeqs(t, c, 1, 9)
	a.Offer(0, hb(t, testSession, 9, wire.FlagHeartbeat), 20)
	if st := a.Stats(); st.OpenHoles != 0 || st.Heartbeats != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestArbiterEndOfSessionAndNewSession(t *testing.T) {
	ms := int64(time.Millisecond)
	a, c := newTestArbiter(t, Config{})
	a.Offer(0, pkt(t, testSession, 1, 2), 0)
	a.Offer(0, hb(t, testSession, 5, wire.FlagEndOfSession), 0) // 3..4 still owed
	a.Offer(1, pkt(t, testSession, 3, 2), 0)
	// The end is believed once the session has been silent after it for
	// a third of SessionTimeout (100ms), not before.
	a.Tick(99 * ms)
	if len(c.kinds(EventEndOfSession)) != 0 {
		t.Fatal("end of session before the session fell silent")
	}
	if d, ok := a.Deadline(); !ok || d != 100*ms {
		t.Fatalf("deadline %d %v, want the end's confirmation at 100ms", d, ok)
	}
	a.Tick(100 * ms)
	eos := c.kinds(EventEndOfSession)
	if len(eos) != 1 || eos[0].Seq != 5 {
		t.Fatalf("eos %+v", eos)
	}
	// A straggler of the old session is ignored; the new one is joined at
	// once.
	a.Offer(1, hb(t, testSession, 5, wire.FlagEndOfSession), 101*ms)
	a.Offer(0, pkt(t, testSession+1, 1, 1), 101*ms)
	a.Offer(1, pkt(t, testSession, 2, 1), 101*ms)
	j := c.kinds(EventJoin)
	if len(j) != 2 || j[1].Session != testSession+1 || j[1].Seq != 1 || j[1].Prev != 0 {
		t.Fatalf("joins %+v", j)
	}
	if st := a.Stats(); st.Lines[1].Stale != 2 || st.Sessions != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestArbiterEndThenNewSessionWithoutTick(t *testing.T) {
	ms := int64(time.Millisecond)
	a, c := newTestArbiter(t, Config{})
	a.Offer(0, pkt(t, testSession, 1, 2), 0)
	a.Offer(0, hb(t, testSession, 3, wire.FlagEndOfSession), 0)
	// A restarted publisher right after the end: not before the old
	// session's end is believed, then at once.
	if a.Offer(0, pkt(t, testSession+1, 1, 1), 50*ms) {
		t.Fatal("new session adopted 50ms after the end mark")
	}
	if !a.Offer(0, pkt(t, testSession+1, 1, 1), 100*ms) {
		t.Fatal("new session not adopted 100ms after the end mark")
	}
	if len(c.kinds(EventEndOfSession)) != 1 || len(c.kinds(EventLost)) != 0 {
		t.Fatalf("events %+v", c.events)
	}
	if len(c.seqs) != 3 || c.seqs[2] != 1 {
		t.Fatalf("delivered %v, want 1 2 of the old session, then 1 of the new", c.seqs)
	}
}

func TestArbiterForgedEndOfSessionIgnored(t *testing.T) {
	ms := int64(time.Millisecond)
	a, c := newTestArbiter(t, Config{})
	a.Offer(0, pkt(t, testSession, 1, 2), 0)
	// A forged end mark at exactly the next sequence, then the live feed
	// goes on: the mark is dropped and the session followed.
	a.Offer(0, hb(t, testSession, 3, wire.FlagEndOfSession), ms)
	a.Offer(0, pkt(t, testSession, 3, 2), 2*ms)
	a.Tick(500 * ms)
	if len(c.kinds(EventEndOfSession)) != 0 {
		t.Fatalf("events %+v", c.events)
	}
	a.Offer(1, pkt(t, testSession, 5, 1), 501*ms)
	wantSeqs(t, c, 1, 6)
	if st := a.Stats(); st.FalseEnds != 1 || st.Session != testSession {
		t.Fatalf("stats %+v", st)
	}
}

func TestArbiterLiveSessionNotAbandoned(t *testing.T) {
	ms := int64(time.Millisecond)
	a, c := newTestArbiter(t, Config{})
	// The followed session sends every 10ms; another session (a stray
	// publisher, a forged heartbeat) is on the same lines all along.
	seq := uint64(1)
	for now := int64(0); now < 2000*ms; now += 10 * ms {
		a.Offer(0, pkt(t, testSession, seq, 1), now)
		if a.Offer(1, hb(t, testSession+9, 1, wire.FlagHeartbeat), now+ms) {
			t.Fatal("a packet of another session was adopted while the followed one is live")
		}
		a.Offer(1, pkt(t, testSession+9, seq, 1), now+2*ms)
		seq++
	}
	wantSeqs(t, c, 1, seq)
	if st := a.Stats(); st.Sessions != 1 || st.Foreign != 400 || st.Lines[1].Foreign != 400 {
		t.Fatalf("stats %+v", st)
	}
	// A reader that stalled for a second reads its backlog with one
	// receive time: the other session's packet comes first in the batch,
	// and is still not adopted (it has not been seen for long).
	stall := int64(3000 * ms)
	if a.Offer(1, pkt(t, testSession+9, seq, 1), stall) {
		t.Fatal("adopted the other session after a reader stall")
	}
	a.Offer(0, pkt(t, testSession, seq, 1), stall)
	wantSeqs(t, c, 1, seq+1)
	// The followed session really stops: the other one is adopted once
	// the followed one has been silent for SessionTimeout.
	for now := stall + 10*ms; now < stall+400*ms; now += 10 * ms {
		a.Offer(1, pkt(t, testSession+9, 5000, 1), now)
	}
	if j := c.kinds(EventJoin); len(j) != 2 || j[1].Session != testSession+9 || j[1].Prev != testSession {
		t.Fatalf("joins %+v", j)
	}
}

func TestArbiterSessionChangeMidStreamReportsLoss(t *testing.T) {
	a, c := newTestArbiter(t, Config{JoinBackfill: -1})
	a.Offer(0, pkt(t, testSession, 1, 2), 0)
	a.Offer(0, pkt(t, testSession, 5, 2), 0) // 3..4 missing, 5..6 held
	// The old session falls silent; the new one is adopted once it has
	// been silent for SessionTimeout (300ms) and the new one seen for a
	// quarter of that.
	ms := int64(time.Millisecond)
	if a.Offer(0, pkt(t, testSession+1, 38, 2), 300*ms) {
		t.Fatal("adopted a new session at first sight")
	}
	a.Offer(0, pkt(t, testSession+1, 40, 2), 375*ms)
	lost := c.kinds(EventLost)
	if len(lost) != 1 || lost[0].Seq != 3 || lost[0].Count != 4 || lost[0].Reason != LostSession {
		t.Fatalf("lost %+v", lost)
	}
	j := c.kinds(EventJoin)
	if len(j) != 2 || j[1].Seq != 40 || j[1].Prev != testSession {
		t.Fatalf("joins %+v", j)
	}
	if c.seqs[len(c.seqs)-1] != 41 {
		t.Fatalf("delivered %v", c.seqs)
	}
}

func TestArbiterHeldOffSessionFollowedFromItsStart(t *testing.T) {
	ms := int64(time.Millisecond)
	a, c := newTestArbiter(t, Config{})
	a.Offer(0, pkt(t, testSession, 1, 2), 0)
	a.Offer(0, hb(t, testSession, 3, wire.FlagEndOfSession), 0)
	// The restarted publisher's first packets come while the old session's
	// end is not yet believed: not adopted, but remembered.
	a.Offer(0, pkt(t, testSession+1, 1, 2), 10*ms)
	a.Offer(0, pkt(t, testSession+1, 3, 2), 60*ms)
	a.Offer(0, pkt(t, testSession+1, 5, 2), 110*ms)
	j := c.kinds(EventJoin)
	if len(j) != 2 || j[1].Seq != 1 {
		t.Fatalf("joins %+v, want the new session followed from 1", j)
	}
	// 1..4 are a hole to fill (the other line, or a NACK).
	a.Offer(1, pkt(t, testSession+1, 1, 4), 111*ms)
	if got := c.seqs[2:]; len(got) != 6 || got[0] != 1 || got[5] != 6 {
		t.Fatalf("delivered %v of the new session", got)
	}
}

func TestArbiterLateJoin(t *testing.T) {
	a, c := newTestArbiter(t, Config{JoinBackfill: 100})
	a.Offer(1, pkt(t, testSession, 1000, 2), 0)
	a.Offer(0, pkt(t, testSession, 998, 2), 0) // older than the join point: duplicate
	wantSeqs(t, c, 1000, 1002)
	if j := c.kinds(EventJoin); len(j) != 1 || j[0].Seq != 1000 {
		t.Fatalf("joins %+v", j)
	}
}

func TestArbiterJoinBackfillsTheStart(t *testing.T) {
	r := &recordingRequester{}
	a, c := newTestArbiter(t, Config{Requester: r, Window: -1})
	a.Offer(1, pkt(t, testSession, 4, 2), 0) // the first packets were overtaken
	if j := c.kinds(EventJoin); len(j) != 1 || j[0].Seq != 1 {
		t.Fatalf("joins %+v", j)
	}
	a.Tick(0)
	if len(r.reqs) != 1 || r.reqs[0].FirstSeq != 1 || r.reqs[0].Count != 3 {
		t.Fatalf("requests %+v", r.reqs)
	}
	a.Offer(0, pkt(t, testSession, 1, 3), 1)
	wantSeqs(t, c, 1, 6)
}

func TestArbiterOverflowGivesUpOldestHole(t *testing.T) {
	a, c := newTestArbiter(t, Config{MaxHeldPackets: 4})
	a.Offer(0, pkt(t, testSession, 1, 1), 0)
	for s := uint64(3); s < 20; s++ { // 2 never comes
		a.Offer(0, pkt(t, testSession, s, 1), 0)
	}
	lost := c.kinds(EventLost)
	if len(lost) != 1 || lost[0].Seq != 2 || lost[0].Count != 1 || lost[0].Reason != LostOverflow {
		t.Fatalf("lost %+v", lost)
	}
	if len(c.seqs) != 18 || c.seqs[len(c.seqs)-1] != 19 {
		t.Fatalf("delivered %v", c.seqs)
	}
	if st := a.Stats(); st.Overflows != 1 || st.HeldMax != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestArbiterRejectTooOldGivesUp(t *testing.T) {
	r := &recordingRequester{}
	a, c := newTestArbiter(t, Config{Requester: r, Window: -1})
	a.Offer(0, pkt(t, testSession, 1, 1), 0)
	a.Offer(0, pkt(t, testSession, 5, 1), 0)
	a.Tick(0)
	a.Reject(wire.RetransmitReject{Session: testSession, Reason: wire.RejectTooOld, FirstSeq: 2, Count: 3}, 1)
	lost := c.kinds(EventLost)
	if len(lost) != 1 || lost[0].Seq != 2 || lost[0].Count != 3 || lost[0].Reason != LostTooOld {
		t.Fatalf("lost %+v", lost)
	}
	if c.seqs[len(c.seqs)-1] != 5 {
		t.Fatalf("delivered %v", c.seqs)
	}
}

func TestArbiterRejectRateLimitedPostpones(t *testing.T) {
	r := &recordingRequester{}
	a, _ := newTestArbiter(t, Config{Requester: r, Window: -1})
	a.Offer(0, pkt(t, testSession, 1, 1), 0)
	a.Offer(0, pkt(t, testSession, 5, 1), 0)
	a.Tick(0)
	a.Reject(wire.RetransmitReject{Session: testSession, Reason: wire.RejectRateLimited, RetryAfterMs: 30, FirstSeq: 2, Count: 3}, 1)
	if d, _ := a.Deadline(); d != 1+30e6 {
		t.Fatalf("deadline %d, want retry after 30ms", d)
	}
	a.Reject(wire.RetransmitReject{Session: testSession, Reason: 77, FirstSeq: 2, Count: 3}, 2) // a code from a later version
	st := a.Stats()
	if want := [6]uint64{0: 1, wire.RejectRateLimited: 1}; st.Rejects != 2 || st.RejectReasons != want {
		t.Errorf("rejects %d by reason %v, want 2: %v", st.Rejects, st.RejectReasons, want)
	}
}

func TestArbiterAdvancePastSnapshot(t *testing.T) {
	r := &recordingRequester{}
	a, c := newTestArbiter(t, Config{Requester: r, JoinBackfill: -1})
	a.Offer(0, pkt(t, testSession, 50, 1), 0)
	a.Offer(0, pkt(t, testSession, 60, 5), 0) // hole 51..59
	a.Advance(62)                             // a snapshot reflects up to 61
	if st := a.Stats(); st.OpenHoles != 0 || st.Next != 65 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
	if got := c.seqs; len(got) != 4 || got[1] != 62 || got[3] != 64 {
		t.Fatalf("delivered %v", got)
	}
}

func TestArbiterSplitPacketsOverlap(t *testing.T) {
	a, c := newTestArbiter(t, Config{})
	a.Offer(0, pkt(t, testSession, 1, 10), 0)
	a.Offer(1, pkt(t, testSession, 1, 4), 0)  // B split differently
	a.Offer(1, pkt(t, testSession, 5, 10), 0) // overlaps 5..10, brings 11..14
	wantSeqs(t, c, 1, 15)
	if st := a.Stats(); st.Lines[1].Won != 1 || st.Lines[1].Duplicates != 1 {
		t.Fatalf("stats %+v", st.Lines)
	}
}

func TestArbiterIgnoresOtherChannelAndSnapshots(t *testing.T) {
	a, c := newTestArbiter(t, Config{Channel: 3})
	a.Offer(0, pkt(t, testSession, 1, 1), 0) // channel 0
	snap, _ := wire.Parse(wire.Header{Flags: wire.FlagSnapshot, Channel: 3, Session: 1, Seq: 9}.Append(nil))
	a.Offer(0, snap, 0)
	a.Offer(5, pkt(t, testSession, 1, 1), 0) // no such line
	if len(c.seqs) != 0 || len(c.events) != 0 || a.Stats().Ignored != 3 {
		t.Fatalf("delivered %v events %v stats %+v", c.seqs, c.events, a.Stats())
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Lines: 9}, {Lines: -1}, {MaxHeldBytes: 100}, {MinRTO: time.Second, MaxRTO: time.Millisecond}, {MaxRetries: -2}} {
		if _, err := NewArbiter(cfg, &collector{}); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	if _, err := NewArbiter(Config{}, nil); err == nil {
		t.Error("nil sink accepted")
	}
}

// On a path whose round trip is longer than the first RTOs, the first hole
// is NACKed several times before its answer comes; that answer still seeds
// the round trip, and from then on a hole waits two round trips before it
// is NACKed again, even past MaxRTO.
func TestArbiterLearnsALongRoundTrip(t *testing.T) {
	const rtt = int64(250 * time.Millisecond)
	r := &recordingRequester{}
	a, _ := newTestArbiter(t, Config{Requester: r, Window: time.Millisecond, MaxRetries: 50})
	a.Offer(0, pkt(t, testSession, 1, 1), 0)
	a.Offer(0, pkt(t, testSession, 3, 1), 0) // 2 missing
	now := int64(0)
	first := int64(-1)
	for now < first+rtt || first < 0 {
		d, _ := a.Deadline()
		now = d
		a.Tick(now)
		if first < 0 && len(r.reqs) == 1 {
			first = now
		}
	}
	if len(r.reqs) < 3 {
		t.Fatalf("%d NACKs before the answer; the test wants a hole retried before its answer", len(r.reqs))
	}
	a.Offer(RepairLine, pkt(t, testSession, 2, 1), first+rtt)
	if srtt := a.Stats().SRTT; srtt != time.Duration(rtt) {
		t.Fatalf("SRTT %v after a retried hole's answer, want the first NACK's round trip %v", srtt, time.Duration(rtt))
	}

	// The next hole: NACKed once after the window, then not again before
	// its answer is due: the round trip and four deviations (the first
	// sample's deviation is half of it, RFC 6298), past MaxRTO (200ms by
	// default).
	at := first + rtt
	a.Offer(0, pkt(t, testSession, 5, 1), at) // 4 missing
	before := len(r.reqs)
	a.Tick(at + int64(time.Millisecond))
	if len(r.reqs) != before+1 {
		t.Fatalf("the new hole was not NACKed after its window")
	}
	d, _ := a.Deadline()
	if wait := d - (at + int64(time.Millisecond)); wait != 3*rtt {
		t.Fatalf("next NACK after %v, want 3 round trips (%v)", time.Duration(wait), time.Duration(3*rtt))
	}
	// Steady answers bring the deviation, and the wait, down to the
	// round trip and a quarter.
	for seq := uint64(4); seq < 60; seq += 2 {
		a.Offer(RepairLine, pkt(t, testSession, seq, 1), at+int64(time.Millisecond)+rtt)
		at += int64(time.Second)
		a.Offer(0, pkt(t, testSession, seq+3, 1), at) // seq+2 missing
		a.Tick(at + int64(time.Millisecond))
	}
	d, _ = a.Deadline()
	if wait := d - (at + int64(time.Millisecond)); wait != rtt+rtt/4 {
		t.Fatalf("next NACK after %v on a steady path, want %v", time.Duration(wait), time.Duration(rtt+rtt/4))
	}
}

func TestArbiterPhantomTailIsCutNotLost(t *testing.T) {
	r := &recordingRequester{}
	a, c := newTestArbiter(t, Config{Requester: r, Window: -1})
	a.Offer(0, pkt(t, testSession, 1, 4), 0)
	// A forged heartbeat of the live session claims a billion messages.
	a.Offer(1, hb(t, testSession, 1e9, wire.FlagHeartbeat), 0)
	a.Tick(0)
	// One round asks for the front of the claim only, not a billion.
	var asked uint64
	for _, q := range r.reqs {
		asked += uint64(q.Count)
	}
	if len(r.reqs) > nackRound || asked > nackRound*2048 || r.reqs[0].FirstSeq != 5 {
		t.Fatalf("%d requests for %d messages, first %+v", len(r.reqs), asked, r.reqs[0])
	}
	// The server has sent up to 6: it answers 5 and says 7 on is not sent.
	a.Offer(RepairLine, pkt(t, testSession, 5, 2), 10)
	a.Reject(wire.RetransmitReject{Channel: 0, Reason: wire.RejectNotYetSent, Session: testSession, FirstSeq: 7, Count: 2046}, 10)
	st := a.Stats()
	if st.OpenHoles != 0 || st.Phantom != 1e9-7 || st.PhantomCuts != 1 {
		t.Fatalf("after the cut: %+v", st)
	}
	// The live feed carries on, nothing is lost, nothing more is asked.
	n := len(r.reqs)
	a.Offer(0, pkt(t, testSession, 7, 3), 20)
	a.Tick(1e9)
	wantSeqs(t, c, 1, 10)
	if lost := c.kinds(EventLost); len(lost) != 0 || len(r.reqs) != n {
		t.Fatalf("lost %+v, requests %d → %d", lost, n, len(r.reqs))
	}
}

func TestArbiterNotYetSentKeepsWhatWasReceived(t *testing.T) {
	r := &recordingRequester{}
	a, _ := newTestArbiter(t, Config{Requester: r, Window: -1})
	a.Offer(0, pkt(t, testSession, 1, 2), 0)
	a.Offer(0, pkt(t, testSession, 10, 2), 0) // 3..9 missing, 10..11 held
	a.Tick(0)
	// A lagging server says 3 is not sent: the hole stays (someone sent
	// 10), and is asked again later.
	a.Reject(wire.RetransmitReject{Reason: wire.RejectNotYetSent, Session: testSession, FirstSeq: 3, Count: 7}, 1)
	if st := a.Stats(); st.OpenHoles != 1 || st.Phantom != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestArbiterGiveUpNeverSkipsPastWhatWasSeen(t *testing.T) {
	// No retransmit server: a forged heartbeat's claim cannot be checked.
	a, c := newTestArbiter(t, Config{Window: -1, MaxRetries: 2})
	a.Offer(0, pkt(t, testSession, 1, 4), 0)
	a.Offer(1, hb(t, testSession, 1e9, wire.FlagHeartbeat), 0)
	for now := int64(0); now < 1e9; now += 1e6 {
		a.Tick(now)
	}
	// The claim is dropped, not lost, and the live feed is followed on.
	a.Offer(0, pkt(t, testSession, 5, 4), 1e9)
	wantSeqs(t, c, 1, 9)
	if lost := c.kinds(EventLost); len(lost) != 0 {
		t.Fatalf("lost %+v", lost)
	}
	if st := a.Stats(); st.Phantom != 1e9-5 || st.OpenHoles != 0 {
		t.Fatalf("stats %+v", st)
	}
	// A real loss is still reported: 9..12 never come, 13.. does.
	a.Offer(0, pkt(t, testSession, 13, 2), 1e9)
	for now := int64(1e9); now < 2e9; now += 1e6 {
		a.Tick(now)
	}
	if lost := c.kinds(EventLost); len(lost) != 1 || lost[0].Seq != 9 || lost[0].Count != 4 {
		t.Fatalf("lost %+v", lost)
	}
}

// A long hole that a rate-limited server answers a little at a time (each
// NACK round gets the first 20 of what it asked) is repaired, though that
// takes far more rounds than MaxRetries: a hole whose front moves is being
// repaired, and its retries start again (the lab's cut edge uplink: about
// 200 NACKs spent on a 4 s hole its hub held, then a give-up).
func TestArbiterHoleFilledFromItsFrontKeepsRetrying(t *testing.T) {
	r := &recordingRequester{}
	a, c := newTestArbiter(t, Config{Requester: r, Window: time.Millisecond, MaxRetries: 3, MinRTO: time.Millisecond, MaxRTO: 4 * time.Millisecond})
	const holeEnd = 402 // 2..401 missing: 20 rounds of 20
	a.Offer(0, pkt(t, testSession, 1, 1), 0)
	a.Offer(0, pkt(t, testSession, holeEnd, 1), 0)
	now := int64(0)
	for i := 0; i < 1000 && len(c.seqs) < holeEnd && len(c.kinds(EventLost)) == 0; i++ {
		d, ok := a.Deadline()
		if !ok {
			t.Fatal("no deadline while a hole is open")
		}
		now = d
		n := len(r.reqs)
		a.Tick(now)
		if len(r.reqs) > n {
			first := r.reqs[n].FirstSeq
			a.Offer(RepairLine, pkt(t, testSession, first, int(min(20, holeEnd-first))), now)
		}
	}
	if lost := c.kinds(EventLost); len(lost) != 0 {
		t.Fatalf("gave up %+v after %d NACKs", lost, len(r.reqs))
	}
	wantSeqs(t, c, 1, holeEnd+1)
	// Without answers the same hole is still given up after MaxRetries.
	b, bc := newTestArbiter(t, Config{Requester: &recordingRequester{}, Window: time.Millisecond, MaxRetries: 3, MinRTO: time.Millisecond, MaxRTO: 4 * time.Millisecond})
	b.Offer(0, pkt(t, testSession, 1, 1), 0)
	b.Offer(0, pkt(t, testSession, holeEnd, 1), 0)
	for i := 0; i < 100 && len(bc.kinds(EventLost)) == 0; i++ {
		d, _ := b.Deadline()
		b.Tick(d)
	}
	if lost := bc.kinds(EventLost); len(lost) != 1 || lost[0].Seq != 2 {
		t.Fatalf("unanswered: lost %+v", lost)
	}
}
