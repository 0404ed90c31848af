/* SPDX-License-Identifier: MIT */
#include "publish/publish_config.h"

#include <stddef.h>

static const char *const bank_modes[] = {"auto", "on", "off", NULL};

#define OFF(m) offsetof(struct publish_config, m)

const struct cfg_key publish_cfg_keys[] = {
	{.path = "interval_ms",
	 .type = CFG_INT,
	 .offset = OFF(interval_ms),
	 .min = 100,
	 .max = 60000,
	 .def = "1000",
	 .doc = "Publish cycle in ms: ages, limits and the aggregate are recomputed this often; "
		"a pack's own values are sent as soon as its worker commits them."},
	{.path = "properties_changed",
	 .type = CFG_BOOL,
	 .offset = OFF(properties_changed),
	 .def = "false",
	 .doc = "Also send a per-path PropertiesChanged (Value and Text) besides the one "
		"ItemsChanged per cycle; only old third-party scripts need it."},
	{.path = "device_instance",
	 .type = CFG_INT,
	 .offset = OFF(device_instance),
	 .min = 0,
	 .max = 999,
	 .def = "512",
	 .doc = "Preferred VRM device instance claimed through com.victronenergy.settings "
		"(battery:<n>); without a settings service the lowest number from it that no "
		"other of our services uses."},
	{.path = "product_name",
	 .type = CFG_STRING,
	 .offset = OFF(product_name),
	 .def = "\"\"",
	 .doc = "/ProductName when the BMS reports no model; empty: the family, e.g. \"JBD BMS\"."},
	{.path = "gone_remove_after_s",
	 .type = CFG_INT,
	 .offset = OFF(gone_remove_after_s),
	 .min = 0,
	 .max = 3600,
	 .def = "60",
	 .doc = "When a port's worker ends, the battery stays on the bus with the comms-loss "
		"policy applied (stale, then lost) at most this long (s) before its service is "
		"removed."},
	{.path = "bank_mode",
	 .type = CFG_ENUM,
	 .offset = OFF(bank_mode),
	 .def = "\"auto\"",
	 .choices = bank_modes,
	 .doc = "Aggregate service com.victronenergy.battery.aggregate: auto (two or more bank "
		"packs), on (always), off (never)."},
	{.path = "bank_packs",
	 .type = CFG_STRING_LIST,
	 .offset = OFF(bank_packs),
	 .doc = "Packs forming the bank, by identity (store key) or tty name; empty or "
		"[\"all\"] = every battery."},
	{.path = "bank_startup_timeout_s",
	 .type = CFG_INT,
	 .offset = OFF(bank_startup_timeout_s),
	 .min = 0,
	 .max = 3600,
	 .def = "30",
	 .doc = "Upper bound (s) of the bank's start-up: it publishes no limits or SOC until every "
		"listed pack has reported once (with \"all\": until every port known at start has "
		"a detected pack or found nothing), or this long after start."},
	{.path = "aggregate_instance",
	 .type = CFG_INT,
	 .offset = OFF(aggregate_instance),
	 .min = 0,
	 .max = 999,
	 .def = "511",
	 .doc = "Preferred VRM device instance of the aggregate service (lower than the packs' "
		"so systemcalc's automatic battery monitor choice picks the bank)."},
	{.path = "bank_share_current",
	 .type = CFG_DOUBLE,
	 .offset = OFF(bank_share_current),
	 .min = 0.1,
	 .max = 1000,
	 .def = "5.0",
	 .doc = "Bank current (A) above which each pack's share of it (pack current / bank "
		"current) is measured; the bank CCL/DCL is the largest current at which no pack "
		"exceeds its own limit at its share. Below it the split is too noisy to use."},
	{.path = "bank_share_fall_time_s",
	 .type = CFG_INT,
	 .offset = OFF(bank_share_fall_time_s),
	 .min = 0,
	 .max = 86400,
	 .def = "120",
	 .doc = "Time constant (s) of a pack's measured share when it falls; a share that rises "
		"is taken at once, so the estimate errs towards the pack that takes more."},
	{.path = "keep_forced_switches",
	 .type = CFG_BOOL,
	 .offset = OFF(keep_forced_switches),
	 .def = "false",
	 .doc = "A switch the owner forced through /Settings/ForceChargingOff, "
		"ForceDischargingOff or TurnBalancingOff survives a daemon restart: it is sent "
		"again once the pack is detected. false: our own forces are undone after a restart "
		"(a FET the BMS switched off itself is never switched on). Kept in "
		"daemon.state_dir."},
	{.path = "current_avg_window_s",
	 .type = CFG_INT,
	 .offset = OFF(current_avg_window_s),
	 .min = 10,
	 .max = 3600,
	 .def = "300",
	 .doc = "/CurrentAvg is the mean current over this many seconds (the readings of the "
		"window, at most 3600 of them: a faster poll shortens a long window); /TimeToGo "
		"and /TimeToSoC are computed from it."},
	{.path = "time_to_go_soc",
	 .type = CFG_DOUBLE,
	 .offset = OFF(time_to_go_soc),
	 .min = 0,
	 .max = 100,
	 .def = "20.0",
	 .doc = "SOC (%) /TimeToGo counts down to while com.victronenergy.settings gives no ESS "
		"minimum SOC (/Settings/CGwacs/BatteryLife/MinimumSocLimit, which wins when "
		"present); 20 is the Python driver's SOC_LOW_WARNING."},
	{.path = "time_to_soc_points",
	 .type = CFG_INT_LIST,
	 .offset = OFF(time_to_soc_points),
	 .min = 0,
	 .max = 100,
	 .doc = "SOC points (%), e.g. [100, 50, 20]: each gets a /TimeToSoC/<p> path, the "
		"seconds (as text, the Python driver's form) until the averaged current reaches "
		"it; invalid when the current runs away from it. Empty: none."},
	{.path = "external_source",
	 .type = CFG_STRING,
	 .offset = OFF(external_source),
	 .def = "\"\"",
	 .doc = "Another battery monitor's D-Bus service (e.g. "
		"\"com.victronenergy.battery.ttyS5\", a SmartShunt) whose /Dc/0/Current and /Soc "
		"replace the BMS's on the bank, or on the only pack when there is no bank; the "
		"BMS's values are used while it is absent or its values are implausible. One of "
		"our own services is refused. For one pack of several, use that pack's "
		"charge.soc soc_source \"service:...\" instead (the same service if both are "
		"set). Empty: none."},
	{.path = "deadband_cell_voltage",
	 .type = CFG_DOUBLE,
	 .offset = OFF(deadband_cell_voltage),
	 .min = 0,
	 .max = 0.1,
	 .def = "0.0",
	 .doc = "Deadband (V) of the cell voltages on the bus (/Voltages/Cell<n>, "
		"/System/MinCellVoltage, /System/MaxCellVoltage, /Voltages/Diff): a published "
		"value stays until the new reading differs from it by at least this much, so a "
		"cell flickering by 1 mV at rest sends nothing (0.002: changes under 2 mV are not "
		"sent). Only what the bus shows: limits, alarms and history use every reading. 0: "
		"off, every change is sent."},
	{.path = "deadband_voltage",
	 .type = CFG_DOUBLE,
	 .offset = OFF(deadband_voltage),
	 .min = 0,
	 .max = 1,
	 .def = "0.0",
	 .doc = "Deadband (V) of /Dc/0/Voltage and /Voltages/Sum, as deadband_cell_voltage. 0: "
		"off."},
	{.path = "deadband_current",
	 .type = CFG_DOUBLE,
	 .offset = OFF(deadband_current),
	 .min = 0,
	 .max = 10,
	 .def = "0.0",
	 .doc = "Deadband (A) of /Dc/0/Current, as deadband_cell_voltage. 0: off."},
	{.path = "deadband_temperature",
	 .type = CFG_DOUBLE,
	 .offset = OFF(deadband_temperature),
	 .min = 0,
	 .max = 10,
	 .def = "0.0",
	 .doc = "Deadband (degrees C) of the temperature paths (/Dc/0/Temperature, "
		"/System/Temperature<n>, /System/MOSTemperature, /System/Min/MaxCellTemperature), "
		"as deadband_cell_voltage. 0: off. No deadband ever applies to the limits "
		"(/Info), alarms or /Io paths."},
	{NULL},
};
