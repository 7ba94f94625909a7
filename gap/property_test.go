package gap

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// The property: two (or three) lines carry the same random stream with
// independent random loss, duplication, reordering and a line going dead;
// a retransmit server answers NACKs (itself lossy and delayed). The arbiter's
// output must equal the input exactly, except for ranges reported by an
// explicit EventLost — and with a working server nothing may be lost.

type simEvent struct {
	at   int64
	line int
	pkt  []byte
	tick bool
	ord  int // tie-break: stable order
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].ord < q[j].ord
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type lineFaults struct {
	drop, dup float64
	jitter    int64 // uniform extra delay, ns: reorders packets
	deadFrom  int   // packet index from which the line is dead (-1 = never)
}

type simCase struct {
	name        string
	lines       []lineFaults
	packets     int
	answerLoss  float64 // retransmit answers lost
	noServer    bool
	cacheFloor  uint64 // the server rejects requests below this sequence as too old
	wantNoLoss  bool
	lostReason  LostReason // if set, every EventLost must carry it
	heldPackets int
}

// simRequester queues NACK answers into the simulation.
type simRequester struct {
	sim *simulation
}

func (r simRequester) Request(q wire.RetransmitRequest) error {
	r.sim.requests++
	s := r.sim
	if q.FirstSeq < s.c.cacheFloor {
		s.rejects = append(s.rejects, wire.RetransmitReject{Channel: q.Channel, Session: q.Session, Reason: wire.RejectTooOld, FirstSeq: q.FirstSeq, Count: q.Count})
		return nil
	}
	end := q.FirstSeq + uint64(q.Count)
	for _, p := range s.src {
		h, _ := wire.ParseHeader(p)
		if h.End() <= q.FirstSeq || h.Seq >= end {
			continue
		}
		if s.rng.Float64() < s.c.answerLoss {
			continue
		}
		s.push(simEvent{at: s.now + 50_000 + s.rng.Int64N(200_000), line: RepairLine, pkt: p})
	}
	return nil
}

type simulation struct {
	c        simCase
	rng      *rand.Rand
	q        simQueue
	ord      int
	now      int64
	src      [][]byte
	msgs     [][]byte // every message by seq-1
	requests int
	rejects  []wire.RetransmitReject
}

func (s *simulation) push(e simEvent) {
	s.ord++
	e.ord = s.ord
	heap.Push(&s.q, e)
}

