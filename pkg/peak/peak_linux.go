//go:build linux

package peak

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-learn/sandlock-learn/internal/procfs"
	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

const (
	// DefaultInterval is the sampler's period (see the package doc).
	DefaultInterval = 10 * time.Millisecond
	// ForkGrace is how long after Fork a pending child may still be
	// invisible in its parent's children list because fork itself has not
	// returned yet (copying a large parent's page tables takes a few ms).
	ForkGrace = 5 * time.Millisecond
	// maxLen caps a single charge so sums of absurd lengths cannot overflow.
	maxLen = uint64(1) << 56
)

// proc is one live process of the tree.
type proc struct {
	tgid    int
	parent  int
	pidfd   int    // -1 when pidfd_open is unavailable (or out of fds)
	handles        // its /proc files kept open (see handles)
	tried   uint8  // handles opened (or tried: nil after EMFILE, then paths are used)
	armed   bool   // false only for the tracer's pre-exec helper image
	charge  int64  // ledger charge in bytes: dcharge + the rest
	dcharge int64  // the part statm data covers (floored at it); see Mmap
	brk     uint64 // current break as the ledger knows it; 0 = unknown
	brkMin  uint64 // start_brk of the image; 0 = unknown
	fresh   bool   // the image was just executed: its heap is empty
	maps    int    // /proc/PID/maps for PROCMAP_QUERY, opened on first need; -1
	moved   spans  // reservation ranges moved under the floor (Mprotect)
	pending []fork
}

// fork is a pending fork of a process: when it was made and the parent's
// break then, which the child inherits (so its first brk needs no /proc
// read and its inherited heap is not charged twice).
type fork struct {
	at          time.Time
	brk, brkMin uint64
}

// Tracker accumulates the peaks of one process tree. All methods are safe for
// concurrent use.
type Tracker struct {
	mu       sync.Mutex
	root     int
	procs    map[int]*proc
	total    int64 // ledger sum over procs
	pending  int   // sum of len(p.pending)
	peak     event.Peak
	interval time.Duration
	pageSize int64
	selfExe  unix.Stat_t
	selfOK   bool
	noPidfd  bool
	noQuery  bool // PROCMAP_QUERY is not available
	closed   bool
	buf      []byte // small reads under mu
	dbuf     []byte // getdents under mu
	ints     []int
	tids     []int
	pollfds  []unix.PollFd
	pollWho  []*proc

	sampleMu sync.Mutex // serializes passes; guards the scratch below
	scratch  sampleScratch
}

// New starts tracking the tree rooted at rootPID (a process, not a thread).
func New(rootPID int) *Tracker {
	t := &Tracker{
		root:     rootPID,
		procs:    make(map[int]*proc),
		interval: DefaultInterval,
		pageSize: int64(os.Getpagesize()),
		buf:      make([]byte, 0, 512),
	}
	t.selfExe, t.selfOK = exeStat(0)
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.addLocked(rootPID, 0); p != nil && t.selfOK {
		if st, ok := exeStat(rootPID); ok && sameFile(&st, &t.selfExe) {
			p.armed = false
		}
	}
	t.notePeaksLocked()
	return t
}

// SetInterval changes the sampler's period (before or during Run). Values
// below one millisecond are raised to it.
func (t *Tracker) SetInterval(d time.Duration) {
	if d < time.Millisecond {
		d = time.Millisecond
	}
	t.mu.Lock()
	t.interval = d
	t.mu.Unlock()
}

// Seen records that tgid made a notified syscall: a process of the tree we
// may not have found yet.
func (t *Tracker) Seen(tgid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.getLocked(tgid)
}

// Mmap charges an anonymous mapping of length bytes that tgid asks for,
// with mmap's prot and flags arguments: a private writable mapping is the
// kind statm data counts (see InData), so its charge is the part of the
// ledger the statm floor applies to; any other (PROT_NONE reservations,
// read-only or shared mappings) is charged on top of that floor.
func (t *Tracker) Mmap(tgid int, length, prot, flags uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.chargeableLocked(tgid); p != nil {
		t.floorLocked(p, t.readDataLocked(p))
		t.chargeLocked(p, length, InData(prot, flags))
	}
}

