/* SPDX-License-Identifier: MIT */
/*
 * Charge control: pure functions, no I/O, no clock (now is an argument).
 *
 *   charge_step(cfg, snap, data_age_ms, &state, now_ms, &result)
 *
 * computes CVL, CCL, DCL, allow flags, the charge mode text and limitation
 * reasons for one battery from its last good snapshot, and applies the
 * comms-loss safety policy from the age of that snapshot. The publisher calls
 * it once per battery per cycle; for a bank charge/bank.h combines the
 * results (limits from each pack's measured share of the bank current).
 *
 * The config struct and the control state are defined below by the charge
 * module; the signature of charge_step() and struct charge_result are the
 * contract with publish/. docs/CHARGE.md describes the algorithm.
 */
#ifndef SB_CHARGE_H
#define SB_CHARGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"
#include "bms/stats.h"
#include "charge/soc.h"
#include "common/config.h"

/* How the current tables are read between breakpoints (CHARGE_MODE). */
enum charge_interp {
	CHARGE_INTERP_LINEAR = 0, /* straight line between breakpoints */
	CHARGE_INTERP_STEP = 1,   /* the value of a breakpoint, per-limit variant */
};

/* Cell over-voltage controller in bulk/absorption (CVL_CONTROLLER_MODE). */
enum charge_cvl_ctrl {
	CHARGE_CVL_CTRL_OFF = 0,     /* CVL = max cell voltage x cells */
	CHARGE_CVL_CTRL_PENALTY = 1, /* CVL = sum of min(Vcell, Vmax) ("penalty sum") */
};

/*
 * The `charge` config section (keys and defaults in charge/charge_config.c).
 * Units as in the file: V, A, degC, %, s, fractions 0..1. Tables are a list
 * of breakpoints x plus a list of fractions of the configured maximum current
 * y, the same length; x ascending or descending.
 */
struct charge_config {
	/* current limits, A */
	double max_charge_current;    /* MAX_BATTERY_CHARGE_CURRENT */
	double max_discharge_current; /* MAX_BATTERY_DISCHARGE_CURRENT */
	bool use_bms_current_limits;  /* also obey the BMS's own max charge/discharge current */

	/* cell voltages, V */
	double min_cell_voltage;   /* x cells = BatteryLowVoltage */
	double max_cell_voltage;   /* bulk/absorption */
	double float_cell_voltage; /* float */
	double voltage_drop;       /* added to the published CVL (VOLTAGE_DROP) */

	/* CVL state machine */
	bool cvl_control;              /* CVCM_ENABLE: bulk/absorption/float; false = always max */
	int cvl_controller;            /* enum charge_cvl_ctrl */
	double absorption_time;        /* s, SWITCH_TO_FLOAT_WAIT_FOR_SEC */
	double float_cell_diff;        /* V, SWITCH_TO_FLOAT_CELL_VOLTAGE_DIFF */
	double float_cell_diff_margin; /* V, SWITCH_TO_FLOAT_CELL_VOLTAGE_DEVIATION */
	double bulk_soc;               /* %, SWITCH_TO_BULK_SOC_THRESHOLD; 0 = off */
	double bulk_cell_diff;         /* V, SWITCH_TO_BULK_CELL_VOLTAGE_DIFF; 0 = off */
	double float_ramp_rate;        /* V/s, CVL ramp down into float (pack volts) */
	double cvl_recovery_hold;      /* s, CVL_RECOVERY_HOLD_SEC */
	double cvl_recovery_rate;      /* V/s, CVL_RECOVERY_RATE_V_PER_SEC; 0 = at once */
	double soc_reset_cell_voltage; /* V, SOC_RESET_CELL_VOLTAGE */
	double soc_reset_after_days;   /* days of running time, SOC_RESET_AFTER_DAYS; 0 = off */

	/* current tables */
	int interpolation; /* enum charge_interp (CHARGE_MODE) */
	bool ccl_cell_voltage_enable, dcl_cell_voltage_enable;
	struct cfg_dlist ccl_cell_voltages, ccl_cell_voltage_fractions; /* max cell, V */
	struct cfg_dlist dcl_cell_voltages, dcl_cell_voltage_fractions; /* min cell, V */
	bool ccl_temperature_enable, dcl_temperature_enable;
	struct cfg_dlist ccl_temperatures, ccl_temperature_fractions; /* degC */
	struct cfg_dlist dcl_temperatures, dcl_temperature_fractions;
	bool ccl_mosfet_temperature_enable, dcl_mosfet_temperature_enable;
	struct cfg_dlist ccl_mosfet_temperatures, ccl_mosfet_temperature_fractions;
	struct cfg_dlist dcl_mosfet_temperatures, dcl_mosfet_temperature_fractions;
	bool ccl_soc_enable, dcl_soc_enable;
	struct cfg_dlist ccl_socs, ccl_soc_fractions; /* % */
	struct cfg_dlist dcl_socs, dcl_soc_fractions;

	/* recovery of CCL/DCL after a reduction */
	double ccl_recovery_threshold; /* fraction of max: CCL stays 0 below it */
	double dcl_recovery_threshold;
	double ccl_recovery_hold; /* s */
	double dcl_recovery_hold;
	double ccl_recovery_rate; /* A/s; 0 = at once */
	double dcl_recovery_rate;

