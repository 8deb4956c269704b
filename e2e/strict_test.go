package e2e

import (
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/profile"
)

// strictCheck loads a profile the way sandlock does: unknown sections or
// keys and wrong types are errors, and every path must exist.
func strictCheck(t *testing.T, path string) {
	t.Helper()
	p, err := profile.DecodeFile(path)
	if err != nil {
		t.Fatalf("strict decode: %v", err)
	}
	if err := p.Validate(true); err != nil {
		t.Fatalf("validate: %v", err)
	}
}
