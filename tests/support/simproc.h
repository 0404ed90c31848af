/* SPDX-License-Identifier: MIT */
/*
 * Run `serialbattery simulate ...` as a child process for a test and wait for
 * the "<link> ready" line it prints once its pseudo-terminal link exists (no
 * sleeps). Shared by every test that plays a BMS through the real simulator.
 */
#ifndef SB_TEST_SIMPROC_H
#define SB_TEST_SIMPROC_H

#include <sys/types.h>

struct sb_simproc {
	pid_t pid;
};

/*
 * argv: the full argument vector ({tool, "simulate", ...}, NULL-terminated);
 * envp: the child's environment, NULL to inherit. Waits up to 20 s for
 * "ready". 0, or a negative errno (-ETIMEDOUT, -EPIPE when it died first);
 * on failure no child is left running.
 */
int sb_simproc_start(struct sb_simproc *p, char *const argv[], char *const envp[]);

/* SIGTERM and reap: the simulator's exit status, -1 when it did not exit normally. */
int sb_simproc_stop(struct sb_simproc *p);

#endif
