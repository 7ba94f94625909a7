package drill

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tickcast/tickcast/latency"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/subscriber"
)

// Report is what every drill returns: its figures (marshal it with
// encoding/json for the stable field names), whether it kept its promise,
// and a short table for people.
type Report interface {
	// Failures lists the promises the drill broke; empty means PASS.
	Failures() []string
	// WriteText writes the figures as a short table, then a PASS or FAIL
	// line.
	WriteText(w io.Writer) error
}

// Percentiles summarize a latency distribution in microseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

func percentiles(s latency.Summary) Percentiles {
	return Percentiles{Count: s.Count, P50: micros(s.P50), P99: micros(s.P99), P999: micros(s.P999), Max: micros(s.Max)}
}

// micros returns d in microseconds, to the nanosecond.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// millis returns d in milliseconds, rounded to the microsecond.
func millis(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

func (p Percentiles) String() string {
	if p.Count == 0 {
		return "none"
	}
	return fmt.Sprintf("p50 %s  p99 %s  p99.9 %s  max %s  (n=%d)", us(p.P50), us(p.P99), us(p.P999), us(p.Max), p.Count)
}

// us formats microseconds for people: µs below a millisecond, ms above.
func us(v float64) string {
	d := time.Duration(v * float64(time.Microsecond))
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", v)
	default:
		return fmt.Sprintf("%.2fms", v/1000)
	}
}

// Result holds the figures every drill reports. The JSON names are part of
// the drill's interface: fields are added, never renamed.
type Result struct {
	Drill string `json:"drill"` // "failover", "loss" or "restart"

	Sent      uint64 `json:"sent"`      // messages the publisher sent (all sessions)
	Delivered uint64 `json:"delivered"` // messages the subscriber delivered in order, exactly once
	Lost      uint64 `json:"lost"`      // messages the subscriber gave up (recovered by snapshot instead)
	AppGaps   uint64 `json:"app_gaps"`  // resets the application saw for a gap or an overrun
	// LineDownDetectedMs is the time from the drill's fault (the kill, the
	// restart) to the subscriber reporting the line down; null when no line
	// went down after it.
	LineDownDetectedMs *float64 `json:"line_down_detected_ms"`
	MaxLatencyUs       float64  `json:"max_latency_us"` // largest feed latency: publisher send to handler
	BooksMatch         bool     `json:"books_match"`    // every subscriber book equals the publisher's at the last sequence
	Mismatch           string   `json:"mismatch,omitempty"`

	Seed int64 `json:"seed"` // seed of the market and the injected loss
	// The subscriber's arbiter tuning (Feed.Gap; 0 = the library's default).
	MaxHeldPackets int     `json:"max_held_packets"`
	MaxRetries     int     `json:"max_retries"`
	MaxRTOMs       float64 `json:"max_rto_ms"`

	Rate      float64 `json:"rate"`       // configured messages per second
	SentRate  float64 `json:"sent_rate"`  // messages per second the publisher achieved
	DurationS float64 `json:"duration_s"` // how long the source ran
	// CPUCores is the CPU time the whole drill (publisher, subscriber,
	// link) used per second of the run, in cores; 0 where not measured.
	CPUCores   float64           `json:"cpu_cores"`
	Latency    Percentiles       `json:"latency_us"`  // feed latency per packet: publisher send to handler
	Gaps       uint64            `json:"gaps"`        // holes the arbiter saw (filled by the other line or NACK, or lost)
	GapsFilled uint64            `json:"gaps_filled"` // holes filled
	Resets     map[string]uint64 `json:"resets"`      // every reset the application saw, by reason
	Snapshots  uint64            `json:"snapshots"`   // snapshots applied
	LineDowns  []uint64          `json:"line_downs"`  // times each line (A, B) went down
	Checksums  uint64            `json:"checksums"`   // publisher checksums the subscriber checked
	Mismatches uint64            `json:"checksum_mismatches"`

	// Diagnostics say where the trouble came from when a promise is broken.
	Diagnostics Diagnostics `json:"diagnostics"`
}

