/* SPDX-License-Identifier: MIT */
/*
 * The request/reply engine on real pseudo-terminals: passive drivers (listen,
 * no request), one write (worker_set) against the JBD simulator, and the
 * static steps the core skips and carries (worker_cycle with a bms_held).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bms/bytes.h"
#include "bms/sim/sim.h"
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

/*
 * The write tests' link: drv's in-process responder on a pty, a link on it at
 * baud (8N1), and a driver state, initialised at address init_addr (-1: none).
 * Returns the state (free it, then close *ret_l and stop *r).
 */
static void *set_link_open(struct wt_resp *r, struct worker_link **ret_l,
			   const struct bms_driver *d, uint32_t baud, int init_addr)
{
	CU_ASSERT_FATAL(wt_resp_start(r, d) == 0);
	CU_ASSERT_FATAL(worker_link_open(r->slave, -1, ret_l) == 0);
	CU_ASSERT_FATAL(
		worker_transport_configure((*ret_l)->t, &(struct worker_line){baud, BMS_8N1}) == 0);
	void *st = calloc(1, (*ret_l)->state_cap);
	CU_ASSERT_FATAL(st != NULL);
	if (init_addr >= 0)
		CU_ASSERT_FATAL(d->init(st, (uint8_t)init_addr) == 0);
	return st;
}

/* SET discharge FET off against the JBD simulator: the next poll shows it. */
static void test_set_fet(void)
{
	const struct bms_driver *d = jbd();
	struct wt_resp r;
	struct worker_link *l;
	void *st = set_link_open(&r, &l, d, 9600, 0);
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

	/* standby (gui-v2's /Mode 252): both FET writes, the charge FET first */
	CU_ASSERT(bms_driver_supports(d, BMS_CMD_STANDBY));
	size_t at = atomic_load(&r.log_len);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_STANDBY, 1, 2, &c) == 0);
	CU_ASSERT_FATAL(atomic_load(&r.log_len) == at + 18);
	CU_ASSERT(r.log[at + 2] == 0xE1 && r.log[at + 5] == 0x01);   /* charge off */
	CU_ASSERT(r.log[at + 11] == 0xE1 && r.log[at + 14] == 0x03); /* then discharge */
	CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT(!snap.charge_fet && !snap.discharge_fet);
	/* on: the discharge FET first (the load gets its path back before the charger) */
	at = atomic_load(&r.log_len);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_STANDBY, 0, 2, &c) == 0);
	CU_ASSERT_FATAL(atomic_load(&r.log_len) == at + 18);
	CU_ASSERT(r.log[at + 5] == 0x01 && r.log[at + 14] == 0x00);
	CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT(snap.charge_fet && snap.discharge_fet);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_STANDBY, 2, 2, &c) == -EINVAL);

	/* unsupported: refused before anything goes on the wire */
	unsigned req0 = atomic_load(&r.requests);
	size_t log0 = atomic_load(&r.log_len);
	struct worker_counters c0 = c;
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_SOC, 5000, 2, &c) == -EOPNOTSUPP);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_BALANCER, 1, 2, &c) == -EOPNOTSUPP);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_NONE, 0, 2, &c) == -EOPNOTSUPP);
	/* a driver without writes: nothing on the wire either */
	CU_ASSERT(worker_set(l, bms_driver_find("jbd_up16s"), st, BMS_CMD_CHARGE_FET, 0, 2, &c) ==
		  -EOPNOTSUPP);
	CU_ASSERT(worker_set(l, bms_driver_find("jbd_up16s"), st, BMS_CMD_STANDBY, 1, 2, &c) ==
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

/*
 * Daly's writes (issue 17) through the worker against its simulator: 0xDA
 * charge FET off shows in the next poll, 0x21 sets the SOC with the clock,
 * standby switches both FETs; a silent board times the write out.
 */
static void test_set_daly(void)
{
	const struct bms_driver *d = bms_driver_find("daly");
	CU_ASSERT_FATAL(d != NULL);
	struct wt_resp r;
	struct worker_link *l;
	void *st = set_link_open(&r, &l, d, 9600, 1);
	struct bms_held held;
	bms_held_reset(&held);
	struct worker_counters c = {0};
	struct bms_snapshot snap;

	memset(&snap, 0, sizeof(snap));
	CU_ASSERT_FATAL(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
	CU_ASSERT((snap.valid & BMS_V_FETS) && snap.charge_fet && snap.discharge_fet);

	size_t at = atomic_load(&r.log_len);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_CHARGE_FET, 0, 2, &c) == 0);
	CU_ASSERT_FATAL(atomic_load(&r.log_len) == at + 13);
	CU_ASSERT(r.log[at + 1] == 0x40 && r.log[at + 2] == 0xDA && r.log[at + 4] == 0);
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT_FATAL(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
	CU_ASSERT(!snap.charge_fet && snap.discharge_fet);

	/* the SOC, with today's date from the local clock */
	at = atomic_load(&r.log_len);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_SOC, 4250, 2, &c) == 0);
	CU_ASSERT_FATAL(atomic_load(&r.log_len) == at + 13);
	time_t now = time(NULL);
	struct tm tm;
	CU_ASSERT_FATAL(localtime_r(&now, &tm) != NULL);
	CU_ASSERT(r.log[at + 2] == 0x21 && r.log[at + 4] == tm.tm_year - 100 &&
		  r.log[at + 5] == tm.tm_mon + 1);
	CU_ASSERT(r.log[at + 10] == 0x01 && r.log[at + 11] == 0xA9); /* 425 = 42.5 % */
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT_FATAL(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
	CU_ASSERT(snap.soc_cpct == 4250);

	/* standby and on again through the two FET writes */
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_STANDBY, 1, 2, &c) == 0);
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT_FATAL(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
	CU_ASSERT(!snap.charge_fet && !snap.discharge_fet);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_STANDBY, 0, 2, &c) == 0);
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT_FATAL(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
	CU_ASSERT(snap.charge_fet && snap.discharge_fet);
	CU_ASSERT(c.frames_bad == 0 && c.timeouts == 0);

	CU_ASSERT(worker_set(l, d, st, BMS_CMD_BALANCER, 0, 2, &c) == -EOPNOTSUPP);
	atomic_store(&r.silent, true);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_DISCHARGE_FET, 0, 1, &c) == -ETIMEDOUT);
	CU_ASSERT(c.timeouts == 2);

	free(st);
	worker_link_close(l);
	wt_resp_stop(&r);
}

