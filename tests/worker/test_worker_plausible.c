/* SPDX-License-Identifier: MIT */
/*
 * The worker's plausibility gate against the real simulator (JBD) on a pty,
 * with timed state files: the pack starts plausible, then at T_BAD seconds
 * reports something no battery can (SOC 250 %, a 0 V pack, -273 degC, 32
 * cells instead of 16, 300 A with 50 A configured). Such cycles never reach
 * the store, the implausible counter rises and the slot goes stale. A single cell outside
 * the physical range is committed with its mask bit and alarm; a field the
 * BMS stops sending loses its valid bit. Nothing asserts on speed: every
 * wait has a generous deadline.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "bms/stats.h"
#include "common/sbtime.h"
#include "tests/support/cunit_main.h"
#include "tests/worker/wtest.h"
#include "worker/worker.h"

#define LONG_WAIT 30000u
#define STALE_MS 800u
#define T_BAD 4 /* seconds after the simulator's start: detection is long done */

#define C4 "3.3, 3.3, 3.3, 3.3"
#define CELLS16 "[" C4 ", " C4 ", " C4 ", " C4 "]"
#define CELLS32 "[" C4 ", " C4 ", " C4 ", " C4 ", " C4 ", " C4 ", " C4 ", " C4 "]"

/* A plausible 16S pack at t = 0, `later` (JSON members) from T_BAD on. */
static void state_json(char *buf, size_t len, const char *later)
{
	snprintf(buf, len,
		 "{\"voltage_v\": 52.8, \"current_a\": -5.0, \"soc_pct\": 73,"
		 " \"capacity_remaining_ah\": 204.4, \"capacity_full_ah\": 280,"
		 " \"capacity_design_ah\": 280, \"cycles\": 42,"
		 " \"cell_voltages_v\": " CELLS16 ", \"temperatures_c\": [21.5, 22.5],"
		 " \"mosfet_temp_c\": 30, \"charge_fet\": true, \"discharge_fet\": true,"
		 " \"sw_version\": \"1.2\", \"model\": \"SB-TEST-16S\","
		 " \"states\": [{\"t\": 0}, {\"t\": %d, %s}]}",
		 T_BAD, later);
}

/* The shared test parameters, with the current maxima the plausibility check bounds by. */
static void params_for(struct worker_params *p, const char *path, const char *identity)
{
	wt_worker_params(p, path, identity);
	p->max_charge_ma = 50000;
	p->max_discharge_ma = 50000;
}

struct slot_wait {
	struct store *st;
	const char *key;
	int slot;
	struct store_record rec;
};

static bool online(void *arg)
{
	struct slot_wait *w = arg;
	w->slot = wt_find_slot(w->st, w->key, &w->rec);
	return w->slot >= 0 && w->rec.state == STORE_ONLINE;
}

/* The plausible pack of state_json() before T_BAD. */
static bool good_values(const struct bms_snapshot *s)
{
	if (!(s->valid & BMS_V_CELLS) || s->cell_count != 16)
		return false;
	for (unsigned i = 0; i < 16; i++)
		if (s->cell_mv[i] != 3300)
			return false;
	return s->voltage_mv == 52800 && s->soc_cpct == 7300 && s->current_ma == -5000 &&
	       s->temp_count == 2 && s->temp_dc[0] == 215 && s->mosfet_temp_dc == 300 &&
	       s->cell_implausible == 0;
}

struct worker_run {
	struct wt_sim sim;
	struct store *st;
	struct worker *w;
	struct slot_wait sw;
};

static bool run_start(struct worker_run *r, const char *later, const char *key)
{
	char json[2048];
	state_json(json, sizeof(json), later);
	memset(r, 0, sizeof(*r));
	if (wt_sim_start_json(&r->sim, "jbd", json, NULL) != 0)
		return false;
	if (store_new(4, &r->st) != 0)
		return false;
	struct worker_params p;
	params_for(&p, r->sim.link, key);
	if (worker_start(&p, r->st, &r->w) != 0)
		return false;
	r->sw = (struct slot_wait){.st = r->st, .key = key, .slot = -1};
	return wt_wait(online, &r->sw, LONG_WAIT);
}

