/* SPDX-License-Identifier: MIT */
/*
 * The request/reply engine: one link (a port with every buffer a cycle
 * needs) and one whole request/response cycle of a bms/ driver over it
 * (worker_cycle). Shared by the worker thread, detection and
 * `serialbattery probe`, so all of them talk to a BMS exactly the same way.
 */
#ifndef SB_WORKER_LINK_H
#define SB_WORKER_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"
#include "worker/serial.h"

#define WORKER_MAX_STEPS 16 /* steps per cycle whose reply length is learned */

struct worker_counters {
	uint64_t frames_bad; /* bytes that made no valid frame, or frames parse refused */
	uint64_t timeouts;   /* requests with no byte of answer in time */
};

/* One port with every buffer a cycle needs, allocated once (no allocation in the poll path). */
struct worker_link {
	struct worker_port port;
	uint8_t *rx;
	size_t rx_cap;
	uint8_t *req;
	size_t req_cap;
	void *scratch_state; /* detection's driver state, max state_size of the registry */
	size_t state_cap;
	uint64_t next_tx_ms; /* inter-frame gap: earliest time of the next request */
	unsigned timeout_cap_ms; /* 0, or a cap on the drivers' response timeouts */
	/* Reply length per (kind, step) seen last time, for VMIN batching. */
	const struct bms_driver *learned_drv;
	uint16_t learned[2][WORKER_MAX_STEPS];
};

int worker_link_open(const char *path, int wake_fd, struct worker_link **ret);
void worker_link_close(struct worker_link *l); /* accepts NULL */

/* Largest state_size over the registry (at least 1). */
size_t worker_state_size_max(void);

/*
 * Run one whole cycle of `kind` for drv (state already initialised) into
 * snap. Each step is retried up to `retries` times after a timeout or a bad
 * frame. 0 on success; -ETIMEDOUT, -EBADMSG (bytes but no usable frame),
 * -ECANCELED, -ENODEV, or the driver's error. Counters are added to c.
 */
int worker_cycle(struct worker_link *l, const struct bms_driver *drv, void *state,
		 enum bms_request kind, unsigned retries, struct bms_snapshot *snap,
		 struct worker_counters *c);

#endif
