package gap

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// PolicyConfig configures a [Policy]: who may ask for retransmissions, how
// much one answer may hold, and how fast one requester is answered
// (DESIGN.md, "Security and abuse"). The zero value is the documented
// defaults.
type PolicyConfig struct {
	// Allowed lists the source networks answered. Empty means loopback only
	// (127.0.0.0/8 and ::1).
	Allowed []netip.Prefix
	// MaxMessages caps the messages of one answer. 0 means 2048.
	MaxMessages int
	// MaxBytes caps the packet bytes of one answer. 0 means 256 KiB;
	// otherwise at least wire.MaxJumboPacket, so any message fits.
	MaxBytes int
	// Rate is the messages per second answered to one requester: a token
	// bucket per requester IP address (all its ports together, so changing
	// port gains nothing). 0 means 500000.
	Rate float64
	// Burst is the bucket's depth in messages. 0 means 4096.
	Burst int
	// MaxRequesters bounds the table of buckets; the least recently seen
	// requester is forgotten first. 0 means 4096.
	MaxRequesters int
}

// Policy is one retransmit policy, the same for the UDP [Server] and for
// NACKs over a QUIC link: an allowlist, per-answer caps and a token bucket
// per requester, in messages. It is safe for concurrent use; share one
// Policy between servers to give a requester one budget across them.
type Policy struct {
	allowed          []netip.Prefix
	maxMsgs, maxByte int

	mu     sync.Mutex
	limits *requesterLimits
}

// NewPolicy validates cfg and fills in its defaults.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	allowed := make([]netip.Prefix, 0, max(2, len(cfg.Allowed)))
	for _, p := range cfg.Allowed {
		if !p.IsValid() {
			return nil, fmt.Errorf("gap: retransmit policy Allowed %v: invalid prefix", p)
		}
		allowed = append(allowed, p.Masked())
	}
	if len(allowed) == 0 {
		allowed = append(allowed, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxMessages", &cfg.MaxMessages, DefaultServerMessages},
		{"MaxBytes", &cfg.MaxBytes, DefaultServerBytes},
		{"Burst", &cfg.Burst, DefaultServerBurst},
		{"MaxRequesters", &cfg.MaxRequesters, DefaultServerRequesters},
	} {
		if *f.v < 0 {
			return nil, fmt.Errorf("gap: retransmit policy %s %d: want ≥ 0", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if cfg.MaxBytes < wire.MaxJumboPacket {
		return nil, fmt.Errorf("gap: retransmit policy MaxBytes %d: want 0 or ≥ %d", cfg.MaxBytes, wire.MaxJumboPacket)
	}
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		return nil, fmt.Errorf("gap: retransmit policy Rate %v: want a finite rate ≥ 0", cfg.Rate)
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultServerRate
	}
	return &Policy{
		allowed: allowed,
		maxMsgs: cfg.MaxMessages,
		maxByte: cfg.MaxBytes,
		limits:  newRequesterLimits(cfg.Rate, cfg.Burst, cfg.MaxRequesters),
	}, nil
}

// Allowed returns the source networks answered (a copy).
func (p *Policy) Allowed() []netip.Prefix { return slices.Clone(p.allowed) }

// Caps returns the most messages and packet bytes one answer may hold.
func (p *Policy) Caps() (maxMsgs, maxBytes int) { return p.maxMsgs, p.maxByte }

// Admit decides whether requester is answered at now. It returns the most
// messages the answer may hold (at least 1 when admitted: the per-answer cap
// and the requester's tokens), or 0 with the reject reason
// (wire.RejectNotAllowed, or wire.RejectRateLimited with a retry-after hint
// in milliseconds). Admit takes no tokens: call [Policy.Charge] with what was
// sent.
func (p *Policy) Admit(requester netip.Addr, now time.Time) (budget int, reason wire.RejectReason, retryAfter uint32) {
	requester = requester.Unmap()
	if !p.IsAllowed(requester) {
		return 0, wire.RejectNotAllowed, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	lim := p.limits.get(requester)
	tokens := lim.TokensAt(now)
	if tokens < 1 {
		return 0, wire.RejectRateLimited, retryAfterMs(lim, now)
	}
	return min(p.maxMsgs, int(tokens)), 0, 0
}

// Charge takes msgs messages from requester's bucket at now, after an
// answer admitted by [Policy.Admit], even when that leaves it below zero.
func (p *Policy) Charge(requester netip.Addr, msgs int, now time.Time) {
	if msgs <= 0 {
		return
	}
	p.mu.Lock()
	// A reservation takes the tokens even past zero (an answer of whole
	// packets may pass the budget): the requester waits for it.
	p.limits.get(requester.Unmap()).ReserveN(now, min(msgs, p.limits.burst))
	p.mu.Unlock()
}

// IsAllowed reports whether a is in the allowlist.
func (p *Policy) IsAllowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, pf := range p.allowed {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// requesters returns how many requesters are tracked.
func (p *Policy) requesters() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limits.len()
}
