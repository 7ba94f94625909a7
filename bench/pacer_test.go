package bench

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

func TestScheduleAt(t *testing.T) {
	for _, rate := range []float64{1, 3, 1000, 600_000, 2_000_000, 3e6 + 1, MaxRate} {
		s, err := NewSchedule(rate)
		if err != nil {
			t.Fatal(err)
		}
		if s.At(0) != 0 {
			t.Errorf("rate %v: At(0) = %d", rate, s.At(0))
		}
		// Message i is due at i/rate: within a nanosecond of it, strictly
		// increasing, and one second holds rate messages.
		for _, i := range []int64{1, 2, 7, 999, 123_457, 10_000_000} {
			want := float64(i) * 1e9 / rate
			if got := float64(s.At(i)); got > want || got < want-1 {
				t.Errorf("rate %v: At(%d) = %v, want ⌊%v⌋", rate, i, got, want)
			}
			if s.At(i) <= s.At(i-1) {
				t.Errorf("rate %v: At(%d) = %d not after At(%d) = %d", rate, i, s.At(i), i-1, s.At(i-1))
			}
		}
		if rate >= 1000 {
			if n := s.Before(int64(time.Second)); float64(n) != rate {
				t.Errorf("rate %v: %d messages in the first second", rate, n)
			}
		}
	}
	for _, bad := range []float64{0, -1, MaxRate * 2} {
		if _, err := NewSchedule(bad); err == nil {
			t.Errorf("NewSchedule(%v) accepted", bad)
		}
	}
}

func TestScheduleBeforeAndDue(t *testing.T) {
	for _, rate := range []float64{7, 1000, 333_333, 600_000, 2_500_000} {
		s, _ := NewSchedule(rate)
		for _, tt := range []int64{-5, 0, 1, 2, 999, 1000, 1001, 123_456_789, 1e9, 1e9 + 1, 3e9 + 7} {
			b := s.Before(tt)
			// Before(t) is the least i with At(i) >= t.
			if b > 0 && s.At(b-1) >= tt || b >= 0 && tt > 0 && s.At(b) < tt {
				t.Errorf("rate %v: Before(%d) = %d; At(%d) = %d, At(%d) = %d", rate, tt, b, b-1, s.At(b-1), b, s.At(b))
			}
			d := s.Due(tt)
			// Due(t) is the least i with At(i) > t: every message before it is due.
			if tt >= 0 && (s.At(d) <= tt || d > 0 && s.At(d-1) > tt) {
				t.Errorf("rate %v: Due(%d) = %d; At(%d) = %d, At(%d) = %d", rate, tt, d, d-1, s.At(d-1), d, s.At(d))
			}
			if tt < 0 && d != 0 {
				t.Errorf("rate %v: Due(%d) = %d, want 0", rate, tt, d)
			}
		}
	}
}

func TestSpinUntil(t *testing.T) {
	var stop atomic.Bool
	target := time.Now().Add(3 * time.Millisecond).UnixNano()
	if !spinUntil(target, &stop) {
		t.Fatal("spinUntil gave up without a stop")
	}
	if now := time.Now().UnixNano(); now < target {
		t.Errorf("spinUntil returned %v early", time.Duration(target-now))
	}
	stop.Store(true)
	if spinUntil(time.Now().Add(time.Hour).UnixNano(), &stop) {
		t.Error("spinUntil waited although stopped")
	}
}

// testFeed returns a feed of rate messages/s whose run starts now.
func testFeed(t *testing.T, rate float64, warmup, duration time.Duration) *feed {
	t.Helper()
	f, err := newFeed(feedConfig{Rate: rate, Instruments: 7, Levels: 10, Seed: 3, Warmup: warmup, Duration: duration})
	if err != nil {
		t.Fatal(err)
	}
	f.start = time.Now().UnixNano()
	return f
}