// Diagnostics are the counters behind a drill's figures: where packets
// went missing and why a hole could not be filled.
type Diagnostics struct {
	LineSent     []uint64 `json:"line_sent"`     // datagrams the publisher wrote on each line (A, B), heartbeats included
	LineReceived []uint64 `json:"line_received"` // datagrams the subscriber read from each line, before injected loss
	// Unread is their difference: datagrams the subscriber never read,
	// dropped by the kernel (a full socket buffer while it was
	// descheduled) or still in flight when it stopped (the end of session).
	Unread     []uint64 `json:"line_unread"`
	LostEvents uint64   `json:"lost_events"`    // times the arbiter gave messages up
	Overflows  uint64   `json:"hold_overflows"` // of those, because too much was held ahead of a hole
	HeldMax    uint64   `json:"held_max"`       // most packets held ahead of a hole at once
	NackErrors uint64   `json:"nack_errors"`    // NACKs the subscriber failed to send
	Rejects    uint64   `json:"rejects"`        // RetransmitRejects the subscriber received
	QueueDrops uint64   `json:"queue_drops"`    // deliveries dropped because the handler was behind
	SRTTUs     float64  `json:"nack_srtt_us"`   // smoothed NACK round trip at the end

	// Live packets the publisher's QUIC link server sent to the subscriber
	// (which uses the link only for snapshots), and dropped because its
	// queue was full.
	LinkLiveSent    uint64 `json:"link_live_sent"`
	LinkLiveDropped uint64 `json:"link_live_dropped"`

	// The publisher's retransmit server (all sessions).
	RtxRequests       uint64 `json:"rtx_requests"`
	RtxAnswered       uint64 `json:"rtx_answered"` // messages retransmitted
	RtxTooOld         uint64 `json:"rtx_rejected_too_old"`
	RtxRateLimited    uint64 `json:"rtx_rejected_rate_limited"`
	RtxNotYetSent     uint64 `json:"rtx_rejected_not_yet_sent"`
	RtxUnknownSession uint64 `json:"rtx_rejected_unknown_session"`
	RtxSendErrors     uint64 `json:"rtx_send_errors"`
}

// diagnose gathers the diagnostics from the publishers' and the
// subscriber's counters.
func diagnose(pubs []publisher.Stats, st subscriber.Stats) Diagnostics {
	d := Diagnostics{
		LostEvents: st.Gap.LostEvents, Overflows: st.Gap.Overflows, HeldMax: st.Gap.HeldMax,
		NackErrors: st.Gap.NackErrors, Rejects: st.Gap.Rejects, QueueDrops: st.QueueDrops,
		SRTTUs: micros(st.Gap.SRTT),
	}
	n := len(st.Lines)
	d.LineSent, d.LineReceived, d.Unread = make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for i, l := range st.Lines {
		d.LineReceived[i] = l.Datagrams
	}
	for _, p := range pubs {
		for i, l := range p.Lines {
			if i < n {
				d.LineSent[i] += l.Packets
			}
		}
		x := p.Retransmit
		d.RtxRequests += x.Requests
		d.RtxAnswered += x.Answered
		d.RtxTooOld += x.RejectedTooOld
		d.RtxRateLimited += x.RejectedRateLimited
		d.RtxNotYetSent += x.RejectedNotYetSent
		d.RtxUnknownSession += x.RejectedUnknownSession
		d.RtxSendErrors += x.SendErrors
	}
	for i := range n {
		if d.LineSent[i] > d.LineReceived[i] {
			d.Unread[i] = d.LineSent[i] - d.LineReceived[i]
		}
	}
	return d
}

func (d Diagnostics) String() string {
	return fmt.Sprintf("unread %v, gave up %d× (hold overflows %d, held max %d), rejects %d (too old %d, rate limited %d, not yet sent %d), queue drops %d",
		d.Unread, d.LostEvents, d.Overflows, d.HeldMax, d.Rejects, d.RtxTooOld, d.RtxRateLimited, d.RtxNotYetSent, d.QueueDrops)
}

