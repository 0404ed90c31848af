/* SPDX-License-Identifier: MIT */
/*
 * Moving from dbus-serialbattery: the publisher against a real dbus-daemon and
 * the settings stand-in (or Victron's localsettings, see settings_start),
 * seeded through AddSettings with the entries the Python driver leaves in
 * com.victronenergy.settings (serialbattery_<ID>/ClassAndVrmInstance,
 * CustomName, UniqueIdentifier, LastSeen) and the owner's battery monitor and
 * BMS selections that point at its instance.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "bus_fixture.h"
#include "charge/charge.h"
#include "common/store.h"
#include "publish/publish.h"
#include "publish/publish_config.h"
#include "tests/support/cunit_main.h"

#define SETTINGS "com.victronenergy.settings"
#define SVC_A "com.victronenergy.battery.ttyUSB0"
#define SVC_B "com.victronenergy.battery.ttyUSB1"
#define KEY_A "usb-FTDI_A1-if00"
#define KEY_B "usb-FTDI_B2-if00"
#define OURS_A "/Settings/Devices/serialbattery_usb_FTDI_A1_if00"
#define OURS_B "/Settings/Devices/serialbattery_usb_FTDI_B2_if00"
/* what the Python driver leaves for a JBD pack: hardware version + capacity, upper-cased group */
#define OLD_JBD "/Settings/Devices/serialbattery_JBDSP04S034_100_0AH"
#define WAIT_MS 15000

static _Atomic uint64_t fake_now = 1000000;

static struct tb_bus bus;
static struct store *st;
static struct publish *pub;
static struct publish_config pcfg;
static struct charge_config ccfg;
static DBusConnection *cli;
static char state_dir[64];

static int load_defaults(void)
{
	if (tb_config_defaults(&pcfg, &ccfg) < 0)
		return -1;
	pcfg.interval_ms = 100;
	pcfg.bank_mode = PUBLISH_BANK_OFF;
	return 0;
}

static int start_publisher(void)
{
	return tb_publisher_start(bus.address, &pcfg, &ccfg, state_dir, &fake_now, st, &pub);
}

/* A pack's snapshot: serial NULL = none (JBD); sw, model "" = none; capacity in mAh. */
static void commit_pack(const char *key, const char *tty, const char *serial, const char *sw,
			const char *model, int32_t cap_mah)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_FULL | BMS_V_CELLS |
		  BMS_V_TEMPS | BMS_V_FETS;
	if (serial) {
		s.valid |= BMS_V_SERIAL;
		snprintf(s.serial, sizeof(s.serial), "%s", serial);
	}
	if (sw[0]) {
		s.valid |= BMS_V_SW_VERSION;
		snprintf(s.sw_version, sizeof(s.sw_version), "%s", sw);
	}
	if (model[0]) {
		s.valid |= BMS_V_MODEL;
		snprintf(s.model, sizeof(s.model), "%s", model);
	}
	s.voltage_mv = 52800;
	s.current_ma = 1000;
	s.soc_cpct = 5000;
	/* the rated capacity is what the Python driver reads; a full one differs here */
	s.valid |= BMS_V_CAP_DESIGN;
	s.capacity_design_mah = cap_mah;
	s.capacity_full_mah = cap_mah - 3000;
	s.cell_count = 16;
	for (int k = 0; k < 16; k++)
		s.cell_mv[k] = 3300;
	s.temp_count = 1;
	s.temp_dc[0] = 250;
	s.charge_fet = s.discharge_fet = true;
	struct store_info info;
	memset(&info, 0, sizeof(info));
	snprintf(info.tty, sizeof(info.tty), "%s", tty);
	snprintf(info.protocol, sizeof(info.protocol), "jbd");
	info.poll_interval_ms = 1000;
	int slot;
	CU_ASSERT_FATAL(store_open(st, key, &slot) == 0);
	CU_ASSERT(store_commit(st, slot, &s, &info, atomic_load(&fake_now)) == 0);
}

static void commit(const char *key, const char *tty, const char *serial)
{
	commit_pack(key, tty, serial, "", "", 100000);
}

