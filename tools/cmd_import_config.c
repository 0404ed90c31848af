/* SPDX-License-Identifier: MIT */
/*
 * serialbattery import-config: translate a dbus-serialbattery config.ini into
 * our libconfig file, so an owner moving over keeps his limits.
 *
 * Why a table of translations and then our own loader: the generated text is
 * loaded with sb_config_schema (the same code as serialbatteryd
 * --check-config) before anything is written, so "a value ours would refuse"
 * means exactly what the daemon refuses; the loader's key is mapped back to
 * the ini line that produced it, so the owner is pointed at his own file.
 * Options without a counterpart become comments saying why.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bms/bms.h"
#include "config/schema.h"
#include "tools.h"

#define INI_MAX 256
#define PORTS_MAX 8

struct ini_entry {
	char key[64]; /* upper case, as the Python driver spells it */
	char value[512];
	int line;
	bool used;
};

struct ini {
	const char *path;
	struct ini_entry e[INI_MAX];
	unsigned n;
	char other_sections[256]; /* sections besides [DEFAULT], for a comment */
};

/* Which ini line produced which of our keys: to report refusals on the ini. */
struct origin {
	char ours[96];
	const struct ini_entry *from;
};

struct out {
	FILE *sec[4]; /* daemon, udev, serial, charge */
	char *buf[4];
	size_t len[4];
	FILE *notes;
	char *notes_buf;
	size_t notes_len;
	struct origin orig[INI_MAX];
	unsigned norig;
	const struct ini *ini;
	int failed; /* an ini value we could not read: reported already */
};

enum { S_DAEMON, S_UDEV, S_SERIAL, S_CHARGE };
static const char *const sec_names[] = {"daemon", "udev", "serial", "charge"};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* The Python driver reads with configparser: keys case-insensitive, later lines win. */
static int ini_read(const char *path, struct ini *ini)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		fprintf(stderr, "import-config: %s: %s\n", path, strerror(e));
		return -e;
	}
	ini->path = path;
	char line[1024];
	int lineno = 0, r = 0;
	bool in_default = true;
	struct ini_entry *last = NULL; /* for configparser's continuation lines */
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		bool indented = line[0] == ' ' || line[0] == '\t';
		char *s = trim(line);
		if (!*s) {
			last = NULL;
			continue;
		}
		if (*s == '#' || *s == ';')
			continue;
		if (indented && last) {
			/* configparser: an indented line continues the value above */
			size_t l = strlen(last->value);
			snprintf(last->value + l, sizeof(last->value) - l, " %s", s);
			continue;
		}
		last = NULL;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end) {
				fprintf(stderr, "%s:%d: section header without ']'\n", path,
					lineno);
				r = -EINVAL;
				break;
			}
			*end = '\0';
			in_default = strcasecmp(s + 1, "DEFAULT") == 0;
			if (!in_default) {
				size_t l = strlen(ini->other_sections);
				snprintf(ini->other_sections + l, sizeof(ini->other_sections) - l,
					 "%s[%s]", l ? ", " : "", s + 1);
			}
			continue;
		}
		if (!in_default)
			continue; /* the driver reads [DEFAULT] only */
		char *eq = strpbrk(s, "=:");
		if (!eq) {
			fprintf(stderr, "%s:%d: not 'KEY = value'\n", path, lineno);
			r = -EINVAL;
			break;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		struct ini_entry *e = NULL;
		for (unsigned i = 0; i < ini->n; i++)
			if (strcasecmp(ini->e[i].key, k) == 0)
				e = &ini->e[i];
		if (!e) {
			if (ini->n == INI_MAX) {
				fprintf(stderr, "%s:%d: too many options\n", path, lineno);
				r = -E2BIG;
				break;
			}
			e = &ini->e[ini->n++];
		}
		snprintf(e->key, sizeof(e->key), "%s", k);
		for (char *p = e->key; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		snprintf(e->value, sizeof(e->value), "%s", v);
		e->line = lineno;
		last = e;
	}
	fclose(f);
	return r;
}

static struct ini_entry *ini_get(const struct ini *ini, const char *key)
{
	for (unsigned i = 0; i < ini->n; i++)
		if (strcmp(ini->e[i].key, key) == 0)
			return (struct ini_entry *)&ini->e[i];
	return NULL;
}

static void bad(struct out *o, const struct ini_entry *e, const char *why)
{
	fprintf(stderr, "%s:%d: %s: %s\n", o->ini->path, e->line, e->key, why);
	o->failed = -EINVAL;
}

