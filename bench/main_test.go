package bench

import (
	"os"
	"testing"
)

// TestMain runs the benchmark's children: the tests start this test binary
// again with ChildEnv set (os.Executable is the test binary under go test).
func TestMain(m *testing.M) {
	if IsChild() {
		os.Exit(ChildMain())
	}
	os.Exit(m.Run())
}
