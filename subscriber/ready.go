package subscriber

import (
	"fmt"
	"strings"
)

// Ready reports whether the subscriber has joined its feed (nil: at least
// one of its lines, multicast or live link, delivered within LineTimeout)
// or why not. The admin listener's /healthz answers with it. Safe from any
// goroutine.
func (s *Subscriber) Ready() error {
	var down []string
	for i, l := range s.in.Stats().Lines {
		if s.in.LineUp(i) {
			return nil
		}
		down = append(down, l.Name)
	}
	if len(down) == 0 {
		return fmt.Errorf("subscriber: channel %d: no line", s.cfg.Channel)
	}
	return fmt.Errorf("subscriber: channel %d: no line up (%s down)", s.cfg.Channel, strings.Join(down, ", "))
}