/* Wait for NameOwnerChanged(name) with a new owner. */
static bool wait_owned(const char *name)
{
	for (;;) {
		DBusMessage *m = tb_wait_signal(cli, "NameOwnerChanged", NULL, NULL, WAIT_MS);
		if (!m)
			return false;
		const char *n, *o, *nw;
		bool match = dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &n, DBUS_TYPE_STRING,
						   &o, DBUS_TYPE_STRING, &nw, DBUS_TYPE_INVALID) &&
			     strcmp(n, name) == 0 && nw[0];
		dbus_message_unref(m);
		if (match)
			return true;
	}
}

/* One setting as a client creates it (AddSettings on "/", absolute path). */
struct seed {
	const char *path;
	char type; /* 's' or 'i' */
	const char *value;
};

static int add_setting(const struct seed *e)
{
	struct tb_val def = {.type = e->type, .i = (int32_t)strtol(e->value, NULL, 10)};
	snprintf(def.s, sizeof(def.s), "%s", e->value);
	return tb_add_setting(cli, "/", e->path, &def);
}

static bool wait_owned(const char *name);

/*
 * Victron's own localsettings when SB_LOCALSETTINGS names its localsettings.py
 * (run by SB_PYTHON, default /usr/bin/python3, which needs python3-dbus,
 * python3-gi, python3-lxml and python3-psutil), else the stand-in.
 */
