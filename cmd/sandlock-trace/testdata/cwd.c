/* cwd: relative opens around the ways a working directory changes, for
 * the tracer's working-directory cache (TestCwdCache).
 *
 *   cwd share DIR1 DIR2 NAME    open NAME in DIR1; a process that shares
 *                               our working directory (clone CLONE_FS)
 *                               moves it to DIR2; open NAME again
 *   cwd unshare DIR1 DIR2 NAME  open NAME in DIR1; a thread opens NAME,
 *                               takes its own working directory
 *                               (unshare CLONE_FS), moves to DIR2 and opens
 *                               NAME; the main thread opens NAME again
 *   cwd rename DIR NEW NAME     open NAME in DIR; rename DIR to NEW; open
 *                               NAME again
 *
 * Exit status 0 when every call succeeded. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *dir2, *name;

static int openName(void) {
	int fd = open(name, O_RDONLY);
	if (fd < 0) {
		perror(name);
		return -1;
	}
	close(fd);
	return 0;
}

static void *thread(void *arg) {
	(void)arg;
	if (openName() < 0 || unshare(CLONE_FS) < 0 || chdir(dir2) < 0 || openName() < 0)
		return (void *)1;
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: cwd share|unshare|rename DIR1 DIR2 NAME\n");
		return 2;
	}
	const char *mode = argv[1], *dir1 = argv[2];
	dir2 = argv[3];
	name = argv[4];
	if (chdir(dir1) < 0 || openName() < 0)
		return 1;
	if (strcmp(mode, "share") == 0) {
		long pid = syscall(SYS_clone, CLONE_FS | SIGCHLD, 0, 0, 0, 0);
		if (pid < 0)
			return 1;
		if (pid == 0)
			syscall(SYS_exit, chdir(dir2) < 0);
		int st;
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 1;
	} else if (strcmp(mode, "unshare") == 0) {
		pthread_t th;
		void *res;
		if (pthread_create(&th, NULL, thread, NULL) != 0 || pthread_join(th, &res) != 0 || res != NULL)
			return 1;
	} else if (strcmp(mode, "rename") == 0) {
		if (rename(dir1, dir2) < 0) {
			perror("rename");
			return 1;
		}
	} else {
		return 2;
	}
	return openName() < 0;
}
