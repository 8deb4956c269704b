/* peak_children: fork N children that all stay alive until the last one
 * exists, hold them 50 ms more, then let them exit and reap them.
 * Usage: peak_children N */
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 20;
	int hold[2];
	if (pipe(hold) != 0)
		return 3;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 3;
		if (pid == 0) {
			char c;
			close(hold[1]);
			while (read(hold[0], &c, 1) > 0) {
			}
			_exit(0);
		}
	}
	struct timespec ts = {0, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
	close(hold[1]); /* every child sees EOF and exits */
	for (int i = 0; i < n; i++)
		if (wait(NULL) < 0)
			return 3;
	return 0;
}
