package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// Config is one synthetic trace's shape.
type Config struct {
	Events int    // total records, start and peak+exit included
	Paths  int    // distinct fs paths over the whole stream
	Seed   uint64 // same seed, same stream, byte for byte
	// Root, when set, is prepended to every path, and every path is
	// created under it (empty files, directories for the directory kinds),
	// so a collapser that stats what it grants sees the paths of a real run
	// rather than a stream of paths that no longer exist.
	Root string
}

// kind is what a path is for; it decides which ops and syscalls touch it.
type kind uint8

const (
	pyFile    kind = iota // stdlib and site-packages modules: read
	pyDir                 // their directories: readdir
	buildFile             // build outputs under /tmp/build: create, write, rename, remove
	buildDir              // build output directories: mkdir, readdir
	header                // /usr/include: read
	source                // the project's own sources: read
	shared                // /usr/share, locale, zoneinfo: read
	etc                   // /etc, /proc, /dev: read
)

type pathInfo struct {
	path string
	kind kind
	seen bool
}

// spread of the distinct paths over kinds, in percent; a Python-heavy build
// or test run, as the import and build workloads of scripts/bench produce.
var spread = []struct {
	k   kind
	pct int
}{
	{pyFile, 52}, {pyDir, 6}, {buildFile, 14}, {buildDir, 2},
	{header, 10}, {source, 8}, {shared, 6}, {etc, 2},
}

var execs = []struct {
	path string
	argv []string
}{
	{"/usr/bin/python3.11", []string{"python3", "-m", "pytest", "-q"}},
	{"/usr/bin/gcc-12", []string{"cc", "-O2", "-c", "src/mod.c", "-o", "/tmp/build/obj/mod.o"}},
	{"/usr/libexec/gcc/x86_64-linux-gnu/12/cc1", []string{"/usr/libexec/gcc/x86_64-linux-gnu/12/cc1", "-quiet", "src/mod.c"}},
	{"/usr/bin/x86_64-linux-gnu-as", []string{"as", "--64", "-o", "/tmp/build/obj/mod.o", "/tmp/ccX.s"}},
	{"/usr/bin/make", []string{"make", "-j2"}},
	{"/usr/bin/dash", []string{"/bin/sh", "-c", "cc -c src/mod.c"}},
}

var nets = []event.Net{
	{Syscall: "connect", Op: "connect", Proto: "tcp", Family: "inet", Addr: "127.0.0.1", Port: 5432},
	{Syscall: "connect", Op: "connect", Proto: "tcp", Family: "inet6", Addr: "::1", Port: 8080},
	{Syscall: "sendto", Op: "send", Proto: "udp", Family: "inet", Addr: "127.0.0.53", Port: 53},
	{Syscall: "connect", Op: "connect", Proto: "tcp", Family: "inet", Addr: "93.184.215.14", Port: 443},
	{Syscall: "bind", Op: "bind", Proto: "tcp", Family: "inet", Addr: "127.0.0.1", Port: 0},
}

var (
	flagsRead    = []string{"O_RDONLY", "O_CLOEXEC"}
	flagsDir     = []string{"O_RDONLY", "O_NONBLOCK", "O_CLOEXEC", "O_DIRECTORY"}
	flagsCreate  = []string{"O_WRONLY", "O_CREAT", "O_TRUNC", "O_CLOEXEC"}
	flagsWrite   = []string{"O_WRONLY", "O_APPEND", "O_CLOEXEC"}
	flagsRW      = []string{"O_RDWR", "O_CLOEXEC"}
	moduleNames  = []string{"__init__", "core", "utils", "adapters", "models", "compat", "exceptions", "parser", "_impl", "structures"}
	packageNames = []string{"json", "email", "http", "asyncio", "xml/dom", "unittest", "logging", "encodings", "importlib/metadata", "collections"}
)

