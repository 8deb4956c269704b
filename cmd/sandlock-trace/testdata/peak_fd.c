/* peak_fd: close every inherited fd above stdio, hold stdin duplicated as
 * fd N for 300 ms (thirty sampling periods), then exit.
 * Usage: peak_fd N */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int fd = argc > 1 ? atoi(argv[1]) : 200;
	close_range(3, ~0U, 0);
	if (dup2(0, fd) != fd)
		return 3;
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	return 0;
}