/*
 * JK's writes (issue 17) through the worker against its simulator: 0xAB
 * charge switch off shows in the next poll's status bits, 0x9D the balancer,
 * standby both FETs; one frame per write (no password step); a silent BMS
 * times the write out.
 */
static void test_set_jk(void)
{
	const struct bms_driver *d = bms_driver_find("jk");
	CU_ASSERT_FATAL(d != NULL);
	struct wt_resp r;
	struct worker_link *l;
	void *st = set_link_open(&r, &l, d, 115200, -1);
	struct bms_held held;
	bms_held_reset(&held);
	struct worker_counters c = {0};
	struct bms_snapshot snap;

	memset(&snap, 0, sizeof(snap));
	CU_ASSERT_FATAL(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
	CU_ASSERT((snap.valid & BMS_V_FETS) && snap.charge_fet && snap.discharge_fet);

	size_t at = atomic_load(&r.log_len);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_CHARGE_FET, 0, 2, &c) == 0);
	CU_ASSERT_FATAL(atomic_load(&r.log_len) == at + 22); /* one frame, no password */
	CU_ASSERT(r.log[at + 8] == 0x02 && r.log[at + 11] == 0xAB && r.log[at + 12] == 0);
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT_FATAL(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
	CU_ASSERT(!snap.charge_fet && snap.discharge_fet);

	/* the balancer as the last poll reported it (the responder's copy is its thread's) */
	CU_ASSERT(snap.valid & BMS_V_BALANCER);
	bool bal = snap.balancer_enabled;
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_BALANCER, !bal, 2, &c) == 0);
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT_FATAL(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
	CU_ASSERT((snap.valid & BMS_V_BALANCER) && snap.balancer_enabled == !bal);

	/* standby and on again through the two FET writes */
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_STANDBY, 1, 2, &c) == 0);
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT_FATAL(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
	CU_ASSERT(!snap.charge_fet && !snap.discharge_fet);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_STANDBY, 0, 2, &c) == 0);
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT_FATAL(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
	CU_ASSERT(snap.charge_fet && snap.discharge_fet);
	CU_ASSERT(c.frames_bad == 0 && c.timeouts == 0);

	CU_ASSERT(worker_set(l, d, st, BMS_CMD_SOC, 5000, 2, &c) == -EOPNOTSUPP);
	atomic_store(&r.silent, true);
	CU_ASSERT(worker_set(l, d, st, BMS_CMD_DISCHARGE_FET, 0, 1, &c) == -ETIMEDOUT);
	CU_ASSERT(c.timeouts == 2);

	free(st);
	worker_link_close(l);
	wt_resp_stop(&r);
}

