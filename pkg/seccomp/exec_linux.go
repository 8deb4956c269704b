//go:build linux && amd64

package seccomp

import (
	"bytes"
	"slices"
	"strings"

	"github.com/sandlock-learn/sandlock-learn/internal/procfs"
	"github.com/sandlock-learn/sandlock-learn/pkg/event"
	"golang.org/x/sys/unix"
)

// exec records the attempted file and remembers the attempt: the exec
// record itself waits until the new image is seen, so that a failed
// attempt (execvp walking $PATH) records nothing, and in particular never
// the image that tried (for the first exec, that is our own helper).
func (sup *supervisor) exec(t *thread, sys string, dirfd int32, addr, flags uint64) {
	raw, r, ok := sup.readPath(t, sys, dirfd, addr, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if !ok {
		return
	}
	if sup.refused(t, r, unix.X_OK) {
		return // EACCES: nothing runs, nothing to grant
	}
	sup.fsEvent(t, sys, event.OpExec, raw, r, nil)
	if !r.exists {
		return
	}
	fp, ok := sup.readFingerprint(t.p)
	if !ok {
		return
	}
	p := t.p
	p.pending = &pendingExec{tid: t.tid, sys: sys, path: r.path, fp: fp}
	sup.pending[p.tgid] = p
}

// settle decides a pending exec of p. tid is the thread now notifying (-1
// for a periodic check): the thread that called execve cannot make another
// call before execve returns, so its next call with an unchanged image
// means the exec failed.
func (sup *supervisor) settle(p *proc, tid int) {
	pe := p.pending
	fp, ok := sup.readFingerprint(p)
	if !ok {
		if tid >= 0 {
			return
		}
		// The image ended before we could look (a short-lived binary
		// that made no notified call). A zombie still shows its name,
		// which exec changed.
		p.pending = nil
		delete(sup.pending, p.tgid)
		if comm, ok := sup.readComm(p.dir + "stat"); ok && comm != pe.fp.comm {
			sup.acct.Exec(p.tgid)
			sup.emitNow(&event.Exec{PID: p.tgid, Path: pe.path, Argv: []string{}})
			return
		}
		sup.emitNow(&event.Warning{Msg: "exec of " + pe.path + " not confirmed: the process ended before it could be inspected", PID: p.tgid, Path: pe.path})
		return
	}
	if fp.sameImage(pe.fp) {
		if tid == pe.tid {
			p.pending = nil
			delete(sup.pending, p.tgid)
		}
		return
	}
	p.pending = nil
	delete(sup.pending, p.tgid)
	sup.acct.Exec(p.tgid)
	exe, _ := sup.procLinkProc(p, "exe")
	exe = strings.TrimSuffix(exe, " (deleted)")
	if exe == "" || exe[0] != '/' {
		exe = pe.path
	}
	recs := []event.Record{&event.Exec{PID: p.tgid, Path: exe, Argv: sup.readArgv(p, fp)}}
	// The interpreter and every file-backed executable mapping of the
	// new image; later mappings come from the mmap notifications.
	p.images = map[string]bool{pe.path: true}
	for _, m := range sup.execMappings(p.dir+"maps", p.root) {
		if !p.images[m] {
			p.images[m] = true
			recs = append(recs, &event.FS{PID: p.tgid, Syscall: pe.sys, Op: event.OpExec, Path: m, Existed: true})
		}
	}
	if tid < 0 {
		for _, r := range recs {
			sup.emitNow(r)
		}
		return
	}
	sup.pre = append(sup.pre, recs...)
}

// emitNow emits outside of a notification (periodic checks).
func (sup *supervisor) emitNow(r event.Record) {
	sup.sink.Emit(r)
	sup.queued = true
}

func (sup *supervisor) checkPending() {
	for _, p := range sup.pending {
		if p.pending != nil {
			sup.settle(p, -1)
		} else {
			delete(sup.pending, p.tgid)
		}
	}
}

// execMap records a file mapped executable (shared libraries, dlopen).
func (sup *supervisor) execMap(t *thread, fd int) {
	path, ok := sup.fdPath(t, int32(fd))
	if !ok || path == "" || path[0] != '/' {
		return
	}
	path = strings.TrimSuffix(path, " (deleted)")
	p := t.p
	if p.images == nil {
		p.images = map[string]bool{}
	}
	if p.images[path] {
		return
	}
	p.images[path] = true
	sup.out = append(sup.out, &event.FS{PID: p.tgid, Syscall: "mmap", Op: event.OpExec, Path: path, Existed: true})
}

func (sup *supervisor) procLinkProc(p *proc, name string) (string, bool) {
	n, err := unix.Readlink(p.dir+name, sup.linkBuf[:])
	if err != nil || n == 0 {
		return "", false
	}
	s := string(sup.linkBuf[:n])
	if p.root != "" && strings.HasPrefix(s, p.root+"/") {
		s = s[len(p.root):]
	}
	return s, true
}

// readProc reads a whole /proc file into the supervisor's scratch buffer
// (valid until the next call): the cmdline of an xargs child is up to
// 2 MiB, and os.ReadFile's growing buffer and extra fstat cost an exec more
// than its reading.
func (sup *supervisor) readProc(path string) ([]byte, error) {
	if cap(sup.procBuf) < 16384 {
		sup.procBuf = make([]byte, 0, 16384)
	}
	b, err := procfs.ReadFile(path, sup.procBuf)
	sup.procBuf = b[:0]
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (sup *supervisor) readFingerprint(p *proc) (fingerprint, bool) {
	b, err := sup.readProc(p.dir + "stat")
	if err != nil {
		return fingerprint{}, false
	}
	comm, ok := procfs.StatComm(b)
	f := procfs.StatFields(b)
	// State is field 3; startcode, endcode and startstack 26-28;
	// start_data, end_data, start_brk, arg_start, arg_end, env_start and
	// env_end 45-51 (proc(5); all there since Linux 3.5).
	if !ok || len(f) < 51-2 || f[0][0] == 'Z' || f[0][0] == 'X' {
		return fingerprint{}, false
	}
	layout := make([]byte, 0, 160)
	for _, n := range [...]int{26, 27, 28, 45, 46, 47, 48, 49, 50, 51} {
		layout = append(append(layout, f[n-3]...), ' ')
	}
	return fingerprint{
		layout:   string(layout),
		comm:     string(comm),
		argStart: uint64(procfs.StatField(f, 48)),
		argEnd:   uint64(procfs.StatField(f, 49)),
	}, true
}

// maxArgv bounds the argument area read from the tracee's memory; a larger
// one (a stack limit raised far past ARG_MAX's usual 2 MiB) is read
// through /proc.
const maxArgv = 32 << 20

// readArgv is the argument vector of p's new image, whose fingerprint fp
// was just read: the argument area read from its memory in one call,
// which is what /proc/PID/cmdline reads (an open, a read and a close more).
// The kernel's file also handles a process that rewrote its arguments past
// their end (setproctitle); such an area, an unreadable one or a
// fingerprint without it is read through /proc/PID/cmdline instead.
func (sup *supervisor) readArgv(p *proc, fp fingerprint) []string {
	if n := fp.argEnd - fp.argStart; fp.argStart != 0 && fp.argEnd > fp.argStart && n <= maxArgv {
		if cap(sup.bigBuf) < int(n) {
			sup.bigBuf = make([]byte, n)
		}
		b := sup.bigBuf[:n]
		if sup.mem.read(p.tgid, fp.argStart, b) == nil && b[n-1] == 0 {
			return splitArgv(b)
		}
	}
	return sup.readCmdline(p.dir + "cmdline")
}

// readComm is the command name in /proc/PID/stat (readable for zombies).
func (sup *supervisor) readComm(path string) (string, bool) {
	b, err := sup.readProc(path)
	if err != nil {
		return "", false
	}
	comm, ok := procfs.StatComm(b)
	return string(comm), ok
}

// readCmdline is the argument vector in /proc/PID/cmdline; the arguments
// share one string.
func (sup *supervisor) readCmdline(path string) []string {
	b, err := sup.readProc(path)
	if err != nil || len(b) == 0 {
		return []string{}
	}
	return splitArgv(b)
}

// splitArgv splits an argument area (NUL-terminated strings) into
// arguments that share one string.
func splitArgv(b []byte) []string {
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// execMappings lists the files mapped executable in /proc/PID/maps, in
// the tracee's root.
func (sup *supervisor) execMappings(path, root string) []string {
	b, err := sup.readProc(path)
	if err != nil {
		return nil
	}
	var out []string
	for line := range bytes.Lines(b) {
		line = bytes.TrimSuffix(line, []byte{'\n'})
		// address perms offset dev inode path
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 || len(line) < sp+4 || line[sp+3] != 'x' {
			continue
		}
		k := bytes.IndexByte(line, '/')
		if k < 0 {
			continue
		}
		p := strings.TrimSuffix(string(line[k:]), " (deleted)")
		if strings.Contains(p, `\012`) {
			// The maps file prints a newline in a name as \012, and a
			// backslash as itself: of the two readings, take the name
			// that exists.
			var st unix.Stat_t
			if u := strings.ReplaceAll(p, `\012`, "\n"); unix.Lstat(u, &st) == nil || unix.Lstat(p, &st) != nil {
				p = u
			}
		}
		if root != "" && strings.HasPrefix(p, root+"/") {
			p = p[len(root):]
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// sameImage compares what only exec changes (not the name: a process may
// rename itself).
func (f fingerprint) sameImage(g fingerprint) bool {
	return f.layout == g.layout
}
