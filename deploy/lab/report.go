package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Report is what a drill found, printed as JSON.
type Report struct {
	Drill    string   `json:"drill"`
	Pass     bool     `json:"pass"`
	Failures []string `json:"failures,omitempty"`

	Rate        float64 `json:"rate"`
	DurationS   float64 `json:"duration_s"` // the publisher's session
	Instruments int     `json:"instruments"`
	Fault       string  `json:"fault"`        // what was done
	FaultFromS  float64 `json:"fault_from_s"` // when, in seconds after the publisher started
	FaultToS    float64 `json:"fault_to_s"`

	Published      uint64 `json:"published"`       // messages the publisher sent
	LastSeq        uint64 `json:"last_seq"`        // its last sequence
	PublisherBooks string `json:"publisher_books"` // its books line at the end of its session

	Subscribers []SubscriberReport `json:"subscribers"`
	Hub         RelayReport        `json:"hub"`
	Edges       []RelayReport      `json:"edges"`

	// What Prometheus (scraping every admin listener each second) showed,
	// over its HTTP API.
	PrometheusTargetsUp      int   `json:"prometheus_targets_up"`
	PrometheusTargets        int   `json:"prometheus_targets"`
	PrometheusLineADownSeen  *bool `json:"prometheus_line_a_down_seen,omitempty"`    // kill-a: the hub's tickcast_line_up{line="A"} == 0 in the outage
	PrometheusUplinkDownSeen *bool `json:"prometheus_uplink_down_seen,omitempty"`    // uplink-cut: edge1's upstream line down in the cut
	PrometheusHubGaps        *int  `json:"prometheus_hub_gaps_total,omitempty"`      // loss: the hub's tickcast_gaps_total at the end
	PrometheusLineASamples   int   `json:"prometheus_line_a_samples,omitempty"`      // samples of that series in the window
	PrometheusLineAZeroes    int   `json:"prometheus_line_a_down_samples,omitempty"` // of which 0

	// CPUCores is each daemon's CPU over the publisher's session
	// (rate(process_cpu_seconds_total) from Prometheus), by job.
	CPUCores map[string]float64 `json:"cpu_cores,omitempty"`

	// RelinkedS (uplink-cut) is how long after the uplink was restored
	// edge1's link to the hub was up again (its redial backoff), CaughtUpS
	// when sub1 behind it was live again (not recovering, lines up, in step
	// with sub2 over a second: measured at 250ms steps, 1s resolution).
	RelinkedS *float64 `json:"edge1_relinked_s,omitempty"`
	CaughtUpS *float64 `json:"sub1_live_again_s,omitempty"`

	// NftPackets and NftDropped are the loss drill's kernel counters per
	// segment: packets crossing the bridge while the rule was in, dropped.
	NftPackets map[string]uint64 `json:"nft_packets,omitempty"`
	NftDropped map[string]uint64 `json:"nft_dropped,omitempty"`

	ElapsedS float64 `json:"elapsed_s"` // the whole drill, setup and teardown included
	Logs     string  `json:"logs,omitempty"`

	// Diagnostics are the last lines of every daemon's output when the
	// drill failed (not in the JSON).
	Diagnostics string `json:"-"`
}

// SubscriberReport is one subscriber's end of the drill (its admin
// listener's counters once it settled, and its books line at exit).
type SubscriberReport struct {
	Name               string            `json:"name"`
	Edge               string            `json:"edge"`
	Delivered          uint64            `json:"delivered"` // tickcast_messages_total
	Lost               uint64            `json:"lost"`      // tickcast_messages_lost_total
	Gaps               uint64            `json:"gaps"`      // holes seen (repaired or not): tickcast_gaps_total
	AppGaps            uint64            `json:"app_gaps"`  // resets for an unrecoverable gap or an overrun: holes the application saw
	Resets             map[string]uint64 `json:"resets,omitempty"`
	Nacks              uint64            `json:"nacks"`
	Retransmitted      uint64            `json:"retransmitted_packets"`
	Snapshots          uint64            `json:"snapshots"`
	LineDowns          map[string]uint64 `json:"line_downs,omitempty"`
	ChecksumChecks     uint64            `json:"checksum_checks"`
	ChecksumMismatches uint64            `json:"checksum_mismatches"`
	RecoveredBy        string            `json:"recovered_by"` // "snapshot", "nack", or "none needed" (no hole reached it)
	Books              string            `json:"books"`
	BooksMatch         bool              `json:"books_match"`
}

// RelayReport is a relay's counters at the end.
type RelayReport struct {
	Name       string            `json:"name"`
	Forwarded  uint64            `json:"forwarded"` // tickcast_relay_messages_total
	Gaps       uint64            `json:"gaps"`
	GapsFilled uint64            `json:"gaps_filled"`
	Nacks      uint64            `json:"nacks"`
	Lost       uint64            `json:"lost"`
	Recoveries uint64            `json:"recoveries"` // its books recovered by snapshot
	LineDowns  map[string]uint64 `json:"line_downs,omitempty"`
	CutOffs    map[string]uint64 `json:"downstream_cutoffs,omitempty"`
}

// WriteJSON writes the report, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// Summary is one line per subscriber and the verdict, for a terminal.
func (r *Report) Summary() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s %s: %s at %.0f msg/s for %.0fs, %d messages published\n", verdict, r.Drill, r.Fault, r.Rate, r.DurationS, r.Published)
	for _, s := range r.Subscribers {
		fmt.Fprintf(&b, "  %s (behind %s): delivered %d, lost %d, gaps %d, app gaps %d, resets %s, checksums %d checked %d mismatched, books match %v\n",
			s.Name, s.Edge, s.Delivered, s.Lost, s.Gaps, s.AppGaps, formatCounts(s.Resets), s.ChecksumChecks, s.ChecksumMismatches, s.BooksMatch)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "  failure: %s\n", f)
	}
	return b.String()
}

func formatCounts(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
