package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tickcast/tickcast/latency"
)

// NoisyNote is said with every report: figures from this kind of machine
// are read as ratios within a run and as ranges over runs.
const NoisyNote = "this VM is noisy (shared vCPUs with millisecond scheduling stalls): " +
	"read the ratios within one run, and repeat with --runs K for the range"

// Percentiles are a latency distribution in microseconds.
type Percentiles struct {
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	P9999 float64 `json:"p9999"`
	Max   float64 `json:"max"`
}

// percentilesOf returns r's percentiles in µs, rounded to ns.
func percentilesOf(r *latency.Recorder) Percentiles {
	s := r.Summary()
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	return Percentiles{us(s.P50), us(s.P90), us(s.P99), us(s.P999), us(s.P9999), us(s.Max)}
}

// list returns the percentiles in order, p50 first.
func (p Percentiles) list() []float64 {
	return []float64{p.P50, p.P90, p.P99, p.P999, p.P9999, p.Max}
}

// percentilesFrom is list's inverse.
func percentilesFrom(v []float64) Percentiles {
	return Percentiles{v[0], v[1], v[2], v[3], v[4], v[5]}
}

// ratio returns p/q per percentile (0 where q is 0).
func (p Percentiles) ratio(q Percentiles) Percentiles {
	a, b := p.list(), q.list()
	for i := range a {
		if b[i] > 0 {
			a[i] = math.Round(a[i]/b[i]*100) / 100
		} else {
			a[i] = 0
		}
	}
	return percentilesFrom(a)
}

// minus returns p−q per percentile, floored at 0.
func (p Percentiles) minus(q Percentiles) Percentiles {
	a, b := p.list(), q.list()
	for i := range a {
		a[i] = math.Max(0, a[i]-b[i])
	}
	return percentilesFrom(a)
}

// PercentileRange is the spread of each percentile over several runs.
type PercentileRange struct {
	Min Percentiles `json:"min"`
	Max Percentiles `json:"max"`
}

// RunFigures are one run's figures of a series.
type RunFigures struct {
	Sent      uint64      `json:"sent"`
	Delivered uint64      `json:"delivered"`
	Lost      uint64      `json:"lost"`
	LatencyUs Percentiles `json:"latency_us"`
}

// Repair counts the recovery work of a tickcast series: holes seen, filled
// by the other line or a NACK, and given up.
type Repair struct {
	Gaps          uint64            `json:"gaps"`
	GapsFilled    uint64            `json:"gaps_filled"`
	NACKs         uint64            `json:"nacks"`
	Retransmitted uint64            `json:"retransmitted"`
	GaveUp        uint64            `json:"gave_up"`
	Resets        map[string]uint64 `json:"resets,omitempty"`
}

