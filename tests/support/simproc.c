/* SPDX-License-Identifier: MIT */
#include "simproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sb_simproc_start(struct sb_simproc *p, char *const argv[], char *const envp[])
{
	p->pid = 0;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	pid_t pid;
	int e = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (e) {
		close(pfd[0]);
		return -e;
	}
	p->pid = pid;
	/* generous: a loaded CI machine under a sanitizer */
	long long end = now_ms() + 20000;
	char buf[512];
	size_t len = 0;
	int r = -ETIMEDOUT;
	while (now_ms() < end && len + 1 < sizeof(buf)) {
		struct pollfd pl = {.fd = pfd[0], .events = POLLIN};
		if (poll(&pl, 1, (int)(end - now_ms())) <= 0)
			continue;
		ssize_t n = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			r = -EPIPE;
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, " ready\n")) {
			r = 0;
			break;
		}
	}
	close(pfd[0]);
	if (r < 0)
		sb_simproc_stop(p);
	return r;
}

int sb_simproc_stop(struct sb_simproc *p)
{
	if (p->pid <= 0)
		return -1;
	int st = 0;
	kill(p->pid, SIGTERM);
	waitpid(p->pid, &st, 0);
	p->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
