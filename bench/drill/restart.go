package drill

import (
	"context"
	"time"
)

// Restart runs the restart drill: at cfg.At the publisher stops gracefully
// (end of session; with cfg.Crash its lines just fall silent) and, after
// cfg.Pause, a new publisher starts a new
// session on the same groups, retransmit port and link port, with another
// synthetic market. The subscriber, which runs throughout, must follow the
// new session from its sequence 1 (or by snapshot over the link, had it
// joined late), lose nothing, and end with every book equal to the NEW
// publisher's. It returns an error only if the drill could not run (or ctx
// ended); a broken promise is in [RestartResult.Failures].
func Restart(ctx context.Context, cfg RestartConfig) (*RestartResult, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	d, err := start(ctx, cfg.Feed, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	r, old, rs, pr := d.r, d.s, d.rs, d.pr
	r.progress("restart drill: %.0f msg/s for %v, line A %s, line B %s on %s; the publisher restarts at %v",
		cfg.Rate, cfg.Duration, r.groupA, r.groupB, cfg.Interface, cfg.At)

	if err := r.sleepUntil(ctx, cfg.At); err != nil {
		return nil, err
	}
	stopped := time.Now()
	how := "stopped"
	if cfg.Crash {
		// Its lines fall silent at once: nothing more, no end of session.
		old.pub.KillLine(0, true)
		old.pub.KillLine(1, true)
		how = "crashed (no end of session)"
	}
	if err := old.end(); err != nil {
		return nil, err
	}
	r.progress("publisher %s (session %d, last sequence %d)", how, old.pub.Session(), old.pub.Stats().NextSeq-1)
	if err := r.sleepUntil(ctx, cfg.At+cfg.Pause); err != nil {
		return nil, err
	}
	s, err := r.newSession(cfg.Seed + 1)
	if err != nil {
		return nil, err
	}
	r.run(ctx, s)
	defer s.end()
	r.progress("new publisher started (session %d) on %s and %s, retransmit %s, link %s",
		s.pub.Session(), r.groupA, r.groupB, r.rtxAddr, r.linkAddr)

	if err := r.sleepUntil(ctx, cfg.Duration); err != nil {
		return nil, err
	}
	v, err := r.finish(ctx, s, rs, pr)
	if err != nil {
		return nil, err
	}
	res, err := r.report("restart", cfg.Duration-cfg.Pause, rs, pr, v, old, s)
	if err != nil {
		return nil, err
	}
	out := &RestartResult{Result: res, Sessions: rs.sub.Stats().Gap.Sessions, AtMs: millis(cfg.At)}
	if d, ok := pr.downWithin(stopped, r.ended); ok {
		ms := millis(d)
		out.LineDownDetectedMs = &ms
	}
	if t, ok := pr.sessionSeen(s.pub.Session()); ok {
		ms := millis(t.Sub(stopped))
		out.ResyncMs = &ms
	}
	return out, nil
}