// Series is one system's figures in a run: the JSON fields tools read
// (scenario, rate, duration_s, sent, delivered, lost, duplicates_delivered,
// throughput_msgs, latency_us) and more beside them.
type Series struct {
	Scenario string `json:"scenario"`
	// System is "tickcast", "relay" (tickcast through a hub and an edge
	// relay), "floor" (raw UDP) or "nats".
	System string `json:"system"`
	// Lines is "ab" or "a" (tickcast and floor).
	Lines string  `json:"lines,omitempty"`
	Rate  float64 `json:"rate"`
	// DurationS is the recorded time of one run, in seconds; Runs runs
	// make the figures.
	DurationS float64 `json:"duration_s"`
	Runs      int     `json:"runs"`
	// Sent counts the messages scheduled in the recorded windows;
	// Delivered the distinct ones the application got; Lost = Sent −
	// Delivered.
	Sent                uint64 `json:"sent"`
	Delivered           uint64 `json:"delivered"`
	Lost                uint64 `json:"lost"`
	DuplicatesDelivered uint64 `json:"duplicates_delivered"`
	// ThroughputMsgs is Delivered over the recorded time, per second.
	ThroughputMsgs float64 `json:"throughput_msgs"`
	// LatencyUs is receive (handler) time − scheduled send time per
	// message, in µs: free of coordinated omission.
	LatencyUs Percentiles `json:"latency_us"`
	MeanUs    float64     `json:"mean_us"`
	// UncorrectedUs is handler time − packet send time (what a sender's
	// own timestamps show; tickcast and floor).
	UncorrectedUs *Percentiles `json:"uncorrected_latency_us,omitempty"`
	// NetworkUs is the kernel's receive timestamp − packet send time, per
	// packet: the sender's queueing after it stamped the packet, and the
	// kernel; what uncorrected adds to it is the receiver's own time.
	NetworkUs *Percentiles `json:"network_latency_us,omitempty"`
	// RangeUs is each percentile's spread over the runs.
	RangeUs *PercentileRange `json:"range_us,omitempty"`
	// Ratio is this series' percentiles over another's, by system.
	Ratio map[string]Percentiles `json:"ratio,omitempty"`
	// PacketsPerS, DatagramsPerS and BytesPerDatagram describe the
	// sender's output during the window (packets go on every line).
	PacketsPerS      float64 `json:"packets_per_s,omitempty"`
	DatagramsPerS    float64 `json:"datagrams_per_s,omitempty"`
	BytesPerDatagram float64 `json:"bytes_per_datagram,omitempty"`
	// AchievedRate is how fast the sender got the window's messages out;
	// SenderMaxLagUs the longest a message waited past its schedule to be
	// handed on.
	AchievedRate   float64 `json:"achieved_rate"`
	SenderMaxLagUs float64 `json:"sender_max_lag_us"`
	Repair         *Repair `json:"repair,omitempty"`
	// Hops are the relays' shares of the relay path (system "relay").
	Hops []Hop `json:"hops,omitempty"`
	// Processes are where each side ran, for every run.
	Processes []Process    `json:"processes"`
	PerRun    []RunFigures `json:"per_run,omitempty"`
	Warnings  []string     `json:"warnings,omitempty"`

	// Latency, Uncorrected and Network are the histograms over every run.
	Latency     *latency.Recorder `json:"-"`
	Uncorrected *latency.Recorder `json:"-"`
	Network     *latency.Recorder `json:"-"`
}

// Host describes the machine.
type Host struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	OS         string `json:"os"`
	Go         string `json:"go"`
}

func thisHost() Host {
	return Host{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
}

// seriesLabel names a series in tables.
func seriesLabel(s *Series) string {
	switch s.System {
	case SystemFloor:
		return "floor (raw UDP)"
	case SystemNATS:
		return "nats"
	case SystemRelay:
		return "via hub+edge"
	}
	return s.System
}

// fmtUs formats µs with 3 significant digits at most.
func fmtUs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// fmtRatio formats a ratio as "1.4x".
func fmtRatio(v float64) string {
	if v == 0 {
		return "-"
	}
	if v >= 10 {
		return fmt.Sprintf("%.0fx", v)
	}
	return fmt.Sprintf("%.2gx", v)
}

// writeSeriesTable writes the table of series, each with its uncorrected
// line and its ratios.
func writeSeriesTable(w io.Writer, all []*Series) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "series\tsent\tdelivered\tlost\tdup\tmsg/s\tp50\tp90\tp99\tp99.9\tp99.99\tmax\t")
	row := func(name string, cells ...string) {
		fmt.Fprintf(tw, "%s\t%s\t\n", name, strings.Join(cells, "\t"))
	}
	pct := func(p Percentiles, f func(float64) string) []string {
		var out []string
		for _, v := range p.list() {
			out = append(out, f(v))
		}
		return out
	}
	for _, s := range all {
		row(seriesLabel(s), append([]string{
			fmt.Sprint(s.Sent), fmt.Sprint(s.Delivered), fmt.Sprint(s.Lost),
			fmt.Sprint(s.DuplicatesDelivered), fmt.Sprintf("%.0f", s.ThroughputMsgs),
		}, pct(s.LatencyUs, fmtUs)...)...)
		if s.UncorrectedUs != nil {
			row("  uncorrected", append([]string{"", "", "", "", ""}, pct(*s.UncorrectedUs, fmtUs)...)...)
		}
		if s.NetworkUs != nil {
			row("  to the kernel", append([]string{"", "", "", "", ""}, pct(*s.NetworkUs, fmtUs)...)...)
		}
		if s.RangeUs != nil {
			lo, hi := s.RangeUs.Min.list(), s.RangeUs.Max.list()
			var cells []string
			for i := range lo {
				cells = append(cells, fmtUs(lo[i])+"–"+fmtUs(hi[i]))
			}
			row(fmt.Sprintf("  range (%d runs)", s.Runs), append([]string{"", "", "", "", ""}, cells...)...)
		}
	}
	for _, s := range all {
		for _, other := range []string{SystemFloor, SystemNATS} {
			if r, ok := s.Ratio[other]; ok {
				row(fmt.Sprintf("%s / %s", s.System, other), append([]string{"", "", "", "", ""}, pct(r, fmtRatio)...)...)
			}
		}
	}
	tw.Flush()
}

