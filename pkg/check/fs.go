package check

import (
	"fmt"
	"path"
	"strings"

	"github.com/sandlock-learn/sandlock-learn/pkg/event"
)

// FSGrant is one entry of [filesystem].read or .write as Landlock sees it:
// a rule on the inode at Path granting Access to it and, when it is a
// directory, to everything beneath it.
type FSGrant struct {
	Key    string // KeyRead or KeyWrite
	Index  int    // position in the profile's array
	Path   string // canonical: the profile path with symlinks resolved
	Given  string // the path as the profile spells it
	Dir    bool
	Access Access
}

// Ref names the grant the way a user finds it in the profile.
func (g *FSGrant) Ref() string {
	return fmt.Sprintf("filesystem.%s %q", g.Key, g.Given)
}

// covers reports whether the rule applies to p: the inode itself, or a
// directory rule's descendants. Paths are canonical, so this is the same walk
// Landlock does from the target up to the root.
func (g *FSGrant) covers(p string) bool {
	if p == g.Path {
		return true
	}
	if !g.Dir {
		return false
	}
	if g.Path == "/" {
		return strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, g.Path) && len(p) > len(g.Path) && p[len(g.Path)] == '/'
}

// FSOp is one observed path operation, in the terms of the event stream.
type FSOp struct {
	Op      string // event.Op* (read, write, create, remove, ...)
	Path    string // absolute, canonical (parent canonical for ops on a link)
	Dir     bool   // the target is a directory
	Existed bool   // the target existed before the call
	// Make is the MAKE_* right a mknod needs (MakeFifo, MakeChar...); zero
	// means MakeReg. Other ops ignore it.
	Make Access
}

// Need is one Landlock check: the rights Access on the inode at Path.
type Need struct {
	Path   string
	Access Access
}

// Needs lists the checks Landlock makes for op, in the order the kernel
// makes them. An empty list means Landlock does not look at the operation:
// the call fails earlier (ENOENT on a missing file, EEXIST on an existing
// one) or Landlock does not restrict it (stat, connect to a UNIX socket).
func Needs(op FSOp) []Need {
	parent := parentDir(op.Path)
	switch op.Op {
	case event.OpRead:
		if !op.Existed {
			return nil
		}
		if op.Dir {
			return []Need{{op.Path, ReadDir}}
		}
		return []Need{{op.Path, ReadFile}}
	case event.OpReaddir:
		if !op.Existed {
			return nil
		}
		return []Need{{op.Path, ReadDir}}
	case event.OpWrite:
		if !op.Existed {
			return nil
		}
		return []Need{{op.Path, WriteFile}}
	case event.OpTruncate:
		if !op.Existed {
			return nil
		}
		return []Need{{op.Path, Truncate}}
	case event.OpExec:
		if !op.Existed {
			return nil
		}
		return []Need{{op.Path, Execute}}
	case event.OpCreate:
		if op.Existed {
			return nil
		}
		return []Need{{parent, MakeReg}}
	case event.OpMkdir:
		if op.Existed {
			return nil
		}
		return []Need{{parent, MakeDir}}
	case event.OpMknod:
		if op.Existed {
			return nil
		}
		m := op.Make
		if m == 0 {
			m = MakeReg
		}
		return []Need{{parent, m}}
	case event.OpSymlink:
		if op.Existed {
			return nil
		}
		return []Need{{parent, MakeSym}}
	case event.OpBindUnix:
		if op.Existed {
			return nil
		}
		return []Need{{parent, MakeSock}}
	case event.OpLinkTo:
		if op.Existed {
			return nil
		}
		return []Need{{parent, MakeReg}}
	case event.OpRemove:
		if !op.Existed {
			return nil
		}
		return []Need{{parent, RemoveFile}}
	case event.OpRmdir:
		if !op.Existed {
			return nil
		}
		return []Need{{parent, RemoveDir}}
	case event.OpRenameFrom:
		if !op.Existed {
			return nil
		}
		if op.Dir {
			return []Need{{parent, RemoveDir}}
		}
		return []Need{{parent, RemoveFile}}
	case event.OpRenameTo:
		// The kind of the moved inode is the source's; the event for the
		// target carries it in Dir as the trace saw it.
		mk := MakeReg
		if op.Dir {
			mk = MakeDir
		}
		if op.Existed {
			// Replacing an entry removes the old one from the directory.
			return []Need{{parent, mk | RemoveFile}}
		}
		return []Need{{parent, mk}}
	case event.OpLinkFrom, event.OpConnectUnix:
		// The source of a link is only looked up; Landlock ABI < 9 (and
		// sandlock 0.8 at any ABI) does not restrict connecting to a
		// pathname UNIX socket.
		return nil
	}
	return nil
}

