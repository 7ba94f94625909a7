package lab_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/deploy/lab"
)

// logWriter sends the drills' progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestLab runs the three drills on the multi-host lab: the real binary in
// network namespaces, a real Prometheus. It needs root, ip, nft and
// prometheus, and says which is missing when it skips. Every namespace,
// veth, bridge and nft table is gone after each drill, passed or failed.
func TestLab(t *testing.T) {
	if err := lab.Preflight(""); err != nil {
		t.Skip(err.Error())
	}
	if testing.Short() {
		t.Skip("-short: the lab takes about a minute and a half")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin, err := lab.BuildTickcast(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	noLeftovers := func(t *testing.T) {
		t.Helper()
		left, err := lab.Leftovers(context.Background())
		if err != nil {
			t.Errorf("listing leftovers: %v", err)
		}
		if len(left) > 0 {
			t.Errorf("left behind: %s", strings.Join(left, "; "))
		}
	}
	t.Cleanup(func() { noLeftovers(t) })
	for _, drill := range lab.Drills {
		t.Run(drill, func(t *testing.T) {
			defer noLeftovers(t)
			rep, err := lab.Run(ctx, drill, lab.Options{Bin: bin, Progress: logWriter{t}})
			if rep != nil {
				var b bytes.Buffer
				rep.WriteJSON(&b)
				t.Logf("report:\n%s", b.String())
			}
			if err != nil {
				if rep != nil {
					t.Log(rep.Diagnostics)
				}
				t.Fatalf("the lab could not run: %v", err)
			}
			if !rep.Pass {
				t.Log(rep.Diagnostics)
				t.Errorf("%s failed: %s", drill, strings.Join(rep.Failures, "; "))
			}
			// The end conditions, spelled out (Pass already includes them).
			if len(rep.Subscribers) != 2 {
				t.Fatalf("%d subscribers reported", len(rep.Subscribers))
			}
			for _, s := range rep.Subscribers {
				if !s.BooksMatch || s.ChecksumChecks == 0 || s.ChecksumMismatches != 0 {
					t.Errorf("%s: books %q (publisher %q), checksums %d checked %d mismatched",
						s.Name, s.Books, rep.PublisherBooks, s.ChecksumChecks, s.ChecksumMismatches)
				}
				if drill != lab.UplinkCut || s.Name == "sub2" {
					if s.Lost != 0 || s.AppGaps != 0 {
						t.Errorf("%s: lost %d, app gaps %d", s.Name, s.Lost, s.AppGaps)
					}
				}
			}
			switch drill {
			case lab.KillA:
				if rep.PrometheusLineADownSeen == nil || !*rep.PrometheusLineADownSeen {
					t.Error("prometheus never showed the hub's line A down")
				}
			case lab.Loss:
				if rep.NftDropped["A"] == 0 || rep.NftDropped["B"] == 0 {
					t.Errorf("nft dropped %v", rep.NftDropped)
				}
			case lab.UplinkCut:
				if rep.PrometheusUplinkDownSeen == nil || !*rep.PrometheusUplinkDownSeen {
					t.Error("prometheus never showed edge1's uplink down")
				}
			}
		})
	}
}
