package latency

import "math"

// stats are the exact statistics of the values a histogram holds, as recorded
// (after clamping), which the histogram itself keeps only to 0.1%.
type stats struct {
	min, max   int64   // min is math.MaxInt64 while nothing is recorded
	sum, sumSq float64 // of the values and of their squares, in ns and ns²

	clamped, negative int64 // values brought into range before recording
}

// noStats are the statistics of nothing.
var noStats = stats{min: math.MaxInt64}

// addOne accounts for the value v. It is small enough to inline into Record.
func (s *stats) addOne(v int64) {
	s.min = min(s.min, v)
	s.max = max(s.max, v)
	f := float64(v)
	s.sum += f
	s.sumSq += f * f
}

// add accounts for the n values v, v−step, …, v−(n−1)·step (n copies of v
// when step is 0).
func (s *stats) add(v, n, step int64) {
	s.min = min(s.min, v-(n-1)*step)
	s.max = max(s.max, v)
	// Σk and Σk² for k = 0 … n−1.
	fv, fs, fn := float64(v), float64(step), float64(n)
	k1 := fn * (fn - 1) / 2
	k2 := (fn - 1) * fn * (2*fn - 1) / 6
	s.sum += fn*fv - fs*k1
	s.sumSq += fn*fv*fv - 2*fv*fs*k1 + fs*fs*k2
}

// merge adds o's statistics to s.
func (s *stats) merge(o stats) {
	s.min = min(s.min, o.min)
	s.max = max(s.max, o.max)
	s.sum += o.sum
	s.sumSq += o.sumSq
	s.clamped += o.clamped
	s.negative += o.negative
}

// meanStdDev returns the mean and the population standard deviation of the
// count values s accounts for.
func (s *stats) meanStdDev(count int64) (mean, stddev float64) {
	if count == 0 {
		return 0, 0
	}
	n := float64(count)
	mean = s.sum / n
	variance := max(s.sumSq/n-mean*mean, 0) // rounding can make it slightly negative
	return mean, math.Sqrt(variance)
}
