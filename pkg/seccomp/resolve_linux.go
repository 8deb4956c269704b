//go:build linux && amd64

package seccomp

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxLinks is the kernel's limit on symlinks followed in one lookup.
const maxLinks = 40

// maxCache bounds the directory cache; it is dropped whole when full.
const maxCache = 1 << 17

// maxDirFDs bounds the descriptors of cached directories (resolver.dirs);
// they are closed together when it is reached.
const maxDirFDs = 512

// resolved is a path as the tracee's lookup would find it.
type resolved struct {
	path   string // canonical, absolute in the tracee's root
	exists bool
	dir    bool
	link   bool // the final component is a symlink (not followed)
	// The final component's owner and mode bits, when the lookup had
	// them at hand (stOK); see supervisor.refused.
	stOK          bool
	mode          uint32
	ownerUID, gid uint32
}

// resolver canonicalizes paths like the kernel's lookup: component by
// component with lstat and readlink, in the tracee's root. Directories are
// cached (raw directory string -> canonical directory), so a path in a
// known directory costs one lstat; the cache is dropped when the workload
// renames or removes something that could change what a cached string
// resolves to (see supervisor.invalidate).
type resolver struct {
	cache map[string]string
	// An O_PATH descriptor per canonical directory of the cache, opened
	// at its second lookup (dirUnopened before that): the final
	// component is looked up relative to it, one component instead of
	// the whole path. In the open storm the dentry hash lookups of the
	// leading components were a third of the receiver's lstat time
	// (perf). Same lifetime as cache: what invalidates one drops both.
	dirs    map[string]int
	linkBuf [4096]byte
	st      unix.Stat_t
	off     bool // caching suspended while a rename/rmdir is in flight
}

// Values of resolver.dirs that are not descriptors.
const (
	dirUnopened = -1 // looked up once
	dirNoFD     = -2 // could not be opened: plain lstat
)

func newResolver() *resolver {
	return &resolver{cache: make(map[string]string, 1024), dirs: make(map[string]int, 64)}
}

func (r *resolver) drop() {
	if len(r.cache) > 0 {
		clear(r.cache)
	}
	r.closeDirs()
}

func (r *resolver) closeDirs() {
	for _, fd := range r.dirs {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	clear(r.dirs)
}

// lstatIn is lstat of dir/base (full) into r.st, dir being a canonical
// directory of the cache; see dirs.
func (r *resolver) lstatIn(dir, base, full string) error {
	fd, ok := r.dirs[dir]
	switch {
	case !ok:
		if len(r.dirs) >= maxDirFDs {
			r.closeDirs()
		}
		r.dirs[dir] = dirUnopened
		fd = dirNoFD
	case fd == dirUnopened:
		fd = dirNoFD
		if d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			fd = d
		}
		r.dirs[dir] = fd
	}
	if fd < 0 {
		return unix.Lstat(full, &r.st)
	}
	return unix.Fstatat(fd, base, &r.st, unix.AT_SYMLINK_NOFOLLOW)
}

// resolve resolves an absolute tracee path p. root is the tracee's root
// as a host path ("" for the host root). follow says whether a symlink in
// the final component is followed.
func (r *resolver) resolve(root, p string, follow bool, tgid, tid int) resolved {
	// Split off the final component; resolve the directory through the
	// cache. A trailing slash (or "/" itself) makes the final component a
	// directory lookup that follows a final symlink, and "." and ".." are
	// no names: the walk has those rules.
	i := strings.LastIndexByte(p, '/')
	if i < 0 || i == len(p)-1 {
		return r.walk(root, p, follow, tgid, tid, 0)
	}
	dir, base := p[:i], p[i+1:]
	if dir == "" {
		dir = "/"
	}
	if base == "." || base == ".." {
		return r.walk(root, p, follow, tgid, tid, 0)
	}
	cacheable := root == "" && !r.off && !strings.HasPrefix(dir, "/proc")
	canonDir, ok := "", false
	if cacheable {
		canonDir, ok = r.cache[dir]
	}
	if !ok {
		var d resolved
		if cacheable {
			d = r.walkDir(dir, tgid, tid)
		} else {
			d = r.walk(root, dir, true, tgid, tid, 0)
		}
		if !d.exists {
			// The lookup fails in the directory part (ENOENT): the
			// rest is lexical, exactly what a walk of the whole path
			// would say after the same lstats. Two thirds of a C
			// build's opens are include-path probes under missing
			// directories; walking them again from / cost 5-7
			// lstats each.
			return resolved{path: join(d.path, base)}
		}
		if !d.dir {
			return r.walk(root, p, follow, tgid, tid, 0)
		}
		canonDir = d.path
		if cacheable && !strings.HasPrefix(canonDir, "/proc") {
			r.cache[dir] = canonDir
		}
	}
	// p is already canonical (no copy) when its directory part is,
	// except for "//base": its directory part reads "/" too, yet the
	// path has an extra slash.
	full := p
	if dir != canonDir || dir == "/" && i != 0 {
		full = join(canonDir, base)
	}
	var err error
	if cacheable && !strings.HasPrefix(canonDir, "/proc") {
		err = r.lstatIn(canonDir, base, full)
	} else {
		err = unix.Lstat(root+full, &r.st)
	}
	if err != nil {
		return resolved{path: full}
	}
	if r.st.Mode&unix.S_IFMT == unix.S_IFLNK {
		if !follow {
			return resolved{path: full, exists: true, link: true}
		}
		// Follow it from its canonical directory, not from / again
		// (shared libraries are opened through such links: libz.so.1).
		return r.walkFrom(root, canonDir, base, true, tgid, tid, 0, "")
	}
	return resolved{path: full, exists: true, dir: r.st.Mode&unix.S_IFMT == unix.S_IFDIR,
		stOK: true, mode: r.st.Mode & 0o7777, ownerUID: r.st.Uid, gid: r.st.Gid}
}

