/* SPDX-License-Identifier: MIT */
/*
 * serialbattery import-config on real files in a temporary directory: the
 * output is loaded with sb_config_load (the loader behind serialbatteryd
 * --check-config) and every translated value compared with the ini's.
 *
 * The ini inputs are written here from the facts of dbus-serialbattery's
 * config.default.ini (its option names and default values, as listed in
 * shared/reference/dbus-serialbattery-behaviour.md section 9), not copied.
 */
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/schema.h"
#include "tests/support/cunit_main.h"
#include "tools/tools.h"

static char dir[64];

enum vtype { V_DOUBLE, V_BOOL, V_LIST, V_ENUM };

/* One translated option: its ini text and where its value lands in ours. */
struct tr {
	const char *ini, *text; /* ini key and value as the Python default file has them */
	const char *ours;       /* our path in the output */
	enum vtype type;
	size_t off; /* in struct sb_config */
	double want[8];
	unsigned n; /* list length; for V_ENUM the index, for V_BOOL 0/1 in want[0] */
};

#define C(f) offsetof(struct sb_config, f)
static const struct tr defaults[] = {
	{"LOGGING", "INFO", "daemon.log_level", V_ENUM, C(daemon.log_level), {0}, 2},
	{"MAX_BATTERY_CHARGE_CURRENT",
	 "50.0",
	 "charge.max_charge_current",
	 V_DOUBLE,
	 C(charge.max_charge_current),
	 {50},
	 0},
	{"MAX_BATTERY_DISCHARGE_CURRENT",
	 "60.0",
	 "charge.max_discharge_current",
	 V_DOUBLE,
	 C(charge.max_discharge_current),
	 {60},
	 0},
	{"MIN_CELL_VOLTAGE",
	 "2.900",
	 "charge.min_cell_voltage",
	 V_DOUBLE,
	 C(charge.min_cell_voltage),
	 {2.9},
	 0},
	{"MAX_CELL_VOLTAGE",
	 "3.450",
	 "charge.max_cell_voltage",
	 V_DOUBLE,
	 C(charge.max_cell_voltage),
	 {3.45},
	 0},
	{"FLOAT_CELL_VOLTAGE",
	 "3.375",
	 "charge.float_cell_voltage",
	 V_DOUBLE,
	 C(charge.float_cell_voltage),
	 {3.375},
	 0},
	{"SOC_RESET_CELL_VOLTAGE",
	 "3.650",
	 "charge.soc_reset_cell_voltage",
	 V_DOUBLE,
	 C(charge.soc_reset_cell_voltage),
	 {3.65},
	 0},
	{"SOC_RESET_AFTER_DAYS",
	 "",
	 "charge.soc_reset_after_days",
	 V_DOUBLE,
	 C(charge.soc_reset_after_days),
	 {0},
	 0},
	{"BLOCK_ON_DISCONNECT", "False", NULL, V_BOOL, 0, {0}, 0},
	{"BLOCK_ON_DISCONNECT_TIMEOUT_MINUTES",
	 "30",
	 "charge.discharge_grace",
	 V_DOUBLE,
	 C(charge.discharge_grace),
	 {1800},
	 0},
	{"BLOCK_ON_DISCONNECT_VOLTAGE_MIN",
	 "3.225",
	 "charge.discharge_hold_min_cell",
	 V_DOUBLE,
	 C(charge.discharge_hold_min_cell),
	 {3.225},
	 0},
	{"BLOCK_ON_DISCONNECT_VOLTAGE_MAX",
	 "3.375",
	 "charge.discharge_hold_max_cell",
	 V_DOUBLE,
	 C(charge.discharge_hold_max_cell),
	 {3.375},
	 0},
	{"CHARGE_MODE", "1", "charge.interpolation", V_ENUM, C(charge.interpolation), {0}, 0},
	{"CVL_RECOVERY_HOLD_SEC",
	 "60",
	 "charge.cvl_recovery_hold",
	 V_DOUBLE,
	 C(charge.cvl_recovery_hold),
	 {60},
	 0},
	{"CVL_RECOVERY_RATE_V_PER_SEC",
	 "0.001",
	 "charge.cvl_recovery_rate",
	 V_DOUBLE,
	 C(charge.cvl_recovery_rate),
	 {0.001},
	 0},
	{"CVCM_ENABLE", "True", "charge.cvl_control", V_BOOL, C(charge.cvl_control), {1}, 0},
	{"SWITCH_TO_FLOAT_WAIT_FOR_SEC",
	 "900",
	 "charge.absorption_time",
	 V_DOUBLE,
	 C(charge.absorption_time),
	 {900},
	 0},
	{"SWITCH_TO_FLOAT_CELL_VOLTAGE_DIFF",
	 "0.010",
	 "charge.float_cell_diff",
	 V_DOUBLE,
	 C(charge.float_cell_diff),
	 {0.01},
	 0},
	{"SWITCH_TO_FLOAT_CELL_VOLTAGE_DEVIATION",
	 "0.003",
	 "charge.float_cell_diff_margin",
	 V_DOUBLE,
	 C(charge.float_cell_diff_margin),
	 {0.003},
	 0},
	{"SWITCH_TO_BULK_SOC_THRESHOLD",
	 "80",
	 "charge.bulk_soc",
	 V_DOUBLE,
	 C(charge.bulk_soc),
	 {80},
	 0},
	{"SWITCH_TO_BULK_CELL_VOLTAGE_DIFF",
	 "0.080",
	 "charge.bulk_cell_diff",
	 V_DOUBLE,
	 C(charge.bulk_cell_diff),
	 {0.08},
	 0},
	{"CVL_CONTROLLER_MODE",
	 "1",
	 "charge.cvl_controller",
	 V_ENUM,
	 C(charge.cvl_controller),
	 {0},
	 1},
	{"CCCM_CV_ENABLE",
	 "True",
	 "charge.ccl_cell_voltage_enable",
	 V_BOOL,
	 C(charge.ccl_cell_voltage_enable),
	 {1},
	 0},
	{"DCCM_CV_ENABLE",
	 "True",
	 "charge.dcl_cell_voltage_enable",
	 V_BOOL,
	 C(charge.dcl_cell_voltage_enable),
	 {1},
	 0},
	{"CELL_VOLTAGES_WHILE_CHARGING",
	 "3.500, 3.450, 3.425, 3.400, 3.375",
	 "charge.ccl_cell_voltages",
	 V_LIST,
	 C(charge.ccl_cell_voltages),
	 {3.5, 3.45, 3.425, 3.4, 3.375},
	 5},
	{"MAX_CHARGE_CURRENT_CV_FRACTION",
	 "0.000, 0.005, 0.050, 0.250, 1.000",
	 "charge.ccl_cell_voltage_fractions",
	 V_LIST,
	 C(charge.ccl_cell_voltage_fractions),
	 {0, 0.005, 0.05, 0.25, 1},
	 5},
	{"CELL_VOLTAGES_WHILE_DISCHARGING",
	 "2.800, 2.900, 3.000, 3.100, 3.190",
	 "charge.dcl_cell_voltages",
	 V_LIST,
	 C(charge.dcl_cell_voltages),
	 {2.8, 2.9, 3.0, 3.1, 3.19},
	 5},
	{"MAX_DISCHARGE_CURRENT_CV_FRACTION",
	 "0.000, 0.005, 0.050, 0.250, 1.000",
	 "charge.dcl_cell_voltage_fractions",
	 V_LIST,
	 C(charge.dcl_cell_voltage_fractions),
	 {0, 0.005, 0.05, 0.25, 1},
	 5},
	{"CCCM_T_ENABLE",
	 "True",
	 "charge.ccl_temperature_enable",
	 V_BOOL,
	 C(charge.ccl_temperature_enable),
	 {1},
	 0},
	{"DCCM_T_ENABLE",
	 "True",
	 "charge.dcl_temperature_enable",
	 V_BOOL,
	 C(charge.dcl_temperature_enable),
	 {1},
	 0},
	{"TEMPERATURES_WHILE_CHARGING",
	 "0, 2, 5, 10, 40, 45, 50, 55",
	 "charge.ccl_temperatures",
	 V_LIST,
	 C(charge.ccl_temperatures),
	 {0, 2, 5, 10, 40, 45, 50, 55},
	 8},
	{"MAX_CHARGE_CURRENT_T_FRACTION",
	 "0, 0.25, 0.5, 1, 1, 0.5, 0.25, 0",
	 "charge.ccl_temperature_fractions",
	 V_LIST,
	 C(charge.ccl_temperature_fractions),
	 {0, 0.25, 0.5, 1, 1, 0.5, 0.25, 0},
	 8},
	{"TEMPERATURES_WHILE_DISCHARGING",
	 "-10, 0, 5, 10, 40, 45, 50, 55",
	 "charge.dcl_temperatures",
	 V_LIST,
	 C(charge.dcl_temperatures),
	 {-10, 0, 5, 10, 40, 45, 50, 55},
	 8},
	{"MAX_DISCHARGE_CURRENT_T_FRACTION",
	 "0, 0.25, 0.5, 1, 1, 0.5, 0.25, 0",
	 "charge.dcl_temperature_fractions",
	 V_LIST,
	 C(charge.dcl_temperature_fractions),
	 {0, 0.25, 0.5, 1, 1, 0.5, 0.25, 0},
	 8},
	{"CCCM_T_MOSFET_ENABLE",
	 "True",
	 "charge.ccl_mosfet_temperature_enable",
	 V_BOOL,
	 C(charge.ccl_mosfet_temperature_enable),
	 {1},
	 0},
	{"DCCM_T_MOSFET_ENABLE",
	 "True",
	 "charge.dcl_mosfet_temperature_enable",
	 V_BOOL,
	 C(charge.dcl_mosfet_temperature_enable),
	 {1},
	 0},
	{"MOSFET_TEMPERATURES_WHILE_CHARGING",
	 "70, 80, 90",
	 "charge.ccl_mosfet_temperatures",
	 V_LIST,
	 C(charge.ccl_mosfet_temperatures),
	 {70, 80, 90},
	 3},
	{"MAX_CHARGE_CURRENT_T_MOSFET_FRACTION",
	 "1.00, 0.25, 0.00",
	 "charge.ccl_mosfet_temperature_fractions",
	 V_LIST,
	 C(charge.ccl_mosfet_temperature_fractions),
	 {1, 0.25, 0},
	 3},
	{"MOSFET_TEMPERATURES_WHILE_DISCHARGING",
	 "70, 80, 90",
	 "charge.dcl_mosfet_temperatures",
	 V_LIST,
	 C(charge.dcl_mosfet_temperatures),
	 {70, 80, 90},
	 3},
	{"MAX_DISCHARGE_CURRENT_T_MOSFET_FRACTION",
	 "1.00, 0.25, 0.00",
	 "charge.dcl_mosfet_temperature_fractions",
	 V_LIST,
	 C(charge.dcl_mosfet_temperature_fractions),
	 {1, 0.25, 0},
	 3},
	{"CCCM_SOC_ENABLE",
	 "False",
	 "charge.ccl_soc_enable",
	 V_BOOL,
	 C(charge.ccl_soc_enable),
	 {0},
	 0},
	{"DCCM_SOC_ENABLE",
	 "False",
	 "charge.dcl_soc_enable",
	 V_BOOL,
	 C(charge.dcl_soc_enable),
	 {0},
	 0},
	{"SOC_WHILE_CHARGING",
	 "98, 95, 90, 85",
	 "charge.ccl_socs",
	 V_LIST,
	 C(charge.ccl_socs),
	 {98, 95, 90, 85},
	 4},
	{"MAX_CHARGE_CURRENT_SOC_FRACTION",
	 "0.10, 0.20, 0.50, 1.00",
	 "charge.ccl_soc_fractions",
	 V_LIST,
	 C(charge.ccl_soc_fractions),
	 {0.1, 0.2, 0.5, 1},
	 4},
	{"SOC_WHILE_DISCHARGING",
	 "5, 10, 15, 20",
	 "charge.dcl_socs",
	 V_LIST,
	 C(charge.dcl_socs),
	 {5, 10, 15, 20},
	 4},
	{"MAX_DISCHARGE_CURRENT_SOC_FRACTION",
	 "0.10, 0.20, 0.50, 1.00",
	 "charge.dcl_soc_fractions",
	 V_LIST,
	 C(charge.dcl_soc_fractions),
	 {0.1, 0.2, 0.5, 1},
	 4},
	{"CHARGE_CURRENT_RECOVERY_THRESHOLD_PERCENT",
	 "0.015",
	 "charge.ccl_recovery_threshold",
	 V_DOUBLE,
	 C(charge.ccl_recovery_threshold),
	 {0.015},
	 0},
	{"DISCHARGE_CURRENT_RECOVERY_THRESHOLD_PERCENT",
	 "0.015",
	 "charge.dcl_recovery_threshold",
	 V_DOUBLE,
	 C(charge.dcl_recovery_threshold),
	 {0.015},
	 0},
	{"CCL_RECOVERY_HOLD_SEC",
	 "30",
	 "charge.ccl_recovery_hold",
	 V_DOUBLE,
	 C(charge.ccl_recovery_hold),
	 {30},
	 0},
	{"CCL_RECOVERY_RATE_A_PER_SEC",
	 "5",
	 "charge.ccl_recovery_rate",
	 V_DOUBLE,
	 C(charge.ccl_recovery_rate),
	 {5},
	 0},
	{"DCL_RECOVERY_HOLD_SEC",
	 "30",
	 "charge.dcl_recovery_hold",
	 V_DOUBLE,
	 C(charge.dcl_recovery_hold),
	 {30},
	 0},
	{"DCL_RECOVERY_RATE_A_PER_SEC",
	 "5",
	 "charge.dcl_recovery_rate",
	 V_DOUBLE,
	 C(charge.dcl_recovery_rate),
	 {5},
	 0},
	{"VOLTAGE_DROP", "0.00", "charge.voltage_drop", V_DOUBLE, C(charge.voltage_drop), {0}, 0},
	{"BMS_TYPE", "", NULL, V_BOOL, 0, {0}, 0},
	{"EXCLUDED_DEVICES", "", NULL, V_BOOL, 0, {0}, 0},
	{"POLL_INTERVAL", "", NULL, V_BOOL, 0, {0}, 0},
	{"BATTERY_ADDRESSES", "", NULL, V_BOOL, 0, {0}, 0},
};

