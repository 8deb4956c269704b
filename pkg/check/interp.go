package check

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// ExecFailed explains an execve of path that failed with EACCES before the
// program ran: the program itself, or an interpreter the kernel loads for
// it (a script's "#!" line, an ELF's PT_INTERP, and theirs in turn) lacks
// EXECUTE. A supervisor sees only the execve of path; those loads happen
// inside the kernel, so they are found here, from the files. It reports
// whether it found the refused one.
func (s *Session) ExecFailed(pid int, path string) bool {
	comm := filepath.Base(path)
	for depth := 0; depth < 5 && path != ""; depth++ {
		canon, err := filepath.EvalSymlinks(path)
		if err != nil {
			return false
		}
		v := CheckFS(s.pol.FS, Needs(FSOp{Op: event.OpExec, Path: canon, Existed: true}))
		if !v.Allowed {
			s.mu.Lock()
			s.deny(fsDenial(pid, comm, FSOp{Op: event.OpExec, Path: canon, Existed: true}, v.Missing))
			s.mu.Unlock()
			return true
		}
		path = interpreter(canon)
	}
	return false
}

// CheckInterpreters reports, as a denial, an interpreter the kernel would
// load for the program at path (see ExecFailed) that the profile does not
// let it execute: the workload's execve then fails with EACCES although
// the program itself is granted. Nothing is credited to any grant: the
// interpreter's own load is observed separately when it happens.
func (s *Session) CheckInterpreters(pid int, comm, path string) {
	for depth := 0; depth < 4; depth++ {
		path = interpreter(path)
		if path == "" {
			return
		}
		canon, err := filepath.EvalSymlinks(path)
		if err != nil {
			return
		}
		op := FSOp{Op: event.OpExec, Path: canon, Existed: true}
		if v := CheckFS(s.pol.FS, Needs(op)); !v.Allowed {
			s.mu.Lock()
			s.deny(fsDenial(pid, comm, op, v.Missing))
			s.mu.Unlock()
			return
		}
		path = canon
	}
}

// interpreter is the program the kernel loads to run path: the "#!" line
// of a script or the PT_INTERP of an ELF file; "" when there is none.
func interpreter(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := f.Read(head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			return ""
		}
		return fields[0]
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return ""
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return ""
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}
