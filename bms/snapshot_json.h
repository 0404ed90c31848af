/* SPDX-License-Identifier: MIT */
/*
 * A battery snapshot as JSON, both ways, driven by the field table
 * (bms/fields.h): every tool that prints a snapshot (decode, probe, status)
 * formats it here so the keys are the same everywhere, and the simulator's
 * state files are read here. Pure: no I/O (reading a file is tools/).
 *
 * Keys (SI units; a key is written only when its valid bit is set), in this
 * order: voltage_v, current_a (positive = charging), power_w, soc_pct,
 * soh_pct, capacity_remaining_ah, capacity_full_ah, capacity_design_ah,
 * cycles, cell_count, cell_voltages_v [..], temperatures_c [..],
 * mosfet_temp_c, charge_fet, discharge_fet (bool), balancing [1-based
 * numbers of the cells balancing now], balancer_enabled (bool, the switch),
 * alarms {"LowVoltage": 0|1|2, ...} (the Victron names, bms_alarm_name()),
 * max_charge_current_a, max_discharge_current_a (the BMS's own limits),
 * serial, model, hw_version, sw_version.
 * The state file format (also "states" with "t") is in docs/SIMULATOR.md.
 */
#ifndef SB_BMS_SNAPSHOT_JSON_H
#define SB_BMS_SNAPSHOT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"

/* Write s as one JSON object on one line (no newline) into buf, NUL-terminated;
 * -ENOSPC when cap is too small. */
int bms_json_format(const struct bms_snapshot *s, char *buf, size_t cap);

#define BMS_JSON_MAX_STATES 64
#define BMS_JSON_MAX_TEXT (256 * 1024)
/* Enough for any snapshot bms_json_format() writes. */
#define BMS_JSON_LINE_MAX 8192

/* One state of a state file, in force from t_ms after the start. */
struct bms_json_state {
	uint64_t t_ms;
	struct bms_snapshot snap;
};

/*
 * Read a state file's text[0..len) (no NUL needed): a snapshot object with
 * the keys above, optionally with "states": [{"t": seconds, ...}, ...] where
 * each entry starts from the previous one (the first from the top level)
 * and changes only the keys it names. Without "states" the result is one
 * state at t = 0. Fills states[0..*ret_n), sorted by t. On error returns
 * -EINVAL (or -E2BIG for too many states) and, when err is not NULL, writes
 * a one-line reason with the byte offset into err.
 */
int bms_json_read(const char *text, size_t len, struct bms_json_state *states, size_t cap,
		  size_t *ret_n, char *err, size_t errcap);

/* The state in force at elapsed_ms: the last one whose t_ms <= elapsed_ms. */
const struct bms_snapshot *bms_json_at(const struct bms_json_state *states, size_t n,
				       uint64_t elapsed_ms);

#endif
