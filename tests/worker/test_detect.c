/* SPDX-License-Identifier: MIT */
/*
 * Autodetection on real pseudo-terminals: each family with no hints, silent
 * and chattering ports rejected, pinned config, remembered protocol, wrong
 * baud (the simulator ignores requests at another line speed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bms/sim/sim.h"
#include "tests/support/cunit_main.h"
#include "tests/worker/wtest.h"
#include "worker/detect.h"

static const char *const families[] = {"jk", "jkpb", "jbd", "daly", NULL};

static void check_cells(const struct bms_snapshot *got)
{
	struct bms_snapshot want;
	wt_snapshot(&want);
	CU_ASSERT(got->valid & BMS_V_CELLS);
	CU_ASSERT(got->cell_count == want.cell_count);
	for (unsigned i = 0; i < want.cell_count; i++)
		CU_ASSERT(got->cell_mv[i] == want.cell_mv[i]);
}

/* Every family answering through its own simulator on a pty: found with no hints. */
static void test_each_family_no_hints(void)
{
	for (const char *const *f = families; *f; f++) {
		const struct bms_driver *drv = bms_driver_find(*f);
		if (!drv || !bms_sim_find(drv->name)) {
			printf("\n    (%s not registered yet: skipped) ", *f);
			continue;
		}
		struct wt_resp r;
		CU_ASSERT_FATAL(wt_resp_start(&r, drv) == 0); /* answers at the default address */
		struct worker_link *l;
		CU_ASSERT_FATAL(worker_link_open(r.slave, -1, &l) == 0);
		struct worker_detect_opts o = {.retries = 2, .quick = true};
		struct worker_detect_result res;
		int rc = worker_detect(l, &o, &res);
		CU_ASSERT(rc == 0);
		if (rc == 0) {
			CU_ASSERT(res.drv == drv);
			CU_ASSERT(res.baud == bms_driver_bauds(drv)[0]);
			CU_ASSERT(res.naddresses == 1);
			check_cells(&res.snap);
			printf("\n    %s: %u candidates, %llu ms ", drv->name, res.attempts,
			       (unsigned long long)res.elapsed_ms);
		}
		worker_link_close(l);
		wt_resp_stop(&r);
	}
}

/* The real simulator at each family's default baud, then at a wrong baud. */
static void test_simulator_families_and_wrong_baud(void)
{
	if (!wt_have_simulator()) {
		printf("\n    (simulator not built yet: skipped) ");
		return;
	}
	for (const char *const *f = families; *f; f++) {
		const struct bms_driver *drv = bms_driver_find(*f);
		if (!drv)
			continue;
		struct wt_sim s;
		if (wt_sim_start(&s, drv->name, NULL) != 0) {
			CU_FAIL("simulator did not start");
			continue;
		}
		struct worker_link *l;
		CU_ASSERT_FATAL(worker_link_open(s.link, -1, &l) == 0);
		struct worker_detect_opts o = {.retries = 2, .quick = true};
		struct worker_detect_result res;
		CU_ASSERT(worker_detect(l, &o, &res) == 0 && res.drv == drv &&
			  res.baud == bms_driver_bauds(drv)[0]);
		worker_link_close(l);
		wt_sim_stop(&s);

		/* a line speed no candidate of this family uses: nothing may match */
		const char *wrong = bms_driver_bauds(drv)[0] == 115200 ? "4800" : "57600";
		const char *extra[] = {"--baud", wrong, NULL};
		if (wt_sim_start(&s, drv->name, extra) != 0) {
			CU_FAIL("simulator did not start");
			continue;
		}
		CU_ASSERT_FATAL(worker_link_open(s.link, -1, &l) == 0);
		CU_ASSERT(worker_detect(l, &o, &res) == -EHOSTUNREACH);
		worker_link_close(l);
		wt_sim_stop(&s);
	}
}

