/* SPDX-License-Identifier: MIT */
/*
 * The publisher as a client of other services (publish/extsource.c), against
 * a real dbus-daemon with the settings stand-in: an external battery monitor
 * (a second battery service, owned here by the test process on a connection
 * of its own and served by a thread: GetItems, GetValue, ItemsChanged) as the
 * current and SOC source, and the ESS minimum SOC in settings as the target
 * of /TimeToGo; /CurrentAvg over its configured window. Time is the fake
 * clock of the data; waits have a failure deadline only.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus_fixture.h"
#include "charge/charge.h"
#include "common/store.h"
#include "publish/publish.h"
#include "publish/publish_config.h"
#include "tests/support/cunit_main.h"

#define SVC_A "com.victronenergy.battery.ttyUSB0"
#define SVC_B "com.victronenergy.battery.ttyUSB1"
#define SVC_AGG "com.victronenergy.battery.aggregate"
#define SHUNT "com.victronenergy.battery.shunt"
#define KEY_A "usb-FTDI_A1-if00"
#define KEY_B "usb-FTDI_B2-if00"
#define MIN_SOC "/Settings/CGwacs/BatteryLife/MinimumSocLimit"

static _Atomic uint64_t fake_now = 1000000;

static struct tb_bus bus;
static struct store *st;
static struct publish *pub;
static struct publish_config pcfg;
static struct charge_config ccfg;
static DBusConnection *cli;
static int slot_a, slot_b;
static uint64_t cycles = 1; /* /Link/PollCycles of the next commit */

/* ---- the external battery monitor: a second battery service on the bus ---- */

struct shunt_item {
	const char *path;
	char type; /* 'd' or 'i' */
	bool valid;
	double v;
};

static struct {
	DBusConnection *c;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t mu;
	struct shunt_item items[5];
} shunt = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void shunt_append(DBusMessageIter *it, const struct shunt_item *x)
{
	DBusMessageIter v, a;
	if (!x->valid) { /* Victron's invalid: an empty int32 array */
		dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "ai", &v);
		dbus_message_iter_open_container(&v, DBUS_TYPE_ARRAY, "i", &a);
		dbus_message_iter_close_container(&v, &a);
	} else if (x->type == 'i') {
		dbus_int32_t i = (dbus_int32_t)x->v;
		dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "i", &v);
		dbus_message_iter_append_basic(&v, DBUS_TYPE_INT32, &i);
	} else {
		dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "d", &v);
		dbus_message_iter_append_basic(&v, DBUS_TYPE_DOUBLE, &x->v);
	}
	dbus_message_iter_close_container(it, &v);
}

/* a{sa{sv}} of the items (mask: which), as GetItems answers and ItemsChanged carries. */
static void shunt_items(DBusMessage *m, unsigned mask)
{
	DBusMessageIter it, a, e, d, de, tv;
	dbus_message_iter_init_append(m, &it);
	dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sa{sv}}", &a);
	for (unsigned k = 0; k < 5; k++) {
		const struct shunt_item *x = &shunt.items[k];
		if (!(mask >> k & 1u))
			continue;
		char text[64];
		snprintf(text, sizeof(text), x->valid ? "%g" : "---", x->v);
		const char *kv = "Value", *kt = "Text", *tp = text;
		dbus_message_iter_open_container(&a, DBUS_TYPE_DICT_ENTRY, NULL, &e);
		dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &x->path);
		dbus_message_iter_open_container(&e, DBUS_TYPE_ARRAY, "{sv}", &d);
		dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &de);
		dbus_message_iter_append_basic(&de, DBUS_TYPE_STRING, &kv);
		shunt_append(&de, x);
		dbus_message_iter_close_container(&d, &de);
		dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &de);
		dbus_message_iter_append_basic(&de, DBUS_TYPE_STRING, &kt);
		dbus_message_iter_open_container(&de, DBUS_TYPE_VARIANT, "s", &tv);
		dbus_message_iter_append_basic(&tv, DBUS_TYPE_STRING, &tp);
		dbus_message_iter_close_container(&de, &tv);
		dbus_message_iter_close_container(&d, &de);
		dbus_message_iter_close_container(&e, &d);
		dbus_message_iter_close_container(&a, &e);
	}
	dbus_message_iter_close_container(&it, &a);
}