static void run_stop(struct worker_run *r)
{
	worker_free(r->w);
	wt_sim_stop(&r->sim);
	store_free(r->st);
}

static void test_implausible_never_committed(void)
{
	static const struct {
		const char *name;
		const char *later;
	} kinds[] = {
		{"SOC 250 %", "\"soc_pct\": 250"},
		{"0 V pack", "\"voltage_v\": 0"},
		{"-273 degC", "\"temperatures_c\": [-273, 22.5]"},
		{"32 cells instead of 16",
		 "\"cell_voltages_v\": " CELLS32 ", \"voltage_v\": 105.6"},
		{"-300 A with 50 A configured", "\"current_a\": -300"},
	};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		printf("\n    %s ", kinds[k].name);
		struct worker_run r;
		char key[64];
		snprintf(key, sizeof(key), "usb-test-implausible-%zu", k);
		CU_ASSERT_FATAL(run_start(&r, kinds[k].later, key));
		/* every commit, up to the slot going stale with implausible cycles
		 * counted, carries the plausible pack and nothing else */
		uint64_t seq = 0, commits = 0, wrong = 0, end = time_mono_ms() + 60000;
		struct store_record rec = {0};
		bool stale = false;
		while (time_mono_ms() < end) {
			store_read(r.st, r.sw.slot, &rec);
			if (rec.seq != seq) {
				seq = rec.seq;
				commits++;
				if (!good_values(&rec.snap))
					wrong++;
			}
			stale = store_record_stale(&rec, time_mono_ms(), STALE_MS);
			if ((stale && rec.info.implausible >= 10) || wrong)
				break; /* done, or failed already */
			poll(NULL, 0, 2);
		}
		CU_ASSERT(wrong == 0);
		CU_ASSERT(commits > 0);
		CU_ASSERT(stale);
		CU_ASSERT(rec.info.implausible >= 10);
		CU_ASSERT(rec.state == STORE_ONLINE);
		CU_ASSERT(good_values(&rec.snap));
		if (wrong || !stale) {
			run_stop(&r);
			continue;
		}
		/* the counter keeps rising, no cycle is committed: the BMS still
		 * answers, only its data is refused */
		uint64_t ok0 = rec.info.cycles_ok, bad0 = rec.info.implausible;
		uint64_t upd0 = rec.updated_ms;
		end = time_mono_ms() + LONG_WAIT;
		while (time_mono_ms() < end) {
			store_read(r.st, r.sw.slot, &rec);
			if (rec.info.implausible >= bad0 + 5)
				break;
			poll(NULL, 0, 10);
		}
		CU_ASSERT(rec.info.implausible >= bad0 + 5);
		CU_ASSERT_EQUAL(rec.info.cycles_ok, ok0);
		CU_ASSERT_EQUAL(rec.updated_ms, upd0);
		CU_ASSERT(!worker_finished(r.w));
		printf("(%llu good, %llu implausible) ", (unsigned long long)rec.info.cycles_ok,
		       (unsigned long long)rec.info.implausible);
		run_stop(&r);
	}
}

static bool masked_commit(void *arg)
{
	struct slot_wait *w = arg;
	w->slot = wt_find_slot(w->st, w->key, &w->rec);
	return w->slot >= 0 && w->rec.snap.cell_implausible != 0;
}