	/* comms-loss policy, s (read by worker and publisher too) */
	double stale_after; /* CCL = 0, DCL to its hold rule, BmsCable alarm */
	double lost_after;  /* /Connected 0, CVL invalid */

	/* discharge while cell data are missing (comms loss or an implausible cell) */
	double discharge_hold_fraction; /* DCL = this x the last DCL from good cells */
	double discharge_hold_min_cell; /* V: safe window, lowest last good cell above it */
	double discharge_hold_max_cell; /* V: highest last good cell below it */
	double discharge_grace;         /* s after the last good cells: then DCL 0 */

	/* where each pack's SOC comes from, and the coulomb counter's settings (charge/soc.h) */
	struct charge_soc_config soc[CHARGE_SOC_MAX_PACKS];
	unsigned nsoc;
};

extern const struct cfg_key charge_cfg_keys[];
int charge_config_validate(const void *section, struct cfg_invalid *err);

/* CVL phase. */
enum charge_phase {
	CHARGE_PHASE_BULK = 0,
	CHARGE_PHASE_ABSORPTION = 1,
	CHARGE_PHASE_FLOAT_TRANSITION = 2,
	CHARGE_PHASE_FLOAT = 3,
};

/* One current limit (CCL or DCL) with its recovery hold and ramp. */
struct charge_limiter {
	bool set;       /* a limit has been computed since start: rises hold and ramp */
	double value_a; /* the limit in force, A */
	bool holding;   /* target above value: waiting out the hold */
	uint64_t hold_start_ms;
	bool ramping;
	uint64_t ramp_start_ms;
	double ramp_base_a; /* value when the ramp started */
};

/*
 * Per-battery control state carried from one cycle to the next. Plain data:
 * zero it with charge_state_init(), copy it freely. Times are the caller's
 * monotonic ms.
 */
struct charge_state {
	/* persisted by charge_state_format/parse */
	bool float_mode;           /* the Python driver's !allow_max_voltage */
	bool soc_reset_requested;  /* a periodic full charge is due */
	bool soc_reset_known;      /* soc_reset_last_ms is meaningful */
	int64_t soc_reset_last_ms; /* when the last full charge completed (may be < 0 after a
				      restart) */

	/* not persisted */
	bool have_data; /* a snapshot has been seen */
	uint64_t last_now_ms;
	enum charge_phase phase;
	bool absorption_running;
	uint64_t absorption_start_ms;
	bool cvl_set;     /* cvl_v is meaningful */
	double cvl_v;     /* CVL before voltage_drop */
	bool ovp_limited; /* the cell OVP controller holds CVL below max */
	uint64_t ovp_limit_ms;
	double ovp_ramp_base_v;
	uint64_t transition_start_ms;
	double transition_start_v;
	bool absorb_set; /* absorb_v is meaningful */
	double absorb_v; /* CVL outside float (incl. OVP control), before voltage_drop */
	struct charge_limiter ccl, dcl;

	/* the last cycle with good cells, for the discharge hold while they are missing */
	bool good_known;
	uint64_t good_ms;    /* when that snapshot was taken */
	double good_dcl_a;   /* the DCL in force after it */
	bool good_in_window; /* its cells were inside the discharge hold window */
};

struct charge_result {
	bool cvl_valid; /* false: publish /Info/MaxChargeVoltage invalid (comms lost) */
	double cvl_v;   /* charge voltage limit, V (VOLTAGE_DROP included) */
	double ccl_a;   /* charge current limit, A, >= 0 */
	double dcl_a;   /* discharge current limit, A, >= 0 */
	bool allow_charge;
	bool allow_discharge;
	double battery_low_voltage_v;
	int bms_cable_alarm; /* /Alarms/BmsCable: 0, 1, 2 */
	bool connected;      /* /Connected */
	bool stale;          /* data older than stale_after */
	bool float_mode;     /* pack is in float or float transition */
	double cvl_absorb_v; /* CVL this pack would ask outside float (bulk/absorption incl. cell
				OVP control and voltage_drop); valid with cvl_valid */
	char mode[96];       /* /Info/ChargeMode */
	char charge_limitation[128];    /* /Info/ChargeLimitation */
	char discharge_limitation[128]; /* /Info/DischargeLimitation */
	/* The statistics of snap the limits were computed from (all zero without
	 * a snapshot): publish/ shows these, so /System/MaxCellVoltage is the
	 * cell the CCL came from. */
	struct bms_stats stats;
};

void charge_state_init(struct charge_state *st);

/*
 * One control cycle. snap: last good snapshot (NULL when none yet);
 * data_age_ms: ms since that snapshot was taken, UINT64_MAX when never;
 * now_ms: monotonic ms (never decreasing between calls).
 */
void charge_step(const struct charge_config *cfg, const struct bms_snapshot *snap,
		 uint64_t data_age_ms, struct charge_state *st, uint64_t now_ms,
		 struct charge_result *out);

/*
 * Persist the state that must survive a restart (the float/bulk state and
 * the periodic full charge bookkeeping): same text as long as that state is
 * unchanged, so the caller writes the file only when the text changes.
 * Returns the length written (excluding NUL) or -ENOSPC.
 */
int charge_state_format(const struct charge_state *st, char *buf, size_t len);

/* Restore what charge_state_format() wrote into a freshly initialised st.
 * Returns 0 or -EINVAL (st then left as initialised). */
int charge_state_parse(struct charge_state *st, const char *text, uint64_t now_ms);

#endif