static DBusHandlerResult shunt_handler(DBusConnection *c, DBusMessage *msg, void *ctx)
{
	(void)ctx;
	if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_METHOD_CALL)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	const char *member = dbus_message_get_member(msg), *path = dbus_message_get_path(msg);
	DBusMessage *r = NULL;
	pthread_mutex_lock(&shunt.mu);
	if (strcmp(member, "GetItems") == 0 && strcmp(path, "/") == 0) {
		r = dbus_message_new_method_return(msg);
		shunt_items(r, 0x1f);
	} else if (strcmp(member, "GetValue") == 0) {
		for (unsigned k = 0; k < 5 && !r; k++)
			if (strcmp(path, shunt.items[k].path) == 0) {
				r = dbus_message_new_method_return(msg);
				DBusMessageIter it;
				dbus_message_iter_init_append(r, &it);
				shunt_append(&it, &shunt.items[k]);
			}
	}
	pthread_mutex_unlock(&shunt.mu);
	if (!r)
		r = dbus_message_new_error(msg, "org.freedesktop.DBus.Error.UnknownObject", path);
	dbus_connection_send(c, r, NULL);
	dbus_message_unref(r);
	return DBUS_HANDLER_RESULT_HANDLED;
}

static void *shunt_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&shunt.stop) && dbus_connection_read_write_dispatch(shunt.c, 20))
		;
	return NULL;
}

/* Own `name` with current_a and soc (paths first, then the name, as a Venus service). */
static int shunt_start(const char *name, double current_a, double soc)
{
	const struct shunt_item init[5] = {
		{"/Dc/0/Current", 'd', true, current_a},
		{"/Soc", 'd', true, soc},
		{"/Connected", 'i', true, 1},
		{"/DeviceInstance", 'i', true, 277},
		{"/Dc/0/Voltage", 'd', true, 52.1},
	};
	memcpy(shunt.items, init, sizeof(init));
	shunt.c = tb_connect(bus.address);
	if (!shunt.c)
		return -1;
	static const DBusObjectPathVTable vt = {.message_function = shunt_handler};
	dbus_connection_register_fallback(shunt.c, "/", &vt, NULL);
	DBusError err;
	dbus_error_init(&err);
	if (dbus_bus_request_name(shunt.c, name, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err) !=
	    DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) {
		dbus_error_free(&err);
		return -1;
	}
	atomic_store(&shunt.stop, false);
	return pthread_create(&shunt.thread, NULL, shunt_main, NULL) == 0 ? 0 : -1;
}

/* Change one item (valid false: invalid) and send it in an ItemsChanged. */
static void shunt_set(const char *path, bool valid, double v)
{
	DBusMessage *m = dbus_message_new_signal("/", "com.victronenergy.BusItem", "ItemsChanged");
	pthread_mutex_lock(&shunt.mu);
	unsigned mask = 0;
	for (unsigned k = 0; k < 5; k++)
		if (strcmp(shunt.items[k].path, path) == 0) {
			shunt.items[k].valid = valid;
			shunt.items[k].v = v;
			mask = 1u << k;
		}
	shunt_items(m, mask);
	pthread_mutex_unlock(&shunt.mu);
	dbus_connection_send(shunt.c, m, NULL);
	dbus_connection_flush(shunt.c);
	dbus_message_unref(m);
}

/* One item in a PropertiesChanged on its own path (what velib sends for a single update). */
static void shunt_prop(const char *path, double v)
{
	DBusMessage *m =
		dbus_message_new_signal(path, "com.victronenergy.BusItem", "PropertiesChanged");
	struct shunt_item *x = NULL;
	pthread_mutex_lock(&shunt.mu);
	for (unsigned k = 0; k < 5; k++)
		if (strcmp(shunt.items[k].path, path) == 0)
			x = &shunt.items[k];
	x->valid = true;
	x->v = v;
	DBusMessageIter it, a, e, tv;
	char text[64];
	snprintf(text, sizeof(text), "%g", v);
	const char *kv = "Value", *kt = "Text", *tp = text;
	dbus_message_iter_init_append(m, &it);
	dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &a);
	dbus_message_iter_open_container(&a, DBUS_TYPE_DICT_ENTRY, NULL, &e);
	dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &kv);
	shunt_append(&e, x);
	dbus_message_iter_close_container(&a, &e);
	dbus_message_iter_open_container(&a, DBUS_TYPE_DICT_ENTRY, NULL, &e);
	dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &kt);
	dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "s", &tv);
	dbus_message_iter_append_basic(&tv, DBUS_TYPE_STRING, &tp);
	dbus_message_iter_close_container(&e, &tv);
	dbus_message_iter_close_container(&a, &e);
	dbus_message_iter_close_container(&it, &a);
	pthread_mutex_unlock(&shunt.mu);
	dbus_connection_send(shunt.c, m, NULL);
	dbus_connection_flush(shunt.c);
	dbus_message_unref(m);
}

