package collapse

import "strings"

// Path tiers of profile.md. All paths here are canonical and absolute.

var guardedDirs = map[string]bool{
	"/etc": true, "/proc": true, "/sys": true, "/dev": true, "/boot": true, "/run/secrets": true,
}

var protectedNames = map[string]bool{".ssh": true, ".aws": true, ".kube": true, ".gnupg": true}

// isProtected: /, /root, or a directory named like a credential store.
func isProtected(p string) bool {
	if p == "/" || p == "/root" {
		return true
	}
	return protectedNames[p[strings.LastIndexByte(p, '/')+1:]]
}

// underProtected: p is protected, or lies beneath a credential store (a key
// below ~/.ssh is as secret as ~/.ssh itself, so collapsing into
// ~/.ssh/keys is no better than into ~/.ssh). Below /root only /root itself
// is protected: its subdirectories are root's $HOME contents, which the
// table treats like any user's (normal, with the credential stores
// protected by name).
func underProtected(p string) bool {
	if isProtected(p) {
		return true
	}
	for q := p; q != ""; q = q[:strings.LastIndexByte(q, '/')] {
		if protectedNames[q[strings.LastIndexByte(q, '/')+1:]] {
			return true
		}
	}
	return false
}

func (c *Collapser) isGuarded(p string) bool {
	return guardedDirs[p] || (c.home != "" && p == c.home)
}

// neverGranted: pid- and session-specific paths. A grant on them would name
// the traced run's processes and terminal, which do not exist next time.
func neverGranted(p string) bool {
	if p == "/dev/tty" || p == "/dev/pts" || strings.HasPrefix(p, "/dev/pts/") {
		return true
	}
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return false
	}
	first, _, _ := strings.Cut(rest, "/")
	if first == "self" || first == "thread-self" {
		return true
	}
	if first == "" {
		return false
	}
	for i := 0; i < len(first); i++ {
		if first[i] < '0' || first[i] > '9' {
			return false
		}
	}
	return true
}
