//go:build linux && amd64

package seccomp

import "golang.org/x/sys/unix"

// auditArch is AUDIT_ARCH_X86_64: the filter lets other ABIs (i386 via int
// 0x80) through unobserved rather than misreading their syscall numbers.
const auditArch = 0xc000003e

// x32Bit marks x32 syscall numbers; they are foreign to this filter.
const x32Bit = 0x40000000

var sysNums = map[string]int{
	"open": unix.SYS_OPEN, "openat": unix.SYS_OPENAT, "openat2": unix.SYS_OPENAT2, "creat": unix.SYS_CREAT,
	"execve": unix.SYS_EXECVE, "execveat": unix.SYS_EXECVEAT,
	"mkdir": unix.SYS_MKDIR, "mkdirat": unix.SYS_MKDIRAT, "mknod": unix.SYS_MKNOD, "mknodat": unix.SYS_MKNODAT,
	"unlink": unix.SYS_UNLINK, "unlinkat": unix.SYS_UNLINKAT, "rmdir": unix.SYS_RMDIR,
	"rename": unix.SYS_RENAME, "renameat": unix.SYS_RENAMEAT, "renameat2": unix.SYS_RENAMEAT2,
	"link": unix.SYS_LINK, "linkat": unix.SYS_LINKAT, "symlink": unix.SYS_SYMLINK, "symlinkat": unix.SYS_SYMLINKAT,
	"truncate": unix.SYS_TRUNCATE,
	"connect":  unix.SYS_CONNECT, "bind": unix.SYS_BIND, "sendto": unix.SYS_SENDTO, "sendmsg": unix.SYS_SENDMSG,
	"sendmmsg": unix.SYS_SENDMMSG,
	"mmap":     unix.SYS_MMAP, "munmap": unix.SYS_MUNMAP, "mprotect": unix.SYS_MPROTECT, "brk": unix.SYS_BRK, "mremap": unix.SYS_MREMAP,
	"clone": unix.SYS_CLONE, "clone3": unix.SYS_CLONE3, "fork": unix.SYS_FORK, "vfork": unix.SYS_VFORK,
	"chroot": unix.SYS_CHROOT, "io_uring_setup": unix.SYS_IO_URING_SETUP,
	"chdir": unix.SYS_CHDIR, "fchdir": unix.SYS_FCHDIR,
	"setuid": unix.SYS_SETUID, "setgid": unix.SYS_SETGID, "setreuid": unix.SYS_SETREUID,
	"setregid": unix.SYS_SETREGID, "setresuid": unix.SYS_SETRESUID, "setresgid": unix.SYS_SETRESGID,
	"setfsuid": unix.SYS_SETFSUID, "setfsgid": unix.SYS_SETFSGID, "setgroups": unix.SYS_SETGROUPS,
	"capset": unix.SYS_CAPSET,

	// Only notified with Options.Extra (sandlock blocks these).
	"mount": unix.SYS_MOUNT, "umount2": unix.SYS_UMOUNT2, "pivot_root": unix.SYS_PIVOT_ROOT,
	"swapon": unix.SYS_SWAPON, "swapoff": unix.SYS_SWAPOFF, "reboot": unix.SYS_REBOOT,
	"sethostname": unix.SYS_SETHOSTNAME, "setdomainname": unix.SYS_SETDOMAINNAME,
	"kexec_load": unix.SYS_KEXEC_LOAD, "init_module": unix.SYS_INIT_MODULE, "finit_module": unix.SYS_FINIT_MODULE,
	"delete_module": unix.SYS_DELETE_MODULE, "unshare": unix.SYS_UNSHARE, "setns": unix.SYS_SETNS,
	"perf_event_open": unix.SYS_PERF_EVENT_OPEN, "bpf": unix.SYS_BPF, "userfaultfd": unix.SYS_USERFAULTFD,
	"keyctl": unix.SYS_KEYCTL, "add_key": unix.SYS_ADD_KEY, "request_key": unix.SYS_REQUEST_KEY,
	"ptrace": unix.SYS_PTRACE, "process_vm_readv": unix.SYS_PROCESS_VM_READV,
	"process_vm_writev": unix.SYS_PROCESS_VM_WRITEV, "open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT,
	"name_to_handle_at": unix.SYS_NAME_TO_HANDLE_AT, "ioperm": unix.SYS_IOPERM, "iopl": unix.SYS_IOPL,
	"quotactl": unix.SYS_QUOTACTL, "acct": unix.SYS_ACCT, "lookup_dcookie": unix.SYS_LOOKUP_DCOOKIE,
	"nfsservctl": unix.SYS_NFSSERVCTL, "io_uring_enter": unix.SYS_IO_URING_ENTER,
	"io_uring_register": unix.SYS_IO_URING_REGISTER, "personality": unix.SYS_PERSONALITY,
	"shmget": unix.SYS_SHMGET, "shmat": unix.SYS_SHMAT, "shmdt": unix.SYS_SHMDT, "shmctl": unix.SYS_SHMCTL,
	"msgget": unix.SYS_MSGGET, "msgsnd": unix.SYS_MSGSND, "msgrcv": unix.SYS_MSGRCV, "msgctl": unix.SYS_MSGCTL,
	"semget": unix.SYS_SEMGET, "semop": unix.SYS_SEMOP, "semctl": unix.SYS_SEMCTL, "semtimedop": unix.SYS_SEMTIMEDOP,

	// Only notified with Options.Extra: sandlock-check refuses and explains
	// datagram sockets with it.
	"socket": unix.SYS_SOCKET,
}