/* The monitor leaves the bus (its connection closes: its name goes with it). */
static void shunt_stop(void)
{
	if (!shunt.c)
		return;
	atomic_store(&shunt.stop, true);
	pthread_join(shunt.thread, NULL);
	tb_disconnect(shunt.c);
	shunt.c = NULL;
}

/* ---- settings ---- */

/* AddSettings of the ESS minimum SOC with a default (the stand-in keeps it afterwards). */
static int settings_add_min_soc(double def)
{
	return tb_add_setting(cli, "/Settings", "CGwacs/BatteryLife/MinimumSocLimit",
			      &(struct tb_val){.type = 'd', .d = def});
}

static int settings_set_min_soc(double v)
{
	struct tb_val w;
	memset(&w, 0, sizeof(w));
	w.type = 'd';
	w.d = v;
	return tb_set_value(cli, "com.victronenergy.settings", MIN_SOC, &w);
}

/* ---- the publisher ---- */

static int suite_init(void)
{
	if (tb_bus_start(&bus) < 0 || tb_settings_start(&bus) < 0)
		return -1;
	cli = tb_connect(bus.address);
	return cli ? 0 : -1;
}

static int suite_clean(void)
{
	if (cli)
		tb_disconnect(cli);
	cli = NULL;
	tb_bus_stop(&bus);
	return 0;
}

/* Defaults, a fast tick and the bank of packs A and B (bank_mode on) or none (off). */
static void config(int bank_mode)
{
	CU_ASSERT_FATAL(tb_config_defaults(&pcfg, &ccfg) == 0);
	pcfg.interval_ms = 100;
	pcfg.bank_mode = bank_mode;
	if (bank_mode == PUBLISH_BANK_ON) {
		pcfg.bank_packs.n = 2;
		snprintf(pcfg.bank_packs.v[0], CFG_STR, KEY_A);
		snprintf(pcfg.bank_packs.v[1], CFG_STR, KEY_B);
	}
}

static void start(void)
{
	CU_ASSERT_FATAL(store_new(4, &st) == 0);
	CU_ASSERT_FATAL(store_open(st, KEY_A, &slot_a) == 0);
	CU_ASSERT_FATAL(store_open(st, KEY_B, &slot_b) == 0);
	CU_ASSERT_FATAL(tb_publisher_start(bus.address, &pcfg, &ccfg, "", &fake_now, st, &pub) ==
			0);
}

static void stop(void)
{
	publish_free(pub);
	pub = NULL;
	store_free(st);
	st = NULL;
	shunt_stop();
}

static struct bms_snapshot mk_snap(int32_t current_ma, uint16_t soc_cpct, int32_t cap_mah)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		  BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS;
	s.voltage_mv = 52800;
	s.current_ma = current_ma;
	s.soc_cpct = soc_cpct;
	s.capacity_full_mah = cap_mah;
	s.capacity_remain_mah = (int32_t)((int64_t)cap_mah * soc_cpct / 10000);
	s.cell_count = 16;
	for (int k = 0; k < 16; k++)
		s.cell_mv[k] = 3300;
	s.temp_count = 1;
	s.temp_dc[0] = 250;
	s.charge_fet = s.discharge_fet = true;
	return s;
}

static void commit(int slot, const char *tty, const struct bms_snapshot *s)
{
	CU_ASSERT(tb_commit(st, slot, tty, "jk", cycles, s, atomic_load(&fake_now)) == 0);
}

/* One poll of the packs given (b may be NULL) one second on; waits until A's is published. */
static void step(const struct bms_snapshot *a, const struct bms_snapshot *b)
{
	atomic_fetch_add(&fake_now, 1000);
	cycles++;
	commit(slot_a, "ttyUSB0", a);
	if (b)
		commit(slot_b, "ttyUSB1", b);
	CU_ASSERT_FATAL(tb_until_d(cli, SVC_A, "/Link/PollCycles", 'i', (double)cycles));
	if (b)
		CU_ASSERT_FATAL(tb_until_d(cli, "com.victronenergy.battery.ttyUSB1",
					   "/Link/PollCycles", 'i', (double)cycles));
}

