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
 *    The first commit of a pack is never handed off: creating its service (a
 *    bus connection and its round trips) is the thread's.
 * 2. Two workers committing at once while a client keeps the thread busy with
 *    GetValue: both paths (the hand-off and the wake-up) race, one owner of
 *    D-Bus at a time; each pack's last value is the one published. Run it
 *    under ThreadSanitizer (-DSB_SANITIZE=thread, ctest -L thread).
 * 3. What may block stays with the thread: a commit whose cycle has a state
 *    file to write (the history, once a minute) or a pulled pack's service to
 *    remove is handed back, and the thread does it.
 * 4. A full socket: with the bus daemon stopped (SIGSTOP) the worker's sends
 *    queue in libdbus, never block; the commits are handed back while a queue
 *    is left, the thread writes it out once the daemon runs again, the last
 *    value arrives and hand-offs resume.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus_fixture.h"
#include "charge/charge.h"
#include "common/store.h"
#include "publish/publish.h"
#include "publish/publish_config.h"
#include "publish/service.h"
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
static char state_dir[] = "/tmp/sb-handoff.XXXXXX";
static bool made_state_dir;

static int suite_clean(void)
{
	/* the state directory only once mkdtemp() made it (its name may well end in 'X') */
	return tb_teardown(&pub, &cli, &st, &bus, made_state_dir ? state_dir : NULL);
}