// walkDir resolves directory dir (host root) starting from its longest
// cached ancestor, and caches every directory on the way whose raw prefix
// is known: a new directory under a known one costs one lstat.
func (r *resolver) walkDir(dir string, tgid, tid int) resolved {
	start, rest := "/", dir
	for i := len(dir); i > 0; {
		i = strings.LastIndexByte(dir[:i], '/')
		if i <= 0 {
			break
		}
		if c, ok := r.cache[dir[:i]]; ok {
			start, rest = c, dir[i:]
			break
		}
	}
	if len(r.cache) >= maxCache {
		r.drop()
	}
	return r.walkFrom("", start, rest, true, tgid, tid, 0, dir[:len(dir)-len(rest)])
}

// walk is the uncached lookup.
func (r *resolver) walk(root, p string, follow bool, tgid, tid int, links int) resolved {
	return r.walkFrom(root, "/", p, follow, tgid, tid, links, "")
}

// walkFrom resolves rest from the canonical directory cur. With rawBase
// set (host root, caching on), each directory reached while the raw path
// was followed literally (no symlink, no "..") is cached under its raw
// prefix.
func (r *resolver) walkFrom(root, cur, rest string, follow bool, tgid, tid int, links int, rawBase string) resolved {
	isDir := true
	caching := rawBase != "" || cur == "/"
	if root != "" || r.off {
		caching = false
	}
	raw := rawBase
	for {
		var comp string
		comp, rest = nextComp(rest)
		if comp == "" {
			break
		}
		if comp == "." {
			continue
		}
		if comp == ".." {
			cur = parent(cur)
			isDir = true
			caching = false
			continue
		}
		// /proc/self and /proc/thread-self name the caller: here, the
		// tracee, not us.
		if cur == "/proc" && root == "" {
			switch comp {
			case "self":
				cur = "/proc/" + strconv.Itoa(tgid)
				caching = false
				continue
			case "thread-self":
				cur = "/proc/" + strconv.Itoa(tgid) + "/task/" + strconv.Itoa(tid)
				caching = false
				continue
			}
		}
		next := join(cur, comp)
		if !r.lookup(root+next, rest) {
			// Missing (or ENOTDIR): the rest is appended lexically.
			return resolved{path: lexical(next, rest)}
		}
		mode := r.st.Mode & unix.S_IFMT
		// A symlink is followed unless it ends the path: anything after
		// it ("/", "/.", more components) makes the kernel follow it even
		// without follow (O_NOFOLLOW, lstat).
		if mode == unix.S_IFLNK && (rest != "" || follow) {
			links++
			if links > maxLinks {
				return resolved{path: lexical(next, rest)} // ELOOP
			}
			n, err := unix.Readlink(root+next, r.linkBuf[:])
			if err != nil || n == 0 {
				return resolved{path: lexical(next, rest)}
			}
			target := string(r.linkBuf[:n])
			caching = false
			if target[0] != '/' {
				if strings.HasPrefix(next, "/proc/") {
					// A magic link to something without a path
					// (pipe:[N], socket:[N], anon_inode:...): the
					// /proc name is all there is.
					cur = next
					isDir = false
					continue
				}
				rest = target + rest // rest is "" or starts with "/"
				continue
			}
			if root != "" && strings.HasPrefix(next, "/proc/") {
				// Magic links are printed in our root; make them the
				// tracee's.
				if strings.HasPrefix(target, root+"/") {
					target = target[len(root):]
				} else if target == root {
					target = "/"
				}
			}
			cur = "/"
			rest = target + rest
			continue
		}
		if mode == unix.S_IFLNK {
			return resolved{path: next, exists: true, link: true}
		}
		cur = next
		isDir = mode == unix.S_IFDIR
		if caching {
			raw = join(raw, comp)
			if isDir && !strings.HasPrefix(cur, "/proc") {
				r.cache[raw] = cur
			}
		}
	}
	if cur == "/" {
		return resolved{path: "/", exists: true, dir: true}
	}
	return resolved{path: cur, exists: true, dir: isDir}
}

