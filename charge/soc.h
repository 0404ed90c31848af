/* SPDX-License-Identifier: MIT */
/*
 * State of charge computed by the daemon (coulomb counting), for packs whose
 * BMS SOC drifts or never resets. Pure: no I/O, no clock (sample times are
 * arguments), no allocation, nothing logged.
 *
 *   soc_step(cfg, in, &state, &events)
 *
 * integrates the (corrected) current of each fresh sample over the time since
 * the previous one, resets to 100 % at the full-charge condition and to 0 % at
 * the empty condition, and clamps to 0..100. docs/SOC.md gives the rules and
 * why they are so; the publisher (publish/publish.c) feeds it and publishes
 * the result as /Soc for packs with soc_source "coulomb".
 */
#ifndef SB_CHARGE_SOC_H
#define SB_CHARGE_SOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* Where a pack's published SOC comes from (the soc_source key). */
enum charge_soc_source {
	CHARGE_SOC_BMS = 0,     /* the BMS's own SOC, as reported */
	CHARGE_SOC_COULOMB = 1, /* counted here (this module) */
	CHARGE_SOC_SERVICE = 2, /* another battery service on the bus (publish/extsource) */
};

#define CHARGE_SOC_MAX_PACKS 16 /* entries of charge.soc */

/*
 * One entry of the charge.soc list: the SOC settings of one pack (or of every
 * pack no other entry names). Keys and defaults in charge/charge_config.c.
 */
struct charge_soc_config {
	char pack[CFG_STR];         /* identity (store key), tty or service id; "" = the others */
	char soc_source[CFG_STR];   /* "bms", "coulomb" or "service:<D-Bus name>" */
	double capacity;            /* Ah, used when the BMS reports no full capacity; 0 = none */
	double tail_current;        /* A: full when the current stays at or below this ... */
	double full_time;           /* s: ... this long at the charge voltage */
	double full_cell_tolerance; /* V per cell below the charge voltage that still counts */
	double empty_cell_voltage;  /* V: the lowest cell at or below this is empty ... */
	double empty_time;          /* s: ... when it stays there this long */
	double max_gap;             /* s: a longer gap between samples is not integrated */
	struct cfg_dlist current_reported; /* A, correction table: what the BMS reports ... */
	struct cfg_dlist current_actual;   /* A, ... and the true current at each; empty = off */
	bool write_back;                   /* after a full reset, set the BMS's SOC to 100 % */
};

extern const struct cfg_key charge_soc_cfg_keys[];

/*
 * Parse a soc_source value. 0 with *ret_src (and for "service:<name>" the
 * name, pointing into text, in *ret_service; NULL otherwise), or -EINVAL
 * with a reason in *ret_why (a static string). A service must be a valid
 * D-Bus well-known name under com.victronenergy.battery.
 */
int charge_soc_source_parse(const char *text, enum charge_soc_source *ret_src,
			    const char **ret_service, const char **ret_why);

struct charge_config;

/*
 * The entry for a pack: the first whose pack equals its identity (key), tty
 * or service id (sid), else the entry with an empty pack, else NULL (the
 * pack publishes its BMS's SOC).
 */
const struct charge_soc_config *charge_soc_find(const struct charge_config *c, const char *key,
						const char *tty, const char *sid);

/* The source an entry selects (CHARGE_SOC_BMS for NULL); the name for a service. */
enum charge_soc_source charge_soc_source_of(const struct charge_soc_config *e,
					    const char **ret_service);

/*
 * What one sample says, in SI units, from the snapshot and the charge result
 * of the cycle before (whose CVL the charger was following meanwhile).
 */
struct soc_input {
	uint64_t t_ms; /* monotonic ms when the sample was taken (never decreasing) */
	bool current_valid;
	double current_a; /* as the BMS reports it, positive = charging */
	bool bms_soc_valid;
	double bms_soc_pct; /* the BMS's own SOC: the start value without a saved one */
	double capacity_ah; /* the BMS's full capacity, else the configured one; 0 = none */
	bool voltage_valid;
	double voltage_v; /* pack voltage */
	unsigned cells;   /* cells counted in cell_min_v/cell_max_v; 0 = no cell data */
	double cell_min_v, cell_max_v;
	bool cvl_valid;
	double cvl_v;         /* the charge voltage outside float, at the battery (no drop), V */
	double cell_target_v; /* the charge target of one cell (charge.max_cell_voltage), V */
};

/* Events of one step (bits). */
enum soc_event {
	SOC_EV_FULL = 1u << 0,  /* the full-charge condition was reached now: SOC set to 100 % */
	SOC_EV_EMPTY = 1u << 1, /* the empty condition was reached now: SOC set to 0 % */
	SOC_EV_GAP = 1u << 2,   /* the interval before this sample was too long: not counted */
};

/*
 * Per-pack counting state. Plain data: soc_state_init() then soc_step();
 * soc_state_format/parse persist what a restart needs (the SOC itself).
 */
struct soc_state {
	bool started;   /* soc_pct is meaningful */
	double soc_pct; /* 0..100 */

	bool have_last; /* the previous sample with a current, for the next interval */
	uint64_t last_ms;
	double last_current_a; /* corrected */

	bool full_timing; /* the full condition holds since full_since_ms */
	uint64_t full_since_ms;
	bool full_latched; /* reset to 100 % done; held until the condition ends */
	bool empty_timing;
	uint64_t empty_since_ms;
	bool empty_latched;

	/* counters, for tests and diagnostics */
	uint32_t gaps; /* intervals not counted (longer than max_gap) */
	uint32_t full_resets, empty_resets;
};

void soc_state_init(struct soc_state *st);

/*
 * One fresh sample. 0, with *ret_events (may be NULL) the soc_event bits of
 * this step; -ENODATA when neither the BMS nor the config gives a capacity
 * (nothing is counted then; the caller shows the BMS's SOC).
 */
int soc_step(const struct charge_soc_config *cfg, const struct soc_input *in, struct soc_state *st,
	     unsigned *ret_events);

/* The current correction table applied to a reading (identity when the table is empty). */
double soc_correct_current(const struct charge_soc_config *cfg, double reported_a);

/* "soc=<pct>\n" of a started state; -ENODATA when not started, -ENOSPC when len is short. */
int soc_state_format(const struct soc_state *st, char *buf, size_t len);
/* Restore a started state from what soc_state_format() wrote; 0 or -EINVAL (st unchanged). */
int soc_state_parse(struct soc_state *st, const char *text);

#endif
