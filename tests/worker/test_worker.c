/* SPDX-License-Identifier: MIT */
/*
 * The worker thread against the real simulator on a pty: whole snapshots in
 * the store, corrupted replies never published, silence -> stale -> recovery
 * without a restart, unplug -> -ENODEV with no fd or thread leak, two packs on
 * one bus where one goes silent. Conditions are awaited with generous
 * deadlines; nothing asserts on speed.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/sbtime.h"
#include "tests/support/cunit_main.h"
#include "tests/worker/wtest.h"
#include "worker/detect.h"
#include "worker/worker.h"

#define LONG_WAIT 30000u

struct slot_wait {
	struct store *st;
	const char *key;
	uint64_t min_cycles;
	int slot;
	struct store_record rec;
};

static bool online_with_cycles(void *arg)
{
	struct slot_wait *w = arg;
	w->slot = wt_find_slot(w->st, w->key, &w->rec);
	return w->slot >= 0 && w->rec.state == STORE_ONLINE &&
	       w->rec.info.cycles_ok >= w->min_cycles;
}

static bool stale_now(void *arg)
{
	struct slot_wait *w = arg;
	w->slot = wt_find_slot(w->st, w->key, &w->rec);
	return w->slot >= 0 && store_record_stale(&w->rec, time_mono_ms(), 800);
}

static bool timeouts_counted(void *arg)
{
	struct slot_wait *w = arg;
	w->slot = wt_find_slot(w->st, w->key, &w->rec);
	return w->slot >= 0 && w->rec.info.timeouts > 0;
}

static bool expected_values(const struct bms_snapshot *s)
{
	struct bms_snapshot want;
	wt_snapshot(&want);
	if (!(s->valid & BMS_V_CELLS) || s->cell_count != want.cell_count)
		return false;
	for (unsigned i = 0; i < want.cell_count; i++)
		if (s->cell_mv[i] != want.cell_mv[i])
			return false;
	if ((s->valid & BMS_V_VOLTAGE) && s->voltage_mv != want.voltage_mv)
		return false;
	if ((s->valid & BMS_V_SOC) && s->soc_cpct != want.soc_cpct)
		return false;
	return true;
}

static void test_online_and_stop(void)
{
	int fds0 = wt_count_fds(), thr0 = wt_count_threads();
	struct wt_sim sim;
	CU_ASSERT_FATAL(wt_sim_start(&sim, "jbd", NULL) == 0);
	struct store *st;
	CU_ASSERT_FATAL(store_new(4, &st) == 0);
	struct worker_params p;
	wt_worker_params(&p, sim.link, "usb-test-online");
	struct worker *w;
	CU_ASSERT_FATAL(worker_start(&p, st, &w) == 0);
	struct slot_wait sw = {.st = st, .key = "usb-test-online", .min_cycles = 3};
	CU_ASSERT(wt_wait(online_with_cycles, &sw, LONG_WAIT));
	CU_ASSERT(wt_count_threads() == thr0 + 1); /* the worker, named: the count sees it */
	CU_ASSERT(expected_values(&sw.rec.snap));
	CU_ASSERT_STRING_EQUAL(sw.rec.info.protocol, "jbd");
	CU_ASSERT_STRING_EQUAL(sw.rec.info.tty, "tty");
	CU_ASSERT(!worker_finished(w));
	worker_stop(w);
	CU_ASSERT(worker_finished(w));
	CU_ASSERT(worker_exit_status(w) == 0);
	struct store_record r;
	CU_ASSERT(store_read(st, sw.slot, &r) == 0 && r.state == STORE_GONE);
	worker_free(w);
	wt_sim_stop(&sim);
	store_free(st);
	CU_ASSERT(wt_count_fds() == fds0);
	CU_ASSERT(wt_count_threads() == thr0);
}