// InData reports whether an anonymous mapping with these mmap prot and
// flags arguments is counted by the kernel in statm's data field
// (mm->data_vm: private and writable; the stack is added too): such a
// mapping is seen by the statm floor even when it is never notified.
func InData(prot, flags uint64) bool {
	const mapType, mapPrivate = 0x0f, 0x02
	return prot&unix.PROT_WRITE != 0 && flags&mapType == mapPrivate && flags&unix.MAP_HUGETLB == 0
}

// Munmap credits the range [addr, addr+length) to tgid. The process is
// stopped before the call, so its statm data still includes the range:
// the floor is applied first, so that a range made of mappings never
// notified (small ones, see the package doc) is credited from the part
// that counted them, never from another mapping's charge.
func (t *Tracker) Munmap(tgid int, addr, length uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.chargeableLocked(tgid); p != nil {
		t.floorLocked(p, t.readDataLocked(p))
		t.creditRangeLocked(p, addr, length)
	}
}

// Mprotect accounts mprotect(addr, length, prot) by tgid. Only a change to
// writable matters: an anonymous private PROT_NONE mapping (a reservation,
// charged on top of the statm floor when it was mapped) enters statm data,
// so that much of its charge moves under the floor instead of being
// counted twice (glibc maps thread stacks and grows its per-thread arenas
// this way). Only PROT_NONE is moved: a read-only or executable mapping
// made writable (a JIT's code pages) may be one that was never charged (a
// small map), and moving for it would take the charge of a reservation
// still in place. A range is moved once until it is unmapped.
func (t *Tracker) Mprotect(tgid int, addr, length, prot uint64) {
	if prot&unix.PROT_WRITE == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.chargeableLocked(tgid)
	if p == nil {
		return
	}
	var moved uint64
	t.vmasLocked(p, addr, length, func(v vma) {
		if !v.anon || v.flags&(vmaReadable|vmaWritable|vmaExecutable|vmaShared) != 0 {
			return
		}
		p.moved.uncovered(v.start, v.end, func(s, e uint64) {
			if len(p.moved) < maxSpans {
				moved += e - s
				p.moved = p.moved.add(s, e)
			}
		})
	})
	if m := int64(min(moved, maxLen)); m > 0 {
		p.dcharge += min(m, p.charge-p.dcharge)
	}
}

// creditRangeLocked credits an unmapped range to p: the part statm data
// counts from the floored part of the charge, the rest from the part on
// top of it, nothing for holes. When the kernel cannot tell which part is
// which, the floored part goes first (see creditLocked).
func (t *Tracker) creditRangeLocked(p *proc, addr, length uint64) {
	if len(p.moved) > 0 {
		p.moved = p.moved.remove(addr, addr+length)
	}
	s, ok := t.splitRangeLocked(p, addr, length)
	if !ok {
		t.creditLocked(p, length)
		return
	}
	d := int64(min(s.data, maxLen))
	o := int64(min(s.anonRO+s.other, maxLen))
	before := p.charge
	top := p.charge - p.dcharge
	// The part statm data counts: from the floored part, any excess
	// from the part on top.
	a := min(d, p.dcharge)
	p.dcharge -= a
	top -= min(d-a, top)
	// The rest: from the part on top, any excess from the floored part.
	c := min(o, top)
	top -= c
	p.dcharge -= min(o-c, p.dcharge)
	p.charge = p.dcharge + top
	t.total -= before - p.charge
}

