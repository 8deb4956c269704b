//go:build linux

package main

// The workloads of the tests: each op performs exactly one operation (or one
// documented scenario) with raw syscalls, so the events it must produce are
// known exactly. They run as the traced program: the test binary installed
// on $PATH as "testop" (TestMain), called as "testop OP ARGS...".

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func bytePtr(s string) uintptr {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return uintptr(unsafe.Pointer(p))
}

func raw(nr uintptr, a ...uintptr) error {
	var args [6]uintptr
	copy(args[:], a)
	_, _, e := unix.Syscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5])
	if e != 0 {
		return e
	}
	return nil
}

func openDir(p string) uintptr {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		panic(err)
	}
	return uintptr(fd)
}

func sockaddr(network, addr string) (int, unix.Sockaddr) {
	ap, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		panic(err)
	}
	if ip4 := ap.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: ap.Port}
		copy(sa.Addr[:], ip4)
		return unix.AF_INET, sa
	}
	sa := &unix.SockaddrInet6{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To16())
	return unix.AF_INET6, sa
}

// rawSockaddr encodes a Sockaddr the way the kernel reads it.
func rawSockaddr(sa unix.Sockaddr) []byte {
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		b := make([]byte, 16)
		b[0], b[1] = unix.AF_INET, 0
		b[2], b[3] = byte(s.Port>>8), byte(s.Port)
		copy(b[4:8], s.Addr[:])
		return b
	case *unix.SockaddrInet6:
		b := make([]byte, 28)
		b[0], b[1] = unix.AF_INET6, 0
		b[2], b[3] = byte(s.Port>>8), byte(s.Port)
		copy(b[8:24], s.Addr[:])
		return b
	}
	panic("family")
}

func testOp(op string, args []string) int {
	err := doOp(op, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testop %s: %v\n", op, err)
		return 1
	}
	return 0
}