static void test_silent_port_rejected(void)
{
	struct wt_resp r;
	CU_ASSERT_FATAL(wt_resp_start(&r, NULL) == 0);
	struct worker_link *l;
	CU_ASSERT_FATAL(worker_link_open(r.slave, -1, &l) == 0);
	struct worker_detect_opts o = {.retries = 2, .quick = true};
	struct worker_detect_result res;
	CU_ASSERT(worker_detect(l, &o, &res) == -EHOSTUNREACH);
	/* every registered non-opt-in driver asked at least once */
	CU_ASSERT(atomic_load(&r.requests) >= bms_driver_count() || bms_driver_count() == 0);
	worker_link_close(l);
	wt_resp_stop(&r);
}

static void test_chatter_rejected(void)
{
	/* random bytes and a SmartShunt-like VE.Direct text stream: no ghost match */
	struct wt_resp r;
	CU_ASSERT_FATAL(wt_resp_start(&r, NULL) == 0);
	atomic_store(&r.garbage, true);
	struct worker_link *l;
	CU_ASSERT_FATAL(worker_link_open(r.slave, -1, &l) == 0);
	struct worker_detect_opts o = {.retries = 2, .quick = true};
	struct worker_detect_result res;
	for (int round = 0; round < 3; round++)
		CU_ASSERT(worker_detect(l, &o, &res) == -EHOSTUNREACH);
	worker_link_close(l);
	wt_resp_stop(&r);
}

/*
 * A Modbus device of another family answers every read with an exception:
 * that is an answer, not a garbled line, so no candidate is asked again at
 * once. The port gets exactly the requests a silent one gets.
 */
static unsigned requests_of_round(bool exception)
{
	struct wt_resp r;
	CU_ASSERT_FATAL(wt_resp_start(&r, NULL) == 0);
	atomic_store(&r.modbus_exception, exception);
	struct worker_link *l;
	CU_ASSERT_FATAL(worker_link_open(r.slave, -1, &l) == 0);
	struct worker_detect_opts o = {.retries = 2, .quick = true, .round_max_ms = 600000};
	struct worker_detect_result res;
	CU_ASSERT(worker_detect(l, &o, &res) == -EHOSTUNREACH);
	worker_link_close(l);
	wt_resp_stop(&r);
	return atomic_load(&r.requests);
}

static void test_exception_not_retried(void)
{
	unsigned silent = requests_of_round(false);
	unsigned excepted = requests_of_round(true);
	CU_ASSERT(silent > 0);
	CU_ASSERT_EQUAL(excepted, silent);
}

/* The request bytes drv can send at any address in addrs, for either kind. */
static bool only_requests_of(const struct bms_driver *drv, const uint8_t *log, size_t len,
			     const uint8_t *addrs, unsigned naddrs)
{
	static uint8_t reqs[64][256];
	static size_t lens[64];
	unsigned n = 0;
	void *st = calloc(1, drv->state_size ? drv->state_size : 1);
	for (unsigned a = 0; a < (naddrs ? naddrs : 1); a++)
		for (int kind = 0; kind < 2; kind++) {
			memset(st, 0, drv->state_size ? drv->state_size : 1);
			if (drv->init)
				drv->init(st, naddrs ? addrs[a] : 0);
			for (unsigned step = 0; n < 64; step++) {
				struct bms_request rq = {
					.kind = (enum bms_req_kind)kind, .step = step, .cycle = 1};
				int k = drv->build_request(st, &rq, reqs[n], sizeof(reqs[n]));
				if (k <= 0)
					break;
				lens[n++] = (size_t)k;
			}
		}
	free(st);
	size_t at = 0;
	while (at < len) {
		bool hit = false;
		for (unsigned i = 0; i < n && !hit; i++)
			if (lens[i] <= len - at && memcmp(log + at, reqs[i], lens[i]) == 0) {
				at += lens[i];
				hit = true;
			}
		if (!hit)
			return false;
	}
	return true;
}

