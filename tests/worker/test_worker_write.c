/* SPDX-License-Identifier: MIT */
/*
 * The write path end to end: a command posted to the store's mailbox wakes
 * the worker thread, which writes it to the JBD simulator (MOSFET control,
 * register 0xE1) on a real pty between poll cycles and reports the outcome
 * back through the store; the next committed snapshot shows the change.
 * Refused, timed-out and canceled commands, and no write ever inside a poll
 * cycle. Conditions are awaited with generous deadlines; nothing asserts on
 * speed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "bms/jbd_wire.h"
#include "common/sbtime.h"
#include "tests/support/cunit_main.h"
#include "tests/worker/wtest.h"
#include "worker/worker.h"

#define LONG_WAIT 30000u
/* A poll interval no test outlives: after detection's first commit, every
 * request on the wire is there because of a command. */
#define HOUR_S 3600.0

struct run {
	struct wt_resp r;
	struct store *st;
	struct worker *w;
	const char *key;
	int slot;
	int fds0;
};

struct cmd_wait {
	struct store *st;
	int slot;
	uint32_t seq;
	enum store_cmd_status want;
	struct store_record rec;
};

static bool online(void *arg)
{
	struct run *x = arg;
	struct store_record rec;
	x->slot = wt_find_slot(x->st, x->key, &rec);
	return x->slot >= 0 && rec.state == STORE_ONLINE;
}

/* A JBD responder on a pty, a worker pinned to jbd on it, ONLINE. */
static bool run_start(struct run *x, const char *key, double interval_s, int64_t retries)
{
	memset(x, 0, sizeof(*x));
	x->fds0 = wt_count_fds();
	x->key = key;
	const struct bms_driver *jbd = bms_driver_find("jbd");
	if (!jbd || wt_resp_start(&x->r, jbd) != 0)
		return false;
	if (store_new(4, &x->st) != 0)
		return false;
	struct worker_params p;
	wt_worker_params(&p, x->r.slave, key);
	snprintf(p.port.bms, sizeof(p.port.bms), "jbd"); /* every byte on the wire is JBD's */
	p.port.poll_interval = interval_s;
	p.serial.retries = retries;
	if (worker_start(&p, x->st, &x->w) != 0)
		return false;
	return wt_wait(online, x, LONG_WAIT);
}

static void run_stop(struct run *x)
{
	worker_free(x->w);
	wt_resp_stop(&x->r);
	store_free(x->st);
	CU_ASSERT(wt_count_fds() == x->fds0); /* the command eventfd included */
}

static bool cmd_is(void *arg)
{
	struct cmd_wait *c = arg;
	return store_read(c->st, c->slot, &c->rec) == 0 && c->rec.cmd.cmd.seq == c->seq &&
	       c->rec.cmd.status == c->want;
}

static bool wait_cmd(struct run *x, uint32_t seq, enum store_cmd_status want,
		     struct store_record *ret)
{
	struct cmd_wait c = {.st = x->st, .slot = x->slot, .seq = seq, .want = want};
	bool ok = wt_wait(cmd_is, &c, LONG_WAIT);
	if (ret)
		*ret = c.rec;
	return ok;
}

struct fet_wait {
	struct store *st;
	int slot;
	bool discharge;
	struct store_record rec;
};

static bool fets_are(void *arg)
{
	struct fet_wait *f = arg;
	return store_read(f->st, f->slot, &f->rec) == 0 && (f->rec.snap.valid & BMS_V_FETS) &&
	       f->rec.snap.discharge_fet == f->discharge;
}

/* JBD write frames (DD 5A ...) seen by the responder. */
static unsigned writes_on_wire(struct wt_resp *r)
{
	size_t len = atomic_load(&r->log_len);
	unsigned n = 0;
	for (size_t i = 0; i + 2 < len; i++)
		if (r->log[i] == JBD_START && r->log[i + 1] == JBD_WRITE &&
		    r->log[i + 2] == JBD_REG_MOSFET)
			n++;
	return n;
}

/*
 * DISCHARGE_FET off then on: PENDING -> RUNNING -> OK, and the snapshot the
 * worker reads back at once shows it (the next scheduled poll is an hour
 * away). The device stays silent until the command is seen RUNNING, so that
 * state is observed rather than raced; a retry then gets the answer.
 */