// walk calls fn for every message of b, failing on a malformed one.
func walk(t *testing.T, b []byte, fn func(m []byte)) {
	t.Helper()
	for off := 0; off < len(b); {
		if off+wire.MsgHeaderLen > len(b) {
			t.Fatalf("trailing %d bytes", len(b)-off)
		}
		n := int(binary.LittleEndian.Uint16(b[off:]))
		if n < wire.MsgHeaderLen || off+n > len(b) {
			t.Fatalf("message at %d: length %d", off, n)
		}
		fn(b[off : off+n])
		off += n
	}
}

func TestFeedStampsTheSchedule(t *testing.T) {
	const rate = 10_000
	f := testFeed(t, rate, 100*time.Millisecond, 200*time.Millisecond)
	if f.total != 3000 || f.want != 2000 {
		t.Fatalf("total %d, window %d; want 3000 and 2000", f.total, f.want)
	}
	var idx int64
	var inWin uint64
	var buf []byte
	// Hand the run on in ticks of 1 ms of schedule.
	for now := int64(0); !f.done(); now += int64(time.Millisecond) {
		buf = f.fill(buf[:0], now, batchLimit)
		var last wire.Message
		walk(t, buf, func(m []byte) {
			msg, err := wire.ReadMessage(m)
			if err != nil {
				t.Fatalf("message %d: %v", idx, err)
			}
			if tp := msg.Type(); tp != wire.TypeLevelUpdate && tp != wire.TypeTrade {
				t.Fatalf("message %d: type %v", idx, tp)
			}
			at := f.sched.At(idx)
			if exch := binary.LittleEndian.Uint64(m[exchTimeOff:]); exch != uint64(f.start+at) {
				t.Fatalf("message %d: exchange time %d, want start + %d", idx, exch, at)
			}
			if at > now {
				t.Fatalf("message %d due at %d handed on at %d", idx, at, now)
			}
			if at >= int64(100*time.Millisecond) && at < int64(300*time.Millisecond) {
				inWin++
			}
			idx++
			last = msg
		})
		if len(buf) > 0 && (last.Type() != wire.TypeLevelUpdate || !last.LevelUpdate().EndOfEvent) {
			t.Fatalf("batch at %d does not end on an event boundary", now)
		}
		if now > int64(time.Second) {
			t.Fatal("the feed never ended")
		}
	}
	if idx < f.total || f.messages != uint64(idx) {
		t.Errorf("%d messages handed on (feed counts %d), want at least %d", idx, f.messages, f.total)
	}
	if inWin != f.want || f.inWindow != f.want {
		t.Errorf("window: %d messages (feed counts %d), want %d", inWin, f.inWindow, f.want)
	}
}

func TestFeedBatchLimit(t *testing.T) {
	f := testFeed(t, 1e6, 0, 50*time.Millisecond)
	b := f.fill(nil, int64(time.Second), 4096) // everything is due: batches are cut by size
	if len(b) > 4096 || len(b) < 4096-64*wire.TradeLen {
		t.Errorf("batch of %d bytes, want close to the 4096 limit", len(b))
	}
}

