/* SPDX-License-Identifier: MIT */
/*
 * Charge control: pure functions, no I/O, no clock (now is an argument).
 *
 *   charge_step(cfg, snap, data_age_ms, &state, now_ms, &result)
 *
 * computes CVL, CCL, DCL, allow flags, the charge mode text and limitation
 * reasons for one battery from its last good snapshot, and applies the
 * comms-loss safety policy from the age of that snapshot. The publisher calls
 * it once per battery per cycle; for a bank it aggregates the results
 * (CVL = min, CCL/DCL = sum of the packs' limits).
 *
 * The config struct and the control state are defined below by the charge
 * module; the signature of charge_step() and struct charge_result are the
 * contract with publish/.
 */
#ifndef SB_CHARGE_H
#define SB_CHARGE_H

#include <stdbool.h>
#include <stdint.h>

#include "bms/bms.h"
#include "common/config.h"

/* The `charge` config section (keys in charge/charge_config.c). */
struct charge_config;
extern const struct cfg_key charge_cfg_keys[];
int charge_config_validate(const void *section, char *err, size_t errlen);

/* Per-battery control state carried from one cycle to the next. */
struct charge_state;

struct charge_result {
	bool cvl_valid;     /* false: publish /Info/MaxChargeVoltage invalid (comms lost) */
	double cvl_v;       /* charge voltage limit, V (VOLTAGE_DROP included) */
	double ccl_a;       /* charge current limit, A, >= 0 */
	double dcl_a;       /* discharge current limit, A, >= 0 */
	bool allow_charge;
	bool allow_discharge;
	double battery_low_voltage_v;
	int bms_cable_alarm; /* /Alarms/BmsCable: 0, 1, 2 */
	bool connected;      /* /Connected */
	bool stale;          /* data older than stale_after */
	char mode[96];       /* /Info/ChargeMode */
	char charge_limitation[128];    /* /Info/ChargeLimitation */
	char discharge_limitation[128]; /* /Info/DischargeLimitation */
};

#endif
