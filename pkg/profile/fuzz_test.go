package profile

import "testing"

// Seeds for both fuzzers: the full profile, the layouts TOML allows, and
// the bad inputs of issue 3's table.
var fuzzSeeds = []string{
	full,
	"",
	"# only a comment\n",
	"[program]\nexec = \"/usr/bin/true\"\nargs = [\"a\", \"b\"]\n",
	"program.exec = \"/a\"\nlimits = { memory = \"1G\", processes = 4 }\n[program.env]\nX = \"1\"\n",
	"[filesystem]\nread = [\"/usr\", \"/usr/lib\", \"/etc/hostname\"]\nwrite = [\"/tmp\", \"/tmp/x\"]\n",
	"[network]\nallow = [\"tcp://[::1]:8080\", \"example.com:80,443\"]\nallow_bind = [80, \"9000-9005\", \"*\"]\n",
	"[limits]\nmemory = \"512MiB\"\n",
	"[limits]\nmemory = \"-1M\"\n",
	"[limits]\nmemory = \"1.5G\"\n",
	"[program]\nexec = \"/a\"\nexec = \"/b\"\n",
	"[filesystem]\nreads = []\n",
	"[limits]\nprocesses = \"4\"\n",
	"[[program]]\nexec = \"/a\"\n",
	"[program]\nuid = 1\n",
	"[network]\nallow_bind = [0, 65536, \"5-1\"]\n",
	"[determinism]\ntime_start = 1979-05-27T07:32:00Z\n",
	"[program]\nenv = { \"a,b\" = \"1\", \"-\" = \"2\" }\n",
}

// FuzzDecode: the decoder never panics, and whatever it accepts encodes to
// a profile it accepts again, which encodes to the same bytes (the encoder
// is deterministic and loses nothing the decoder kept).
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data, "fuzz")
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		_ = p.Validate(false)
		out, err := Marshal(p)
		if err != nil {
			t.Fatalf("Marshal of a decoded profile: %v", err)
		}
		q, err := Decode(out, "re-encoded")
		if err != nil {
			t.Fatalf("re-encoded profile does not decode: %v\n%s", err, out)
		}
		out2, err := Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(out2) {
			t.Fatalf("encoding is not stable:\n%s\n---\n%s", out, out2)
		}
	})
}

// FuzzMerge: merging two accepted profiles gives one that decodes, and
// that drops no grant of either side: every read and write path of BASE
// and NEW is still covered, every list entry is still there, and limits
// are not lower.
func FuzzMerge(f *testing.F) {
	for i, a := range fuzzSeeds {
		b := fuzzSeeds[(i+1)%len(fuzzSeeds)]
		f.Add([]byte(a), []byte(b))
	}
	f.Add([]byte("[filesystem]\nread = [\"/a/b\"]\n[limits]\nmemory = \"2G\"\n"), []byte("[filesystem]\nwrite = [\"/a\"]\n[limits]\nmemory = \"2049M\"\nprocesses = 100\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		base, err := Decode(a, "base")
		if err != nil {
			return
		}
		next, err := Decode(b, "new")
		if err != nil {
			return
		}
		m := Merge(base, next)
		out, err := Marshal(m)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		got, err := Decode(out, "merged")
		if err != nil {
			t.Fatalf("merged profile does not decode: %v\n%s", err, out)
		}
		for _, p := range []*Profile{base, next} {
			checkKept(t, p, got)
		}
	})
}

// checkKept fails when merged allows less than p.
func checkKept(t *testing.T, p, merged *Profile) {
	t.Helper()
	for _, r := range p.Filesystem.Read {
		if !coveredBy(r, merged.Filesystem.Read) && !coveredBy(r, merged.Filesystem.Write) {
			t.Errorf("read %q lost", r)
		}
	}
	for _, w := range p.Filesystem.Write {
		if !coveredBy(w, merged.Filesystem.Write) {
			t.Errorf("write %q lost", w)
		}
	}
	lists := [][2][]string{
		{p.Network.Allow, merged.Network.Allow},
		{p.Network.Deny, merged.Network.Deny},
		{p.HTTP.Allow, merged.HTTP.Allow},
		{p.HTTP.Deny, merged.HTTP.Deny},
		{p.Syscalls.ExtraAllow, merged.Syscalls.ExtraAllow},
		{p.Syscalls.ExtraDeny, merged.Syscalls.ExtraDeny},
	}
	for _, l := range lists {
		for _, s := range l[0] {
			if !contains(l[1], s) {
				t.Errorf("entry %q lost", s)
			}
		}
	}
	for _, port := range p.Network.AllowBind {
		found := false
		for _, q := range merged.Network.AllowBind {
			found = found || q == port
		}
		if !found {
			t.Errorf("allow_bind %v lost", port)
		}
	}
	if merged.Limits.Memory != "" {
		if p.Limits.Memory == "" {
			t.Errorf("memory limit %s where one side has none", merged.Limits.Memory)
		} else {
			a, _ := ParseSize(p.Limits.Memory)
			m, _ := ParseSize(merged.Limits.Memory)
			if m < a {
				t.Errorf("memory %s below %s", merged.Limits.Memory, p.Limits.Memory)
			}
		}
	}
	if merged.Limits.OpenFiles != 0 && (p.Limits.OpenFiles == 0 || merged.Limits.OpenFiles < p.Limits.OpenFiles) {
		t.Errorf("open_files %d below %d", merged.Limits.OpenFiles, p.Limits.OpenFiles)
	}
	eff := func(n int64) int64 {
		if n == 0 {
			return DefaultProcesses
		}
		return n
	}
	if eff(merged.Limits.Processes) < eff(p.Limits.Processes) {
		t.Errorf("processes %d below %d", merged.Limits.Processes, p.Limits.Processes)
	}
	for sec, k := range map[string]Kept{"program": p.Program.Kept, "limits": p.Limits.Kept, "config": p.Config} {
		mk := *merged.kept(sec, true)
		for key := range k {
			if _, ok := mk[key]; !ok {
				t.Errorf("%s.%s lost", sec, key)
			}
		}
	}
	if p.Program.Exec != "" && merged.Program.Exec == "" {
		t.Errorf("exec lost")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