static int settings_start(void)
{
	const char *ls = getenv("SB_LOCALSETTINGS");
	if (!ls || !ls[0])
		return tb_settings_start(&bus);
	const char *py = getenv("SB_PYTHON");
	py = py && py[0] ? py : "/usr/bin/python3";
	char data[160];
	snprintf(data, sizeof(data), "--path=%s", bus.dir);
	pid_t pid = fork();
	if (pid == 0) {
		/* localsettings takes the session bus when this is set */
		setenv("DBUS_SESSION_BUS_ADDRESS", bus.address, 1);
		execl(py, py, ls, data, "--no-delay", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	bus.settings = pid;
	return wait_owned(SETTINGS) ? 0 : -1;
}

/* Bus, settings with seed (what dbus-serialbattery and the owner left), store, client. */
static int setup(const struct seed *seed)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/sb-migstate-XXXXXX");
	if (!mkdtemp(state_dir) || load_defaults() < 0 || tb_bus_start(&bus) < 0)
		return -1;
	cli = tb_connect(bus.address);
	if (!cli)
		return -1;
	tb_add_match(cli, "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'");
	if (settings_start() < 0 || store_new(4, &st) < 0)
		return -1;
	for (; seed->path; seed++)
		if (add_setting(seed) < 0)
			return -1;
	return 0;
}

static void teardown(void)
{
	CU_ASSERT(tb_teardown(&pub, &cli, &st, &bus, state_dir) == 0);
}

static void expect_int(const char *dest, const char *path, int32_t want)
{
	struct tb_val v;
	CU_ASSERT(tb_get_value(cli, dest, path, &v) == 0 && v.type == 'i' && v.i == want);
	if (v.type == 'i' && v.i != want)
		fprintf(stderr, "%s %s: %d, want %d\n", dest, path, (int)v.i, (int)want);
}

static void expect_str(const char *dest, const char *path, const char *want)
{
	struct tb_val v;
	memset(&v, 0, sizeof(v));
	CU_ASSERT(tb_get_value(cli, dest, path, &v) == 0 && v.type == 's' &&
		  strcmp(v.s, want) == 0);
	if (strcmp(v.s, want) != 0)
		fprintf(stderr, "%s %s: \"%s\", want \"%s\"\n", dest, path, v.s, want);
}

/*
 * A pack the owner has not named shows the default "<product> (<tty>...)";
 * the publisher fills it with the pack's next values, so wait for that fill.
 */
static void expect_default_name(const char *dest, const char *port)
{
	struct tb_val v;
	bool ok = false;
	for (int i = 0; i < 250 && !ok; i++) {
		memset(&v, 0, sizeof(v));
		ok = tb_get_value(cli, dest, "/CustomName", &v) == 0 && v.type == 's' &&
		     strstr(v.s, port) != NULL;
		if (!ok)
			usleep(20000);
	}
	CU_ASSERT(ok);
}

static bool setting_exists(const char *path)
{
	struct tb_val v;
	return tb_get_value(cli, SETTINGS, path, &v) == 0;
}

#define OWNER_SELECTIONS                                                                           \
	{"/Settings/SystemSetup/BatteryService", 's', "com.victronenergy.battery/1"},              \
	{                                                                                          \
		"/Settings/SystemSetup/BmsInstance", 'i', "1"                                      \
	}

#define OLD_JBD_ENTRY                                                                              \
	{OLD_JBD "/ClassAndVrmInstance", 's', "battery:1"},                                        \
		{OLD_JBD "/CustomName", 's', "House LFP"},                                         \
		{OLD_JBD "/UniqueIdentifier", 's', "JBDSP04S034_100_0Ah"},                         \
		{OLD_JBD "/LastSeen", 'i', "1764000000"},                                          \
	{                                                                                          \
		OLD_JBD "/AllowMaxVoltage", 'i', "1"                                               \
	}

static const struct seed seed_jbd[] = {OLD_JBD_ENTRY, OWNER_SELECTIONS, {NULL, 0, NULL}};

/*
 * One pack, one entry the Python driver left (its JBD id is not ours): the
 * pack takes over battery:1 and "House LFP", the owner's selections point at
 * it, and a second start keeps our entry without touching the old one again.
 */
static void test_sole_pack_takes_over(void)
{
	CU_ASSERT_FATAL(setup(seed_jbd) == 0);
	CU_ASSERT_FATAL(start_publisher() == 0);
	commit(KEY_A, "ttyUSB0", "2023-05-17");
	CU_ASSERT_FATAL(wait_owned(SVC_A));
	expect_int(SVC_A, "/DeviceInstance", 1);
	expect_str(SVC_A, "/CustomName", "House LFP");
	expect_str(SETTINGS, OURS_A "/ClassAndVrmInstance", "battery:1");
	expect_str(SETTINGS, OURS_A "/CustomName", "House LFP");
	/* the old entry gave its instance up (that is its "migrated" mark), kept the rest */
	CU_ASSERT(!setting_exists(OLD_JBD "/ClassAndVrmInstance"));
	expect_str(SETTINGS, OLD_JBD "/UniqueIdentifier", "JBDSP04S034_100_0Ah");
	/* what the owner selected now names our service */
	expect_str(SETTINGS, "/Settings/SystemSetup/BatteryService", "com.victronenergy.battery/1");

	/* the Python driver is started once more by mistake and claims its entry again:
	 * localsettings gives it the next free instance */
	DBusMessage *m = dbus_message_new_method_call(SETTINGS, "/Settings/Devices",
						      "com.victronenergy.Settings", "AddSettings");
	DBusMessageIter it, arr, d, e, v;
	const char *kp = "path", *kd = "default";
	const char *p = "serialbattery_JBDSP04S034_100_0AH/ClassAndVrmInstance", *def = "battery:1";
	dbus_message_iter_init_append(m, &it);
	dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "a{sv}", &arr);
	dbus_message_iter_open_container(&arr, DBUS_TYPE_ARRAY, "{sv}", &d);
	dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &e);
	dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &kp);
	dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "s", &v);
	dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &p);
	dbus_message_iter_close_container(&e, &v);
	dbus_message_iter_close_container(&d, &e);
	dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &e);
	dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &kd);
	dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "s", &v);
	dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &def);
	dbus_message_iter_close_container(&e, &v);
	dbus_message_iter_close_container(&d, &e);
	dbus_message_iter_close_container(&arr, &d);
	dbus_message_iter_close_container(&it, &arr);
	DBusMessage *r = tb_call(cli, m, NULL, 0);
	CU_ASSERT_FATAL(r != NULL);
	dbus_message_unref(r);
	expect_str(SETTINGS, OLD_JBD "/ClassAndVrmInstance", "battery:2");

	/* second start: our entry exists, so no migration runs; the old entry stays as it is */
	publish_free(pub);
	pub = NULL;
	CU_ASSERT_FATAL(start_publisher() == 0);
	CU_ASSERT_FATAL(wait_owned(SVC_A));
	expect_int(SVC_A, "/DeviceInstance", 1);
	expect_str(SVC_A, "/CustomName", "House LFP");
	expect_str(SETTINGS, OLD_JBD "/ClassAndVrmInstance", "battery:2");
	teardown();
}