/*
 * Input is dropped only after an exchange that did not end cleanly: the
 * first one on a new link, then never while every reply comes whole; a
 * garbled reply (and every retry after it) flushes before the next request,
 * and once the replies are clean again the flushes stop.
 */
static void test_flush_only_when_unclean(void)
{
	const struct bms_driver *d = jbd();
	struct wt_resp r;
	struct worker_link *l;
	void *st = set_link_open(&r, &l, d, 9600, 0);
	struct bms_held held;
	bms_held_reset(&held);
	struct worker_counters c = {0};
	struct bms_snapshot snap;

	CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT(l->t->stats.flushes == 1); /* a new link: whatever waited goes */
	for (int i = 0; i < 5; i++)
		CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT(l->t->stats.flushes == 1);
	CU_ASSERT(c.frames_bad == 0 && c.timeouts == 0);

	/* every reply garbled: each attempt after a bad one flushes first */
	atomic_store(&r.corrupt_pct, 100);
	CU_ASSERT(poll_jbd(l, st, &held, &snap, &c) == -EBADMSG);
	CU_ASSERT(c.frames_bad == 3); /* the first attempt and two retries */
	CU_ASSERT(l->t->stats.flushes == 3);
	atomic_store(&r.corrupt_pct, 0);
	CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT(l->t->stats.flushes == 4); /* after the last garbled one */
	CU_ASSERT_FATAL(poll_jbd(l, st, &held, &snap, &c) == 0);
	CU_ASSERT(l->t->stats.flushes == 4);

	free(st);
	worker_link_close(l);
	wt_resp_stop(&r);
}

/* JBD's 0x05 model and 0xAA counters are static data: asked once, then carried by the core. */
/*
 * Every family on its simulator (8N1: a pty has no parity), replies whole:
 * once the first cycle has read the static steps (a reply whose end has no
 * mark, as HLPdata's settings lines, may leave lines behind: one flush), a run
 * of poll cycles never flushes. A byte the BMS sends as part of its reply (JK
 * PB's 00 after its frame and after its ACK) is the reply's, not noise that
 * makes the exchange unclean.
 */
static void test_every_family_clean(void)
{
	for (size_t i = 0; bms_drivers[i]; i++) {
		const struct bms_driver *d = bms_drivers[i];
		if ((d->flags & BMS_F_PASSIVE) || d->links[0].serial.framing != BMS_8N1)
			continue;
		struct wt_resp r;
		struct worker_link *l;
		int addr = (d->flags & BMS_F_ADDRESSED)
				   ? (d->addresses ? d->addresses[0] : d->address_min)
				   : 0;
		void *st =
			set_link_open(&r, &l, d, d->links[0].serial.bauds[0], d->init ? addr : -1);
		struct bms_held held;
		bms_held_reset(&held);
		struct worker_counters c = {0};
		struct bms_snapshot snap;
		uint64_t after_first = 0;
		for (int k = 0; k < 6; k++) {
			memset(&snap, 0, sizeof(snap));
			CU_ASSERT(worker_cycle(l, d, st, BMS_REQ_POLL, 2, &held, &snap, &c) == 0);
			if (k == 1)
				after_first = l->t->stats.flushes;
		}
		uint64_t more = l->t->stats.flushes - after_first;
		CU_ASSERT(more == 0 && c.frames_bad == 0 && c.timeouts == 0);
		if (more)
			printf("\n  %s: %llu flushes in 4 poll cycles ", d->name,
			       (unsigned long long)more);
		free(st);
		worker_link_close(l);
		wt_resp_stop(&r);
	}
}

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

