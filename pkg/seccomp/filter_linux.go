//go:build linux && amd64

package seccomp

import (
	"fmt"
	"sort"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// BaseSyscalls are always notified: the path and socket operations a
// profile needs (profile.md), the memory and process calls of sandlock's
// limits ledger, chroot (it changes how later paths resolve) and
// io_uring_setup (its file operations are invisible to seccomp: we warn).
var BaseSyscalls = []string{
	"open", "openat", "openat2", "creat", "execve", "execveat",
	"mkdir", "mkdirat", "mknod", "mknodat", "unlink", "unlinkat", "rmdir",
	"rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "truncate",
	"connect", "bind", "sendto", "sendmsg", "sendmmsg",
	"mmap", "munmap", "mprotect", "brk", "mremap", "clone", "clone3", "fork", "vfork",
	"chroot", "io_uring_setup",
	// Rare, and only so that a cached working directory is dropped when
	// it may change (supervisor.cwd).
	"chdir", "fchdir", "setns", "pivot_root",
	// Rare, and only to know when the workload's credentials may stop
	// being ours (supervisor.refused).
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
	"setfsuid", "setfsgid", "setgroups", "capset", "unshare",
}

// SandlockBlocked are the syscalls sandlock 0.8.6 always blocks, plus the
// SysV IPC group it blocks by default. They are notified (and counted) only
// on request, so a profile can say the workload needs them.
var SandlockBlocked = []string{
	"mount", "umount2", "pivot_root", "swapon", "swapoff", "reboot", "sethostname",
	"setdomainname", "kexec_load", "init_module", "finit_module", "delete_module",
	"unshare", "setns", "perf_event_open", "bpf", "userfaultfd", "keyctl", "add_key",
	"request_key", "ptrace", "process_vm_readv", "process_vm_writev",
	"open_by_handle_at", "name_to_handle_at", "ioperm", "iopl", "quotactl", "acct",
	"lookup_dcookie", "nfsservctl", "io_uring_enter", "io_uring_register",
	"personality",
	"shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl",
	"semget", "semop", "semctl", "semtimedop",
}

// handoffMagic goes in the upper half of the fd argument of the one sendmsg
// the helper uses to pass the listener: the kernel truncates the fd to an
// int, the filter lets exactly that call through un-notified (nobody is
// listening yet), and no real program sets those bits.
const handoffMagic = 0x5a4c0000

const (
	offNr   = 0
	offArch = 4
)

// SmallMap is the length below which a private writable anonymous mmap,
// and any munmap, is not notified. Such a mapping is counted by the
// kernel in statm's data field, which the peak ledger floors at (see the
// package doc and pkg/peak); notifying it cost two round trips per file in
// the open storm (cat maps and unmaps a 128 KiB buffer per file).
const SmallMap = 1 << 20

// Flags that keep a small anonymous mmap notified: MAP_FIXED may replace
// a mapping that is already charged (sandlock charges it again, statm
// data does not grow), and statm data may not count hugetlb mappings.
const mapNotifyAlways = unix.MAP_FIXED | unix.MAP_HUGETLB

// mapTypeMask and mapPrivate select MAP_PRIVATE exactly (not MAP_SHARED,
// MAP_SHARED_VALIDATE or MAP_DROPPABLE).
const (
	mapTypeMask = 0x0f
	mapPrivate  = 0x02
)

func argLo(i int) uint32 { return uint32(16 + 8*i) }
func argHi(i int) uint32 { return uint32(16 + 8*i + 4) }

const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retNotify = unix.SECCOMP_RET_USER_NOTIF
)

