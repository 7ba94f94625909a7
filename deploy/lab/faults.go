package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// lossScript is the loss drill's nft table in the switch namespace: on the
// bridges of segments A and B (both ways: the publisher's lines, and the
// NACKs and their answers) a counter of what crosses, then a random drop
// of pct percent (numgen, the kernel's own random loss: no netem here).
func lossScript(pct int) string {
	return fmt.Sprintf(`table bridge %[1]s {
  chain segments {
    type filter hook forward priority 0; policy accept;
    iifname { "pub-a0", "hub-a0" } counter comment "A crossing"
    iifname { "pub-a0", "hub-a0" } numgen random mod 100 < %[2]d counter drop comment "A dropped"
    iifname { "pub-b0", "hub-b0" } counter comment "B crossing"
    iifname { "pub-b0", "hub-b0" } numgen random mod 100 < %[2]d counter drop comment "B dropped"
  }
}
`, nftTable, pct)
}

func addLoss(ctx context.Context, pct int) error {
	_, err := nft(ctx, switchNS, lossScript(pct), "-f", "-")
	return err
}

// removeLoss reads the counters into r and deletes the table.
func removeLoss(ctx context.Context, r *Report) error {
	out, err := nft(ctx, switchNS, "", "-j", "list", "table", "bridge", nftTable)
	if err != nil {
		return err
	}
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Comment string `json:"comment"`
				Expr    []struct {
					Counter *struct {
						Packets uint64 `json:"packets"`
					} `json:"counter"`
				} `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return fmt.Errorf("nft -j list table: %w", err)
	}
	r.NftPackets, r.NftDropped = map[string]uint64{}, map[string]uint64{}
	for _, n := range doc.Nftables {
		if n.Rule == nil {
			continue
		}
		for _, e := range n.Rule.Expr {
			if e.Counter == nil {
				continue
			}
			var seg, what string
			fmt.Sscanf(n.Rule.Comment, "%s %s", &seg, &what)
			if what == "dropped" {
				r.NftDropped[seg] = e.Counter.Packets
			} else {
				r.NftPackets[seg] = e.Counter.Packets
			}
		}
	}
	_, err = nft(ctx, switchNS, "", "delete", "table", "bridge", nftTable)
	return err
}

// checkLineADown asks Prometheus for the hub's line A over the outage: it
// must have seen it down (tickcast_line_up{line="A"} == 0).
func checkLineADown(ctx context.Context, l *labRun) error {
	ss, err := l.prom.queryRange(ctx, `tickcast_line_up{job="hub",line="A"}`, l.faultA, l.faultB, time.Second)
	if err != nil {
		return err
	}
	seen := false
	for _, s := range ss {
		for _, pt := range s.Points {
			l.report.PrometheusLineASamples++
			if pt.V == 0 {
				seen = true
				l.report.PrometheusLineAZeroes++
			}
		}
	}
	l.report.PrometheusLineADownSeen = &seen
	if !seen {
		return fmt.Errorf("prometheus: tickcast_line_up{job=\"hub\",line=\"A\"} never 0 in the outage (%d samples)", l.report.PrometheusLineASamples)
	}
	return nil
}

// checkUplinkDown asks Prometheus for edge1's upstream line over the cut.
func checkUplinkDown(ctx context.Context, l *labRun) error {
	ss, err := l.prom.queryRange(ctx, `tickcast_line_up{job="edge1",line="A"}`, l.faultA, l.faultB, time.Second)
	if err != nil {
		return err
	}
	seen := false
	for _, s := range ss {
		for _, pt := range s.Points {
			seen = seen || pt.V == 0
		}
	}
	l.report.PrometheusUplinkDownSeen = &seen
	if !seen {
		return fmt.Errorf("prometheus: tickcast_line_up{job=\"edge1\",line=\"A\"} never 0 during the cut")
	}
	return nil
}

// checkHubGaps asks Prometheus how many holes the hub saw (and repaired).
func checkHubGaps(ctx context.Context, l *labRun) error {
	ss, err := l.prom.query(ctx, `tickcast_gaps_total{job="hub"}`, time.Now())
	if err != nil {
		return err
	}
	n := 0
	for _, s := range ss {
		if len(s.Points) > 0 {
			n += int(s.Points[0].V)
		}
	}
	l.report.PrometheusHubGaps = &n
	if l.report.NftDropped["A"] == 0 || l.report.NftDropped["B"] == 0 {
		return fmt.Errorf("nft dropped %v: no loss on a segment", l.report.NftDropped)
	}
	return nil
}