static bool stats_until(uint64_t *field_of(struct publish_stats *), uint64_t at_least)
{
	struct publish_stats s;
	for (int i = 0; i < 250; i++) {
		publish_get_stats(pub, &s);
		if (*field_of(&s) >= at_least)
			return true;
		usleep(20000);
	}
	return false;
}

static uint64_t *f_implausible(struct publish_stats *s)
{
	return &s->ext_implausible;
}
static uint64_t *f_refused(struct publish_stats *s)
{
	return &s->ext_refused;
}
static uint64_t *f_lost(struct publish_stats *s)
{
	return &s->ext_lost;
}

/* ---- tests ---- */

/*
 * A SmartShunt-like service supplies the bank's current and SOC: the bank
 * follows it, falls back to the packs' values when a value is implausible or
 * invalid, and when the monitor leaves the bus, without a new reading of the
 * packs or a tick of the data clock (the same publish cycle).
 */
static void test_bank_follows_external_source(void)
{
	config(PUBLISH_BANK_ON);
	snprintf(pcfg.external_source, CFG_STR, SHUNT);
	start();
	/* the packs: 12.5 A each (25 A), SOC 50 % of 100 Ah and 70 % of 300 Ah (65 %) */
	struct bms_snapshot a = mk_snap(12500, 5000, 100000), b = mk_snap(12500, 7000, 300000);
	step(&a, &b);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', 25.0));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 65.0));

	CU_ASSERT_FATAL(shunt_start(SHUNT, -30.5, 55.5) == 0);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', -30.5)); /* read by GetItems */
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 55.5));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Power", 'd', round(52.8 * -30.5 * 10) / 10));
	shunt_set("/Dc/0/Current", true, -40.25); /* then by ItemsChanged */
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', -40.25));
	step(&a, &b); /* a packs' reading does not bring their own current back */
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', -40.25));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 55.5));

	/* implausible values are counted and not used: the packs' values meanwhile */
	shunt_set("/Dc/0/Current", true, 1e6);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', 25.0));
	CU_ASSERT(stats_until(f_implausible, 1));
	shunt_set("/Soc", true, 250);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 65.0));
	CU_ASSERT(stats_until(f_implausible, 2));
	shunt_set("/Dc/0/Current", true, -20);
	shunt_set("/Soc", true, 60);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', -20.0));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 60.0));
	/* an invalid value (the monitor does not know it) is no value either */
	shunt_set("/Soc", false, 0);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 65.0));
	shunt_set("/Soc", true, 61);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 61.0));
	/* a single update as velib sends it */
	shunt_prop("/Dc/0/Current", -22.5);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', -22.5));
	/* the monitor has lost its shunt (/Connected 0): not used until it is back */
	shunt_set("/Connected", true, 0);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', 25.0));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 65.0));
	shunt_set("/Connected", true, 1);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', -22.5));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 61.0));

	/* it leaves the bus: the packs' values at once, the data clock standing still */
	shunt_stop();
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', 25.0));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 65.0));
	CU_ASSERT(stats_until(f_lost, 1));
	/* and back: followed again */
	CU_ASSERT_FATAL(shunt_start(SHUNT, -5, 42) == 0);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', -5.0));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 42.0));
	stop();
}

/* Without a bank, the only pack takes the monitor's values; two packs without a bank: none. */
static void test_pack_follows_external_source(void)
{
	config(PUBLISH_BANK_OFF);
	snprintf(pcfg.external_source, CFG_STR, SHUNT);
	start();
	struct bms_snapshot a = mk_snap(12500, 5000, 100000);
	step(&a, NULL);
	CU_ASSERT_FATAL(shunt_start(SHUNT, -7.5, 44) == 0);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Dc/0/Current", 'd', -7.5));
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Soc", 'd', 44.0));
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Dc/0/Power", 'd', round(52.8 * -7.5 * 10) / 10));
	step(&a, NULL);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Dc/0/Current", 'd', -7.5));
	/* a second pack: which one the shunt measures is unknown, so neither uses it */
	struct bms_snapshot b = mk_snap(12500, 7000, 300000);
	step(&a, &b);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Dc/0/Current", 'd', 12.5));
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Soc", 'd', 50.0));
	stop();
}