static void note_origin(struct out *o, int sec, const char *ours, const struct ini_entry *e)
{
	if (o->norig < INI_MAX) {
		struct origin *g = &o->orig[o->norig++];
		snprintf(g->ours, sizeof(g->ours), "%s.%s", sec_names[sec], ours);
		g->from = e;
	}
}

static bool parse_double(const char *s, double *ret)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *trim(end) || errno || !isfinite(v))
		return false;
	*ret = v;
	return true;
}

static bool parse_bool(const char *s, bool *ret)
{
	if (strcasecmp(s, "true") == 0)
		*ret = true;
	else if (strcasecmp(s, "false") == 0)
		*ret = false;
	else
		return false;
	return true;
}

static void emit_double(struct out *o, int sec, const char *ours, const struct ini_entry *e,
			double v)
{
	fprintf(o->sec[sec], "  %s = %.15g%s; # %s (line %d)\n", ours, v,
		floor(v) == v && fabs(v) < 1e15 ? ".0" : "", e->key, e->line);
	note_origin(o, sec, ours, e);
}

/* A comma-separated list of numbers as a libconfig list of doubles. */
static void emit_list(struct out *o, int sec, const char *ours, const struct ini_entry *e)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s", e->value);
	fprintf(o->sec[sec], "  %s = [", ours);
	unsigned n = 0;
	for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		double v;
		if (!parse_double(trim(t), &v)) {
			bad(o, e, "not a comma-separated list of numbers");
			return;
		}
		fprintf(o->sec[sec], "%s%.15g%s", n++ ? ", " : "", v,
			floor(v) == v && fabs(v) < 1e15 ? ".0" : "");
	}
	fprintf(o->sec[sec], "]; # %s (line %d)\n", e->key, e->line);
	note_origin(o, sec, ours, e);
}

