// Package profile is the sandlock 0.8.6 profile in Go: the schema as types,
// a strict decoder that rejects what sandlock's loader rejects (unknown
// sections and keys, wrong types) with errors naming the file, the line and
// the key, a deterministic encoder, the merge of two profiles and byte-size
// parsing.
//
// sandlock loads profiles with serde's deny_unknown_fields: one misspelled key
// and the profile does not load at all. So the decoder here walks the parsed
// TOML against the schema table itself instead of decoding into structs,
// because BurntSushi/toml matches struct fields case-insensitively ("Read"
// would fill Read) and serde does not.
//
// The keys sandlock-learn writes (program exec/args/cwd, filesystem
// read/write, network allow/allow_bind, limits memory/processes/open_files),
// and the lists a merge unions, have typed fields. Every other key of the
// schema is type-checked and kept as its TOML value in a Kept map, so a merge
// or a re-encode preserves it.
//
// The package does no policy (which paths to grant is sandlock-collapse's
// business) and no I/O beyond reading the files it is asked to decode, the
// os.Stat of Validate(true), and WriteFileAtomic.
package profile

// Profile is one sandlock profile. The zero value is an empty profile.
type Profile struct {
	// Header is the comment block at the top of the file, one entry per
	// line, without the leading "# ". Encode writes it back the same way.
	Header []string

	Program    Program
	Filesystem Filesystem
	Network    Network
	HTTP       HTTP
	Syscalls   Syscalls
	Limits     Limits
	// Config and Determinism are not learned: kept whole.
	Config      Kept
	Determinism Kept

	// src is the input the profile was decoded from, so that Validate can
	// point at the line of a key. Nil for a profile built in code.
	src *source
}

// Program is [program]. Kept holds env, uid, gid, clean_env, no_coredump and
// no_huge_pages.
type Program struct {
	Exec string   // "" = not set
	Args []string // argv[1:], order matters
	Cwd  string   // "" = not set
	Kept Kept
}

// Filesystem is [filesystem]. Kept holds chroot, mount, on_exit, on_error.
type Filesystem struct {
	Read  []string
	Write []string
	Deny  []string
	Kept  Kept
}

// Network is [network]. Kept holds port_remap.
type Network struct {
	Allow     []string
	Deny      []string
	AllowBind []Port
	DenyBind  []Port
	Kept      Kept
}

// HTTP is [http]. Kept holds ports.
type HTTP struct {
	Allow []string
	Deny  []string
	Kept  Kept
}

// Syscalls is [syscalls].
type Syscalls struct {
	ExtraAllow []string
	ExtraDeny  []string
}

// Limits is [limits]. Kept holds cpu, disk, gpu_devices, cpu_cores, num_cpus.
type Limits struct {
	Memory    string // byte size as written ("48M"); "" = not set (no limit)
	Processes int64  // 0 = not set (sandlock's default, DefaultProcesses)
	OpenFiles int64  // 0 = not set (inherited RLIMIT_NOFILE)
	Kept      Kept
}

// DefaultProcesses is sandlock's limit on live processes when [limits]
// processes is not set (profile.md).
const DefaultProcesses = 64

// Kept maps a key of a section to its TOML value as decoded: string, int64,
// bool, []any of those, or map[string]any (program.env). The decoder has
// checked it against the schema.
type Kept map[string]any

// kind is the TOML shape and value range a key takes.
type kind uint8

const (
	kString  kind = iota // a string
	kPath                // a non-empty string
	kTime                // an RFC 3339 timestamp string
	kBranch              // "commit", "abort" or "keep"
	kSize                // a byte-size string (ParseSize)
	kMemory              // a byte-size string above zero
	kStrings             // array of strings
	kPaths               // array of non-empty strings
	kArgs                // array of strings, order significant
	kPorts               // array of port numbers and port-spec strings
	kU16s                // array of integers 0-65535
	kU32s                // array of integers 0-4294967295
	kBool                // boolean
	kU8pct               // integer 0-100 (a percentage in a u8)
	kU32                 // integer 0-4294967295
	kU64                 // non-negative integer
	kCount               // integer 1-4294967295 (a limit of 0 lets nothing run)
	kEnv                 // table of string values
)

type keySpec struct {
	name  string
	kind  kind
	typed bool // has a typed field in Profile; otherwise it lives in Kept
}

type sectionSpec struct {
	name string
	keys []keySpec
}