/*
 * A request/reply test protocol for the setup runner and foreign frames,
 * defined here only: request B0 addr cmd sum, reply B1 addr cmd val sum
 * (sum8 of the bytes before). SETUP: 1 enter a mode, 2 read a setting (val
 * in A -> max_charge_ma), 3 leave the mode; cleanup = 3. POLL: cmd 9 reads
 * the pack voltage (val in V). The unit is address 1.
 */
static int s_init(void *state, uint8_t address)
{
	*(uint8_t *)state = address;
	return 0;
}

static int s_cmd(const struct bms_request *req)
{
	if (req->kind == BMS_REQ_SETUP)
		return req->step == BMS_STEP_CLEANUP ? 3 : req->step < 3 ? (int)req->step + 1 : 0;
	if (req->kind == BMS_REQ_POLL || req->kind == BMS_REQ_PROBE)
		return req->step == 0 ? 9 : 0;
	return -EOPNOTSUPP;
}

static int s_build(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	int cmd = s_cmd(req);
	if (cmd <= 0)
		return cmd;
	if (cap < 4)
		return -ENOSPC;
	out[0] = 0xB0;
	out[1] = *(uint8_t *)state;
	out[2] = (uint8_t)cmd;
	out[3] = bms_sum8(out, 3);
	return 4;
}

static int s_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	if (p[0] != 0xB0 && p[0] != 0xB1)
		return -1;
	size_t len = p[0] == 0xB0 ? 4 : 5;
	if (avail < len)
		return 0;
	if (bms_sum8(p, len - 1) != p[len - 1])
		return -1;
	*ret_len = len;
	return 1;
}

static int s_parse(void *state, const struct bms_request *req, const uint8_t *f, size_t len,
		   struct bms_snapshot *snap)
{
	/* requests (ours echoed, another master's), other units, other commands */
	if (f[0] == 0xB0 || f[1] != *(uint8_t *)state || f[2] != s_cmd(req))
		return BMS_FOREIGN;
	(void)len;
	if (f[2] == 2) {
		snap->max_charge_ma = f[3] * 1000;
		snap->valid |= BMS_V_MAX_CHARGE_I;
	} else if (f[2] == 9) {
		snap->voltage_mv = f[3] * 1000;
		snap->valid |= BMS_V_VOLTAGE;
	}
	return 0;
}

static const struct bms_driver s_drv = {
	.name = "setuptest",
	.response_timeout_ms = 150,
	.poll_interval_ms = 1000,
	.max_frame = 5,
	.state_size = 1,
	.init = s_init,
	.build_request = s_build,
	.frame_check = s_check,
	.parse = s_parse,
};

/* The device side: answers every request it is given, except those in drop. */
struct s_dev {
	int master;
	int stop[2];
	unsigned drop;    /* bit n: never answer command n */
	uint8_t seen[64]; /* commands received, in order */
	atomic_uint nseen;
	atomic_bool foreign; /* before each reply: another master's exchange with unit 2 */
	bool echo;           /* the adapter echoes each request back (CH340) */
	pthread_t th;
};

static void s_put(int fd, uint8_t head, uint8_t addr, uint8_t cmd, uint8_t val)
{
	uint8_t f[5] = {head, addr, cmd, val, 0};
	size_t n = head == 0xB0 ? 4 : 5;
	if (head == 0xB0)
		f[3] = bms_sum8(f, 3);
	else
		f[4] = bms_sum8(f, 4);
	if (write(fd, f, n) != (ssize_t)n)
		return;
}

