/* SPDX-License-Identifier: MIT */
/*
 * The `charge` config section. Defaults follow dbus-serialbattery's
 * config.default.ini (names in the docs) so a battery behaves the same after
 * switching drivers; docs/CHARGE.md lists where we differ and why.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "charge.h"

static const char *const interp_choices[] = {"linear", "step", NULL};
static const char *const ctrl_choices[] = {"off", "penalty_sum", NULL};

#define OFF(f) offsetof(struct charge_config, f)
#define D(p, f, lo, hi, d, text)                                                                   \
	{                                                                                          \
		.path = p, .type = CFG_DOUBLE, .offset = OFF(f), .min = lo, .max = hi, .def = d,   \
		.doc = text                                                                        \
	}
#define B(p, f, d, text)                                                                           \
	{                                                                                          \
		.path = p, .type = CFG_BOOL, .offset = OFF(f), .def = d, .doc = text               \
	}
#define L(p, f, lo, hi, d, text)                                                                   \
	{                                                                                          \
		.path = p, .type = CFG_DOUBLE_LIST, .offset = OFF(f), .min = lo, .max = hi,        \
		.def = d, .doc = text                                                              \
	}

/* One entry of charge.soc (struct charge_soc_config, charge/soc.h). */
#define SOFF(f) offsetof(struct charge_soc_config, f)
const struct cfg_key charge_soc_cfg_keys[] = {
	{.path = "pack",
	 .type = CFG_STRING,
	 .offset = SOFF(pack),
	 .def = "\"\"",
	 .doc = "The pack this entry is for: its identity (as bank_packs), tty name or service "
		"id; empty = every pack no other entry names."},
	{.path = "soc_source",
	 .type = CFG_STRING,
	 .offset = SOFF(soc_source),
	 .def = "\"bms\"",
	 .doc = "Where /Soc comes from: \"bms\" (the BMS's own), \"coulomb\" (counted by the "
		"daemon from the current, docs/SOC.md) or "
		"\"service:com.victronenergy.battery.<name>\" "
		"(another battery monitor on the bus; one such service a daemon, the same as "
		"publish.external_source when both are set; without `pack` only while there "
		"is one pack)."},
	{.path = "capacity",
	 .type = CFG_DOUBLE,
	 .offset = SOFF(capacity),
	 .min = 0,
	 .max = 100000,
	 .def = "0.0",
	 .doc = "Capacity, Ah, for counting when the BMS reports no full capacity "
		"(BATTERY_CAPACITY); "
		"0 = none: without either the BMS's SOC is shown."},
	{.path = "tail_current",
	 .type = CFG_DOUBLE,
	 .offset = SOFF(tail_current),
	 .min = 0,
	 .max = 10000,
	 .def = "5.0",
	 .doc = "Full-charge condition: the charge current at or below this, A, ..."},
	{.path = "full_time",
	 .type = CFG_DOUBLE,
	 .offset = SOFF(full_time),
	 .min = 0,
	 .max = 86400,
	 .def = "180.0",
	 .doc = "... for this long, s, without a break, while the pack is at the charge voltage "
		"(see full_cell_tolerance): then the counted SOC is set to 100 %."},
	{.path = "full_cell_tolerance",
	 .type = CFG_DOUBLE,
	 .offset = SOFF(full_cell_tolerance),
	 .min = 0,
	 .max = 0.5,
	 .def = "0.01",
	 .doc = "At the charge voltage means: the pack within this many V per cell of the CVL "
		"outside float, or the highest cell within this of max_cell_voltage."},
	{.path = "empty_cell_voltage",
	 .type = CFG_DOUBLE,
	 .offset = SOFF(empty_cell_voltage),
	 .min = 1.0,
	 .max = 5.0,
	 .def = "2.9",
	 .doc = "Empty condition: the lowest cell at or below this, V (MIN_CELL_VOLTAGE), ..."},
	{.path = "empty_time",
	 .type = CFG_DOUBLE,
	 .offset = SOFF(empty_time),
	 .min = 0,
	 .max = 86400,
	 .def = "60.0",
	 .doc = "... for this long, s, without a break (a load surge dips a cell for a moment): "
		"then the counted SOC is set to 0 %."},
	{.path = "max_gap",
	 .type = CFG_DOUBLE,
	 .offset = SOFF(max_gap),
	 .min = 1,
	 .max = 3600,
	 .def = "30.0",
	 .doc = "Longest time between two readings that is counted, s (more than the poll "
		"interval): after a longer gap (comms loss) nothing is counted for it."},
	{.path = "current_reported",
	 .type = CFG_DOUBLE_LIST,
	 .offset = SOFF(current_reported),
	 .min = -10000,
	 .max = 10000,
	 .doc = "Current correction for counting: currents the BMS reports, A, strictly ascending "
		"(CURRENT_REPORTED_BY_BMS); empty = no correction."},
	{.path = "current_actual",
	 .type = CFG_DOUBLE_LIST,
	 .offset = SOFF(current_actual),
	 .min = -10000,
	 .max = 10000,
	 .doc = "The true current at each of current_reported, A (CURRENT_MEASURED_BY_USER); "
		"linear between them and beyond the ends along the first and last segment."},
	{.path = "write_back",
	 .type = CFG_BOOL,
	 .offset = SOFF(write_back),
	 .def = "false",
	 .doc = "After a full reset, also set the BMS's own SOC to 100 % (drivers with an SOC "
		"write)."},
	{NULL},
};