/*
 * A pack's charge.soc entry names the monitor (soc_source "service:..."):
 * that pack follows it, in a bank too; the other pack and the bank keep the
 * BMSes' values.
 */
static void test_pack_entry_names_the_source(void)
{
	config(PUBLISH_BANK_ON);
	ccfg.nsoc = 1;
	snprintf(ccfg.soc[0].pack, CFG_STR, KEY_B);
	snprintf(ccfg.soc[0].soc_source, CFG_STR, "service:%s", SHUNT);
	start();
	struct bms_snapshot a = mk_snap(12500, 5000, 100000), b = mk_snap(12500, 7000, 300000);
	step(&a, &b);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 65.0));
	CU_ASSERT_FATAL(shunt_start(SHUNT, -7.5, 44) == 0);
	CU_ASSERT(tb_until_d(cli, SVC_B, "/Dc/0/Current", 'd', -7.5));
	CU_ASSERT(tb_until_d(cli, SVC_B, "/Soc", 'd', 44.0));
	step(&a, &b);
	CU_ASSERT(tb_until_d(cli, SVC_B, "/Soc", 'd', 44.0));
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Dc/0/Current", 'd', 12.5));
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Soc", 'd', 50.0));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 65.0));
	/* it leaves the bus: pack B's own values again */
	shunt_stop();
	CU_ASSERT(tb_until_d(cli, SVC_B, "/Dc/0/Current", 'd', 12.5));
	CU_ASSERT(tb_until_d(cli, SVC_B, "/Soc", 'd', 70.0));
	stop();
	ccfg.nsoc = 0;
}

/* One of our own services named as the source is refused: the packs' values stay. */
static void test_own_service_refused(void)
{
	config(PUBLISH_BANK_ON);
	snprintf(pcfg.external_source, CFG_STR, SVC_A);
	start();
	struct bms_snapshot a = mk_snap(12500, 5000, 100000), b = mk_snap(12500, 7000, 300000);
	step(&a, &b);
	CU_ASSERT(stats_until(f_refused, 1));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', 25.0));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 65.0));
	stop();
	/* the bank's own name as well */
	config(PUBLISH_BANK_ON);
	snprintf(pcfg.external_source, CFG_STR, SVC_AGG);
	start();
	step(&a, &b);
	CU_ASSERT(stats_until(f_refused, 1));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', 25.0));
	stop();
}

/* /CurrentAvg is the mean over the configured window (60 s here), not over 300 readings. */
static void test_current_avg_window(void)
{
	config(PUBLISH_BANK_OFF);
	pcfg.current_avg_window_s = 60;
	start();
	struct bms_snapshot a = mk_snap(-10000, 8500, 100000);
	for (int k = 0; k < 60; k++)
		step(&a, NULL);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/CurrentAvg", 'd', -10.0));
	a.current_ma = 20000;
	for (int k = 0; k < 30; k++)
		step(&a, NULL);
	CU_ASSERT(
		tb_until_d(cli, SVC_A, "/CurrentAvg", 'd', 5.0)); /* 30 s of -10 A, 30 s of 20 A */
	for (int k = 0; k < 30; k++)
		step(&a, NULL);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/CurrentAvg", 'd',
			     20.0)); /* the -10 A have left the window */
	stop();
}

/*
 * /TimeToGo runs to the ESS minimum SOC from the averaged current, in whole
 * seconds; the configured SOC without the setting; invalid when charging.
 * /TimeToSoC/<p> for the configured points, in the direction of the current.
 */
