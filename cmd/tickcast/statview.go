package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// statRun turns successive scrapes of one daemon into frames: rates between
// the last two scrapes, counts since the first, and the anomalies.
type statRun struct {
	url   string
	lag   float64 // downstream lag (seconds) above which it is slow
	start *scrape // the first scrape: "since start" counts from it
	prev  *scrape
	since map[string]float64 // series key → increase since start, for sinceFamilies
}

// sinceFamilies are the counters whose increase since stat started is shown
// and, for some, reported as an anomaly.
var sinceFamilies = []string{
	"tickcast_messages_lost_total", "tickcast_checksum_mismatches_total", "tickcast_line_downs_total",
	"tickcast_snapshots_total", "tickcast_downstream_dropped_packets_total", "tickcast_downstream_cutoffs_total",
	"tickcast_publisher_line_errors_total", "tickcast_relay_recoveries_total", "tickcast_queue_drops_total",
}

func newStatRun(url string, lag time.Duration, first *scrape) *statRun {
	return &statRun{url: url, lag: lag.Seconds(), start: first, prev: first, since: map[string]float64{}}
}

// increase is how much a counter series grew since prev: a series new since
// then counts from zero, a smaller value is a restart (counted from zero).
func increase(prev *scrape, s sample) float64 {
	p, ok := prev.byKey[s.key]
	if !ok || s.value < p {
		return s.value
	}
	return s.value - p
}

// frame is one refresh being written: cur against prev.
type frame struct {
	r         *statRun
	prev, cur *scrape
	dt        float64 // seconds between prev and cur
	w         io.Writer
	anomalies []string
}

// rate is a counter's per-second rate between the two scrapes, summed over
// the series matching kv.
func (f *frame) rate(name string, kv ...string) float64 {
	if f.dt <= 0 {
		return 0
	}
	var t float64
	for _, s := range f.cur.all(name, kv...) {
		t += increase(f.prev, s)
	}
	return t / f.dt
}

// sinceStart is a counter's increase since stat started, summed over the
// series matching kv (only for sinceFamilies).
func (f *frame) sinceStart(name string, kv ...string) float64 {
	var t float64
	for _, s := range f.cur.all(name, kv...) {
		t += f.r.since[s.key]
	}
	return t
}

func (f *frame) anomaly(format string, args ...any) {
	f.anomalies = append(f.anomalies, fmt.Sprintf(format, args...))
}

// write folds cur into the run and writes its frame to w.
func (r *statRun) write(w io.Writer, cur *scrape) {
	for _, name := range sinceFamilies {
		for _, s := range cur.byName[name] {
			r.since[s.key] += increase(r.prev, s)
		}
	}
	f := &frame{r: r, prev: r.prev, cur: cur, dt: cur.at.Sub(r.prev.at).Seconds(), w: w}
	r.prev = cur
	f.header()
	f.publisher()
	f.receivers()
	f.downstreams()
	fmt.Fprintln(w, "\nANOMALIES")
	if len(f.anomalies) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, a := range f.anomalies {
		fmt.Fprintf(w, "  %s\n", a)
	}
}

// writeError writes a frame for a failed scrape: the error, and the age of
// the last good one.
func (r *statRun) writeError(w io.Writer, at time.Time, err error) {
	fmt.Fprintf(w, "tickcast stat %s   %s\n\nANOMALIES\n  scrape failed: %v (last good scrape %s ago; retrying)\n",
		r.url, at.Format("15:04:05"), err, at.Sub(r.prev.at).Round(time.Second))
}

// roles detects what the daemon is from the families present.
func roles(s *scrape) []string {
	var out []string
	if s.has("tickcast_publisher_messages_total") {
		out = append(out, "publisher")
	}
	if s.has("tickcast_relay_messages_total") {
		out = append(out, "relay")
	}
	if s.has("tickcast_messages_total") {
		out = append(out, "subscriber")
	}
	return out
}

func (f *frame) header() {
	rs := roles(f.cur)
	role := strings.Join(rs, ", ")
	if role == "" {
		role = "unknown (no publisher, relay or subscriber families)"
	}
	fmt.Fprintf(f.w, "tickcast stat %s   %s   rates over %s, counts (+n) since %s ago   %s\n",
		f.r.url, f.cur.at.Format("15:04:05"), secs(f.dt), f.cur.at.Sub(f.r.start.at).Round(time.Second), role)
}

