package profile

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestGoldenProfiles decodes, strictly, every profile in the end-to-end
// scripts of sandlock-emit and sandlock-merge: the expected outputs and the
// inputs alike, except files named bad*, which are there to be rejected.
// So no golden file can drift away from what sandlock would load.
func TestGoldenProfiles(t *testing.T) {
	var scripts []string
	for _, cmd := range []string{"sandlock-emit", "sandlock-merge"} {
		s, err := filepath.Glob("../../cmd/" + cmd + "/testdata/script/*.txtar")
		if err != nil {
			t.Fatal(err)
		}
		scripts = append(scripts, s...)
	}
	n := 0
	for _, s := range scripts {
		ar, err := txtar.ParseFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if !strings.HasSuffix(f.Name, ".toml") || strings.HasPrefix(filepath.Base(f.Name), "bad") {
				continue
			}
			n++
			name := filepath.Base(s) + ":" + f.Name
			p, err := Decode(f.Data, name)
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			if err := p.Validate(false); err != nil {
				t.Errorf("%v", err)
			}
			// Expected outputs are in the encoder's own layout.
			if strings.HasPrefix(f.Name, "want") {
				out, err := Marshal(p)
				if err != nil {
					t.Errorf("%s: %v", name, err)
				} else if string(out) != string(f.Data) {
					t.Errorf("%s: does not re-encode to itself:\n%s", name, out)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("found only %d golden profiles in %d scripts: is the glob right?", n, len(scripts))
	}
}
