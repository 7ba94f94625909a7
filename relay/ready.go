package relay

import "fmt"

// Ready reports whether the relay's upstream is live (nil: every channel
// has an upstream line, multicast or live link, that delivered within its
// line timeout) or which channel's is not. The admin listener's /healthz
// answers with it. Safe from any goroutine.
func (r *Relay) Ready() error {
	for _, c := range r.order {
		up := false
		for i := range c.in.Stats().Lines {
			up = up || c.in.LineUp(i)
		}
		if !up {
			return fmt.Errorf("relay: channel %d: no upstream line up", c.id)
		}
	}
	return nil
}
