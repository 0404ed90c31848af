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

struct path_def {
	const char *path;
	char type;
	const char *fmt;
};

static const struct path_def common_paths[] = {
	{"/Mgmt/ProcessName", 's', NULL},
	{"/Mgmt/ProcessVersion", 's', NULL},
	{"/Mgmt/Connection", 's', NULL},
	{"/DeviceInstance", 'i', NULL},
	{"/ProductId", 'i', "0x%X"},
	{"/ProductName", 's', NULL},
	{"/FirmwareVersion", 's', NULL},
	{"/HardwareVersion", 'i', NULL},
	{"/Serial", 's', NULL},
	{"/Connected", 'i', NULL},
	{"/State", 'i', NULL},
	{"/Dc/0/Voltage", 'd', "%.2fV"},
	{"/Dc/0/Current", 'd', "%.1fA"},
	{"/Dc/0/Power", 'd', "%.0fW"},
	{"/Dc/0/Temperature", 'd', "%.1f°C"},
	{"/Soc", 'd', "%.0f%%"},
	{"/Soh", 'd', "%.0f%%"},
	{"/Capacity", 'd', "%.1fAh"},
	{"/InstalledCapacity", 'd', "%.1fAh"},
	{"/ConsumedAmphours", 'd', "%.1fAh"},
	{"/TimeToGo", 'i', "%ds"}, /* int seconds, as Victron's monitors and the Python driver */
	{"/Info/MaxChargeVoltage", 'd', "%.2fV"},
	{"/Info/MaxChargeCurrent", 'd', "%.1fA"},
	{"/Info/MaxDischargeCurrent", 'd', "%.1fA"},
	{"/Info/BatteryLowVoltage", 'd', "%.2fV"},
	{"/Info/ChargeMode", 's', NULL},
	{"/Info/ChargeLimitation", 's', NULL},
	{"/Info/DischargeLimitation", 's', NULL},
	{"/Io/AllowToCharge", 'i', NULL},
	{"/Io/AllowToDischarge", 'i', NULL},
	{"/Io/AllowToBalance", 'i', NULL},
	{"/Balancing", 'i', NULL},
	{"/Heating", 'i', NULL},
	{"/System/MinCellVoltage", 'd', "%.3fV"},
	{"/System/MaxCellVoltage", 'd', "%.3fV"},
	{"/System/MinVoltageCellId", 's', NULL},
	{"/System/MaxVoltageCellId", 's', NULL},
	{"/System/MinCellTemperature", 'd', "%.1f°C"},
	{"/System/MaxCellTemperature", 'd', "%.1f°C"},
	{"/System/MinTemperatureCellId", 's', NULL},
	{"/System/MaxTemperatureCellId", 's', NULL},
	{"/System/MOSTemperature", 'd', "%.1f°C"},
	{"/System/NrOfCellsPerBattery", 'i', NULL},
	{"/System/NrOfModulesOnline", 'i', NULL},
	{"/System/NrOfModulesOffline", 'i', NULL},
	{"/System/NrOfModulesBlockingCharge", 'i', NULL},
	{"/System/NrOfModulesBlockingDischarge", 'i', NULL},
	{"/Alarms/BmsCable", 'i', NULL},
	{"/ErrorCode", 'i', NULL},
	{"/ConnectionInformation", 's', NULL},
	{"/Settings/HasSettings", 'i', NULL},
	{"/Settings/HasTemperature", 'i', NULL},
	{"/DeviceName", 's', NULL},
	{"/Settings/HasStarterVoltage", 'i', NULL},
	{NULL, 0, NULL},
};

/*
 * Paths gui-v2's battery pages read that no BMS of ours can give: registered
 * with Victron's type and left invalid for good, so a client that asks gets
 * "unknown" rather than an error, and no page shows a row for them. (The
 * Lynx, 48TL and SmartLithium diagnostics pages and the BMV alarm settings
 * are product-specific and not registered at all: docs/DBUS.md.)
 */
