//go:build linux

// Package procfs reads /proc files for the tracer's hot paths: into a
// caller's buffer, with no stat (a /proc file reports no size) and no
// allocation once the buffer is large enough. os.ReadFile costs a process
// an fstat, a buffer grown from 512 bytes and a copy; here that is what
// separates a sampler pass, or an exec's bookkeeping, from its budget.
package procfs

import (
	"bytes"
	"strconv"

	"golang.org/x/sys/unix"
)

// ReadFile reads the whole file at path into buf (from its start, grown
// as needed) and returns it; on error, what was read so far.
func ReadFile(path string, buf []byte) ([]byte, error) {
	buf = buf[:0]
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return buf, err
	}
	defer unix.Close(fd)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// StatFields splits a /proc/PID/stat line after the command name, which
// may itself contain spaces and parentheses: the name ends at the LAST
// ')'. The returned slice starts at field 3 (state), so field N is at
// index N-3.
func StatFields(b []byte) [][]byte {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return bytes.Fields(b[i+1:])
}

// StatField returns numeric field n (1-based, as proc(5) numbers them) of
// a /proc/PID/stat line split by StatFields, or -1.
func StatField(fields [][]byte, n int) int64 {
	i := n - 3
	if i < 0 || i >= len(fields) {
		return -1
	}
	v, err := strconv.ParseInt(string(fields[i]), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// StatComm returns field 2 of a /proc/PID/stat line, the command name,
// without its parentheses.
func StatComm(b []byte) ([]byte, bool) {
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return nil, false
	}
	return b[i+1 : j], true
}