func TestFeedDefinitions(t *testing.T) {
	f, err := newFeed(feedConfig{Rate: 1000, Instruments: 300, Levels: 40, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defs := f.definitions()
	if len(defs) < 2 {
		t.Fatalf("%d batches, want the books split", len(defs))
	}
	counts := map[wire.Type]int{}
	for i, b := range defs {
		if len(b) > batchLimit {
			t.Errorf("batch %d: %d bytes", i, len(b))
		}
		var last wire.Type
		walk(t, b, func(m []byte) { last = wire.Type(m[2]); counts[last]++ })
		if last != wire.TypeInstrumentDef && last != wire.TypeInstrumentStatus {
			t.Errorf("batch %d ends with %v, not on an event boundary", i, last)
		}
	}
	if counts[wire.TypeInstrumentDef] != 300 || counts[wire.TypeBookClear] != 300 || counts[wire.TypeInstrumentStatus] != 300 {
		t.Errorf("definitions hold %v", counts)
	}
}

func TestPace(t *testing.T) {
	const rate = 20_000
	f := testFeed(t, rate, 20*time.Millisecond, 80*time.Millisecond)
	f.start = time.Now().Add(5 * time.Millisecond).UnixNano()
	var stop atomic.Bool
	var got int64
	var starts, ends int
	st, err := f.pace(time.Now().Add(time.Minute).UnixNano(), &stop, paceHooks{
		emit: func(b []byte, now int64) error {
			walk(t, b, func(m []byte) {
				// Never early: a message goes when its time has come.
				if exch := int64(binary.LittleEndian.Uint64(m[exchTimeOff:])); exch > now {
					t.Fatalf("message scheduled at %d sent at %d", exch, now)
				}
				got++
			})
			return nil
		},
		windowStart: func() { starts++ },
		windowEnd:   func() { ends++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Complete || got < f.total || st.Messages != uint64(got) || st.InWindow != f.want {
		t.Errorf("stats %+v, %d messages; want all %d, %d in the window", st, got, f.total, f.want)
	}
	if starts != 1 || ends != 1 {
		t.Errorf("window hooks ran %d and %d times", starts, ends)
	}
	if st.WindowStartNs != f.start+int64(20*time.Millisecond) || st.WindowFirstNs < st.WindowStartNs || st.WindowLastNs < st.WindowFirstNs {
		t.Errorf("window from %d to %d, run started at %d", st.WindowFirstNs, st.WindowLastNs, f.start)
	}
	// Stopping ends the run at once.
	f = testFeed(t, rate, 0, time.Hour)
	stop.Store(true)
	if st, _ := f.pace(time.Now().Add(time.Hour).UnixNano(), &stop, paceHooks{emit: func([]byte, int64) error { return nil }}); st.Complete {
		t.Error("a stopped run says it is complete")
	}
}

func TestPacker(t *testing.T) {
	f := testFeed(t, 1e6, 0, 10*time.Millisecond)
	b := f.fill(nil, int64(time.Second), batchLimit)
	pk := newPacker(1200)
	var msgs int
	walk(t, b, func([]byte) { msgs++ })
	now := time.Now().UnixNano()
	pkts := pk.pack(b, now)
	next := uint64(1)
	var got []byte
	for i, raw := range pkts {
		p, err := wire.Parse(raw)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if len(raw) > 1200 || p.Seq != next || p.SendTime != now || p.Channel != benchChannel {
			t.Fatalf("packet %d: %d bytes, header %+v; want seq %d", i, len(raw), p.Header, next)
		}
		if i < len(pkts)-1 && len(raw) < 1200-wire.TradeLen {
			t.Errorf("packet %d: %d bytes, not full", i, len(raw))
		}
		next += uint64(p.Count)
		got = append(got, raw[wire.HeaderLen:]...)
	}
	if next-1 != uint64(msgs) || string(got) != string(b) {
		t.Errorf("packets carry %d messages, want the %d of the batch, same bytes", next-1, msgs)
	}
	end, _ := wire.ParseHeader(pk.end(now))
	if !end.Has(wire.FlagEndOfSession) || end.Seq != next {
		t.Errorf("end packet %+v", end)
	}
}

func TestPaceWithTicks(t *testing.T) {
	f, err := newFeed(feedConfig{Rate: 50_000, Instruments: 3, Levels: 5, Duration: 50 * time.Millisecond, Tick: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.start = time.Now().UnixNano()
	var stop atomic.Bool
	var batches, msgs int
	st, err := f.pace(time.Now().Add(time.Minute).UnixNano(), &stop, paceHooks{emit: func(b []byte, now int64) error {
		batches++
		walk(t, b, func(m []byte) {
			if exch := int64(binary.LittleEndian.Uint64(m[exchTimeOff:])); exch > now {
				t.Fatalf("message scheduled at %d sent at %d", exch, now)
			}
			msgs++
		})
		return nil
	}})
	if err != nil || !st.Complete || uint64(msgs) != st.Messages || st.InWindow != 2500 {
		t.Fatalf("pace: %v, %+v, %d messages", err, st, msgs)
	}
	// 2500 messages in 50 ms with ticks at least 5 ms apart: a few batches,
	// not one per message.
	if batches > 12 { // a tick at the start, then one at most every 5 ms, and the last
		t.Errorf("%d batches: the sender did not wait a tick between them", batches)
	}
}