static void test_fet_off_and_on(void)
{
	struct run x;
	CU_ASSERT_FATAL(run_start(&x, "usb-test-write-fet", HOUR_S, 10));
	struct store_record rec;
	CU_ASSERT_FATAL(store_read(x.st, x.slot, &rec) == 0);
	CU_ASSERT(rec.cmd.status == STORE_CMD_NONE);
	CU_ASSERT((rec.snap.valid & BMS_V_FETS) && rec.snap.charge_fet && rec.snap.discharge_fet);
	uint64_t ok0 = rec.info.cycles_ok;

	atomic_store(&x.r.silent, true);
	uint32_t seq;
	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_DISCHARGE_FET, 0, &seq) == 0);
	CU_ASSERT_FATAL(store_read(x.st, x.slot, &rec) == 0);
	/* the worker may already have taken it (the device is silent: not done yet) */
	CU_ASSERT(rec.cmd.cmd.seq == seq &&
		  (rec.cmd.status == STORE_CMD_PENDING || rec.cmd.status == STORE_CMD_RUNNING));
	CU_ASSERT(rec.cmd.cmd.command == BMS_CMD_DISCHARGE_FET && rec.cmd.cmd.value == 0);
	CU_ASSERT(wait_cmd(&x, seq, STORE_CMD_RUNNING, NULL));
	atomic_store(&x.r.silent, false);
	CU_ASSERT(wait_cmd(&x, seq, STORE_CMD_OK, NULL));
	CU_ASSERT(writes_on_wire(&x.r) >= 1);

	struct fet_wait f = {.st = x.st, .slot = x.slot, .discharge = false};
	CU_ASSERT(wt_wait(fets_are, &f, LONG_WAIT));
	CU_ASSERT(f.rec.snap.charge_fet); /* the other FET untouched */
	CU_ASSERT(f.rec.state == STORE_ONLINE);
	CU_ASSERT(f.rec.info.cycles_ok == ok0 + 1); /* one read-back cycle, not a missed one */

	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_DISCHARGE_FET, 1, &seq) == 0);
	CU_ASSERT(wait_cmd(&x, seq, STORE_CMD_OK, NULL));
	f.discharge = true;
	CU_ASSERT(wt_wait(fets_are, &f, LONG_WAIT));
	CU_ASSERT(f.rec.snap.charge_fet);
	CU_ASSERT(f.rec.info.cycles_ok == ok0 + 2);
	run_stop(&x);
}

/* A command the driver does not list is refused without a byte on the wire. */
static void test_unsupported_refused_off_the_wire(void)
{
	CU_ASSERT_FATAL(!bms_driver_supports(bms_driver_find("jbd"), BMS_CMD_BALANCER));
	struct run x;
	CU_ASSERT_FATAL(run_start(&x, "usb-test-write-refused", HOUR_S, 2));
	unsigned req0 = atomic_load(&x.r.requests);
	size_t log0 = atomic_load(&x.r.log_len);
	uint32_t seq;
	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_BALANCER, 1, &seq) == 0);
	CU_ASSERT(wait_cmd(&x, seq, STORE_CMD_REFUSED, NULL));
	CU_ASSERT_EQUAL(atomic_load(&x.r.requests), req0);
	CU_ASSERT_EQUAL(atomic_load(&x.r.log_len), log0);
	CU_ASSERT_EQUAL(writes_on_wire(&x.r), 0);
	/* the worker goes on: a supported command after it is written */
	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_CHARGE_FET, 0, &seq) == 0);
	CU_ASSERT(wait_cmd(&x, seq, STORE_CMD_OK, NULL));
	CU_ASSERT(writes_on_wire(&x.r) >= 1);
	run_stop(&x);
}

struct count_wait {
	struct store *st;
	int slot;
	uint64_t at_least;
	struct store_record rec;
};

static bool cycles_reach(void *arg)
{
	struct count_wait *p = arg;
	return store_read(p->st, p->slot, &p->rec) == 0 && p->rec.info.cycles_ok >= p->at_least;
}

static bool timeouts_reach(void *arg)
{
	struct count_wait *p = arg;
	return store_read(p->st, p->slot, &p->rec) == 0 && p->rec.info.timeouts >= p->at_least;
}

/* A silent device: the write times out, and polling carries on once it answers. */
static void test_silent_times_out_then_polls_again(void)
{
	struct run x;
	CU_ASSERT_FATAL(run_start(&x, "usb-test-write-silent", 0.1, 2));
	struct store_record rec;
	CU_ASSERT_FATAL(store_read(x.st, x.slot, &rec) == 0);
	atomic_store(&x.r.silent, true);
	uint32_t seq;
	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_DISCHARGE_FET, 0, &seq) == 0);
	CU_ASSERT(wait_cmd(&x, seq, STORE_CMD_TIMEOUT, &rec));
	CU_ASSERT(rec.info.timeouts >= 3); /* the write's three attempts are counted */
	CU_ASSERT(rec.snap.discharge_fet); /* nothing changed */
	CU_ASSERT(writes_on_wire(&x.r) >= 1);
	/* the poll cycles meanwhile time out as well */
	struct count_wait pw = {.st = x.st, .slot = x.slot, .at_least = rec.info.timeouts + 3};
	CU_ASSERT(wt_wait(timeouts_reach, &pw, LONG_WAIT));
	atomic_store(&x.r.silent, false);
	pw.at_least = pw.rec.info.cycles_ok + 5;
	CU_ASSERT(wt_wait(cycles_reach, &pw, LONG_WAIT));
	CU_ASSERT(pw.rec.state == STORE_ONLINE);
	CU_ASSERT(pw.rec.snap.discharge_fet && pw.rec.snap.charge_fet);
	CU_ASSERT(pw.rec.cmd.cmd.seq == seq && pw.rec.cmd.status == STORE_CMD_TIMEOUT);
	CU_ASSERT(!worker_finished(x.w));
	run_stop(&x);
}