const struct cfg_key charge_cfg_keys[] = {
	D("max_charge_current", max_charge_current, 0, 10000, "50.0",
	  "Maximum charge current of this battery, A (MAX_BATTERY_CHARGE_CURRENT); base of every "
	  "CCL "
	  "fraction."),
	D("max_discharge_current", max_discharge_current, 0, 10000, "60.0",
	  "Maximum discharge current of this battery, A (MAX_BATTERY_DISCHARGE_CURRENT); base of "
	  "every "
	  "DCL fraction."),
	B("use_bms_current_limits", use_bms_current_limits, "true",
	  "Also obey the charge/discharge current limits the BMS reports, when it reports them "
	  "(reason "
	  "\"BMS Settings\")."),
	D("min_cell_voltage", min_cell_voltage, 1.0, 5.0, "2.9",
	  "Lowest cell voltage, V; x cells = BatteryLowVoltage and the floor of the CVL."),
	D("max_cell_voltage", max_cell_voltage, 1.0, 5.0, "3.45",
	  "Bulk/absorption cell voltage, V; x cells = the highest CVL."),
	D("float_cell_voltage", float_cell_voltage, 1.0, 5.0, "3.375",
	  "Float cell voltage, V; x cells = the CVL in float. Between min_cell_voltage and "
	  "max_cell_voltage."),
	D("voltage_drop", voltage_drop, 0, 5.0, "0.0",
	  "Added to the published CVL, V (VOLTAGE_DROP): the drop between charger and battery "
	  "(cables, "
	  "shunt, fuse)."),
	B("cvl_control", cvl_control, "true",
	  "Bulk/absorption/float switching and cell over-voltage control (CVCM_ENABLE); false "
	  "keeps "
	  "CVL at max_cell_voltage x cells."),
	{.path = "cvl_controller",
	 .type = CFG_ENUM,
	 .offset = OFF(cvl_controller),
	 .def = "\"penalty_sum\"",
	 .choices = ctrl_choices,
	 .doc = "Cell over-voltage control of the CVL in bulk/absorption: \"penalty_sum\" lowers "
		"CVL "
		"to the sum of min(cell, max_cell_voltage) at once; \"off\" does not."},
	D("absorption_time", absorption_time, 0, 86400, "900.0",
	  "Absorption time, s (SWITCH_TO_FLOAT_WAIT_FOR_SEC): how long the cells must stay at max "
	  "with "
	  "a small spread before float."),
	D("float_cell_diff", float_cell_diff, 0.001, 1.0, "0.01",
	  "Largest cell spread, V, that starts the absorption timer "
	  "(SWITCH_TO_FLOAT_CELL_VOLTAGE_DIFF)."),
	D("float_cell_diff_margin", float_cell_diff_margin, 0, 1.0, "0.003",
	  "Extra spread, V, tolerated before the absorption timer restarts "
	  "(SWITCH_TO_FLOAT_CELL_VOLTAGE_DEVIATION)."),
	D("bulk_soc", bulk_soc, 0, 100, "80.0",
	  "Float goes back to bulk when SOC falls below this, % (SWITCH_TO_BULK_SOC_THRESHOLD); 0 "
	  "= "
	  "never on SOC."),
	D("bulk_cell_diff", bulk_cell_diff, 0, 1.0, "0.08",
	  "Float goes back to bulk when the cell spread reaches this, V "
	  "(SWITCH_TO_BULK_CELL_VOLTAGE_DIFF); 0 = never on spread."),
	D("float_ramp_rate", float_ramp_rate, 0, 1.0, "0.001",
	  "Rate at which the CVL falls from absorption to float, V/s of pack voltage; 0 = at "
	  "once."),
	D("cvl_recovery_hold", cvl_recovery_hold, 0, 3600, "60.0",
	  "After a cell over-voltage reduction of the CVL, hold it this long before it may rise, s "
	  "(CVL_RECOVERY_HOLD_SEC)."),
	D("cvl_recovery_rate", cvl_recovery_rate, 0, 1.0, "0.001",
	  "Rate at which the CVL rises again after the hold, V/s (CVL_RECOVERY_RATE_V_PER_SEC); 0 "
	  "= at "
	  "once."),
	D("soc_reset_cell_voltage", soc_reset_cell_voltage, 1.0, 5.0, "3.65",
	  "Cell voltage of the periodic full charge that lets the BMS reset its SOC, V "
	  "(SOC_RESET_CELL_VOLTAGE); at least max_cell_voltage."),
	D("soc_reset_after_days", soc_reset_after_days, 0, 365, "0.0",
	  "Days of daemon running time between periodic full charges (SOC_RESET_AFTER_DAYS); 0 = "
	  "off."),
	{.path = "interpolation",
	 .type = CFG_ENUM,
	 .offset = OFF(interpolation),
	 .def = "\"linear\"",
	 .choices = interp_choices,
	 .doc = "How current tables are read between breakpoints (CHARGE_MODE): \"linear\" "
		"interpolates, \"step\" takes a breakpoint's value."},
	B("ccl_cell_voltage_enable", ccl_cell_voltage_enable, "true",
	  "Limit the charge current by the highest cell voltage (CCCM_CV_ENABLE)."),
	L("ccl_cell_voltages", ccl_cell_voltages, 0, 5.0, "[3.5, 3.45, 3.425, 3.4, 3.375]",
	  "Highest-cell voltage breakpoints, V (CELL_VOLTAGES_WHILE_CHARGING)."),
	L("ccl_cell_voltage_fractions", ccl_cell_voltage_fractions, 0, 1,
	  "[0.0, 0.005, 0.05, 0.25, 1.0]",
	  "Charge current at each breakpoint, fraction of max_charge_current "
	  "(MAX_CHARGE_CURRENT_CV_FRACTION)."),
	B("dcl_cell_voltage_enable", dcl_cell_voltage_enable, "true",
	  "Limit the discharge current by the lowest cell voltage (DCCM_CV_ENABLE)."),
	L("dcl_cell_voltages", dcl_cell_voltages, 0, 5.0, "[2.8, 2.9, 3.0, 3.1, 3.19]",
	  "Lowest-cell voltage breakpoints, V (CELL_VOLTAGES_WHILE_DISCHARGING)."),
	L("dcl_cell_voltage_fractions", dcl_cell_voltage_fractions, 0, 1,
	  "[0.0, 0.005, 0.05, 0.25, 1.0]",
	  "Discharge current at each breakpoint, fraction of max_discharge_current "
	  "(MAX_DISCHARGE_CURRENT_CV_FRACTION)."),
	B("ccl_temperature_enable", ccl_temperature_enable, "true",
	  "Limit the charge current by the battery temperatures (CCCM_T_ENABLE); no sensor = no "
	  "limit."),
	L("ccl_temperatures", ccl_temperatures, -50, 150,
	  "[0.0, 2.0, 5.0, 10.0, 40.0, 45.0, 50.0, 55.0]",
	  "Battery temperature breakpoints for charging, degC (TEMPERATURES_WHILE_CHARGING)."),
	L("ccl_temperature_fractions", ccl_temperature_fractions, 0, 1,
	  "[0.0, 0.25, 0.5, 1.0, 1.0, 0.5, 0.25, 0.0]",
	  "Charge current at each breakpoint, fraction of max_charge_current "
	  "(MAX_CHARGE_CURRENT_T_FRACTION)."),
	B("dcl_temperature_enable", dcl_temperature_enable, "true",
	  "Limit the discharge current by the battery temperatures (DCCM_T_ENABLE); no sensor = no "
	  "limit."),
	L("dcl_temperatures", dcl_temperatures, -50, 150,
	  "[-10.0, 0.0, 5.0, 10.0, 40.0, 45.0, 50.0, 55.0]",
	  "Battery temperature breakpoints for discharging, degC "
	  "(TEMPERATURES_WHILE_DISCHARGING)."),
	L("dcl_temperature_fractions", dcl_temperature_fractions, 0, 1,
	  "[0.0, 0.25, 0.5, 1.0, 1.0, 0.5, 0.25, 0.0]",
	  "Discharge current at each breakpoint, fraction of max_discharge_current "
	  "(MAX_DISCHARGE_CURRENT_T_FRACTION)."),
	B("ccl_mosfet_temperature_enable", ccl_mosfet_temperature_enable, "true",
	  "Limit the charge current by the BMS MOSFET temperature (CCCM_T_MOSFET_ENABLE); no "
	  "sensor = "
	  "no limit."),
	L("ccl_mosfet_temperatures", ccl_mosfet_temperatures, -50, 200, "[70.0, 80.0, 90.0]",
	  "MOSFET temperature breakpoints for charging, degC "
	  "(MOSFET_TEMPERATURES_WHILE_CHARGING)."),
	L("ccl_mosfet_temperature_fractions", ccl_mosfet_temperature_fractions, 0, 1,
	  "[1.0, 0.25, 0.0]",
	  "Charge current at each breakpoint, fraction of max_charge_current "
	  "(MAX_CHARGE_CURRENT_T_MOSFET_FRACTION)."),
	B("dcl_mosfet_temperature_enable", dcl_mosfet_temperature_enable, "true",
	  "Limit the discharge current by the BMS MOSFET temperature (DCCM_T_MOSFET_ENABLE); no "
	  "sensor "
	  "= no limit."),
	L("dcl_mosfet_temperatures", dcl_mosfet_temperatures, -50, 200, "[70.0, 80.0, 90.0]",
	  "MOSFET temperature breakpoints for discharging, degC "
	  "(MOSFET_TEMPERATURES_WHILE_DISCHARGING)."),
	L("dcl_mosfet_temperature_fractions", dcl_mosfet_temperature_fractions, 0, 1,
	  "[1.0, 0.25, 0.0]",
	  "Discharge current at each breakpoint, fraction of max_discharge_current "
	  "(MAX_DISCHARGE_CURRENT_T_MOSFET_FRACTION)."),
	B("ccl_soc_enable", ccl_soc_enable, "false",
	  "Limit the charge current by SOC (CCCM_SOC_ENABLE)."),
	L("ccl_socs", ccl_socs, 0, 100, "[98.0, 95.0, 90.0, 85.0]",
	  "SOC breakpoints for charging, % (SOC_WHILE_CHARGING)."),
	L("ccl_soc_fractions", ccl_soc_fractions, 0, 1, "[0.1, 0.2, 0.5, 1.0]",
	  "Charge current at each breakpoint, fraction of max_charge_current "
	  "(MAX_CHARGE_CURRENT_SOC_FRACTION)."),
	B("dcl_soc_enable", dcl_soc_enable, "false",
	  "Limit the discharge current by SOC (DCCM_SOC_ENABLE)."),
	L("dcl_socs", dcl_socs, 0, 100, "[5.0, 10.0, 15.0, 20.0]",
	  "SOC breakpoints for discharging, % (SOC_WHILE_DISCHARGING)."),
	L("dcl_soc_fractions", dcl_soc_fractions, 0, 1, "[0.1, 0.2, 0.5, 1.0]",
	  "Discharge current at each breakpoint, fraction of max_discharge_current "
	  "(MAX_DISCHARGE_CURRENT_SOC_FRACTION)."),
	D("ccl_recovery_threshold", ccl_recovery_threshold, 0, 1, "0.015",
	  "A CCL at 0 stays 0 until its target exceeds this fraction of max_charge_current "
	  "(CHARGE_CURRENT_RECOVERY_THRESHOLD_PERCENT)."),
	D("dcl_recovery_threshold", dcl_recovery_threshold, 0, 1, "0.015",
	  "A DCL at 0 stays 0 until its target exceeds this fraction of max_discharge_current "
	  "(DISCHARGE_CURRENT_RECOVERY_THRESHOLD_PERCENT)."),
	D("ccl_recovery_hold", ccl_recovery_hold, 0, 3600, "30.0",
	  "Before the CCL rises again it holds this long, s (CCL_RECOVERY_HOLD_SEC); reductions "
	  "apply "
	  "at once."),
	D("dcl_recovery_hold", dcl_recovery_hold, 0, 3600, "30.0",
	  "Before the DCL rises again it holds this long, s (DCL_RECOVERY_HOLD_SEC); reductions "
	  "apply "
	  "at once."),
	D("ccl_recovery_rate", ccl_recovery_rate, 0, 10000, "5.0",
	  "After the hold the CCL rises at this rate, A/s (CCL_RECOVERY_RATE_A_PER_SEC); 0 = at "
	  "once."),
	D("dcl_recovery_rate", dcl_recovery_rate, 0, 10000, "5.0",
	  "After the hold the DCL rises at this rate, A/s (DCL_RECOVERY_RATE_A_PER_SEC); 0 = at "
	  "once."),
	D("stale_after", stale_after, 1, 3600, "10.0",
	  "Without new BMS data for this long, s: CCL 0 and charge not allowed, the DCL follows "
	  "the "
	  "discharge hold (discharge_hold_*), BmsCable alarm."),
	D("lost_after", lost_after, 1, 86400, "60.0",
	  "Without new BMS data for this long, s: /Connected 0 and CVL invalid, so systemcalc "
	  "drops "
	  "this battery as BMS. At least stale_after."),
	D("discharge_hold_fraction", discharge_hold_fraction, 0, 1, "0.5",
	  "While cell data are missing (after stale_after, or a cell read implausible), the DCL is "
	  "this fraction of the last DCL computed from good cells; 0 = DCL 0 whenever they are "
	  "missing."),
	D("discharge_hold_min_cell", discharge_hold_min_cell, 1.0, 5.0, "3.225",
	  "Safe window, low end, V (BLOCK_ON_DISCONNECT_VOLTAGE_MIN): the DCL is held only while "
	  "the "
	  "last good lowest cell was above this."),
	D("discharge_hold_max_cell", discharge_hold_max_cell, 1.0, 5.0, "3.375",
	  "Safe window, high end, V (BLOCK_ON_DISCONNECT_VOLTAGE_MAX): the DCL is held only while "
	  "the "
	  "last good highest cell was below this; outside the window DCL 0 at stale_after."),
	D("discharge_grace", discharge_grace, 0, 86400, "1800.0",
	  "Longest DCL hold, s after the last good cells (BLOCK_ON_DISCONNECT_TIMEOUT_MINUTES x "
	  "60); "
	  "then DCL 0. 0 = DCL 0 at stale_after."),
	{.path = "soc",
	 .type = CFG_GROUP_LIST,
	 .offset = OFF(soc),
	 .sub = charge_soc_cfg_keys,
	 .elem_size = sizeof(struct charge_soc_config),
	 .max_count = CHARGE_SOC_MAX_PACKS,
	 .count_offset = OFF(nsoc),
	 .doc = "SOC source per pack, and the settings of the daemon's own SOC (docs/SOC.md). A "
		"pack no entry names (and no entry with an empty pack) shows its BMS's SOC."},
	{NULL},
};

