//go:build linux && amd64

package seccomp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// notif is struct seccomp_notif (include/uapi/linux/seccomp.h).
type notif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

// notifResp is struct seccomp_notif_resp.
type notifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// recvNotif receives one notification; called after poll reported one, so
// it does not block (a task that died in between makes it fail with
// ENOENT), and raw may skip the runtime's syscall bookkeeping.
func recvNotif(fd int, n *notif, raw bool) syscall.Errno {
	*n = notif{} // the kernel insists on a zeroed buffer
	var e syscall.Errno
	if raw {
		_, _, e = unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(n)))
	} else {
		_, _, e = unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(n)))
	}
	return e
}

// rawIdle caps a raw poll (milliseconds), see supervisor.loop.
const rawIdle = 10

// rawPoll is poll(2) through RawSyscall: the calling goroutine keeps its P
// while it waits.
func rawPoll(fds []unix.PollFd, timeoutMs int) (int, error) {
	ts := unix.NsecToTimespec(int64(timeoutMs) * 1e6)
	n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func sendContinue(fd int, r *notifResp, id uint64) syscall.Errno {
	*r = notifResp{id: id, flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(r)))
	return e
}

// idValid says whether the notification is still pending: memory read
// before a positive answer belonged to the notifying task.
func idValid(fd int, id *uint64) bool {
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(id)))
	return e == 0
}

const pageSize = 4096

// mem reads tracee memory: process_vm_readv, or /proc/PID/mem where that
// is refused (some kernels and LSM settings allow one and not the other).
type mem struct {
	noVM bool
	str  [pageSize * 2]byte
}

var errFault = errors.New("bad address")

// read fills buf from addr in tid's address space.
func (m *mem) read(tid int, addr uint64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if addr == 0 {
		return errFault
	}
	if !m.noVM {
		local := [1]unix.Iovec{{Base: &buf[0]}}
		local[0].SetLen(len(buf))
		remote := [1]unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
		n, err := unix.ProcessVMReadv(tid, local[:], remote[:], 0)
		if err == nil {
			if n < len(buf) {
				return errFault
			}
			return nil
		}
		if err == unix.EFAULT {
			return errFault
		}
		switch err {
		case unix.ENOSYS:
			m.noVM = true // not in this kernel: /proc/PID/mem from now on
		case unix.EPERM, unix.EACCES:
			// This process only (e.g. it made itself non-dumpable);
			// /proc/PID/mem may still be allowed.
		default:
			return err
		}
	}
	f, err := os.Open("/proc/" + strconv.Itoa(tid) + "/mem")
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := f.ReadAt(buf, int64(addr))
	if n < len(buf) {
		if err == nil {
			err = errFault
		}
		return errFault
	}
	return nil
}

// readString reads a NUL-terminated string of at most max bytes, page by
// page so that no read crosses into a page that may not be mapped. The
// first read is short: most paths are, and copying a whole page for each
// one would cost more than a second read now and then.
func (m *mem) readString(tid int, addr uint64, max int) (string, error) {
	if addr == 0 {
		return "", errFault
	}
	var out []byte
	first := true
	for len(out) < max {
		chunk := pageSize - int(addr%pageSize)
		if first && chunk > 256 {
			chunk = 256
		}
		first = false
		buf := m.str[:chunk]
		if err := m.read(tid, addr, buf); err != nil {
			return "", err
		}
		if i := bytes.IndexByte(buf, 0); i >= 0 {
			if out == nil {
				return string(buf[:i]), nil
			}
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf...)
		addr += uint64(chunk)
	}
	return "", syscall.ENAMETOOLONG
}

func u32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func u64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
