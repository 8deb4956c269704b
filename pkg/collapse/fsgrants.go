package collapse

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// agg is what one final filesystem grant covers.
type agg struct {
	observed int64
	counts   [numOps]int64
	examples []string // the smallest few, sorted
}

const maxExamples = 3

func (a *agg) add(n *node, ops []int) {
	var k int64
	for _, op := range ops {
		k += int64(n.obs.counts[op])
		a.counts[op] += int64(n.obs.counts[op])
	}
	if k == 0 {
		return
	}
	a.observed += k
	if !utf8.ValidString(n.path) {
		return // examples go into JSON strings: UTF-8 only
	}
	if len(a.examples) == maxExamples && n.path >= a.examples[maxExamples-1] {
		return
	}
	i, found := slices.BinarySearch(a.examples, n.path)
	if found {
		return
	}
	a.examples = slices.Insert(a.examples, i, n.path)
	if len(a.examples) > maxExamples {
		a.examples = a.examples[:maxExamples]
	}
}

func (a *agg) opsText() string {
	var parts []string
	for op, k := range a.counts {
		if k > 0 {
			parts = append(parts, fmt.Sprintf("%s x%d", opNames[op], k))
		}
	}
	return strings.Join(parts, ", ")
}

var (
	readOps   = []int{opRead, opReaddir, opExec, opLinkFrom}
	writeOps  = []int{opWrite, opTruncate, opConnectUnix}
	parentOps = []int{opCreate, opMkdir, opMknod, opRemove, opRmdir, opRenameFrom, opRenameTo, opLinkTo, opSymlink, opBindUnix}
)

func (o *obs) any(ops []int) bool {
	for _, op := range ops {
		if o.counts[op] > 0 {
			return true
		}
	}
	return false
}

// fsState is the bookkeeping of one filesystem pass.
type fsState struct {
	*builder
	targets    []*node
	never      []string // event paths never granted (pid/session specific)
	neverN     int
	skipped    map[*node][]string // write collapses refused by tier
	skipOrder  []*node
	guarded    map[*node]bool
	utf8       map[*node][]*node // UTF-8 ancestor -> unrepresentable targets under it
	utf8Order  []*node
	rootDirect []string
	sensitive  map[*node]bool // direct directory grants on protected/guarded paths
	statErrs   []*node
}

func (b *builder) filesystem() {
	c := b.c
	s := &fsState{builder: b, skipped: map[*node][]string{}, guarded: map[*node]bool{},
		utf8: map[*node][]*node{}, sensitive: map[*node]bool{}}
	for _, n := range c.prefixes {
		n.isPrefix = true
	}
	t := c.t
	prestat(c.needy)

	// 1. Each need finds its target: the path itself if it exists now, its
	//    nearest existing ancestor for a vanished write, the parent (or
	//    its nearest existing ancestor) for a change of a directory entry.
	for _, n := range c.needy {
		if neverGranted(n.path) {
			s.dropNever(n.path)
			continue
		}
		o := n.obs
		if o.any(readOps) {
			if ct := t.canon(n); ct != nil {
				o.readT = s.place(n, ct, tRead, rDirect)
			} else {
				o.readGone = true
				if n.statErr != nil {
					s.statErrs = append(s.statErrs, n)
				}
			}
		}
		if o.any(writeOps) {
			ct := t.canon(n)
			switch {
			case ct != nil && !ct.isDir:
				o.writeT = s.place(n, ct, tWrite, rDirect)
			case ct != nil:
				o.writeT = s.place(n, ct, tWrite, rCollapse)
			default:
				if n.statErr != nil {
					s.statErrs = append(s.statErrs, n)
				}
				if a := t.nearestExisting(n.parent); a.isDir {
					o.writeT = s.place(n, a, tWrite, rCollapse)
				}
			}
		}
		if o.any(parentOps) {
			// A parent that is not a directory made the op fail (ENOTDIR).
			if a := t.nearestExisting(n.parent); a.isDir {
				o.parentT = s.place(n, a, tWrite, rCollapse)
			}
		}
	}

	// 2. Threshold collapsing, deepest directories first.
	if c.opts.Threshold > 0 {
		s.threshold(c.opts.Threshold)
	}

	// 3. Remove entries covered by another.
	for _, n := range s.targets {
		if n.target == tRead|tWrite {
			n.target = tWrite
		}
		n.final = true
		for a := n.parent; a != nil; a = a.parent {
			if a.target&tWrite != 0 || (a.target == tRead && n.target == tRead) {
				n.final = false
				break
			}
		}
		if n.final {
			n.agg = &agg{}
		}
	}

	// 4. Attribute every event to the grant that covers it.
	var goneReads []*node
	for _, n := range c.needy {
		if neverGranted(n.path) {
			continue
		}
		o := n.obs
		for a := n; a != nil && !a.touched; a = a.parent {
			a.touched = true
		}
		if o.any(readOps) {
			var g *node
			if o.readT != nil {
				g = cover(o.readT, false)
			} else if o.readGone {
				g = cover(t.nearestExisting(n), false)
				if g == nil && n.statErr == nil {
					goneReads = append(goneReads, n)
				}
			}
			if g != nil {
				g.agg.add(n, readOps)
			}
		}
		if o.writeT != nil {
			if g := cover(o.writeT, true); g != nil {
				g.agg.add(n, writeOps)
			}
		}
		if o.parentT != nil {
			if g := cover(o.parentT, true); g != nil {
				g.agg.add(n, parentOps)
			}
		}
	}

	// 5. The grants.
	var final []*node
	for _, n := range s.targets {
		if n.final {
			final = append(final, n)
		}
	}
	slices.SortFunc(final, func(a, b *node) int { return strings.Compare(a.path, b.path) })
	for _, n := range final {
		key := "read"
		if n.target&tWrite != 0 {
			key = "write"
		}
		s.grant("filesystem", key, n.path, s.why(n), n.agg.observed, n.agg.examples)
	}
	s.warnings(goneReads)
}