#define OLD_SN "/Settings/Devices/serialbattery_SN_123"
#define OLD_X2 "/Settings/Devices/serialbattery_X2"

/*
 * Two packs, two old entries: the pack whose serial the Python driver used
 * as its id takes that entry; the other pack matches nothing and gets
 * device_instance (512) as a new battery would, and the unmatched old entry
 * is left alone.
 */
static void test_id_match_and_no_match(void)
{
	static const struct seed seed[] = {{OLD_SN "/ClassAndVrmInstance", 's', "battery:1"},
					   {OLD_SN "/CustomName", 's', "Pack one"},
					   {OLD_SN "/UniqueIdentifier", 's', "SN_123"},
					   {OLD_X2 "/ClassAndVrmInstance", 's', "battery:2"},
					   {OLD_X2 "/CustomName", 's', "Pack two"},
					   {OLD_X2 "/UniqueIdentifier", 's', "X2"},
					   OWNER_SELECTIONS,
					   {NULL, 0, NULL}};
	CU_ASSERT_FATAL(setup(seed) == 0);
	CU_ASSERT_FATAL(start_publisher() == 0);
	commit(KEY_B, "ttyUSB1", "NOPE-9");
	CU_ASSERT_FATAL(wait_owned(SVC_B));
	commit(KEY_A, "ttyUSB0", "SN 123");
	CU_ASSERT_FATAL(wait_owned(SVC_A));
	expect_int(SVC_A, "/DeviceInstance", 1);
	expect_str(SVC_A, "/CustomName", "Pack one");
	expect_int(SVC_B, "/DeviceInstance", (int32_t)pcfg.device_instance);
	/* no name taken over: the owner has set none, the default shows the port */
	expect_str(SETTINGS, OURS_B "/CustomName", "");
	expect_default_name(SVC_B, "(ttyUSB1");
	expect_str(SETTINGS, OURS_B "/ClassAndVrmInstance", "battery:512");
	expect_str(SETTINGS, OLD_X2 "/ClassAndVrmInstance", "battery:2");
	CU_ASSERT(!setting_exists(OLD_SN "/ClassAndVrmInstance"));
	teardown();
}

/*
 * Three JBD packs (no serial): the Python driver named each by its hardware
 * version and capacity, "23_100_0Ah" from 0x03's version byte (2.3) and 100.0
 * Ah, or in older releases by the 0x05 name; each pack takes its own entry.
 */
#define OLD_J100 "/Settings/Devices/serialbattery_23_100_0AH"
#define OLD_J280 "/Settings/Devices/serialbattery_23_280_0AH"
#define OLD_J105 "/Settings/Devices/serialbattery_JBDSP04S034_105_5AH"
#define KEY_C "usb-FTDI_C3-if00"
#define SVC_C "com.victronenergy.battery.ttyUSB2"
static void test_jbd_packs_by_version_and_capacity(void)
{
	static const struct seed seed[] = {
		{OLD_J100 "/ClassAndVrmInstance", 's', "battery:1"},
		{OLD_J100 "/CustomName", 's', "Small pack"},
		{OLD_J100 "/UniqueIdentifier", 's', "23_100_0Ah"},
		{OLD_J280 "/ClassAndVrmInstance", 's', "battery:2"},
		{OLD_J280 "/CustomName", 's', "Big pack"},
		{OLD_J280 "/UniqueIdentifier", 's', "23_280_0Ah"},
		{OLD_J105 "/ClassAndVrmInstance", 's', "battery:3"},
		{OLD_J105 "/CustomName", 's', "Old pack"},
		{OLD_J105 "/UniqueIdentifier", 's', "JBDSP04S034_105_5Ah"},
		OWNER_SELECTIONS,
		{NULL, 0, NULL}};
	CU_ASSERT_FATAL(setup(seed) == 0);
	CU_ASSERT_FATAL(start_publisher() == 0);
	commit_pack(KEY_B, "ttyUSB1", NULL, "2.3", "", 280000);
	CU_ASSERT_FATAL(wait_owned(SVC_B));
	commit_pack(KEY_A, "ttyUSB0", NULL, "2.3", "", 100000);
	CU_ASSERT_FATAL(wait_owned(SVC_A));
	commit_pack(KEY_C, "ttyUSB2", NULL, "1.0", "JBD-SP04S034", 105500);
	CU_ASSERT_FATAL(wait_owned(SVC_C));
	expect_int(SVC_A, "/DeviceInstance", 1);
	expect_str(SVC_A, "/CustomName", "Small pack");
	expect_int(SVC_B, "/DeviceInstance", 2);
	expect_str(SVC_B, "/CustomName", "Big pack");
	expect_int(SVC_C, "/DeviceInstance", 3);
	expect_str(SVC_C, "/CustomName", "Old pack");
	CU_ASSERT(!setting_exists(OLD_J100 "/ClassAndVrmInstance"));
	CU_ASSERT(!setting_exists(OLD_J280 "/ClassAndVrmInstance"));
	CU_ASSERT(!setting_exists(OLD_J105 "/ClassAndVrmInstance"));
	teardown();
}