// publisher writes each channel the daemon publishes: its rates and lines.
func (f *frame) publisher() {
	c := f.cur
	for _, ch := range c.labelValues("channel", "tickcast_publisher_messages_total") {
		fmt.Fprintf(f.w, "\nPUBLISHER channel %s: %s msg/s, %s pkt/s, next sequence %s, %s link clients, %s snapshots served, retransmit %s req/s\n",
			ch, rate(f.rate("tickcast_publisher_messages_total", "channel", ch)), rate(f.rate("tickcast_publisher_packets_total", "channel", ch)),
			count(c.sum("tickcast_publisher_next_sequence", "channel", ch)), count(c.sum("tickcast_link_clients", "channel", ch)),
			count(c.sum("tickcast_publisher_snapshots_total", "channel", ch)), rate(f.rate("tickcast_retransmit_requests_total", "channel", ch)))
		tw := tabwriter.NewWriter(f.w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  line\tpackets/s\tbytes/s\terrors")
		for _, l := range c.labelValues("line", "tickcast_publisher_line_packets_total") {
			kv := []string{"channel", ch, "line", l}
			errs := f.sinceStart("tickcast_publisher_line_errors_total", kv...)
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", l, rate(f.rate("tickcast_publisher_line_packets_total", kv...)),
				bytesRate(f.rate("tickcast_publisher_line_bytes_total", kv...)), withSince(c.sum("tickcast_publisher_line_errors_total", kv...), errs))
			if errs > 0 {
				f.anomaly("channel %s line %s: %s since start", ch, l, plural(errs, "failed write"))
			}
		}
		tw.Flush()
	}
}

// receivers writes each channel the daemon receives (subscriber or relay):
// its lines, repair and, per role, what applies.
func (f *frame) receivers() {
	c := f.cur
	for _, ch := range c.labelValues("channel", "tickcast_line_packets_total", "tickcast_gaps_total") {
		kv := []string{"channel", ch}
		relay := c.has("tickcast_relay_messages_total") && len(c.all("tickcast_relay_messages_total", kv...)) > 0
		lost, lostSince := c.sum("tickcast_messages_lost_total", kv...), f.sinceStart("tickcast_messages_lost_total", kv...)
		if relay {
			fmt.Fprintf(f.w, "\nRELAY channel %s: %s msg/s forwarded, gaps %s/s, lost %s, NACKs %s/s sent, %s/s answered downstream, books whole %s, recoveries %s, snapshots served %s\n",
				ch, rate(f.rate("tickcast_relay_messages_total", kv...)), rate(f.rate("tickcast_gaps_total", kv...)), withSince(lost, lostSince),
				rate(f.rate("tickcast_nacks_sent_total", kv...)), rate(f.rate("tickcast_relay_nacks_total", kv...)),
				yesNo(c.sum("tickcast_relay_books_whole", kv...) == 1),
				withSince(c.sum("tickcast_relay_recoveries_total", kv...), f.sinceStart("tickcast_relay_recoveries_total", kv...)),
				count(c.sum("tickcast_relay_snapshots_served_total", kv...)))
			f.upstreams(ch)
			f.latency("hop latency (publisher send → sent on)", "tickcast_hop_latency_seconds", kv, "")
		} else {
			mism, mismSince := c.sum("tickcast_checksum_mismatches_total", kv...), f.sinceStart("tickcast_checksum_mismatches_total", kv...)
			fmt.Fprintf(f.w, "\nSUBSCRIBER channel %s: %s msg/s, gaps %s/s, lost %s, NACKs %s/s, snapshots %s, checksums %s checked, %s mismatched, queue drops %s%s\n",
				ch, rate(f.rate("tickcast_messages_total", kv...)), rate(f.rate("tickcast_gaps_total", kv...)), withSince(lost, lostSince),
				rate(f.rate("tickcast_nacks_sent_total", kv...)),
				withSince(c.sum("tickcast_snapshots_total", kv...), f.sinceStart("tickcast_snapshots_total", kv...)),
				count(c.sum("tickcast_checksum_checks_total", kv...)), withSince(mism, mismSince),
				withSince(c.sum("tickcast_queue_drops_total", kv...), f.sinceStart("tickcast_queue_drops_total", kv...)),
				map[bool]string{true: ", RECOVERING", false: ""}[c.sum("tickcast_recovering", kv...) == 1])
			if mismSince > 0 {
				f.anomaly("channel %s: %s since start", ch, plural(mismSince, "checksum mismatch"))
			}
			f.instruments(ch)
			f.latency("latency (publisher send →)", "tickcast_latency_seconds", kv, "kind")
		}
		if lostSince > 0 {
			f.anomaly("channel %s: %s lost since start", ch, plural(lostSince, "message"))
		}
		f.lines(ch)
	}
}

