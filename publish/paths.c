/* SPDX-License-Identifier: MIT */
/*
 * The path set of a battery service and its filling from a snapshot.
 * Types are fixed per path (int32 counts/enums/alarms, double measurements,
 * string text); the Text formats follow velib and dbus-serialbattery.
 */
#include "publish/paths.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/fields.h"
#include "bms/stats.h"
#include "publish/pathids.h"
#include "publish/publish_config.h"

static const char *const path_names[] = {
#define PP_NAME(n, p) [PP_##n] = p,
	PUBLISH_PATHS(PP_NAME)
#undef PP_NAME
};

const char *publish_path_name(unsigned id)
{
	return id < sizeof(path_names) / sizeof(path_names[0]) ? path_names[id] : NULL;
}

struct path_def {
	unsigned id; /* enum publish_path_id */
	char type;
	const char *fmt;
};

static const struct path_def common_paths[] = {
	{PP_MGMT_PROCESS_NAME, 's', NULL},
	{PP_MGMT_PROCESS_VERSION, 's', NULL},
	{PP_MGMT_CONNECTION, 's', NULL},
	{PP_DEVICE_INSTANCE, 'i', NULL},
	{PP_PRODUCT_ID, 'i', "0x%X"},
	{PP_PRODUCT_NAME, 's', NULL},
	{PP_FIRMWARE_VERSION, 's', NULL},
	{PP_HARDWARE_VERSION, 'i', NULL},
	{PP_SERIAL, 's', NULL},
	{PP_CONNECTED, 'i', NULL},
	{PP_STATE, 'i', NULL},
	{PP_DC_0_VOLTAGE, 'd', "%.2fV"},
	{PP_DC_0_CURRENT, 'd', "%.1fA"},
	{PP_DC_0_POWER, 'd', "%.0fW"},
	{PP_DC_0_TEMPERATURE, 'd', "%.1f°C"},
	{PP_SOC, 'd', "%.0f%%"},
	{PP_SOH, 'd', "%.0f%%"},
	{PP_CAPACITY, 'd', "%.1fAh"},
	{PP_INSTALLED_CAPACITY, 'd', "%.1fAh"},
	{PP_CONSUMED_AMPHOURS, 'd', "%.1fAh"},
	{PP_TIME_TO_GO, 'i', "%ds"}, /* int seconds, as Victron's monitors and the Python driver */
	{PP_INFO_MAX_CHARGE_VOLTAGE, 'd', "%.2fV"},
	{PP_INFO_MAX_CHARGE_CURRENT, 'd', "%.1fA"},
	{PP_INFO_MAX_DISCHARGE_CURRENT, 'd', "%.1fA"},
	{PP_INFO_BATTERY_LOW_VOLTAGE, 'd', "%.2fV"},
	{PP_INFO_CHARGE_MODE, 's', NULL},
	{PP_INFO_CHARGE_LIMITATION, 's', NULL},
	{PP_INFO_DISCHARGE_LIMITATION, 's', NULL},
	{PP_IO_ALLOW_TO_CHARGE, 'i', NULL},
	{PP_IO_ALLOW_TO_DISCHARGE, 'i', NULL},
	{PP_IO_ALLOW_TO_BALANCE, 'i', NULL},
	{PP_BALANCING, 'i', NULL},
	{PP_HEATING, 'i', NULL},
	{PP_SYSTEM_MIN_CELL_VOLTAGE, 'd', "%.3fV"},
	{PP_SYSTEM_MAX_CELL_VOLTAGE, 'd', "%.3fV"},
	{PP_SYSTEM_MIN_VOLTAGE_CELL_ID, 's', NULL},
	{PP_SYSTEM_MAX_VOLTAGE_CELL_ID, 's', NULL},
	{PP_SYSTEM_MIN_CELL_TEMPERATURE, 'd', "%.1f°C"},
	{PP_SYSTEM_MAX_CELL_TEMPERATURE, 'd', "%.1f°C"},
	{PP_SYSTEM_MIN_TEMPERATURE_CELL_ID, 's', NULL},
	{PP_SYSTEM_MAX_TEMPERATURE_CELL_ID, 's', NULL},
	{PP_SYSTEM_MOSTEMPERATURE, 'd', "%.1f°C"},
	{PP_SYSTEM_NR_OF_CELLS_PER_BATTERY, 'i', NULL},
	{PP_SYSTEM_NR_OF_MODULES_ONLINE, 'i', NULL},
	{PP_SYSTEM_NR_OF_MODULES_OFFLINE, 'i', NULL},
	{PP_SYSTEM_NR_OF_MODULES_BLOCKING_CHARGE, 'i', NULL},
	{PP_SYSTEM_NR_OF_MODULES_BLOCKING_DISCHARGE, 'i', NULL},
	{PP_ALARMS_BMS_CABLE, 'i', NULL},
	{PP_ERROR_CODE, 'i', NULL},
	{PP_CONNECTION_INFORMATION, 's', NULL},
	{PP_SETTINGS_HAS_SETTINGS, 'i', NULL},
	{PP_SETTINGS_HAS_TEMPERATURE, 'i', NULL},
	{PP_DEVICE_NAME, 's', NULL},
	{PP_SETTINGS_HAS_STARTER_VOLTAGE, 'i', NULL},
	{0, 0, NULL},
};

/*
 * Paths gui-v2's battery pages read that no BMS of ours can give: registered
 * with Victron's type and left invalid for good, so a client that asks gets
 * "unknown" rather than an error, and no page shows a row for them. (The
 * Lynx, 48TL and SmartLithium diagnostics pages and the BMV alarm settings
 * are product-specific and not registered at all: docs/DBUS.md.)
 */
