package profile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// full is a profile that sets every key of the schema.
const full = `# sandlock profile learned by sandlock-learn (sandlock-emit)
# command: /usr/bin/python3 build.py
#
#   indented

[program]
exec = "/usr/bin/python3"
args = ["build.py", "--out", "a b", "z", "a"]
cwd = "/tmp"
env = { HOME = "/tmp", "odd key" = "x\ty" }
uid = 1000
gid = 1000
clean_env = true
no_coredump = false
no_huge_pages = true

[filesystem]
read = [
  "/etc/hostname",
  "/usr/lib",
]
write = ["/tmp"]
deny = ["/root/.ssh"]
chroot = "/srv/root"
mount = ["/data:/srv/data:ro"]
on_exit = "commit"
on_error = "abort"

[network]
allow = [
  "icmp://10.0.0.1",
  "tcp://127.0.0.1:8080",
  "udp://[::1]:53",
]
allow_bind = [80, 9000, "*", "8000-8005"]
deny = ["10.0.0.0/8"]
deny_bind = [22]
port_remap = true

[http]
allow = ["GET example.com/api/*"]
deny = ["POST example.com/admin/*"]
ports = [80, 8080]

[syscalls]
extra_allow = ["sysv_ipc"]
extra_deny = ["ptrace"]

[limits]
memory = "48M"
processes = 4
open_files = 64
cpu = 50
disk = "1G"
gpu_devices = [0, 1]
cpu_cores = [2]
num_cpus = 2

[config]
http_ca = "/etc/ca.pem"
http_key = "/etc/ca.key"
http_inject_ca = ["/etc/ssl/certs/ca-certificates.crt"]
http_ca_out = "/tmp/ca.pem"
fs_storage = "/var/tmp/store"
workdir = "/var/tmp/work"

[determinism]
random_seed = 42
time_start = "2026-01-02T15:04:05Z"
deterministic_dirs = true
no_randomize_memory = false
`

func TestDecodeFull(t *testing.T) {
	p, err := Decode([]byte(full), "full.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Header, []string{"sandlock profile learned by sandlock-learn (sandlock-emit)", "command: /usr/bin/python3 build.py", "", "  indented"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Header = %q, want %q", got, want)
	}
	if p.Program.Exec != "/usr/bin/python3" || p.Program.Cwd != "/tmp" || !reflect.DeepEqual(p.Program.Args, []string{"build.py", "--out", "a b", "z", "a"}) {
		t.Errorf("Program = %+v", p.Program)
	}
	if !reflect.DeepEqual(p.Network.AllowBind, []Port{PortNum(80), PortNum(9000), PortSpec("*"), PortSpec("8000-8005")}) {
		t.Errorf("AllowBind = %v", p.Network.AllowBind)
	}
	if p.Limits.Memory != "48M" || p.Limits.Processes != 4 || p.Limits.OpenFiles != 64 {
		t.Errorf("Limits = %+v", p.Limits)
	}
	if p.Program.Kept["uid"] != int64(1000) || p.Limits.Kept["cpu"] != int64(50) || p.Determinism["random_seed"] != int64(42) {
		t.Errorf("kept values: %v %v %v", p.Program.Kept, p.Limits.Kept, p.Determinism)
	}
	// The file is in the encoder's own layout, so it round-trips byte for byte.
	out, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != full {
		t.Errorf("Marshal(Decode(full)) differs:\n%s", out)
	}
}

