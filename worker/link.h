/* SPDX-License-Identifier: MIT */
/*
 * The request/reply engine: one link (a transport with every buffer a cycle
 * needs) and one whole request/response cycle of a bms/ driver over it
 * (worker_cycle). It reaches the device only through the transport's ops
 * (worker/transport.h), so serial, CAN and Bluetooth share it. Shared by the
 * worker thread, detection and `serialbattery probe`, so all of them talk
 * to a BMS exactly the same way.
 */
#ifndef SB_WORKER_LINK_H
#define SB_WORKER_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"
#include "worker/transport.h"

struct worker_counters {
	uint64_t frames_bad; /* bytes that made no valid frame, or frames parse refused */
	/* of frames_bad, the whole checksummed frames parse refused: a device
	 * speaks this protocol here but this is not its answer (an exception,
	 * another layout), nothing the line garbled */
	uint64_t frames_refused;
	uint64_t timeouts; /* requests with no byte of answer in time */
	/* well-formed frames for someone else on a shared line (BMS_FOREIGN): another
	 * unit's reply, another master's traffic, our own echo. Not errors. */
	uint64_t frames_foreign;
};

/* A transport with every buffer a cycle needs, allocated once: no allocation in the poll path. */
struct worker_link {
	struct worker_transport *t;
	uint8_t *rx;
	size_t rx_cap;
	uint8_t *req;
	size_t req_cap;
	void *scratch_state; /* detection's driver state, max state_size of the registry */
	size_t state_cap;
	uint64_t next_tx_ms;     /* inter-frame gap: earliest time of the next request */
	unsigned timeout_cap_ms; /* 0, or a cap on the drivers' response timeouts */
	/* The last whole poll cycle: its driver and its last step, so a step
	 * knows whether another request follows it (the gap is then folded into
	 * the wait for its reply: worker_transport.linger_ms). A guess from the
	 * last cycle: a wrong one costs one wake-up or delays a commit by the gap. */
	const struct bms_driver *steps_drv;
	unsigned steps_last;
	bool more_follows; /* for the step being run */
};

/* Open path with the transport ops (wake_fd borrowed, -1 = none). */
int worker_link_open_ops(const struct worker_transport_ops *ops, const char *path, int wake_fd,
			 struct worker_link **ret);
/* The same over a serial port (worker_serial_ops). */
int worker_link_open(const char *path, int wake_fd, struct worker_link **ret);
void worker_link_close(struct worker_link *l); /* accepts NULL */

/*
 * Run one whole cycle of `kind` (PROBE or POLL) for drv (state already
 * initialised) into snap. The core numbers the poll cycles and retries: each
 * step is retried up to `retries` times after a timeout or a bad frame, with
 * the same request bytes and cycle number. held (NULL = a first cycle with no
 * history) is the battery's bms_held: static steps (BMS_STEP_STATIC) are
 * skipped once answered and their fields carried into snap. A BMS_F_PASSIVE
 * driver that builds no request at step 0 is listened to until its response
 * timeout; a poll cycle with no request from any other driver is -EPROTO.
 * 0 on success; -ETIMEDOUT, -EBADMSG (bytes but no usable frame),
 * -ECANCELED, -ENODEV, or the driver's error. Counters are added to c.
 */
int worker_cycle(struct worker_link *l, const struct bms_driver *drv, void *state,
		 enum bms_req_kind kind, unsigned retries, struct bms_held *held,
		 struct bms_snapshot *snap, struct worker_counters *c);

/*
 * One write (a BMS_REQ_SET cycle): command and value, retried like a poll
 * step. 0 when the BMS acknowledged it; -EOPNOTSUPP, without touching the
 * port, when drv does not support the command (bms_driver_supports: STANDBY
 * is sent as both FET writes where the driver does not list it); -EPERM when the BMS refused it;
 * -ETIMEDOUT when it never answered; -EINVAL for a value the command cannot
 * take; -ECANCELED, -ENODEV.
 */
int worker_set(struct worker_link *l, const struct bms_driver *drv, void *state,
	       enum bms_command command, int32_t value, unsigned retries,
	       struct worker_counters *c);

/*
 * The driver's one-time sequence after detection (BMS_REQ_SETUP): its steps
 * in order, each request sent once (no retry: a mode switch is not blindly
 * repeated). When a step fails, step BMS_STEP_CLEANUP (the request that
 * leaves the mode the sequence entered) is sent, with one retry, whatever
 * the failure was, and the failure is returned. snap gets what the
 * sequence read. 0 when the sequence completed, 1 when the driver has none,
 * else the failed step's error (-ETIMEDOUT, -EBADMSG, -EPERM, ...),
 * -ECANCELED or -ENODEV.
 */
int worker_setup(struct worker_link *l, const struct bms_driver *drv, void *state,
		 struct bms_snapshot *snap, struct worker_counters *c);

#endif
