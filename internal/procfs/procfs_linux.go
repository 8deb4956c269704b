//go:build linux

// Package procfs reads /proc files for the tracer's hot paths: into a
// caller's buffer, with no stat (a /proc file reports no size) and no
// allocation once the buffer is large enough. os.ReadFile costs a process
// an fstat, a buffer grown from 512 bytes and a copy; here that is what
// separates a sampler pass, or an exec's bookkeeping, from its budget.
package procfs

import "golang.org/x/sys/unix"

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