// buildFilter assembles the filter: a linear chain of comparisons, each
// followed by its own short block, so every jump is short and the program
// reads top to bottom. Argument tests keep the noise out of the supervisor:
// mmap only when anonymous (the ledger) or executable (exec mappings),
// clone only without CLONE_THREAD, sendto only with an address, open and
// openat not for O_PATH (no Landlock right involved).
func buildFilter(names []string) ([]unix.SockFilter, error) {
	nrs := make([]int, 0, len(names))
	seen := map[int]bool{}
	for _, n := range names {
		nr, ok := sysNums[n]
		if !ok {
			return nil, fmt.Errorf("unknown syscall %q", n)
		}
		if !seen[nr] {
			seen[nr] = true
			nrs = append(nrs, nr)
		}
	}
	sort.Ints(nrs)

	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: auditArch, SkipTrue: 1},
		bpf.RetConstant{Val: retAllow},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32Bit, SkipFalse: 1},
		bpf.RetConstant{Val: retAllow},
	}
	for _, nr := range nrs {
		var block []bpf.Instruction
		switch nr {
		case unix.SYS_MMAP:
			// Anonymous: notified unless it is small, private and
			// writable (statm data counts it, see SmallMap); PROT_NONE
			// reservations, shared and read-only mappings always are.
			// Classic BPF sees 32-bit halves: len >= SmallMap <=>
			// hi32 != 0 || lo32 >= SmallMap.
			// File-backed: notified when executable (exec mappings).
			block = []bpf.Instruction{
				/* 0 */ bpf.LoadAbsolute{Off: argLo(3), Size: 4},
				/* 1 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: unix.MAP_ANONYMOUS, SkipFalse: 11},
				/* 2 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: mapNotifyAlways, SkipTrue: 9},
				/* 3 */ bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mapTypeMask},
				/* 4 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: mapPrivate, SkipFalse: 7},
				/* 5 */ bpf.LoadAbsolute{Off: argLo(2), Size: 4},
				/* 6 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: unix.PROT_WRITE, SkipFalse: 5},
				/* 7 */ bpf.LoadAbsolute{Off: argHi(1), Size: 4},
				/* 8 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 3},
				/* 9 */ bpf.LoadAbsolute{Off: argLo(1), Size: 4},
				/* 10 */ bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: SmallMap, SkipTrue: 1},
				/* 11 */ bpf.RetConstant{Val: retAllow},
				/* 12 */ bpf.RetConstant{Val: retNotify},
				/* 13 */ bpf.LoadAbsolute{Off: argLo(2), Size: 4},
				/* 14 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: unix.PROT_EXEC, SkipFalse: 1},
				/* 15 */ bpf.RetConstant{Val: retNotify},
				/* 16 */ bpf.RetConstant{Val: retAllow},
			}
		case unix.SYS_MPROTECT:
			// Only a change to writable: a reservation entering statm
			// data (thread stacks, glibc's per-thread arenas).
			block = []bpf.Instruction{
				bpf.LoadAbsolute{Off: argLo(2), Size: 4},
				bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: unix.PROT_WRITE, SkipTrue: 1},
				bpf.RetConstant{Val: retAllow},
				bpf.RetConstant{Val: retNotify},
			}
		case unix.SYS_MUNMAP:
			// Only large unmaps: a small one (of a mapping that was
			// not notified, or a trim of one that was) is left
			// uncredited, which can only over-count.
			block = allowBelow(1, SmallMap)
		case unix.SYS_BRK:
			// brk(0) asks where the break is and changes nothing: the
			// ledger reads the baseline itself at the first real move
			// (an eighth of a build's brk calls, one per image at least).
			block = allowBelow(0, 1)
		case unix.SYS_CLONE:
			block = allowWhen(argLo(0), bpf.JumpBitsSet, unix.CLONE_THREAD)
		case unix.SYS_SENDTO:
			// send(2) on a connected socket passes no address: the
			// connect was recorded already, nothing new to see.
			block = []bpf.Instruction{
				bpf.LoadAbsolute{Off: argLo(4), Size: 4},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 1},
				bpf.RetConstant{Val: retNotify},
				bpf.LoadAbsolute{Off: argHi(4), Size: 4},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 1},
				bpf.RetConstant{Val: retNotify},
				bpf.RetConstant{Val: retAllow},
			}
		case unix.SYS_SENDMSG:
			block = allowWhen(argHi(0), bpf.JumpEqual, handoffMagic)
		case unix.SYS_OPEN:
			block = allowWhen(argLo(1), bpf.JumpBitsSet, unix.O_PATH)
		case unix.SYS_OPENAT:
			block = allowWhen(argLo(2), bpf.JumpBitsSet, unix.O_PATH)
		default:
			block = []bpf.Instruction{bpf.RetConstant{Val: retNotify}}
		}
		// Blocks that load arguments end in a return, so every later
		// comparison is reached only with the syscall number still in A.
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(nr), SkipFalse: uint8(len(block))})
		prog = append(prog, block...)
	}
	prog = append(prog, bpf.RetConstant{Val: retAllow})
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, err
	}
	if len(raw) > 4096 {
		return nil, fmt.Errorf("filter too long: %d instructions", len(raw))
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}

// allowBelow lets the call through when 64-bit argument i is below v, and
// notifies it otherwise. Classic BPF sees 32-bit halves: arg < v <=>
// hi32 == 0 && lo32 < v.
func allowBelow(i int, v uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: argHi(i), Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 3},
		bpf.LoadAbsolute{Off: argLo(i), Size: 4},
		bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: v, SkipTrue: 1},
		bpf.RetConstant{Val: retAllow},
		bpf.RetConstant{Val: retNotify},
	}
}

// allowWhen is the block "let the call through when the 32-bit argument
// word at off satisfies cond against val, notify it otherwise".
func allowWhen(off uint32, cond bpf.JumpTest, val uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: off, Size: 4},
		bpf.JumpIf{Cond: cond, Val: val, SkipFalse: 1},
		bpf.RetConstant{Val: retAllow},
		bpf.RetConstant{Val: retNotify},
	}
}
