package collapse

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
)

// node is one distinct path: every path an event named, and every ancestor
// of one. Nodes form a tree through parent; a path string is stored once
// (ancestors share the bytes of the first descendant seen).
type node struct {
	path   string
	parent *node
	depth  int32

	obs *obs // non-nil once an event named this path

	// Filesystem state, memoized by canon; pre* is an lstat done ahead.
	preDone   bool
	preMode   fs.FileMode
	preErr    error
	canonDone bool
	isDir     bool
	statErr   error // an lstat error other than "does not exist"
	canonical *node // the canonical existing node for this path, or nil

	// Collapse state.
	target   uint8 // tRead | tWrite
	reason   uint8 // why it became a target (the strongest reason)
	visited  bool  // queued for the threshold pass
	kidsR    int32 // distinct direct children that are targets
	kidsW    int32 // distinct direct children that are write targets
	final    bool  // survives the covered-entry pass
	touched  bool  // an event named it or something beneath it
	isPrefix bool  // a --collapse-prefix
	agg      *agg  // what the final grant covers
}

const (
	tRead  uint8 = 1
	tWrite uint8 = 2
)

// Reasons, weakest first: a target keeps the strongest.
const (
	rDirect    uint8 = iota + 1 // the path itself was used
	rUTF8                       // nearest UTF-8 ancestor of an unrepresentable path
	rCollapse                   // write collapse: a child op, or a vanished file
	rThreshold                  // --collapse N
	rPrefix                     // --collapse-prefix
)

// obs is what the events said about one path.
type obs struct {
	counts [numOps]int32
	// Which grant each kind of need resolved to, before prefixes and
	// collapsing (set during Result).
	readT, writeT, parentT *node
	readGone               bool
}

// tree interns paths into nodes.
type tree struct {
	m    map[string]*node
	root *node
}

func newTree() *tree {
	root := &node{path: "/"}
	return &tree{m: map[string]*node{"/": root}, root: root}
}

// get returns the node of an absolute, clean path, creating it and its
// ancestors. The caller has checked the path (event.CheckPath).
func (t *tree) get(p string) *node {
	if n, ok := t.m[p]; ok {
		return n
	}
	i := strings.LastIndexByte(p, '/')
	var parent *node
	if i <= 0 {
		parent = t.root
	} else {
		parent = t.get(p[:i])
	}
	n := &node{path: p, parent: parent, depth: parent.depth + 1}
	t.m[p] = n
	return n
}

// child returns the node for name directly under dir.
func (t *tree) child(dir *node, name string) *node {
	if dir.parent == nil {
		return t.get("/" + name)
	}
	return t.get(dir.path + "/" + name)
}

func (n *node) base() string {
	if n.parent == nil {
		return "/"
	}
	return n.path[strings.LastIndexByte(n.path, '/')+1:]
}

// under reports whether n is a or lies beneath it.
func (n *node) under(a *node) bool {
	for d := n; d != nil && d.depth >= a.depth; d = d.parent {
		if d == a {
			return true
		}
	}
	return false
}

// canon returns the canonical existing node for n (n itself when its path
// exists and no component is a symlink), or nil when the path does not
// exist now or cannot be checked. One lstat per distinct node: ancestors are
// memoized, so a missing directory answers for everything beneath it.
func (t *tree) canon(n *node) *node {
	if n.canonDone {
		return n.canonical
	}
	// Set before recursing: a symlink cycle that slips past EvalSymlinks
	// (the tree changing under us) ends as "does not exist", not a loop.
	n.canonDone = true
	if n.parent == nil {
		n.isDir = true
		n.canonical = n
		return n
	}
	cp := t.canon(n.parent)
	switch {
	case cp == nil || !cp.isDir:
		if cp == nil {
			n.statErr = n.parent.statErr // why the parent could not be checked
		}
		return nil
	case cp != n.parent:
		// An ancestor is a symlink: look the name up under its target.
		n.canonical = t.canon(t.child(cp, n.base()))
		return n.canonical
	}
	mode, err := n.preMode, n.preErr
	if !n.preDone {
		mode, err = lstat(n.path)
	}
	if err != nil {
		if !notExist(err) {
			n.statErr = err
		}
		return nil
	}
	if mode&fs.ModeSymlink != 0 {
		real, err := filepath.EvalSymlinks(n.path)
		if err != nil {
			if !notExist(err) {
				n.statErr = err
			}
			return nil
		}
		n.canonical = t.canon(t.get(real))
		return n.canonical
	}
	n.isDir = mode.IsDir()
	n.canonical = n
	return n
}

func lstat(p string) (fs.FileMode, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return 0, err
	}
	return fi.Mode(), nil
}

// prestat lstats nodes concurrently, ahead of canon: on a trace of 200,000
// distinct files the lstat calls are a third of the collapse, and they
// are independent. Each node is written by one goroutine, and read only
// after all have finished.
func prestat(nodes []*node) {
	workers := min(max(runtime.GOMAXPROCS(0), 1), 8)
	if len(nodes) < 1024 {
		workers = 1
	}
	var wg sync.WaitGroup
	per := (len(nodes) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		part := nodes[min(w*per, len(nodes)):min((w+1)*per, len(nodes))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, n := range part {
				n.preMode, n.preErr = lstat(n.path)
				n.preDone = true
			}
		}()
	}
	wg.Wait()
}

func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) ||
		errors.Is(err, syscall.ENAMETOOLONG)
}

// nearestExisting returns the canonical node of n's nearest existing
// ancestor-or-self (the root always exists). It may be a file: then
// whatever the workload did beneath it failed with ENOTDIR.
func (t *tree) nearestExisting(n *node) *node {
	for a := n; a != nil; a = a.parent {
		if c := t.canon(a); c != nil {
			return c
		}
	}
	return t.canon(t.root)
}