static const struct path_def unknown_paths[] = {
	{"/Alarms/StateOfHealth", 'i', NULL},
	{"/Alarms/MidVoltage", 'i', NULL},
	{"/Alarms/HighStarterVoltage", 'i', NULL},
	{"/Alarms/LowStarterVoltage", 'i', NULL},
	{"/Alarms/BatteryTemperatureSensor", 'i', NULL},
	{"/Alarms/Contactor", 'i', NULL},
	{"/Alarms/Alarm", 'i', NULL},
	{"/Dc/1/Voltage", 'd', "%.2fV"},
	{"/Dc/0/MidVoltage", 'd', "%.2fV"},
	{"/Dc/0/MidVoltageDeviation", 'd', "%.1f%%"},
	{"/AirTemperature", 'd', "%.1f°C"},
	{"/BusVoltage", 'd', "%.2fV"},
	{"/Info/ChargeRequest", 'i', NULL},
	{"/SystemSwitch", 'i', NULL},
	{"/Io/ExternalRelay", 'i', NULL},
	{"/Io/ProgrammableContact", 'i', NULL},
	{"/Relay/0/State", 'i', NULL},
	{"/History/LowStarterVoltageAlarms", 'i', NULL},
	{"/History/HighStarterVoltageAlarms", 'i', NULL},
	{"/History/MinimumStarterVoltage", 'd', "%.2fV"},
	{"/History/MaximumStarterVoltage", 'd', "%.2fV"},
	{NULL, 0, NULL},
};

static const struct path_def pack_paths[] = {
	{"/Bms/HardwareVersion", 's', NULL},
	{"/CurrentAvg", 'd', "%.2fA"},
	/* the BMS's heater (JK PB), as the Python driver's pages read it */
	{"/Io/AllowToHeat", 'i', NULL},
	{"/Info/HeatingCurrent", 'd', "%.2fA"},
	{"/Info/HeatingPower", 'd', "%.0fW"},
	{"/Info/HeatingTemperatureStart", 'd', "%.0f°C"},
	{"/Info/HeatingTemperatureStop", 'd', "%.0f°C"},
	{"/SocBms", 'd', "%.0f%%"}, /* the BMS's own SOC, whatever soc_source says */
	{"/System/Temperature1", 'd', "%.1f°C"},
	{"/System/Temperature2", 'd', "%.1f°C"},
	{"/System/Temperature3", 'd', "%.1f°C"},
	{"/System/Temperature4", 'd', "%.1f°C"},
	{"/System/Temperature1Name", 's', NULL},
	{"/System/Temperature2Name", 's', NULL},
	{"/System/Temperature3Name", 's', NULL},
	{"/System/Temperature4Name", 's', NULL},
	{"/Voltages/Sum", 'd', "%.2fV"},
	{"/Voltages/Diff", 'd', "%.3fV"},
	{"/History/ChargeCycles", 'i', NULL},
	{"/History/MinimumCellVoltage", 'd', "%.3fV"},
	{"/History/MaximumCellVoltage", 'd', "%.3fV"},
	{"/History/MinimumVoltage", 'd', "%.2fV"},
	{"/History/MaximumVoltage", 'd', "%.2fV"},
	{"/History/ChargedEnergy", 'd', "%.2fkWh"},
	{"/History/DischargedEnergy", 'd', "%.2fkWh"},
	{"/History/TotalAhDrawn", 'd', "%.2fAh"},
	{"/History/LastDischarge", 'd', "%.2fAh"},
	{"/History/DeepestDischarge", 'd', "%.2fAh"},
	{"/History/AverageDischarge", 'd', "%.2fAh"},
	{"/History/FullDischarges", 'i', NULL},
	{"/History/AutomaticSyncs", 'i', NULL},
	{"/History/TimeSinceLastFullCharge", 'i', "%ds"},
	{"/History/MinimumTemperature", 'd', "%.1f°C"},
	{"/History/MaximumTemperature", 'd', "%.1f°C"},
	{"/History/CanBeCleared", 'i', NULL},
	/* from the BMS's own protection event counters (JBD 0xAA), when it keeps them */
	{"/History/LowVoltageAlarms", 'i', NULL},
	{"/History/HighVoltageAlarms", 'i', NULL},
	{"/Bms/ProtectionEvents/ShortCircuit", 'i', NULL},
	{"/Bms/ProtectionEvents/ChargeOverCurrent", 'i', NULL},
	{"/Bms/ProtectionEvents/DischargeOverCurrent", 'i', NULL},
	{"/Bms/ProtectionEvents/CellOverVoltage", 'i', NULL},
	{"/Bms/ProtectionEvents/CellUnderVoltage", 'i', NULL},
	{"/Bms/ProtectionEvents/ChargeOverTemperature", 'i', NULL},
	{"/Bms/ProtectionEvents/ChargeUnderTemperature", 'i', NULL},
	{"/Bms/ProtectionEvents/DischargeOverTemperature", 'i', NULL},
	{"/Bms/ProtectionEvents/DischargeUnderTemperature", 'i', NULL},
	{"/Bms/ProtectionEvents/PackOverVoltage", 'i', NULL},
	{"/Bms/ProtectionEvents/PackUnderVoltage", 'i', NULL},
	{"/Link/Protocol", 's', NULL},
	{"/Link/ChecksumErrors", 'i', NULL},
	{"/Link/Timeouts", 'i', NULL},
	{"/Link/PollCycles", 'i', NULL},
	{"/Link/ImplausibleCycles", 'i', NULL},
	{"/Link/ForeignFrames", 'i', NULL},
	{NULL, 0, NULL},
};

