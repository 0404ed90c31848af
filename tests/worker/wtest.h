/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for the worker: pseudo-terminal pairs, the real simulator
 * process (serialbattery simulate), an in-process responder built on a
 * family's simulator (bms/sim) for scenarios the simulator has no switch for
 * (answer again after silence), open fd counting.
 */
#ifndef SB_TESTS_WTEST_H
#define SB_TESTS_WTEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bms/bms.h"
#include "common/store.h"
#include "worker/worker.h"
#include "tests/support/simproc.h"

/* Open a pty master; slave path in slave (>= 64 bytes). Returns master fd or -errno. */
int wt_pty(char *slave, size_t len);

/* Open file descriptors of this process. */
int wt_count_fds(void);

/* Threads of this process (from /proc/self/status). */
int wt_count_threads(void);

/* A plausible 16S LiFePO4 snapshot. */
void wt_snapshot(struct bms_snapshot *s);

/* Worker parameters for a test port: retries 2, quick detection, 0.1 s poll. */
void wt_worker_params(struct worker_params *p, const char *path, const char *identity);

/* The slot holding the battery with identity key (not EMPTY), copied to *ret; -1 when none. */
int wt_find_slot(struct store *st, const char *key, struct store_record *ret);

/* Path of the serialbattery tool, NULL when SB_BINARY_DIR is unset. */
const char *wt_tool(void);
/* True when `serialbattery simulate` exists in this build. */
bool wt_have_simulator(void);

struct wt_sim {
	struct sb_simproc proc;
	char link[256];
	char state[256];
	char dir[128];
};
/*
 * Start `serialbattery simulate --bms NAME --link <tmp>/tty --state <tmp>/state.json
 * EXTRA...` (state written from wt_snapshot) and wait for "ready". 0 or -errno.
 */
int wt_sim_start(struct wt_sim *s, const char *bms, const char *const *extra);
/* The same with the state file's text given (timed states: docs/SIMULATOR.md). */
int wt_sim_start_json(struct wt_sim *s, const char *bms, const char *json,
		      const char *const *extra);
void wt_sim_stop(struct wt_sim *s); /* kill, reap, remove files */

/* In-process responder on a pty master. */
struct wt_resp {
	int master;
	char slave[64];
	const struct bms_driver *drv;
	struct bms_snapshot snap;
	uint8_t addresses[8];
	unsigned naddresses;
	atomic_bool silent;           /* answer nothing */
	atomic_uint silent_mask;      /* bit i: addresses[i] answers nothing */
	atomic_uint corrupt_pct;      /* flip one byte in this share of replies */
	atomic_uint replies;          /* replies sent */
	atomic_bool garbage;          /* chatter random bytes and VE.Direct-like text instead */
	atomic_bool modbus_exception; /* answer every Modbus RTU read with exception 2 */
	atomic_uint requests;         /* requests seen */
	uint8_t log[8192];            /* every byte received (first 8 KiB) */
	atomic_size_t log_len;
	int stop_fd;
	int hold; /* a slave fd kept open; -1 on a stream */
	pthread_t thread;
	bool running;
};
/* drv NULL = a pure listener/chatterer. */
int wt_resp_start(struct wt_resp *r, const struct bms_driver *drv);
/* The same on a connected stream fd instead of a pty (taken over, closed by stop; slave ""). */
int wt_resp_start_fd(struct wt_resp *r, const struct bms_driver *drv, int fd);
void wt_resp_stop(struct wt_resp *r); /* joins, closes the master: the worker sees a hangup */

/* Wait up to timeout_ms for cond(arg) to become true. */
bool wt_wait(bool (*cond)(void *arg), void *arg, unsigned timeout_ms);

#endif
