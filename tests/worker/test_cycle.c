/* SPDX-License-Identifier: MIT */
/*
 * The request/reply engine on real pseudo-terminals: passive drivers (listen,
 * no request), one write (worker_set) against the JBD simulator, and the
 * static steps the core skips and carries (worker_cycle with a bms_held).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bms/bytes.h"
#include "common/sbtime.h"
#include "tests/support/cunit_main.h"
#include "tests/worker/wtest.h"
#include "worker/detect.h"

/*
 * A passive test protocol, defined here only: the BMS talks unsolicited,
 * frames A7 <n> <payload n> <sum8 of all before>, payload u16 BE pack
 * voltage in 10 mV. Nothing is ever sent to it.
 */
#define T_START 0xA7

static int t_init(void *state, uint8_t address)
{
	(void)state;
	(void)address;
	return 0;
}

static int t_build(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	(void)state;
	(void)req;
	(void)out;
	(void)cap;
	return 0; /* listen */
}

static int t_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	if (p[0] != T_START)
		return -1;
	if (avail < 2)
		return 0;
	if (p[1] != 2)
		return -1;
	size_t len = (size_t)p[1] + 3;
	if (avail < len)
		return 0;
	if (bms_sum8(p, len - 1) != p[len - 1])
		return -1;
	*ret_len = len;
	return 1;
}

static int t_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		   struct bms_snapshot *snap)
{
	(void)state;
	if (req->kind == BMS_REQ_SET || len != 5)
		return -EPROTO;
	snap->voltage_mv = ((frame[2] << 8) | frame[3]) * 10;
	snap->valid |= BMS_V_VOLTAGE;
	return 0;
}

static const uint32_t t_bauds[] = {9600, 0};
static const struct bms_link t_links[] = {{.kind = BMS_LINK_SERIAL, .serial = {t_bauds, BMS_8N1}}};

static const struct bms_driver t_passive = {
	.name = "t_passive",
	.description = "test: talks unsolicited",
	.spec = "tests/worker/test_cycle.c",
	.links = t_links,
	.nlinks = 1,
	.response_timeout_ms = 400,
	.inter_frame_gap_ms = 0,
	.poll_interval_ms = 1000,
	.max_frame = 16,
	.flags = BMS_F_PASSIVE,
	.init = t_init,
	.build_request = t_build,
	.frame_check = t_check,
	.parse = t_parse,
};

static void t_frame(uint16_t v10mv, uint8_t out[5])
{
	out[0] = T_START;
	out[1] = 2;
	put_u16be(out + 2, v10mv);
	out[4] = bms_sum8(out, 4);
}

struct talker {
	int master;
	unsigned delay_ms;
	uint16_t v10mv;
};