static const struct path_def unknown_paths[] = {
	{PP_ALARMS_STATE_OF_HEALTH, 'i', NULL},
	{PP_ALARMS_MID_VOLTAGE, 'i', NULL},
	{PP_ALARMS_HIGH_STARTER_VOLTAGE, 'i', NULL},
	{PP_ALARMS_LOW_STARTER_VOLTAGE, 'i', NULL},
	{PP_ALARMS_BATTERY_TEMPERATURE_SENSOR, 'i', NULL},
	{PP_ALARMS_CONTACTOR, 'i', NULL},
	{PP_ALARMS_ALARM, 'i', NULL},
	{PP_DC_1_VOLTAGE, 'd', "%.2fV"},
	{PP_DC_0_MID_VOLTAGE, 'd', "%.2fV"},
	{PP_DC_0_MID_VOLTAGE_DEVIATION, 'd', "%.1f%%"},
	{PP_AIR_TEMPERATURE, 'd', "%.1f°C"},
	{PP_BUS_VOLTAGE, 'd', "%.2fV"},
	{PP_INFO_CHARGE_REQUEST, 'i', NULL},
	{PP_SYSTEM_SWITCH, 'i', NULL},
	{PP_IO_EXTERNAL_RELAY, 'i', NULL},
	{PP_IO_PROGRAMMABLE_CONTACT, 'i', NULL},
	{PP_RELAY_0_STATE, 'i', NULL},
	{PP_HISTORY_LOW_STARTER_VOLTAGE_ALARMS, 'i', NULL},
	{PP_HISTORY_HIGH_STARTER_VOLTAGE_ALARMS, 'i', NULL},
	{PP_HISTORY_MINIMUM_STARTER_VOLTAGE, 'd', "%.2fV"},
	{PP_HISTORY_MAXIMUM_STARTER_VOLTAGE, 'd', "%.2fV"},
	{0, 0, NULL},
};

static const struct path_def pack_paths[] = {
	{PP_BMS_HARDWARE_VERSION, 's', NULL},
	{PP_CURRENT_AVG, 'd', "%.2fA"},
	/* the BMS's heater (JK PB), as the Python driver's pages read it */
	{PP_IO_ALLOW_TO_HEAT, 'i', NULL},
	{PP_INFO_HEATING_CURRENT, 'd', "%.2fA"},
	{PP_INFO_HEATING_POWER, 'd', "%.0fW"},
	{PP_INFO_HEATING_TEMPERATURE_START, 'd', "%.0f°C"},
	{PP_INFO_HEATING_TEMPERATURE_STOP, 'd', "%.0f°C"},
	{PP_SOC_BMS, 'd', "%.0f%%"}, /* the BMS's own SOC, whatever soc_source says */
	{PP_SYSTEM_TEMPERATURE1, 'd', "%.1f°C"},
	{PP_SYSTEM_TEMPERATURE2, 'd', "%.1f°C"},
	{PP_SYSTEM_TEMPERATURE3, 'd', "%.1f°C"},
	{PP_SYSTEM_TEMPERATURE4, 'd', "%.1f°C"},
	{PP_SYSTEM_TEMPERATURE1_NAME, 's', NULL},
	{PP_SYSTEM_TEMPERATURE2_NAME, 's', NULL},
	{PP_SYSTEM_TEMPERATURE3_NAME, 's', NULL},
	{PP_SYSTEM_TEMPERATURE4_NAME, 's', NULL},
	{PP_VOLTAGES_SUM, 'd', "%.2fV"},
	{PP_VOLTAGES_DIFF, 'd', "%.3fV"},
	{PP_HISTORY_CHARGE_CYCLES, 'i', NULL},
	{PP_HISTORY_MINIMUM_CELL_VOLTAGE, 'd', "%.3fV"},
	{PP_HISTORY_MAXIMUM_CELL_VOLTAGE, 'd', "%.3fV"},
	{PP_HISTORY_MINIMUM_VOLTAGE, 'd', "%.2fV"},
	{PP_HISTORY_MAXIMUM_VOLTAGE, 'd', "%.2fV"},
	{PP_HISTORY_CHARGED_ENERGY, 'd', "%.2fkWh"},
	{PP_HISTORY_DISCHARGED_ENERGY, 'd', "%.2fkWh"},
	{PP_HISTORY_TOTAL_AH_DRAWN, 'd', "%.2fAh"},
	{PP_HISTORY_LAST_DISCHARGE, 'd', "%.2fAh"},
	{PP_HISTORY_DEEPEST_DISCHARGE, 'd', "%.2fAh"},
	{PP_HISTORY_AVERAGE_DISCHARGE, 'd', "%.2fAh"},
	{PP_HISTORY_FULL_DISCHARGES, 'i', NULL},
	{PP_HISTORY_AUTOMATIC_SYNCS, 'i', NULL},
	{PP_HISTORY_TIME_SINCE_LAST_FULL_CHARGE, 'i', "%ds"},
	{PP_HISTORY_MINIMUM_TEMPERATURE, 'd', "%.1f°C"},
	{PP_HISTORY_MAXIMUM_TEMPERATURE, 'd', "%.1f°C"},
	{PP_HISTORY_CAN_BE_CLEARED, 'i', NULL},
	/* from the BMS's own protection event counters (JBD 0xAA), when it keeps them */
	{PP_HISTORY_LOW_VOLTAGE_ALARMS, 'i', NULL},
	{PP_HISTORY_HIGH_VOLTAGE_ALARMS, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_SHORT_CIRCUIT, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_CHARGE_OVER_CURRENT, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_DISCHARGE_OVER_CURRENT, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_CELL_OVER_VOLTAGE, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_CELL_UNDER_VOLTAGE, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_CHARGE_OVER_TEMPERATURE, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_CHARGE_UNDER_TEMPERATURE, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_DISCHARGE_OVER_TEMPERATURE, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_DISCHARGE_UNDER_TEMPERATURE, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_PACK_OVER_VOLTAGE, 'i', NULL},
	{PP_BMS_PROTECTION_EVENTS_PACK_UNDER_VOLTAGE, 'i', NULL},
	{PP_LINK_PROTOCOL, 's', NULL},
	{PP_LINK_CHECKSUM_ERRORS, 'i', NULL},
	{PP_LINK_TIMEOUTS, 'i', NULL},
	{PP_LINK_POLL_CYCLES, 'i', NULL},
	{PP_LINK_IMPLAUSIBLE_CYCLES, 'i', NULL},
	{PP_LINK_FOREIGN_FRAMES, 'i', NULL},
	{0, 0, NULL},
};

