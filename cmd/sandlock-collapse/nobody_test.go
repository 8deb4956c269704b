package main

import (
	"testing"

	"github.com/sandlock-learn/sandlock-learn/internal/testutil"
)

// TestAsNobody re-runs this package's tests as uid/gid 65534: the collapser
// must decide the same from an unprivileged account (lstat answering EACCES
// under /root, temp trees it owns). As a non-root user the other tests
// already ran unprivileged.
func TestAsNobody(t *testing.T) {
	out := testutil.RerunAsNobody(t, testutil.Rerun{CleanEnv: true})
	t.Logf("as uid 65534:\n%s", out)
}