static void test_corrupt_never_published(void)
{
	struct wt_sim sim;
	const char *extra[] = {"--corrupt-rate", "0.2", NULL};
	CU_ASSERT_FATAL(wt_sim_start(&sim, "jbd", extra) == 0);
	struct store *st;
	CU_ASSERT_FATAL(store_new(4, &st) == 0);
	struct worker_params p;
	wt_worker_params(&p, sim.link, "usb-test-corrupt");
	p.port.poll_interval = 0.05;
	struct worker *w;
	CU_ASSERT_FATAL(worker_start(&p, st, &w) == 0);
	struct slot_wait sw = {.st = st, .key = "usb-test-corrupt", .min_cycles = 1};
	CU_ASSERT_FATAL(wt_wait(online_with_cycles, &sw, LONG_WAIT));
	/* watch every commit until 30 good cycles and some bad frames were seen */
	uint64_t seq = 0, commits = 0, wrong = 0, end = time_mono_ms() + 60000;
	struct store_record r = {0};
	while (time_mono_ms() < end) {
		store_read(st, sw.slot, &r);
		if (r.seq != seq) {
			seq = r.seq;
			commits++;
			if (!expected_values(&r.snap))
				wrong++;
		}
		if (r.info.cycles_ok >= 30 && r.info.frames_bad > 0)
			break;
		poll(NULL, 0, 2);
	}
	CU_ASSERT(wrong == 0);
	CU_ASSERT(commits > 0);
	CU_ASSERT(r.info.frames_bad > 0);
	CU_ASSERT(r.info.cycles_ok >= 30);
	printf("\n    %llu good cycles, %llu bad frames, %llu timeouts ",
	       (unsigned long long)r.info.cycles_ok, (unsigned long long)r.info.frames_bad,
	       (unsigned long long)r.info.timeouts);
	worker_free(w);
	wt_sim_stop(&sim);
	store_free(st);
}

static void test_silence_stale_recover(void)
{
	struct wt_sim sim;
	CU_ASSERT_FATAL(wt_sim_start(&sim, "jbd", NULL) == 0);
	struct store *st;
	CU_ASSERT_FATAL(store_new(4, &st) == 0);
	struct worker_params p;
	wt_worker_params(&p, sim.link, "usb-test-silence");
	struct worker *w;
	CU_ASSERT_FATAL(worker_start(&p, st, &w) == 0);
	struct slot_wait sw = {.st = st, .key = "usb-test-silence", .min_cycles = 2};
	CU_ASSERT_FATAL(wt_wait(online_with_cycles, &sw, LONG_WAIT));
	/* the simulator stops answering: the slot goes stale, the worker stays */
	kill(sim.proc.pid, SIGUSR1);
	CU_ASSERT(wt_wait(stale_now, &sw, LONG_WAIT));
	uint64_t cycles = sw.rec.info.cycles_ok;
	CU_ASSERT(wt_wait(timeouts_counted, &sw, LONG_WAIT));
	CU_ASSERT(!worker_finished(w));
	/* and answers again: fresh commits, not stale, same worker */
	kill(sim.proc.pid, SIGUSR1);
	sw.min_cycles = cycles + 2;
	CU_ASSERT(wt_wait(online_with_cycles, &sw, LONG_WAIT));
	CU_ASSERT(!store_record_stale(&sw.rec, time_mono_ms(), 800) ||
		  wt_wait(online_with_cycles, &sw, LONG_WAIT));
	CU_ASSERT(!worker_finished(w));
	worker_free(w);
	wt_sim_stop(&sim);
	store_free(st);
}

static void test_unplug(void)
{
	int fds0 = wt_count_fds(), thr0 = wt_count_threads();
	struct wt_sim sim;
	CU_ASSERT_FATAL(wt_sim_start(&sim, "jbd", NULL) == 0);
	struct store *st;
	CU_ASSERT_FATAL(store_new(4, &st) == 0);
	int notify = eventfd(0, EFD_CLOEXEC);
	struct worker_params p;
	wt_worker_params(&p, sim.link, "usb-test-unplug");
	p.notify_fd = notify;
	struct worker *w;
	CU_ASSERT_FATAL(worker_start(&p, st, &w) == 0);
	struct slot_wait sw = {.st = st, .key = "usb-test-unplug", .min_cycles = 1};
	CU_ASSERT_FATAL(wt_wait(online_with_cycles, &sw, LONG_WAIT));
	wt_sim_stop(&sim); /* the pty master closes: the adapter is gone */
	struct pollfd pf = {.fd = notify, .events = POLLIN};
	CU_ASSERT(poll(&pf, 1, (int)LONG_WAIT) == 1);
	CU_ASSERT(worker_finished(w));
	CU_ASSERT(worker_exit_status(w) == -ENODEV);
	struct store_record r;
	CU_ASSERT(store_read(st, sw.slot, &r) == 0 && r.state == STORE_GONE);
	worker_free(w);
	close(notify);
	store_free(st);
	CU_ASSERT(wt_count_fds() == fds0);
	CU_ASSERT(wt_count_threads() == thr0);
}