/* CUnit does not call a suite's clean function when its init fails: undo here. */
static int suite_init(void)
{
	made_state_dir = mkdtemp(state_dir) != NULL;
	if (!made_state_dir || tb_config_defaults(&pcfg, &ccfg) < 0 || tb_bus_start(&bus) < 0 ||
	    tb_settings_start(&bus) < 0 || (cli = tb_connect(bus.address)) == NULL ||
	    store_new(2, &st) < 0 || store_open(st, "usb-handoff-a", &slot_a) < 0 ||
	    store_open(st, "usb-handoff-b", &slot_b) < 0)
		goto fail;
	/* no timer wake-ups of the thread while the test runs: the clock stands still and
	 * the packs commit more often than every interval */
	pcfg.interval_ms = 60000;
	if (tb_publisher_start_handoff(bus.address, &pcfg, &ccfg, state_dir, &fake_now, st, &pub) <
	    0)
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
	struct publish_stats before, after;
	publish_get_stats(pub, &before);
	CU_ASSERT_FATAL(commit(slot_a, "ttyUSB4", 1, 9000) == 0);
	/* the first commit registers the service: the thread's work, not a worker's */
	publish_get_stats(pub, &after);
	CU_ASSERT(after.handoffs == before.handoffs);
	CU_ASSERT_FATAL(tb_until_d(cli, SVC_A, "/Soh", 'd', 90.0));
	char owner[128], rule[256];
	owner_of(SVC_A, owner, sizeof(owner));
	CU_ASSERT_FATAL(owner[0] != 0);
	snprintf(rule, sizeof(rule), "type='signal',sender='%s',member='ItemsChanged'", owner);
	tb_add_match(cli, rule);

	int handed = 0;
	double prev = 90.0;
	for (int k = 1; k <= TRIES && handed < 3; k++) {
		uint16_t soh = (uint16_t)(9000 - k * 10);
		publish_get_stats(pub, &before);
		CU_ASSERT_FATAL(commit(slot_a, "ttyUSB4", (uint64_t)k + 1, soh) == 0);
		publish_get_stats(pub, &after);
		if (after.handoffs == before.handoffs + 1)
			handed++;
		/* this change, whether the worker or the thread sent it. Before it may come
		 * only what the registration still sends (the whole tree once the name is
		 * granted, the settings' answers), which can reach us after GetValue already
		 * answered: other paths, or /Soh at the value held until now */
		for (;;) {
			DBusMessage *sig = tb_wait_signal(cli, "ItemsChanged", "/", owner, WAIT_MS);
			CU_ASSERT_FATAL(sig != NULL);
			struct tb_val v;
			bool has = tb_items_get(sig, "/Soh", &v) == 0;
			dbus_message_unref(sig);
			if (has && v.type == 'd' && v.d == soh / 100.0)
				break;
			CU_ASSERT(!has || (v.type == 'd' && v.d == prev));
			if (has && !(v.type == 'd' && v.d == prev))
				printf("\n  /Soh %.2f when %.2f was sent ", v.d, soh / 100.0);
		}
		prev = soh / 100.0;
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
	printf("\n  hand-offs %llu, handed back %llu ", (unsigned long long)s.handoffs,
	       (unsigned long long)s.handbacks);
}

static bool file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* A commit until one runs the cycle outside the thread (handed off or handed back, not
 * found the thread awake); its publish stats before and after. */
static void commit_until_tried(int slot, const char *tty, uint16_t soh, struct publish_stats *pre,
			       struct publish_stats *post)
{
	for (int k = 0; k < TRIES; k++) {
		publish_get_stats(pub, pre);
		CU_ASSERT_FATAL(commit(slot, tty, 1000 + (uint64_t)k, (uint16_t)(soh - k)) == 0);
		publish_get_stats(pub, post);
		if (post->handoffs + post->handbacks > pre->handoffs + pre->handbacks)
			return;
		usleep(20000); /* the thread was awake: let it sleep again */
	}
	CU_FAIL("no commit found the publisher asleep");
}

static void test_blocking_work_is_the_threads(void)
{
	char sid[STORE_KEY_LEN], hist[sizeof(state_dir) + STORE_KEY_LEN + 32];
	publish_sanitize("usb-handoff-a", sid, sizeof(sid));
	snprintf(hist, sizeof(hist), "%s/history_%s.state", state_dir, sid);
	/* the history is written once a minute: a minute on, with a change to write */
	for (int k = 0; k < 100 && !file_exists(hist); k++)
		usleep(20000);
	CU_ASSERT_FATAL(unlink(hist) == 0);
	atomic_fetch_add(&fake_now, 61000);
	struct publish_stats pre, post;
	commit_until_tried(slot_a, "ttyUSB4", 7000, &pre, &post);
	CU_ASSERT(post.handoffs == pre.handoffs && post.handbacks == pre.handbacks + 1);
	for (int k = 0; k < WAIT_MS / 20 && !file_exists(hist); k++)
		usleep(20000);
	CU_ASSERT(file_exists(hist));

	/* B pulled, fresh (connected): kept through the grace time, then its service removed,
	 * by the thread */
	CU_ASSERT_FATAL(commit(slot_b, "ttyUSB5", 10000, 8800) == 0);
	CU_ASSERT_FATAL(tb_until_d(cli, SVC_B, "/Soh", 'd', 88.0));
	CU_ASSERT_FATAL(store_close(st, slot_b) == 0);
	usleep(100000); /* the thread has seen it go (a grace time starts) */
	char owner[128];
	owner_of(SVC_B, owner, sizeof(owner));
	CU_ASSERT_FATAL(owner[0] != 0);
	atomic_fetch_add(&fake_now, (uint64_t)pcfg.gone_remove_after_s * 1000u + 100000u);
	commit_until_tried(slot_a, "ttyUSB4", 6000, &pre, &post);
	CU_ASSERT(post.handoffs == pre.handoffs && post.handbacks == pre.handbacks + 1);
	for (int k = 0; k < WAIT_MS / 20 && owner[0]; k++) {
		usleep(20000);
		owner_of(SVC_B, owner, sizeof(owner));
	}
	CU_ASSERT(owner[0] == 0);
	/* A goes on being handed off */
	for (int k = 0; k < TRIES; k++) {
		commit_until_tried(slot_a, "ttyUSB4", 5000, &pre, &post);
		if (post.handoffs > pre.handoffs)
			break;
	}
	CU_ASSERT(post.handoffs == pre.handoffs + 1);
}

static void test_full_socket_hands_back(void)
{
	struct publish_stats s0, s;
	publish_get_stats(pub, &s0);
	CU_ASSERT_FATAL(kill(bus.daemon, SIGSTOP) == 0);
	/* a few kB per commit at most: the socket's buffers fill within these */
	uint16_t soh = 0;
	int k;
	for (k = 0; k < 20000; k++) {
		soh = (uint16_t)(8000 + k % 1000);
		CU_ASSERT_FATAL(commit(slot_a, "ttyUSB4", 5000 + (uint64_t)k, soh) == 0);
		publish_get_stats(pub, &s);
		if (s.handbacks >= s0.handbacks + 3)
			break;
	}
	CU_ASSERT_FATAL(kill(bus.daemon, SIGCONT) == 0);
	printf("\n  %d commits until handed back ", k + 1);
	/* the commits went on (none blocked on the socket) until hand-backs came */
	CU_ASSERT(s.handbacks >= s0.handbacks + 3);
	CU_ASSERT(s.handoffs > s0.handoffs);
	CU_ASSERT(tb_until_d(cli, SVC_A, "/Soh", 'd', soh / 100.0));
	/* the queue written out by the thread, the worker publishes again */
	struct publish_stats pre, post;
	for (int j = 0; j < TRIES; j++) {
		commit_until_tried(slot_a, "ttyUSB4", 4000, &pre, &post);
		if (post.handoffs > pre.handoffs)
			break;
		usleep(20000);
	}
	CU_ASSERT(post.handoffs == pre.handoffs + 1);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"a commit published by its worker", test_commit_published_by_worker},
		{"two workers and the thread race", test_two_workers_race},
		{"blocking work is the thread's", test_blocking_work_is_the_threads},
		{"a full socket hands back", test_full_socket_hands_back},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("publish hand-off", suite_init, suite_clean, tests);
}