// TestDecodeErrors is the table of bad profiles: each gives exactly this
// message, naming file, line and key.
func TestDecodeErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"duplicate key", "[program]\nexec = \"/a\"\nexec = \"/b\"\n",
			"p.toml:3: TOML syntax: Key 'program.exec' has already been defined."},
		{"duplicate table", "[limits]\nprocesses = 4\n[limits]\nopen_files = 64\n",
			"p.toml:3: TOML syntax: Key 'limits' has already been defined."},
		{"syntax", "[filesystem]\nread = [\"/a\"\n",
			"p.toml:2: TOML syntax: expected a comma (',') or array terminator (']'), but got end of file (after key filesystem.read)"},
		{"unknown section", "[program]\nexec = \"/a\"\n\n[programm]\nexec = \"/a\"\n",
			"p.toml:4: programm: unknown section [programm]: sandlock 0.8.6 knows [program], [filesystem], [network], [http], [syscalls], [limits], [config], [determinism]"},
		{"top-level key", "exec = \"/a\"\n",
			"p.toml:1: exec: unknown section [exec]: sandlock 0.8.6 knows [program], [filesystem], [network], [http], [syscalls], [limits], [config], [determinism]"},
		{"unknown key", "[filesystem]\nread = [\"/a\"]\nreads = [\"/b\"]\n",
			"p.toml:3: filesystem.reads: unknown key in [filesystem]: sandlock 0.8.6 knows read, write, deny, chroot, mount, on_exit, on_error"},
		{"key case", "[limits]\nMemory = \"1G\"\n",
			"p.toml:2: limits.Memory: unknown key in [limits]: sandlock 0.8.6 knows memory, processes, open_files, cpu, disk, gpu_devices, cpu_cores, num_cpus"},
		{"dotted unknown key", "[http]\nallow.x = 1\n",
			"p.toml:2: http.allow: want an array of strings, got table"},
		{"section not a table", "limits = 5\n",
			"p.toml:1: limits: want a table ([limits]), got integer 5"},
		{"array of tables", "[[network]]\nallow = []\n",
			"p.toml:1: network: want a table ([network]), got array of tables"},
		{"string for array", "[filesystem]\nread = \"/usr\"\n",
			"p.toml:2: filesystem.read: want an array of paths (strings), got string \"/usr\""},
		{"int in paths", "[filesystem]\nwrite = [\n  \"/tmp\",\n  3,\n]\n",
			"p.toml:2: filesystem.write: element 2: want a string, got integer 3"},
		{"empty path", "[filesystem]\nread = [\"\"]\n",
			"p.toml:2: filesystem.read: element 1: empty path"},
		{"NUL in path", "[program]\nexec = \"/a\\u0000b\"\n",
			"p.toml:2: program.exec: path \"/a\\x00b\" contains a NUL byte"},
		{"exec int", "[program]\nexec = 3\n",
			"p.toml:2: program.exec: want a path (a string), got integer 3"},
		{"args string", "[program]\nargs = \"-v\"\n",
			"p.toml:2: program.args: want an array of strings, got string \"-v\""},
		{"env not strings", "[program]\nenv = { A = 1 }\n",
			"p.toml:2: program.env: variable A: want a string, got integer 1"},
		{"env subtable", "[program.env]\nA = 1\n",
			"p.toml:1: program.env: variable A: want a string, got integer 1"},
		{"uid negative", "[program]\nuid = -1\ngid = 0\n",
			"p.toml:2: program.uid: want an integer 0-4294967295, got integer -1"},
		{"uid alone", "[program]\nexec = \"/a\"\nuid = 0\n",
			"p.toml:3: program: uid and gid must both be set, or neither"},
		{"bool as string", "[program]\nclean_env = \"yes\"\n",
			"p.toml:2: program.clean_env: want a boolean (true or false), got string \"yes\""},
		{"on_exit", "[filesystem]\non_exit = \"save\"\n",
			"p.toml:2: filesystem.on_exit: want \"commit\", \"abort\" or \"keep\", got \"save\""},
		{"port float", "[network]\nallow_bind = [80.5]\n",
			"p.toml:2: network.allow_bind: element 1: want a port (integer 1-65535) or a port-spec string, got float 80.5"},
		{"port 0", "[network]\nallow_bind = [0]\n",
			"p.toml:2: network.allow_bind: element 1: port 0 out of range 1-65535"},
		{"port too big", "[network]\ndeny_bind = [65536]\n",
			"p.toml:2: network.deny_bind: element 1: port 65536 out of range 1-65535"},
		{"port spec", "[network]\nallow_bind = [\"90-\"]\n",
			"p.toml:2: network.allow_bind: element 1: port spec \"90-\": \"\" is not a port (want 1-65535)"},
		{"port spec space", "[network]\nallow_bind = [\"80, 443\"]\n",
			"p.toml:2: network.allow_bind: element 1: port spec \"80, 443\": \" 443\" is not a port (want 1-65535)"},
		{"http ports", "[http]\nports = [70000]\n",
			"p.toml:2: http.ports: element 1: want an integer 0-65535, got integer 70000"},
		{"memory IEC", "[limits]\nmemory = \"512MiB\"\n",
			"p.toml:2: limits.memory: \"512MiB\" is not a byte size: want digits with an optional suffix K, M or G, e.g. \"512M\" (IEC suffixes like MiB, signs and fractions are not accepted)"},
		{"memory negative", "[limits]\nmemory = \"-1M\"\n",
			"p.toml:2: limits.memory: \"-1M\" is not a byte size: want digits with an optional suffix K, M or G, e.g. \"512M\" (IEC suffixes like MiB, signs and fractions are not accepted)"},
		{"memory fraction", "[limits]\nmemory = \"1.5G\"\n",
			"p.toml:2: limits.memory: \"1.5G\" is not a byte size: want digits with an optional suffix K, M or G, e.g. \"512M\" (IEC suffixes like MiB, signs and fractions are not accepted)"},
		{"memory integer", "[limits]\nmemory = 536870912\n",
			"p.toml:2: limits.memory: want a byte-size string like \"512M\", got integer 536870912"},
		{"memory zero", "[limits]\nmemory = \"0G\"\n",
			"p.toml:2: limits.memory: \"0G\" is zero: no workload can run under a zero memory limit"},
		{"memory overflow", "[limits]\nmemory = \"9999999999999G\"\n",
			"p.toml:2: limits.memory: byte size \"9999999999999G\" is too large"},
		{"disk IEC", "[limits]\ndisk = \"1GiB\"\n",
			"p.toml:2: limits.disk: \"1GiB\" is not a byte size: want digits with an optional suffix K, M or G, e.g. \"512M\" (IEC suffixes like MiB, signs and fractions are not accepted)"},
		{"processes zero", "[limits]\nprocesses = 0\n",
			"p.toml:2: limits.processes: want an integer 1-4294967295, got integer 0"},
		{"processes string", "[limits]\nprocesses = \"4\"\n",
			"p.toml:2: limits.processes: want an integer 1-4294967295, got string \"4\""},
		{"open_files float", "[limits]\nopen_files = 64.0\n",
			"p.toml:2: limits.open_files: want an integer 1-4294967295, got float 64"},
		{"cpu percent", "[limits]\ncpu = 150\n",
			"p.toml:2: limits.cpu: want an integer 0-100, got integer 150"},
		{"time_start", "[determinism]\ntime_start = 2026-01-02T15:04:05Z\n",
			"p.toml:2: determinism.time_start: want an RFC 3339 time string, got datetime"},
		{"time_start text", "[determinism]\ntime_start = \"yesterday\"\n",
			"p.toml:2: determinism.time_start: \"yesterday\" is not an RFC 3339 time (like \"2026-01-02T15:04:05Z\")"},
		{"config unknown", "[config]\nhttp_proxy = \"x\"\n",
			"p.toml:2: config.http_proxy: unknown key in [config]: sandlock 0.8.6 knows http_ca, http_key, http_inject_ca, http_ca_out, fs_storage, workdir"},
		{"earliest of several", "[limits]\nmemory = \"1MiB\"\n[filesystem]\nreed = []\n",
			"p.toml:2: limits.memory: \"1MiB\" is not a byte size: want digits with an optional suffix K, M or G, e.g. \"512M\" (IEC suffixes like MiB, signs and fractions are not accepted)"},
		{"quoted key", "[filesystem]\n\"read me\" = []\n",
			"p.toml:2: filesystem.\"read me\": unknown key in [filesystem]: sandlock 0.8.6 knows read, write, deny, chroot, mount, on_exit, on_error"},
		{"invalid UTF-8", "[program]\nexec = \"/a\xff\"\n",
			"p.toml:2: TOML syntax: invalid UTF-8 byte: 0xff (after key program.exec)"},
		{"control char", "# a\x01\n",
			"p.toml:1: TOML syntax: TOML files cannot contain control characters: '0x01'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Decode([]byte(c.in), "p.toml")
			if err == nil {
				t.Fatalf("no error; decoded %+v", p)
			}
			if err.Error() != c.want {
				t.Errorf("error\n got: %s\nwant: %s", err, c.want)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.File != "p.toml" || pe.Line == 0 {
				t.Errorf("error %#v does not name the file and line", err)
			}
		})
	}
}

