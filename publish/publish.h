/* SPDX-License-Identifier: MIT */
/*
 * The publisher: one thread, the only owner of the D-Bus connection. It waits
 * on the store's eventfd and a timer, asks charge/ for limits, aggregates
 * banks and exports com.victronenergy.battery.* services.
 */
#ifndef SB_PUBLISH_H
#define SB_PUBLISH_H

#include "common/config.h"
#include "common/store.h"

struct charge_config;

/* The `publish` config section (keys in publish/, filled by the publish module). */
struct publish_config;
extern const struct cfg_key publish_cfg_keys[];

struct publish_params {
	const char *bus_address; /* NULL: the system bus (DBUS_SYSTEM_BUS_ADDRESS honoured) */
	const struct publish_config *cfg;   /* NULL: defaults */
	const struct charge_config *charge; /* NULL: defaults */
	char state_dir[CFG_STR];            /* "": charge state is not persisted */
	/* Monotonic ms clock; NULL: time_mono_ms(). Tests pass a fake clock; it must
	 * be the clock the workers stamp store commits with. */
	uint64_t (*clock_ms)(void *ctx);
	void *clock_ctx;
	/* The hand-off: a worker that commits runs the publisher's cycle itself when no one
	 * owns D-Bus, instead of waking the thread (docs/ARCHITECTURE.md, "Wake-ups"). The
	 * cycle then runs in the committing thread, so a fake clock must allow that. */
	bool handoff;
};

struct publish;

int publish_start(const struct publish_params *p, struct store *st, struct publish **ret);
/* Remove every service (names released), stop and join the thread. Idempotent. */
void publish_stop(struct publish *p);
void publish_free(struct publish *p); /* accepts NULL */

/* Counters of the services on the bus now (any thread may read them). */
struct publish_stats {
	uint64_t requests;        /* method calls handled (answered or dropped) */
	uint64_t dropped_replies; /* replies dropped: the outgoing queue was full */
	uint64_t ignored_signals; /* settings signals not sent by the settings owner */
	uint64_t reconnects;      /* bus connections made again after a loss (since start) */
	/* the external current/SOC source (publish.external_source) */
	uint64_t ext_updates;     /* values received from it */
	uint64_t ext_implausible; /* values received and not used (implausible) */
	uint64_t ext_refused;     /* times it turned out to be one of our own services */
	uint64_t ext_lost;        /* times it went away while its values were in use */
	/* the hand-off (publish_params.handoff): commits published by the committing worker,
	 * and those it handed back to the thread (D-Bus busy, or work left for the thread) */
	uint64_t handoffs, handbacks;
};
void publish_get_stats(const struct publish *p, struct publish_stats *ret);

#endif