/* The default file's options without a counterpart: each must be a comment. */
static const char *const no_counterpart[][2] = {
	{"SOC_CALCULATION", "False"},
	{"CURRENT_REPORTED_BY_BMS", "-300, 300"},
	{"CURRENT_MEASURED_BY_USER", "-300, 300"},
	{"BLUETOOTH_BMS", ""},
	{"BLUETOOTH_USE_POLLING", "True"},
	{"BLUETOOTH_FORCE_RESET_BLE_STACK", "False"},
	{"BLUETOOTH_USE_USB", "False"},
	{"CAN_PORT", ""},
	{"SERIAL_STARTER_ENABLED", "True"},
	{"BMS_CABLE_ALARM", "True"},
	{"EXTERNAL_SENSOR_DBUS_DEVICE", ""},
	{"EXTERNAL_SENSOR_DBUS_PATH_CURRENT", ""},
	{"EXTERNAL_SENSOR_DBUS_PATH_SOC", ""},
	{"CVL_RECALCULATION_EVERY", "60"},
	{"CVL_RECALCULATION_ON_MAX_PERCENTAGE_CHANGE", "33"},
	{"CVL_ICONTROLLER_FACTOR", "0.2"},
	{"TIME_TO_GO_ENABLE", "True"},
	{"TIME_TO_SOC_POINTS", ""},
	{"TIME_TO_SOC_VALUE_TYPE", "1"},
	{"TIME_TO_SOC_RECALCULATE_EVERY", "60"},
	{"TIME_TO_SOC_INC_FROM", "False"},
	{"HISTORY_ENABLE", "True"},
	{"PUBLISH_CONFIG_VALUES", "False"},
	{"PUBLISH_BATTERY_DATA_AS_JSON", "False"},
	{"BATTERY_CELL_DATA_FORMAT", "1"},
	{"MIDPOINT_ENABLE", "False"},
	{"TEMPERATURE_SOURCE_BATTERY", "1, 2, 3, 4"},
	{"TEMPERATURE_1_NAME", "Temp 1"},
	{"TEMPERATURE_2_NAME", "Temp 2"},
	{"TEMPERATURE_3_NAME", "Temp 3"},
	{"TEMPERATURE_4_NAME", "Temp 4"},
	{"TEMPERATURE_1_ADJUST", "0, 1"},
	{"TEMPERATURE_2_ADJUST", "0, 1"},
	{"TEMPERATURE_3_ADJUST", "0, 1"},
	{"TEMPERATURE_4_ADJUST", "0, 1"},
	{"TEMPERATURE_MOS_ADJUST", "0, 1"},
	{"GUI_PARAMETERS_SHOW_ADDITIONAL_INFO", "False"},
	{"GUI_INSTALL_CUSTOMIZATIONS", "True"},
	{"TELEMETRY", "True"},
	{"USE_PORT_AS_UNIQUE_ID", "False"},
	{"BATTERY_CAPACITY", "99"},
	{"AUTO_RESET_SOC", "True"},
	{"USE_BMS_DVCC_VALUES", "False"},
	{"SOC_LOW_WARNING", "20"},
	{"SOC_LOW_ALARM", "10"},
	{"UP16S_REQUIRE_DIRECT_CONNECTION", "False"},
	{"INVERT_CURRENT_MEASUREMENT", "1"},
	{"GREENMETER_ADDRESS", "1"},
	{"LIPRO_START_ADDRESS", "2"},
	{"LIPRO_END_ADDRESS", "4"},
	{"LIPRO_CELL_COUNT", "15"},
	{"UBMS_CAN_MODULE_SERIES", "4"},
	{"UBMS_CAN_MODULE_PARALLEL", "2"},
	{"MQTT_TOPIC", ""},
	{"MQTT_BROKER_ADDRESS", "127.0.0.1"},
	{"MQTT_BROKER_PORT", "1883"},
	{"MQTT_TLS_ENABLED", "False"},
	{"MQTT_TLS_PATH_TO_CA", ""},
	{"MQTT_TLS_INSECURE", "True"},
	{"MQTT_USERNAME", ""},
	{"MQTT_PASSWORD", ""},
	{"BMS_CAPTURE_RAW_DATA", "False"},
	{"BMS_CAPTURE_RAW_DATA_MAX_SIZE_MB", "5"},
	{"BMS_CAPTURE_RAW_DATA_BACKUP_COUNT", "3"},
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

/* Run the subcommand as the CLI would; its stderr into *ret_err (static). */
static int run(const char *const *args, char **ret_err)
{
	char *argv[16];
	int argc = 0;
	argv[argc++] = (char *)"import-config";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	char errpath[128];
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	fflush(stderr);
	int saved = dup(2);
	FILE *ef = fopen(errpath, "we");
	dup2(fileno(ef), 2);
	int r = cmd_import_config(argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fclose(ef);
	*ret_err = slurp(errpath);
	return r;
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* The Python default file, from its facts: every option under [DEFAULT]. */
static void write_default_ini(const char *path)
{
	FILE *f = fopen(path, "we");
	CU_ASSERT_FATAL(f != NULL);
	fputs("[DEFAULT]\n\n; limits\n", f);
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		fprintf(f, "%s = %s\n", defaults[i].ini, defaults[i].text);
	for (size_t i = 0; i < sizeof(no_counterpart) / sizeof(no_counterpart[0]); i++)
		fprintf(f, "%s = %s\n", no_counterpart[i][0], no_counterpart[i][1]);
	fclose(f);
}

static void check_value(const struct sb_config *c, const struct tr *t)
{
	const char *p = (const char *)c + t->off;
	switch (t->type) {
	case V_DOUBLE: {
		double v = *(const double *)(const void *)p;
		if (fabs(v - t->want[0]) > 1e-12)
			fprintf(stderr, "\n%s: %g, want %g\n", t->ours, v, t->want[0]);
		CU_ASSERT(fabs(v - t->want[0]) <= 1e-12);
		break;
	}
	case V_BOOL:
		CU_ASSERT_EQUAL(*(const bool *)(const void *)p, t->want[0] != 0);
		break;
	case V_ENUM:
		CU_ASSERT_EQUAL(*(const int *)(const void *)p, (int)t->n);
		break;
	case V_LIST: {
		const struct cfg_dlist *l = (const void *)p;
		CU_ASSERT_EQUAL_FATAL(l->n, t->n);
		for (unsigned i = 0; i < l->n; i++)
			CU_ASSERT(fabs(l->v[i] - t->want[i]) <= 1e-12);
		break;
	}
	}
}

static void test_default_round_trip(void)
{
	char ini[128], out[128], *err;
	path_in(ini, sizeof(ini), "config.default.ini");
	path_in(out, sizeof(out), "default.conf");
	write_default_ini(ini);
	const char *args[] = {"-o", out, ini, NULL};
	CU_ASSERT_EQUAL_FATAL(run(args, &err), 0);

	/* loads with the daemon's loader */
	struct sb_config *c = calloc(1, sizeof(*c));
	struct cfg_error e;
	int r = sb_config_load(out, c, &e);
	if (r)
		fprintf(stderr, "\n%s:%d: %s: %s\n", e.file, e.line, e.key, e.msg);
	CU_ASSERT_EQUAL_FATAL(r, 0);

	/* every translated option is written out (not left to our default) and equal */
	config_t lc;
	config_init(&lc);
	CU_ASSERT_FATAL(config_read_file(&lc, out) == CONFIG_TRUE);
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		const struct tr *t = &defaults[i];
		if (!t->ours)
			continue;
		if (!config_lookup(&lc, t->ours))
			fprintf(stderr, "\nmissing %s (%s)\n", t->ours, t->ini);
		CU_ASSERT(config_lookup(&lc, t->ours) != NULL);
		check_value(c, t);
	}
	config_destroy(&lc);

	/* each option without a counterpart is a comment naming it */
	const char *text = slurp(out);
	CU_ASSERT_FATAL(text != NULL);
	for (size_t i = 0; i < sizeof(no_counterpart) / sizeof(no_counterpart[0]); i++) {
		char needle[96];
		snprintf(needle, sizeof(needle), "\n# %s = ", no_counterpart[i][0]);
		if (!strstr(text, needle))
			fprintf(stderr, "\nno comment for %s\n", no_counterpart[i][0]);
		CU_ASSERT(strstr(text, needle) != NULL);
	}
	/* no port was named: BMS_TYPE etc. pin nothing */
	CU_ASSERT_EQUAL(c->serial.nports, 0);
	free(c);
}

static const char user_ini[] =
	"# my settings\n"
	"[DEFAULT]\n"
	"max_battery_charge_current=100\n"
	"MAX_BATTERY_DISCHARGE_CURRENT   =   120.5  \n"
	"; comment line\n"
	"MAX_CELL_VOLTAGE = 3.500\n"
	"FLOAT_CELL_VOLTAGE = 3.350\n"
	"LOGGING = debug\n"
	"CHARGE_MODE = 2\n"
	"CVL_CONTROLLER_MODE = 0\n"
	"BLOCK_ON_DISCONNECT_TIMEOUT_MINUTES = 10\n"
	"CELL_VOLTAGES_WHILE_CHARGING = 3.55,3.50 ,\n"
	"    3.45, 3.4\n" /* a configparser continuation line */
	"MAX_CHARGE_CURRENT_CV_FRACTION = 0, 0.05, 0.5, 1\n"
	"CCCM_SOC_ENABLE = true\n"
	"BMS_TYPE = Jkbms_pb\n"
	"BATTERY_ADDRESSES = 0x01, 0x02\n"
	"POLL_INTERVAL = 2\n"
	"EXCLUDED_DEVICES = ttyUSB1, /dev/ttyUSB2\n"
	"VOLTAGE_DROP = 0.1\n"
	"MAX_BATTERY_CHARGE_CURRENT = 80\n" /* later wins, as in configparser */
	"\n"
	"[OTHER]\n"
	"MAX_CELL_VOLTAGE = 9\n"; /* not [DEFAULT]: the driver ignores it */

static void test_user_file(void)
{
	char ini[128], out[128], *err;
	path_in(ini, sizeof(ini), "user.ini");
	path_in(out, sizeof(out), "user.conf");
	write_file(ini, user_ini);
	const char *args[] = {"--port", "/dev/ttyUSB0", "-o", out, ini, NULL};
	int rc = run(args, &err);
	if (rc)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	struct sb_config *c = calloc(1, sizeof(*c));
	struct cfg_error e;
	CU_ASSERT_EQUAL_FATAL(sb_config_load(out, c, &e), 0);
	CU_ASSERT_DOUBLE_EQUAL(c->charge.max_charge_current, 80, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c->charge.max_discharge_current, 120.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c->charge.max_cell_voltage, 3.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c->charge.float_cell_voltage, 3.35, 1e-12);
	CU_ASSERT_EQUAL(c->daemon.log_level, 3);     /* debug */
	CU_ASSERT_EQUAL(c->charge.interpolation, 1); /* step */
	CU_ASSERT_EQUAL(c->charge.cvl_controller, 0);
	CU_ASSERT_DOUBLE_EQUAL(c->charge.discharge_grace, 600, 1e-12);
	CU_ASSERT_EQUAL(c->charge.ccl_cell_voltages.n, 4);
	CU_ASSERT_DOUBLE_EQUAL(c->charge.ccl_cell_voltages.v[0], 3.55, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(c->charge.ccl_cell_voltage_fractions.v[2], 0.5, 1e-12);
	CU_ASSERT(c->charge.ccl_soc_enable);
	CU_ASSERT_DOUBLE_EQUAL(c->charge.voltage_drop, 0.1, 1e-12);
	CU_ASSERT_EQUAL_FATAL(c->serial.nports, 1);
	CU_ASSERT_STRING_EQUAL(c->serial.ports[0].path, "/dev/ttyUSB0");
	CU_ASSERT_STRING_EQUAL(c->serial.ports[0].bms, "jkpb");
	CU_ASSERT_EQUAL(c->serial.ports[0].addresses.n, 2);
	CU_ASSERT_EQUAL(c->serial.ports[0].addresses.v[1], 2);
	CU_ASSERT_DOUBLE_EQUAL(c->serial.ports[0].poll_interval, 2, 1e-12);
	CU_ASSERT_EQUAL_FATAL(c->udev.exclude.n, 2);
	CU_ASSERT_STRING_EQUAL(c->udev.exclude.v[0], "/dev/ttyUSB1");
	CU_ASSERT_STRING_EQUAL(c->udev.exclude.v[1], "/dev/ttyUSB2");

	/* without --port the per-port options are a commented entry to fill in, not lost */
	const char *args2[] = {"-o", out, ini, NULL};
	CU_ASSERT_EQUAL_FATAL(run(args2, &err), 0);
	CU_ASSERT_EQUAL_FATAL(sb_config_load(out, c, &e), 0);
	CU_ASSERT_EQUAL(c->serial.nports, 0);
	const char *text = slurp(out);
	CU_ASSERT(strstr(text, "\n#   { path = \"/dev/ttyUSB0\"; bms = \"jkpb\";") != NULL);
	CU_ASSERT(strstr(text, "addresses = [1, 2];") != NULL);
	free(c);
}

/* A value ours refuses: file:line:key on stderr, exit 2, nothing written. */
static void refused(const char *ini_text, const char *want, const char *out_name)
{
	char ini[128], out[128], *err;
	path_in(ini, sizeof(ini), "bad.ini");
	path_in(out, sizeof(out), out_name);
	write_file(ini, ini_text);
	const char *args[] = {"-o", out, ini, NULL};
	CU_ASSERT_EQUAL(run(args, &err), 2);
	char needle[256];
	snprintf(needle, sizeof(needle), "%s:%s", ini, want);
	if (!strstr(err, needle))
		fprintf(stderr, "\nwant '%s' in '%s'\n", needle, err);
	CU_ASSERT(strstr(err, needle) != NULL);
	CU_ASSERT(access(out, F_OK) < 0 && errno == ENOENT);
}

static void test_bad_values(void)
{
	/* out of our range */
	refused("[DEFAULT]\nMAX_BATTERY_CHARGE_CURRENT = 50\nMAX_CELL_VOLTAGE = 7\n",
		"3: MAX_CELL_VOLTAGE: ", "bad1.conf");
	/* a cross-key check: float above max */
	refused("[DEFAULT]\nMAX_CELL_VOLTAGE = 3.45\n\nFLOAT_CELL_VOLTAGE = 3.5\n",
		"4: FLOAT_CELL_VOLTAGE: ", "bad2.conf");
	/* not a number */
	refused("[DEFAULT]\nMAX_BATTERY_DISCHARGE_CURRENT = lots\n",
		"2: MAX_BATTERY_DISCHARGE_CURRENT: ", "bad3.conf");
	/* a fraction table that never allows the maximum */
	refused("[DEFAULT]\nMAX_CHARGE_CURRENT_SOC_FRACTION = 0.1, 0.2, 0.5, 0.9\n",
		"2: MAX_CHARGE_CURRENT_SOC_FRACTION: ", "bad4.conf");
	/* a BMS we have no driver for, and a controller mode we do not have */
	refused("[DEFAULT]\nBMS_TYPE = MNB\n", "2: BMS_TYPE: ", "bad5.conf");
	refused("[DEFAULT]\nCVL_CONTROLLER_MODE = 2\n", "2: CVL_CONTROLLER_MODE: ", "bad6.conf");
	/* the key our check names is not in the ini: the line of the one its reason names */
	refused("[DEFAULT]\nLOGGING = INFO\nMAX_CELL_VOLTAGE = 3.7\n",
		"3: MAX_CELL_VOLTAGE: ", "bad7.conf");

	/* an existing output is left as it was */
	char out[128], *err;
	path_in(out, sizeof(out), "kept.conf");
	write_file(out, "# mine\n");
	char ini[128];
	path_in(ini, sizeof(ini), "bad.ini");
	write_file(ini, "[DEFAULT]\nMIN_CELL_VOLTAGE = 0.5\n");
	const char *args[] = {"-o", out, ini, NULL};
	CU_ASSERT_EQUAL(run(args, &err), 2);
	CU_ASSERT_STRING_EQUAL(slurp(out), "# mine\n");
}

/*
 * An INI naming BMS_TYPE py (and the lines `more`) imports for one port to a
 * file that loads with driver want; the output holds `said` (NULL: not checked).
 */
static void check_bms_type(const char *stem, const char *py, const char *more, const char *want,
			   const char *said)
{
	char ini[128], out[128], name[64], text[160], *err;
	snprintf(name, sizeof(name), "%s.ini", stem);
	path_in(ini, sizeof(ini), name);
	snprintf(name, sizeof(name), "%s.conf", stem);
	path_in(out, sizeof(out), name);
	snprintf(text, sizeof(text), "[DEFAULT]\nBMS_TYPE = %s\n%s", py, more);
	write_file(ini, text);
	const char *args[] = {"--port", "/dev/ttyUSB0", "-o", out, ini, NULL};
	CU_ASSERT_EQUAL_FATAL(run(args, &err), 0);
	struct sb_config *c = calloc(1, sizeof(*c));
	struct cfg_error e;
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_EQUAL_FATAL(sb_config_load(out, c, &e), 0);
	CU_ASSERT_EQUAL_FATAL(c->serial.nports, 1);
	CU_ASSERT_STRING_EQUAL(c->serial.ports[0].bms, want);
	if (said)
		CU_ASSERT(strstr(slurp(out), said) != NULL);
	free(c);
}

/* The opt-in families of issue 19 by their Python class names. */
static void test_opt_in_bms_types(void)
{
	check_bms_type("optin", "HLPdataBMS4S", "", "hlpdata", NULL);
	check_bms_type("optin", "Sinowealth", "", "sinowealth", NULL);
}

static void test_unknown_key_is_comment(void)
{
	char ini[128], out[128], *err;
	path_in(ini, sizeof(ini), "unknown.ini");
	path_in(out, sizeof(out), "unknown.conf");
	write_file(ini, "[DEFAULT]\nSOME_FUTURE_OPTION = 5\nMAX_BATTERY_CHARGE_CURRENT = 70\n");
	const char *args[] = {"-o", out, ini, NULL};
	CU_ASSERT_EQUAL_FATAL(run(args, &err), 0);
	const char *text = slurp(out);
	CU_ASSERT(strstr(text, "\n# SOME_FUTURE_OPTION = 5 (line 2): ") != NULL);
	struct sb_config *c = calloc(1, sizeof(*c));
	struct cfg_error e;
	CU_ASSERT_EQUAL(sb_config_load(out, c, &e), 0);
	CU_ASSERT_DOUBLE_EQUAL(c->charge.max_charge_current, 70, 1e-12);
	free(c);
}

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sb-import-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int suite_clean(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The Python driver's Modbus family names of issue 19 map to our drivers. */
static void test_issue19_names(void)
{
	static const char *const names[][2] = {
		{"HeltecModbus", "heltec"}, {"Felicity", "felicity"}, {"Ecs", "ecs"}};
	/* the meter's address is the user's to set on the port: said, not guessed */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_bms_type("issue19", names[i][0], "GREENMETER_ADDRESS = 3\n", names[i][1],
			       "GREENMETER_ADDRESS = 3 (line 3): handled differently");
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"default file round-trips", test_default_round_trip},
		{"user-style file", test_user_file},
		{"refused values: file:line:key, nothing written", test_bad_values},
		{"opt-in BMS types: HLPdataBMS4S, Sinowealth", test_opt_in_bms_types},
		{"unknown key is a comment", test_unknown_key_is_comment},
		{"issue 19 family names", test_issue19_names},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("import_config", suite_init, suite_clean, tests);
}
