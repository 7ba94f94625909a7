package publisher

import (
	"errors"
	"fmt"
	"strings"
)

// Ready reports whether the publisher is sending on its lines (nil) or why
// not: Run has not sent on a line yet, has stopped, or a line's last write
// failed. A line stopped by KillLine (the drill's dead line) does not count
// against it, unless every line is. The admin listener's /healthz answers
// with it. Safe from any goroutine.
func (p *Publisher) Ready() error {
	select {
	case <-p.done:
		return errors.New("publisher: stopped")
	default:
	}
	var why []string
	sending := 0
	for _, l := range p.out.Stats().Lines {
		switch {
		case l.Killed:
		case l.Failing:
			why = append(why, fmt.Sprintf("line %s: sending fails", l.Name))
		case l.Packets == 0:
			why = append(why, fmt.Sprintf("line %s: nothing sent yet", l.Name))
		default:
			sending++
		}
	}
	switch {
	case len(why) > 0:
		return fmt.Errorf("publisher: %s", strings.Join(why, "; "))
	case sending == 0:
		return errors.New("publisher: every line is killed")
	}
	return nil
}
