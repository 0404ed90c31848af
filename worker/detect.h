/* SPDX-License-Identifier: MIT */
/*
 * Driving bms/ drivers over a worker_port: one request/response cycle
 * (worker_cycle), autodetection (worker_detect; plausibility is bms/plausible.h)
 * and the remembered protocol per adapter. Shared by the worker thread and by
 * `serialbattery probe`, so both detect exactly the same way.
 */
#ifndef SB_WORKER_DETECT_H
#define SB_WORKER_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include "bms/bms.h"
#include "bms/plausible.h"
#include "worker/serial.h"

#define WORKER_MAX_STEPS 16 /* steps per cycle whose reply length is learned */
#define WORKER_MAX_ADDRS 16 /* batteries (bus addresses) per port */

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
	uint16_t learned[BMS_REQ_KINDS][WORKER_MAX_STEPS];
};

int worker_link_open(const char *path, int wake_fd, struct worker_link **ret);
void worker_link_close(struct worker_link *l); /* accepts NULL */

/* Largest state_size over the registry (at least 1). */
size_t worker_state_size_max(void);

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
 * port, when drv does not list the command; -EPERM when the BMS refused it;
 * -ETIMEDOUT when it never answered; -EINVAL for a value the command cannot
 * take; -ECANCELED, -ENODEV.
 */
int worker_set(struct worker_link *l, const struct bms_driver *drv, void *state,
	       enum bms_command command, int32_t value, unsigned retries,
	       struct worker_counters *c);

struct worker_detect_opts {
	const char *bms;            /* pin a driver by name; NULL or "" = autodetect */
	uint32_t baud;              /* with bms: this baud only; 0 = the driver's list */
	const uint8_t *addresses;   /* configured bus addresses, or NULL */
	unsigned naddresses;
	bool scan;                  /* addressed drivers: try and collect the whole range */
	const char *state_dir;      /* remembered protocols; NULL = do not remember */
	const char *identity;       /* adapter identity (the state file's key) */
	unsigned retries;           /* for pinned and remembered candidates */
	unsigned round_max_ms;      /* bound on one round; 0 = 10 s */
	bool quick;                 /* cap unknown candidates' first answer at
				     * WORKER_QUICK_TIMEOUT_MS (a fast first round) */
	/* chemistry and configured currents for the plausibility check; its
	 * cell_count is ignored (nothing is registered yet). NULL = LFP, none. */
	const struct bms_plausible_limits *limits;
};

/* A BMS that answers at all answers its probe within this (plus wire time). */
#define WORKER_QUICK_TIMEOUT_MS 150u

struct worker_detect_result {
	const struct bms_driver *drv;
	uint32_t baud;
	uint8_t address;                      /* the first that answered (0 = unaddressed) */
	uint8_t addresses[WORKER_MAX_ADDRS];  /* every battery to poll */
	unsigned naddresses;
	struct bms_snapshot snap;             /* the matching cycle's snapshot (of `address`) */
	uint64_t elapsed_ms;
	unsigned attempts;                    /* candidates tried, the match included */
	bool remembered;                      /* matched the remembered protocol */
};

/*
 * One detection round: pinned driver only, else remembered protocol first,
 * then the registry grouped by baud. 0 with *ret filled on a match,
 * -EHOSTUNREACH when nothing plausible answered, -ECANCELED, -ENODEV.
 * On a match the protocol is remembered (when state_dir is set).
 */
int worker_detect(struct worker_link *l, const struct worker_detect_opts *o,
		  struct worker_detect_result *ret);

/*
 * <state_dir>/detect/<sanitised identity>: "driver baud address", read and
 * written through common/statefile (no symlink followed, the directory must
 * be ours and not writable by others). 0 or a negative errno.
 */
int worker_remember_load(const char *state_dir, const char *identity,
			 const struct bms_driver **ret_drv, uint32_t *ret_baud,
			 uint8_t *ret_address);
int worker_remember_save(const char *state_dir, const char *identity,
			 const struct bms_driver *drv, uint32_t baud, uint8_t address);

#endif
