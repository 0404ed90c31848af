/* SPDX-License-Identifier: MIT */
/*
 * Autodetection over a link (worker_detect; plausibility is bms/plausible.h):
 * candidates from the pinned config, the remembered protocol and the registry,
 * each tried with the engine's cycles (worker/link.h). Shared by the worker
 * thread and by `serialbattery probe`, so both detect exactly the same way.
 */
#ifndef SB_WORKER_DETECT_H
#define SB_WORKER_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include "bms/bms.h"
#include "bms/plausible.h"
#include "worker/link.h"
#include "worker/remember.h"

#define WORKER_MAX_ADDRS 16 /* batteries (bus addresses) per port */

struct worker_detect_opts {
	const char *bms;          /* pin a driver by name; NULL or "" = autodetect */
	uint32_t baud;            /* with bms: this baud only; 0 = the driver's list */
	const uint8_t *addresses; /* configured bus addresses, or NULL */
	unsigned naddresses;
	bool scan;             /* addressed drivers: try and collect the whole range */
	const char *state_dir; /* remembered protocols; NULL = do not remember */
	const char *identity;  /* adapter identity (the state file's key) */
	unsigned retries;      /* for pinned and remembered candidates */
	unsigned round_max_ms; /* bound on one round; 0 = 10 s */
	bool quick;            /* cap unknown candidates' first answer at
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
	uint8_t address;                     /* the first that answered (0 = unaddressed) */
	uint8_t addresses[WORKER_MAX_ADDRS]; /* every battery to poll */
	unsigned naddresses;
	struct bms_snapshot snap; /* the matching cycle's snapshot (of `address`) */
	uint64_t elapsed_ms;
	unsigned attempts; /* candidates tried, the match included */
	bool remembered;   /* matched the remembered protocol */
};

/*
 * One detection round: pinned driver only, else remembered protocol first,
 * then the registry grouped by baud. 0 with *ret filled on a match,
 * -EHOSTUNREACH when nothing plausible answered, -ECANCELED, -ENODEV.
 * On a match the protocol is remembered (when state_dir is set).
 */
int worker_detect(struct worker_link *l, const struct worker_detect_opts *o,
		  struct worker_detect_result *ret);

#endif