static void *s_serve(void *arg)
{
	struct s_dev *d = arg;
	uint8_t buf[256];
	size_t len = 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = d->master, .events = POLLIN},
				      {.fd = d->stop[0], .events = POLLIN}};
		if (poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN))
			return NULL;
		ssize_t n = read(d->master, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return NULL;
		len += (size_t)n;
		while (len >= 4) {
			uint8_t cmd = buf[2];
			memmove(buf, buf + 4, len - 4);
			len -= 4;
			unsigned k = atomic_load(&d->nseen);
			if (k < sizeof(d->seen)) {
				d->seen[k] = cmd;
				atomic_store(&d->nseen, k + 1);
			}
			if (atomic_load(&d->echo))
				s_put(d->master, 0xB0, 1, cmd, 0);
			if (atomic_load(&d->foreign)) {
				s_put(d->master, 0xB0, 2, 9, 0);  /* a second master asks unit 2 */
				s_put(d->master, 0xB1, 2, 9, 12); /* unit 2 answers it */
				s_put(d->master, 0xB1, 1, 2, 7);  /* ours, to another command */
			}
			if (!((atomic_load(&d->drop) >> cmd) & 1u))
				s_put(d->master, 0xB1, 1, cmd, cmd == 2 ? 40 : cmd == 9 ? 53 : 0);
		}
	}
}

static int s_start(struct s_dev *d, char *slave, size_t cap)
{
	d->master = wt_pty(slave, cap);
	if (d->master < 0 || pipe(d->stop) < 0)
		return -1;
	atomic_store(&d->nseen, 0);
	return pthread_create(&d->th, NULL, s_serve, d) == 0 ? 0 : -1;
}

static void s_stop(struct s_dev *d)
{
	if (write(d->stop[1], "x", 1) != 1)
		return;
	pthread_join(d->th, NULL);
	close(d->stop[0]);
	close(d->stop[1]);
	close(d->master);
}

static bool seen_is(struct s_dev *d, const char *want)
{
	unsigned n = atomic_load(&d->nseen);
	if (n != strlen(want))
		return false;
	for (unsigned i = 0; i < n; i++)
		if (d->seen[i] != want[i] - '0')
			return false;
	return true;
}

/* The setup sequence: in order, once; on a failure the mode is always left. */
static void test_setup_sequence(void)
{
	struct s_dev d = {0};
	char slave[64];
	CU_ASSERT_FATAL(s_start(&d, slave, sizeof(slave)) == 0);
	struct worker_link *l;
	CU_ASSERT_FATAL(worker_link_open(slave, -1, &l) == 0);
	CU_ASSERT_FATAL(worker_transport_configure(l->t, &(struct worker_line){9600, BMS_8N1}) ==
			0);
	uint8_t st = 0;
	s_init(&st, 1);
	struct worker_counters c = {0};
	struct bms_snapshot snap;

	/* all answer: enter, read, leave; the setting is read */
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT(worker_setup(l, &s_drv, &st, &snap, &c) == 0);
	CU_ASSERT(seen_is(&d, "123"));
	CU_ASSERT((snap.valid & BMS_V_MAX_CHARGE_I) && snap.max_charge_ma == 40000);

	/* the read is lost: not retried, and the mode is left (cleanup) */
	atomic_store(&d.nseen, 0);
	atomic_store(&d.drop, 1u << 2);
	memset(&snap, 0, sizeof(snap));
	uint64_t to0 = c.timeouts;
	CU_ASSERT(worker_setup(l, &s_drv, &st, &snap, &c) == -ETIMEDOUT);
	CU_ASSERT(seen_is(&d, "123"));
	CU_ASSERT(c.timeouts == to0 + 1);
	CU_ASSERT(!(snap.valid & BMS_V_MAX_CHARGE_I));

	/* even the enter goes unanswered (it may have switched): leave anyway, and
	 * the leave gets one retry when it is not acknowledged */
	atomic_store(&d.nseen, 0);
	atomic_store(&d.drop, (1u << 1) | (1u << 3));
	CU_ASSERT(worker_setup(l, &s_drv, &st, &snap, &c) == -ETIMEDOUT);
	CU_ASSERT(seen_is(&d, "133"));

	/* a driver without a sequence: nothing on the wire */
	atomic_store(&d.nseen, 0);
	atomic_store(&d.drop, 0);
	CU_ASSERT(worker_setup(l, bms_driver_find("daly"), &st, &snap, &c) == 1);
	struct timespec ts = {0, 50000000L};
	nanosleep(&ts, NULL);
	CU_ASSERT(atomic_load(&d.nseen) == 0);

	worker_link_close(l);
	s_stop(&d);
}