// PairNeeds adds the REFER checks of a rename or link whose source and
// target parents differ. Landlock also requires that the target hierarchy
// grants no more than the source one; with sandlock's two masks that always
// holds (a source one may remove from carries the full write mask), so only
// REFER itself can be missing.
func PairNeeds(from, to FSOp) []Need {
	needs := append(Needs(from), Needs(to)...)
	fp, tp := parentDir(from.Path), parentDir(to.Path)
	if fp != tp {
		needs = append(needs, Need{fp, Refer}, Need{tp, Refer})
	}
	return needs
}

func parentDir(p string) string {
	if p == "/" || p == "" {
		return "/"
	}
	return path.Dir(p)
}

// FSVerdict is the outcome of evaluating one operation.
type FSVerdict struct {
	Allowed bool
	// Checked is false when Landlock does not look at the operation at all
	// (see Needs); Allowed is true then.
	Checked bool
	// Missing is the first need that the grants do not satisfy: the path
	// Landlock refused and the rights it lacked there.
	Missing Need
	// By lists the grants (indexes into the evaluator's FS grants) that
	// provided the rights, most specific first. Empty when denied.
	By []int
	// ByWrite are the grants of By that provided a right beyond reading.
	ByWrite []int
}

// CheckFS evaluates needs against the grants the way Landlock does with a
// single layer: a right is granted on a path if any rule on the path itself
// or on one of its ancestors grants it, and every right of every need must
// be granted.
func CheckFS(grants []FSGrant, needs []Need) FSVerdict {
	v := FSVerdict{Allowed: true, Checked: len(needs) > 0}
	var by, byWrite []int
	for _, n := range needs {
		var have Access
		// best is the most specific grant that covers the need alone.
		best, bestDepth := -1, -1
		for i := range grants {
			g := &grants[i]
			if !g.covers(n.Path) {
				continue
			}
			have |= g.Access
			d := len(g.Path)
			if g.Access&n.Access == n.Access {
				// Deeper wins; on a tie, the narrower mask: a read
				// grant is credited before a write grant on one path.
				if d > bestDepth || (d == bestDepth && g.Access < grants[best].Access) {
					best, bestDepth = i, d
				}
			}
		}
		if have&n.Access != n.Access {
			return FSVerdict{
				Checked: true,
				Missing: Need{n.Path, n.Access &^ have},
			}
		}
		if best >= 0 {
			by = appendUnique(by, best)
			if n.Access&^ReadAccess != 0 {
				byWrite = appendUnique(byWrite, best)
			}
			continue
		}
		// No single grant has every right: credit, per right, the most
		// specific grant that has it.
		for bit := Access(1); bit != 0 && bit <= n.Access; bit <<= 1 {
			if n.Access&bit == 0 {
				continue
			}
			pick, depth := -1, -1
			for i := range grants {
				g := &grants[i]
				if g.Access&bit != 0 && g.covers(n.Path) && len(g.Path) > depth {
					pick, depth = i, len(g.Path)
				}
			}
			by = appendUnique(by, pick)
			if bit&^ReadAccess != 0 {
				byWrite = appendUnique(byWrite, pick)
			}
		}
	}
	v.By, v.ByWrite = by, byWrite
	return v
}

func appendUnique(s []int, x int) []int {
	for _, y := range s {
		if y == x {
			return s
		}
	}
	return append(s, x)
}