// lines writes a channel's line table: up, packets/s, first-arrival share
// over the interval (since start when nothing new came), downs.
func (f *frame) lines(ch string) {
	c := f.cur
	names := []string{}
	for _, s := range c.all("tickcast_line_packets_total", "channel", ch) {
		names = append(names, s.label("line"))
	}
	var firstSum, firstAll float64
	first := map[string][2]float64{}
	for _, l := range names {
		kv := []string{"channel", ch, "line", l}
		d, all := f.rate("tickcast_line_first_arrivals_total", kv...)*f.dt, c.sum("tickcast_line_first_arrivals_total", kv...)
		first[l] = [2]float64{d, all}
		firstSum += d
		firstAll += all
	}
	tw := tabwriter.NewWriter(f.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  line\tstate\tpackets/s\tfirst\tdowns")
	for _, l := range names {
		kv := []string{"channel", ch, "line", l}
		up := c.sum("tickcast_line_up", kv...) == 1
		state := "up"
		if !up {
			state = "DOWN"
			f.anomaly("channel %s line %s down", ch, l)
		}
		share := "-"
		switch {
		case firstSum > 0:
			share = pct(first[l][0] / firstSum)
		case firstAll > 0:
			share = pct(first[l][1]/firstAll) + " (all)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", l, state, rate(f.rate("tickcast_line_packets_total", kv...)), share,
			withSince(c.sum("tickcast_line_downs_total", kv...), f.sinceStart("tickcast_line_downs_total", kv...)))
	}
	tw.Flush()
}

// upstreams writes a relay channel's upstream links.
func (f *frame) upstreams(ch string) {
	links := f.cur.all("tickcast_upstream_link_up", "channel", ch)
	if len(links) == 0 {
		return
	}
	parts := make([]string, len(links))
	for i, s := range links {
		state := "up"
		if s.value != 1 {
			state = "DOWN"
			f.anomaly("channel %s upstream link %s down", ch, s.label("link"))
		}
		parts[i] = s.label("link") + " " + state
	}
	fmt.Fprintf(f.w, "  upstream links: %s\n", strings.Join(parts, ", "))
}

// instruments writes a subscriber channel's instrument states.
func (f *frame) instruments(ch string) {
	ss := f.cur.all("tickcast_instruments", "channel", ch)
	if len(ss) == 0 {
		return
	}
	order := []string{"ok", "stale", "resyncing", "halted"}
	slices.SortFunc(ss, func(a, b sample) int {
		ia, ib := slices.Index(order, a.label("status")), slices.Index(order, b.label("status"))
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		return ia - ib
	})
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = count(s.value) + " " + s.label("status")
		if s.label("status") == "stale" && s.value > 0 {
			f.anomaly("channel %s: %s stale", ch, plural(s.value, "instrument"))
		}
	}
	fmt.Fprintf(f.w, "  instruments: %s\n", strings.Join(parts, ", "))
}

// latency writes the p50/p99/max bucket of a histogram family over the
// interval, per value of by ("" = one line).
func (f *frame) latency(title, family string, kv []string, by string) {
	groups := []string{""}
	if by != "" {
		groups = f.cur.labelValues(by, family+"_bucket")
	}
	var parts []string
	for _, g := range groups {
		sel := kv
		if by != "" {
			sel = append(slices.Clone(kv), by, g)
		}
		p50, ok := f.quantile(0.5, family, sel)
		if !ok {
			continue
		}
		p99, _ := f.quantile(0.99, family, sel)
		name := strings.TrimSpace(g + " p50 ")
		parts = append(parts, fmt.Sprintf("%s %s p99 %s", name, secs(p50), secs(p99)))
	}
	if len(parts) > 0 {
		fmt.Fprintf(f.w, "  %s: %s\n", title, strings.Join(parts, " | "))
	}
}

// quantile is histogram_quantile over the observations between the two
// scrapes of the family's series matching kv (summed by le).
func (f *frame) quantile(q float64, family string, kv []string) (float64, bool) {
	byLE := map[float64]float64{}
	for _, s := range f.cur.all(family+"_bucket", kv...) {
		le, err := strconv.ParseFloat(s.label("le"), 64)
		if err != nil {
			continue
		}
		byLE[le] += increase(f.prev, s)
	}
	if len(byLE) == 0 {
		return 0, false
	}
	les := make([]float64, 0, len(byLE))
	for le := range byLE {
		les = append(les, le)
	}
	slices.Sort(les)
	cum := make([]float64, len(les))
	for i, le := range les {
		cum[i] = byLE[le]
		if i > 0 && cum[i] < cum[i-1] { // a restart between the scrapes
			cum[i] = cum[i-1]
		}
	}
	return bucketQuantile(q, les, cum)
}