/* Plain translations: same meaning, same unit (times scale). */
enum kind { K_DOUBLE, K_BOOL, K_LIST };
static const struct {
	const char *ini, *ours;
	enum kind kind;
	double scale;
	bool empty_is_zero; /* the Python driver reads an empty value as 0 = off */
} plain[] = {
	{"MAX_BATTERY_CHARGE_CURRENT", "max_charge_current", K_DOUBLE, 1, false},
	{"MAX_BATTERY_DISCHARGE_CURRENT", "max_discharge_current", K_DOUBLE, 1, false},
	{"MIN_CELL_VOLTAGE", "min_cell_voltage", K_DOUBLE, 1, false},
	{"MAX_CELL_VOLTAGE", "max_cell_voltage", K_DOUBLE, 1, false},
	{"FLOAT_CELL_VOLTAGE", "float_cell_voltage", K_DOUBLE, 1, false},
	{"SOC_RESET_CELL_VOLTAGE", "soc_reset_cell_voltage", K_DOUBLE, 1, false},
	{"SOC_RESET_AFTER_DAYS", "soc_reset_after_days", K_DOUBLE, 1, true},
	{"BLOCK_ON_DISCONNECT_VOLTAGE_MIN", "discharge_hold_min_cell", K_DOUBLE, 1, false},
	{"BLOCK_ON_DISCONNECT_VOLTAGE_MAX", "discharge_hold_max_cell", K_DOUBLE, 1, false},
	{"CVL_RECOVERY_HOLD_SEC", "cvl_recovery_hold", K_DOUBLE, 1, false},
	{"CVL_RECOVERY_RATE_V_PER_SEC", "cvl_recovery_rate", K_DOUBLE, 1, false},
	{"CVCM_ENABLE", "cvl_control", K_BOOL, 1, false},
	{"SWITCH_TO_FLOAT_WAIT_FOR_SEC", "absorption_time", K_DOUBLE, 1, false},
	{"SWITCH_TO_FLOAT_CELL_VOLTAGE_DIFF", "float_cell_diff", K_DOUBLE, 1, false},
	{"SWITCH_TO_FLOAT_CELL_VOLTAGE_DEVIATION", "float_cell_diff_margin", K_DOUBLE, 1, false},
	{"SWITCH_TO_BULK_SOC_THRESHOLD", "bulk_soc", K_DOUBLE, 1, false},
	{"SWITCH_TO_BULK_CELL_VOLTAGE_DIFF", "bulk_cell_diff", K_DOUBLE, 1, false},
	{"CCCM_CV_ENABLE", "ccl_cell_voltage_enable", K_BOOL, 1, false},
	{"DCCM_CV_ENABLE", "dcl_cell_voltage_enable", K_BOOL, 1, false},
	{"CELL_VOLTAGES_WHILE_CHARGING", "ccl_cell_voltages", K_LIST, 1, false},
	{"MAX_CHARGE_CURRENT_CV_FRACTION", "ccl_cell_voltage_fractions", K_LIST, 1, false},
	{"CELL_VOLTAGES_WHILE_DISCHARGING", "dcl_cell_voltages", K_LIST, 1, false},
	{"MAX_DISCHARGE_CURRENT_CV_FRACTION", "dcl_cell_voltage_fractions", K_LIST, 1, false},
	{"CCCM_T_ENABLE", "ccl_temperature_enable", K_BOOL, 1, false},
	{"DCCM_T_ENABLE", "dcl_temperature_enable", K_BOOL, 1, false},
	{"TEMPERATURES_WHILE_CHARGING", "ccl_temperatures", K_LIST, 1, false},
	{"MAX_CHARGE_CURRENT_T_FRACTION", "ccl_temperature_fractions", K_LIST, 1, false},
	{"TEMPERATURES_WHILE_DISCHARGING", "dcl_temperatures", K_LIST, 1, false},
	{"MAX_DISCHARGE_CURRENT_T_FRACTION", "dcl_temperature_fractions", K_LIST, 1, false},
	{"CCCM_T_MOSFET_ENABLE", "ccl_mosfet_temperature_enable", K_BOOL, 1, false},
	{"DCCM_T_MOSFET_ENABLE", "dcl_mosfet_temperature_enable", K_BOOL, 1, false},
	{"MOSFET_TEMPERATURES_WHILE_CHARGING", "ccl_mosfet_temperatures", K_LIST, 1, false},
	{"MAX_CHARGE_CURRENT_T_MOSFET_FRACTION", "ccl_mosfet_temperature_fractions", K_LIST, 1,
	 false},
	{"MOSFET_TEMPERATURES_WHILE_DISCHARGING", "dcl_mosfet_temperatures", K_LIST, 1, false},
	{"MAX_DISCHARGE_CURRENT_T_MOSFET_FRACTION", "dcl_mosfet_temperature_fractions", K_LIST, 1,
	 false},
	{"CCCM_SOC_ENABLE", "ccl_soc_enable", K_BOOL, 1, false},
	{"DCCM_SOC_ENABLE", "dcl_soc_enable", K_BOOL, 1, false},
	{"SOC_WHILE_CHARGING", "ccl_socs", K_LIST, 1, false},
	{"MAX_CHARGE_CURRENT_SOC_FRACTION", "ccl_soc_fractions", K_LIST, 1, false},
	{"SOC_WHILE_DISCHARGING", "dcl_socs", K_LIST, 1, false},
	{"MAX_DISCHARGE_CURRENT_SOC_FRACTION", "dcl_soc_fractions", K_LIST, 1, false},
	{"CHARGE_CURRENT_RECOVERY_THRESHOLD_PERCENT", "ccl_recovery_threshold", K_DOUBLE, 1, false},
	{"DISCHARGE_CURRENT_RECOVERY_THRESHOLD_PERCENT", "dcl_recovery_threshold", K_DOUBLE, 1,
	 false},
	{"CCL_RECOVERY_HOLD_SEC", "ccl_recovery_hold", K_DOUBLE, 1, false},
	{"CCL_RECOVERY_RATE_A_PER_SEC", "ccl_recovery_rate", K_DOUBLE, 1, false},
	{"DCL_RECOVERY_HOLD_SEC", "dcl_recovery_hold", K_DOUBLE, 1, false},
	{"DCL_RECOVERY_RATE_A_PER_SEC", "dcl_recovery_rate", K_DOUBLE, 1, false},
	{"VOLTAGE_DROP", "voltage_drop", K_DOUBLE, 1, false},
};

