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
	vmaWritable       = 0x02
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

// splitRangeLocked classifies [addr, addr+length) of p's address space.
// ok is false when the kernel could not be asked.
func (t *Tracker) splitRangeLocked(p *proc, addr, length uint64) (s vmaSplit, ok bool) {
	if t.noQuery || length == 0 {
		return s, false
	}
	if p.maps < 0 {
		fd, err := unix.Open(procPath(t.buf, p.tgid, "/maps"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return s, false
		}
		p.maps = fd
	}
	end := addr + length
	if end < addr {
		return s, false
	}
	at := addr
	for i := 0; at < end; i++ {
		if i == maxVMAs {
			return s, false
		}
		q := procmapQuery{size: uint64(unsafe.Sizeof(procmapQuery{})), queryFlags: coveringOrNext, queryAddr: at}
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(p.maps), procmapQueryIoctl, uintptr(unsafe.Pointer(&q)))
		if e == unix.ENOENT {
			break // nothing mapped from at on
		}
		if e != 0 {
			if e == unix.ENOTTY || e == unix.EINVAL {
				t.noQuery = true
			}
			return s, false
		}
		if q.vmaStart >= end {
			break
		}
		if q.vmaStart > at {
			s.unmapped += q.vmaStart - at
			at = q.vmaStart
		}
		n := min(end, q.vmaEnd) - at
		switch {
		case q.vmaFlags&vmaWritable != 0 && q.vmaFlags&vmaShared == 0:
			s.data += n
		case q.vmaFlags&vmaShared == 0 && q.inode == 0 && q.devMajor == 0 && q.devMinor == 0:
			s.anonRO += n
		default:
			s.other += n
		}
		at += n
	}
	if at < end {
		s.unmapped += end - at
	}
	return s, true
}
