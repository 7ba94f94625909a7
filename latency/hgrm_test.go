package latency

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hgrmRow is one percentile row of an .hgrm file.
type hgrmRow struct {
	value, percentile float64
	count             int64
	inverted          float64 // 1/(1-percentile); +Inf on the last row
}

// hgrmFile is an .hgrm file read back.
type hgrmFile struct {
	rows                       []hgrmRow
	mean, stddev, max          float64
	total, buckets, subBuckets int64
}

var (
	hgrmHeader  = regexp.MustCompile(`^\s*Value\s+Percentile\s+TotalCount\s+1/\(1-Percentile\)\s*$`)
	hgrmFooter1 = regexp.MustCompile(`^#\[Mean\s+=\s+(\S+), StdDeviation\s+=\s+(\S+)\]$`)
	hgrmFooter2 = regexp.MustCompile(`^#\[Max\s+=\s+(\S+), Total count\s+=\s+(\d+)\]$`)
	hgrmFooter3 = regexp.MustCompile(`^#\[Buckets\s+=\s+(\d+), SubBuckets\s+=\s+(\d+)\]$`)
)

// parseHgrm reads the .hgrm format: the header, a blank line, rows of four
// numbers, then the three footer lines, and nothing else.
func parseHgrm(r io.Reader) (*hgrmFile, error) {
	sc := bufio.NewScanner(r)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(lines) < 5 || !hgrmHeader.MatchString(lines[0]) || lines[1] != "" {
		return nil, fmt.Errorf("bad header: %q", lines[:min(2, len(lines))])
	}
	f := &hgrmFile{}
	body, footer := lines[2:len(lines)-3], lines[len(lines)-3:]
	for _, line := range body {
		fields := strings.Fields(line)
		if len(fields) != 4 {
			return nil, fmt.Errorf("row %q: %d fields, want 4", line, len(fields))
		}
		var row hgrmRow
		var err error
		if row.value, err = strconv.ParseFloat(fields[0], 64); err != nil {
			return nil, fmt.Errorf("row %q: value: %w", line, err)
		}
		if row.percentile, err = strconv.ParseFloat(fields[1], 64); err != nil {
			return nil, fmt.Errorf("row %q: percentile: %w", line, err)
		}
		if row.count, err = strconv.ParseInt(fields[2], 10, 64); err != nil {
			return nil, fmt.Errorf("row %q: count: %w", line, err)
		}
		if fields[3] == "inf" {
			row.inverted = math.Inf(1)
		} else if row.inverted, err = strconv.ParseFloat(fields[3], 64); err != nil {
			return nil, fmt.Errorf("row %q: 1/(1-percentile): %w", line, err)
		}
		f.rows = append(f.rows, row)
	}
	m1, m2, m3 := hgrmFooter1.FindStringSubmatch(footer[0]), hgrmFooter2.FindStringSubmatch(footer[1]), hgrmFooter3.FindStringSubmatch(footer[2])
	if m1 == nil || m2 == nil || m3 == nil {
		return nil, fmt.Errorf("bad footer: %q", footer)
	}
	var errs [6]error
	f.mean, errs[0] = strconv.ParseFloat(m1[1], 64)
	f.stddev, errs[1] = strconv.ParseFloat(m1[2], 64)
	f.max, errs[2] = strconv.ParseFloat(m2[1], 64)
	f.total, errs[3] = strconv.ParseInt(m2[2], 10, 64)
	f.buckets, errs[4] = strconv.ParseInt(m3[1], 10, 64)
	f.subBuckets, errs[5] = strconv.ParseInt(m3[2], 10, 64)
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("bad footer %q: %w", footer, err)
		}
	}
	return f, nil
}

func TestWriteHgrmReadsBack(t *testing.T) {
	r := uniform() // 1..10000 µs
	path := filepath.Join(t.TempDir(), "uniform.hgrm")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHgrm(out, time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	f, err := parseHgrm(in)
	if err != nil {
		t.Fatal(err)
	}

	if len(f.rows) < 20 {
		t.Fatalf("%d rows, want a full distribution", len(f.rows))
	}
	for i := 1; i < len(f.rows); i++ {
		prev, row := f.rows[i-1], f.rows[i]
		if row.value < prev.value || row.percentile < prev.percentile || row.count < prev.count {
			t.Fatalf("rows %d and %d not monotonic: %+v, %+v", i-1, i, prev, row)
		}
	}
	last := f.rows[len(f.rows)-1]
	if last.percentile != 1 || last.count != 10_000 || !math.IsInf(last.inverted, 1) {
		t.Errorf("last row = %+v, want percentile 1, count 10000, inf", last)
	}
	// Values are in microseconds: the last row is the maximum, 10 000 µs,
	// within the histogram's precision.
	if math.Abs(last.value-10_000) > 10 {
		t.Errorf("last row value = %v µs, want ≈ 10000", last.value)
	}
	if math.Abs(f.max-10_000) > 10 || math.Abs(f.mean-5_000.5) > 5 || f.total != 10_000 {
		t.Errorf("footer: max %v mean %v total %d; want ≈10000, ≈5000.5, 10000", f.max, f.mean, f.total)
	}
	if math.Abs(f.stddev-2886.75) > 3 {
		t.Errorf("footer stddev = %v µs, want ≈ 2886.75", f.stddev)
	}
	if f.subBuckets != 2048 || f.buckets < 1 {
		t.Errorf("footer buckets %d, sub-buckets %d; want sub-buckets 2048", f.buckets, f.subBuckets)
	}
	for _, row := range f.rows {
		if row.percentile >= 0.5 {
			if math.Abs(row.value-5_000) > 5 {
				t.Errorf("first row at or above the median: %+v, want value ≈ 5000", row)
			}
			break
		}
	}
}

func TestWriteHgrmUnits(t *testing.T) {
	r := NewRecorder(time.Minute)
	r.Record(3 * time.Millisecond)
	var ns, ms strings.Builder
	if err := r.WriteHgrm(&ns, time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHgrm(&ms, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	fn, err := parseHgrm(strings.NewReader(ns.String()))
	if err != nil {
		t.Fatal(err)
	}
	fm, err := parseHgrm(strings.NewReader(ms.String()))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(fn.max-3e6) > 3e3 || math.Abs(fm.max-3) > 0.003 {
		t.Errorf("max in ns = %v, in ms = %v; want ≈ 3e6, ≈ 3", fn.max, fm.max)
	}
	if err := r.WriteHgrm(io.Discard, 0); err == nil {
		t.Error("WriteHgrm with unit 0 succeeded")
	}
}

func TestWriteHgrmEmpty(t *testing.T) {
	var b strings.Builder
	if err := NewRecorder(time.Second).WriteHgrm(&b, time.Microsecond); err != nil {
		t.Fatal(err)
	}
	f, err := parseHgrm(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if f.total != 0 {
		t.Errorf("empty histogram footer total = %d", f.total)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestWriteHgrmError(t *testing.T) {
	if err := uniform().WriteHgrm(failingWriter{}, time.Microsecond); err == nil {
		t.Error("WriteHgrm to a failing writer succeeded")
	}
}