/* Options with no counterpart, and why: written as comments. */
static const struct {
	const char *ini, *why;
} unsupported[] = {
	{"BMS_CABLE_ALARM", "always published: /Alarms/BmsCable follows charge.stale_after"},
	{"SOC_CALCULATION",
	 "handled differently: per pack, charge.soc entry with soc_source = \"coulomb\" "
	 "(set by hand, docs/SOC.md)"},
	{"CURRENT_REPORTED_BY_BMS",
	 "handled differently: charge.soc[].current_reported, only for counting (set by hand)"},
	{"CURRENT_MEASURED_BY_USER",
	 "handled differently: charge.soc[].current_actual, only for counting (set by hand)"},
	{"BLUETOOTH_BMS", "not supported: serial BMSes only"},
	{"BLUETOOTH_USE_POLLING", "not supported: serial BMSes only"},
	{"BLUETOOTH_FORCE_RESET_BLE_STACK", "not supported: serial BMSes only"},
	{"BLUETOOTH_USE_USB", "not supported: serial BMSes only"},
	{"CAN_PORT", "not supported: serial BMSes only"},
	{"SERIAL_STARTER_ENABLED",
	 "handled differently: serialbatteryd claims ports through udev (udev.* keys)"},
	{"EXTERNAL_SENSOR_DBUS_DEVICE",
	 "not imported: name the service in publish.external_source by hand"},
	{"EXTERNAL_SENSOR_DBUS_PATH_CURRENT",
	 "handled differently: publish.external_source reads /Dc/0/Current"},
	{"EXTERNAL_SENSOR_DBUS_PATH_SOC",
	 "handled differently: publish.external_source reads /Soc"},
	{"CVL_RECALCULATION_EVERY",
	 "handled differently: limits are recomputed every publish.interval_ms, changes are "
	 "smoothed by the *_recovery_* keys"},
	{"CVL_RECALCULATION_ON_MAX_PERCENTAGE_CHANGE",
	 "handled differently: reductions apply at once, rises follow the *_recovery_* keys"},
	{"CVL_ICONTROLLER_FACTOR", "not supported: no I-controller (charge.cvl_controller)"},
	{"TIME_TO_GO_ENABLE", "handled differently: /TimeToGo is always computed"},
	{"TIME_TO_SOC_POINTS",
	 "not imported: list the points in publish.time_to_soc_points by hand"},
	{"TIME_TO_SOC_VALUE_TYPE", "handled differently: /TimeToSoC/<p> is seconds as text (1)"},
	{"TIME_TO_SOC_RECALCULATE_EVERY",
	 "handled differently: the times follow the averaged current at every poll"},
	{"TIME_TO_SOC_INC_FROM", "not supported: a point the current runs away from is invalid"},
	{"HISTORY_ENABLE", "handled differently: history is always kept"},
	{"PUBLISH_CONFIG_VALUES", "not supported: no /Info/Config paths"},
	{"PUBLISH_BATTERY_DATA_AS_JSON",
	 "handled differently: 'serialbattery status' and 'decode' print JSON"},
	{"BATTERY_CELL_DATA_FORMAT", "handled differently: cell paths are always published"},
	{"MIDPOINT_ENABLE", "not supported: no simulated midpoint"},
	{"TEMPERATURE_SOURCE_BATTERY", "handled differently: every sensor the BMS reports is used"},
	{"TEMPERATURE_1_NAME", "not supported: sensor names come from the driver"},
	{"TEMPERATURE_2_NAME", "not supported: sensor names come from the driver"},
	{"TEMPERATURE_3_NAME", "not supported: sensor names come from the driver"},
	{"TEMPERATURE_4_NAME", "not supported: sensor names come from the driver"},
	{"TEMPERATURE_1_ADJUST", "not supported: temperatures are published as the BMS reads them"},
	{"TEMPERATURE_2_ADJUST", "not supported: temperatures are published as the BMS reads them"},
	{"TEMPERATURE_3_ADJUST", "not supported: temperatures are published as the BMS reads them"},
	{"TEMPERATURE_4_ADJUST", "not supported: temperatures are published as the BMS reads them"},
	{"TEMPERATURE_MOS_ADJUST",
	 "not supported: temperatures are published as the BMS reads them"},
	{"GUI_PARAMETERS_SHOW_ADDITIONAL_INFO", "not supported: no ChargeModeDebug paths"},
	{"GUI_INSTALL_CUSTOMIZATIONS", "not supported: uses Victron's stock battery pages"},
	{"TELEMETRY", "not supported: serialbatteryd sends nothing anywhere"},
	{"USE_PORT_AS_UNIQUE_ID",
	 "handled differently: identity is the BMS serial, else adapter + address"},
	{"BATTERY_CAPACITY",
	 "handled differently: charge.soc[].capacity, for counting when the BMS reports none "
	 "(set by hand)"},
	{"AUTO_RESET_SOC",
	 "handled differently: charge.soc[].write_back, after the daemon's own full reset (set "
	 "by hand)"},
	{"USE_BMS_DVCC_VALUES",
	 "handled differently: charge.use_bms_current_limits obeys the BMS's current limits; "
	 "voltages always come from charge.*"},
	{"SOC_LOW_WARNING", "not supported: low-SOC alarms come from the BMS"},
	{"SOC_LOW_ALARM", "not supported: low-SOC alarms come from the BMS"},
	{"UP16S_REQUIRE_DIRECT_CONNECTION",
	 "not supported: the jbd_up16s driver polls one address"},
	{"INVERT_CURRENT_MEASUREMENT", "not supported: the daly driver knows the current's sign"},
	{"GREENMETER_ADDRESS",
	 "handled differently: the ecs driver asks the GreenMeter at the port's addresses "
	 "(default 1; set by hand)"},
	{"LIPRO_START_ADDRESS", "not supported: the ecs driver reads no LiPro cell modules"},
	{"LIPRO_END_ADDRESS", "not supported: the ecs driver reads no LiPro cell modules"},
	{"LIPRO_CELL_COUNT", "not supported: the ecs driver reads no LiPro cell modules"},
	{"UBMS_CAN_MODULE_SERIES", "not supported: no Valence driver"},
	{"UBMS_CAN_MODULE_PARALLEL", "not supported: no Valence driver"},
	{"MQTT_TOPIC", "not supported: no MQTT input"},
	{"MQTT_BROKER_ADDRESS", "not supported: no MQTT input"},
	{"MQTT_BROKER_PORT", "not supported: no MQTT input"},
	{"MQTT_TLS_ENABLED", "not supported: no MQTT input"},
	{"MQTT_TLS_PATH_TO_CA", "not supported: no MQTT input"},
	{"MQTT_TLS_INSECURE", "not supported: no MQTT input"},
	{"MQTT_USERNAME", "not supported: no MQTT input"},
	{"MQTT_PASSWORD", "not supported: no MQTT input"},
	{"BMS_CAPTURE_RAW_DATA", "handled differently: 'serialbattery decode' reads captures"},
	{"BMS_CAPTURE_RAW_DATA_MAX_SIZE_MB", "handled differently: no raw capture files"},
	{"BMS_CAPTURE_RAW_DATA_BACKUP_COUNT", "handled differently: no raw capture files"},
};