/* The BMS speaking up on its own, delay_ms after the cycle started. */
static void *talk(void *arg)
{
	struct talker *t = arg;
	struct timespec ts = {(time_t)(t->delay_ms / 1000), (long)(t->delay_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	uint8_t f[5];
	t_frame(t->v10mv, f);
	/* garbage first: the core's candidate scan must resynchronise */
	static const uint8_t junk[] = {0x00, 0xA7, 0x09, 0xFF};
	if (write(t->master, junk, sizeof(junk)) != (ssize_t)sizeof(junk) ||
	    write(t->master, f, sizeof(f)) != (ssize_t)sizeof(f))
		return (void *)1;
	return NULL;
}

/* Nothing waits on the master side: the core wrote nothing to the BMS. */
static bool master_quiet(int master)
{
	uint8_t b[64];
	int fl = fcntl(master, F_GETFL);
	fcntl(master, F_SETFL, fl | O_NONBLOCK);
	ssize_t n = read(master, b, sizeof(b));
	fcntl(master, F_SETFL, fl);
	return n < 0 && errno == EAGAIN;
}

static void test_passive_listens(void)
{
	char slave[64];
	int m = wt_pty(slave, sizeof(slave));
	CU_ASSERT_FATAL(m >= 0);
	struct worker_link *l;
	CU_ASSERT_FATAL(worker_link_open(slave, -1, &l) == 0);
	CU_ASSERT_FATAL(worker_transport_configure(l->t, &(struct worker_line){9600, BMS_8N1}) ==
			0);
	struct worker_counters c = {0};
	struct bms_snapshot snap;

	/* a frame already waiting when the cycle starts is data, not stale input */
	uint8_t f[5];
	t_frame(5312, f);
	CU_ASSERT_FATAL(write(m, f, sizeof(f)) == (ssize_t)sizeof(f));
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT(worker_cycle(l, &t_passive, NULL, BMS_REQ_POLL, 0, NULL, &snap, &c) == 0);
	CU_ASSERT((snap.valid & BMS_V_VOLTAGE) && snap.voltage_mv == 53120);

	/* a cycle with no request listens: the frame comes 150 ms in, behind garbage */
	struct talker t = {m, 150, 5250};
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, talk, &t) == 0);
	memset(&snap, 0, sizeof(snap));
	uint64_t t0 = time_mono_ms();
	int r = worker_cycle(l, &t_passive, NULL, BMS_REQ_POLL, 0, NULL, &snap, &c);
	uint64_t took = time_mono_ms() - t0;
	void *tr;
	pthread_join(th, &tr);
	CU_ASSERT(tr == NULL);
	CU_ASSERT(r == 0);
	CU_ASSERT(snap.voltage_mv == 52500);
	CU_ASSERT(took >= 100); /* it waited for the BMS to speak */
	/* the probe of a passive driver listens the same way */
	t.v10mv = 5200;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, talk, &t) == 0);
	memset(&snap, 0, sizeof(snap));
	r = worker_cycle(l, &t_passive, NULL, BMS_REQ_PROBE, 0, NULL, &snap, &c);
	pthread_join(th, &tr);
	CU_ASSERT(r == 0 && snap.voltage_mv == 52000);

	/* silence: nothing until the response timeout */
	memset(&snap, 0, sizeof(snap));
	uint64_t to0 = c.timeouts;
	CU_ASSERT(worker_cycle(l, &t_passive, NULL, BMS_REQ_POLL, 0, NULL, &snap, &c) ==
		  -ETIMEDOUT);
	CU_ASSERT(c.timeouts == to0 + 1);
	CU_ASSERT(master_quiet(m)); /* nothing was ever sent */

	/* the same driver without the flag: a poll cycle with no request is an error */
	struct bms_driver active = t_passive;
	active.flags = 0;
	CU_ASSERT_FATAL(write(m, f, sizeof(f)) == (ssize_t)sizeof(f));
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT(worker_cycle(l, &active, NULL, BMS_REQ_POLL, 0, NULL, &snap, &c) == -EPROTO);
	CU_ASSERT(!(snap.valid & BMS_V_VOLTAGE));

	worker_link_close(l);
	close(m);
}

static const struct bms_driver *jbd(void)
{
	const struct bms_driver *d = bms_driver_find("jbd");
	CU_ASSERT_FATAL(d != NULL);
	return d;
}

static int poll_jbd(struct worker_link *l, void *st, struct bms_held *held,
		    struct bms_snapshot *snap, struct worker_counters *c)
{
	memset(snap, 0, sizeof(*snap));
	return worker_cycle(l, jbd(), st, BMS_REQ_POLL, 2, held, snap, c);
}