// Brk accounts brk(addr) by tgid: the change from its previous break is
// charged or credited. addr 0 is a query, which only pins the baseline.
func (t *Tracker) Brk(tgid int, addr uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.chargeableLocked(tgid)
	if p == nil {
		return
	}
	if p.brk == 0 {
		if p.fresh {
			// A new image has an empty heap: its break is start_brk,
			// one pread of the /proc/PID/stat handle kept open (the
			// maps file costs several times that, on the answer path).
			if v := t.startBrkLocked(p); v > 0 {
				p.brkMin, p.brk = v, v
			}
		}
		if p.brk == 0 {
			// The caller is stopped before the syscall, so /proc
			// shows the break as it is before this call.
			p.brkMin, p.brk = readBreak(tgid)
		}
	}
	p.fresh = false
	if addr == 0 || p.brk == 0 || (p.brkMin != 0 && addr < p.brkMin) {
		// A query, an unreadable baseline, or a request the kernel
		// refuses (below the heap's start) changes nothing.
		if addr != 0 && p.brk == 0 {
			p.brk = addr // best effort: sandlock's own first-call base
		}
		return
	}
	switch {
	case addr > p.brk:
		t.floorLocked(p, t.readDataLocked(p))
		t.chargeLocked(p, addr-p.brk, true)
	case addr < p.brk:
		t.floorLocked(p, t.readDataLocked(p))
		t.creditLocked(p, p.brk-addr)
	}
	p.brk = addr
}

// startBrkLocked returns start_brk (stat field 47) of p, or 0.
func (t *Tracker) startBrkLocked(p *proc) uint64 {
	if v := procfs.StatField(t.statFieldsLocked(p.stat, p.tgid), 47); v > 0 {
		return uint64(v)
	}
	return 0
}

// statFieldsLocked splits tgid's /proc/PID/stat, read through the handle
// stat when it has one and the line fits t.buf, else by path.
func (t *Tracker) statFieldsLocked(stat *os.File, tgid int) [][]byte {
	if n, _ := readAt(stat, t.buf[:cap(t.buf)]); n > 0 && n < cap(t.buf) {
		return procfs.StatFields(t.buf[:n])
	}
	return readStat(tgid)
}

// readAt preads f from offset 0; a nil f reads nothing.
func readAt(f *os.File, b []byte) (int, error) {
	if f == nil {
		return 0, os.ErrInvalid
	}
	return f.ReadAt(b, 0)
}

// Mremap accounts mremap of the mapping at addr from oldLen to newLen
// bytes.
func (t *Tracker) Mremap(tgid int, addr, oldLen, newLen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.chargeableLocked(tgid)
	if p == nil {
		return
	}
	// Growth is charged to the part the statm floor applies to: it can
	// only be counted more (never less) than sandlock would.
	switch {
	case newLen > oldLen:
		t.floorLocked(p, t.readDataLocked(p))
		t.chargeLocked(p, newLen-oldLen, true)
	case newLen < oldLen:
		t.floorLocked(p, t.readDataLocked(p))
		t.creditRangeLocked(p, addr+newLen, oldLen-newLen)
	}
}

// Fork records that a process-creating fork, vfork, clone or clone3 (not
// CLONE_THREAD) is about to run in tgid: the child is counted now, before it
// can run, so a burst of short-lived children is counted in full.
func (t *Tracker) Fork(tgid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.getLocked(tgid)
	if p == nil {
		return
	}
	now := time.Now()
	t.reapLocked()
	if len(p.pending) > 0 {
		// The earlier forks of this parent: find their children now.
		kids, threads := t.childrenLocked(p)
		t.adoptChildrenLocked(p, kids)
		// A single-threaded parent is back in fork, so its earlier forks
		// have returned; a child still missing is already gone.
		single := threads == 1
		t.expireLocked(p, func(at time.Time) bool { return single || now.Sub(at) >= ForkGrace })
	}
	p.pending = append(p.pending, fork{at: now, brk: p.brk, brkMin: p.brkMin})
	t.pending++
	t.notePeaksLocked()
}

