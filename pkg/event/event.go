// Package event is the contract between the pipeline stages in code: the
// records of the event stream (sandlock-trace -> sandlock-collapse) and of the
// grant stream (sandlock-collapse -> sandlock-emit), and the NDJSON reader and
// writer every binary shares. See shared/design/pipeline.md.
//
// Paths are Go strings holding the raw bytes of a Linux path. They need not be
// valid UTF-8: the writer puts a valid one in "path" and any other in
// "path_b64" (standard base64 of the bytes), and the reader accepts both, so a
// path survives the pipeline byte for byte.
//
// The package does no policy and no I/O beyond the streams it is handed.
package event

// Schema is the version of both streams this package reads and writes.
const Schema = 1

// Record is one line of a stream. The concrete types are the structs below.
type Record interface {
	// RecordType is the record's "type" field.
	RecordType() string
}

// Start opens an event stream: one run of one workload.
type Start struct {
	Schema int      `json:"schema"`
	Argv   []string `json:"argv"`
	Cwd    string   `json:"cwd"`
	Kernel string   `json:"kernel"`
	Arch   string   `json:"arch"`
	Time   string   `json:"time"`
	UID    int      `json:"uid"`
	GID    int      `json:"gid"`
	Tool   string   `json:"tool"`
}

// FS is one observed path operation. Path is absolute and canonical as the
// tracee saw it; for operations on a link itself (remove, rename, link_to,
// symlink) only the parent directory is canonical.
type FS struct {
	PID     int      `json:"pid"`
	Syscall string   `json:"syscall"`
	Op      string   `json:"op"`
	Path    string   `json:"path"`
	Raw     string   `json:"raw,omitempty"`
	Flags   []string `json:"flags,omitempty"`
	Existed bool     `json:"existed"`
	Dir     bool     `json:"dir"`
}

// Exec is a successful execve/execveat: Path is /proc/PID/exe after it.
type Exec struct {
	PID  int      `json:"pid"`
	Path string   `json:"path"`
	Argv []string `json:"argv"`
}

// Net is one observed socket address of AF_INET or AF_INET6.
type Net struct {
	PID     int    `json:"pid"`
	Syscall string `json:"syscall"`
	Op      string `json:"op"`     // connect, send, bind
	Proto   string `json:"proto"`  // tcp, udp, icmp
	Family  string `json:"family"` // inet, inet6
	Addr    string `json:"addr"`
	Port    int    `json:"port"`
	FD      int    `json:"fd"`
}

// Syscalls counts notified syscalls by name (only with --syscalls).
type Syscalls struct {
	Counts map[string]int64 `json:"counts"`
}

// Peak carries the resource peaks sandlock enforces (see profile.md).
type Peak struct {
	MemBytes  int64 `json:"mem_bytes"`
	RSSBytes  int64 `json:"rss_bytes"`
	Processes int   `json:"processes"`
	Threads   int   `json:"threads"`
	FDMax     int   `json:"fd_max"`
	Sample    bool  `json:"sample,omitempty"`
}

// Warning is something a stage could not observe or decide fully.
type Warning struct {
	Msg  string `json:"msg"`
	PID  int    `json:"pid,omitempty"`
	Path string `json:"path,omitempty"`
}

// Exit closes an event stream. Code is nil when the workload was killed by a
// signal; Signal is the signal's name ("SIGKILL") then, and empty otherwise.
type Exit struct {
	Code       *int   `json:"code"`
	Signal     string `json:"signal"`
	TimedOut   bool   `json:"timed_out"`
	DurationMS int64  `json:"duration_ms"`
	Events     int64  `json:"events"`
}

// Failed reports whether the workload failed on its own: a non-zero exit, or
// a signal that was not our timeout.
func (e *Exit) Failed() bool {
	if e == nil {
		return true
	}
	if e.TimedOut {
		return false
	}
	return e.Code == nil || *e.Code != 0
}

// Meta opens a grant stream.
type Meta struct {
	Schema   int      `json:"schema"`
	Argv     []string `json:"argv"`
	Cwd      string   `json:"cwd"`
	Kernel   string   `json:"kernel"`
	Time     string   `json:"time"`
	Runs     int      `json:"runs"`
	Exit     *Exit    `json:"exit"`
	Complete bool     `json:"complete"`
	// Warnings is additive to schema 1: messages the profile header should
	// carry (e.g. io_uring seen: its file operations were invisible).
	Warnings []string `json:"warnings,omitempty"`
}

// Grant is one value of one profile key. Value is a string, an int64 or a
// []any of strings and int64s, as the profile key wants it.
type Grant struct {
	Section  string   `json:"section"`
	Key      string   `json:"key"`
	Value    any      `json:"value"`
	Why      string   `json:"why"`
	Observed int64    `json:"observed"`
	Examples []string `json:"examples,omitempty"`
}

// Denial is an operation a profile did not allow (sandlock-check --json).
// Additive to schema 1.
type Denial struct {
	PID    int    `json:"pid"`
	Comm   string `json:"comm,omitempty"`
	Kind   string `json:"kind"` // fs, net
	Op     string `json:"op"`
	Path   string `json:"path,omitempty"`
	Proto  string `json:"proto,omitempty"`
	Addr   string `json:"addr,omitempty"`
	Port   int    `json:"port,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Unknown is a record whose type this reader does not know. Readers skip it
// with a warning, so that newer writers can add record types.
type Unknown struct {
	Type string `json:"-"` // written once, as "type"; not again as "Type"
}

func (*Start) RecordType() string    { return "start" }
func (*FS) RecordType() string       { return "fs" }
func (*Exec) RecordType() string     { return "exec" }
func (*Net) RecordType() string      { return "net" }
func (*Syscalls) RecordType() string { return "syscalls" }
func (*Peak) RecordType() string     { return "peak" }
func (*Warning) RecordType() string  { return "warning" }
func (*Exit) RecordType() string     { return "exit" }
func (*Meta) RecordType() string     { return "meta" }
func (*Grant) RecordType() string    { return "grant" }
func (*Denial) RecordType() string   { return "denial" }
func (u *Unknown) RecordType() string {
	return u.Type
}

// FS ops, as pipeline.md lists them.
const (
	OpRead        = "read"
	OpWrite       = "write"
	OpReaddir     = "readdir"
	OpExec        = "exec"
	OpCreate      = "create"
	OpTruncate    = "truncate"
	OpMkdir       = "mkdir"
	OpMknod       = "mknod"
	OpRemove      = "remove"
	OpRmdir       = "rmdir"
	OpRenameFrom  = "rename_from"
	OpRenameTo    = "rename_to"
	OpLinkFrom    = "link_from"
	OpLinkTo      = "link_to"
	OpSymlink     = "symlink"
	OpBindUnix    = "bind_unix"
	OpConnectUnix = "connect_unix"
)

// FSOps is the set of valid fs ops.
var FSOps = map[string]bool{
	OpRead: true, OpWrite: true, OpReaddir: true, OpExec: true, OpCreate: true,
	OpTruncate: true, OpMkdir: true, OpMknod: true, OpRemove: true, OpRmdir: true,
	OpRenameFrom: true, OpRenameTo: true, OpLinkFrom: true, OpLinkTo: true,
	OpSymlink: true, OpBindUnix: true, OpConnectUnix: true,
}

// Net ops, protocols and families.
var (
	NetOps      = map[string]bool{"connect": true, "send": true, "bind": true}
	NetProtos   = map[string]bool{"tcp": true, "udp": true, "icmp": true}
	NetFamilies = map[string]bool{"inet": true, "inet6": true}
)
