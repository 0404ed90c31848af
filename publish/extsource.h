/* SPDX-License-Identifier: MIT */
/*
 * What the publisher reads from other services on the bus (internal to
 * publish/), as a Venus client does: on a private connection of its own that
 * holds no name, GetItems once when a service appears, then its ItemsChanged
 * (and PropertiesChanged, which velib sends for single updates), following
 * NameOwnerChanged.
 *
 * - The external current/SOC source (publish.external_source): another
 *   com.victronenergy.battery service, e.g. a SmartShunt, whose /Dc/0/Current
 *   and /Soc replace the BMS's. Its values pass the same plausibility as a
 *   BMS's; one of our own services is never used (it would feed our values
 *   back to us).
 * - The ESS minimum SOC (/Settings/CGwacs/BatteryLife/MinimumSocLimit of
 *   com.victronenergy.settings), the target of /TimeToGo.
 */
#ifndef SB_PUBLISH_EXTSOURCE_H
#define SB_PUBLISH_EXTSOURCE_H

#include <stdbool.h>
#include <stdint.h>

struct publish_ext;

/*
 * Whether name is one of our own services: its well-known name, or owner
 * (its unique name, "" when it has none) is one of our connections.
 */
typedef bool (*publish_ext_own_fn)(void *ctx, const char *name, const char *owner);

/* service "": no external source (the ESS minimum SOC is followed all the same). */
int publish_ext_new(const char *address, const char *service, publish_ext_own_fn own, void *ctx,
		    struct publish_ext **ret);
void publish_ext_free(struct publish_ext *e); /* accepts NULL */

/* Connect when there is no connection (backoff on the real clock rt, ms); returns when to
 * come back (UINT64_MAX: not before something happens). */
uint64_t publish_ext_upkeep(struct publish_ext *e, uint64_t rt);
/* Has a connection (it may have been lost since: dispatch or pending tell). */
bool publish_ext_connected(const struct publish_ext *e);
/* -1 while not connected. */
int publish_ext_fd(const struct publish_ext *e);
bool publish_ext_wants_write(const struct publish_ext *e);
/* Read and handle what arrived; false when the connection is gone (then call lost). */
bool publish_ext_dispatch(struct publish_ext *e);
/* Dispatch what libdbus already holds (read during another call); false when gone. */
bool publish_ext_pending(struct publish_ext *e);
/* The bus went away: values fall back at once, upkeep reconnects. */
void publish_ext_lost(struct publish_ext *e);

/*
 * The plausible current of what the source measures: at most max_charge_ma
 * charging and max_discharge_ma discharging (both positive).
 */
void publish_ext_set_limits(struct publish_ext *e, int64_t max_charge_ma, int64_t max_discharge_ma);

struct publish_ext_values {
	bool current_valid;
	bool soc_valid;
	double current_a; /* + = charging */
	double soc_pct;
};
/* The source's values usable now (each invalid when unknown, implausible or gone). */
void publish_ext_values(const struct publish_ext *e, struct publish_ext_values *ret);
/* What changed since the last call: the source's usable values, the minimum SOC (bits). */
#define PUBLISH_EXT_VALUES 1u
#define PUBLISH_EXT_MIN_SOC 2u
unsigned publish_ext_take_changed(struct publish_ext *e);
/* The ESS minimum SOC (%), false while the settings service does not give it. */
bool publish_ext_min_soc(const struct publish_ext *e, double *ret_pct);

struct publish_ext_stats {
	uint64_t updates;     /* values received from the source */
	uint64_t implausible; /* values received and not used: out of range or not a number */
	uint64_t refused;     /* times the name appeared owned by one of our own services */
	uint64_t lost;        /* times the source went away while its values were in use */
};
void publish_ext_get_stats(const struct publish_ext *e, struct publish_ext_stats *ret);

#endif