func TestDecodeLayouts(t *testing.T) {
	// The same profile written with dotted keys, an inline table and a
	// [program.env] sub-table decodes the same, and errors still find lines.
	a := "[program]\nexec = \"/a\"\nenv = { X = \"1\" }\n[limits]\nmemory = \"1G\"\n"
	b := "program.exec = \"/a\"\nlimits = { memory = \"1G\" }\n[program.env]\nX = \"1\"\n"
	pa, err := Decode([]byte(a), "a")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Decode([]byte(b), "b")
	if err != nil {
		t.Fatal(err)
	}
	ma, _ := Marshal(pa)
	mb, _ := Marshal(pb)
	if string(ma) != string(mb) {
		t.Errorf("layouts differ:\n%s\n---\n%s", ma, mb)
	}
	_, err = Decode([]byte("# c\n\nprogram.exec = \"/a\"\nprogram.execc = 1\n"), "c")
	if err == nil || err.Error() != "c:4: program.execc: unknown key in [program]: sandlock 0.8.6 knows exec, args, cwd, env, uid, gid, clean_env, no_coredump, no_huge_pages" {
		t.Errorf("dotted key error: %v", err)
	}
	_, err = Decode([]byte("\n\nlimits = { memory = \"1MiB\" }\n"), "d")
	if err == nil || !strings.HasPrefix(err.Error(), "d:3: limits.memory: ") {
		t.Errorf("inline table error: %v", err)
	}
}