/* The Python driver's BMS class names and our drivers. */
static const struct {
	const char *py, *ours;
} bms_names[] = {
	{"Jkbms", "jk"},
	{"Jkbms_pb", "jkpb"},
	{"LltJbd", "jbd"},
	{"LltJbd_Up16s", "jbd_up16s"},
	{"Daly", "daly"},
	{"Pace", "pace"},
	{"Seplos", "seplos_v2"},
	{"Seplosv3", "seplos_v3"},
	{"ANT", "ant_legacy"},
	{"EG4_Lifepower", "eg4_lifepower"},
	{"Renogy", "renogy"},
	{"EG4_LL", "eg4_ll"},
	{"Daren485", "daren"},
	{"KS48100", "ks48100"},
	{"Felicity", "felicity"},
	{"HeltecModbus", "heltec"},
	{"Ecs", "ecs"},
	{"Sinowealth", "sinowealth"},
	{"HLPdataBMS4S", "hlpdata"},
};

static void note(struct out *o, const struct ini_entry *e, const char *why)
{
	fprintf(o->notes, "# %s = %s (line %d): %s\n", e->key, e->value, e->line, why);
}

static void translate_plain(struct out *o, struct ini *ini)
{
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		struct ini_entry *e = ini_get(ini, plain[i].ini);
		if (!e)
			continue;
		e->used = true;
		double v;
		bool b;
		switch (plain[i].kind) {
		case K_DOUBLE:
			if (!e->value[0] && plain[i].empty_is_zero)
				v = 0;
			else if (!parse_double(e->value, &v)) {
				bad(o, e, "not a number");
				break;
			}
			emit_double(o, S_CHARGE, plain[i].ours, e, v * plain[i].scale);
			break;
		case K_BOOL:
			if (!parse_bool(e->value, &b)) {
				bad(o, e, "not True or False");
				break;
			}
			fprintf(o->sec[S_CHARGE], "  %s = %s; # %s (line %d)\n", plain[i].ours,
				b ? "true" : "false", e->key, e->line);
			note_origin(o, S_CHARGE, plain[i].ours, e);
			break;
		case K_LIST:
			emit_list(o, S_CHARGE, plain[i].ours, e);
			break;
		}
	}
}