func doOp(op string, a []string) error {
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	flags := func(i int) uintptr {
		n, _ := strconv.ParseUint(arg(i), 0, 64)
		return uintptr(n)
	}
	switch op {
	case "open": // PATH FLAGS
		return raw(unix.SYS_OPEN, bytePtr(arg(0)), flags(1), 0o644)
	case "openat": // DIR NAME FLAGS
		return raw(unix.SYS_OPENAT, openDir(arg(0)), bytePtr(arg(1)), flags(2), 0o644)
	case "openat2": // DIR NAME FLAGS [RESOLVE]
		how := unix.OpenHow{Flags: uint64(flags(2)), Resolve: uint64(flags(3))}
		if how.Flags&unix.O_CREAT != 0 {
			how.Mode = 0o644
		}
		_, err := unix.Openat2(int(openDir(arg(0))), arg(1), &how)
		return err
	case "creat":
		return raw(unix.SYS_CREAT, bytePtr(arg(0)), 0o644)
	case "execve": // PATH ARGS...
		return syscall.Exec(arg(0), a, []string{"PATH=/usr/bin:/bin"})
	case "execveat": // DIR NAME ARGS...
		argv := []uintptr{}
		for _, s := range a[1:] {
			argv = append(argv, bytePtr(s))
		}
		argv = append(argv, 0)
		envv := []uintptr{0}
		return raw(unix.SYS_EXECVEAT, openDir(arg(0)), bytePtr(arg(1)),
			uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), 0)
	case "mkdir":
		return raw(unix.SYS_MKDIR, bytePtr(arg(0)), 0o755)
	case "mkdirat":
		return raw(unix.SYS_MKDIRAT, openDir(arg(0)), bytePtr(arg(1)), 0o755)
	case "mknod":
		return raw(unix.SYS_MKNOD, bytePtr(arg(0)), unix.S_IFIFO|0o644, 0)
	case "mknodat":
		return raw(unix.SYS_MKNODAT, openDir(arg(0)), bytePtr(arg(1)), unix.S_IFIFO|0o644, 0)
	case "unlink":
		return raw(unix.SYS_UNLINK, bytePtr(arg(0)))
	case "unlinkat": // DIR NAME FLAGS
		return raw(unix.SYS_UNLINKAT, openDir(arg(0)), bytePtr(arg(1)), flags(2))
	case "rmdir":
		return raw(unix.SYS_RMDIR, bytePtr(arg(0)))
	case "rename":
		return raw(unix.SYS_RENAME, bytePtr(arg(0)), bytePtr(arg(1)))
	case "renameat": // DIR OLD NEW
		d := openDir(arg(0))
		return raw(unix.SYS_RENAMEAT, d, bytePtr(arg(1)), d, bytePtr(arg(2)))
	case "renameat2": // DIR OLD NEW
		d := openDir(arg(0))
		return raw(unix.SYS_RENAMEAT2, d, bytePtr(arg(1)), d, bytePtr(arg(2)), unix.RENAME_NOREPLACE)
	case "link":
		return raw(unix.SYS_LINK, bytePtr(arg(0)), bytePtr(arg(1)))
	case "linkat": // DIR OLD NEW
		d := openDir(arg(0))
		return raw(unix.SYS_LINKAT, d, bytePtr(arg(1)), d, bytePtr(arg(2)), 0)
	case "symlink": // TARGET LINK
		return raw(unix.SYS_SYMLINK, bytePtr(arg(0)), bytePtr(arg(1)))
	case "symlinkat": // TARGET DIR NAME
		return raw(unix.SYS_SYMLINKAT, bytePtr(arg(0)), openDir(arg(1)), bytePtr(arg(2)))
	case "truncate":
		return raw(unix.SYS_TRUNCATE, bytePtr(arg(0)), 0)
	case "connect", "bind", "sendto", "sendmsg": // tcp|udp ADDR
		typ := unix.SOCK_STREAM
		if arg(0) == "udp" {
			typ = unix.SOCK_DGRAM
		}
		fam, sa := sockaddr(arg(0), arg(1))
		fd, err := unix.Socket(fam, typ, 0)
		if err != nil {
			return err
		}
		rs := rawSockaddr(sa)
		p, n := uintptr(unsafe.Pointer(&rs[0])), uintptr(len(rs))
		msg := []byte("x")
		switch op {
		case "connect":
			return raw(unix.SYS_CONNECT, uintptr(fd), p, n)
		case "bind":
			return raw(unix.SYS_BIND, uintptr(fd), p, n)
		case "sendto":
			return raw(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&msg[0])), 1, 0, p, n)
		default:
			iov := unix.Iovec{Base: &msg[0], Len: 1}
			hdr := unix.Msghdr{Name: &rs[0], Namelen: uint32(n), Iov: &iov, Iovlen: 1}
			return raw(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdr)), 0)
		}
	case "connected": // MODE tcp|udp ADDR: connect, then per MODE: none,
		// sendmsg or sendmmsg (two messages) without a destination
		typ := unix.SOCK_STREAM
		if arg(1) == "udp" {
			typ = unix.SOCK_DGRAM
		}
		fam, sa := sockaddr(arg(1), arg(2))
		fd, err := unix.Socket(fam, typ, 0)
		if err != nil {
			return err
		}
		if err := unix.Connect(fd, sa); err != nil {
			return err
		}
		msg := []byte("x")
		iov := unix.Iovec{Base: &msg[0], Len: 1}
		switch arg(0) {
		case "none":
			return nil
		case "sendmsg":
			hdr := unix.Msghdr{Iov: &iov, Iovlen: 1}
			return raw(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdr)), 0)
		default:
			type mmsghdr struct {
				hdr unix.Msghdr
				n   uint32
				_   [4]byte
			}
			vec := []mmsghdr{{hdr: unix.Msghdr{Iov: &iov, Iovlen: 1}}, {hdr: unix.Msghdr{Iov: &iov, Iovlen: 1}}}
			return raw(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&vec[0])), uintptr(len(vec)), 0)
		}
	case "sendmmsg": // ADDR...  (UDP, one message to each)
		fam, _ := sockaddr("udp", arg(0))
		fd, err := unix.Socket(fam, unix.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		type mmsghdr struct {
			hdr unix.Msghdr
			n   uint32
			_   [4]byte
		}
		msg := []byte("x")
		iov := unix.Iovec{Base: &msg[0], Len: 1}
		vec := make([]mmsghdr, len(a))
		names := make([][]byte, len(a))
		for i, s := range a {
			_, sa := sockaddr("udp", s)
			names[i] = rawSockaddr(sa)
			vec[i].hdr = unix.Msghdr{Name: &names[i][0], Namelen: uint32(len(names[i])), Iov: &iov, Iovlen: 1}
		}
		return raw(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&vec[0])), uintptr(len(vec)), 0)
	case "unix-bind", "unix-connect", "abstract": // PATH (abstract: NAME)
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		var sa unix.SockaddrUnix
		sa.Name = arg(0)
		if op == "abstract" {
			sa.Name = "@" + arg(0)
			return unix.Bind(fd, &sa)
		}
		if op == "unix-bind" {
			return unix.Bind(fd, &sa)
		}
		return unix.Connect(fd, &sa)
	case "badptr": // open(2) with a pointer to nowhere: EFAULT in the workload
		return raw(unix.SYS_OPEN, 8, 0)
	case "chroot": // DIR FILE: chroot, then open FILE inside
		if err := unix.Chroot(arg(0)); err != nil {
			return err
		}
		if err := unix.Chdir("/"); err != nil {
			return err
		}
		return raw(unix.SYS_OPEN, bytePtr(arg(1)), 0)
	case "chroot-spawn": // DIR PROG ARGS...: chroot, then run PROG (a path inside) in a new process
		if err := unix.Chroot(arg(0)); err != nil {
			return err
		}
		if err := unix.Chdir("/"); err != nil {
			return err
		}
		pid, err := syscall.ForkExec(arg(1), a[1:], &syscall.ProcAttr{Files: []uintptr{0, 1, 2}})
		if err != nil {
			return err
		}
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			return err
		}
		if ws.ExitStatus() != 0 {
			return fmt.Errorf("%s: %v", arg(1), ws)
		}
		return nil
	case "procfd": // FILE: open it, then again through /proc/self/fd/N and /dev/fd/N
		fd, err := unix.Open(arg(0), unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		if err := raw(unix.SYS_OPEN, bytePtr("/proc/self/fd/"+strconv.Itoa(fd)), 0); err != nil {
			return err
		}
		return raw(unix.SYS_OPEN, bytePtr("/dev/fd/"+strconv.Itoa(fd)), 0)
	case "sendmany": // N ADDR: one sendmmsg of N messages to ADDR
		n, _ := strconv.Atoi(arg(0))
		addrs := make([]string, n)
		for i := range addrs {
			addrs[i] = arg(1)
		}
		return doOp("sendmmsg", addrs)
	case "chdir-open": // DIR1 DIR2 NAME: the same relative name from two cwds
		for _, d := range a[:2] {
			if err := unix.Chdir(d); err != nil {
				return err
			}
			if err := raw(unix.SYS_OPEN, bytePtr(arg(2)), 0); err != nil {
				return err
			}
		}
		return nil
	case "renamed-dirfd": // DIR: open DIR/a, rename it to DIR/b, open "f" through the old fd
		fd := openDir(arg(0) + "/a")
		if err := raw(unix.SYS_RENAME, bytePtr(arg(0)+"/a"), bytePtr(arg(0)+"/b")); err != nil {
			return err
		}
		return raw(unix.SYS_OPENAT, fd, bytePtr("f"), 0)
	case "own-filter": // FILE: install an allow-all seccomp filter of our own, then open FILE
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return err
		}
		allow := []unix.SockFilter{{Code: 0x06, K: unix.SECCOMP_RET_ALLOW}} // BPF_RET|BPF_K
		prog := unix.SockFprog{Len: 1, Filter: &allow[0]}
		if err := raw(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); err != nil {
			return err
		}
		return raw(unix.SYS_OPEN, bytePtr(arg(0)), 0)
	case "io_uring":
		var params [120]byte
		r, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&params[0])), 0)
		if e != 0 {
			return e
		}
		unix.Close(int(r))
		return nil
	case "threads": // DIR THREADS FILES: each thread opens FILES distinct files
		n, _ := strconv.Atoi(arg(1))
		per, _ := strconv.Atoi(arg(2))
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				runtime.LockOSThread() // a thread of its own
				for j := 0; j < per; j++ {
					p := fmt.Sprintf("%s/t%d-f%d", arg(0), i, j)
					fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
					if err != nil {
						errs <- err
						return
					}
					unix.Close(fd)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		return <-errs
	case "thread-exec": // PATH ARGS...: execve from a thread that is not the leader
		runtime.LockOSThread() // keeps main on the leader thread
		done := make(chan error)
		go func() {
			runtime.LockOSThread()
			if unix.Gettid() == unix.Getpid() {
				done <- fmt.Errorf("still on the leader thread")
				return
			}
			done <- syscall.Exec(arg(0), a, []string{"PATH=/usr/bin:/bin"})
		}()
		return <-done
	case "spawn": // PATH ARGS...: Go's StartProcess is clone(CLONE_VM|CLONE_VFORK)+exec
		return exec.Command(arg(0), a[1:]...).Run()
	case "exit":
		n, _ := strconv.Atoi(arg(0))
		os.Exit(n)
	case "print":
		fmt.Println(arg(0))
		return nil
	case "sleep":
		d, _ := time.ParseDuration(arg(0))
		time.Sleep(d)
		return nil
	}
	if f := extraOps[op]; f != nil {
		return f(a)
	}
	return fmt.Errorf("unknown op %q", op)
}

// extraOps lets other test files of this package add workloads (e.g. the
// resource-limit workloads of peak_test.go) from an init function.
var extraOps = map[string]func(args []string) error{}