static int fail(struct cfg_invalid *err, const char *key, const char *msg)
{
	return cfg_invalid(err, key, "%s", msg);
}

/* Breakpoints strictly monotonic (either way), y the same length, y contains 1.0
 * (else the configured maximum could never be reached, as the Python driver checks). */
static int check_table(const struct cfg_dlist *x, const struct cfg_dlist *y, const char *xkey,
		       const char *ykey, struct cfg_invalid *err)
{
	if (x->n == 0)
		return fail(err, xkey, "must not be empty");
	if (x->n != y->n)
		return fail(err, ykey, "must have as many values as the breakpoints");
	if (x->n >= 2) {
		bool up = x->v[1] > x->v[0];
		for (unsigned i = 1; i < x->n; i++)
			if (up ? !(x->v[i] > x->v[i - 1]) : !(x->v[i] < x->v[i - 1]))
				return fail(err, xkey,
					    "breakpoints must be strictly ascending or strictly "
					    "descending");
	}
	bool has_one = false;
	for (unsigned i = 0; i < y->n; i++)
		if (y->v[i] >= 1.0)
			has_one = true;
	if (!has_one)
		return fail(err, ykey, "must contain 1.0 (else the maximum is never allowed)");
	return 0;
}

/* The value at the highest breakpoint, whatever the list's order. */
static double y_at_highest(const struct cfg_dlist *x, const struct cfg_dlist *y)
{
	return x->v[0] <= x->v[x->n - 1] ? y->v[y->n - 1] : y->v[0];
}

