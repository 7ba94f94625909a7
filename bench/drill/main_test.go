package drill

import (
	"os"
	"testing"

	"github.com/tickcast/tickcast/bench"
)

// TestMain runs the relay children of the drills that start them
// (WANConfig.Processes): they start this test binary again with
// bench.ChildEnv set.
func TestMain(m *testing.M) {
	if bench.IsChild() {
		os.Exit(bench.ChildMain())
	}
	os.Exit(m.Run())
}
