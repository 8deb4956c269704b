/* peak_arenas: N threads each malloc a small block at the same time, so glibc
 * gives every thread its own arena (a 64 MiB-aligned PROT_NONE reservation),
 * then all of them hold until the last one has allocated. Prints "ready"
 * when every thread holds its block, then waits for a line on stdin (or
 * for holdms milliseconds when an argument is given) before exiting.
 * Usage: peak_arenas NTHREADS [HOLD_MS] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_barrier_t allocated, release;

static void *worker(void *arg) {
	(void)arg;
	char *p = malloc(1024);
	if (p == NULL)
		abort();
	memset(p, 1, 1024);
	pthread_barrier_wait(&allocated);
	pthread_barrier_wait(&release);
	free(p);
	return NULL;
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 8;
	pthread_t th[256];
	if (n < 1 || n > 256)
		return 2;
	pthread_barrier_init(&allocated, NULL, n + 1);
	pthread_barrier_init(&release, NULL, n + 1);
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0)
			return 1;
	pthread_barrier_wait(&allocated);
	printf("ready\n");
	fflush(stdout);
	if (argc > 2) {
		usleep(atoi(argv[2]) * 1000);
	} else {
		char line[16];
		if (fgets(line, sizeof line, stdin) == NULL) {
		}
	}
	pthread_barrier_wait(&release);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return 0;
}