static const struct path_def aggregate_paths[] = {
	{"/CurrentAvg", 'd', "%.2fA"},
	{"/System/NrOfBatteries", 'i', NULL},
	{"/System/BatteriesParallel", 'i', NULL},
	{"/Bank/Offline", 's', NULL},
	{NULL, 0, NULL},
};

static int add_defs(struct publish_tree *t, const struct path_def *d)
{
	for (; d->path; d++) {
		int r = publish_tree_add(t, d->path, d->type, d->fmt);
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
		r = publish_tree_add_writable(t, "/Settings/ForceChargingOff", 'i', 0, 1);
	if (r == 0 && bms_driver_supports(drv, BMS_CMD_DISCHARGE_FET))
		r = publish_tree_add_writable(t, "/Settings/ForceDischargingOff", 'i', 0, 1);
	if (r == 0 && bms_driver_supports(drv, BMS_CMD_BALANCER))
		r = publish_tree_add_writable(t, "/Settings/TurnBalancingOff", 'i', 0, 1);
	if (r == 0 && bms_driver_supports(drv, BMS_CMD_SOC))
		r = publish_tree_add_writable(t, "/Settings/ResetSocTo", 'i', 0, 100);
	/* any non-zero applies (the Python driver's), and it reads 0 again */
	if (r == 0 && bms_driver_supports(drv, BMS_CMD_SOC))
		r = publish_tree_add_writable(t, "/Settings/ResetSocToApply", 'i', INT32_MIN,
					      INT32_MAX);
	if (r == 0)
		r = publish_tree_add(t, "/Settings/LastWriteError", 's', NULL);
	if (r == 0)
		r = publish_tree_add(t, "/Link/Writes", 'i', NULL);
	if (r == 0)
		r = publish_tree_add(t, "/Link/WriteErrors", 'i', NULL);
	return r;
}

void publish_paths_writes(struct publish_tree *t, bool charge_off, bool discharge_off,
			  bool balancing_off, int32_t soc_target, const char *error, uint32_t done,
			  uint32_t errors)
{
	publish_tree_set_int(t, "/Settings/ForceChargingOff", charge_off);
	publish_tree_set_int(t, "/Settings/ForceDischargingOff", discharge_off);
	publish_tree_set_int(t, "/Settings/TurnBalancingOff", balancing_off);
	publish_tree_set_int(t, "/Settings/ResetSocTo", soc_target);
	publish_tree_set_int(t, "/Settings/ResetSocToApply", 0);
	publish_tree_set_string(t, "/Settings/LastWriteError", error);
	publish_tree_set_int(t, "/Link/Writes", (int32_t)(done & 0x7fffffff));
	publish_tree_set_int(t, "/Link/WriteErrors", (int32_t)(errors & 0x7fffffff));
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
		r = publish_tree_add(t, p, 'i', NULL);
	}
	for (unsigned c = 1; r == 0 && c <= ncells && c <= BMS_MAX_CELLS; c++) {
		char p[PUBLISH_PATH_LEN];
		path_num(p, sizeof(p), "/Voltages/Cell", c);
		r = publish_tree_add(t, p, 'd', "%.3fV");
		path_num(p, sizeof(p), "/Balances/Cell", c);
		if (r == 0)
			r = publish_tree_add(t, p, 'i', NULL);
	}
	/* seconds as text, the Python driver's default form (TIME_TO_SOC_VALUE_TYPE 1) */
	for (unsigned k = 0; r == 0 && soc_points && k < soc_points->n; k++) {
		bool twice = false; /* a point listed twice is one path */
		for (unsigned j = 0; j < k; j++)
			twice = twice || soc_points->v[j] == soc_points->v[k];
		char p[PUBLISH_PATH_LEN];
		path_num(p, sizeof(p), "/TimeToSoC/", (unsigned)soc_points->v[k]);
		if (!twice)
			r = publish_tree_add(t, p, 's', NULL);
	}
	if (r == 0)
		r = publish_tree_add_writable(t, "/CustomName", 's', 0, 0);
	/* gui-v2's "Switch mode": 3 on, 252 standby (4 off is read-only there) */
	if (r == 0)
		r = publish_tree_add_writable(t, "/Mode", 'i', 3, 252);
	if (r == 0 && !aggregate)
		r = publish_tree_add_writable(t, "/History/Clear", 'i', 0, 7);
	if (r == 0 && aggregate)
		r = publish_tree_add_writable(t, "/Bank/Forget", 's', 0, 0);
	if (r == 0 && !aggregate)
		r = add_write_paths(t, drv);
	/* counters that move every poll: readable, but no signal of their own */
	static const char *const quiet[] = {"/Link/PollCycles",        "/Link/ChecksumErrors",
					    "/Link/Timeouts",          "/Link/ForeignFrames",
					    "/Link/ImplausibleCycles", "/Link/Writes",
					    "/Link/WriteErrors"};
	if (r == 0)
		publish_tree_seal(t); /* sorted: found from here on */
	for (size_t k = 0; r == 0 && !aggregate && k < sizeof(quiet) / sizeof(quiet[0]); k++)
		if (publish_tree_find(t, quiet[k])) /* the write counters: only with writes */
			r = publish_tree_set_quiet(t, quiet[k]);
	return r;
}

