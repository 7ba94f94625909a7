package synth

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Limits of [Config].
const (
	// MaxInstruments is the most instruments a generator serves.
	MaxInstruments = 65536
	// MaxLevels is the largest Config.Levels: a full book of both sides, with the
	// depth slack the generator allows, then fits one 64 KiB batch.
	MaxLevels = 700
	// MaxRate is the largest Config.Rate, in messages per second.
	MaxRate = 1e9
)

// Config configures a [Generator] and a [Source]. The zero value is a valid
// configuration: 100 instruments, 200 levels a side, 100 000 messages/s.
type Config struct {
	// Instruments is the number of instruments; 0 means 100.
	Instruments int
	// Levels is the number of levels per side in steady state; 0 means 200.
	Levels int
	// Rate is the target rate in messages per second (Source only); 0 means 100 000.
	Rate float64
	// TradeRatio is the fraction of events that are trades, in [0, 1]; 0 means 0.05.
	TradeRatio float64
	// Burst multiplies the rate during the last BurstLen of every BurstEvery
	// (Source only); 0 means no bursts.
	Burst float64
	// BurstEvery is the burst period; it must be positive when Burst is set.
	BurstEvery time.Duration
	// BurstLen is how long each burst lasts, in (0, BurstEvery).
	BurstLen time.Duration
	// Seed fixes the message stream: the same seed gives the same messages.
	Seed int64
	// FirstInstrument is the first instrument id, the others follow; 0 means 1.
	FirstInstrument uint32
	// Venue is the venue in every InstrumentDef, at most 12 ASCII bytes;
	// "" means "SYNTH".
	Venue string
	// Logger receives lifecycle logs and anomalies; nil means slog.Default().
	Logger *slog.Logger
}

// normalize returns c with the zero values replaced by their defaults, or an
// error naming the first bad field.
func (c Config) normalize() (Config, error) {
	if c.Instruments == 0 {
		c.Instruments = 100
	}
	if c.Levels == 0 {
		c.Levels = 200
	}
	if c.Rate == 0 {
		c.Rate = 100_000
	}
	if c.TradeRatio == 0 {
		c.TradeRatio = 0.05
	}
	if c.FirstInstrument == 0 {
		c.FirstInstrument = 1
	}
	if c.Venue == "" {
		c.Venue = "SYNTH"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if err := checkInstruments("", c.Instruments, c.FirstInstrument); err != nil {
		return c, err
	}
	switch {
	case c.Levels < 0 || c.Levels > MaxLevels:
		return c, fmt.Errorf("synth: Config.Levels = %d: want 1..%d", c.Levels, MaxLevels)
	case !(c.Rate > 0 && c.Rate <= MaxRate):
		return c, fmt.Errorf("synth: Config.Rate = %v: want a rate in (0, %g] messages/s", c.Rate, MaxRate)
	case !(c.TradeRatio >= 0 && c.TradeRatio <= 1):
		return c, fmt.Errorf("synth: Config.TradeRatio = %v: want a fraction in [0, 1]", c.TradeRatio)
	case len(c.Venue) > 12:
		return c, fmt.Errorf("synth: Config.Venue = %q: longer than 12 bytes", c.Venue)
	}
	for i := 0; i < len(c.Venue); i++ {
		if b := c.Venue[i]; b < 0x20 || b > 0x7e {
			return c, fmt.Errorf("synth: Config.Venue = %q: not printable ASCII", c.Venue)
		}
	}
	if c.Burst != 0 {
		switch {
		case !(c.Burst > 0 && c.Burst*c.Rate <= MaxRate):
			return c, fmt.Errorf("synth: Config.Burst = %v: want a factor > 0 with Burst×Rate ≤ %g", c.Burst, MaxRate)
		case c.BurstEvery <= 0:
			return c, fmt.Errorf("synth: Config.BurstEvery = %v: must be positive when Burst is set", c.BurstEvery)
		case c.BurstLen <= 0 || c.BurstLen >= c.BurstEvery:
			return c, fmt.Errorf("synth: Config.BurstLen = %v: want a duration in (0, BurstEvery = %v)", c.BurstLen, c.BurstEvery)
		}
	}
	return c, nil
}

// checkInstruments validates an instrument count n, Config.Instruments after
// its default (call "") or a SetInstruments argument (call "SetInstruments"),
// with first the first id.
func checkInstruments(call string, n int, first uint32) error {
	name := fmt.Sprintf("Config.Instruments = %d", n)
	if call != "" {
		name = fmt.Sprintf("%s(%d)", call, n)
	}
	switch {
	case n < 1 || n > MaxInstruments:
		return fmt.Errorf("synth: %s: want 1..%d", name, MaxInstruments)
	case uint64(first)+uint64(n)-1 > math.MaxUint32:
		if call != "" {
			return fmt.Errorf("synth: %s: ids from Config.FirstInstrument = %d overflow the u32 id", name, first)
		}
		return fmt.Errorf("synth: Config.FirstInstrument = %d: %d instruments overflow the u32 id", first, n)
	}
	return nil
}