// fill takes the subscriber's side of the figures once it has stopped.
func (r *Result) fill(pubs []publisher.Stats, st subscriber.Stats, lat subscriber.Latency, pr *probe, v verdict) {
	for _, p := range pubs {
		r.Sent += p.Messages
	}
	r.Diagnostics = diagnose(pubs, st)
	r.Delivered = st.Gap.Delivered
	r.Lost = st.LostMessages
	r.AppGaps, r.Resets = pr.gaps()
	f := lat.Feed.Summary()
	r.Latency = percentiles(f)
	r.MaxLatencyUs = micros(f.Max)
	r.BooksMatch, r.Mismatch = v.match, v.why
	r.Gaps, r.GapsFilled = st.Gap.Gaps, st.Gap.GapsFilled
	r.Snapshots = st.Snapshots
	r.LineDowns = make([]uint64, len(st.Lines))
	for i, l := range st.Lines {
		r.LineDowns[i] = l.Downs
	}
	r.Checksums, r.Mismatches = st.ChecksumChecks, st.ChecksumMismatches
}

// failures checks the promises every drill makes: nothing lost, books
// equal, and (when gapless) no gap the application saw.
func (r *Result) failures(gapless bool) []string {
	var f []string
	if r.Lost != 0 {
		f = append(f, fmt.Sprintf("%d messages lost", r.Lost))
	}
	if gapless && r.AppGaps != 0 {
		f = append(f, fmt.Sprintf("the application saw %d gaps", r.AppGaps))
	}
	if !r.BooksMatch {
		f = append(f, "books do not match: "+r.Mismatch)
	}
	if r.Delivered > r.Sent {
		f = append(f, fmt.Sprintf("delivered %d > sent %d", r.Delivered, r.Sent))
	}
	return f
}

// rows writes the common figures, one per row.
func (r *Result) rows(w io.Writer) {
	fmt.Fprintf(w, "sent\t%d\t%.0f msg/s for %.1fs (asked %.0f), %.2f cores busy\n", r.Sent, r.SentRate, r.DurationS, r.Rate, r.CPUCores)
	fmt.Fprintf(w, "delivered\t%d\tin order, exactly once\n", r.Delivered)
	fmt.Fprintf(w, "lost\t%d\tgiven up to a snapshot\n", r.Lost)
	fmt.Fprintf(w, "app gaps\t%d\tresets %s\n", r.AppGaps, formatResets(r.Resets))
	fmt.Fprintf(w, "arbiter holes\t%d\tfilled %d (by the other line or NACK)\n", r.Gaps, r.GapsFilled)
	down := "-"
	if r.LineDownDetectedMs != nil {
		down = fmt.Sprintf("%.1fms", *r.LineDownDetectedMs)
	}
	fmt.Fprintf(w, "line down detected\t%s\tdowns per line %v\n", down, r.LineDowns)
	fmt.Fprintf(w, "feed latency\tmax %s\t%s\n", us(r.MaxLatencyUs), r.Latency)
	fmt.Fprintf(w, "checksums checked\t%d\tmismatches %d, snapshots %d\n", r.Checksums, r.Mismatches, r.Snapshots)
	if r.Lost > 0 || r.AppGaps > 0 || r.Diagnostics.LostEvents > 0 {
		fmt.Fprintf(w, "diagnostics\t\t%s\n", r.Diagnostics)
	}
}

// verdictLine writes PASS or FAIL with the reasons.
func verdictLine(w io.Writer, drill string, failures []string) {
	if len(failures) == 0 {
		fmt.Fprintf(w, "PASS  %s\n", drill)
		return
	}
	fmt.Fprintf(w, "FAIL  %s: %s\n", drill, strings.Join(failures, "; "))
}

