package drill

import (
	"context"
	"sync"
	"time"

	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/latency"
)

// Loss runs the loss drill: the subscriber's two lines each lose packets at
// random, independently (cfg.LossA on A, cfg.LossB on B, injected
// in-process as they are received), and it must repair every hole, from
// the other line or by NACK to the publisher's UDP retransmit server, with
// nothing lost, no gap the application sees, and every book equal to the
// publisher's at the end. Recovery times come from the arbiter
// ([intake.Tuning.OnRepair]). It returns an error only if the drill could not
// run (or ctx ended); a broken promise is in [LossResult.Failures].
func Loss(ctx context.Context, cfg LossConfig) (*LossResult, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	rep := newRepairs()
	d, err := start(ctx, cfg.Feed, dropping(cfg.LossA, cfg.Seed), dropping(cfg.LossB, cfg.Seed+1), rep.record)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	r, s, rs, pr := d.r, d.s, d.rs, d.pr
	r.progress("loss drill: %.0f msg/s for %v, line A %s loses %.2f%%, line B %s loses %.2f%%, on %s",
		cfg.Rate, cfg.Duration, r.groupA, cfg.LossA*100, r.groupB, cfg.LossB*100, cfg.Interface)

	if err := r.sleepUntil(ctx, cfg.Duration); err != nil {
		return nil, err
	}
	v, err := r.finish(ctx, s, rs, pr)
	if err != nil {
		return nil, err
	}
	res, err := r.report("loss", cfg.Duration, rs, pr, v, s)
	if err != nil {
		return nil, err
	}
	st := rs.sub.Stats()
	out := &LossResult{Result: res, LossA: cfg.LossA, LossB: cfg.LossB, Nacks: st.Gap.Nacks, Retransmitted: st.Gap.Retransmitted}
	out.RecoveryUs, out.NackRecoveryUs = rep.summaries()
	return out, nil
}

// dropping returns the fault configuration of a line losing packets at
// rate p, or nil for none.
func dropping(p float64, seed int64) *fault.Config {
	if p == 0 {
		return nil
	}
	return &fault.Config{DropRate: p, Seed: seed}
}

// repairs records how long each hole stayed open. The arbiter calls record
// under its lock; the mutex makes reading at the end safe too.
type repairs struct {
	mu     sync.Mutex
	all    *latency.Recorder
	nacked *latency.Recorder // holes that needed at least one NACK
}

func newRepairs() *repairs {
	return &repairs{all: latency.NewRecorder(time.Minute), nacked: latency.NewRecorder(time.Minute)}
}

func (rp *repairs) record(open time.Duration, nacks int) {
	rp.mu.Lock()
	rp.all.Record(open)
	if nacks > 0 {
		rp.nacked.Record(open)
	}
	rp.mu.Unlock()
}

func (rp *repairs) summaries() (all, nacked Percentiles) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return percentiles(rp.all.Summary()), percentiles(rp.nacked.Summary())
}
