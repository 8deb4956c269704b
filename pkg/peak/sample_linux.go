//go:build linux

package peak

import (
	"io"
	"os"
	"strconv"
	"time"

	"github.com/sandlock-learn/sandlock-learn/internal/procfs"
	"golang.org/x/sys/unix"
)

// sampleScratch is the sampler's reusable memory: its size follows the
// largest tree seen, not the number of passes.
type sampleScratch struct {
	snap []scanned
	kids []int
	tids []int
	buf  []byte
	dbuf []byte
	path []byte
}

// scanned is what one pass read about one process, outside the lock.
type scanned struct {
	p        *proc
	handles       // p's, taken under the lock
	armed    bool // measured this pass (not the pre-exec helper)
	arm      bool // the pre-exec helper now runs another image
	gone     bool // no pidfd and /proc says it exited
	ok       bool // statm was read
	data     int64
	rss      int64
	threads  int
	fdMax    int
	kidsFrom int
	kidsTo   int
	open     uint8 // handles p has not tried yet: this pass opens them
	opened   uint8 // handles this pass opened (outside the lock): installed or closed
}

// closeOpened closes the handles this pass opened and did not install.
func (r *scanned) closeOpened() {
	for h := hStat; h <= hFD; h <<= 1 {
		if f := *r.get(h); r.opened&h != 0 && f != nil {
			f.Close()
		}
	}
	r.opened = 0
}

// Sample runs one sampling pass now: exits are collected, every live process
// is floored at its statm data, new children are registered, and the RSS,
// thread and fd peaks are updated. Run calls it periodically; it is exported
// so a caller can take a pass at a moment it chooses.
func (t *Tracker) Sample() {
	t.sampleMu.Lock()
	defer t.sampleMu.Unlock()
	s := &t.scratch

	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.reapLocked()
	s.snap = s.snap[:0]
	for _, p := range t.procs {
		r := scanned{p: p, armed: p.armed, handles: p.handles}
		if p.armed {
			// Opened by the scan, outside the lock: a pass that finds
			// a thousand new processes must not hold up the
			// supervisor's calls for their three thousand opens.
			r.open = (hStatm | hKids | hFD) &^ p.tried
		}
		s.snap = append(s.snap, r)
	}
	t.mu.Unlock()

	// The /proc reads happen without the lock, so the supervisor's calls
	// (made while a workload thread waits) are never held up by a pass.
	start := time.Now()
	s.kids = s.kids[:0]
	for i := range s.snap {
		s.scan(&s.snap[i], &t.selfExe, t.selfOK, t.pageSize)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		for i := range s.snap {
			s.snap[i].closeOpened()
			s.snap[i] = scanned{}
		}
		return
	}
	var rss int64
	threads := 0
	for i := range s.snap {
		r := &s.snap[i]
		p := r.p
		if t.procs[p.tgid] != p || r.gone {
			r.closeOpened() // exited (or replaced) while we read
		} else {
			t.installLocked(p, r)
		}
		// Do not keep exited processes reachable until the next pass.
		r.p, r.handles = nil, handles{}
		if t.procs[p.tgid] != p {
			continue
		}
		if r.gone {
			t.removeLocked(p)
			continue
		}
		if r.arm {
			p.armed = true
		}
		if r.armed && r.ok {
			t.floorLocked(p, r.data)
			rss += r.rss
			threads += r.threads
			if r.fdMax > t.peak.FDMax {
				t.peak.FDMax = r.fdMax
			}
		}
		if !r.ok {
			continue
		}
		for _, c := range s.kids[r.kidsFrom:r.kidsTo] {
			if t.procs[c] == nil {
				t.addLocked(c, p.tgid)
			}
		}
		// A fork made ForkGrace before this pass began has returned, so
		// its child was in the children lists just read unless it is
		// gone already.
		if len(p.pending) > 0 {
			t.expireLocked(p, func(at time.Time) bool { return start.Sub(at) >= ForkGrace })
		}
	}
	if rss > t.peak.RSSBytes {
		t.peak.RSSBytes = rss
	}
	if threads > t.peak.Threads {
		t.peak.Threads = threads
	}
	t.notePeaksLocked()
}

