//go:build linux && amd64

package seccomp

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendErrno fails the notified syscall with errno instead of letting it
// run: the kernel returns -errno to the tracee and never executes the
// call, so what it would have read from the tracee's memory does not
// matter any more (no TOCTOU on a refusal).
func sendErrno(fd int, r *notifResp, id uint64, errno syscall.Errno) syscall.Errno {
	*r = notifResp{id: id, error: -int32(errno)}
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(r)))
	return e
}