// bucketQuantile is Prometheus's histogram_quantile on cumulative bucket
// counts: linear within the bucket holding the rank; the +Inf bucket gives
// the largest finite bound.
func bucketQuantile(q float64, les, cum []float64) (float64, bool) {
	n := len(les)
	if n == 0 || !math.IsInf(les[n-1], 1) || cum[n-1] == 0 {
		return 0, false
	}
	rank := q * cum[n-1]
	i, _ := slices.BinarySearch(cum, rank)
	if i >= n {
		i = n - 1
	}
	if i == n-1 {
		if n == 1 {
			return 0, false
		}
		return les[n-2], true
	}
	lo, below := 0.0, 0.0
	if i > 0 {
		lo, below = les[i-1], cum[i-1]
	}
	if les[i] <= 0 {
		return les[i], true
	}
	inBucket := cum[i] - below
	if inBucket == 0 {
		return les[i], true
	}
	return lo + (les[i]-lo)*(rank-below)/inBucket, true
}

// downstreams writes a relay's downstreams (by certificate name).
func (f *frame) downstreams() {
	c := f.cur
	names := c.labelValues("name", "tickcast_downstream_queued_packets", "tickcast_downstream_datagrams_total",
		"tickcast_downstream_cutoffs_total", "tickcast_downstream_lag_seconds")
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(f.w, "\nDOWNSTREAMS")
	tw := tabwriter.NewWriter(f.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  name\tqueued\tlag\tdatagrams/s\tdrops/s\tdropped\tloss\tcutoffs")
	for _, n := range names {
		kv := []string{"name", n}
		lag, hasLag := 0.0, len(c.all("tickcast_downstream_lag_seconds", kv...)) > 0
		lagText := "-"
		if hasLag {
			lag = c.sum("tickcast_downstream_lag_seconds", kv...)
			lagText = secs(lag)
		}
		dropped := f.sinceStart("tickcast_downstream_dropped_packets_total", kv...)
		cut := f.sinceStart("tickcast_downstream_cutoffs_total", kv...)
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, count(c.sum("tickcast_downstream_queued_packets", kv...)), lagText,
			rate(f.rate("tickcast_downstream_datagrams_total", kv...)), rate(f.rate("tickcast_downstream_dropped_packets_total", kv...)),
			withSince(c.sum("tickcast_downstream_dropped_packets_total", kv...), dropped),
			pct(c.sum("tickcast_downstream_loss_ratio", kv...)), withSince(c.sum("tickcast_downstream_cutoffs_total", kv...), cut))
		var why []string
		if hasLag && lag > f.r.lag {
			why = append(why, "lag "+secs(lag))
		}
		if dropped > 0 {
			why = append(why, plural(dropped, "packet")+" dropped since start")
		}
		if cut > 0 {
			why = append(why, plural(cut, "cutoff")+" since start")
		}
		if len(why) > 0 {
			f.anomaly("downstream %s slow: %s", n, strings.Join(why, ", "))
		}
	}
	tw.Flush()
}

// count formats a count with thousands separators: 1,234,567.
func count(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	neg := v < 0
	s := strconv.FormatFloat(math.Abs(math.Round(v)), 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// plural formats a count and a noun: "1 packet", "2 packets", "3 checksum mismatches".
func plural(v float64, noun string) string {
	if count(v) == "1" {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "ch") || strings.HasSuffix(noun, "s") {
		return count(v) + " " + noun + "es"
	}
	return count(v) + " " + noun + "s"
}

// rate formats a per-second rate: whole numbers from 100 up, one decimal below.
func rate(v float64) string {
	if v >= 100 {
		return count(v)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// withSince formats a total and its increase since start: "12 (+3)".
func withSince(total, since float64) string {
	return fmt.Sprintf("%s (+%s)", count(total), count(since))
}

func bytesRate(v float64) string {
	switch {
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB/s", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB/s", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B/s", v)
}

func pct(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }

// secs formats seconds with three significant digits in the unit that
// fits: 997ms, 1.2ms, 180µs, 2.5s.
func secs(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64) + "s"
	}
	units := []struct {
		scale float64
		name  string
	}{{1, "s"}, {1e-3, "ms"}, {1e-6, "µs"}, {1e-9, "ns"}}
	for i, u := range units {
		x := math.Abs(v) / u.scale
		if x < 1 && i < len(units)-1 {
			continue
		}
		digits := max(0, 2-int(math.Floor(math.Log10(x))))
		if r := strconv.FormatFloat(x, 'f', digits, 64); i > 0 && strings.HasPrefix(r, "1000") {
			u = units[i-1] // rounded up into the next unit
			x, digits = math.Abs(v)/u.scale, 2
		}
		sign := ""
		if v < 0 {
			sign = "-"
		}
		return sign + strconv.FormatFloat(x, 'f', digits, 64) + u.name
	}
	return ""
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