// schema is sandlock 0.8.6's profile schema: the sections and keys of
// shared/design/profile.md, with the types of the not-learned keys as
// sandlock's ProfileInput declares them (crates/sandlock-core/src/profile.rs:
// Option<u32>, Vec<PathBuf>, ...). The order here is the order Encode writes.
var schema = []sectionSpec{
	{"program", []keySpec{
		{"exec", kPath, true},
		{"args", kArgs, true},
		{"cwd", kPath, true},
		{"env", kEnv, false},
		{"uid", kU32, false},
		{"gid", kU32, false},
		{"clean_env", kBool, false},
		{"no_coredump", kBool, false},
		{"no_huge_pages", kBool, false},
	}},
	{"filesystem", []keySpec{
		{"read", kPaths, true},
		{"write", kPaths, true},
		{"deny", kPaths, true},
		{"chroot", kPath, false},
		{"mount", kStrings, false},
		{"on_exit", kBranch, false},
		{"on_error", kBranch, false},
	}},
	{"network", []keySpec{
		{"allow", kStrings, true},
		{"allow_bind", kPorts, true},
		{"deny", kStrings, true},
		{"deny_bind", kPorts, true},
		{"port_remap", kBool, false},
	}},
	{"http", []keySpec{
		{"allow", kStrings, true},
		{"deny", kStrings, true},
		{"ports", kU16s, false},
	}},
	{"syscalls", []keySpec{
		{"extra_allow", kStrings, true},
		{"extra_deny", kStrings, true},
	}},
	{"limits", []keySpec{
		{"memory", kMemory, true},
		{"processes", kCount, true},
		{"open_files", kCount, true},
		{"cpu", kU8pct, false},
		{"disk", kSize, false},
		{"gpu_devices", kU32s, false},
		{"cpu_cores", kU32s, false},
		{"num_cpus", kU32, false},
	}},
	{"config", []keySpec{
		{"http_ca", kPath, false},
		{"http_key", kPath, false},
		{"http_inject_ca", kPaths, false},
		{"http_ca_out", kPath, false},
		{"fs_storage", kPath, false},
		{"workdir", kPath, false},
	}},
	{"determinism", []keySpec{
		{"random_seed", kU64, false},
		{"time_start", kTime, false},
		{"deterministic_dirs", kBool, false},
		{"no_randomize_memory", kBool, false},
	}},
}

func findSection(name string) *sectionSpec {
	for i := range schema {
		if schema[i].name == name {
			return &schema[i]
		}
	}
	return nil
}

func (s *sectionSpec) key(name string) *keySpec {
	for i := range s.keys {
		if s.keys[i].name == name {
			return &s.keys[i]
		}
	}
	return nil
}

// Sections lists the section names of the schema, in the order Encode writes
// them.
func Sections() []string {
	out := make([]string, len(schema))
	for i, s := range schema {
		out[i] = s.name
	}
	return out
}

// Keys lists the keys of a section of the schema, or nil for an unknown one.
func Keys(section string) []string {
	s := findSection(section)
	if s == nil {
		return nil
	}
	out := make([]string, len(s.keys))
	for i, k := range s.keys {
		out[i] = k.name
	}
	return out
}

// kept returns the Kept map of a section, creating it when create is set.
func (p *Profile) kept(section string, create bool) *Kept {
	var k *Kept
	switch section {
	case "program":
		k = &p.Program.Kept
	case "filesystem":
		k = &p.Filesystem.Kept
	case "network":
		k = &p.Network.Kept
	case "http":
		k = &p.HTTP.Kept
	case "limits":
		k = &p.Limits.Kept
	case "config":
		k = &p.Config
	case "determinism":
		k = &p.Determinism
	default:
		return nil
	}
	if create && *k == nil {
		*k = Kept{}
	}
	return k
}

// strings returns the typed []string field of section.key, or nil.
func (p *Profile) strings(section, key string) *[]string {
	switch section + "." + key {
	case "program.args":
		return &p.Program.Args
	case "filesystem.read":
		return &p.Filesystem.Read
	case "filesystem.write":
		return &p.Filesystem.Write
	case "filesystem.deny":
		return &p.Filesystem.Deny
	case "network.allow":
		return &p.Network.Allow
	case "network.deny":
		return &p.Network.Deny
	case "http.allow":
		return &p.HTTP.Allow
	case "http.deny":
		return &p.HTTP.Deny
	case "syscalls.extra_allow":
		return &p.Syscalls.ExtraAllow
	case "syscalls.extra_deny":
		return &p.Syscalls.ExtraDeny
	}
	return nil
}

// ports returns the typed []Port field of section.key, or nil.
func (p *Profile) ports(section, key string) *[]Port {
	switch section + "." + key {
	case "network.allow_bind":
		return &p.Network.AllowBind
	case "network.deny_bind":
		return &p.Network.DenyBind
	}
	return nil
}

// scalar returns the typed string field of section.key, or nil.
func (p *Profile) scalar(section, key string) *string {
	switch section + "." + key {
	case "program.exec":
		return &p.Program.Exec
	case "program.cwd":
		return &p.Program.Cwd
	case "limits.memory":
		return &p.Limits.Memory
	}
	return nil
}

// count returns the typed integer field of section.key, or nil.
func (p *Profile) count(section, key string) *int64 {
	switch section + "." + key {
	case "limits.processes":
		return &p.Limits.Processes
	case "limits.open_files":
		return &p.Limits.OpenFiles
	}
	return nil
}
