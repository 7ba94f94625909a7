package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSysctl: every setting of 90-tickcast.conf is a key = value line right
// after a comment saying why, and exists in this kernel's /proc/sys.
func TestSysctl(t *testing.T) {
	f, err := os.Open("sysctl/90-tickcast.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A network namespace other than the host's (a container) hides the
	// global net.core keys: the keys are then not checked.
	_, statErr := os.Stat("/proc/sys/net/core/rmem_max")
	haveProc := statErr == nil
	var prev string
	keys := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		cur := line
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		default:
			k, v, ok := strings.Cut(line, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" || v == "" {
				t.Errorf("line %d: %q is not key = value", n, line)
				break
			}
			if !strings.HasPrefix(prev, "#") && !keys[prevKey(prev)] {
				t.Errorf("line %d: %s has no comment before it saying why", n, k)
			}
			keys[k] = true
			if haveProc {
				if _, err := os.Stat(filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))); err != nil {
					t.Errorf("line %d: %s does not exist in this kernel: %v", n, k, err)
				}
			}
		}
		prev = cur
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"net.core.rmem_max", "net.core.wmem_max", "net.core.rmem_default", "net.ipv4.igmp_max_memberships",
		"net.ipv4.conf.all.rp_filter", "net.core.netdev_max_backlog", "net.core.busy_poll", "net.core.busy_read"} {
		if !keys[k] {
			t.Errorf("no setting %s", k)
		}
	}
	if !haveProc {
		t.Log("no /proc/sys/net/core/rmem_max (not Linux, or not the host's network namespace): the keys were not checked against a kernel")
	}
}

// prevKey is the key of a key = value line ("" for another line): settings
// that belong together (rp_filter's all and default) share one comment.
func prevKey(line string) string {
	if line == "" || line[0] == '#' {
		return ""
	}
	k, _, _ := strings.Cut(line, "=")
	return strings.TrimSpace(k)
}