// cover is the nearest final grant at or above n that gives the access.
func cover(n *node, write bool) *node {
	for a := n; a != nil; a = a.parent {
		if a.final && (a.target&tWrite != 0 || (!write && a.target != 0)) {
			return a
		}
	}
	return nil
}

func (s *fsState) dropNever(p string) {
	if len(s.never) < maxExamples {
		s.never = append(s.never, p)
	}
	s.neverN++
}

// place applies the never-granted rule, UTF-8 substitution, prefixes and
// tiers to a target found for src's need, and registers what survives. It
// returns the target to attribute src's events from.
func (s *fsState) place(src, tgt *node, kind, reason uint8) *node {
	if neverGranted(tgt.path) {
		s.dropNever(src.path)
		return nil
	}
	at := tgt
	if !utf8.ValidString(tgt.path) {
		a := tgt.parent
		for !utf8.ValidString(a.path) {
			a = a.parent
		}
		if _, ok := s.utf8[a]; !ok {
			s.utf8Order = append(s.utf8Order, a)
		}
		if l := s.utf8[a]; !slices.Contains(l, tgt) {
			s.utf8[a] = append(l, tgt)
		}
		tgt, reason = a, max(reason, rUTF8)
	}
	if len(s.c.prefixes) > 0 {
		for a := tgt; a != nil; a = a.parent {
			if a.isPrefix {
				s.register(a, kind, rPrefix)
				return at
			}
		}
	}
	if reason >= rUTF8 { // a directory stands in for what was used
		if tgt.parent == nil || underProtected(tgt.path) {
			if _, ok := s.skipped[tgt]; !ok {
				s.skipOrder = append(s.skipOrder, tgt)
			}
			if ex := s.skipped[tgt]; len(ex) < maxExamples {
				s.skipped[tgt] = append(ex, showPath(src.path))
			}
			return at
		}
		if s.c.isGuarded(tgt.path) {
			s.guarded[tgt] = true
		}
	} else if tgt.parent == nil {
		if len(s.rootDirect) < maxExamples {
			s.rootDirect = append(s.rootDirect, opList(src))
		}
		return at
	} else if tgt.isDir && (underProtected(tgt.path) || s.c.isGuarded(tgt.path)) {
		s.sensitive[tgt] = true
	}
	s.register(tgt, kind, reason)
	return at
}

func opList(n *node) string {
	var ops []string
	for op, k := range n.obs.counts {
		if k > 0 {
			ops = append(ops, opNames[op])
		}
	}
	return strings.Join(ops, "/")
}

func (s *fsState) register(n *node, kind, reason uint8) {
	if n.target == 0 {
		s.targets = append(s.targets, n)
	}
	n.target |= kind
	n.reason = max(n.reason, reason)
}

// threshold grants a directory whose distinct direct entries that are
// targets reach n (write when n of them are write targets); a directory so
// granted counts as an entry of its parent.
func (s *fsState) threshold(n int) {
	var buckets [][]*node
	push := func(p *node) {
		if p == nil || p.visited {
			return
		}
		p.visited = true
		for int(p.depth) >= len(buckets) {
			buckets = append(buckets, nil)
		}
		buckets[p.depth] = append(buckets[p.depth], p)
	}
	bump := func(x *node, old, now uint8) {
		p := x.parent
		if p == nil {
			return
		}
		if old == 0 {
			p.kidsR++
		}
		if old&tWrite == 0 && now&tWrite != 0 {
			p.kidsW++
		}
		push(p)
	}
	for _, x := range s.targets {
		bump(x, 0, x.target)
	}
	for d := len(buckets) - 1; d >= 1; d-- {
		for i := 0; i < len(buckets[d]); i++ {
			p := buckets[d][i]
			old := p.target
			now := old
			if int(p.kidsW) >= n {
				now |= tWrite
			} else if int(p.kidsR) >= n {
				now |= tRead
			}
			if now == old || !s.thresholdAllowed(p) {
				continue
			}
			s.register(p, now&^old, rThreshold)
			bump(p, old, now)
		}
	}
}