/* A second master on the line: its exchanges are skipped and counted, never errors. */
static void test_foreign_frames(void)
{
	struct s_dev d = {0};
	atomic_store(&d.foreign, true);
	char slave[64];
	CU_ASSERT_FATAL(s_start(&d, slave, sizeof(slave)) == 0);
	struct worker_link *l;
	CU_ASSERT_FATAL(worker_link_open(slave, -1, &l) == 0);
	CU_ASSERT_FATAL(worker_transport_configure(l->t, &(struct worker_line){9600, BMS_8N1}) ==
			0);
	uint8_t st = 0;
	s_init(&st, 1);
	struct worker_counters c = {0};
	struct bms_snapshot snap;
	for (int i = 0; i < 3; i++) {
		memset(&snap, 0, sizeof(snap));
		CU_ASSERT(worker_cycle(l, &s_drv, &st, BMS_REQ_POLL, 0, NULL, &snap, &c) == 0);
		/* unit 2's 12 V never reaches our snapshot */
		CU_ASSERT(snap.voltage_mv == 53000);
		CU_ASSERT(!(snap.valid & BMS_V_MAX_CHARGE_I));
	}
	CU_ASSERT(c.frames_bad == 0);
	CU_ASSERT(c.frames_foreign == 9); /* 3 per cycle: request, reply, other command */

	/* an adapter echoing our request: the echo is neither foreign nor bad */
	atomic_store(&d.foreign, false);
	atomic_store(&d.echo, true);
	uint64_t fo0 = c.frames_foreign;
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT(worker_cycle(l, &s_drv, &st, BMS_REQ_POLL, 0, NULL, &snap, &c) == 0);
	CU_ASSERT(snap.voltage_mv == 53000);
	CU_ASSERT(c.frames_foreign == fo0 && c.frames_bad == 0);
	atomic_store(&d.echo, false);
	atomic_store(&d.foreign, true);

	/* our unit silent, the other master busy: a timeout, not a bad frame */
	atomic_store(&d.drop, 1u << 9);
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT(worker_cycle(l, &s_drv, &st, BMS_REQ_POLL, 0, NULL, &snap, &c) == -ETIMEDOUT);
	CU_ASSERT(c.frames_bad == 0);
	CU_ASSERT(!(snap.valid & BMS_V_VOLTAGE));

	worker_link_close(l);
	s_stop(&d);
}

/*
 * A Daly board shared with a display (a second master, host address 0x80):
 * before each of our replies the display's request for another command and
 * the board's reply to it are on the line. Our cycle takes only its own.
 */
struct daly_line {
	int master;
	int stop[2];
	struct bms_snapshot snap;
	atomic_uint exchanges;
	pthread_t th;
};