// writeDetails writes each series' sender figures, repairs, processes and
// warnings.
func writeDetails(w io.Writer, all []*Series) {
	for _, s := range all {
		fmt.Fprintf(w, "%s: sender %.0f msg/s achieved, max lag %s", seriesLabel(s), s.AchievedRate, fmtUs(s.SenderMaxLagUs)+"µs")
		if s.PacketsPerS > 0 {
			fmt.Fprintf(w, ", %.0f packets/s", s.PacketsPerS)
		}
		if s.DatagramsPerS > 0 {
			fmt.Fprintf(w, ", %.0f datagrams/s of %.0f bytes", s.DatagramsPerS, s.BytesPerDatagram)
		}
		fmt.Fprintln(w)
		if r := s.Repair; r != nil && (r.Gaps > 0 || r.GaveUp > 0 || len(r.Resets) > 0) {
			fmt.Fprintf(w, "  repair: %d gaps, %d filled, %d NACKs, %d retransmitted, %d given up, resets %v\n",
				r.Gaps, r.GapsFilled, r.NACKs, r.Retransmitted, r.GaveUp, r.Resets)
		}
		writeProcesses(w, s.Processes)
		for _, warn := range s.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warn)
		}
	}
}

// WriteHgrm writes one .hgrm percentile distribution per series (values in
// µs) into dir, named after the series: tickcast.hgrm,
// tickcast-uncorrected.hgrm, floor.hgrm, nats.hgrm…; it returns the paths.
func WriteHgrm(dir string, all []*Series) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	write := func(name string, r *latency.Recorder) error {
		if r == nil {
			return nil
		}
		p := filepath.Join(dir, name+".hgrm")
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := r.WriteHgrm(f, time.Microsecond); err != nil {
			f.Close()
			return err
		}
		paths = append(paths, p)
		return f.Close()
	}
	for _, s := range all {
		if err := write(s.System, s.Latency); err != nil {
			return paths, err
		}
		if err := write(s.System+"-uncorrected", s.Uncorrected); err != nil {
			return paths, err
		}
	}
	return paths, nil
}

// writeProcesses writes one line per role: its processes, their CPUs and
// the CPU time they used, on average over the runs.
func writeProcesses(w io.Writer, procs []Process) {
	var roles []string
	by := map[string][]Process{}
	for _, p := range procs {
		if _, ok := by[p.Role]; !ok {
			roles = append(roles, p.Role)
		}
		by[p.Role] = append(by[p.Role], p)
	}
	for _, role := range roles {
		ps := by[role]
		var pids, cpus []string
		var user, sys float64
		for _, p := range ps {
			pids = append(pids, fmt.Sprint(p.PID))
			if !slices.Contains(cpus, p.CPUs) {
				cpus = append(cpus, p.CPUs)
			}
			user += p.UserS
			sys += p.SysS
		}
		n := float64(len(ps))
		per := ""
		if len(ps) > 1 {
			per = " per run"
		}
		fmt.Fprintf(w, "  %s: pid %s on cpus %s, %.2fs user + %.2fs sys%s\n",
			role, strings.Join(pids, ", "), strings.Join(cpus, " / "), user/n, sys/n, per)
	}
}