/* Options whose meaning or unit changes on the way. */
static void translate_special(struct out *o, struct ini *ini)
{
	struct ini_entry *e;
	double v;

	if ((e = ini_get(ini, "LOGGING"))) {
		static const char *const lv[][2] = {{"ERROR", "error"},
						    {"WARNING", "warn"},
						    {"INFO", "info"},
						    {"DEBUG", "debug"}};
		const char *ours = NULL;
		for (size_t i = 0; i < 4; i++)
			if (strcasecmp(e->value, lv[i][0]) == 0)
				ours = lv[i][1];
		e->used = true;
		if (!ours)
			bad(o, e, "not ERROR, WARNING, INFO or DEBUG");
		else {
			fprintf(o->sec[S_DAEMON], "  log_level = \"%s\"; # LOGGING (line %d)\n",
				ours, e->line);
			note_origin(o, S_DAEMON, "log_level", e);
		}
	}
	if ((e = ini_get(ini, "CHARGE_MODE"))) {
		e->used = true;
		if (!parse_double(e->value, &v) || (v != 1 && v != 2))
			bad(o, e, "must be 1 (linear) or 2 (step)");
		else {
			fprintf(o->sec[S_CHARGE],
				"  interpolation = \"%s\"; # CHARGE_MODE (line %d)\n",
				v == 1 ? "linear" : "step", e->line);
			note_origin(o, S_CHARGE, "interpolation", e);
		}
	}
	if ((e = ini_get(ini, "CVL_CONTROLLER_MODE"))) {
		e->used = true;
		if (!parse_double(e->value, &v) || (v != 0 && v != 1))
			bad(o, e,
			    "must be 0 (off) or 1 (penalty sum): serialbatteryd has no "
			    "I-controller "
			    "(2) or clipped sum (3)");
		else {
			fprintf(o->sec[S_CHARGE],
				"  cvl_controller = \"%s\"; # CVL_CONTROLLER_MODE (line %d)\n",
				v == 0 ? "off" : "penalty_sum", e->line);
			note_origin(o, S_CHARGE, "cvl_controller", e);
		}
	}
	/* BLOCK_ON_DISCONNECT=True ends discharge after the comms loss whatever the
	 * cells: our equivalent is no grace at all, which wins over the timeout. */
	struct ini_entry *block = ini_get(ini, "BLOCK_ON_DISCONNECT");
	struct ini_entry *tmo = ini_get(ini, "BLOCK_ON_DISCONNECT_TIMEOUT_MINUTES");
	bool blocking = false;
	if (block) {
		block->used = true;
		if (!parse_bool(block->value, &blocking))
			bad(o, block, "not True or False");
		else if (blocking)
			emit_double(o, S_CHARGE, "discharge_grace", block, 0);
	}
	if (tmo) {
		tmo->used = true;
		if (!parse_double(tmo->value, &v))
			bad(o, tmo, "not a number");
		else if (blocking)
			note(o, tmo, "ignored: BLOCK_ON_DISCONNECT = True sets discharge_grace 0");
		else
			emit_double(o, S_CHARGE, "discharge_grace", tmo, v * 60.0);
	}
	if ((e = ini_get(ini, "EXCLUDED_DEVICES"))) {
		e->used = true;
		if (e->value[0]) {
			char tmp[512];
			snprintf(tmp, sizeof(tmp), "%s", e->value);
			fprintf(o->sec[S_UDEV], "  exclude = [");
			unsigned n = 0;
			for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				t = trim(t);
				if (!*t)
					continue;
				if (strpbrk(t, "\"\\")) {
					bad(o, e, "a device name with a quote or backslash");
					return;
				}
				/* the Python driver names ttys with or without /dev/ */
				fprintf(o->sec[S_UDEV], "%s\"%s%s\"", n++ ? ", " : "",
					t[0] == '/' ? "" : "/dev/", t);
			}
			fprintf(o->sec[S_UDEV], "]; # EXCLUDED_DEVICES (line %d)\n", e->line);
			note_origin(o, S_UDEV, "exclude", e);
		}
	}
}

/*
 * BMS_TYPE, BATTERY_ADDRESSES and POLL_INTERVAL apply to every port the
 * Python driver runs on; ours are per port (serial.ports), so they become one
 * entry per --port given, or a commented template when none is.
 */
