//go:build linux

package peak

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/sandlock-learn/sandlock-learn/internal/procfs"
	"golang.org/x/sys/unix"
)

// The /proc readers below are written for the sampler's budget: they reuse
// caller buffers, parse numbers in place and never build a string per
// directory entry, because a pass runs every few milliseconds beside the
// workload and a process may hold tens of thousands of fds.

// procPath builds "/proc/PID/rest" without fmt.
func procPath(buf []byte, pid int, rest string) string {
	buf = append(buf[:0], "/proc/"...)
	buf = strconv.AppendInt(buf, int64(pid), 10)
	buf = append(buf, rest...)
	return string(buf)
}

// parseStatm returns fields 2 (resident) and 6 (data: data + stack) of
// /proc/PID/statm, in pages. proc(5): "size resident shared text lib data dt".
func parseStatm(b []byte) (resident, data int64, ok bool) {
	f := bytes.Fields(b)
	if len(f) < 6 {
		return 0, 0, false
	}
	r, err1 := strconv.ParseInt(string(f[1]), 10, 64)
	d, err2 := strconv.ParseInt(string(f[5]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return r, d, true
}

// statStateThreads returns the state (field 3) and num_threads (field 20)
// of a /proc/PID/stat line without allocating: the sampler reads it for
// every process on every pass.
func statStateThreads(b []byte) (state byte, threads int) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	field := 2
	for j := i + 1; j < len(b); j++ {
		if b[j] == ' ' {
			field++
			continue
		}
		switch field {
		case 3:
			if state == 0 {
				state = b[j]
			}
		case 20:
			if b[j] >= '0' && b[j] <= '9' {
				threads = threads*10 + int(b[j]-'0')
			}
		}
		if field > 20 {
			break
		}
	}
	return state, threads
}

// readStat reads /proc/PID/stat. Fields 45 and later (start_brk among them)
// read as 0 without ptrace read access to the process (proc(5)).
func readStat(pid int) [][]byte {
	b, err := os.ReadFile(procPath(nil, pid, "/stat"))
	if err != nil {
		return nil
	}
	return procfs.StatFields(b)
}

// processGone reports whether /proc says pid has exited (no entry, or a
// zombie / dead state). Only used for processes without a pidfd; when /proc
// cannot be read for another reason (out of fds), the process is presumed
// alive: forgetting a live process would undercount.
func processGone(pid int) bool {
	b, err := os.ReadFile(procPath(nil, pid, "/stat"))
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH)
	}
	state, _ := statStateThreads(b)
	return state == 'Z' || state == 'X' || state == 0
}

// readBreak returns the start of the heap and the current program break of
// pid. The kernel exports start_brk (stat field 47) but not the current
// break; the [heap] mapping ends at the current break rounded up to a page,
// and there is no [heap] line while the break is still at start_brk. Both
// are 0 when they cannot be read.
func readBreak(pid int) (start, cur uint64) {
	if v := procfs.StatField(readStat(pid), 47); v > 0 {
		start = uint64(v)
	}
	cur = start
	f, err := os.Open(procPath(nil, pid, "/maps"))
	if err != nil {
		return start, cur
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasSuffix(line, []byte("[heap]")) {
			continue
		}
		dash := bytes.IndexByte(line, '-')
		sp := bytes.IndexByte(line, ' ')
		if dash < 0 || sp < dash {
			break
		}
		if end, err := strconv.ParseUint(string(line[dash+1:sp]), 16, 64); err == nil && end > cur {
			cur = end
		}
		break
	}
	return start, cur
}

// appendInts parses space-separated decimal numbers (a children file).
func appendInts(dst []int, b []byte) []int {
	n, in := 0, false
	for _, c := range b {
		if c >= '0' && c <= '9' {
			n = n*10 + int(c-'0')
			in = true
			continue
		}
		if in {
			dst = append(dst, n)
		}
		n, in = 0, false
	}
	if in {
		dst = append(dst, n)
	}
	return dst
}

// scanDir calls fn with each numeric entry name of a /proc directory (task
// ids, fd numbers), parsing linux_dirent64 records from getdents64 directly
// so no string is built per entry. dir, when not nil, is the directory kept
// open: it is rewound instead of opened again. buf is reused.
func scanDir(dir *os.File, path string, buf []byte, fn func(int)) error {
	if dir != nil {
		rc, err := dir.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		// Read holds a reference on the fd, so a concurrent Close cannot
		// hand its number to another file while we use it.
		err = rc.Read(func(fd uintptr) bool {
			if _, serr = unix.Seek(int(fd), 0, io.SeekStart); serr == nil {
				serr = getdentsAll(int(fd), buf, fn)
			}
			return true
		})
		if err != nil {
			return err
		}
		return serr
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return getdentsAll(fd, buf, fn)
}

func getdentsAll(fd int, buf []byte, fn func(int)) error {
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen;
		// u8 d_type; char d_name[]; } (getdents64(2)).
		for off := 0; off+19 <= n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen == 0 || off+reclen > n {
				break
			}
			name := buf[off+19 : off+reclen]
			v, ok := 0, false
			for _, c := range name {
				if c == 0 {
					break
				}
				if c < '0' || c > '9' {
					ok = false
					break
				}
				v, ok = v*10+int(c-'0'), true
			}
			if ok {
				fn(v)
			}
			off += reclen
		}
	}
}

// sameFile reports whether two stat results name the same inode.
func sameFile(a, b *unix.Stat_t) bool {
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// exeStat stats the executable of pid (following /proc/PID/exe).
func exeStat(pid int) (unix.Stat_t, bool) {
	var st unix.Stat_t
	var path string
	if pid == 0 {
		path = "/proc/self/exe"
	} else {
		path = procPath(nil, pid, "/exe")
	}
	if err := unix.Stat(path, &st); err != nil {
		return st, false
	}
	return st, true
}