// makePaths builds n distinct canonical paths spread over the kinds, in a
// shuffled order so a stream visits them interleaved, as a real run does.
func makePaths(n int, rng *rand.Rand) []pathInfo {
	out := make([]pathInfo, 0, n)
	for i, s := range spread {
		count := n * s.pct / 100
		if i == len(spread)-1 {
			count = n - len(out)
		}
		for j := range count {
			out = append(out, pathInfo{path: pathFor(s.k, j), kind: s.k})
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// pathFor is the j-th distinct path of a kind: a deep, realistic tree with
// many files per directory, so path collapse has real work to do.
func pathFor(k kind, j int) string {
	switch k {
	case pyFile:
		pkg := packageNames[j%len(packageNames)]
		mod := moduleNames[(j/len(packageNames))%len(moduleNames)]
		n := j / (len(packageNames) * len(moduleNames))
		if j%2 == 0 {
			return fmt.Sprintf("/usr/lib/python3.11/site-packages/pkg%d/%s/__pycache__/%s%d.cpython-311.pyc", n/40, pkg, mod, n)
		}
		return fmt.Sprintf("/usr/lib/python3.11/site-packages/pkg%d/%s/%s%d.py", n/40, pkg, mod, n)
	case pyDir:
		return fmt.Sprintf("/usr/lib/python3.11/site-packages/pkg%d/%s/sub%d", j/300, packageNames[j%len(packageNames)], j)
	case buildFile:
		if j%97 == 0 {
			// A Latin-1 file name from an old archive: not UTF-8, so it
			// travels as path_b64 and the pipeline must carry its bytes.
			return fmt.Sprintf("/tmp/build/assets/r\xe9sum\xe9-%d.txt", j)
		}
		return fmt.Sprintf("/tmp/build/obj/d%d/unit%d.o", j/50, j)
	case buildDir:
		return fmt.Sprintf("/tmp/build/obj/d%d/gen%d", j/20, j)
	case header:
		return fmt.Sprintf("/usr/include/x86_64-linux-gnu/lib%d/sys/h%d.h", j/64, j)
	case source:
		return fmt.Sprintf("/home/dev/src/project/src/module%d/file%d.c", j/30, j)
	case shared:
		return fmt.Sprintf("/usr/share/locale/l%d/LC_MESSAGES/m%d.mo", j/25, j)
	default:
		switch j % 3 {
		case 0:
			return fmt.Sprintf("/etc/conf.d/c%d.conf", j)
		case 1:
			return fmt.Sprintf("/proc/%d/status", 4000+j)
		}
		return fmt.Sprintf("/dev/shm/sem.s%d", j)
	}
}

// fsEvent is the record for one touch of p; first says it is the first.
func fsEvent(p *pathInfo, pid int, rng *rand.Rand) *event.FS {
	first := !p.seen
	p.seen = true
	r := &event.FS{PID: pid, Syscall: "openat", Path: p.path, Existed: true}
	switch p.kind {
	case pyDir:
		r.Op, r.Flags, r.Dir = event.OpReaddir, flagsDir, true
	case buildFile:
		switch x := rng.IntN(10); {
		case first:
			r.Op, r.Flags, r.Existed = event.OpCreate, flagsCreate, false
		case x < 4:
			r.Op, r.Flags = event.OpWrite, flagsWrite
		case x < 6:
			r.Op, r.Flags = event.OpRead, flagsRW
		case x < 7:
			r.Syscall, r.Op, r.Flags = "truncate", event.OpTruncate, nil
		case x < 8:
			r.Syscall, r.Op, r.Flags = "renameat2", event.OpRenameFrom, nil
		case x < 9:
			r.Syscall, r.Op, r.Flags = "renameat2", event.OpRenameTo, nil
		default:
			r.Syscall, r.Op, r.Flags = "unlinkat", event.OpRemove, nil
		}
	case buildDir:
		if first {
			r.Syscall, r.Op, r.Existed, r.Dir = "mkdirat", event.OpMkdir, false, true
		} else {
			r.Op, r.Flags, r.Dir = event.OpReaddir, flagsDir, true
		}
	default:
		r.Op, r.Flags = event.OpRead, flagsRead
		if rng.IntN(8) == 0 {
			r.Syscall, r.Flags = "newfstatat", nil
		}
	}
	// Most opens are relative to the cwd or a directory fd; keep the raw
	// argument on some so the stream has the optional field too.
	if rng.IntN(3) == 0 {
		if i := lastSlash(p.path); i > 0 {
			r.Raw = p.path[i+1:]
		}
	}
	return r
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

// Generate writes the stream to w: start first, peak and exit last, and in
// between fs, exec and net records in realistic proportions over exactly
// cfg.Paths distinct fs paths (fewer when there are fewer fs events).
func Generate(w *event.Writer, cfg Config) error {
	if cfg.Events < 3 {
		return fmt.Errorf("need at least 3 events (start, peak, exit), got %d", cfg.Events)
	}
	if cfg.Paths < 1 {
		return fmt.Errorf("need at least 1 distinct path, got %d", cfg.Paths)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5a4d1c))
	body := cfg.Events - 3

	// Decide the record kinds first so the distinct paths can be spread
	// exactly over the fs records.
	const (
		tFS = iota
		tExec
		tNet
		tWarn
		tSample
	)
	types := make([]uint8, body)
	nfs := 0
	for i := range types {
		switch x := rng.IntN(10000); {
		case x < 300:
			types[i] = tExec
		case x < 550:
			types[i] = tNet
		case x < 552:
			types[i] = tWarn
		case x < 554:
			types[i] = tSample
		default:
			types[i] = tFS
			nfs++
		}
	}
	paths := makePaths(min(cfg.Paths, max(nfs, 1)), rng)
	used := 0
	cwd := "/home/dev/src/project"
	bins := make([]string, len(execs))
	for i, e := range execs {
		bins[i] = e.path
	}
	if cfg.Root != "" {
		if err := materialize(cfg.Root, paths, cwd, bins); err != nil {
			return err
		}
		for i := range paths {
			paths[i].path = cfg.Root + paths[i].path
		}
		for i := range bins {
			bins[i] = cfg.Root + bins[i]
		}
		cwd = cfg.Root + cwd
	}

	uid := 1000
	if err := w.Write(&event.Start{Schema: event.Schema, Argv: []string{"make", "-j2", "check"},
		Cwd: cwd, Kernel: "6.18.0", Arch: "x86_64", Time: "2026-11-29T11:00:00Z",
		UID: uid, GID: uid, Tool: "gen-events (synthetic)"}); err != nil {
		return err
	}
	pid, fsLeft := 4000, nfs
	for _, t := range types {
		var rec event.Record
		switch t {
		case tFS:
			// A new path with the probability that spends exactly the
			// remaining distinct paths over the remaining fs records;
			// otherwise revisit one, hot paths (seen early) far more often.
			var p *pathInfo
			if used < len(paths) && rng.IntN(fsLeft) < len(paths)-used {
				p = &paths[used]
				used++
			} else {
				u := rng.Float64()
				p = &paths[int(float64(used)*u*u*u)]
			}
			fsLeft--
			rec = fsEvent(p, pid, rng)
		case tExec:
			pid++
			i := rng.IntN(len(execs))
			rec = &event.Exec{PID: pid, Path: bins[i], Argv: execs[i].argv}
		case tNet:
			n := nets[rng.IntN(len(nets))]
			n.PID, n.FD = pid, 3+rng.IntN(20)
			rec = &n
		case tWarn:
			rec = &event.Warning{Msg: "io_uring_setup seen: its file operations are not observed", PID: pid}
		case tSample:
			rec = &event.Peak{MemBytes: int64(rng.IntN(1 << 30)), RSSBytes: int64(rng.IntN(1 << 30)),
				Processes: 1 + rng.IntN(8), Threads: 1 + rng.IntN(32), FDMax: 3 + rng.IntN(200), Sample: true}
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	if err := w.Write(&event.Peak{MemBytes: 3 << 29, RSSBytes: 1 << 30, Processes: 9, Threads: 40, FDMax: 230}); err != nil {
		return err
	}
	code := 0
	return w.Write(&event.Exit{Code: &code, DurationMS: 93_000, Events: w.Count()})
}

// materialize creates every path under root: directories for the directory
// kinds, empty files for the rest (and the cwd and executables).
func materialize(root string, paths []pathInfo, cwd string, bins []string) error {
	if !filepath.IsAbs(root) || filepath.Clean(root) != root || root == "/" {
		return fmt.Errorf("--root %q: want a clean absolute directory other than /", root)
	}
	made := map[string]bool{}
	mkdir := func(d string) error {
		if made[d] {
			return nil
		}
		made[d] = true
		return os.MkdirAll(d, 0o755)
	}
	touch := func(p string) error {
		if err := mkdir(filepath.Dir(p)); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		return f.Close()
	}
	if err := mkdir(root + cwd); err != nil {
		return err
	}
	for _, b := range bins {
		if err := touch(root + b); err != nil {
			return err
		}
	}
	for _, p := range paths {
		var err error
		if p.kind == pyDir || p.kind == buildDir {
			err = mkdir(root + p.path)
		} else {
			err = touch(root + p.path)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
