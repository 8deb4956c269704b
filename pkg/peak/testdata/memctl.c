/* memctl: a workload that does exactly what the test asks, one command per
 * line on stdin, and answers one line on stdout when the command is done.
 * The test calls the Tracker the way the supervisor would (before the
 * syscall runs), then sends the command.
 *
 *   mmap N      reserve N bytes PROT_NONE (anonymous, private); print its address
 *   mmaprw N    map N bytes read-write (anonymous, private), untouched
 *   touch N     make the first N bytes of the last mapping RW and write them
 *   ro N        make the first N bytes of the last mapping read-only
 *   munmap      unmap the last mapping
 *   mremap N    resize the last mapping to N bytes (may move); print its address
 *   brk         print the current break
 *   setbrk A    brk(A) (A in hex), print the new break
 *   dup N       dup2(0, N)
 *   fork        fork a child that lives until "release"; print its pid
 *   forkexit    fork a child that exits at once, reap it; print its pid
 *   release     let the held children exit and reap them all
 *   thread      start a thread that sleeps forever (multi-threaded from now)
 *   exec P A... answer, then execv(P, [P, A...])
 *   exit        exit 0
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char *last;
static size_t lastlen;
static int hold[2] = {-1, -1};
static int held;

static void *sleeper(void *arg) {
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void reply(const char *fmt, unsigned long v) {
	printf(fmt, v);
	putchar('\n');
	fflush(stdout);
}

int main(void) {
	char line[4096];
	/* Start from stdio only, whatever fds the test's environment leaked,
	 * so fd numbers are the test's to choose. */
	close_range(3, ~0U, 0);
	while (fgets(line, sizeof line, stdin) != NULL) {
		char cmd[32] = {0};
		unsigned long n = 0;
		line[strcspn(line, "\n")] = 0;
		sscanf(line, "%31s %lu", cmd, &n);
		if (strcmp(cmd, "mmap") == 0 || strcmp(cmd, "mmaprw") == 0) {
			int prot = cmd[4] ? PROT_READ | PROT_WRITE : PROT_NONE;
			last = mmap(NULL, n, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (last == MAP_FAILED)
				return 3;
			lastlen = n;
			reply("%lx", (unsigned long)last);
		} else if (strcmp(cmd, "touch") == 0) {
			if (mprotect(last, n, PROT_READ | PROT_WRITE) != 0)
				return 3;
			memset(last, 7, n);
			reply("ok", 0);
		} else if (strcmp(cmd, "ro") == 0) {
			if (mprotect(last, n, PROT_READ) != 0)
				return 3;
			reply("ok", 0);
		} else if (strcmp(cmd, "munmap") == 0) {
			if (munmap(last, lastlen) != 0)
				return 3;
			last = NULL;
			reply("ok", 0);
		} else if (strcmp(cmd, "mremap") == 0) {
			last = mremap(last, lastlen, n, MREMAP_MAYMOVE);
			if (last == MAP_FAILED)
				return 3;
			lastlen = n;
			reply("%lx", (unsigned long)last);
		} else if (strcmp(cmd, "brk") == 0) {
			reply("%lx", (unsigned long)sbrk(0));
		} else if (strcmp(cmd, "setbrk") == 0) {
			unsigned long a = strtoul(line + 7, NULL, 16);
			if (brk((void *)a) != 0)
				return 3;
			reply("%lx", (unsigned long)sbrk(0));
		} else if (strcmp(cmd, "dup") == 0) {
			if (dup2(0, (int)n) < 0)
				return 3;
			reply("ok", 0);
		} else if (strcmp(cmd, "fork") == 0) {
			if (hold[0] < 0 && pipe(hold) != 0)
				return 3;
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
			held++;
			reply("%lu", (unsigned long)pid);
		} else if (strcmp(cmd, "forkexit") == 0) {
			pid_t pid = fork();
			if (pid < 0)
				return 3;
			if (pid == 0)
				_exit(0);
			waitpid(pid, NULL, 0);
			reply("%lu", (unsigned long)pid);
		} else if (strcmp(cmd, "release") == 0) {
			if (hold[1] >= 0) {
				close(hold[1]);
				close(hold[0]);
				hold[0] = hold[1] = -1;
			}
			for (; held > 0; held--)
				wait(NULL);
			reply("ok", 0);
		} else if (strcmp(cmd, "thread") == 0) {
			pthread_t th;
			if (pthread_create(&th, NULL, sleeper, NULL) != 0)
				return 3;
			reply("ok", 0);
		} else if (strcmp(cmd, "exec") == 0) {
			char *argv[16] = {0};
			int i = 0;
			for (char *tok = strtok(line + 5, " "); tok && i < 15; tok = strtok(NULL, " "))
				argv[i++] = tok;
			/* Answer first: once stdio has read past this line, the
			 * next command would be lost with the old image. */
			reply("ok", 0);
			execv(argv[0], argv);
			return 4;
		} else if (strcmp(cmd, "exit") == 0) {
			return 0;
		} else {
			return 2;
		}
	}
	return 0;
}
