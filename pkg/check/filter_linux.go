//go:build linux

package check

import (
	"fmt"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// syscallNumber is the number of a syscall name on this architecture, or -1.
func syscallNumber(name string) int {
	if nr, ok := syscallNumbers[name]; ok {
		return int(nr)
	}
	return -1
}

// seccomp_data offsets (linux/seccomp.h); args are little-endian u64, so
// the low 32 bits of argument i are at argsOffset+8*i.
const (
	offNR      = 0
	offArch    = 4
	argsOffset = 16
	sockType   = 0xf // SOCK_TYPE_MASK: the type without SOCK_NONBLOCK|SOCK_CLOEXEC
	x32Bit     = 0x40000000
)

// blockFilter assembles the static filter that refuses, with EPERM as
// sandlock does, the blocked syscalls, raw sockets, and datagram sockets of
// AF_INET/AF_INET6 when no rule allows UDP or ICMP. It asks no supervisor
// anything: a refused call never reaches one.
func blockFilter(blocked []uint32, blockDgram bool) ([]bpf.RawInstruction, error) {
	if auditArch == 0 {
		return nil, fmt.Errorf("no syscall table for this architecture")
	}
	// Layout, with the jump targets at the end:
	//   0 ld arch; 1 jeq auditArch else ERRNO; 2 ld nr; jge x32 -> ERRNO
	//   per blocked nr: jeq nr -> ERRNO
	//   jeq socket else ALLOW; ld arg0; jeq AF_INET -> TYPE; jeq AF_INET6 else ALLOW
	//   TYPE: ld arg1; and 0xf; jeq SOCK_RAW -> ERRNO; [jeq SOCK_DGRAM -> ERRNO]
	//   ALLOW: ret allow; ERRNO: ret errno|EPERM
	var prog []bpf.Instruction
	type fix struct {
		at      int
		cond    bpf.JumpTest
		val     uint32
		toTrue  string // "" = the next instruction
		toFalse string
	}
	var fixes []fix
	jif := func(cond bpf.JumpTest, val uint32, t, f string) {
		fixes = append(fixes, fix{at: len(prog), cond: cond, val: val, toTrue: t, toFalse: f})
		prog = append(prog, nil)
	}
	jeq := func(val uint32, t, f string) { jif(bpf.JumpEqual, val, t, f) }
	labels := map[string]int{}
	prog = append(prog, bpf.LoadAbsolute{Off: offArch, Size: 4})
	// Another ABI (i386 via int 0x80) has other numbers: refuse it whole.
	jeq(auditArch, "", "errno")
	prog = append(prog, bpf.LoadAbsolute{Off: offNR, Size: 4})
	// x32 numbers run the same kernel code under other numbers: refuse
	// them all rather than let them around the list.
	jif(bpf.JumpGreaterOrEqual, x32Bit, "errno", "")
	for _, nr := range blocked {
		jeq(nr, "errno", "")
	}
	jeq(unix.SYS_SOCKET, "", "allow")
	prog = append(prog, bpf.LoadAbsolute{Off: argsOffset, Size: 4})
	jeq(unix.AF_INET, "type", "")
	jeq(unix.AF_INET6, "", "allow")
	labels["type"] = len(prog)
	prog = append(prog, bpf.LoadAbsolute{Off: argsOffset + 8, Size: 4})
	prog = append(prog, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: sockType})
	jeq(unix.SOCK_RAW, "errno", "")
	if blockDgram {
		jeq(unix.SOCK_DGRAM, "errno", "")
	}
	labels["allow"] = len(prog)
	prog = append(prog, bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW})
	labels["errno"] = len(prog)
	prog = append(prog, bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)})

	skip := func(from int, label string) (uint8, error) {
		if label == "" {
			return 0, nil
		}
		d := labels[label] - from - 1
		if d < 0 || d > 255 {
			return 0, fmt.Errorf("seccomp filter too long (jump of %d)", d)
		}
		return uint8(d), nil
	}
	for _, f := range fixes {
		t, err := skip(f.at, f.toTrue)
		if err != nil {
			return nil, err
		}
		e, err := skip(f.at, f.toFalse)
		if err != nil {
			return nil, err
		}
		prog[f.at] = bpf.JumpIf{Cond: f.cond, Val: f.val, SkipTrue: t, SkipFalse: e}
	}
	return bpf.Assemble(prog)
}

// installFilter loads a filter on the calling thread (no TSYNC: the thread
// is locked and about to exec, and only it survives the exec).
func installFilter(raw []bpf.RawInstruction) error {
	if len(raw) == 0 {
		return nil
	}
	ins := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("seccomp(SET_MODE_FILTER): %w", errno)
	}
	return nil
}