// Exec records that tgid successfully executed a new image: its ledger
// charge is given back (the old address space is gone) and its break is
// forgotten. Call it before passing on the new image's memory calls.
func (t *Tracker) Exec(tgid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.getLocked(tgid)
	if p == nil {
		return
	}
	t.total -= p.charge
	p.charge, p.dcharge = 0, 0
	p.brk, p.brkMin = 0, 0
	p.fresh = true
	p.armed = true
	p.moved = nil
	if p.maps >= 0 {
		// The maps file stays bound to the address space it was
		// opened on, which the exec replaced.
		unix.Close(p.maps)
		p.maps = -1
	}
}

// FD records that tgid holds file descriptor fd (seen in a notification's
// arguments, e.g. a socket passed to connect). Cheap: no /proc access.
func (t *Tracker) FD(tgid, fd int) {
	if fd < 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd+1 > t.peak.FDMax {
		t.peak.FDMax = fd + 1
	}
}

// Peak returns the peaks so far (the final peak once the tree is gone).
func (t *Tracker) Peak() event.Peak {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peak
	p.Sample = false
	// Every live process has at least one thread, so the thread peak is
	// at least the process peak even when no sample caught the tree.
	p.Threads = max(p.Threads, p.Processes)
	return p
}

// Live returns the number of live processes the tracker knows of now. It is
// meant for status lines and tests.
func (t *Tracker) Live() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reapLocked()
	return len(t.procs)
}

// Run samples the tree every interval until ctx is done.
func (t *Tracker) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		t.Sample()
		cost := time.Since(start)
		t.mu.Lock()
		next := t.interval
		t.mu.Unlock()
		// Never spend more than about a tenth of a core on sampling.
		if 10*cost > next {
			next = 10 * cost
		}
		timer.Reset(next)
	}
}

// Close releases the pidfds and /proc files the tracker holds. Peak still
// works afterwards; the other calls do nothing.
func (t *Tracker) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.procs {
		t.removeLocked(p)
	}
	t.closed = true
}

// getLocked returns tgid's record, registering a newly seen process.
func (t *Tracker) getLocked(tgid int) *proc {
	if p := t.procs[tgid]; p != nil {
		return p
	}
	if t.closed || tgid <= 0 {
		return nil
	}
	p := t.addLocked(tgid, -1)
	t.notePeaksLocked()
	return p
}

// addLocked registers a live process and takes one pending fork of its
// parent (-1: read from its stat). It returns nil when the process is
// already gone.
//
// Only the pidfd and the stat handle are opened here: most processes of a
// build or a shell script live a few milliseconds, and opening the other
// /proc files at every first call cost an exec'd /bin/true 45 us of the
// supervisor's answer path (handleLocked opens them when first needed).
func (t *Tracker) addLocked(tgid, parent int) *proc {
	pidfd := -1
	if !t.noPidfd {
		fd, err := unix.PidfdOpen(tgid, 0)
		switch {
		case err == nil:
			pidfd = fd
		case errors.Is(err, unix.ENOSYS):
			t.noPidfd = true
		case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE):
			// Out of fds (a huge tree): still count it; the sampler
			// watches its /proc entry instead.
		default:
			// ESRCH: gone (and reaped). EINVAL: not a process.
			return nil
		}
	}
	stat, err := os.Open(procPath(t.buf, tgid, "/stat"))
	if err != nil && !errors.Is(err, unix.EMFILE) && !errors.Is(err, unix.ENFILE) {
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		return nil
	}
	if pidfd < 0 && processGone(tgid) {
		if stat != nil {
			stat.Close()
		}
		return nil
	}
	if parent < 0 {
		parent = max(int(procfs.StatField(t.statFieldsLocked(stat, tgid), 4)), 0)
	}
	p := &proc{tgid: tgid, parent: parent, pidfd: pidfd, handles: handles{stat: stat}, tried: hStat, armed: true, maps: -1}
	t.procs[tgid] = p
	if pp := t.procs[parent]; pp != nil && len(pp.pending) > 0 {
		// The child of the oldest pending fork; a forked child's
		// break is its parent's at the fork.
		p.brk, p.brkMin = pp.pending[0].brk, pp.pending[0].brkMin
		pp.pending = pp.pending[1:]
		t.pending--
	}
	return p
}