/*
 * A stop while one command runs (against a silent device, with retries that
 * would take many minutes) and another waits: the worker ends at once, the
 * record reports CANCELED, no fd is left.
 */
static void test_stop_cancels(void)
{
	struct run x;
	CU_ASSERT_FATAL(run_start(&x, "usb-test-write-stop", HOUR_S, 1000));
	atomic_store(&x.r.silent, true);
	uint32_t a, b;
	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_DISCHARGE_FET, 0, &a) == 0);
	CU_ASSERT(wait_cmd(&x, a, STORE_CMD_RUNNING, NULL));
	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_CHARGE_FET, 0, &b) == 0);
	struct store_record rec;
	CU_ASSERT_FATAL(store_read(x.st, x.slot, &rec) == 0);
	CU_ASSERT(rec.cmd.cmd.seq == b && rec.cmd.status == STORE_CMD_PENDING);
	worker_stop(x.w);
	CU_ASSERT(worker_exit_status(x.w) == 0); /* stopped on request */
	CU_ASSERT_FATAL(store_read(x.st, x.slot, &rec) == 0);
	CU_ASSERT(rec.state == STORE_GONE);
	CU_ASSERT(rec.cmd.cmd.seq == b && rec.cmd.status == STORE_CMD_CANCELED);
	CU_ASSERT(store_command_post(x.st, x.slot, BMS_CMD_CHARGE_FET, 1, &b) == -ESTALE);
	run_stop(&x);

	/* the same with only the running one: its own outcome is CANCELED */
	CU_ASSERT_FATAL(run_start(&x, "usb-test-write-stop2", HOUR_S, 1000));
	atomic_store(&x.r.silent, true);
	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_DISCHARGE_FET, 0, &a) == 0);
	CU_ASSERT(wait_cmd(&x, a, STORE_CMD_RUNNING, NULL));
	worker_stop(x.w);
	CU_ASSERT(worker_exit_status(x.w) == 0);
	CU_ASSERT_FATAL(store_read(x.st, x.slot, &rec) == 0);
	CU_ASSERT(rec.cmd.cmd.seq == a && rec.cmd.status == STORE_CMD_CANCELED);
	run_stop(&x);
}

struct charge_wait {
	struct store *st;
	int slot;
	bool charge;
	struct store_record rec;
};

static bool charge_is(void *arg)
{
	struct charge_wait *f = arg;
	return store_read(f->st, f->slot, &f->rec) == 0 && (f->rec.snap.valid & BMS_V_FETS) &&
	       f->rec.snap.charge_fet == f->charge;
}

/* The same path against `serialbattery simulate`, the simulator process. */
static void test_simulator_process(void)
{
	if (!wt_have_simulator())
		return;
	int fds0 = wt_count_fds();
	struct wt_sim sim;
	CU_ASSERT_FATAL(wt_sim_start(&sim, "jbd", NULL) == 0);
	struct run x = {.key = "usb-test-write-sim"};
	CU_ASSERT_FATAL(store_new(4, &x.st) == 0);
	struct worker_params p;
	wt_worker_params(&p, sim.link, x.key);
	p.port.poll_interval = HOUR_S;
	CU_ASSERT_FATAL(worker_start(&p, x.st, &x.w) == 0);
	CU_ASSERT_FATAL(wt_wait(online, &x, LONG_WAIT));
	uint32_t seq;
	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_CHARGE_FET, 0, &seq) == 0);
	CU_ASSERT(wait_cmd(&x, seq, STORE_CMD_OK, NULL));
	struct charge_wait f = {.st = x.st, .slot = x.slot, .charge = false};
	CU_ASSERT(wt_wait(charge_is, &f, LONG_WAIT));
	CU_ASSERT(f.rec.snap.discharge_fet);
	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_CHARGE_FET, 1, &seq) == 0);
	CU_ASSERT(wait_cmd(&x, seq, STORE_CMD_OK, NULL));
	f.charge = true;
	CU_ASSERT(wt_wait(charge_is, &f, LONG_WAIT));
	CU_ASSERT(f.rec.snap.discharge_fet);
	worker_free(x.w);
	wt_sim_stop(&sim);
	store_free(x.st);
	CU_ASSERT(wt_count_fds() == fds0);
}

