package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandlock-learn/sandlock-learn/pkg/profile"
)

func TestNewPolicyResolves(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "l")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	p := &profile.Profile{
		Filesystem: profile.Filesystem{Read: []string{link}, Write: []string{dir}},
		Network: profile.Network{
			Allow:     []string{"tcp://127.0.0.1:80", "localhost:53"},
			AllowBind: []profile.Port{profile.PortNum(8080), profile.PortSpec("9000-9001,9005")},
		},
		Limits:   profile.Limits{OpenFiles: 100, Memory: "64M"},
		Syscalls: profile.Syscalls{ExtraAllow: []string{"sysv_ipc"}, ExtraDeny: []string{"chmod", "no_such_call"}},
	}
	pol, err := NewPolicy(p, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The symlink is granted as its target, masked as a file.
	if g := pol.FS[0]; g.Path != file || g.Dir || g.Access != Execute|ReadFile || g.Given != link {
		t.Errorf("read grant %+v", g)
	}
	if g := pol.FS[1]; g.Path != dir || !g.Dir || g.Access != WriteAccess(7) {
		t.Errorf("write grant %+v", g)
	}
	if ports, handled := pol.Net.BindPorts(); !handled || len(ports) != 4 {
		t.Errorf("bind ports %v %v", ports, handled)
	}
	if pol.OpenFiles != 100 {
		t.Errorf("open files %d", pol.OpenFiles)
	}
	blocked := strings.Join(pol.Blocked, " ")
	if !strings.Contains(blocked, "ptrace") || !strings.Contains(blocked, "chmod") || strings.Contains(blocked, "shmget") {
		t.Errorf("blocked %s: want ptrace and chmod, and no SysV IPC with extra_allow sysv_ipc", blocked)
	}
	un := strings.Join(pol.Unenforced, "; ")
	for _, want := range []string{"limits.memory 64M", "no_such_call", "hostname rules", "default limit of 64 processes"} {
		if !strings.Contains(un, want) {
			t.Errorf("Unenforced %q lacks %q", un, want)
		}
	}
}

func TestNewPolicyErrors(t *testing.T) {
	p := &profile.Profile{
		Filesystem: profile.Filesystem{Read: []string{"/no/such/dir", "relative"}},
		Network:    profile.Network{Allow: []string{"ftp://x:1"}},
	}
	_, err := NewPolicy(p, 7, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"filesystem.read: /no/such/dir does not exist", `"relative" is not an absolute path`, "unknown scheme"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