static const struct path_def aggregate_paths[] = {
	{PP_CURRENT_AVG, 'd', "%.2fA"},
	{PP_SYSTEM_NR_OF_BATTERIES, 'i', NULL},
	{PP_SYSTEM_BATTERIES_PARALLEL, 'i', NULL},
	{PP_BANK_OFFLINE, 's', NULL},
	{0, 0, NULL},
};

static int add_defs(struct publish_tree *t, const struct path_def *d)
{
	for (; d->id; d++) {
		int r = publish_tree_add_id(t, d->id, publish_path_name(d->id), d->type, d->fmt);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Path and id builders for the per-cycle fill: a fill runs for every battery
 * on every poll and every tick, and snprintf() here was most of the
 * publisher's CPU (measured with callgrind), so these copy bytes instead.
 */
static void path_num(char *buf, size_t len, const char *prefix, unsigned n)
{
	char digits[12];
	size_t k = 0;
	do {
		digits[k++] = (char)('0' + n % 10);
		n /= 10;
	} while (n && k < sizeof(digits));
	size_t pl = strlen(prefix);
	if (pl + k + 1 > len) {
		buf[0] = '\0';
		return;
	}
	memcpy(buf, prefix, pl);
	for (size_t i = 0; i < k; i++)
		buf[pl + i] = digits[k - 1 - i];
	buf[pl + k] = '\0';
}

static void path_cat(char *buf, size_t len, const char *prefix, const char *name)
{
	size_t pl = strlen(prefix), nl = strlen(name);
	if (pl + nl + 1 > len) {
		buf[0] = '\0';
		return;
	}
	memcpy(buf, prefix, pl);
	memcpy(buf + pl, name, nl + 1);
}

/*
 * The /Settings writes to the BMS (issue 17), each registered only when the
 * pack's driver lists its command: a client (gui-v2, a Node-RED flow) sees
 * the switch exactly where it can work. With any of them, the outcome paths.
 */
static int add_write_paths(struct publish_tree *t, const struct bms_driver *drv)
{
	int r = 0;
	if (!drv || !bms_driver_can_set(drv))
		return 0;
	if (bms_driver_supports(drv, BMS_CMD_CHARGE_FET))
		r = publish_tree_add_writable_id(t, PP_SETTINGS_FORCE_CHARGING_OFF,
						 "/Settings/ForceChargingOff", 'i', 0, 1);
	if (r == 0 && bms_driver_supports(drv, BMS_CMD_DISCHARGE_FET))
		r = publish_tree_add_writable_id(t, PP_SETTINGS_FORCE_DISCHARGING_OFF,
						 "/Settings/ForceDischargingOff", 'i', 0, 1);
	if (r == 0 && bms_driver_supports(drv, BMS_CMD_BALANCER))
		r = publish_tree_add_writable_id(t, PP_SETTINGS_TURN_BALANCING_OFF,
						 "/Settings/TurnBalancingOff", 'i', 0, 1);
	if (r == 0 && bms_driver_supports(drv, BMS_CMD_SOC))
		r = publish_tree_add_writable_id(t, PP_SETTINGS_RESET_SOC_TO,
						 "/Settings/ResetSocTo", 'i', 0, 100);
	/* any non-zero applies (the Python driver's), and it reads 0 again */
	if (r == 0 && bms_driver_supports(drv, BMS_CMD_SOC))
		r = publish_tree_add_writable_id(t, PP_SETTINGS_RESET_SOC_TO_APPLY,
						 "/Settings/ResetSocToApply", 'i', INT32_MIN,
						 INT32_MAX);
	if (r == 0)
		r = publish_tree_add_id(t, PP_SETTINGS_LAST_WRITE_ERROR, "/Settings/LastWriteError",
					's', NULL);
	if (r == 0)
		r = publish_tree_add_id(t, PP_LINK_WRITES, "/Link/Writes", 'i', NULL);
	if (r == 0)
		r = publish_tree_add_id(t, PP_LINK_WRITE_ERRORS, "/Link/WriteErrors", 'i', NULL);
	return r;
}

void publish_paths_writes(struct publish_tree *t, bool charge_off, bool discharge_off,
			  bool balancing_off, int32_t soc_target, const char *error, uint32_t done,
			  uint32_t errors)
{
	publish_set_int(t, PP_SETTINGS_FORCE_CHARGING_OFF, charge_off);
	publish_set_int(t, PP_SETTINGS_FORCE_DISCHARGING_OFF, discharge_off);
	publish_set_int(t, PP_SETTINGS_TURN_BALANCING_OFF, balancing_off);
	publish_set_int(t, PP_SETTINGS_RESET_SOC_TO, soc_target);
	publish_set_int(t, PP_SETTINGS_RESET_SOC_TO_APPLY, 0);
	publish_set_string(t, PP_SETTINGS_LAST_WRITE_ERROR, error);
	publish_set_int(t, PP_LINK_WRITES, (int32_t)(done & 0x7fffffff));
	publish_set_int(t, PP_LINK_WRITE_ERRORS, (int32_t)(errors & 0x7fffffff));
}

int publish_paths_build(struct publish_tree *t, unsigned ncells, bool aggregate)
{
	return publish_paths_build_pack(t, ncells, aggregate, NULL, NULL);
}

int publish_paths_build_pack(struct publish_tree *t, unsigned ncells, bool aggregate,
			     const struct bms_driver *drv, const struct cfg_ilist *soc_points)
{
	int r = add_defs(t, common_paths);
	if (r == 0)
		r = add_defs(t, unknown_paths);
	if (r == 0)
		r = add_defs(t, aggregate ? aggregate_paths : pack_paths);
	for (int a = 0; r == 0 && a < BMS_ALARM_COUNT; a++) {
		char p[PUBLISH_PATH_LEN];
		path_cat(p, sizeof(p), "/Alarms/", bms_alarm_name((enum bms_alarm)a));
		r = publish_tree_add_id(t, PP_ALARM + (unsigned)a, p, 'i', NULL);
	}
	for (unsigned c = 1; r == 0 && c <= ncells && c <= BMS_MAX_CELLS; c++) {
		char p[PUBLISH_PATH_LEN];
		path_num(p, sizeof(p), "/Voltages/Cell", c);
		r = publish_tree_add_id(t, PP_CELL_VOLTAGE + c - 1, p, 'd', "%.3fV");
		path_num(p, sizeof(p), "/Balances/Cell", c);
		if (r == 0)
			r = publish_tree_add_id(t, PP_CELL_BALANCE + c - 1, p, 'i', NULL);
	}
	/* seconds as text, the Python driver's default form (TIME_TO_SOC_VALUE_TYPE 1) */
	for (unsigned k = 0; r == 0 && soc_points && k < soc_points->n; k++) {
		bool twice = false; /* a point listed twice is one path */
		for (unsigned j = 0; j < k; j++)
			twice = twice || soc_points->v[j] == soc_points->v[k];
		char p[PUBLISH_PATH_LEN];
		path_num(p, sizeof(p), "/TimeToSoC/", (unsigned)soc_points->v[k]);
		if (!twice) /* the first of a point listed twice carries it */
			r = publish_tree_add_id(t, PP_TIME_TO_SOC + k, p, 's', NULL);
	}
	if (r == 0)
		r = publish_tree_add_writable_id(t, PP_CUSTOM_NAME, "/CustomName", 's', 0, 0);
	/* gui-v2's "Switch mode": 3 on, 252 standby (4 off is read-only there) */
	if (r == 0)
		r = publish_tree_add_writable_id(t, PP_MODE, "/Mode", 'i', 3, 252);
	if (r == 0 && !aggregate)
		r = publish_tree_add_writable_id(t, PP_HISTORY_CLEAR, "/History/Clear", 'i', 0, 7);
	if (r == 0 && aggregate)
		r = publish_tree_add_writable_id(t, PP_BANK_FORGET, "/Bank/Forget", 's', 0, 0);
	if (r == 0 && !aggregate)
		r = add_write_paths(t, drv);
	/*
	 * Counters that move every poll, and the minutes since the last full
	 * charge that move at rest: readable, but no signal of their own (sent
	 * with other changes or once a minute).
	 */
	static const unsigned quiet[] = {
		PP_LINK_POLL_CYCLES,        PP_LINK_CHECKSUM_ERRORS,
		PP_LINK_TIMEOUTS,           PP_LINK_FOREIGN_FRAMES,
		PP_LINK_IMPLAUSIBLE_CYCLES, PP_LINK_WRITES,
		PP_LINK_WRITE_ERRORS,       PP_HISTORY_TIME_SINCE_LAST_FULL_CHARGE};
	if (r == 0)
		publish_tree_seal(t); /* sorted: found from here on */
	for (size_t k = 0; r == 0 && !aggregate && k < sizeof(quiet) / sizeof(quiet[0]); k++) {
		struct publish_item *it = publish_tree_item(t, quiet[k]);
		if (it) /* the write counters: only with writes */
			it->quiet = true;
	}
	return r;
}

void publish_paths_bands(struct publish_tree *t, const struct publish_config *cfg)
{
	static const unsigned temps[] = {PP_DC_0_TEMPERATURE,
					 PP_SYSTEM_TEMPERATURE1,
					 PP_SYSTEM_TEMPERATURE2,
					 PP_SYSTEM_TEMPERATURE3,
					 PP_SYSTEM_TEMPERATURE4,
					 PP_SYSTEM_MOSTEMPERATURE,
					 PP_SYSTEM_MIN_CELL_TEMPERATURE,
					 PP_SYSTEM_MAX_CELL_TEMPERATURE};
	/* ids the tree lacks (an aggregate's cells) are skipped: -EINVAL ignored */
	/* (/Voltages/Diff is the difference of the two, so it follows their band) */
	static const unsigned cells[] = {PP_SYSTEM_MIN_CELL_VOLTAGE, PP_SYSTEM_MAX_CELL_VOLTAGE};
	for (unsigned c = 0; c < BMS_MAX_CELLS; c++)
		publish_tree_set_band(t, PP_CELL_VOLTAGE + c, cfg->deadband_cell_voltage);
	for (size_t k = 0; k < sizeof(cells) / sizeof(cells[0]); k++)
		publish_tree_set_band(t, cells[k], cfg->deadband_cell_voltage);
	publish_tree_set_band(t, PP_DC_0_VOLTAGE, cfg->deadband_voltage);
	publish_tree_set_band(t, PP_VOLTAGES_SUM, cfg->deadband_voltage);
	publish_tree_set_band(t, PP_DC_0_CURRENT, cfg->deadband_current);
	for (size_t k = 0; k < sizeof(temps) / sizeof(temps[0]); k++)
		publish_tree_set_band(t, temps[k], cfg->deadband_temperature);
}

void publish_paths_fixed(struct publish_tree *t, const char *connection)
{
	publish_set_string(t, PP_MGMT_PROCESS_NAME, "serialbatteryd");
	publish_set_string(t, PP_MGMT_PROCESS_VERSION, SB_VERSION);
	publish_set_string(t, PP_MGMT_CONNECTION, connection);
	publish_set_int(t, PP_PRODUCT_ID, 0xBA77);
	publish_set_int(t, PP_HISTORY_CAN_BE_CLEARED, 1);
	struct publish_item *clr = publish_tree_item(t, PP_HISTORY_CLEAR);
	if (clr)
		publish_item_set_int(clr, 0);
	struct publish_item *forget = publish_tree_item(t, PP_BANK_FORGET);
	if (forget)
		publish_item_set_string(forget, "");
}

bool publish_snap_power(const struct bms_snapshot *s, double *ret_w)
{
	if (s->valid & BMS_V_POWER) {
		*ret_w = bms_mw_to_w(s->power_mw);
		return true;
	}
	if ((s->valid & (BMS_V_VOLTAGE | BMS_V_CURRENT)) == (BMS_V_VOLTAGE | BMS_V_CURRENT)) {
		/* rounded to 0.1 W: the product of two 3-decimal numbers is noise below that */
		*ret_w = round((double)s->voltage_mv * (double)s->current_ma / 1e5) / 10.0;
		return true;
	}
	return false;
}

/*
 * A limit to the 0.01 that is published, rounded down: a published limit
 * never exceeds what the rules computed (51.825 V goes out as 51.82 V). The
 * epsilon keeps a value that is a whole 0.01 in decimal but not in binary
 * where it is (55.2 x 100 = 5519.999...: 55.2, not 55.19).
 */
static double limit_down(double v)
{
	return floor(v * 100.0 + 1e-6) / 100.0;
}

void publish_paths_limits(struct publish_tree *t, const struct charge_result *res, bool valid)
{
	publish_set_double_if(t, PP_INFO_MAX_CHARGE_VOLTAGE, valid && res->cvl_valid,
			      limit_down(res->cvl_v));
	publish_set_double_if(t, PP_INFO_MAX_CHARGE_CURRENT, valid, limit_down(res->ccl_a));
	publish_set_double_if(t, PP_INFO_MAX_DISCHARGE_CURRENT, valid, limit_down(res->dcl_a));
	publish_set_double_if(t, PP_INFO_BATTERY_LOW_VOLTAGE, valid,
			      round(res->battery_low_voltage_v * 100) / 100);
	publish_set_string_if(t, PP_INFO_CHARGE_MODE, valid, res->mode);
	publish_set_string_if(t, PP_INFO_CHARGE_LIMITATION, valid, res->charge_limitation);
	publish_set_string_if(t, PP_INFO_DISCHARGE_LIMITATION, valid, res->discharge_limitation);
}

/*
 * Behaviour 5.7: running (9) while either direction is allowed, standby (14)
 * when the rules stop both. Since charge/ gives the first snapshot's limits
 * at once and holds the DCL through a short comms loss, a pack is running
 * from its first snapshot and stays so through a cable glitch; standby means
 * the rules computed 0 both ways (or there are no data at all).
 */
static int32_t publish_paths_state(const struct charge_result *res)
{
	return res->allow_charge || res->allow_discharge ? 9 : 14;
}

/* /Mode follows /State: 3 on while running, 4 off in standby (5.7). */
static int32_t publish_paths_mode(const struct charge_result *res)
{
	return publish_paths_state(res) == 9 ? 3 : 4;
}

/* Mean, min and max of the temperature sensors (st: the charge result's statistics). */
static void fill_temps(struct publish_tree *t, const struct bms_snapshot *s,
		       const struct bms_stats *st, bool ok)
{
	bool have = ok && st->temp_count > 0;
	unsigned n = have ? st->temp_count : 0;
	char id[16];
	/* the mean rounded to 0.1 degC in raw units, then converted */
	publish_set_double_if(t, PP_DC_0_TEMPERATURE, have,
			      bms_dc_to_c((int64_t)round((double)st->temp_sum_dc / (n ? n : 1))));
	publish_set_double_if(t, PP_SYSTEM_MIN_CELL_TEMPERATURE, have,
			      bms_dc_to_c(st->temp_min_dc));
	publish_set_double_if(t, PP_SYSTEM_MAX_CELL_TEMPERATURE, have,
			      bms_dc_to_c(st->temp_max_dc));
	/* the cell sensors as gui-v2 lists them; the MOSFET has its own path */
	path_num(id, sizeof(id), "Battery ", (unsigned)st->temp_min_idx + 1);
	publish_set_string_if(t, PP_SYSTEM_MIN_TEMPERATURE_CELL_ID, have, id);
	path_num(id, sizeof(id), "Battery ", (unsigned)st->temp_max_idx + 1);
	publish_set_string_if(t, PP_SYSTEM_MAX_TEMPERATURE_CELL_ID, have, id);
	publish_set_double_if(t, PP_SYSTEM_MOSTEMPERATURE, ok && (s->valid & BMS_V_MOSFET_TEMP),
			      bms_dc_to_c(s->mosfet_temp_dc));
}

/*
 * A BMS's heater. Heating and its current are live data, withdrawn once
 * stale; the switch and temperatures are settings, kept like the balancer
 * switch. Not limits: they stay on a pack in a bank (the /Info rule hides
 * only what systemcalc could take the pack for the BMS by).
 */
static void fill_heater(struct publish_tree *t, const struct bms_snapshot *s, bool online)
{
	uint32_t v = s->valid;
	publish_set_int_if(t, PP_HEATING, online && (v & BMS_V_HEATING), s->heating ? 1 : 0);
	bool cur = online && (v & BMS_V_HEATER_CURRENT);
	publish_set_double_if(t, PP_INFO_HEATING_CURRENT, cur, bms_ma_to_a(s->heater_current_ma));
	/* the heater runs from the pack: its current at the pack voltage, to 0.1 W */
	publish_set_double_if(t, PP_INFO_HEATING_POWER, cur && (v & BMS_V_VOLTAGE),
			      round((double)s->heater_current_ma * (double)s->voltage_mv / 1e5) /
				      10.0);
	bool set = v & BMS_V_HEATER_SETTINGS;
	publish_set_int_if(t, PP_IO_ALLOW_TO_HEAT, set, s->heating_enabled ? 1 : 0);
	publish_set_double_if(t, PP_INFO_HEATING_TEMPERATURE_START, set,
			      bms_dc_to_c(s->heating_start_dc));
	publish_set_double_if(t, PP_INFO_HEATING_TEMPERATURE_STOP, set,
			      bms_dc_to_c(s->heating_stop_dc));
}

/* The ProtectionEvents ids follow enum bms_prot from the first (pathids.h). */
_Static_assert(PP_BMS_PROTECTION_EVENTS_PACK_UNDER_VOLTAGE -
			       PP_BMS_PROTECTION_EVENTS_SHORT_CIRCUIT ==
		       BMS_PROT_PACK_UV - BMS_PROT_SHORT_CIRCUIT,
	       "ProtectionEvents ids in enum bms_prot order");

/*
 * The BMS's lifetime protection counters. Victron's history has low and
 * high voltage alarm counts: the BMS's under-/over-voltage protections of a
 * cell or of the pack are exactly those events, so each is their sum. The
 * rest have no Victron path and are published under /Bms/ProtectionEvents
 * (read by `serialbattery status --json`). Invalid when the BMS keeps none
 * (the two history counts are then our own, publish/history.c).
 */
static void fill_prot_events(struct publish_tree *t, const struct bms_snapshot *s)
{
	bool ok = s->valid & BMS_V_PROT_EVENTS;
	const uint16_t *e = s->prot_events;
	for (unsigned i = 0; i < BMS_PROT_COUNT; i++)
		publish_set_int_if(t, PP_BMS_PROTECTION_EVENTS_SHORT_CIRCUIT + i, ok, e[i]);
	if (!ok)
		return; /* then the history counts our own alarms (history.c) */
	publish_set_int(t, PP_HISTORY_LOW_VOLTAGE_ALARMS,
			(int32_t)e[BMS_PROT_CELL_UV] + (int32_t)e[BMS_PROT_PACK_UV]);
	publish_set_int(t, PP_HISTORY_HIGH_VOLTAGE_ALARMS,
			(int32_t)e[BMS_PROT_CELL_OV] + (int32_t)e[BMS_PROT_PACK_OV]);
}

/*
 * What an owner calls each family (driver names are config keys). JBD's
 * protocol has no serial number: its driver gives the production date
 * there, which two packs of one batch share, so it is no /Serial.
 */
static const struct family {
	char proto[16];
	char name[12];
	bool date_serial;
} families[] = {
	{"jk", "JK", false},
	{"jkpb", "JK", false},
	{"jbd", "JBD", true},
	{"daly", "Daly", false},
	{"jbd_up16s", "JBD UP16S", false},
	{"pace", "PACE", false},
	{"pylontech", "Pylontech", false},
	{"daren", "Daren", false},
	{"ks48100", "KS48100", false},
	{"seplos_v2", "Seplos", false},
	{"seplos_v3", "Seplos", false},
	{"ant_2021", "ANT", false},
	{"ant_legacy", "ANT", false},
	{"eg4_lifepower", "EG4", false},
	{"renogy", "Renogy", false},
	{"eg4_ll", "EG4", false},
	{"felicity", "Felicity", false},
	{"heltec", "Heltec", false},
	{"ecs", "ECS", false},
	{"hlpdata", "HLPdata", false},
	{"sinowealth", "Sinowealth", false},
};

static const struct family *family_of(const char *proto)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (strcmp(families[i].proto, proto) == 0)
			return &families[i];
	return NULL;
}

void publish_paths_names(struct publish_tree *t, const struct store_record *rec,
			 const char *product_name, const char *custom_name)
{
	const struct bms_snapshot *s = &rec->snap;
	const struct family *f = family_of(rec->info.protocol);
	char product[PUBLISH_STR_LEN];
	if ((s->valid & BMS_V_MODEL) && s->model[0])
		snprintf(product, sizeof(product), "%s", s->model);
	else if (product_name[0])
		snprintf(product, sizeof(product), "%s", product_name);
	else
		snprintf(product, sizeof(product), "%s BMS", f ? f->name : "Serial");
	publish_set_string(t, PP_PRODUCT_NAME, product);
	publish_set_string_if(t, PP_SERIAL,
			      (s->valid & BMS_V_SERIAL) && s->serial[0] && !(f && f->date_serial),
			      s->serial);
	if (custom_name[0])
		return; /* the owner's name, set by the service from settings */
	/* unnamed packs of one family are told apart by where they are connected */
	char def[PUBLISH_STR_LEN];
	if (rec->info.address)
		snprintf(def, sizeof(def), "%.60s (%s, address %u)", product, rec->info.tty,
			 rec->info.address);
	else
		snprintf(def, sizeof(def), "%.60s (%s)", product, rec->info.tty);
	publish_set_string(t, PP_CUSTOM_NAME, def);
}

/*
 * Alarms our own rules raise whatever the BMS reports: bms_plausible marks a
 * cell outside the chemistry's range as a low or high cell voltage alarm.
 */
#define OUR_ALARMS (BMS_ALARM_BIT(LOW_CELL_VOLTAGE) | BMS_ALARM_BIT(HIGH_CELL_VOLTAGE))

uint32_t publish_paths_alarm_mask(const struct store_record *rec)
{
	const struct bms_driver *drv =
		rec->info.protocol[0] ? bms_driver_find(rec->info.protocol) : NULL;
	/* no driver yet: nothing is reported, and BMS_V_ALARMS is not set either */
	return drv ? drv->alarms | OUR_ALARMS : OUR_ALARMS;
}

void publish_paths_fill(struct publish_tree *t, const struct store_record *rec,
			const struct charge_result *res, const struct publish_history *h,
			bool info_paths)
{
	const struct bms_snapshot *s = &rec->snap;
	bool online = res->connected && !res->stale;
	uint32_t v = s->valid;

	publish_set_string_if(t, PP_FIRMWARE_VERSION, v & BMS_V_SW_VERSION, s->sw_version);
	/* Victron's devices give a number; a BMS's text (JK's "19A") is no number */
	char *end = NULL;
	long hw = (v & BMS_V_HW_VERSION) ? strtol(s->hw_version, &end, 10) : -1;
	bool hw_num = end && end != s->hw_version && !*end && hw >= 0 && hw <= INT32_MAX;
	publish_set_int_if(t, PP_HARDWARE_VERSION, hw_num, (int32_t)(hw_num ? hw : 0));
	publish_set_string_if(t, PP_BMS_HARDWARE_VERSION, v & BMS_V_HW_VERSION, s->hw_version);
	publish_set_int(t, PP_CONNECTED, res->connected ? 1 : 0);
	publish_set_int(t, PP_STATE, publish_paths_state(res));
	publish_set_int(t, PP_MODE, publish_paths_mode(res));

	/* like dbus-serialbattery: once stale, the live measurements are withdrawn */
	publish_set_double_if(t, PP_DC_0_VOLTAGE, online && (v & BMS_V_VOLTAGE),
			      bms_mv_to_v(s->voltage_mv));
	publish_set_double_if(t, PP_DC_0_CURRENT, online && (v & BMS_V_CURRENT),
			      bms_ma_to_a(s->current_ma));
	double pw = 0;
	bool have_p = online && publish_snap_power(s, &pw);
	publish_set_double_if(t, PP_DC_0_POWER, have_p, pw);
	fill_temps(t, s, &res->stats, true);

	publish_set_double_if(t, PP_SOC, v & BMS_V_SOC, bms_cpct_to_pct(s->soc_cpct));
	publish_set_double_if(t, PP_SOH, v & BMS_V_SOH, bms_cpct_to_pct(s->soh_cpct));
	publish_set_double_if(t, PP_CAPACITY, v & BMS_V_CAP_REMAIN,
			      bms_mah_to_ah(s->capacity_remain_mah));
	int32_t installed = (v & BMS_V_CAP_FULL) ? s->capacity_full_mah : s->capacity_design_mah;
	bool have_inst = v & (BMS_V_CAP_FULL | BMS_V_CAP_DESIGN);
	publish_set_double_if(t, PP_INSTALLED_CAPACITY, have_inst, bms_mah_to_ah(installed));
	bool have_cons = have_inst && (v & BMS_V_CAP_REMAIN);
	/* Victron monitors publish consumed Ah as a negative number */
	publish_set_double_if(t, PP_CONSUMED_AMPHOURS, have_cons,
			      -bms_mah_to_ah((int64_t)installed - s->capacity_remain_mah));
	/* /TimeToGo and /TimeToSoC: the publisher's, from the averaged current (publish.c) */

	publish_paths_limits(t, res, info_paths);
	publish_set_int(t, PP_IO_ALLOW_TO_CHARGE, res->allow_charge ? 1 : 0);
	publish_set_int(t, PP_IO_ALLOW_TO_DISCHARGE, res->allow_discharge ? 1 : 0);
	publish_set_int_if(t, PP_IO_ALLOW_TO_BALANCE, v & BMS_V_BALANCER,
			   s->balancer_enabled ? 1 : 0);
	publish_set_int_if(t, PP_BALANCING, v & BMS_V_BALANCING, s->balancing ? 1 : 0);
	fill_heater(t, s, online);

	/* the cells charge/ computed the limits from: the same cells on the bus */
	const struct bms_stats *cs = &res->stats;
	bool cells = cs->cell_count > 0;
	char id[16];
	publish_set_double_if(t, PP_SYSTEM_MIN_CELL_VOLTAGE, cells, bms_mv_to_v(cs->cell_min_mv));
	publish_set_double_if(t, PP_SYSTEM_MAX_CELL_VOLTAGE, cells, bms_mv_to_v(cs->cell_max_mv));
	path_num(id, sizeof(id), "C", cs->cell_min_idx + 1u);
	publish_set_string_if(t, PP_SYSTEM_MIN_VOLTAGE_CELL_ID, cells, id);
	path_num(id, sizeof(id), "C", cs->cell_max_idx + 1u);
	publish_set_string_if(t, PP_SYSTEM_MAX_VOLTAGE_CELL_ID, cells, id);
	publish_set_int_if(t, PP_SYSTEM_NR_OF_CELLS_PER_BATTERY, v & BMS_V_CELLS, s->cell_count);
	publish_set_int(t, PP_SYSTEM_NR_OF_MODULES_ONLINE, online ? 1 : 0);
	publish_set_int(t, PP_SYSTEM_NR_OF_MODULES_OFFLINE, online ? 0 : 1);
	publish_set_int(t, PP_SYSTEM_NR_OF_MODULES_BLOCKING_CHARGE, res->allow_charge ? 0 : 1);
	publish_set_int(t, PP_SYSTEM_NR_OF_MODULES_BLOCKING_DISCHARGE,
			res->allow_discharge ? 0 : 1);
	publish_set_double_if(t, PP_VOLTAGES_SUM, cells, bms_mv_to_v(cs->cell_sum_mv));
	/* max - min as the bus shows them: with a deadband, it moves only when they do */
	const struct publish_item *mn = publish_tree_item(t, PP_SYSTEM_MIN_CELL_VOLTAGE);
	const struct publish_item *mx = publish_tree_item(t, PP_SYSTEM_MAX_CELL_VOLTAGE);
	bool diff = cells && mn && mx && mn->valid && mx->valid;
	publish_set_double_if(t, PP_VOLTAGES_DIFF, diff,
			      diff ? round((mx->d - mn->d) * 1000.0) / 1000.0 : 0);
	for (unsigned c = 0; c < BMS_MAX_CELLS; c++) {
		struct publish_item *it = publish_tree_item(t, PP_CELL_VOLTAGE + c);
		if (!it)
			break;
		/* a cell that does not count for the statistics is no measurement */
		bool ok = bms_stats_cell_counts(s, c);
		if (ok)
			publish_item_set_double(it, bms_mv_to_v(s->cell_mv[c]));
		else
			publish_item_set_invalid(it);
		publish_set_int_if(t, PP_CELL_BALANCE + c, ok && (v & BMS_V_BALANCING),
				   (s->balancing >> c) & 1u);
	}

	uint32_t known = publish_paths_alarm_mask(rec);
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
		publish_set_int_if(t, PP_ALARM + a, (v & BMS_V_ALARMS) && (known >> a & 1u),
				   s->alarm[a]);
	publish_set_int(t, PP_ALARMS_BMS_CABLE, res->bms_cable_alarm);

	/*
	 * gui-v2's device pages. ErrorCode is the Victron device's own fault
	 * code: a BMS fault is an alarm above, so 0 while we hear the pack and
	 * unknown once it is lost. No settings page of ours in the GUI; the BMS's
	 * own name field is not read by any driver yet (/DeviceName invalid).
	 */
	publish_set_int_if(t, PP_ERROR_CODE, res->connected, 0);
	publish_set_string(t, PP_CONNECTION_INFORMATION,
			   !res->connected ? "Lost"
			   : res->stale    ? "No data (stale)"
					   : "Connected");
	/* the Python driver's: 1 where the pack has settings to write (the GUI's page) */
	publish_set_int(t, PP_SETTINGS_HAS_SETTINGS,
			publish_tree_item(t, PP_SETTINGS_LAST_WRITE_ERROR) != NULL);
	publish_set_int(t, PP_SETTINGS_HAS_TEMPERATURE, (v & BMS_V_TEMPS) ? 1 : 0);
	publish_set_int(t, PP_SETTINGS_HAS_STARTER_VOLTAGE, 0); /* no BMS has a starter input */
	publish_set_invalid(t, PP_DEVICE_NAME);
	/* the first four cell sensors one by one, named as the Id paths name them */
	_Static_assert(PP_SYSTEM_TEMPERATURE4 - PP_SYSTEM_TEMPERATURE1 == 3 &&
			       PP_SYSTEM_TEMPERATURE4_NAME - PP_SYSTEM_TEMPERATURE1_NAME == 3,
		       "four temperature ids in a row");
	static const char temp_names[4][10] = {"Battery 1", "Battery 2", "Battery 3", "Battery 4"};
	for (unsigned k = 0; k < 4; k++) {
		bool ok = (v & BMS_V_TEMPS) && k < s->temp_count;
		publish_set_double_if(t, PP_SYSTEM_TEMPERATURE1 + k, ok,
				      bms_dc_to_c(s->temp_dc[k]));
		publish_set_string_if(t, PP_SYSTEM_TEMPERATURE1_NAME + k, ok, temp_names[k]);
	}

	publish_set_string(t, PP_LINK_PROTOCOL, rec->info.protocol[0] ? rec->info.protocol : "-");
	publish_set_int(t, PP_LINK_CHECKSUM_ERRORS, (int32_t)(rec->info.frames_bad & 0x7fffffff));
	publish_set_int(t, PP_LINK_TIMEOUTS, (int32_t)(rec->info.timeouts & 0x7fffffff));
	publish_set_int(t, PP_LINK_POLL_CYCLES, (int32_t)(rec->info.cycles_ok & 0x7fffffff));
	publish_set_int(t, PP_LINK_IMPLAUSIBLE_CYCLES,
			(int32_t)(rec->info.implausible & 0x7fffffff));
	publish_set_int(t, PP_LINK_FOREIGN_FRAMES,
			(int32_t)(rec->info.frames_foreign & 0x7fffffff));
	fill_prot_events(t, s);
	publish_history_fill(t, h, s);
}