static void translate_ports(struct out *o, struct ini *ini, char ports[][CFG_STR], unsigned nports)
{
	struct ini_entry *bt = ini_get(ini, "BMS_TYPE"), *ad = ini_get(ini, "BATTERY_ADDRESSES"),
			 *pi = ini_get(ini, "POLL_INTERVAL");
	char fields[1024] = "";
	size_t fl = 0;
	if (bt) {
		bt->used = true;
		char tmp[512], one[32] = "";
		unsigned n = 0;
		snprintf(tmp, sizeof(tmp), "%s", bt->value);
		for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			t = trim(t);
			if (!*t)
				continue;
			const char *ours = NULL;
			for (size_t i = 0; i < sizeof(bms_names) / sizeof(bms_names[0]); i++)
				if (strcasecmp(t, bms_names[i].py) == 0)
					ours = bms_names[i].ours;
			if (!ours) {
				char why[160];
				snprintf(why, sizeof(why),
					 "'%s' has no driver in serialbatteryd (jk, jkpb, jbd, "
					 "jbd_up16s, daly)",
					 t);
				bad(o, bt, why);
				return;
			}
			snprintf(one, sizeof(one), "%s", ours);
			n++;
		}
		if (n == 1)
			fl += (size_t)snprintf(fields + fl, sizeof(fields) - fl,
					       " bms = \"%s\"; /* BMS_TYPE (line %d) */", one,
					       bt->line);
		else if (n > 1)
			note(o, bt,
			     "several types: serialbatteryd autodetects among all its drivers");
	}
	if (ad && ad->value[0]) {
		ad->used = true;
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s", ad->value);
		fl += (size_t)snprintf(fields + fl, sizeof(fields) - fl, " addresses = [");
		unsigned n = 0;
		for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			t = trim(t);
			char *end;
			errno = 0;
			long a = strtol(t, &end, 0); /* "0x01" as the Python driver writes them */
			if (end == t || *end || errno || a < 0 || a > 255) {
				bad(o, ad, "not a list of addresses 0..255 (e.g. 0x01, 0x02)");
				return;
			}
			fl += (size_t)snprintf(fields + fl, sizeof(fields) - fl, "%s%ld",
					       n++ ? ", " : "", a);
		}
		fl += (size_t)snprintf(fields + fl, sizeof(fields) - fl,
				       "]; /* BATTERY_ADDRESSES (line %d) */", ad->line);
	} else if (ad) {
		ad->used = true;
	}
	if (pi && pi->value[0]) {
		pi->used = true;
		double v;
		if (!parse_double(pi->value, &v)) {
			bad(o, pi, "not a number");
			return;
		}
		fl += (size_t)snprintf(fields + fl, sizeof(fields) - fl,
				       " poll_interval = %.15g%s; /* POLL_INTERVAL (line %d) */", v,
				       floor(v) == v && fabs(v) < 1e15 ? ".0" : "", pi->line);
	} else if (pi) {
		pi->used = true;
	}
	if (fl >= sizeof(fields)) {
		bad(o, bt ? bt : ad ? ad : pi, "too long");
		return;
	}
	if (!fields[0])
		return;
	if (!nports) {
		fprintf(o->notes,
			"# The port settings below apply to every port in the Python driver; ours\n"
			"# are per port. Give 'import-config --port /dev/ttyUSB0' (or copy this\n"
			"# entry into serial.ports with your port's path):\n"
			"#   { path = \"/dev/ttyUSB0\";%s }\n",
			fields);
		return;
	}
	fprintf(o->sec[S_SERIAL], "  ports = (\n");
	for (unsigned i = 0; i < nports; i++) {
		fprintf(o->sec[S_SERIAL], "    { path = \"%s\";%s }%s\n", ports[i], fields,
			i + 1 < nports ? "," : "");
		/* a refused value names ports[i].<key>: map every port back */
		static const struct {
			const char *k;
			int which;
		} keys[] = {{"bms", 0}, {"addresses", 1}, {"poll_interval", 2}};
		for (size_t k = 0; k < 3; k++) {
			const struct ini_entry *src = keys[k].which == 0   ? bt
						      : keys[k].which == 1 ? ad
									   : pi;
			if (!src)
				continue;
			char ours[64];
			snprintf(ours, sizeof(ours), "ports[%u].%s", i, keys[k].k);
			note_origin(o, S_SERIAL, ours, src);
		}
	}
	fprintf(o->sec[S_SERIAL], "  );\n");
}

static void usage(FILE *f)
{
	fputs("usage: serialbattery import-config [-o OUT] [--port DEV]... CONFIG.INI\n"
	      "\n"
	      "Translate a dbus-serialbattery config.ini into a serialbatteryd config file.\n"
	      "Options with a counterpart are translated, the others become comments saying\n"
	      "why. The result is checked with the daemon's own loader before anything is\n"
	      "written; a value serialbatteryd would refuse is reported as INI:LINE: KEY and\n"
	      "nothing is written (exit status 2).\n"
	      "\n"
	      "  -o, --output FILE  write there (atomically) instead of to stdout\n"
	      "  -p, --port DEV     a serial port the Python driver ran on: BMS_TYPE,\n"
	      "                     BATTERY_ADDRESSES and POLL_INTERVAL become its\n"
	      "                     serial.ports entry (repeat for several ports)\n",
	      f);
}

/* Write text to path through a temporary file and rename: never half a file. */
static int write_atomic(const char *path, const char *text, size_t len)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = 0;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