func TestDecodeEmpty(t *testing.T) {
	for _, in := range []string{"", "# only a comment\n", "\n\n", "[program]\n[limits]\n"} {
		p, err := Decode([]byte(in), "e")
		if err != nil {
			t.Errorf("Decode(%q): %v", in, err)
			continue
		}
		if err := p.Validate(true); err != nil {
			t.Errorf("Validate(%q): %v", in, err)
		}
	}
	if _, err := Decode(make([]byte, MaxSize+1), "big"); err == nil || err.Error() != "big: larger than 4194304 bytes: not a profile" {
		t.Errorf("oversized input: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct{ in, want string }{
		{"[filesystem]\nread = [\"usr\"]\n", `v.toml:2: filesystem.read: "usr": not absolute (profile paths are absolute and canonical)`},
		{"[filesystem]\nread = [\n  \"/usr\",\n  \"/usr//lib\",\n]\n", `v.toml:2: filesystem.read: "/usr//lib": empty component (//) (profile paths are absolute and canonical)`},
		{"[filesystem]\nwrite = [\"/tmp/\"]\n", `v.toml:2: filesystem.write: "/tmp/": trailing slash (profile paths are absolute and canonical)`},
		{"\n[program]\nexec = \"/nonexistent/sandlock-learn/x\"\n", `v.toml:3: program.exec: "/nonexistent/sandlock-learn/x" does not exist (a Landlock rule needs an existing path)`},
		{"[program]\ncwd = \"/etc/hostname\"\n", `v.toml:2: program.cwd: "/etc/hostname" is not a directory`},
		{"[filesystem]\nread = [\"/nonexistent/sandlock-learn/x\"]\n", `v.toml:2: filesystem.read: "/nonexistent/sandlock-learn/x" does not exist (a Landlock rule needs an existing path)`},
		{"[network]\nallow = [\"tcp://host:http\"]\n", `v.toml:2: network.allow: rule "tcp://host:http": "http" is not a port (want 1-65535)`},
		{"[network]\nallow = [\"icmp://10.0.0.1:7\"]\n", `v.toml:2: network.allow: rule "icmp://10.0.0.1:7": icmp rules take no port`},
		{"[syscalls]\nextra_allow = [\"ptrace\"]\n", `v.toml:2: syscalls.extra_allow: unknown group "ptrace" (the only group is "sysv_ipc")`},
	}
	for _, c := range cases {
		p, err := Decode([]byte(c.in), "v.toml")
		if err != nil {
			t.Errorf("Decode(%q): %v", c.in, err)
			continue
		}
		err = p.Validate(true)
		if err == nil || err.Error() != c.want {
			t.Errorf("Validate(%q)\n got: %v\nwant: %s", c.in, err, c.want)
		}
	}
	// Existence is checked only on request; deny paths never need to exist.
	p, err := Decode([]byte("[filesystem]\nread = [\"/nonexistent/x\"]\ndeny = [\"/nonexistent/y\"]\n"), "v")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(false); err != nil {
		t.Errorf("Validate(false): %v", err)
	}
	p.Filesystem.Read = nil
	if err := p.Validate(true); err != nil {
		t.Errorf("deny of a missing path: %v", err)
	}
	// A profile built in code has no file or line to name.
	q := &Profile{}
	q.Filesystem.Write = []string{"/tmp/\xff"}
	if err := q.Validate(false); err == nil || err.Error() != `filesystem.write: "/tmp/\xff" is not valid UTF-8: a TOML profile cannot hold it` {
		t.Errorf("non-UTF-8 path: %v", err)
	}
	if _, err := Marshal(q); err == nil {
		t.Errorf("Marshal of a non-UTF-8 path succeeded")
	}
}

func TestCheckNetRule(t *testing.T) {
	good := []string{"example.com", "example.com:443", "example.com:80,443", "tcp://10.0.0.1:8080", "udp://*:*", "*",
		"tcp://[::1]:8080", "[::1]", "::1", "fe80::/10", "10.0.0.0/8:53", "icmp://10.0.0.1", "icmp://*"}
	for _, r := range good {
		if err := CheckNetRule(r); err != nil {
			t.Errorf("CheckNetRule(%q): %v", r, err)
		}
	}
	bad := []string{"", "tcp://", "http://example.com", "example.com:", "example.com:0", "example.com:65536", "tcp://[::1:80",
		"tcp://[::1]80", "a b", "icmp://h:1", "x:-1"}
	for _, r := range bad {
		if err := CheckNetRule(r); err == nil {
			t.Errorf("CheckNetRule(%q) = nil, want an error", r)
		}
	}
}

func TestAdd(t *testing.T) {
	var p Profile
	must := func(sec, key string, v any) {
		t.Helper()
		if err := p.Add(sec, key, v); err != nil {
			t.Fatalf("Add(%s.%s, %v): %v", sec, key, v, err)
		}
	}
	must("filesystem", "read", "/usr")
	must("filesystem", "read", []any{"/etc", "/usr"})
	must("network", "allow_bind", int64(80))
	must("network", "allow_bind", []any{"9000-9005", int64(22)})
	must("limits", "memory", "48M")
	must("limits", "memory", "48M") // the same value again is fine
	must("limits", "open_files", int64(64))
	must("program", "args", []any{"b", "a"})
	must("program", "args", "c")
	if !reflect.DeepEqual(p.Filesystem.Read, []string{"/usr", "/etc", "/usr"}) || !reflect.DeepEqual(p.Program.Args, []string{"b", "a", "c"}) {
		t.Errorf("lists: %v %v", p.Filesystem.Read, p.Program.Args)
	}
	for _, c := range []struct {
		sec, key string
		v        any
		want     string
	}{
		{"limits", "memory", "64M", `limits.memory: set twice, to "48M" and to "64M"`},
		{"limits", "open_files", int64(65), `limits.open_files: set twice, to 64 and to 65`},
		{"limits", "processes", "4", `limits.processes: want an integer 1-4294967295, got string "4"`},
		{"program", "env", "x", `program.env: not a learned key (kept from existing profiles, never added)`},
		{"program", "nope", "x", `program.nope: not a key of the sandlock 0.8.6 schema`},
		{"nope", "read", "x", `nope.read: not a key of the sandlock 0.8.6 schema`},
		{"network", "allow_bind", true, `network.allow_bind: element 1: want a port (integer 1-65535) or a port-spec string, got boolean true`},
	} {
		err := p.Add(c.sec, c.key, c.v)
		if err == nil || err.Error() != c.want {
			t.Errorf("Add(%s.%s, %v)\n got: %v\nwant: %s", c.sec, c.key, c.v, err, c.want)
		}
	}
	out, err := Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	want := `[program]
args = ["b", "a", "c"]

[filesystem]
read = [
  "/etc",
  "/usr",
]

[network]
allow_bind = [22, 80, "9000-9005"]

[limits]
memory = "48M"
open_files = 64
`
	if string(out) != want {
		t.Errorf("Marshal:\n%s\nwant:\n%s", out, want)
	}
}

func TestMarshalStrings(t *testing.T) {
	p := &Profile{Header: []string{"line\nbreak and \x00 and \xff", "tab\there"}}
	p.Filesystem.Read = []string{"/a \"q\" \\ \t\n\x01\x7f é"}
	out, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "# line\\x0abreak and \\x00 and \\xff\n# tab\there\n\n[filesystem]\nread = [\"/a \\\"q\\\" \\\\ \\t\\n\\u0001\\u007F é\"]\n"
	if string(out) != want {
		t.Errorf("Marshal:\n%q\nwant:\n%q", out, want)
	}
	back, err := Decode(out, "m")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Filesystem.Read, p.Filesystem.Read) {
		t.Errorf("round trip: %q", back.Filesystem.Read)
	}
}

// TestSchemaFields: every key the schema marks typed has a typed field, and
// every other key of a section with kept keys can be kept, so Profile.set
// (which panics on a broken invariant) cannot be reached with a bad key.
func TestSchemaFields(t *testing.T) {
	var p Profile
	for _, sec := range schema {
		for _, ks := range sec.keys {
			typed := p.strings(sec.name, ks.name) != nil || p.ports(sec.name, ks.name) != nil ||
				p.scalar(sec.name, ks.name) != nil || p.count(sec.name, ks.name) != nil
			if typed != ks.typed {
				t.Errorf("%s.%s: typed field %v, schema says %v", sec.name, ks.name, typed, ks.typed)
			}
			if !ks.typed && p.kept(sec.name, false) == nil {
				t.Errorf("%s.%s: no Kept map for a kept key", sec.name, ks.name)
			}
		}
	}
}
