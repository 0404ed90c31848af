/* SPDX-License-Identifier: MIT */
/*
 * Silence at rest, through the real publisher on a private dbus-daemon: a
 * pack whose readings do not change sends no ItemsChanged, except the
 * diagnostic paths that move at rest (poll counters, the minutes since the
 * last full charge), which go out together at most once a minute of publish
 * clock (a fake clock the test advances). With the deadbands configured, a
 * reading that flickers within them sends nothing either, and a move of the
 * band's size is sent.
 */
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

#define SVC "com.victronenergy.battery.ttyUSB3"
#define WAIT_MS 15000

static _Atomic uint64_t fake_now = 3000000;
static struct tb_bus bus;
static DBusConnection *cli;
static struct store *st;
static struct publish *pub;
static int slot = -1;
static uint64_t cycles;
static char owner[128];

static int suite_clean(void)
{
	if (cli)
		tb_disconnect(cli);
	cli = NULL;
	tb_bus_stop(&bus);
	return 0;
}

/* CUnit does not call a suite's clean function when its init fails: undo here. */
static int suite_init(void)
{
	if (tb_bus_start(&bus) == 0 && tb_settings_start(&bus) == 0 &&
	    (cli = tb_connect(bus.address)) != NULL)
		return 0;
	suite_clean();
	return -1;
}

/* A publisher with pcfg for one pack on ttyUSB3, its first snapshot s published. */
static void start(const struct publish_config *pcfg, const struct charge_config *ccfg,
		  const struct bms_snapshot *s)
{
	CU_ASSERT_FATAL(store_new(1, &st) == 0);
	CU_ASSERT_FATAL(store_open(st, "usb-idle-if00", &slot) == 0);
	CU_ASSERT_FATAL(tb_publisher_start(bus.address, pcfg, ccfg, "", &fake_now, st, &pub) == 0);
	cycles = 1;
	CU_ASSERT_FATAL(tb_commit(st, slot, "ttyUSB3", "jk", cycles, s, atomic_load(&fake_now)) ==
			0);
	CU_ASSERT_FATAL(tb_until(cli, SVC, "/Link/PollCycles",
				 &(struct tb_val){.type = 'i', .i = 1}, WAIT_MS));
	tb_owner(cli, SVC, owner, sizeof(owner));
	char rule[256];
	snprintf(rule, sizeof(rule), "type='signal',sender='%s',member='ItemsChanged'", owner);
	tb_add_match(cli, rule);
}

static void stop(void)
{
	char rule[256];
	snprintf(rule, sizeof(rule), "type='signal',sender='%s',member='ItemsChanged'", owner);
	dbus_bus_remove_match(cli, rule, NULL);
	publish_free(pub);
	pub = NULL;
	store_free(st);
	st = NULL;
	DBusMessage *m;
	while ((m = tb_wait_signal(cli, "ItemsChanged", NULL, NULL, 0)))
		dbus_message_unref(m);
}

/*
 * One poll a second on: commit s, wait until the publisher has filled it
 * (GetValue shows the new counter; its reply follows any signal of that fill,
 * one sender, in order), and return the ItemsChanged it sent (NULL: none).
 */
static DBusMessage *poll_once(const struct bms_snapshot *s)
{
	atomic_fetch_add(&fake_now, 1000);
	cycles++;
	CU_ASSERT_FATAL(tb_commit(st, slot, "ttyUSB3", "jk", cycles, s, atomic_load(&fake_now)) ==
			0);
	CU_ASSERT_FATAL(tb_until(cli, SVC, "/Link/PollCycles",
				 &(struct tb_val){.type = 'i', .i = (int32_t)cycles}, WAIT_MS));
	DBusMessage *sig = tb_wait_signal(cli, "ItemsChanged", "/", owner, 0), *more;
	while (sig && (more = tb_wait_signal(cli, "ItemsChanged", "/", owner, 0))) {
		dbus_message_unref(sig);
		sig = more;
		CU_FAIL("two ItemsChanged for one poll");
	}
	return sig;
}

/* The paths that move at rest and may go out once a minute. */
static int not_diagnostic(const char *key, void *ctx)
{
	(void)ctx;
	bool diag = strncmp(key, "/Link/", 6) == 0 ||
		    strcmp(key, "/History/TimeSinceLastFullCharge") == 0;
	if (!diag)
		printf("\n    at rest: %s changed", key);
	return !diag;
}

/*
 * A full pack at rest: nothing but the diagnostic paths, and those at most
 * once a minute. The minutes since the full charge run from another moment
 * than the counters' minute (the pack reaches 100 % half a minute after the
 * counters went out): both on one signal a minute, never two.
 */
