/* SPDX-License-Identifier: MIT */
/*
 * A bank of packs in parallel as one battery: pure functions, no I/O, no
 * clock (now is an argument), no logging.
 *
 *   bank_step(cfg, packs, n, &state, now_ms, &result)
 *
 * takes every member's charge result (charge_step() per pack), link state,
 * measured current and FET state, and gives the bank's CVL, CCL, DCL, allow
 * flags, counts and texts. The publisher feeds it once per cycle in which a
 * member was evaluated, so a pack's reduction reaches the bank in the same
 * cycle as the pack's data. docs/DBUS.md (Aggregation) gives the reasoning.
 *
 * Members are positions 0..n-1, stable for the life of the state: the caller
 * keeps a pack in the same position while it is listed (also while it is
 * offline) and calls bank_forget() when the owner removes it.
 */
#ifndef SB_BANK_H
#define SB_BANK_H

#include <stdbool.h>
#include <stdint.h>

#include "charge/charge.h"

#define BANK_MAX_PACKS 16
#define BANK_LABEL_LEN 48

/* How a member is linked right now. */
enum bank_link {
	BANK_ABSENT = 0,  /* no member at this position */
	BANK_ONLINE = 1,  /* fresh data */
	BANK_STALE = 2,   /* data older than stale_after: still assumed in parallel */
	BANK_OFFLINE = 3, /* lost, port gone or never reported: assumed out of the bank */
};

/* The bank keys of the `publish` section that steer the computation. */
struct bank_config {
	double share_current;   /* A: |bank current| above which shares are measured */
	double share_fall_time; /* s: time constant of a share that falls (rises are at once) */
};

/* One member's input for one step. */
struct bank_pack_in {
	enum bank_link link;
	bool have_res; /* res holds the pack's last charge_step() result */
	struct charge_result res;
	bool current_valid; /* current_a measured (online packs only) */
	double current_a;   /* A, + = charging */
	bool fets_valid;    /* charge_fet/discharge_fet known */
	bool charge_fet, discharge_fet;
	char label[BANK_LABEL_LEN]; /* how texts name it, e.g. "2 (ttyUSB1)" */
};

/* A pack's measured share of the bank current in one direction. */
struct bank_share {
	bool known;
	double value; /* 0..1 */
	uint64_t at_ms;
};

/* What the bank remembers of a member between steps. */
struct bank_member {
	bool held;                  /* the values below were seen while the pack was online */
	double cvl_v;               /* its last CVL; never raised while it is not online */
	double cvl_absorb_v;        /* its last CVL outside float; never raised while not online */
	bool float_mode;            /* float state when last online */
	struct bank_share share[2]; /* [0] charging, [1] discharging */
};

struct bank_state {
	struct bank_member m[BANK_MAX_PACKS];
};

struct bank_result {
	bool limits_valid; /* at least one member is in parallel with a charge result */
	bool cvl_valid;
	double cvl_v; /* V, rounded down to 10 mV */
	double ccl_a; /* A, rounded down to 10 mA */
	double dcl_a;
	double battery_low_voltage_v;
	bool allow_charge, allow_discharge;
	bool float_mode;     /* every member is in float */
	bool shares_used[2]; /* the limit came from measured shares (else n x min) */
	unsigned members, online, stale, offline;
	unsigned blocking_charge, blocking_discharge;
	int bms_cable_alarm;
	char mode[96];
	char charge_limitation[128];
	char discharge_limitation[128];
	char offline_text[128]; /* "Pack 2 (ttyUSB1) offline", "" when none */
};

void bank_state_init(struct bank_state *st);

/* The owner removed member i: nothing of it is held any more. */
void bank_forget(struct bank_state *st, unsigned i);

/* One step over members 0..n-1 (n <= BANK_MAX_PACKS). */
void bank_step(const struct bank_config *cfg, const struct bank_pack_in *in, unsigned n,
	       struct bank_state *st, uint64_t now_ms, struct bank_result *out);

#endif