static double highest(const struct cfg_dlist *x)
{
	return fmax(x->v[0], x->v[x->n - 1]);
}

/* The charge.soc entries: each source parses, tables hold, no pack named twice. */
static int check_soc(const struct charge_config *c, struct cfg_invalid *err)
{
	for (unsigned i = 0; i < c->nsoc && i < CHARGE_SOC_MAX_PACKS; i++) {
		const struct charge_soc_config *e = &c->soc[i];
		char key[48];
		enum charge_soc_source src;
		const char *why = NULL;
		snprintf(key, sizeof(key), "soc[%u].soc_source", i);
		if (charge_soc_source_parse(e->soc_source, &src, NULL, &why) < 0)
			return cfg_invalid(err, key, "'%s': %s", e->soc_source, why);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(c->soc[j].pack, e->pack) == 0) {
				snprintf(key, sizeof(key), "soc[%u].pack", i);
				return cfg_invalid(err, key, "'%s' already has an entry (soc[%u])",
						   e->pack, j);
			}
		const struct cfg_dlist *x = &e->current_reported, *y = &e->current_actual;
		snprintf(key, sizeof(key), "soc[%u].current_actual", i);
		if (x->n != y->n)
			return fail(err, key, "must have as many values as current_reported");
		snprintf(key, sizeof(key), "soc[%u].current_reported", i);
		if (x->n == 1)
			return fail(err, key, "needs at least two points (or none: no correction)");
		for (unsigned k = 1; k < x->n; k++)
			if (!(x->v[k] > x->v[k - 1]))
				return fail(err, key, "must be strictly ascending");
		snprintf(key, sizeof(key), "soc[%u].empty_cell_voltage", i);
		if (e->empty_cell_voltage >= c->max_cell_voltage)
			return fail(err, key, "must be below max_cell_voltage");
	}
	return 0;
}