int cmd_import_config(int argc, char **argv)
{
	static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
					     {"port", required_argument, NULL, 'p'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *outpath = NULL;
	static char ports[PORTS_MAX][CFG_STR];
	unsigned nports = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			outpath = optarg;
			break;
		case 'p':
			if (nports == PORTS_MAX || strlen(optarg) >= CFG_STR ||
			    strpbrk(optarg, "\"\\")) {
				fprintf(stderr,
					"import-config: too many, too long or quoted --port\n");
				return 2;
			}
			snprintf(ports[nports++], CFG_STR, "%s", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *inpath = argv[optind];

	struct ini *ini = calloc(1, sizeof(*ini));
	struct out *o = calloc(1, sizeof(*o));
	struct sb_config *check = calloc(1, sizeof(*check));
	char *text = NULL;
	size_t textlen = 0;
	int ret = 2;
	if (!ini || !o || !check) {
		fprintf(stderr, "import-config: out of memory\n");
		goto out;
	}
	if (ini_read(inpath, ini) < 0)
		goto out;
	o->ini = ini;
	for (int i = 0; i < 4; i++)
		o->sec[i] = open_memstream(&o->buf[i], &o->len[i]);
	o->notes = open_memstream(&o->notes_buf, &o->notes_len);
	bool streams = o->notes != NULL;
	for (int i = 0; i < 4; i++)
		streams = streams && o->sec[i];
	if (!streams) {
		for (int i = 0; i < 4; i++)
			if (o->sec[i])
				fclose(o->sec[i]);
		if (o->notes)
			fclose(o->notes);
		fprintf(stderr, "import-config: out of memory\n");
		goto out;
	}

	translate_special(o, ini);
	translate_plain(o, ini);
	translate_ports(o, ini, ports, nports);
	for (unsigned i = 0; i < ini->n; i++) {
		struct ini_entry *e = &ini->e[i];
		if (e->used)
			continue;
		const char *why = NULL;
		for (size_t k = 0; k < sizeof(unsupported) / sizeof(unsupported[0]); k++)
			if (strcmp(e->key, unsupported[k].ini) == 0)
				why = unsupported[k].why;
		note(o, e,
		     why ? why : "unknown to dbus-serialbattery's documented options: ignored");
	}
	for (int i = 0; i < 4; i++)
		fclose(o->sec[i]);
	fclose(o->notes);
	if (o->failed)
		goto out;

	FILE *t = open_memstream(&text, &textlen);
	if (!t) {
		fprintf(stderr, "import-config: out of memory\n");
		goto out;
	}
	fprintf(t,
		"# serialbatteryd configuration, imported from %s by\n"
		"# 'serialbattery import-config'. Keys not set here take serialbatteryd's\n"
		"# defaults (docs/CONFIG.md); each value names the ini line it came from.\n",
		inpath);
	if (ini->other_sections[0])
		fprintf(t, "# Sections %s: ignored, the Python driver reads [DEFAULT] only.\n",
			ini->other_sections);
	for (int i = 0; i < 4; i++)
		if (o->len[i])
			fprintf(t, "\n%s:\n{\n%s};\n", sec_names[i], o->buf[i]);
	if (o->notes_len)
		fprintf(t, "\n# Options without a counterpart in serialbatteryd:\n%s",
			o->notes_buf);
	fclose(t);

	/* The daemon's own check: the same schema and loader as --check-config. */
	struct cfg_error err;
	if (cfg_load_string(&sb_config_schema, check, text, "(imported)", &err) < 0) {
		const struct ini_entry *from = NULL;
		for (unsigned i = 0; i < o->norig && !from; i++)
			if (strcmp(o->orig[i].ours, err.key) == 0)
				from = o->orig[i].from;
		/* A cross-key check may name a key the ini left at its default
		 * ("soc_reset_cell_voltage: must not be below max_cell_voltage"):
		 * then the ini line to change is the one the reason names. */
		for (unsigned i = 0; i < o->norig && !from; i++) {
			const char *dot = strchr(o->orig[i].ours, '.');
			const char *m = dot ? strstr(err.msg, dot + 1) : NULL;
			size_t l = dot ? strlen(dot + 1) : 0;
			if (m && (m[l] == '\0' || m[l] == ' ' || m[l] == ',' || m[l] == ')'))
				from = o->orig[i].from;
		}
		if (from)
			fprintf(stderr, "%s:%d: %s: serialbatteryd's %s: %s\n", inpath, from->line,
				from->key, err.key, err.msg);
		else
			fprintf(stderr, "%s: serialbatteryd's %s: %s\n", inpath, err.key, err.msg);
		goto out;
	}
	if (outpath) {
		int r = write_atomic(outpath, text, textlen);
		if (r < 0) {
			fprintf(stderr, "import-config: %s: %s\n", outpath, strerror(-r));
			goto out;
		}
	} else if (fwrite(text, 1, textlen, stdout) != textlen || fflush(stdout) != 0) {
		goto out;
	}
	ret = 0;
out:
	if (o) {
		for (int i = 0; i < 4; i++)
			free(o->buf[i]);
		free(o->notes_buf);
	}
	free(text);
	free(check);
	free(o);
	free(ini);
	return ret;
}
