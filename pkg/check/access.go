package check

import (
	"strings"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// Access is a set of Landlock filesystem access rights (LANDLOCK_ACCESS_FS_*).
type Access uint64

// The rights, as the kernel numbers them.
const (
	Execute    Access = ll.AccessFSExecute
	WriteFile  Access = ll.AccessFSWriteFile
	ReadFile   Access = ll.AccessFSReadFile
	ReadDir    Access = ll.AccessFSReadDir
	RemoveDir  Access = ll.AccessFSRemoveDir
	RemoveFile Access = ll.AccessFSRemoveFile
	MakeChar   Access = ll.AccessFSMakeChar
	MakeDir    Access = ll.AccessFSMakeDir
	MakeReg    Access = ll.AccessFSMakeReg
	MakeSock   Access = ll.AccessFSMakeSock
	MakeFifo   Access = ll.AccessFSMakeFifo
	MakeBlock  Access = ll.AccessFSMakeBlock
	MakeSym    Access = ll.AccessFSMakeSym
	Refer      Access = ll.AccessFSRefer
	Truncate   Access = ll.AccessFSTruncate
	IoctlDev   Access = ll.AccessFSIoctlDev
)

var accessNames = []struct {
	a    Access
	name string
}{
	{Execute, "execute"}, {WriteFile, "write_file"}, {ReadFile, "read_file"},
	{ReadDir, "read_dir"}, {RemoveDir, "remove_dir"}, {RemoveFile, "remove_file"},
	{MakeChar, "make_char"}, {MakeDir, "make_dir"}, {MakeReg, "make_reg"},
	{MakeSock, "make_sock"}, {MakeFifo, "make_fifo"}, {MakeBlock, "make_block"},
	{MakeSym, "make_sym"}, {Refer, "refer"}, {Truncate, "truncate"},
	{IoctlDev, "ioctl_dev"},
}

// String lists the rights by their kernel names without the prefix.
func (a Access) String() string {
	if a == 0 {
		return "none"
	}
	var parts []string
	for _, n := range accessNames {
		if a&n.a != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, "|")
}

// ReadAccess is what sandlock grants beneath a `read` path.
const ReadAccess = Execute | ReadFile | ReadDir

// fileAccess is the part of any mask that means something on a file that is
// not a directory; the kernel refuses a file rule with any other right
// (EINVAL), and sandlock masks its rules with it for that reason.
const fileAccess = Execute | WriteFile | ReadFile | Truncate | IoctlDev

// HandledAccess is the set of rights sandlock restricts on a kernel with the
// given Landlock ABI: every right up to IOCTL_DEV (ABI 5). sandlock 0.8
// stops there, so the ABI 9 right for pathname UNIX sockets stays unhandled
// (allowed) here too.
func HandledAccess(abi int) Access {
	if abi < 1 {
		return 0
	}
	h := Execute | WriteFile | ReadFile | ReadDir | RemoveDir | RemoveFile |
		MakeChar | MakeDir | MakeReg | MakeSock | MakeFifo | MakeBlock | MakeSym
	if abi >= 2 {
		h |= Refer
	}
	if abi >= 3 {
		h |= Truncate
	}
	if abi >= 5 {
		h |= IoctlDev
	}
	return h
}

// WriteAccess is what sandlock grants beneath a `write` path on a kernel with
// the given ABI: read, plus every right that changes a file or a directory.
func WriteAccess(abi int) Access {
	return HandledAccess(abi) | ReadAccess
}

// GrantAccess is the mask a rule for key ("read" or "write") carries on a
// path that is a directory (dir) or not, restricted to what the kernel
// handles. A rule on a file keeps only the file rights.
func GrantAccess(key string, dir bool, abi int) Access {
	a := ReadAccess
	if key == KeyWrite {
		a = WriteAccess(abi)
	}
	a &= HandledAccess(abi)
	if !dir {
		a &= fileAccess
	}
	return a
}

// Profile keys of [filesystem] that grant access.
const (
	KeyRead  = "read"
	KeyWrite = "write"
)