static void test_idle_silent(void)
{
	struct publish_config pcfg;
	struct charge_config ccfg;
	CU_ASSERT_FATAL(tb_config_defaults(&pcfg, &ccfg) == 0);
	struct bms_snapshot s = tb_snap(52800, 0, 9990, 100000);
	start(&pcfg, &ccfg, &s);
	/* settle: until the counters go out alone (their minute starts there) */
	bool alone = false;
	for (int k = 0; k < 200 && !alone; k++) {
		DBusMessage *sig = poll_once(&s);
		alone = sig && tb_items_each(sig, not_diagnostic, NULL) == 0;
		if (sig)
			dbus_message_unref(sig);
	}
	CU_ASSERT_FATAL(alone);
	for (int k = 0; k < 30; k++) {
		DBusMessage *sig = poll_once(&s);
		if (sig)
			dbus_message_unref(sig);
	}
	s.soc_cpct = 10000; /* full: the minutes since the full charge start now */
	s.capacity_remain_mah = s.capacity_full_mah;
	for (int k = 0; k < 5; k++) {
		DBusMessage *sig = poll_once(&s);
		if (sig)
			dbus_message_unref(sig);
	}
	/* the window: four minutes at rest */
	int last = -1000, sent = 0;
	for (int k = 0; k < 240; k++) {
		DBusMessage *sig = poll_once(&s);
		if (!sig)
			continue;
		sent++;
		CU_ASSERT(tb_items_each(sig, not_diagnostic, NULL) == 0);
		if (k - last < 60)
			printf("\n    signals %d s apart", k - last);
		CU_ASSERT(k - last >= 60);
		last = k;
		dbus_message_unref(sig);
	}
	CU_ASSERT(sent >= 3 && sent <= 4); /* the counters did go out, once a minute */
	struct tb_val v;
	CU_ASSERT(tb_get_value(cli, SVC, "/History/TimeSinceLastFullCharge", &v) == 0 &&
		  v.type == 'i' && v.i == 240);
	stop();
}

static void set_cell(struct bms_snapshot *s, int cell, int32_t mv)
{
	s->voltage_mv += mv - s->cell_mv[cell];
	s->cell_mv[cell] = (uint16_t)mv;
}

/*
 * Deadbands: cells flickering by 1 mV (the lowest and the highest among
 * them, inside the extremes the history has seen) and a sensor by 0.1 degC
 * send nothing; a cell 2 mV off (the band) is sent.
 */
static void test_deadbands(void)
{
	struct publish_config pcfg;
	struct charge_config ccfg;
	CU_ASSERT_FATAL(tb_config_defaults(&pcfg, &ccfg) == 0);
	pcfg.deadband_cell_voltage = 0.002;
	pcfg.deadband_temperature = 0.5;
	struct bms_snapshot s = tb_snap(52800, 0, 8000, 100000);
	start(&pcfg, &ccfg, &s);
	for (int k = 0; k < 120; k++) { /* settle past the first minute */
		DBusMessage *sig = poll_once(&s);
		if (sig)
			dbus_message_unref(sig);
	}
	int loud = 0;
	for (int k = 0; k < 50; k++) {
		/* in pairs, one up and one down: the pack voltage stays */
		set_cell(&s, 0, k % 2 ? 3301 : 3300);
		set_cell(&s, 6, k % 2 ? 3319 : 3320); /* the highest */
		set_cell(&s, 2, k % 3 ? 3291 : 3290); /* the lowest */
		set_cell(&s, 4, k % 3 ? 3299 : 3300);
		s.temp_dc[0] = (int16_t)(k % 2 ? 251 : 250);
		DBusMessage *sig = poll_once(&s);
		if (sig) {
			loud += tb_items_each(sig, not_diagnostic, NULL);
			dbus_message_unref(sig);
		}
	}
	CU_ASSERT(loud == 0);
	struct tb_val v;
	CU_ASSERT(tb_get_value(cli, SVC, "/Voltages/Cell1", &v) == 0 && v.type == 'd' &&
		  v.d == 3.3);
	set_cell(&s, 0, 3302); /* 2 mV: the band, sent */
	DBusMessage *sig = poll_once(&s);
	CU_ASSERT_FATAL(sig != NULL);
	CU_ASSERT(tb_items_get(sig, "/Voltages/Cell1", &v) == 0 && v.type == 'd' && v.d == 3.302);
	dbus_message_unref(sig);
	stop();
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"a pack at rest: one ItemsChanged a minute at most", test_idle_silent},
		{"deadbands: flicker within them is not sent", test_deadbands},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("idle", suite_init, suite_clean, tests);
}