// lookup lstats one component of a walk into r.st, rest being what
// follows it in the path. It is false when the lookup fails there:
// the component is missing, or it is neither a directory nor a symlink yet
// something follows it ("/", "/.", "..", more components), which the
// kernel refuses with ENOTDIR.
func (r *resolver) lookup(path, rest string) bool {
	if unix.Lstat(path, &r.st) != nil {
		return false
	}
	mode := r.st.Mode & unix.S_IFMT
	return rest == "" || mode == unix.S_IFDIR || mode == unix.S_IFLNK
}

func nextComp(s string) (comp, rest string) {
	for len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

func join(dir, base string) string {
	if dir == "/" {
		return "/" + base
	}
	return dir + "/" + base
}

func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// lexical appends rest to base component by component, without touching
// the file system (used once a component is missing).
func lexical(base, rest string) string {
	cur := base
	for {
		var c string
		c, rest = nextComp(rest)
		switch c {
		case "":
			return cur
		case ".":
		case "..":
			cur = parent(cur)
		default:
			cur = join(cur, c)
		}
	}
}

// mountID is the mount id of path (not following a final symlink); ok is
// false when the kernel does not report one.
func (r *resolver) mountID(path string) (uint64, bool) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE|unix.STATX_MNT_ID, &stx); err != nil || stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, false
	}
	return stx.Mnt_id, true
}

// openat2's RESOLVE_* bits (linux/openat2.h).
const (
	resolveNoXdev       = 0x01
	resolveNoMagiclinks = 0x02
	resolveNoSymlinks   = 0x04
	resolveBeneath      = 0x08
	resolveInRoot       = 0x10
)