static void test_pinned_sends_only_its_requests(void)
{
	for (size_t d = 0; bms_drivers[d]; d++) {
		const struct bms_driver *drv = bms_drivers[d];
		/* a silent line: every byte that appears was sent by the detection */
		struct wt_resp r;
		CU_ASSERT_FATAL(wt_resp_start(&r, NULL) == 0);
		struct worker_link *l;
		CU_ASSERT_FATAL(worker_link_open(r.slave, -1, &l) == 0);
		uint8_t addrs[] = {2, 3};
		bool addressed = drv->flags & BMS_F_ADDRESSED;
		struct worker_detect_opts o = {.bms = drv->name,
					       .retries = 1,
					       .addresses = addressed ? addrs : NULL,
					       .naddresses = addressed ? 2 : 0};
		struct worker_detect_result res;
		CU_ASSERT(worker_detect(l, &o, &res) == -EHOSTUNREACH);
		worker_link_close(l);
		/* the responder thread has read everything once the slave is closed */
		wt_resp_stop(&r);
		size_t len = atomic_load(&r.log_len);
		CU_ASSERT(len > 0);
		CU_ASSERT(only_requests_of(drv, r.log, len, addrs, addressed ? 2 : 0));
	}
	/* and a pinned driver that answers: found with the first candidate */
	const struct bms_driver *jbd = bms_driver_find("jbd");
	if (jbd) {
		struct wt_resp r;
		CU_ASSERT_FATAL(wt_resp_start(&r, jbd) == 0);
		struct worker_link *l;
		CU_ASSERT_FATAL(worker_link_open(r.slave, -1, &l) == 0);
		struct worker_detect_opts o = {.bms = "jbd", .retries = 1};
		struct worker_detect_result res;
		CU_ASSERT(worker_detect(l, &o, &res) == 0 && res.drv == jbd && res.attempts == 1);
		worker_link_close(l);
		wt_resp_stop(&r);
		CU_ASSERT(only_requests_of(jbd, r.log, atomic_load(&r.log_len), NULL, 0));
	}
	struct worker_link *l;
	struct wt_resp r;
	CU_ASSERT_FATAL(wt_resp_start(&r, NULL) == 0);
	CU_ASSERT_FATAL(worker_link_open(r.slave, -1, &l) == 0);
	struct worker_detect_opts o = {.bms = "nosuchbms"};
	struct worker_detect_result res;
	CU_ASSERT(worker_detect(l, &o, &res) == -ENOENT);
	worker_link_close(l);
	wt_resp_stop(&r);
}

static void test_remembered_first(void)
{
	/* jbd sits in the second baud group: without memory, JK at 115200 goes first */
	const struct bms_driver *jbd = bms_driver_find("jbd");
	if (!jbd || bms_drivers[0] == jbd) {
		printf("\n    (needs jbd behind another driver: skipped) ");
		return;
	}
	char dir[] = "/tmp/sbw-rem-XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	struct wt_resp r;
	CU_ASSERT_FATAL(wt_resp_start(&r, jbd) == 0);
	struct worker_link *l;
	CU_ASSERT_FATAL(worker_link_open(r.slave, -1, &l) == 0);
	struct worker_detect_opts o = {.retries = 2, .state_dir = dir, .identity = "usb-test-rem"};
	struct worker_detect_result res;
	CU_ASSERT(worker_detect(l, &o, &res) == 0);
	CU_ASSERT(res.drv == jbd && res.attempts > 1 && !res.remembered);
	/* next start: the remembered protocol is the very first candidate */
	CU_ASSERT(worker_detect(l, &o, &res) == 0);
	CU_ASSERT(res.drv == jbd && res.attempts == 1 && res.remembered);
	worker_link_close(l);
	wt_resp_stop(&r);
	char path[128];
	snprintf(path, sizeof(path), "%s/detect/usb-test-rem", dir);
	CU_ASSERT(unlink(path) == 0);
	snprintf(path, sizeof(path), "%s/detect", dir);
	rmdir(path);
	rmdir(dir);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"each_family_no_hints", test_each_family_no_hints},
		{"simulator_families_and_wrong_baud", test_simulator_families_and_wrong_baud},
		{"silent_port_rejected", test_silent_port_rejected},
		{"chatter_rejected", test_chatter_rejected},
		{"pinned_sends_only_its_requests", test_pinned_sends_only_its_requests},
		{"exception_not_retried", test_exception_not_retried},
		{"remembered_first", test_remembered_first},
		{NULL, NULL},
	};
	return sb_add_suite("worker_detect", tests);
}
