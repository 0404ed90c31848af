/* SPDX-License-Identifier: MIT */
/*
 * The hand-off (publish_params.handoff, docs/ARCHITECTURE.md "Wake-ups"): a
 * worker that commits while the publisher thread sleeps in poll() runs the
 * publisher's cycle itself, so the commit's ItemsChanged is on its way when
 * store_commit() returns and the thread is not woken. Real publisher, real
 * dbus-daemon, the settings stand-in; the test's threads are the workers.
 *
 * 1. One pack: commits until one is handed off (the thread may be awake for
 *    its own reasons at any one commit: that one is handed back, and counted
 *    as such); every change arrives as one ItemsChanged with its value, in
 *    order, whoever sent it.
 * 2. Two workers committing at once while a client keeps the thread busy with
 *    GetValue: both paths (the hand-off and the wake-up) race, one owner of
 *    D-Bus at a time; each pack's last value is the one published. Run it
 *    under ThreadSanitizer (-DSB_SANITIZE=thread, ctest -L thread).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_fixture.h"
#include "charge/charge.h"
#include "common/store.h"
#include "publish/publish.h"
#include "publish/publish_config.h"
#include "tests/support/cunit_main.h"

#define SVC_A "com.victronenergy.battery.ttyUSB4"
#define SVC_B "com.victronenergy.battery.ttyUSB5"
#define WAIT_MS 15000
#define TRIES 50
#define RACE_COMMITS 300

static _Atomic uint64_t fake_now = 5000000;
static struct tb_bus bus;
static DBusConnection *cli;
static struct store *st;
static struct publish *pub;
static struct publish_config pcfg;
static struct charge_config ccfg;
static int slot_a = -1, slot_b = -1;

/* read from the workers' threads too: hence atomic */
static uint64_t clock_ms(void *ctx)
{
	return atomic_load((_Atomic uint64_t *)ctx);
}

static int suite_clean(void)
{
	publish_free(pub);
	pub = NULL;
	if (cli)
		tb_disconnect(cli);
	cli = NULL;
	store_free(st);
	st = NULL;
	tb_bus_stop(&bus);
	return 0;
}

/* CUnit does not call a suite's clean function when its init fails: undo here. */
static int suite_init(void)
{
	struct publish_params prm;
	memset(&prm, 0, sizeof(prm));
	if (tb_config_defaults(&pcfg, &ccfg) < 0 || tb_bus_start(&bus) < 0 ||
	    tb_settings_start(&bus) < 0 || (cli = tb_connect(bus.address)) == NULL ||
	    store_new(2, &st) < 0 || store_open(st, "usb-handoff-a", &slot_a) < 0 ||
	    store_open(st, "usb-handoff-b", &slot_b) < 0)
		goto fail;
	/* no timer wake-ups of the thread while the test runs: the clock stands still and
	 * the packs commit more often than every interval */
	pcfg.interval_ms = 60000;
	prm.bus_address = bus.address;
	prm.cfg = &pcfg;
	prm.charge = &ccfg;
	prm.clock_ms = clock_ms;
	prm.clock_ctx = &fake_now;
	prm.handoff = true;
	if (publish_start(&prm, st, &pub) < 0)
		goto fail;
	return 0;
fail:
	suite_clean();
	return -1;
}

static int commit(int slot, const char *tty, uint64_t cycles, uint16_t soh)
{
	struct bms_snapshot s = tb_snap(53220, 12500, 8500, 100000);
	s.valid |= BMS_V_SOH;
	s.soh_cpct = soh;
	return tb_commit(st, slot, tty, "jk", cycles, &s, atomic_load(&fake_now));
}

static void owner_of(const char *name, char *out, size_t len)
{
	tb_owner(cli, name, out, len);
}

static void test_commit_published_by_worker(void)
{
	CU_ASSERT_FATAL(commit(slot_a, "ttyUSB4", 1, 9000) == 0);
	/* the first commit registers the service: the thread's work, not a worker's */
	CU_ASSERT_FATAL(tb_until_d(cli, SVC_A, "/Soh", 'd', 90.0));
	char owner[128], rule[256];
	owner_of(SVC_A, owner, sizeof(owner));
	CU_ASSERT_FATAL(owner[0] != 0);
	snprintf(rule, sizeof(rule), "type='signal',sender='%s',member='ItemsChanged'", owner);
	tb_add_match(cli, rule);

	struct publish_stats before, after;
	publish_get_stats(pub, &before);
	int handed = 0;
	for (int k = 1; k <= TRIES && handed < 3; k++) {
		uint16_t soh = (uint16_t)(9000 - k * 10);
		publish_get_stats(pub, &before);
		CU_ASSERT_FATAL(commit(slot_a, "ttyUSB4", (uint64_t)k + 1, soh) == 0);
		publish_get_stats(pub, &after);
		if (after.handoffs == before.handoffs + 1)
			handed++;
		/* exactly this change, whether the worker or the thread sent it */
		DBusMessage *sig = tb_wait_signal(cli, "ItemsChanged", "/", owner, WAIT_MS);
		CU_ASSERT_FATAL(sig != NULL);
		struct tb_val v;
		CU_ASSERT(tb_items_get(sig, "/Soh", &v) == 0 && v.type == 'd' && v.d == soh / 100.0);
		dbus_message_unref(sig);
	}
	/* the thread sleeps between these commits (no timer, no client calls), so nearly
	 * every one is handed off; without the hand-off none is */
	CU_ASSERT(handed == 3);
}

struct racer {
	int slot;
	const char *tty;
	uint16_t last;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	for (int k = 0; k < RACE_COMMITS; k++) {
		r->last = (uint16_t)(5000 + (k % 4000));
		if (commit(r->slot, r->tty, (uint64_t)k + 100, r->last) < 0)
			return (void *)1;
	}
	return NULL;
}

static void test_two_workers_race(void)
{
	CU_ASSERT_FATAL(commit(slot_b, "ttyUSB5", 1, 9000) == 0);
	CU_ASSERT_FATAL(tb_until_d(cli, SVC_B, "/Soh", 'd', 90.0));
	struct racer ra = {slot_a, "ttyUSB4", 0}, rb = {slot_b, "ttyUSB5", 0};
	pthread_t ta, tb;
	CU_ASSERT_FATAL(pthread_create(&ta, NULL, racer_main, &ra) == 0);
	CU_ASSERT_FATAL(pthread_create(&tb, NULL, racer_main, &rb) == 0);
	/* method calls keep the thread awake now and then, so both paths are taken */
	struct tb_val v;
	for (int k = 0; k < 20; k++)
		CU_ASSERT(tb_get_value(cli, k % 2 ? SVC_A : SVC_B, "/Soh", &v) == 0);
	void *ra_ret, *rb_ret;
	pthread_join(ta, &ra_ret);
	pthread_join(tb, &rb_ret);
	CU_ASSERT(ra_ret == NULL && rb_ret == NULL);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Soh", 'd', ra.last / 100.0));
	CU_ASSERT(tb_until_d(cli, SVC_B, "/Soh", 'd', rb.last / 100.0));
	struct publish_stats s;
	publish_get_stats(pub, &s);
	printf("\n  hand-offs %llu, handed back %llu ",
	       (unsigned long long)s.handoffs, (unsigned long long)s.handbacks);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"a commit published by its worker", test_commit_published_by_worker},
		{"two workers and the thread race", test_two_workers_race},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("publish hand-off", suite_init, suite_clean, tests);
}