/* ---- a live service (dbus-serialbattery still running) holds instance 1 ---- */

/*
 * The live service runs in a child process, as dbus-serialbattery would: the
 * publisher does not ask services of its own process (it serves them itself).
 */
static DBusHandlerResult live_handler(DBusConnection *c, DBusMessage *msg, void *ctx)
{
	(void)ctx;
	if (!dbus_message_is_method_call(msg, "com.victronenergy.BusItem", "GetValue"))
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	DBusMessage *r;
	if (strcmp(dbus_message_get_path(msg), "/DeviceInstance") == 0) {
		r = dbus_message_new_method_return(msg);
		DBusMessageIter it, v;
		dbus_int32_t one = 1;
		dbus_message_iter_init_append(r, &it);
		dbus_message_iter_open_container(&it, DBUS_TYPE_VARIANT, "i", &v);
		dbus_message_iter_append_basic(&v, DBUS_TYPE_INT32, &one);
		dbus_message_iter_close_container(&it, &v);
	} else {
		r = dbus_message_new_error(msg, "org.freedesktop.DBus.Error.UnknownObject", "no");
	}
	dbus_connection_send(c, r, NULL);
	dbus_message_unref(r);
	return DBUS_HANDLER_RESULT_HANDLED;
}

#define SVC_LIVE "com.victronenergy.battery.ttyUSB3"

static pid_t live_start(void)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	DBusConnection *c = dbus_connection_open_private(bus.address, NULL);
	static const DBusObjectPathVTable vt = {.message_function = live_handler};
	if (!c || !dbus_bus_register(c, NULL) ||
	    !dbus_connection_register_fallback(c, "/", &vt, NULL) ||
	    dbus_bus_request_name(c, SVC_LIVE, DBUS_NAME_FLAG_DO_NOT_QUEUE, NULL) !=
		    DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER)
		_exit(1);
	while (dbus_connection_read_write_dispatch(c, -1))
		;
	_exit(0);
}

static void test_live_instance_not_stolen(void)
{
	CU_ASSERT_FATAL(setup(seed_jbd) == 0);
	pid_t live = live_start();
	CU_ASSERT_FATAL(live > 0);
	CU_ASSERT_FATAL(wait_owned(SVC_LIVE));
	expect_int(SVC_LIVE, "/DeviceInstance", 1);

	CU_ASSERT_FATAL(start_publisher() == 0);
	commit(KEY_A, "ttyUSB0", "2023-05-17");
	CU_ASSERT(wait_owned(SVC_A));
	expect_int(SVC_A, "/DeviceInstance", (int32_t)pcfg.device_instance);
	expect_str(SETTINGS, OURS_A "/CustomName", "");
	expect_default_name(SVC_A, "(ttyUSB0");
	expect_str(SETTINGS, OLD_JBD "/ClassAndVrmInstance", "battery:1");
	expect_str(SETTINGS, OLD_JBD "/CustomName", "House LFP");

	tb_reap(live);
	teardown();
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"sole pack takes over instance 1 and the name; a second start keeps ours",
		 test_sole_pack_takes_over},
		{"id match takes its entry, no match gets device_instance",
		 test_id_match_and_no_match},
		{"JBD packs by version and capacity", test_jbd_packs_by_version_and_capacity},
		{"an instance a live service uses is not taken", test_live_instance_not_stolen},
		{NULL, NULL}};
	return sb_add_suite("migrate from dbus-serialbattery", tests);
}
