package seccomp

// Open flag bits of Linux on x86-64 and arm64 (include/uapi/asm-generic/fcntl.h).
const (
	oWRONLY    = 0x1
	oRDWR      = 0x2
	oACCMODE   = 0x3
	oCREAT     = 0x40
	oEXCL      = 0x80
	oNOCTTY    = 0x100
	oTRUNC     = 0x200
	oAPPEND    = 0x400
	oNONBLOCK  = 0x800
	oDSYNC     = 0x1000
	oASYNC     = 0x2000
	oDIRECT    = 0x4000
	oLARGEFILE = 0x8000
	oDIRECTORY = 0x10000
	oNOFOLLOW  = 0x20000
	oNOATIME   = 0x40000
	oCLOEXEC   = 0x80000
	oSYNC      = 0x101000 // __O_SYNC | O_DSYNC
	oPATH      = 0x200000
	oTMPFILE   = 0x410000 // __O_TMPFILE | O_DIRECTORY
)

var flagNames = []struct {
	bit  uint64
	name string
}{
	{oCREAT, "O_CREAT"}, {oEXCL, "O_EXCL"}, {oNOCTTY, "O_NOCTTY"}, {oTRUNC, "O_TRUNC"},
	{oAPPEND, "O_APPEND"}, {oNONBLOCK, "O_NONBLOCK"}, {oASYNC, "O_ASYNC"}, {oDIRECT, "O_DIRECT"},
	{oLARGEFILE, "O_LARGEFILE"}, {oNOFOLLOW, "O_NOFOLLOW"}, {oNOATIME, "O_NOATIME"},
	{oCLOEXEC, "O_CLOEXEC"}, {oPATH, "O_PATH"},
}

// OpenFlags names the bits of an open flag word: the access mode first,
// then each flag in a fixed order. O_SYNC includes O_DSYNC's bit and
// O_TMPFILE includes O_DIRECTORY's, so each compound is named once.
func OpenFlags(f uint64) []string {
	out := make([]string, 0, 4)
	switch f & oACCMODE {
	case 0:
		out = append(out, "O_RDONLY")
	case oWRONLY:
		out = append(out, "O_WRONLY")
	case oRDWR:
		out = append(out, "O_RDWR")
	default:
		out = append(out, "O_ACCMODE")
	}
	for _, n := range flagNames {
		if f&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	switch {
	case f&oSYNC == oSYNC:
		out = append(out, "O_SYNC")
	case f&oDSYNC != 0:
		out = append(out, "O_DSYNC")
	}
	switch {
	case f&oTMPFILE == oTMPFILE:
		out = append(out, "O_TMPFILE")
	case f&oDIRECTORY != 0:
		out = append(out, "O_DIRECTORY")
	}
	return out
}
