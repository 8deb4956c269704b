//go:build linux

package main

import (
	"testing"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
)

// robustTests are the tests of this package that mean something without
// root (issue 3's, and the working-directory cache's); TestRobustAsNobody
// re-runs them as uid 65534.
var robustTests = []string{
	"TestHostileConcurrency", "TestAwkwardNames", "TestExitMidRead", "TestTimeoutStopsEverything",
	"TestSignalsToTracer", "TestCwdCache", "TestChdirBetweenOpens",
}

// TestRobustAsNobody: the hostile-workload and fault tests pass as an
// unprivileged uid too (no_new_privs tracing, no root-only paths). As a
// non-root user the tests themselves are that proof.
func TestRobustAsNobody(t *testing.T) {
	requireUnotify(t)
	testutil.RerunAsNobody(t, testutil.Rerun{Tests: robustTests})
}
