//go:build linux

package peak

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Which part of an address range statm data counts is asked of the kernel
// with PROCMAP_QUERY (an ioctl on /proc/PID/maps, Linux 6.11): one call
// per mapping in the range, a few microseconds, where reading the maps
// text costs a hundred or more. Without it (older kernels, no access) the
// callers fall back to the attribution that can only over-count.

// procmapQuery is struct procmap_query (include/uapi/linux/fs.h).
type procmapQuery struct {
	size, queryFlags, queryAddr   uint64
	vmaStart, vmaEnd, vmaFlags    uint64
	vmaPageSize, vmaOffset, inode uint64
	devMajor, devMinor            uint32
	vmaNameSize, buildIDSize      uint32
	vmaNameAddr, buildIDAddr      uint64
}

const (
	procmapQueryIoctl = 0xC0686611 // _IOWR('f', 17, struct procmap_query)
	vmaReadable       = 0x01
	vmaWritable       = 0x02
	vmaExecutable     = 0x04
	vmaShared         = 0x08
	coveringOrNext    = 0x10
	// maxVMAs bounds the ioctls per call; a range of more mappings is
	// left to the fallback.
	maxVMAs = 64
)

// vmaSplit is what a range is made of, in bytes.
type vmaSplit struct {
	data     uint64 // private writable: counted by statm data
	anonRO   uint64 // anonymous private not writable (PROT_NONE reservations)
	other    uint64 // any other mapping (shared, file-backed read-only)
	unmapped uint64
}

// vma is the part of one mapping that lies in a queried range.
type vma struct {
	start, end uint64
	flags      uint64 // vmaWritable, vmaShared and the read/exec bits
	anon       bool   // no file behind it
}

// vmasLocked calls fn for each mapping part in [addr, addr+length) of p,
// in address order. It returns false when the kernel could not be asked
// (then fn may have been called for a prefix of the range).
func (t *Tracker) vmasLocked(p *proc, addr, length uint64, fn func(vma)) bool {
	if t.noQuery || length == 0 {
		return false
	}
	if p.maps < 0 {
		fd, err := unix.Open(procPath(t.buf, p.tgid, "/maps"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return false
		}
		p.maps = fd
	}
	end := addr + length
	if end < addr {
		return false
	}
	at := addr
	for i := 0; at < end; i++ {
		if i == maxVMAs {
			return false
		}
		q := procmapQuery{size: uint64(unsafe.Sizeof(procmapQuery{})), queryFlags: coveringOrNext, queryAddr: at}
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(p.maps), procmapQueryIoctl, uintptr(unsafe.Pointer(&q)))
		if e == unix.ENOENT {
			return true // nothing mapped from at on
		}
		if e != 0 {
			if e == unix.ENOTTY || e == unix.EINVAL {
				t.noQuery = true
			}
			return false
		}
		if q.vmaStart >= end {
			return true
		}
		at = max(at, q.vmaStart)
		n := min(end, q.vmaEnd)
		fn(vma{start: at, end: n, flags: q.vmaFlags, anon: q.inode == 0 && q.devMajor == 0 && q.devMinor == 0})
		at = n
	}
	return true
}

// splitRangeLocked classifies [addr, addr+length) of p's address space.
// ok is false when the kernel could not be asked.
func (t *Tracker) splitRangeLocked(p *proc, addr, length uint64) (s vmaSplit, ok bool) {
	var mapped uint64
	ok = t.vmasLocked(p, addr, length, func(v vma) {
		n := v.end - v.start
		mapped += n
		switch {
		case v.flags&vmaWritable != 0 && v.flags&vmaShared == 0:
			s.data += n
		case v.flags&vmaShared == 0 && v.anon:
			s.anonRO += n
		default:
			s.other += n
		}
	})
	s.unmapped = length - mapped
	return s, ok
}

// Ranges of a process whose reservation charge was moved under the floor
// (Mprotect), so that a range made writable, PROT_NONE and writable again
// is moved once. Sorted, disjoint, merged when adjacent.
type spans []span

type span struct{ start, end uint64 }

// maxSpans bounds the memory per process; past it nothing more is moved
// (counted twice: over, never under).
const maxSpans = 4096

// uncovered calls fn for each part of [start, end) not in ss.
func (ss spans) uncovered(start, end uint64, fn func(start, end uint64)) {
	at := start
	for _, s := range ss {
		if s.end <= at {
			continue
		}
		if s.start >= end {
			break
		}
		if s.start > at {
			fn(at, s.start)
		}
		at = max(at, s.end)
		if at >= end {
			return
		}
	}
	if at < end {
		fn(at, end)
	}
}

// add inserts [start, end), merging overlapping and adjacent spans.
func (ss spans) add(start, end uint64) spans {
	out := ss[:0:0]
	placed := false
	for _, s := range ss {
		switch {
		case s.end < start:
			out = append(out, s)
		case s.start > end:
			if !placed {
				out = append(out, span{start, end})
				placed = true
			}
			out = append(out, s)
		default:
			start, end = min(start, s.start), max(end, s.end)
		}
	}
	if !placed {
		out = append(out, span{start, end})
	}
	return out
}

// remove takes [start, end) out of ss.
func (ss spans) remove(start, end uint64) spans {
	out := ss[:0:0]
	for _, s := range ss {
		if s.end <= start || s.start >= end {
			out = append(out, s)
			continue
		}
		if s.start < start {
			out = append(out, span{s.start, start})
		}
		if s.end > end {
			out = append(out, span{end, s.end})
		}
	}
	return out
}