/*
 * Two packs of an addressed family on one bus, pack 2 falls silent after
 * `second` (a spec "2,silent-after=S": later for a family found late in the
 * detection order, so both packs answer a cycle first).
 */
static void two_packs_one_silent(const char *name, const char *second)
{
	const struct bms_driver *drv = bms_driver_find(name);
	if (!drv) {
		printf("\n    (%s not registered: skipped) ", name);
		return;
	}
	struct wt_sim sim;
	const char *extra[] = {"--address", "1", "--address", second, NULL};
	CU_ASSERT_FATAL(wt_sim_start(&sim, name, extra) == 0);
	struct store *st;
	CU_ASSERT_FATAL(store_new(4, &st) == 0);
	struct worker_params p;
	wt_worker_params(&p, sim.link, "usb-test-bus");
	p.port.addresses.n = 2;
	p.port.addresses.v[0] = 1;
	p.port.addresses.v[1] = 2;
	p.port.poll_interval = 0.3;
	struct worker *w;
	CU_ASSERT_FATAL(worker_start(&p, st, &w) == 0);
	struct slot_wait a = {.st = st, .key = "usb-test-bus__0x01", .min_cycles = 1};
	struct slot_wait b = {.st = st, .key = "usb-test-bus__0x02", .min_cycles = 1};
	CU_ASSERT(wt_wait(online_with_cycles, &a, LONG_WAIT));
	CU_ASSERT(wt_wait(online_with_cycles, &b, LONG_WAIT));
	CU_ASSERT(a.slot != b.slot);
	/* pack 2 goes silent: it turns stale while pack 1 keeps updating */
	CU_ASSERT(wt_wait(stale_now, &b, LONG_WAIT));
	a.min_cycles = a.rec.info.cycles_ok + 3;
	CU_ASSERT(wt_wait(online_with_cycles, &a, LONG_WAIT));
	CU_ASSERT(!store_record_stale(&a.rec, time_mono_ms(), 800) ||
		  wt_wait(online_with_cycles, &a, LONG_WAIT));
	CU_ASSERT(expected_values(&a.rec.snap));
	CU_ASSERT(!worker_finished(w));
	worker_free(w);
	wt_sim_stop(&sim);
	store_free(st);
}

static void test_two_packs_one_silent(void)
{
	two_packs_one_silent("jkpb", "2,silent-after=3");
}

/* The '~' ASCII families (issue 18 item 3): ADR 0 and 1 on one line. */
static void test_two_packs_one_silent_seplos_v2(void)
{
	CU_ASSERT_FATAL(bms_driver_find("seplos_v2") != NULL);
	two_packs_one_silent("seplos_v2", "2,silent-after=9");
}

static void test_two_packs_one_silent_pace(void)
{
	CU_ASSERT_FATAL(bms_driver_find("pace") != NULL);
	two_packs_one_silent("pace", "2,silent-after=9");
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"online_and_stop", test_online_and_stop},
		{"corrupt_never_published", test_corrupt_never_published},
		{"silence_stale_recover", test_silence_stale_recover},
		{"unplug", test_unplug},
		{"two_packs_one_silent", test_two_packs_one_silent},
		{"two_packs_one_silent_seplos_v2", test_two_packs_one_silent_seplos_v2},
		{"two_packs_one_silent_pace", test_two_packs_one_silent_pace},
		{NULL, NULL},
	};
	if (!wt_have_simulator()) {
		fprintf(stderr, "simulator missing: build the serialbattery target\n");
		return -1;
	}
	return sb_add_suite("worker_thread", tests);
}