// resolveHow resolves raw path p for openat2 with RESOLVE_* bits how,
// relative to base (the dirfd's canonical path in the tracee's root). It
// reports false when the kernel would refuse the lookup by these rules
// (ELOOP for a forbidden symlink or magic link, EXDEV for an escape from
// base under RESOLVE_BENEATH): such a call opens nothing, and recording a
// path for it would let a workload widen its own profile.
//
// RESOLVE_IN_ROOT makes base the root: absolute paths, absolute symlink
// targets and ".." stay inside it. RESOLVE_NO_XDEV refuses (EXDEV) a
// lookup that enters any directory on another mount than the one it
// starts on (base's, or the root's for an absolute path), by a mount
// point, "..", a symlink's jump to the root or a magic link: every directory
// reached and the final component are compared by statx's mount id (on a
// kernel without STATX_MNT_ID, before 5.8, it is not checked).
// RESOLVE_CACHED changes only the errno, not the path. The lookup is
// uncached: openat2 with RESOLVE_* bits is rare.
func (r *resolver) resolveHow(root, base, p string, follow bool, how uint64, tgid, tid int) (resolved, bool) {
	scoped := how&(resolveBeneath|resolveInRoot) != 0
	inRoot := how&resolveInRoot != 0
	scope := "/"
	if scoped {
		scope = base
	}
	cur, rest := base, p
	if p != "" && p[0] == '/' {
		if scoped && !inRoot {
			return resolved{}, false // EXDEV: absolute path under RESOLVE_BENEATH
		}
		cur = scope // where the lookup starts: the dirfd plays no part
	}
	// sameMount says whether path is on the mount the lookup started on
	// (always true without RESOLVE_NO_XDEV).
	startMnt, checkMnt := uint64(0), false
	if how&resolveNoXdev != 0 {
		startMnt, checkMnt = r.mountID(root + cur)
	}
	sameMount := func(path string) bool {
		if !checkMnt {
			return true
		}
		m, ok := r.mountID(root + path)
		return ok && m == startMnt
	}
	// up moves cur to its parent, clamped at (IN_ROOT) or refused above
	// (BENEATH) the scope, or refused across a mount (NO_XDEV).
	up := func() bool {
		if scoped && cur == scope {
			return inRoot
		}
		cur = parent(cur)
		return sameMount(cur)
	}
	// rootSet mirrors the kernel's nd->root: set by an absolute start, a
	// scoped lookup, the first ".." or a jump to the root. Under
	// RESOLVE_NO_XDEV the kernel compares the mount of an absolute
	// symlink's directory with the root's before it sets the root, so a
	// relative lookup that meets one before any ".." fails (EXDEV) even
	// on a single mount (checked with openat2: "abs/file" fails,
	// "a/../abs/file" opens).
	rootSet := scoped || p != "" && p[0] == '/'
	isDir, links := true, 0
	for {
		var comp string
		comp, rest = nextComp(rest)
		if comp == "" {
			break
		}
		if comp == "." {
			continue
		}
		if comp == ".." {
			rootSet = true
			if !up() {
				return resolved{}, false
			}
			isDir = true
			continue
		}
		if cur == "/proc" && root == "" && (comp == "self" || comp == "thread-self") {
			// Plain symlinks in procfs, naming the tracee.
			if how&resolveNoSymlinks != 0 {
				return resolved{}, false
			}
			cur = "/proc/" + strconv.Itoa(tgid)
			if comp == "thread-self" {
				cur += "/task/" + strconv.Itoa(tid)
			}
			continue
		}
		next := join(cur, comp)
		if !r.lookup(root+next, rest) {
			// Missing (or ENOTDIR): the rest is appended lexically, in scope.
			cur = next
			for {
				comp, rest = nextComp(rest)
				switch comp {
				case "", ".":
				case "..":
					if !up() {
						return resolved{}, false
					}
				default:
					cur = join(cur, comp)
				}
				if comp == "" {
					return resolved{path: cur}, true
				}
			}
		}
		mode := r.st.Mode & unix.S_IFMT
		if !sameMount(next) {
			return resolved{}, false // EXDEV: a mount point (NO_XDEV)
		}
		if mode == unix.S_IFLNK && (rest != "" || follow) { // as in walkFrom
			magic := isMagic(next)
			if how&resolveNoSymlinks != 0 || magic && (scoped || how&resolveNoMagiclinks != 0) {
				return resolved{}, false // ELOOP (EXDEV for a scoped magic link)
			}
			if links++; links > maxLinks {
				return resolved{}, false // ELOOP
			}
			n, err := unix.Readlink(root+next, r.linkBuf[:])
			if err != nil || n == 0 {
				return resolved{}, false
			}
			target := string(r.linkBuf[:n])
			if target[0] != '/' {
				if magic {
					cur, isDir = next, false // pipe:[N] and the like
					continue
				}
				rest = target + rest
				continue
			}
			if scoped && !inRoot {
				return resolved{}, false // EXDEV: absolute symlink under RESOLVE_BENEATH
			}
			if magic && root != "" {
				if strings.HasPrefix(target, root+"/") {
					target = target[len(root):]
				} else if target == root {
					target = "/"
				}
			}
			if how&resolveNoXdev != 0 && !rootSet && !magic {
				return resolved{}, false // EXDEV: see rootSet
			}
			cur, rest = scope, target+rest
			if !sameMount(cur) {
				return resolved{}, false // EXDEV: the jump to the root crosses a mount
			}
			rootSet = true
			continue
		}
		if mode == unix.S_IFLNK {
			return resolved{path: next, exists: true, link: true}, true
		}
		cur = next
		isDir = mode == unix.S_IFDIR
	}
	return resolved{path: cur, exists: true, dir: isDir}, true
}

// isMagic says whether the symlink at tracee path p is a procfs magic
// link (/proc/PID/{fd/N,cwd,root,exe,ns/*,map_files/*}, also under
// task/TID): every symlink below a /proc/PID directory is one.
func isMagic(p string) bool {
	if !strings.HasPrefix(p, "/proc/") {
		return false
	}
	s := p[len("/proc/"):]
	i := strings.IndexByte(s, '/')
	if i <= 0 {
		return false
	}
	for _, c := range []byte(s[:i]) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