/* SET discharge FET off against the JBD simulator: the next poll shows it. */
static void test_set_fet(void)
{
	const struct bms_driver *d = jbd();
	struct wt_resp r;
	CU_ASSERT_FATAL(wt_resp_start(&r, d) == 0);
	struct worker_link *l;
	CU_ASSERT_FATAL(worker_link_open(r.slave, -1, &l) == 0);
	CU_ASSERT_FATAL(worker_transport_configure(l->t, &(struct worker_line){9600, BMS_8N1}) ==
			0);
	void *st = calloc(1, l->state_cap);
	CU_ASSERT_FATAL(st != NULL);
	CU_ASSERT_FATAL(d->init(st, 0) == 0);
	struct bms_held held;
	bms_held_reset(&held);
	struct worker_counters c = {0};
	struct bms_snapshot snap;

	CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT((snap.valid & BMS_V_FETS) && snap.charge_fet && snap.discharge_fet);

	CU_ASSERT(worker_set(l, d, st, BMS_CMD_DISCHARGE_FET, 0, 2, &c) == 0);
	CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT(snap.valid & BMS_V_FETS);
	CU_ASSERT(snap.charge_fet);
	CU_ASSERT(!snap.discharge_fet);

	/* the charge FET too, then both back on */
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_CHARGE_FET, 0, 2, &c) == 0);
	CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT(!snap.charge_fet && !snap.discharge_fet);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_DISCHARGE_FET, 1, 2, &c) == 0);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_CHARGE_FET, 1, 2, &c) == 0);
	CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT(snap.charge_fet && snap.discharge_fet);

	/* unsupported: refused before anything goes on the wire */
	unsigned req0 = atomic_load(&r.requests);
	size_t log0 = atomic_load(&r.log_len);
	struct worker_counters c0 = c;
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_SOC, 5000, 2, &c) == -EOPNOTSUPP);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_BALANCER, 1, 2, &c) == -EOPNOTSUPP);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_NONE, 0, 2, &c) == -EOPNOTSUPP);
	/* a driver without writes: nothing on the wire either */
	CU_ASSERT(worker_set(l, bms_driver_find("daly"), st, BMS_CMD_CHARGE_FET, 0, 2, &c) ==
		  -EOPNOTSUPP);
	struct timespec ts = {0, 100000000L}; /* let a stray write reach the responder */
	nanosleep(&ts, NULL);
	CU_ASSERT(atomic_load(&r.requests) == req0);
	CU_ASSERT(atomic_load(&r.log_len) == log0);
	CU_ASSERT(c.timeouts == c0.timeouts && c.frames_bad == c0.frames_bad);

	/* a silent BMS: the write times out after its retries */
	atomic_store(&r.silent, true);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_CHARGE_FET, 0, 1, &c) == -ETIMEDOUT);
	CU_ASSERT(c.timeouts == c0.timeouts + 2);

	free(st);
	worker_link_close(l);
	wt_resp_stop(&r);
}

/* JBD's 0x05 model and 0xAA counters are static data: asked once, then carried by the core. */
static void test_static_step_carried(void)
{
	const struct bms_driver *d = jbd();
	struct wt_resp r;
	CU_ASSERT_FATAL(wt_resp_start(&r, d) == 0);
	struct worker_link *l;
	CU_ASSERT_FATAL(worker_link_open(r.slave, -1, &l) == 0);
	CU_ASSERT_FATAL(worker_transport_configure(l->t, &(struct worker_line){9600, BMS_8N1}) ==
			0);
	void *st = calloc(1, l->state_cap);
	CU_ASSERT_FATAL(st != NULL && d->init(st, 0) == 0);
	struct bms_held held;
	bms_held_reset(&held);
	struct worker_counters c = {0};
	struct bms_snapshot snap;

	CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT(held.cycle == 1);
	CU_ASSERT(atomic_load(&r.requests) == 4); /* 0x03, 0x04, 0x05, 0xAA */
	CU_ASSERT((snap.valid & BMS_V_MODEL) && strcmp(snap.model, "SB-TEST-16S") == 0);
	for (unsigned k = 2; k <= 4; k++) {
		unsigned req0 = atomic_load(&r.requests);
		CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
		CU_ASSERT(held.cycle == k);
		CU_ASSERT(atomic_load(&r.requests) == req0 + 2); /* 0x05, 0xAA no more */
		CU_ASSERT((snap.valid & BMS_V_MODEL) && strcmp(snap.model, "SB-TEST-16S") == 0);
	}
	/* a retry keeps the cycle number: one lost reply, the same cycle */
	atomic_store(&r.corrupt_pct, 100);
	CU_ASSERT(poll_jbd(l, st, &held, &snap, &c) == -EBADMSG);
	CU_ASSERT(held.cycle == 5);
	atomic_store(&r.corrupt_pct, 0);

	free(st);
	worker_link_close(l);
	wt_resp_stop(&r);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"passive_listens", test_passive_listens},
		{"set_fet", test_set_fet},
		{"static_step_carried", test_static_step_carried},
		{NULL, NULL},
	};
	return sb_add_suite("worker_cycle", tests);
}