static void test_time_to_go(void)
{
	config(PUBLISH_BANK_OFF);
	pcfg.current_avg_window_s = 60;
	pcfg.time_to_go_soc = 30;
	pcfg.time_to_soc_points.n = 2;
	pcfg.time_to_soc_points.v[0] = 20;
	pcfg.time_to_soc_points.v[1] = 90;
	start();
	/* 85 % of 100 Ah at -10 A */
	struct bms_snapshot a = mk_snap(-10000, 8500, 100000);
	for (int k = 0; k < 60; k++)
		step(&a, NULL);
	/* no MinimumSocLimit in settings yet: to 30 %, 55 Ah at 10 A */
	CU_ASSERT(tb_until_d(cli, SVC_A, "/TimeToGo", 'i', 19800));
	char text[32];
	CU_ASSERT(tb_get_text(cli, SVC_A, "/TimeToGo", text, sizeof(text)) == 0 &&
		  strcmp(text, "19800s") == 0);
	CU_ASSERT(tb_until_s(cli, SVC_A, "/TimeToSoC/20", "23400"));
	CU_ASSERT(tb_until_s(cli, SVC_A, "/TimeToSoC/90", NULL)); /* behind */

	/* the ESS minimum SOC appears (20 %), then changes (50 %) */
	CU_ASSERT_FATAL(settings_add_min_soc(25) == 0);
	CU_ASSERT_FATAL(settings_set_min_soc(20) == 0);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/TimeToGo", 'i', 23400)); /* (85-20) % of 100 Ah / 10 A */
	CU_ASSERT_FATAL(settings_set_min_soc(50) == 0);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/TimeToGo", 'i', 12600));

	/* a load step moves the momentary current, not the average */
	a.current_ma = -40000;
	step(&a, NULL);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Dc/0/Current", 'd', -40.0));
	struct tb_val v;
	CU_ASSERT(tb_get_value(cli, SVC_A, "/TimeToGo", &v) == 0 && v.type == 'i' &&
		  v.i == (int32_t)lround(35.0 * 100 * 36 / 10.5)); /* 60 readings, one at -40 */

	/* charging: no time to go; /TimeToSoC/90 counts up */
	a.current_ma = 10000;
	for (int k = 0; k < 60; k++)
		step(&a, NULL);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/TimeToGo", 'x', 0));
	CU_ASSERT(tb_until_s(cli, SVC_A, "/TimeToSoC/90", "1800")); /* 5 Ah at 10 A */
	CU_ASSERT(tb_until_s(cli, SVC_A, "/TimeToSoC/20", NULL));
	stop();
	CU_ASSERT(settings_set_min_soc(20) == 0);
}

/* The bank's /TimeToGo: its capacity, its averaged current, the ESS minimum SOC. */
static void test_bank_time_to_go(void)
{
	CU_ASSERT_FATAL(settings_add_min_soc(20) == 0);
	CU_ASSERT_FATAL(settings_set_min_soc(20) == 0);
	config(PUBLISH_BANK_ON);
	pcfg.current_avg_window_s = 60;
	start();
	struct bms_snapshot a = mk_snap(-10000, 8500, 100000), b = mk_snap(-10000, 8500, 100000);
	for (int k = 0; k < 60; k++)
		step(&a, &b);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/CurrentAvg", 'd', -20.0));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/TimeToGo", 'i', 23400)); /* 65 % of 200 Ah at 20 A */
	stop();
}

/* The bus restarts: the publisher's client connection comes back and reads the monitor again. */
static void test_bus_restart_reconnects(void)
{
	config(PUBLISH_BANK_ON);
	snprintf(pcfg.external_source, CFG_STR, SHUNT);
	start();
	struct bms_snapshot a = mk_snap(12500, 5000, 100000), b = mk_snap(12500, 7000, 300000);
	step(&a, &b);
	CU_ASSERT_FATAL(shunt_start(SHUNT, -30, 55) == 0);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', -30.0));
	shunt_stop();
	tb_disconnect(cli);
	CU_ASSERT_FATAL(tb_bus_restart(&bus) == 0);
	cli = tb_connect(bus.address);
	CU_ASSERT_FATAL(cli != NULL);
	CU_ASSERT_FATAL(shunt_start(SHUNT, -31, 56) == 0);
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Dc/0/Current", 'd', -31.0));
	CU_ASSERT(tb_until_d(cli, SVC_AGG, "/Soc", 'd', 56.0));
	stop();
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"the bank follows an external monitor, falls back",
		 test_bank_follows_external_source},
		{"the only pack follows an external monitor", test_pack_follows_external_source},
		{"a pack's soc_source names the monitor", test_pack_entry_names_the_source},
		{"our own service as source is refused", test_own_service_refused},
		{"/CurrentAvg over the configured window", test_current_avg_window},
		{"/TimeToGo to the ESS minimum SOC, /TimeToSoC", test_time_to_go},
		{"the bank's /TimeToGo", test_bank_time_to_go},
		{"bus restart: the monitor is read again", test_bus_restart_reconnects},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("publish external sources", suite_init, suite_clean, tests);
}
