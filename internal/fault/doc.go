// Package fault injects line faults in-process: random and burst loss,
// duplication, reordering, delay and a dead line (DESIGN.md, "Testing on one
// machine": the kernel here has no netem, so a faulty line is a wrapper).
//
// An [Injector] sits on either side of a line: a sender passes each batch
// through [Injector.Apply] before WriteBatch, a receiver after ReadBatch.
// Decisions come from a seeded generator and depend only on the seed, the
// configuration and the order of the packets, not on how they are batched or
// on the clock, so a failing drill replays exactly. [Injector.Kill] and
// [Injector.Revive] switch the line off and on from any goroutine (the
// failover drill's dead A line).
//
// A sending line with faults:
//
//	inj, err := fault.New(cfg)
//	...
//	out := inj.Apply(now, pkts) // what the faulty line lets through now
//	sender.WriteBatch(out)
//
// With Delay set, held packets come out of the Apply or Drain call made once
// they are due: a line that may fall idle calls Drain when
// [Injector.NextDue] passes, and Drain(math.MaxInt64) at shutdown releases
// everything still held.
//
// [ParseSpec] reads the one-line form the command line takes:
//
//	drop=0.01,burst=0.001:20,dup=0.01,reorder=0.01:3,delay=2ms,seed=7
package fault