static bool ended(void *arg)
{
	return worker_finished(arg);
}

/* The adapter goes while a write waits for its answer: CANCELED, the worker ends -ENODEV. */
static void test_unplug_cancels(void)
{
	struct run x;
	CU_ASSERT_FATAL(run_start(&x, "usb-test-write-unplug", HOUR_S, 1000));
	atomic_store(&x.r.silent, true);
	uint32_t a;
	CU_ASSERT_FATAL(store_command_post(x.st, x.slot, BMS_CMD_CHARGE_FET, 0, &a) == 0);
	CU_ASSERT(wait_cmd(&x, a, STORE_CMD_RUNNING, NULL));
	wt_resp_stop(&x.r); /* closes the pty master: a hangup */
	CU_ASSERT(wt_wait(ended, x.w, LONG_WAIT));
	CU_ASSERT(worker_exit_status(x.w) == -ENODEV);
	struct store_record rec;
	CU_ASSERT_FATAL(store_read(x.st, x.slot, &rec) == 0);
	CU_ASSERT(rec.state == STORE_GONE);
	CU_ASSERT(rec.cmd.cmd.seq == a && rec.cmd.status == STORE_CMD_CANCELED);
	run_stop(&x);
}

/*
 * Writes land between poll cycles, never inside one: in the request stream,
 * a write never follows a 0x03 request (a JBD cycle always goes on with
 * 0x04), and a write that took is followed by a cycle (0x03) at once.
 */
static void test_writes_between_cycles(void)
{
	struct run x;
	CU_ASSERT_FATAL(run_start(&x, "usb-test-write-between", 0.05, 2));
	for (int i = 0; i < 12; i++) {
		uint32_t seq;
		CU_ASSERT_FATAL(
			store_command_post(x.st, x.slot, BMS_CMD_DISCHARGE_FET, i % 2, &seq) == 0);
		CU_ASSERT_FATAL(wait_cmd(&x, seq, STORE_CMD_OK, NULL));
		poll(NULL, 0, 7 * i % 50); /* land at different points of the interval */
	}
	worker_stop(x.w);
	size_t len = atomic_load(&x.r.log_len);
	CU_ASSERT(len < sizeof(x.r.log)); /* the whole run was logged */
	const uint8_t *l = x.r.log;
	uint8_t prev = 0;
	unsigned writes = 0, frames = 0, inside = 0, not_read_back = 0;
	bool want_readback = false;
	for (size_t i = 0; i + 3 < len;) {
		CU_ASSERT_FATAL(l[i] == JBD_START);
		size_t flen = JBD_OVERHEAD + (l[i + 1] == JBD_WRITE ? l[i + 3] : 0);
		uint8_t reg = l[i + 2];
		/*
		 * The setup sequence after detection (factory mode in and out, the
		 * over-current words) is no poll cycle and no MOSFET write: it may
		 * come between a write and its read-back, and is left out here.
		 */
		if (reg == JBD_REG_FACTORY || reg == JBD_REG_FACTORY_EXIT ||
		    reg == JBD_REG_CHG_OC || reg == JBD_REG_DSG_OC) {
			frames++;
			i += flen;
			continue;
		}
		if (want_readback && reg != JBD_REG_MOSFET && reg != JBD_REG_INFO)
			not_read_back++;
		want_readback = false;
		if (l[i + 1] == JBD_WRITE) {
			writes++;
			if (prev == JBD_REG_INFO)
				inside++;
			want_readback = true;
		}
		prev = reg;
		frames++;
		i += flen;
	}
	printf("(%u frames, %u writes) ", frames, writes);
	CU_ASSERT(writes >= 12); /* a retry may repeat one */
	CU_ASSERT_EQUAL(inside, 0);
	CU_ASSERT_EQUAL(not_read_back, 0);
	run_stop(&x);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"discharge FET off and on: running, ok, read back", test_fet_off_and_on},
		{"an unsupported command is refused off the wire",
		 test_unsupported_refused_off_the_wire},
		{"a silent device: timed out, then polled again",
		 test_silent_times_out_then_polls_again},
		{"a stop cancels what runs and what waits", test_stop_cancels},
		{"the simulator process: charge FET off and on", test_simulator_process},
		{"an unplug cancels the running write", test_unplug_cancels},
		{"writes run between poll cycles", test_writes_between_cycles},
		{NULL, NULL},
	};
	return sb_add_suite("worker writes", tests);
}
