/* peak_smallmaps: optionally reserve RESERVE_MIB mebibytes PROT_NONE, then
 * hold N anonymous read-write mappings of 256 KiB each at once for 100 ms,
 * then unmap them. Mappings this small are not notified to the tracer
 * (statm data counts them), yet sandlock charges each one: the peak must
 * still cover N x 256 KiB on top of the reservation. Then one 2 MiB map,
 * which is notified: like sandlock, the tracer raises the process's charge
 * to its statm data before judging it, so the small maps are counted at that
 * moment whatever the sampler managed under load.
 * Usage: peak_smallmaps N [RESERVE_MIB] */
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv) {
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
	size_t reserve = argc > 2 ? strtoul(argv[2], NULL, 10) << 20 : 0;
	if (reserve && mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED)
		return 3;
	char **maps = calloc(n ? n : 1, sizeof *maps);
	if (!maps)
		return 3;
	for (size_t i = 0; i < n; i++) {
		maps[i] = mmap(NULL, 256 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (maps[i] == MAP_FAILED)
			return 3;
		maps[i][0] = 1;
	}
	if (mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
		return 3;
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, NULL);
	for (size_t i = 0; i < n; i++)
		munmap(maps[i], 256 << 10);
	return 0;
}