func runSim(t *testing.T, c simCase, seed uint64) {
	s := &simulation{c: c, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b9))}
	// The source stream: packets of 1..12 messages, 10µs apart.
	seq := uint64(1)
	for i := 0; i < c.packets; i++ {
		n := 1 + s.rng.IntN(12)
		var b wire.Builder
		b.Reset(make([]byte, 0, wire.DefaultMaxPacket), wire.DefaultMaxPacket, wire.Header{Channel: 2, Session: testSession, Seq: seq})
		for k := 0; k < n; k++ {
			wire.Add(&b, wire.LevelUpdate{Instrument: uint32(k), Price: s.rng.Int64(), Qty: int64(seq), ExchTime: seq})
		}
		p := b.Finish(int64(i))
		s.src = append(s.src, p)
		pp, _ := wire.Parse(p)
		it := pp.Messages()
		for it.Next() {
			s.msgs = append(s.msgs, it.Message().Bytes())
		}
		seq += uint64(n)
	}
	last := seq
	for li, f := range c.lines {
		for i, p := range s.src {
			if f.deadFrom >= 0 && i >= f.deadFrom {
				break
			}
			if s.rng.Float64() < f.drop {
				continue
			}
			at := int64(i)*10_000 + 5_000 + s.rng.Int64N(f.jitter+1)
			s.push(simEvent{at: at, line: li, pkt: p})
			if s.rng.Float64() < f.dup {
				s.push(simEvent{at: at + s.rng.Int64N(f.jitter+1), line: li, pkt: p})
			}
		}
		// Heartbeats after the stream (reveal tail loss), then end of session.
		if f.deadFrom < 0 {
			end := int64(c.packets) * 10_000
			for k := int64(1); k <= 50; k++ {
				s.push(simEvent{at: end + k*int64(2*time.Millisecond), line: li, pkt: wire.Header{Flags: wire.FlagHeartbeat, Channel: 2, Session: testSession, Seq: last}.Append(nil)})
			}
			s.push(simEvent{at: end + 120*int64(time.Millisecond), line: li, pkt: wire.Header{Flags: wire.FlagEndOfSession, Channel: 2, Session: testSession, Seq: last}.Append(nil)})
		}
	}
	col := &collector{}
	cfg := Config{Channel: 2, Lines: len(c.lines), MaxHeldPackets: c.heldPackets}
	if !c.noServer {
		cfg.Requester = simRequester{s}
	}
	a, err := NewArbiter(cfg, col)
	if err != nil {
		t.Fatal(err)
	}
	armed := int64(-1)
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(simEvent)
		s.now = e.at
		if e.tick {
			if d, ok := a.Deadline(); ok && d <= s.now {
				a.Tick(s.now)
			}
		} else {
			p, err := wire.Parse(e.pkt)
			if err != nil {
				t.Fatal(err)
			}
			a.Offer(e.line, p, s.now)
		}
		for _, r := range s.rejects {
			a.Reject(r, s.now)
		}
		s.rejects = s.rejects[:0]
		if d, ok := a.Deadline(); ok && d != armed {
			armed = d
			s.push(simEvent{at: max(d, s.now), tick: true})
		}
	}
	// Check: every sequence 1..last-1 is delivered exactly once with the
	// source's bytes, or covered by exactly one EventLost — in order.
	lost := map[uint64]bool{}
	for _, e := range col.kinds(EventLost) {
		if c.lostReason != 0 && e.Reason != c.lostReason {
			t.Fatalf("lost %+v: want reason %v", e, c.lostReason)
		}
		for q := e.Seq; q < e.Seq+e.Count; q++ {
			if lost[q] {
				t.Fatalf("seq %d reported lost twice", q)
			}
			lost[q] = true
		}
	}
	want := uint64(1)
	for i, q := range col.seqs {
		for lost[want] {
			want++
		}
		if q != want {
			t.Fatalf("delivery %d: seq %d, want %d", i, q, want)
		}
		if string(col.msgs[i]) != string(s.msgs[q-1]) {
			t.Fatalf("seq %d: bytes differ", q)
		}
		want++
	}
	for lost[want] {
		want++
	}
	if want != last {
		t.Fatalf("stream ended at %d, want %d (lost %d)", want, last, len(lost))
	}
	if c.wantNoLoss && len(lost) > 0 {
		t.Fatalf("%d messages lost with a working retransmit server", len(lost))
	}
	if len(col.kinds(EventEndOfSession)) != 1 {
		t.Fatalf("end of session events: %v", col.kinds(EventEndOfSession))
	}
	st := a.Stats()
	t.Logf("seed %d: delivered %d lost %d gaps %d filled %d nacks %d reordered %d heldmax %d srtt %v",
		seed, st.Delivered, st.Lost, st.Gaps, st.GapsFilled, st.Nacks, st.Reordered, st.HeldMax, st.SRTT)
}

func TestArbiterProperty(t *testing.T) {
	healthy := func(drop, dup float64, jitter int64) lineFaults {
		return lineFaults{drop: drop, dup: dup, jitter: jitter, deadFrom: -1}
	}
	cases := []simCase{
		{name: "clean", lines: []lineFaults{healthy(0, 0, 0), healthy(0, 0, 0)}, packets: 2000, wantNoLoss: true},
		{name: "loss1pct", lines: []lineFaults{healthy(0.01, 0.01, 20_000), healthy(0.01, 0.01, 20_000)}, packets: 5000, wantNoLoss: true},
		{name: "loss5pct", lines: []lineFaults{healthy(0.05, 0.02, 50_000), healthy(0.05, 0.02, 50_000)}, packets: 5000, wantNoLoss: true},
		{name: "heavy", lines: []lineFaults{healthy(0.3, 0.1, 100_000), healthy(0.3, 0.1, 100_000)}, packets: 3000, answerLoss: 0.2, wantNoLoss: true},
		{name: "deadA", lines: []lineFaults{{drop: 0.01, deadFrom: 1000}, healthy(0.01, 0, 20_000)}, packets: 4000, wantNoLoss: true},
		{name: "threeLines", lines: []lineFaults{healthy(0.2, 0.1, 30_000), healthy(0.2, 0.1, 30_000), healthy(0.2, 0, 30_000)}, packets: 3000, wantNoLoss: true},
		{name: "noServer", lines: []lineFaults{healthy(0.05, 0.05, 30_000), healthy(0.05, 0.05, 30_000)}, packets: 3000, noServer: true, lostReason: LostRetries},
		{name: "cacheTooOld", lines: []lineFaults{healthy(0.05, 0, 10_000), healthy(0.05, 0, 10_000)}, packets: 3000, cacheFloor: 5000, lostReason: LostTooOld},
		{name: "smallHold", lines: []lineFaults{healthy(0.1, 0.05, 80_000), healthy(0.1, 0.05, 80_000)}, packets: 3000, heldPackets: 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= 8; seed++ {
				t.Run(fmt.Sprint(seed), func(t *testing.T) { runSim(t, c, seed) })
			}
		})
	}
}
