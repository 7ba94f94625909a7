package drill

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/pprof"
	"time"
)

// The publisher's share of the process's CPU. A drill runs the publisher
// and its subscribers in one process, so the process's CPU time cannot
// tell them apart; the publisher's goroutines (its source, sequencer,
// lines, servers and recovery loop, and every goroutine they start) carry
// a profiler label instead, and a CPU profile of the run (SIGPROF, 100 Hz
// per thread, user and system time) is summed by that label.

// roleKey is the profiler label naming whose work a goroutine does.
const roleKey = "tickcast.drill"

// publisherLabel marks the publisher's goroutines.
var publisherLabel = pprof.Labels(roleKey, "publisher")

// labelProfile is a CPU profile being taken, to be summed by role.
type labelProfile struct {
	buf   bytes.Buffer
	start time.Time
}

// startLabelProfile starts profiling the process; it fails when a profile
// is already being taken (go test -cpuprofile, another drill).
func startLabelProfile() (*labelProfile, error) {
	p := &labelProfile{start: time.Now()}
	if err := pprof.StartCPUProfile(&p.buf); err != nil {
		return nil, err
	}
	return p, nil
}

// stop ends the profile and returns the CPU time by role ("" for the
// goroutines without one: subscribers, the runtime's own) and the wall
// time it covered.
func (p *labelProfile) stop() (map[string]time.Duration, time.Duration, error) {
	pprof.StopCPUProfile()
	wall := time.Since(p.start)
	byRole, err := cpuByLabel(p.buf.Bytes(), roleKey)
	return byRole, wall, err
}

// cpuByLabel sums the CPU time of a gzipped pprof CPU profile by the value
// of the label key. The profile is protobuf (github.com/google/pprof,
// proto/profile.proto): Profile.sample_type (1) and .sample (2), each
// Sample's value (2) and label (3) {key (1), str (2), as indices into
// Profile.string_table (6)}; the CPU value is the one in nanoseconds.
func cpuByLabel(profile []byte, key string) (map[string]time.Duration, error) {
	zr, err := gzip.NewReader(bytes.NewReader(profile))
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	var (
		strs    []string
		units   []int64 // each sample type's unit (a string index)
		samples [][]byte
	)
	err = protoFields(raw, func(num int, v uint64, data []byte) error {
		switch num {
		case 1:
			return protoFields(data, func(num int, v uint64, _ []byte) error {
				if num == 2 {
					units = append(units, int64(v))
				}
				return nil
			})
		case 2:
			samples = append(samples, data)
		case 6:
			strs = append(strs, string(data))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	str := func(i int64) string {
		if i < 0 || i >= int64(len(strs)) {
			return ""
		}
		return strs[i]
	}
	ns := -1
	for i, u := range units {
		if str(u) == "nanoseconds" {
			ns = i
		}
	}
	if ns < 0 {
		return nil, errors.New("CPU profile: no value in nanoseconds")
	}
	out := map[string]time.Duration{}
	for _, s := range samples {
		var values []int64
		role := ""
		err := protoFields(s, func(num int, v uint64, data []byte) error {
			switch num {
			case 2:
				if data == nil {
					values = append(values, int64(v))
					return nil
				}
				for len(data) > 0 { // packed
					x, n := binary.Uvarint(data)
					if n <= 0 {
						return errors.New("CPU profile: bad packed value")
					}
					values, data = append(values, int64(x)), data[n:]
				}
			case 3:
				var k, val int64
				if err := protoFields(data, func(num int, v uint64, _ []byte) error {
					switch num {
					case 1:
						k = int64(v)
					case 2:
						val = int64(v)
					}
					return nil
				}); err != nil {
					return err
				}
				if str(k) == key {
					role = str(val)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if ns < len(values) {
			out[role] += time.Duration(values[ns])
		}
	}
	return out, nil
}

// protoFields calls fn with every field of the protobuf message b: its
// number and, by wire type, its varint value or its bytes (nil for a
// varint). Fixed-size fields are skipped.
func protoFields(b []byte, fn func(num int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("CPU profile: bad field tag")
		}
		b = b[n:]
		num, wire := int(tag>>3), tag&7
		switch wire {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return errors.New("CPU profile: bad varint")
			}
			b = b[n:]
			if err := fn(num, v, nil); err != nil {
				return err
			}
		case 1, 5:
			size := 8
			if wire == 5 {
				size = 4
			}
			if len(b) < size {
				return errors.New("CPU profile: short fixed field")
			}
			b = b[size:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errors.New("CPU profile: bad length")
			}
			data := b[n : n+int(l)]
			b = b[n+int(l):]
			if err := fn(num, 0, data[:len(data):len(data)]); err != nil {
				return err
			}
		default:
			return fmt.Errorf("CPU profile: wire type %d", wire)
		}
	}
	return nil
}
