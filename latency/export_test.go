package latency

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// sameRecorder fails unless a and b hold the same histogram and statistics.
func sameRecorder(t *testing.T, a, b *Recorder) {
	t.Helper()
	if a.Max() != b.Max() {
		t.Errorf("Max = %v, want %v", b.Max(), a.Max())
	}
	if !a.h.Equals(b.h) {
		t.Errorf("histograms differ")
	}
	if a.st != b.st {
		t.Errorf("stats = %+v, want %+v", b.st, a.st)
	}
	if as, bs := a.Summary(), b.Summary(); as != bs {
		t.Errorf("Summary = %+v, want %+v", bs, as)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	skewed := NewRecorder(time.Second)
	for i := range 100_000 {
		skewed.RecordNanos(int64(5_000 + i%977*13)) // a bulk around 5-17 µs
	}
	skewed.Record(3 * time.Millisecond)
	skewed.Record(2 * time.Second) // clamped
	skewed.Record(-time.Microsecond)
	skewed.RecordCorrected(int64(40*time.Millisecond), int64(10*time.Microsecond))
	for _, c := range []struct {
		name string
		r    *Recorder
	}{
		{"empty", NewRecorder(time.Minute)},
		{"one", func() *Recorder { r := NewRecorder(time.Millisecond); r.RecordNanos(0); return r }()},
		{"uniform", uniform()},
		{"skewed", skewed},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.r)
			if err != nil {
				t.Fatal(err)
			}
			var got Recorder // the zero Recorder decodes too
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%.200s): %v", b, err)
			}
			sameRecorder(t, c.r, &got)
			// The decoded recorder works like any other.
			got.Record(time.Microsecond)
			got.Merge(c.r)
			if got.Count() != 2*c.r.Count()+1 {
				t.Errorf("after Record and Merge: Count = %d, want %d", got.Count(), 2*c.r.Count()+1)
			}
		})
	}
}

func TestJSONInStruct(t *testing.T) {
	type result struct {
		Name string    `json:"name"`
		Lat  *Recorder `json:"lat"`
		None *Recorder `json:"none"`
	}
	in := result{Name: "x", Lat: uniform()}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out result
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.None != nil || out.Lat == nil {
		t.Fatalf("decoded %+v", out)
	}
	sameRecorder(t, in.Lat, out.Lat)
}

func TestJSONCompact(t *testing.T) {
	r := NewRecorder(time.Minute)
	for i := range 1_000_000 {
		r.RecordNanos(int64(8_000 + i%5_000))
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	// 5000 distinct values from 8 µs to 13 µs share 625 buckets of 8 ns.
	if len(b) > 20_000 {
		t.Errorf("a million samples encode to %d bytes, want the buckets only", len(b))
	}
}

func TestJSONRejects(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"not json", `{`, "unexpected end"},
		{"limit", `{"limit_ns":1,"counts":[]}`, "limit_ns 1"},
		{"huge limit", `{"limit_ns":9223372036854775807,"counts":[]}`, "limit_ns"},
		{"value above limit", `{"limit_ns":1000,"counts":[[1001,1]],"min_ns":1,"max_ns":1}`, "outside"},
		{"negative value", `{"limit_ns":1000,"counts":[[-1,1]]}`, "outside"},
		{"zero count", `{"limit_ns":1000,"counts":[[5,0]]}`, "not positive"},
		{"unsorted", `{"limit_ns":1000,"counts":[[5,1],[4,1]]}`, "not above"},
		{"overflow", `{"limit_ns":1000,"counts":[[1,9223372036854775807],[2,1]],"min_ns":1,"max_ns":2}`, "overflows"},
		{"min above max", `{"limit_ns":1000,"counts":[[5,1]],"min_ns":6,"max_ns":5}`, "min_ns 6"},
		{"max above limit", `{"limit_ns":1000,"counts":[[5,1]],"min_ns":5,"max_ns":2000}`, "max_ns 2000"},
		{"negative counter", `{"limit_ns":1000,"counts":[],"clamped":-1}`, "clamped -1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r Recorder
			err := json.Unmarshal([]byte(c.in), &r)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Unmarshal(%s) = %v, want an error containing %q", c.in, err, c.want)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	if p := NewRecorder(time.Second).Percentiles(5); p != nil {
		t.Errorf("empty recorder: %v, want nil", p)
	}
	r := uniform()
	ps := r.Percentiles(5)
	if len(ps) < 20 {
		t.Fatalf("%d points, want the .hgrm rows", len(ps))
	}
	var hgrm bytes.Buffer
	if err := r.WriteHgrm(&hgrm, time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	// Header, blank line, one row per point, 3 footer lines.
	if rows := strings.Count(hgrm.String(), "\n") - 5; rows != len(ps) {
		t.Errorf("%d points, the .hgrm has %d rows", len(ps), rows)
	}
	for i, p := range ps {
		if i > 0 && (p.Percentile < ps[i-1].Percentile || p.Value < ps[i-1].Value || p.Count < ps[i-1].Count) {
			t.Fatalf("point %d %+v after %+v: not monotonic", i, p, ps[i-1])
		}
	}
	last := ps[len(ps)-1]
	if last.Percentile != 100 || last.Count != r.Count() || !math.IsInf(last.InverseTail(), 1) {
		t.Errorf("last point %+v (x=%v), want p100 with every value", last, last.InverseTail())
	}
	if x := (Percentile{Percentile: 99}).InverseTail(); math.Abs(x-100) > 1e-9 {
		t.Errorf("InverseTail(p99) = %v, want 100", x)
	}
	if !near(ps[0].Value, time.Microsecond) {
		t.Errorf("first point %v, want the minimum 1µs", ps[0].Value)
	}
}

func FuzzUnmarshalJSON(f *testing.F) {
	for _, r := range []*Recorder{NewRecorder(time.Second), uniform()} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"limit_ns":1000,"counts":[[0,3],[999,1]],"min_ns":0,"max_ns":999,"sum_ns":999,"sum_sq_ns2":998001}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Recorder
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		// What decodes is a working recorder that encodes to the same thing.
		s := r.Summary()
		if s.Count > 0 && (s.P50 > s.P99 || s.P99 > s.Max) {
			t.Fatalf("percentiles out of order: %+v", s)
		}
		again, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		var r2 Recorder
		if err := json.Unmarshal(again, &r2); err != nil {
			t.Fatalf("re-decode %s: %v", again, err)
		}
		if !r.h.Equals(r2.h) || r.st != r2.st {
			t.Fatalf("round trip changed the recorder")
		}
	})
}
