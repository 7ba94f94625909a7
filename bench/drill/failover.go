package drill

import (
	"context"
	"time"

	"github.com/tickcast/tickcast/publisher"
)

// Failover runs the failover drill: while the feed runs, the publisher's
// line cfg.Line stops sending at cfg.At ([publisher.Publisher.KillLine]);
// the subscriber must carry on from the other line with nothing lost and
// no gap, report the dead line down, and end with every book equal to the
// publisher's. It returns an error only if the drill could not run (or ctx
// ended); a broken promise is in [FailoverResult.Failures].
func Failover(ctx context.Context, cfg FailoverConfig) (*FailoverResult, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	d, err := start(ctx, cfg.Feed, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	r, s, rs, pr := d.r, d.s, d.rs, d.pr
	name := lineName(cfg.Line)
	r.progress("failover drill: %.0f msg/s for %v, line A %s, line B %s on %s; line %s dies at %v",
		cfg.Rate, cfg.Duration, r.groupA, r.groupB, cfg.Interface, name, cfg.At)

	if err := r.sleepUntil(ctx, cfg.At); err != nil {
		return nil, err
	}
	killed := time.Now()
	s.pub.KillLine(cfg.Line, true)
	r.progress("line %s killed", name)
	if err := r.sleepUntil(ctx, cfg.Duration); err != nil {
		return nil, err
	}
	v, err := r.finish(ctx, s, rs, pr)
	if err != nil {
		return nil, err
	}
	res, err := r.report("failover", cfg.Duration, rs, pr, v, s)
	if err != nil {
		return nil, err
	}
	out := &FailoverResult{Result: res, Line: name, AtMs: millis(cfg.At)}
	if d, ok := pr.downWithin(killed, r.ended, cfg.Line); ok {
		ms := millis(d)
		out.LineDownDetectedMs = &ms
	}
	return out, nil
}

// lineName returns "A" for publisher.LineA, "B" for publisher.LineB.
func lineName(line int) string {
	if line == publisher.LineB {
		return "B"
	}
	return "A"
}