static void *daly_serve(void *arg)
{
	struct daly_line *d = arg;
	const struct bms_driver *drv = bms_driver_find("daly");
	static const uint8_t other[] = {0x90, 0x93, 0x94, 0x95, 0x96, 0x98, 0x91, 0x92};
	uint8_t buf[64], out[1024];
	size_t len = 0;
	unsigned k = 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = d->master, .events = POLLIN},
				      {.fd = d->stop[0], .events = POLLIN}};
		if (poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN))
			return NULL;
		ssize_t n = read(d->master, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return NULL;
		len += (size_t)n;
		while (len >= 13) {
			uint8_t q[13];
			memcpy(q, buf, 13);
			memmove(buf, buf + 13, len - 13);
			len -= 13;
			/* the display asks something else, and the board answers it */
			uint8_t cmd = other[k++ % sizeof(other)];
			if (cmd == q[2])
				cmd = other[k++ % sizeof(other)];
			uint8_t dq[13];
			memcpy(dq, q, 13);
			dq[2] = cmd;
			dq[12] = bms_sum8(dq, 12);
			int m = bms_sim_respond(drv, &d->snap, 1, dq, 13, out, sizeof(out));
			dq[1] = 0x80; /* as the display sends it */
			dq[12] = bms_sum8(dq, 12);
			if (write(d->master, dq, 13) != 13 ||
			    (m > 0 && write(d->master, out, (size_t)m) != m))
				return NULL;
			/* then ours */
			m = bms_sim_respond(drv, &d->snap, 1, q, 13, out, sizeof(out));
			if (m > 0 && write(d->master, out, (size_t)m) != m)
				return NULL;
			atomic_fetch_add(&d->exchanges, 1);
		}
	}
}

static void test_daly_with_a_display(void)
{
	struct daly_line d;
	memset(&d, 0, sizeof(d));
	wt_snapshot(&d.snap);
	char slave[64];
	d.master = wt_pty(slave, sizeof(slave));
	CU_ASSERT_FATAL(d.master >= 0 && pipe(d.stop) == 0);
	CU_ASSERT_FATAL(pthread_create(&d.th, NULL, daly_serve, &d) == 0);
	const struct bms_driver *drv = bms_driver_find("daly");
	struct worker_link *l;
	CU_ASSERT_FATAL(worker_link_open(slave, -1, &l) == 0);
	CU_ASSERT_FATAL(worker_transport_configure(l->t, &(struct worker_line){9600, BMS_8N1}) ==
			0);
	void *st = calloc(1, l->state_cap);
	CU_ASSERT_FATAL(st != NULL && drv->init(st, 1) == 0);
	struct bms_held held;
	bms_held_reset(&held);
	struct worker_counters c = {0};
	struct bms_snapshot snap;
	for (int i = 0; i < 3; i++) {
		memset(&snap, 0, sizeof(snap));
		CU_ASSERT(worker_cycle(l, drv, st, BMS_REQ_POLL, 0, &held, &snap, &c) == 0);
		/* Daly carries the pack voltage in 0.1 V */
		CU_ASSERT(snap.voltage_mv / 100 == d.snap.voltage_mv / 100);
		CU_ASSERT(snap.cell_count == d.snap.cell_count);
		CU_ASSERT(memcmp(snap.cell_mv, d.snap.cell_mv, d.snap.cell_count * 2u) == 0);
		CU_ASSERT(snap.temp_count == d.snap.temp_count);
	}
	CU_ASSERT(c.frames_bad == 0);
	CU_ASSERT(c.timeouts == 0);
	/* at least the display's request and its one-frame reply per exchange */
	CU_ASSERT(c.frames_foreign >= 2u * atomic_load(&d.exchanges));
	free(st);
	worker_link_close(l);
	if (write(d.stop[1], "x", 1) == 1)
		pthread_join(d.th, NULL);
	close(d.stop[0]);
	close(d.stop[1]);
	close(d.master);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"passive_listens", test_passive_listens},
		{"set_fet", test_set_fet},
		{"set_daly", test_set_daly},
		{"set_jk", test_set_jk},
		{"flush_only_when_unclean", test_flush_only_when_unclean},
		{"every_family_clean", test_every_family_clean},
		{"static_step_carried", test_static_step_carried},
		{"setup_sequence", test_setup_sequence},
		{"foreign_frames", test_foreign_frames},
		{"daly_with_a_display", test_daly_with_a_display},
		{NULL, NULL},
	};
	return sb_add_suite("worker_cycle", tests);
}