func formatResets(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// writeTable writes the common rows, the drill's own, then the verdict.
func writeTable(w io.Writer, r *Result, extra func(w io.Writer), failures []string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "drill %s\t\t\n", r.Drill)
	r.rows(tw)
	if extra != nil {
		extra(tw)
	}
	fmt.Fprintf(tw, "books match\t%v\t\n", r.BooksMatch)
	if err := tw.Flush(); err != nil {
		return err
	}
	verdictLine(w, r.Drill, failures)
	return nil
}

// FailoverResult is what [Failover] reports.
type FailoverResult struct {
	Result
	Line string  `json:"killed_line"` // "A" or "B"
	AtMs float64 `json:"killed_at_ms"`
}

// Failures implements [Report]: nothing lost, no gap seen, books equal, and
// the dead line reported down.
func (r *FailoverResult) Failures() []string {
	f := r.failures(true)
	if r.LineDownDetectedMs == nil {
		f = append(f, "the subscriber never reported line "+r.Line+" down")
	}
	return f
}

// WriteText implements [Report].
func (r *FailoverResult) WriteText(w io.Writer) error {
	return writeTable(w, &r.Result, func(w io.Writer) {
		fmt.Fprintf(w, "killed line\t%s\tat %.0fms\n", r.Line, r.AtMs)
	}, r.Failures())
}

// LossResult is what [Loss] reports.
type LossResult struct {
	Result
	LossA         float64 `json:"loss_a"`
	LossB         float64 `json:"loss_b"`
	Nacks         uint64  `json:"nacks"`         // RetransmitRequests the subscriber sent
	Retransmitted uint64  `json:"retransmitted"` // retransmitted packets that brought something new
	// RecoveryUs is how long each hole stayed open until filled, by the
	// other line or by NACK.
	RecoveryUs Percentiles `json:"recovery_us"`
	// NackRecoveryUs is the same for the holes that needed at least one
	// NACK: both lines lost the packet.
	NackRecoveryUs Percentiles `json:"nack_recovery_us"`
}

// Failures implements [Report]: nothing lost, no gap seen, books equal.
func (r *LossResult) Failures() []string { return r.failures(true) }

// WriteText implements [Report].
func (r *LossResult) WriteText(w io.Writer) error {
	return writeTable(w, &r.Result, func(w io.Writer) {
		fmt.Fprintf(w, "injected loss\tA %.2f%%\tB %.2f%%\n", r.LossA*100, r.LossB*100)
		fmt.Fprintf(w, "NACKs\t%d\tretransmitted packets %d\n", r.Nacks, r.Retransmitted)
		fmt.Fprintf(w, "recovery, all holes\tp99 %s\t%s\n", us(r.RecoveryUs.P99), r.RecoveryUs)
		fmt.Fprintf(w, "recovery by NACK\tp99 %s\t%s\n", us(r.NackRecoveryUs.P99), r.NackRecoveryUs)
	}, r.Failures())
}

// RestartResult is what [Restart] reports.
type RestartResult struct {
	Result
	Sessions uint64  `json:"sessions"` // sessions the subscriber joined
	AtMs     float64 `json:"restart_at_ms"`
	// ResyncMs is the time from the old publisher's stop to the
	// subscriber's first event of the new session; null if it never came.
	ResyncMs *float64 `json:"resync_ms"`
}

// Failures implements [Report]: nothing lost, books equal to the new
// publisher's, and both sessions followed.
func (r *RestartResult) Failures() []string {
	f := r.failures(false)
	if r.Sessions < 2 {
		f = append(f, fmt.Sprintf("the subscriber joined %d sessions, want 2", r.Sessions))
	}
	return f
}

// WriteText implements [Report].
func (r *RestartResult) WriteText(w io.Writer) error {
	return writeTable(w, &r.Result, func(w io.Writer) {
		resync := "-"
		if r.ResyncMs != nil {
			resync = fmt.Sprintf("%.1fms", *r.ResyncMs)
		}
		fmt.Fprintf(w, "restart\tat %.0fms\tsessions %d, new session followed after %s\n", r.AtMs, r.Sessions, resync)
	}, r.Failures())
}
