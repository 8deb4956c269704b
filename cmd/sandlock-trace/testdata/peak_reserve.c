/* peak_reserve: reserve MIB mebibytes PROT_NONE (as Go and Java runtimes
 * do), make the first mebibyte read-write and touch it, then exit.
 * RSS stays near 1 MiB; sandlock's ledger charges the whole reservation.
 * Usage: peak_reserve MIB */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
	size_t len = mib << 20;
	char *p = mmap(NULL, len ? len : 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return 3;
	if (len >= (1 << 20)) {
		if (mprotect(p, 1 << 20, PROT_READ | PROT_WRITE) != 0)
			return 3;
		memset(p, 1, 1 << 20);
	}
	return 0;
}