// handles are the /proc files of a process kept open: re-reading an open
// one (pread at 0, lseek + getdents) costs a third of the syscalls of
// opening it by path each time. stat is opened when the process is
// registered (its parent is read from it), statm by the first memory call
// that needs it, kids and fdDir by the first sampling pass that sees the
// process. Any may be nil (out of fds: the reads go by path).
type handles struct {
	stat, statm, kids, fdDir *os.File
}

// The handles, as bits of proc.tried.
const (
	hStat uint8 = 1 << iota
	hStatm
	hKids
	hFD
)

// get returns the field of handle h.
func (hs *handles) get(h uint8) **os.File {
	switch h {
	case hStat:
		return &hs.stat
	case hStatm:
		return &hs.statm
	case hKids:
		return &hs.kids
	default:
		return &hs.fdDir
	}
}

// handleRest is the part after /proc/PID of handle h's file.
func handleRest(h uint8, pid int) string {
	switch h {
	case hStat:
		return "/stat"
	case hStatm:
		return "/statm"
	case hKids:
		return "/task/" + strconv.Itoa(pid) + "/children"
	default:
		return "/fd"
	}
}

// handleLocked returns p's handle h, opening it on first need (nil when
// the open failed: callers then read by path, which only costs speed).
// The sampler reads the handles without the lock, so it takes its copies
// under the lock and opens the ones a process lacks outside it (Sample).
func (t *Tracker) handleLocked(p *proc, h uint8) *os.File {
	f := p.get(h)
	if p.tried&h == 0 {
		p.tried |= h
		*f, _ = os.Open(procPath(t.buf, p.tgid, handleRest(h, p.tgid)))
	}
	return *f
}

// removeLocked forgets an exited process and gives its charge back.
func (t *Tracker) removeLocked(p *proc) {
	t.total -= p.charge
	t.pending -= len(p.pending)
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
	}
	if p.maps >= 0 {
		unix.Close(p.maps)
	}
	for _, f := range []*os.File{p.statm, p.stat, p.kids, p.fdDir} {
		if f != nil {
			f.Close()
		}
	}
	delete(t.procs, p.tgid)
}

// reapLocked removes every process whose pidfd says it has exited.
func (t *Tracker) reapLocked() {
	fds, who := t.pollfds[:0], t.pollWho[:0]
	for _, p := range t.procs {
		if p.pidfd >= 0 {
			fds = append(fds, unix.PollFd{Fd: int32(p.pidfd), Events: unix.POLLIN})
			who = append(who, p)
		}
	}
	if len(fds) > 0 {
		for {
			if _, err := unix.Poll(fds, 0); err != unix.EINTR {
				break
			}
		}
		// A pidfd is readable once the whole process has exited
		// (pidfd_open(2)); a zombie no longer counts as live.
		for i, f := range fds {
			if f.Revents != 0 {
				t.removeLocked(who[i])
			}
		}
	}
	clear(who)
	t.pollfds, t.pollWho = fds, who[:0]
}

// chargeableLocked returns the process whose ledger a memory call changes,
// or nil for a gone process or the tracer's pre-exec helper.
func (t *Tracker) chargeableLocked(tgid int) *proc {
	p := t.getLocked(tgid)
	if p == nil {
		return nil
	}
	if !p.armed {
		st, ok := exeStat(tgid)
		if !ok || sameFile(&st, &t.selfExe) {
			return nil
		}
		p.armed = true // it runs another image: the exec went unreported
	}
	return p
}

// readDataLocked returns the statm data field of p in bytes (0 if unknown).
func (t *Tracker) readDataLocked(p *proc) int64 {
	var b []byte
	if f := t.handleLocked(p, hStatm); f != nil {
		n, _ := f.ReadAt(t.buf[:cap(t.buf)], 0)
		b = t.buf[:max(n, 0)]
	} else {
		b, _ = procfs.ReadFile(procPath(t.buf, p.tgid, "/statm"), t.buf)
		t.buf = b[:0]
	}
	_, data, ok := parseStatm(b)
	if !ok {
		return 0
	}
	return data * t.pageSize
}

