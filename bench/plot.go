package bench

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/tickcast/tickcast/latency"
)

// PlotSeries is one line of a percentile-distribution plot.
type PlotSeries struct {
	Name     string
	Recorder *latency.Recorder
}

// seriesColors are the plot's line colors, one per series in order
// (Okabe–Ito, readable by the colour-blind).
var seriesColors = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermilion
	{0, 158, 115, 255},   // green
	{204, 121, 167, 255}, // purple
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky blue
}

// PlotPercentiles draws the percentile distribution of every series into
// file (PNG, SVG or PDF by its extension), BENCHMARKING.md's way: x is
// the percentile on a log scale of 1/(1−p), so p99.99 gets as much room as
// p50; y is the latency in µs, log scale. Each line ends at its series' last
// percentile below 100%; the maximum is in the legend.
func PlotPercentiles(file, title string, series []PlotSeries) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (µs)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	maxX, minY, maxY := 10.0, math.Inf(1), 0.0
	for i, s := range series {
		pts := s.Recorder.Percentiles(5)
		var xys plotter.XYs
		for _, pt := range pts {
			x := pt.InverseTail()
			if math.IsInf(x, 1) {
				continue
			}
			y := max(float64(pt.Value)/1e3, 0.001) // log scale: no zero
			xys = append(xys, plotter.XY{X: x, Y: y})
			maxX, minY, maxY = max(maxX, x), min(minY, y), max(maxY, y)
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.Name, err)
		}
		l.Color = seriesColors[i%len(seriesColors)]
		l.Width = vg.Points(1.5)
		if i >= len(seriesColors) {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l)
		sum := s.Recorder.Summary()
		p.Legend.Add(fmt.Sprintf("%s (p99 %s, max %s)", s.Name, usLabel(sum.P99.Seconds()*1e6), usLabel(sum.Max.Seconds()*1e6)), l)
	}
	if maxY == 0 {
		return fmt.Errorf("plot: no samples to draw")
	}
	p.X.Min, p.X.Max = 1, math.Pow(10, math.Ceil(math.Log10(maxX)))
	p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(minY))), math.Pow(10, math.Ceil(math.Log10(maxY)))
	p.X.Tick.Marker = percentileTicks{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Legend.ThumbnailWidth = vg.Points(20)
	p.Legend.Padding = vg.Points(2)
	p.Legend.YOffs = -vg.Points(4)
	p.Legend.XOffs = vg.Points(4)
	return savePlot(p, file)
}

// savePlot writes p to file in the format its extension names, with a
// margin on the right for the last percentile label.
func savePlot(p *plot.Plot, file string) error {
	c, err := draw.NewFormattedCanvas(20*vg.Centimeter, 13*vg.Centimeter, strings.TrimPrefix(filepath.Ext(file), "."))
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	p.Draw(draw.Crop(draw.New(c), 0, -vg.Points(24), 0, 0))
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot: write %s: %w", file, err)
	}
	return f.Close()
}

// usLabel formats µs for a legend.
func usLabel(us float64) string {
	if us >= 1000 {
		return strconv.FormatFloat(us/1000, 'g', 3, 64) + " ms"
	}
	return strconv.FormatFloat(us, 'g', 3, 64) + " µs"
}

// percentileTicks labels the 1/(1−p) axis in percentiles: 1 is 0%, 10 is
// 90%, 100 is 99%, …, with minor ticks between.
type percentileTicks struct{}

func (percentileTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for x := 1.0; x <= hi*1.0001; x *= 10 {
		if x >= lo*0.9999 {
			ts = append(ts, plot.Tick{Value: x, Label: percentileLabel(x)})
		}
		for k := 2.0; k < 10; k++ {
			if v := x * k; v >= lo && v <= hi {
				t := plot.Tick{Value: v}
				if v == 2 {
					t.Label = "50%"
				}
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// percentileLabel names the percentile at x = 1/(1−p): "50%", "99.9%".
func percentileLabel(x float64) string {
	digits := max(0, int(math.Round(math.Log10(x)))-2)
	return strconv.FormatFloat(100*(1-1/x), 'f', digits, 64) + "%"
}