int charge_config_validate(const void *section, struct cfg_invalid *err)
{
	const struct charge_config *c = section;
	int r;

	if (c->min_cell_voltage >= c->max_cell_voltage)
		return fail(err, "min_cell_voltage", "must be below max_cell_voltage");
	if (c->float_cell_voltage > c->max_cell_voltage)
		return fail(err, "float_cell_voltage", "must not exceed max_cell_voltage");
	if (c->float_cell_voltage < c->min_cell_voltage)
		return fail(err, "float_cell_voltage", "must not be below min_cell_voltage");
	if (c->soc_reset_cell_voltage < c->max_cell_voltage)
		return fail(err, "soc_reset_cell_voltage", "must not be below max_cell_voltage");
	if (c->lost_after < c->stale_after)
		return fail(err, "lost_after", "must not be below stale_after");
	if (c->discharge_hold_min_cell >= c->discharge_hold_max_cell)
		return fail(err, "discharge_hold_min_cell",
			    "must be below discharge_hold_max_cell");

	const struct {
		const struct cfg_dlist *x, *y;
		const char *xk, *yk;
	} tables[] = {
		{&c->ccl_cell_voltages, &c->ccl_cell_voltage_fractions, "ccl_cell_voltages",
		 "ccl_cell_voltage_fractions"},
		{&c->dcl_cell_voltages, &c->dcl_cell_voltage_fractions, "dcl_cell_voltages",
		 "dcl_cell_voltage_fractions"},
		{&c->ccl_temperatures, &c->ccl_temperature_fractions, "ccl_temperatures",
		 "ccl_temperature_fractions"},
		{&c->dcl_temperatures, &c->dcl_temperature_fractions, "dcl_temperatures",
		 "dcl_temperature_fractions"},
		{&c->ccl_mosfet_temperatures, &c->ccl_mosfet_temperature_fractions,
		 "ccl_mosfet_temperatures", "ccl_mosfet_temperature_fractions"},
		{&c->dcl_mosfet_temperatures, &c->dcl_mosfet_temperature_fractions,
		 "dcl_mosfet_temperatures", "dcl_mosfet_temperature_fractions"},
		{&c->ccl_socs, &c->ccl_soc_fractions, "ccl_socs", "ccl_soc_fractions"},
		{&c->dcl_socs, &c->dcl_soc_fractions, "dcl_socs", "dcl_soc_fractions"},
	};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		r = check_table(tables[i].x, tables[i].y, tables[i].xk, tables[i].yk, err);
		if (r)
			return r;
	}

	/* A charge table that reaches 0 A at or below the absorption voltage would
	 * stop charging before the cells get there: float would never come. */
	if (c->ccl_cell_voltage_enable) {
		const struct cfg_dlist *x = &c->ccl_cell_voltages,
				       *y = &c->ccl_cell_voltage_fractions;
		for (unsigned i = 0; i < x->n; i++)
			if (y->v[i] <= 0 && x->v[i] < c->max_cell_voltage)
				return fail(err, "ccl_cell_voltages",
					    "reaches 0 A below max_cell_voltage: float would never "
					    "be reached");
		if (!(y_at_highest(x, y) < 1.0) || highest(x) < c->max_cell_voltage)
			return fail(err, "ccl_cell_voltages",
				    "must reduce the current at max_cell_voltage and above");
	}
	if (c->dcl_cell_voltage_enable) {
		const struct cfg_dlist *x = &c->dcl_cell_voltages,
				       *y = &c->dcl_cell_voltage_fractions;
		for (unsigned i = 0; i < x->n; i++)
			if (y->v[i] <= 0 && x->v[i] > c->min_cell_voltage)
				return fail(err, "dcl_cell_voltages",
					    "reaches 0 A above min_cell_voltage");
	}
	return check_soc(c, err);
}