static void test_bad_cell_committed_with_mask(void)
{
	/* cell 5 at 65.535 V (0xFFFF), cell 12 at 0 V, the pack voltage as before */
	struct worker_run r;
	CU_ASSERT_FATAL(run_start(&r,
				  "\"cell_voltages_v\": [" C4 ", 65.535, 3.3, 3.3, 3.3, "
				  "3.3, 3.3, 3.3, 0, " C4 "]",
				  "usb-test-badcell"));
	CU_ASSERT(good_values(&r.sw.rec.snap));
	CU_ASSERT_FATAL(wt_wait(masked_commit, &r.sw, LONG_WAIT));
	const struct bms_snapshot *s = &r.sw.rec.snap;
	CU_ASSERT_EQUAL(s->cell_implausible, (1u << 4) | (1u << 11));
	CU_ASSERT(s->valid & BMS_V_ALARMS);
	CU_ASSERT_EQUAL(s->alarm[BMS_ALARM_HIGH_CELL_VOLTAGE], 2);
	CU_ASSERT_EQUAL(s->alarm[BMS_ALARM_LOW_CELL_VOLTAGE], 2);
	CU_ASSERT_EQUAL(s->cell_count, 16);
	CU_ASSERT_EQUAL(r.sw.rec.info.implausible, 0);
	/* min/max for D-Bus come from the other 14 cells */
	struct bms_stats cs;
	bms_stats_compute(s, &cs);
	CU_ASSERT_EQUAL(cs.cell_count, 14);
	CU_ASSERT_EQUAL(cs.cell_min_mv, 3300);
	CU_ASSERT_EQUAL(cs.cell_max_mv, 3300);
	/* and the cycles keep coming: the slot does not go stale */
	uint64_t ok0 = r.sw.rec.info.cycles_ok;
	uint64_t end = time_mono_ms() + LONG_WAIT;
	struct store_record rec = r.sw.rec;
	while (time_mono_ms() < end && rec.info.cycles_ok < ok0 + 10) {
		store_read(r.st, r.sw.slot, &rec);
		poll(NULL, 0, 10);
	}
	CU_ASSERT(rec.info.cycles_ok >= ok0 + 10);
	CU_ASSERT_EQUAL(rec.snap.cell_implausible, (1u << 4) | (1u << 11));
	run_stop(&r);
}

static bool one_sensor(void *arg)
{
	struct slot_wait *w = arg;
	w->slot = wt_find_slot(w->st, w->key, &w->rec);
	return w->slot >= 0 && (w->rec.snap.valid & BMS_V_TEMPS) && w->rec.snap.temp_count == 1;
}

static void test_dropped_field_loses_valid_bit(void)
{
	/* With no battery sensors left the JBD sends one NTC, which it reads as
	 * a battery sensor: the MOSFET temperature is no longer reported. */
	struct worker_run r;
	CU_ASSERT_FATAL(run_start(&r, "\"temperatures_c\": []", "usb-test-dropped"));
	CU_ASSERT(r.sw.rec.snap.valid & BMS_V_MOSFET_TEMP);
	CU_ASSERT_FATAL(wt_wait(one_sensor, &r.sw, LONG_WAIT));
	const struct bms_snapshot *s = &r.sw.rec.snap;
	CU_ASSERT_FALSE(s->valid & BMS_V_MOSFET_TEMP);
	CU_ASSERT_EQUAL(s->temp_dc[0], 300);
	/* what the driver reads on a slower schedule stays: the model (0x05) */
	CU_ASSERT(s->valid & BMS_V_MODEL);
	CU_ASSERT_STRING_EQUAL(s->model, "SB-TEST-16S");
	CU_ASSERT(s->valid & BMS_V_SW_VERSION);
	run_stop(&r);
}

int sb_register_tests(void)
{
	if (!wt_have_simulator())
		return 0;
	static const struct sb_test tests[] = {
		{"implausible cycles never reach the store", test_implausible_never_committed},
		{"a bad cell is committed with mask and alarm", test_bad_cell_committed_with_mask},
		{"a dropped field loses its valid bit", test_dropped_field_loses_valid_bit},
		{NULL, NULL},
	};
	return sb_add_suite("worker plausibility", tests);
}