void publish_paths_fixed(struct publish_tree *t, const char *connection)
{
	publish_tree_set_string(t, "/Mgmt/ProcessName", "serialbatteryd");
	publish_tree_set_string(t, "/Mgmt/ProcessVersion", SB_VERSION);
	publish_tree_set_string(t, "/Mgmt/Connection", connection);
	publish_tree_set_int(t, "/ProductId", 0xBA77);
	publish_tree_set_int(t, "/History/CanBeCleared", 1);
	struct publish_item *clr = publish_tree_find(t, "/History/Clear");
	if (clr)
		publish_item_set_int(clr, 0);
	struct publish_item *forget = publish_tree_find(t, "/Bank/Forget");
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
	publish_tree_set_double_if(t, "/Info/MaxChargeVoltage", valid && res->cvl_valid,
				   limit_down(res->cvl_v));
	publish_tree_set_double_if(t, "/Info/MaxChargeCurrent", valid, limit_down(res->ccl_a));
	publish_tree_set_double_if(t, "/Info/MaxDischargeCurrent", valid, limit_down(res->dcl_a));
	publish_tree_set_double_if(t, "/Info/BatteryLowVoltage", valid,
				   round(res->battery_low_voltage_v * 100) / 100);
	publish_tree_set_string_if(t, "/Info/ChargeMode", valid, res->mode);
	publish_tree_set_string_if(t, "/Info/ChargeLimitation", valid, res->charge_limitation);
	publish_tree_set_string_if(t, "/Info/DischargeLimitation", valid,
				   res->discharge_limitation);
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
	publish_tree_set_double_if(
		t, "/Dc/0/Temperature", have,
		bms_dc_to_c((int64_t)round((double)st->temp_sum_dc / (n ? n : 1))));
	publish_tree_set_double_if(t, "/System/MinCellTemperature", have,
				   bms_dc_to_c(st->temp_min_dc));
	publish_tree_set_double_if(t, "/System/MaxCellTemperature", have,
				   bms_dc_to_c(st->temp_max_dc));
	/* the cell sensors as gui-v2 lists them; the MOSFET has its own path */
	path_num(id, sizeof(id), "Battery ", (unsigned)st->temp_min_idx + 1);
	publish_tree_set_string_if(t, "/System/MinTemperatureCellId", have, id);
	path_num(id, sizeof(id), "Battery ", (unsigned)st->temp_max_idx + 1);
	publish_tree_set_string_if(t, "/System/MaxTemperatureCellId", have, id);
	publish_tree_set_double_if(t, "/System/MOSTemperature",
				   ok && (s->valid & BMS_V_MOSFET_TEMP),
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
	publish_tree_set_int_if(t, "/Heating", online && (v & BMS_V_HEATING), s->heating ? 1 : 0);
	bool cur = online && (v & BMS_V_HEATER_CURRENT);
	publish_tree_set_double_if(t, "/Info/HeatingCurrent", cur,
				   bms_ma_to_a(s->heater_current_ma));
	/* the heater runs from the pack: its current at the pack voltage, to 0.1 W */
	publish_tree_set_double_if(
		t, "/Info/HeatingPower", cur && (v & BMS_V_VOLTAGE),
		round((double)s->heater_current_ma * (double)s->voltage_mv / 1e5) / 10.0);
	bool set = v & BMS_V_HEATER_SETTINGS;
	publish_tree_set_int_if(t, "/Io/AllowToHeat", set, s->heating_enabled ? 1 : 0);
	publish_tree_set_double_if(t, "/Info/HeatingTemperatureStart", set,
				   bms_dc_to_c(s->heating_start_dc));
	publish_tree_set_double_if(t, "/Info/HeatingTemperatureStop", set,
				   bms_dc_to_c(s->heating_stop_dc));
}

/* The ProtectionEvents names, in enum bms_prot order. */
static const char prot_paths[BMS_PROT_COUNT][48] = {
	"/Bms/ProtectionEvents/ShortCircuit",
	"/Bms/ProtectionEvents/ChargeOverCurrent",
	"/Bms/ProtectionEvents/DischargeOverCurrent",
	"/Bms/ProtectionEvents/CellOverVoltage",
	"/Bms/ProtectionEvents/CellUnderVoltage",
	"/Bms/ProtectionEvents/ChargeOverTemperature",
	"/Bms/ProtectionEvents/ChargeUnderTemperature",
	"/Bms/ProtectionEvents/DischargeOverTemperature",
	"/Bms/ProtectionEvents/DischargeUnderTemperature",
	"/Bms/ProtectionEvents/PackOverVoltage",
	"/Bms/ProtectionEvents/PackUnderVoltage",
};

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
		publish_tree_set_int_if(t, prot_paths[i], ok, e[i]);
	if (!ok)
		return; /* then the history counts our own alarms (history.c) */
	publish_tree_set_int(t, "/History/LowVoltageAlarms",
			     (int32_t)e[BMS_PROT_CELL_UV] + (int32_t)e[BMS_PROT_PACK_UV]);
	publish_tree_set_int(t, "/History/HighVoltageAlarms",
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
	publish_tree_set_string(t, "/ProductName", product);
	publish_tree_set_string_if(
		t, "/Serial", (s->valid & BMS_V_SERIAL) && s->serial[0] && !(f && f->date_serial),
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
	publish_tree_set_string(t, "/CustomName", def);
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

	publish_tree_set_string_if(t, "/FirmwareVersion", v & BMS_V_SW_VERSION, s->sw_version);
	/* Victron's devices give a number; a BMS's text (JK's "19A") is no number */
	char *end = NULL;
	long hw = (v & BMS_V_HW_VERSION) ? strtol(s->hw_version, &end, 10) : -1;
	bool hw_num = end && end != s->hw_version && !*end && hw >= 0 && hw <= INT32_MAX;
	publish_tree_set_int_if(t, "/HardwareVersion", hw_num, (int32_t)(hw_num ? hw : 0));
	publish_tree_set_string_if(t, "/Bms/HardwareVersion", v & BMS_V_HW_VERSION, s->hw_version);
	publish_tree_set_int(t, "/Connected", res->connected ? 1 : 0);
	publish_tree_set_int(t, "/State", publish_paths_state(res));
	publish_tree_set_int(t, "/Mode", publish_paths_mode(res));

	/* like dbus-serialbattery: once stale, the live measurements are withdrawn */
	publish_tree_set_double_if(t, "/Dc/0/Voltage", online && (v & BMS_V_VOLTAGE),
				   bms_mv_to_v(s->voltage_mv));
	publish_tree_set_double_if(t, "/Dc/0/Current", online && (v & BMS_V_CURRENT),
				   bms_ma_to_a(s->current_ma));
	double pw = 0;
	bool have_p = online && publish_snap_power(s, &pw);
	publish_tree_set_double_if(t, "/Dc/0/Power", have_p, pw);
	fill_temps(t, s, &res->stats, true);

	publish_tree_set_double_if(t, "/Soc", v & BMS_V_SOC, bms_cpct_to_pct(s->soc_cpct));
	publish_tree_set_double_if(t, "/Soh", v & BMS_V_SOH, bms_cpct_to_pct(s->soh_cpct));
	publish_tree_set_double_if(t, "/Capacity", v & BMS_V_CAP_REMAIN,
				   bms_mah_to_ah(s->capacity_remain_mah));
	int32_t installed = (v & BMS_V_CAP_FULL) ? s->capacity_full_mah : s->capacity_design_mah;
	bool have_inst = v & (BMS_V_CAP_FULL | BMS_V_CAP_DESIGN);
	publish_tree_set_double_if(t, "/InstalledCapacity", have_inst, bms_mah_to_ah(installed));
	bool have_cons = have_inst && (v & BMS_V_CAP_REMAIN);
	/* Victron monitors publish consumed Ah as a negative number */
	publish_tree_set_double_if(t, "/ConsumedAmphours", have_cons,
				   -bms_mah_to_ah((int64_t)installed - s->capacity_remain_mah));
	/* /TimeToGo and /TimeToSoC: the publisher's, from the averaged current (publish.c) */

	publish_paths_limits(t, res, info_paths);
	publish_tree_set_int(t, "/Io/AllowToCharge", res->allow_charge ? 1 : 0);
	publish_tree_set_int(t, "/Io/AllowToDischarge", res->allow_discharge ? 1 : 0);
	publish_tree_set_int_if(t, "/Io/AllowToBalance", v & BMS_V_BALANCER,
				s->balancer_enabled ? 1 : 0);
	publish_tree_set_int_if(t, "/Balancing", v & BMS_V_BALANCING, s->balancing ? 1 : 0);
	fill_heater(t, s, online);

	/* the cells charge/ computed the limits from: the same cells on the bus */
	const struct bms_stats *cs = &res->stats;
	bool cells = cs->cell_count > 0;
	char id[16];
	publish_tree_set_double_if(t, "/System/MinCellVoltage", cells,
				   bms_mv_to_v(cs->cell_min_mv));
	publish_tree_set_double_if(t, "/System/MaxCellVoltage", cells,
				   bms_mv_to_v(cs->cell_max_mv));
	path_num(id, sizeof(id), "C", cs->cell_min_idx + 1u);
	publish_tree_set_string_if(t, "/System/MinVoltageCellId", cells, id);
	path_num(id, sizeof(id), "C", cs->cell_max_idx + 1u);
	publish_tree_set_string_if(t, "/System/MaxVoltageCellId", cells, id);
	publish_tree_set_int_if(t, "/System/NrOfCellsPerBattery", v & BMS_V_CELLS, s->cell_count);
	publish_tree_set_int(t, "/System/NrOfModulesOnline", online ? 1 : 0);
	publish_tree_set_int(t, "/System/NrOfModulesOffline", online ? 0 : 1);
	publish_tree_set_int(t, "/System/NrOfModulesBlockingCharge", res->allow_charge ? 0 : 1);
	publish_tree_set_int(t, "/System/NrOfModulesBlockingDischarge",
			     res->allow_discharge ? 0 : 1);
	publish_tree_set_double_if(t, "/Voltages/Sum", cells, bms_mv_to_v(cs->cell_sum_mv));
	publish_tree_set_double_if(t, "/Voltages/Diff", cells,
				   bms_mv_to_v(cs->cell_max_mv - cs->cell_min_mv));
	for (unsigned c = 0; c < BMS_MAX_CELLS; c++) {
		char p[PUBLISH_PATH_LEN];
		path_num(p, sizeof(p), "/Voltages/Cell", c + 1);
		struct publish_item *it = publish_tree_find(t, p);
		if (!it)
			break;
		/* a cell that does not count for the statistics is no measurement */
		bool ok = bms_stats_cell_counts(s, c);
		if (ok)
			publish_item_set_double(it, bms_mv_to_v(s->cell_mv[c]));
		else
			publish_item_set_invalid(it);
		path_num(p, sizeof(p), "/Balances/Cell", c + 1);
		publish_tree_set_int_if(t, p, ok && (v & BMS_V_BALANCING),
					(s->balancing >> c) & 1u);
	}

	uint32_t known = publish_paths_alarm_mask(rec);
	for (int a = 0; a < BMS_ALARM_COUNT; a++) {
		char p[PUBLISH_PATH_LEN];
		path_cat(p, sizeof(p), "/Alarms/", bms_alarm_name((enum bms_alarm)a));
		publish_tree_set_int_if(t, p, (v & BMS_V_ALARMS) && (known >> a & 1u), s->alarm[a]);
	}
	publish_tree_set_int(t, "/Alarms/BmsCable", res->bms_cable_alarm);

	/*
	 * gui-v2's device pages. ErrorCode is the Victron device's own fault
	 * code: a BMS fault is an alarm above, so 0 while we hear the pack and
	 * unknown once it is lost. No settings page of ours in the GUI; the BMS's
	 * own name field is not read by any driver yet (/DeviceName invalid).
	 */
	publish_tree_set_int_if(t, "/ErrorCode", res->connected, 0);
	publish_tree_set_string(t, "/ConnectionInformation",
				!res->connected ? "Lost"
				: res->stale    ? "No data (stale)"
						: "Connected");
	/* the Python driver's: 1 where the pack has settings to write (the GUI's page) */
	publish_tree_set_int(t, "/Settings/HasSettings",
			     publish_tree_find(t, "/Settings/LastWriteError") != NULL);
	publish_tree_set_int(t, "/Settings/HasTemperature", (v & BMS_V_TEMPS) ? 1 : 0);
	publish_tree_set_int(t, "/Settings/HasStarterVoltage", 0); /* no BMS has a starter input */
	publish_tree_set_invalid(t, "/DeviceName");
	/* the first four cell sensors one by one, named as the Id paths name them */
	for (unsigned k = 0; k < 4; k++) {
		char p[PUBLISH_PATH_LEN], name[16];
		bool ok = (v & BMS_V_TEMPS) && k < s->temp_count;
		path_num(p, sizeof(p), "/System/Temperature", k + 1);
		publish_tree_set_double_if(t, p, ok, bms_dc_to_c(s->temp_dc[k]));
		strcat(p, "Name");
		path_num(name, sizeof(name), "Battery ", k + 1);
		publish_tree_set_string_if(t, p, ok, name);
	}

	publish_tree_set_string(t, "/Link/Protocol",
				rec->info.protocol[0] ? rec->info.protocol : "-");
	publish_tree_set_int(t, "/Link/ChecksumErrors",
			     (int32_t)(rec->info.frames_bad & 0x7fffffff));
	publish_tree_set_int(t, "/Link/Timeouts", (int32_t)(rec->info.timeouts & 0x7fffffff));
	publish_tree_set_int(t, "/Link/PollCycles", (int32_t)(rec->info.cycles_ok & 0x7fffffff));
	publish_tree_set_int(t, "/Link/ImplausibleCycles",
			     (int32_t)(rec->info.implausible & 0x7fffffff));
	publish_tree_set_int(t, "/Link/ForeignFrames",
			     (int32_t)(rec->info.frames_foreign & 0x7fffffff));
	fill_prot_events(t, s);
	publish_history_fill(t, h, s);
}