// installLocked gives p the handles this pass opened for it, unless it got
// them meanwhile (the supervisor's calls open statm and children too).
func (t *Tracker) installLocked(p *proc, r *scanned) {
	for h := hStat; h <= hFD; h <<= 1 {
		if r.opened&h == 0 {
			continue
		}
		f := *r.get(h)
		if p.tried&h != 0 {
			if f != nil {
				f.Close()
			}
			continue
		}
		p.tried |= h
		*p.get(h) = f
	}
	r.opened = 0
}

// openHandles opens the handles r.open names (a failed open, EMFILE in a
// huge tree, leaves nil: the reads go by path).
func (s *sampleScratch) openHandles(r *scanned) {
	pid := r.p.tgid
	for h := hStatm; h <= hFD; h <<= 1 {
		if r.open&h != 0 {
			*r.get(h), _ = os.Open(s.procPath(pid, handleRest(h, pid)))
			r.opened |= h
		}
	}
}

// scan reads one process's /proc entries into r.
func (s *sampleScratch) scan(r *scanned, self *unix.Stat_t, selfOK bool, page int64) {
	pid := r.p.tgid
	if r.p.pidfd < 0 && processGone(pid) {
		r.gone = true
		return
	}
	if !r.armed {
		// The tracer's pre-exec helper: only watch for it running another
		// image (an exec the supervisor did not report).
		if st, ok := exeStat(pid); ok && selfOK && !sameFile(&st, self) {
			r.arm = true
		}
		return
	}
	if r.open != 0 {
		s.openHandles(r)
	}
	if cap(s.buf) < 4096 {
		s.buf = make([]byte, 0, 4096)
		s.dbuf = make([]byte, 16384)
	}
	// stat first: a zombie keeps its pid but has no memory, tasks or
	// fds worth reading (its pidfd reports the exit).
	threads := 0
	if b, err := s.read(r.stat, pid, "/stat"); err == nil {
		var state byte
		if state, threads = statStateThreads(b); state == 'Z' || state == 'X' {
			return
		}
	}
	if b, err := s.read(r.statm, pid, "/statm"); err == nil {
		if res, data, ok := parseStatm(b); ok {
			r.rss, r.data, r.ok = res*page, data*page, true
		}
	}
	if !r.ok {
		return // exited: the pidfd will say so
	}

	// Children are listed per task; a single-threaded process (the
	// common case) has one list, read through the handle kept open.
	r.kidsFrom = len(s.kids)
	if threads == 1 {
		r.threads = 1
		if b, err := s.read(r.kids, pid, "/task/"+strconv.Itoa(pid)+"/children"); err == nil {
			s.kids = appendInts(s.kids, b)
		}
	} else {
		s.tids = s.tids[:0]
		scanDir(nil, s.procPath(pid, "/task"), s.dbuf, func(tid int) { s.tids = append(s.tids, tid) })
		r.threads = len(s.tids)
		for _, tid := range s.tids {
			if b, err := s.read(nil, pid, "/task/"+strconv.Itoa(tid)+"/children"); err == nil {
				s.kids = appendInts(s.kids, b)
			}
		}
	}
	r.kidsTo = len(s.kids)

	// The fd directory lists open descriptors; the highest number + 1 is
	// what RLIMIT_NOFILE must allow in this process.
	hi := -1
	scanDir(r.fdDir, s.procPath(pid, "/fd"), s.dbuf, func(fd int) { hi = max(hi, fd) })
	r.fdMax = hi + 1
}

// read re-reads an open /proc file, or opens it by path when f is nil.
func (s *sampleScratch) read(f *os.File, pid int, rest string) ([]byte, error) {
	if f != nil {
		n, err := f.ReadAt(s.buf[:cap(s.buf)], 0)
		if n > 0 {
			return s.buf[:n], nil
		}
		if err == nil {
			err = io.EOF
		}
		return nil, err
	}
	b, err := procfs.ReadFile(s.procPath(pid, rest), s.buf)
	s.buf = b[:0]
	return b, err
}

func (s *sampleScratch) procPath(pid int, rest string) string {
	s.path = append(s.path[:0], "/proc/"...)
	s.path = strconv.AppendInt(s.path, int64(pid), 10)
	s.path = append(s.path, rest...)
	return string(s.path)
}