func (s *fsState) thresholdAllowed(p *node) bool {
	return p.parent != nil && !underProtected(p.path) && !s.c.isGuarded(p.path) &&
		!neverGranted(p.path) && utf8.ValidString(p.path) && s.c.t.canon(p) == p && p.isDir
}

func (s *fsState) why(n *node) string {
	a := n.agg
	ops := a.opsText()
	switch n.reason {
	case rPrefix:
		return "--collapse-prefix: " + ops
	case rThreshold:
		k, what := n.kidsR, "used"
		if n.target&tWrite != 0 {
			k, what = n.kidsW, "written or changed"
		}
		return fmt.Sprintf("%d entries directly under it were %s (threshold %d): %s", k, what, s.c.opts.Threshold, ops)
	case rUTF8:
		return "nearest UTF-8 ancestor of a path a profile cannot spell: " + ops
	case rCollapse:
		return "write collapse, nearest existing directory of what was changed: " + ops
	}
	return ops
}

const maxListed = 50

func (s *fsState) warnings(goneReads []*node) {
	c := s.c
	if s.neverN > 0 {
		s.warn("", "%d pid- or session-specific paths were not granted (/proc/self, /proc/thread-self, /proc/<pid>, /dev/pts, /dev/tty are never granted; sandlock decides about them), e.g. %s",
			s.neverN, strings.Join(s.never, ", "))
	}
	if len(s.rootDirect) > 0 {
		s.warn("/", "the workload used / itself (%s): / is never granted, so that will be denied under sandlock", strings.Join(s.rootDirect, ", "))
	}
	for _, n := range s.skipOrder {
		what := "a protected path (credentials or root's home)"
		if n.parent == nil {
			what = "never granted"
		}
		msg := fmt.Sprintf("write collapse to %s skipped: it is %s; the workload changed entries in it (e.g. %s), which sandlock will deny",
			showPath(n.path), what, strings.Join(s.skipped[n], ", "))
		s.res.Errors = append(s.res.Errors, msg)
		s.warn(n.path, "%s", msg)
	}
	for n := range s.guarded {
		if !n.final || n.target&tWrite == 0 {
			continue
		}
		var untouched, prot []string
		ents, err := os.ReadDir(n.path)
		for _, e := range ents {
			if k, ok := c.t.m[n.path+"/"+e.Name()]; !ok || !k.touched {
				untouched = append(untouched, showPath(e.Name()))
			}
			if protectedNames[e.Name()] {
				prot = append(prot, e.Name())
			}
		}
		if len(prot) > 0 {
			s.warn(n.path, "write collapse to guarded directory %s makes the protected entries in it writable too: %s", n.path, strings.Join(prot, ", "))
		}
		switch {
		case err != nil:
			s.warn(n.path, "write collapse to guarded directory %s: it becomes writable as a whole (cannot list it: %v)", n.path, err)
		case len(untouched) == 0:
			s.warn(n.path, "write collapse to guarded directory %s: it becomes writable as a whole (the workload touched every entry in it)", n.path)
		default:
			s.warn(n.path, "write collapse to guarded directory %s: it becomes writable as a whole, including %d entries the workload never touched: %s",
				n.path, len(untouched), limitList(untouched, maxListed))
		}
	}
	for n := range s.sensitive {
		if n.final {
			s.warn(n.path, "the workload opened the sensitive directory %s itself: the grant on it covers everything beneath", n.path)
		}
	}
	// One warning per ancestor granted because of the paths it stands
	// for; none when something else granted it anyway.
	for _, a := range s.utf8Order {
		g := cover(a, false)
		if g == nil || g.reason != rUTF8 {
			continue
		}
		var ex []string
		for _, n := range s.utf8[a] {
			ex = append(ex, showPath(n.path))
		}
		slices.Sort(ex)
		s.warn(g.path, "%d paths a TOML profile cannot spell (not valid UTF-8) are covered by granting their nearest UTF-8 ancestor %s instead: %s",
			len(ex), g.path, limitList(ex, maxExamples))
	}
	for i, n := range goneReads {
		if i == maxListed {
			s.warn("", "%d more reads of paths that no longer exist were not granted", len(goneReads)-maxListed)
			break
		}
		s.warn(n.path, "%s was read but no longer exists: not granted (a profile can name only existing paths)", showPath(n.path))
	}
	for i, n := range s.statErrs {
		if i == maxListed {
			s.warn("", "%d more paths could not be checked", len(s.statErrs)-maxListed)
			break
		}
		s.warn(n.path, "cannot check %s (%v): not granted", showPath(n.path), n.statErr)
	}
}
