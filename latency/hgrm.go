package latency

import (
	"fmt"
	"io"
	"time"
)

// hgrmTicks is the number of percentile rows per halving of the distance to
// 100%, HdrHistogram's default for .hgrm files.
const hgrmTicks = 5

// WriteHgrm writes r's percentile distribution to w in HdrHistogram's
// standard .hgrm text format, with values in unit (time.Microsecond writes
// microseconds): a header line "Value Percentile TotalCount
// 1/(1-Percentile)", one row per percentile step, then the footer lines
// "#[Mean = …, StdDeviation = …]", "#[Max = …, Total count = …]" and
// "#[Buckets = …, SubBuckets = …]". HdrHistogram's plotter reads these files.
func (r *Recorder) WriteHgrm(w io.Writer, unit time.Duration) error {
	if unit <= 0 {
		return fmt.Errorf("write hgrm: unit %v is not positive", unit)
	}
	if _, err := r.h.PercentilesPrint(w, hgrmTicks, float64(unit)); err != nil {
		return fmt.Errorf("write hgrm: %w", err)
	}
	return nil
}