// floorLocked raises the part of p's charge that statm data covers to at
// least floor bytes (the rest, reservations and other mappings data does
// not count, stays on top).
func (t *Tracker) floorLocked(p *proc, floor int64) {
	if floor > p.dcharge {
		t.total += floor - p.dcharge
		p.charge += floor - p.dcharge
		p.dcharge = floor
		t.noteMemLocked()
	}
}

// chargeLocked charges n bytes to p, to the data-covered part if inData.
func (t *Tracker) chargeLocked(p *proc, n uint64, inData bool) {
	if n > maxLen {
		n = maxLen
	}
	p.charge += int64(n)
	if inData {
		p.dcharge += int64(n)
	}
	t.total += int64(n)
	t.noteMemLocked()
}

// creditLocked takes n bytes off p's charge, from the data-covered part
// first: which kind of mapping a range was is not known here, and taking
// it from that part can only leave the ledger higher than the exact
// attribution (the floor brings the part back to data), never lower.
func (t *Tracker) creditLocked(p *proc, n uint64) {
	c := int64(min(n, maxLen))
	if c > p.charge {
		c = p.charge
	}
	p.charge -= c
	p.dcharge -= min(c, p.dcharge)
	t.total -= c
}

func (t *Tracker) noteMemLocked() {
	if t.total > t.peak.MemBytes {
		t.peak.MemBytes = t.total
	}
}

func (t *Tracker) notePeaksLocked() {
	t.noteMemLocked()
	if n := len(t.procs) + t.pending; n > t.peak.Processes {
		t.peak.Processes = n
	}
}

// childrenLocked lists the children of every task of p, and counts the
// tasks. It runs on the answer path of a fork: a single-threaded process
// (the common case) costs two preads on handles kept open, not a directory
// scan and an open per task.
func (t *Tracker) childrenLocked(p *proc) ([]int, int) {
	t.ints = t.ints[:0]
	pid := p.tgid
	if kids := t.handleLocked(p, hKids); p.stat != nil && kids != nil {
		n, _ := p.stat.ReadAt(t.buf[:cap(t.buf)], 0)
		if _, threads := statStateThreads(t.buf[:max(n, 0)]); threads == 1 && n < cap(t.buf) {
			// A full buffer may be a cut list: read it by path below.
			if n, _ = kids.ReadAt(t.buf[:cap(t.buf)], 0); n < cap(t.buf) {
				t.ints = appendInts(t.ints, t.buf[:max(n, 0)])
				return t.ints, 1
			}
		}
	}
	tids := t.tids[:0]
	if t.dbuf == nil {
		t.dbuf = make([]byte, 8192)
	}
	scanDir(nil, procPath(t.buf, pid, "/task"), t.dbuf, func(tid int) { tids = append(tids, tid) })
	t.tids = tids
	for _, tid := range tids {
		b, err := procfs.ReadFile(procPath(t.buf, pid, "/task/"+strconv.Itoa(tid)+"/children"), t.buf)
		if err == nil {
			t.ints = appendInts(t.ints, b)
		}
		t.buf = b[:0]
	}
	return t.ints, len(tids)
}

// adoptChildrenLocked registers the children of p not yet known.
func (t *Tracker) adoptChildrenLocked(p *proc, kids []int) {
	for _, c := range kids {
		if t.procs[c] == nil {
			t.addLocked(c, p.tgid)
		}
	}
}

// expireLocked drops p's pending forks for which drop says the child would
// have been found by now.
func (t *Tracker) expireLocked(p *proc, drop func(time.Time) bool) {
	kept := p.pending[:0]
	for _, f := range p.pending {
		if drop(f.at) {
			t.pending--
			continue
		}
		kept = append(kept, f)
	}
	p.pending = kept
}
