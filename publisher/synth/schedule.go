package synth

import "math"

// schedule is the pacing of a run: the send time of data message i, as an
// offset in ns from the start of the run. Without bursts message i is due at
// i/Rate. With bursts every period of BurstEvery runs at Rate, then its last
// BurstLen at Burst×Rate.
type schedule struct {
	perNs     float64 // messages per ns at the base rate
	nsPer     float64 // ns per message at the base rate
	burst     float64 // 0: no bursts
	period    float64 // ns
	calm      float64 // ns of each period at the base rate
	calmMsgs  float64 // messages in the calm part of a period
	perPeriod float64 // messages in a whole period
}

func newSchedule(cfg Config) schedule {
	s := schedule{perNs: cfg.Rate / 1e9, nsPer: 1e9 / cfg.Rate}
	if cfg.Burst != 0 {
		s.burst = cfg.Burst
		s.period = float64(cfg.BurstEvery)
		s.calm = float64(cfg.BurstEvery - cfg.BurstLen)
		s.calmMsgs = s.calm * s.perNs
		s.perPeriod = s.calmMsgs + float64(cfg.BurstLen)*s.perNs*s.burst
	}
	return s
}

// at returns the scheduled offset of message i in ns.
func (s *schedule) at(i int64) int64 {
	x := float64(i)
	if s.burst == 0 {
		return int64(x * s.nsPer)
	}
	k := math.Floor(x / s.perPeriod)
	rem := x - k*s.perPeriod
	t := k * s.period
	if rem < s.calmMsgs {
		t += rem * s.nsPer
	} else {
		t += s.calm + (rem-s.calmMsgs)*s.nsPer/s.burst
	}
	return int64(t)
}

// due returns how many messages are due at offset t: the least i with at(i) > t.
func (s *schedule) due(t int64) int64 {
	if t < 0 {
		return 0
	}
	x := float64(t)
	var n float64
	if s.burst == 0 {
		n = x * s.perNs
	} else {
		k := math.Floor(x / s.period)
		rem := x - k*s.period
		n = k * s.perPeriod
		if rem < s.calm {
			n += rem * s.perNs
		} else {
			n += s.calmMsgs + (rem-s.calm)*s.perNs*s.burst
		}
	}
	// The estimate is off by float rounding at most; settle it exactly.
	i := int64(n) + 1
	for s.at(i) <= t {
		i++
	}
	for i > 0 && s.at(i-1) > t {
		i--
	}
	return i
}
