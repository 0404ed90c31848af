/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/store.h"
#include "tests/support/cunit_main.h"

static struct bms_snapshot snap_with(uint16_t mv)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_CELLS | BMS_V_VOLTAGE;
	s.cell_count = BMS_MAX_CELLS;
	for (int i = 0; i < BMS_MAX_CELLS; i++)
		s.cell_mv[i] = mv;
	s.voltage_mv = (int32_t)mv * BMS_MAX_CELLS;
	s.current_ma = mv;
	return s;
}

static void test_lifecycle(void)
{
	struct store *st;
	CU_ASSERT_FATAL(store_new(2, &st) == 0);
	int a, b, c;
	CU_ASSERT(store_open(st, "usb-A", &a) == 0);
	CU_ASSERT(store_open(st, "usb-B", &b) == 0);
	CU_ASSERT(a != b);
	CU_ASSERT(store_open(st, "usb-C", &c) == -ENOSPC);
	CU_ASSERT(store_open(st, "usb-A", &c) == -EEXIST);

	struct store_record r;
	CU_ASSERT(store_read(st, a, &r) == 0);
	CU_ASSERT(r.state == STORE_DETECTING);
	CU_ASSERT_STRING_EQUAL(r.info.key, "usb-A");
	CU_ASSERT(r.updated_ms == 0);
	uint64_t seq0 = r.seq;

	struct bms_snapshot s = snap_with(3300);
	struct store_info info = {.tty = "ttyUSB0", .protocol = "jk"};
	strcpy(info.key, "attempt-to-rename");
	CU_ASSERT(store_commit(st, a, &s, &info, 1000) == 0);
	CU_ASSERT(store_read(st, a, &r) == 0);
	CU_ASSERT(r.state == STORE_ONLINE);
	CU_ASSERT(r.seq > seq0);
	CU_ASSERT(r.updated_ms == 1000);
	CU_ASSERT_STRING_EQUAL(r.info.key, "usb-A"); /* key is the identity, never overwritten */
	CU_ASSERT_STRING_EQUAL(r.info.protocol, "jk");
	CU_ASSERT(r.snap.cell_mv[5] == 3300);

	/* stale detection */
	CU_ASSERT(!store_record_stale(&r, 1500, 1000));
	CU_ASSERT(store_record_stale(&r, 2000, 1000));
	struct store_record never = {0};
	CU_ASSERT(!store_record_stale(&never, 100000, 1000));

	/* counters only: snapshot and timestamp kept */
	info.timeouts = 3;
	CU_ASSERT(store_update_info(st, a, &info) == 0);
	CU_ASSERT(store_read(st, a, &r) == 0);
	CU_ASSERT(r.info.timeouts == 3);
	CU_ASSERT(r.updated_ms == 1000);

	/* close -> GONE, reopen same key takes the slot back with its data */
	CU_ASSERT(store_close(st, a) == 0);
	CU_ASSERT(store_read(st, a, &r) == 0);
	CU_ASSERT(r.state == STORE_GONE);
	CU_ASSERT(store_commit(st, a, &s, &info, 2000) == -ESTALE);
	CU_ASSERT(store_open(st, "usb-A", &c) == 0);
	CU_ASSERT(c == a);
	CU_ASSERT(store_read(st, a, &r) == 0);
	CU_ASSERT(r.state == STORE_ONLINE);
	CU_ASSERT(r.snap.cell_mv[0] == 3300);

	/* release only GONE slots */
	CU_ASSERT(store_release(st, a) == -EBUSY);
	CU_ASSERT(store_close(st, a) == 0);
	CU_ASSERT(store_release(st, a) == 0);
	CU_ASSERT(store_read(st, a, &r) == 0);
	CU_ASSERT(r.state == STORE_EMPTY);
	CU_ASSERT(store_open(st, "usb-C", &c) == 0);
	CU_ASSERT(c == a);

	CU_ASSERT(store_commit(st, 7, &s, &info, 1) == -EINVAL);
	CU_ASSERT(store_read(st, -1, &r) == -EINVAL);
	store_free(st);
	store_free(NULL);
}

static void test_eventfd_wakes(void)
{
	struct store *st;
	CU_ASSERT_FATAL(store_new(1, &st) == 0);
	struct pollfd p = {.fd = store_fd(st), .events = POLLIN};
	CU_ASSERT(poll(&p, 1, 0) == 0);
	int a;
	CU_ASSERT(store_open(st, "k", &a) == 0);
	CU_ASSERT(poll(&p, 1, 0) == 1);
	store_drain(st);
	CU_ASSERT(poll(&p, 1, 0) == 0);
	struct bms_snapshot s = snap_with(3000);
	struct store_info info = {0};
	CU_ASSERT(store_commit(st, a, &s, &info, 5) == 0);
	CU_ASSERT(poll(&p, 1, 0) == 1);
	store_drain(st);
	CU_ASSERT(store_close(st, a) == 0);
	CU_ASSERT(poll(&p, 1, 0) == 1);
	store_free(st);
}

/* The hand-off's hook, as a reader would be: it sees every commit so far, and while it runs
 * another commit arrives (here from inside it, as a second worker's would). */
struct hand {
	struct store *st;
	int other;
	int calls;
	bool accept;
	uint64_t seen; /* the sum of the slots' seq at each call */
};

static bool hand_fn(void *ctx)
{
	struct hand *h = ctx;
	h->calls++;
	uint64_t sum = 0;
	for (int k = 0; k < 2; k++) {
		struct store_record r;
		if (store_read(h->st, k, &r) == 0)
			sum += r.seq;
	}
	h->seen = sum;
	if (h->calls == 1 && h->other >= 0) {
		struct bms_snapshot s = snap_with(3100);
		struct store_info info = {0};
		/* finds the hand-off running: leaves it to this call's caller */
		CU_ASSERT(store_commit(h->st, h->other, &s, &info, 7) == 0);
	}
	return h->accept;
}

static void test_handoff(void)
{
	struct store *st;
	CU_ASSERT_FATAL(store_new(2, &st) == 0);
	struct pollfd p = {.fd = store_fd(st), .events = POLLIN};
	int a, b;
	CU_ASSERT(store_open(st, "a", &a) == 0 && store_open(st, "b", &b) == 0);
	store_drain(st);
	struct hand h = {.st = st, .other = b, .accept = true};
	store_set_handoff(st, hand_fn, &h);
	CU_ASSERT(poll(&p, 1, 0) == 1); /* set_handoff wakes the reader once */
	store_drain(st);

	/* taken: no wake-up; the commit made during the call got a second call */
	struct bms_snapshot s = snap_with(3000);
	struct store_info info = {0};
	CU_ASSERT(store_commit(st, a, &s, &info, 5) == 0);
	CU_ASSERT(h.calls == 2);
	struct store_record ra, rb;
	CU_ASSERT(store_read(st, a, &ra) == 0 && store_read(st, b, &rb) == 0);
	CU_ASSERT(h.seen == ra.seq + rb.seq);
	CU_ASSERT(poll(&p, 1, 0) == 0);

	/* refused: the reader is woken, as without a hook */
	h.calls = 0;
	h.other = -1;
	h.accept = false;
	CU_ASSERT(store_commit(st, a, &s, &info, 6) == 0);
	CU_ASSERT(h.calls == 1);
	CU_ASSERT(poll(&p, 1, 0) == 1);
	store_drain(st);

	/* removed: never called again */
	store_set_handoff(st, NULL, NULL);
	store_drain(st);
	h.calls = 0;
	CU_ASSERT(store_commit(st, a, &s, &info, 7) == 0);
	CU_ASSERT(h.calls == 0);
	CU_ASSERT(poll(&p, 1, 0) == 1);
	store_free(st);
}

/* Concurrent writers on one slot and readers: no reader may see a torn snapshot. */
struct stress {
	struct store *st;
	int slot;
	int id;
	int torn;
	int reads;
};

#define STRESS_ITERS 20000

static void *writer(void *arg)
{
	struct stress *x = arg;
	for (int i = 0; i < STRESS_ITERS; i++) {
		uint16_t mv = (uint16_t)(1000 + x->id * 1000 + (i % 900));
		struct bms_snapshot s = snap_with(mv);
		struct store_info info = {.cycles_ok = (uint64_t)mv};
		store_commit(x->st, x->slot, &s, &info, (uint64_t)i + 1);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct stress *x = arg;
	for (int i = 0; i < STRESS_ITERS; i++) {
		struct store_record r;
		store_read(x->st, x->slot, &r);
		x->reads++;
		if (r.state != STORE_ONLINE)
			continue;
		uint16_t mv = r.snap.cell_mv[0];
		bool ok = r.snap.voltage_mv == (int32_t)mv * BMS_MAX_CELLS &&
			  r.snap.current_ma == mv && r.info.cycles_ok == mv;
		for (int c = 1; c < BMS_MAX_CELLS; c++)
			ok = ok && r.snap.cell_mv[c] == mv;
		if (!ok)
			x->torn++;
	}
	return NULL;
}

static void test_no_torn_snapshot(void)
{
	struct store *st;
	CU_ASSERT_FATAL(store_new(4, &st) == 0);
	int slot;
	CU_ASSERT_FATAL(store_open(st, "shared", &slot) == 0);
	enum { W = 3, R = 2 };
	pthread_t tw[W], tr[R];
	struct stress xw[W], xr[R];
	for (int i = 0; i < W; i++) {
		xw[i] = (struct stress){st, slot, i, 0, 0};
		pthread_create(&tw[i], NULL, writer, &xw[i]);
	}
	for (int i = 0; i < R; i++) {
		xr[i] = (struct stress){st, slot, 0, 0, 0};
		pthread_create(&tr[i], NULL, reader, &xr[i]);
	}
	for (int i = 0; i < W; i++)
		pthread_join(tw[i], NULL);
	for (int i = 0; i < R; i++)
		pthread_join(tr[i], NULL);
	for (int i = 0; i < R; i++) {
		CU_ASSERT(xr[i].torn == 0);
		CU_ASSERT(xr[i].reads == STRESS_ITERS);
	}
	struct store_record r;
	store_read(st, slot, &r);
	CU_ASSERT(r.seq >= (uint64_t)W * STRESS_ITERS);
	store_free(st);
}

/* Workers claiming different keys at once get different slots. */
struct opener {
	struct store *st;
	char key[16];
	int slot;
	int rc;
};

static void *open_one(void *arg)
{
	struct opener *o = arg;
	o->rc = store_open(o->st, o->key, &o->slot);
	return NULL;
}

static void test_concurrent_open(void)
{
	enum { N = 8 };
	struct store *st;
	CU_ASSERT_FATAL(store_new(N, &st) == 0);
	pthread_t t[N];
	struct opener o[N];
	for (int i = 0; i < N; i++) {
		o[i] = (struct opener){.st = st};
		snprintf(o[i].key, sizeof(o[i].key), "key%d", i);
		pthread_create(&t[i], NULL, open_one, &o[i]);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	unsigned seen = 0;
	for (int i = 0; i < N; i++) {
		CU_ASSERT(o[i].rc == 0);
		seen |= 1u << o[i].slot;
	}
	CU_ASSERT(seen == (1u << N) - 1);
	store_free(st);
}

/* The start-up port registry: pending until marked once, marking wakes the reader. */
static void test_port_registry(void)
{
	struct store *st;
	CU_ASSERT_FATAL(store_new(2, &st) == 0);
	unsigned total, pending;
	store_port_count(st, &total, &pending);
	CU_ASSERT(total == 0 && pending == 0);
	CU_ASSERT(store_port_register(st, "/dev/ttyUSB0") == 0);
	CU_ASSERT(store_port_register(st, "/dev/ttyUSB1") == 0);
	CU_ASSERT(store_port_register(st, "/dev/ttyUSB0") == 0); /* known: unchanged */
	store_port_count(st, &total, &pending);
	CU_ASSERT(total == 2 && pending == 2);
	store_drain(st);
	store_port_mark(st, "/dev/ttyUSB0", STORE_PORT_DETECTED);
	struct pollfd pfd = {.fd = store_fd(st), .events = POLLIN};
	CU_ASSERT(poll(&pfd, 1, 0) == 1);
	store_port_mark(st, "/dev/ttyUSB1", STORE_PORT_FAILED);
	store_port_mark(st, "/dev/ttyUSB0", STORE_PORT_FAILED); /* marked once only */
	store_port_count(st, &total, &pending);
	CU_ASSERT(total == 2 && pending == 0);
	CU_ASSERT(store_port_register(st, "/dev/ttyUSB2") == 0);
	store_port_count(st, &total, &pending);
	CU_ASSERT(total == 3 && pending == 1);
	store_port_remove(st, "/dev/ttyUSB2");
	store_port_count(st, &total, &pending);
	CU_ASSERT(total == 2 && pending == 0);
	store_free(st);
}

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

static void drain_fd(int fd)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
}

/* The mailbox: post wakes the worker, take/done report back, newest wins. */
static void test_command_mailbox(void)
{
	struct store *st;
	CU_ASSERT_FATAL(store_new(2, &st) == 0);
	int wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CU_ASSERT_FATAL(wfd >= 0);
	int a;
	uint32_t seq;
	CU_ASSERT(store_command_post(st, 0, BMS_CMD_CHARGE_FET, 0, &seq) ==
		  -ESTALE); /* empty slot */
	CU_ASSERT_FATAL(store_open(st, "usb-A", &a) == 0);
	CU_ASSERT(store_command_post(st, a, BMS_CMD_NONE, 0, &seq) == -EINVAL);
	CU_ASSERT(store_command_post(st, a, BMS_CMD_COUNT, 0, &seq) == -EINVAL);
	CU_ASSERT(store_command_listen(st, a, wfd) == 0);

	struct store_command c;
	CU_ASSERT(store_command_take(st, a, &c) == 0); /* nothing waits */

	/* a post wakes the worker and shows PENDING to readers, with a new record seq */
	struct store_record r;
	store_read(st, a, &r);
	uint64_t rseq = r.seq;
	uint32_t s1;
	CU_ASSERT(store_command_post(st, a, BMS_CMD_DISCHARGE_FET, 0, &s1) == 0);
	CU_ASSERT(s1 != 0);
	CU_ASSERT(readable(wfd));
	drain_fd(wfd);
	store_read(st, a, &r);
	CU_ASSERT(r.seq > rseq);
	CU_ASSERT(r.cmd.status == STORE_CMD_PENDING);
	CU_ASSERT(r.cmd.cmd.seq == s1);
	CU_ASSERT(r.cmd.cmd.command == BMS_CMD_DISCHARGE_FET);

	/* a second post before the take replaces it: the newest wish wins */
	uint32_t s2;
	CU_ASSERT(store_command_post(st, a, BMS_CMD_DISCHARGE_FET, 1, &s2) == 0);
	CU_ASSERT(s2 != s1);
	CU_ASSERT(store_command_take(st, a, &c) == 1);
	CU_ASSERT(c.seq == s2 && c.value == 1 && c.command == BMS_CMD_DISCHARGE_FET);
	CU_ASSERT(store_command_take(st, a, &c) == 0); /* taken once */
	store_read(st, a, &r);
	CU_ASSERT(r.cmd.status == STORE_CMD_RUNNING);

	/* the outcome reaches the publisher: its eventfd wakes, the record says OK */
	store_drain(st);
	CU_ASSERT(store_command_done(st, a, s1, STORE_CMD_OK) == 0); /* not the running one */
	store_read(st, a, &r);
	CU_ASSERT(r.cmd.status == STORE_CMD_RUNNING);
	CU_ASSERT(store_command_done(st, a, s2, STORE_CMD_PENDING) == -EINVAL); /* not an outcome */
	CU_ASSERT(store_command_done(st, a, s2, STORE_CMD_REFUSED) == 0);
	CU_ASSERT(readable(store_fd(st)));
	store_read(st, a, &r);
	CU_ASSERT(r.cmd.status == STORE_CMD_REFUSED);
	CU_ASSERT(r.cmd.cmd.seq == s2);

	/* posted while one runs: the running one's outcome does not mask the new one */
	uint32_t s3, s4;
	CU_ASSERT(store_command_post(st, a, BMS_CMD_CHARGE_FET, 0, &s3) == 0);
	CU_ASSERT(store_command_take(st, a, &c) == 1 && c.seq == s3);
	CU_ASSERT(store_command_post(st, a, BMS_CMD_BALANCER, 1, &s4) == 0);
	CU_ASSERT(store_command_done(st, a, s3, STORE_CMD_OK) == 0);
	store_read(st, a, &r);
	CU_ASSERT(r.cmd.status == STORE_CMD_PENDING && r.cmd.cmd.seq == s4);
	CU_ASSERT(store_command_take(st, a, &c) == 1 && c.seq == s4 &&
		  c.command == BMS_CMD_BALANCER);

	/* the battery goes away: what runs is canceled, posts are refused, no wake-up
	 * reaches the fd the worker is about to close */
	drain_fd(wfd);
	CU_ASSERT(store_close(st, a) == 0);
	store_read(st, a, &r);
	CU_ASSERT(r.cmd.status == STORE_CMD_CANCELED);
	CU_ASSERT(store_command_post(st, a, BMS_CMD_CHARGE_FET, 1, &seq) == -ESTALE);
	CU_ASSERT(!readable(wfd));

	/* taken back after a replug: a command posted before the worker listens is not lost */
	int a2;
	CU_ASSERT(store_open(st, "usb-A", &a2) == 0 && a2 == a);
	uint32_t s5;
	CU_ASSERT(store_command_post(st, a, BMS_CMD_SOC, 5000, &s5) == 0);
	CU_ASSERT(s5 > s4);
	CU_ASSERT(!readable(wfd)); /* nobody listens yet */
	CU_ASSERT(store_command_listen(st, a, wfd) == 0);
	CU_ASSERT(readable(wfd));
	CU_ASSERT(store_command_take(st, a, &c) == 1 && c.seq == s5 && c.value == 5000);
	CU_ASSERT(store_command_done(st, a, s5, STORE_CMD_TIMEOUT) == 0);
	store_read(st, a, &r);
	CU_ASSERT(r.cmd.status == STORE_CMD_TIMEOUT);
	CU_ASSERT_STRING_EQUAL(store_cmd_status_name(r.cmd.status), "timed out");

	close(wfd);
	store_free(st);
}

struct mbox_worker {
	struct store *st;
	int slot;
	int wfd;
	int handled;
};

/* A worker thread that sleeps on its eventfd and answers every command. */
static void *mbox_worker_run(void *arg)
{
	struct mbox_worker *w = arg;
	while (w->handled < 100) {
		struct pollfd p = {.fd = w->wfd, .events = POLLIN};
		if (poll(&p, 1, 5000) != 1)
			break; /* a lost wake-up: the test below sees handled < 100 */
		drain_fd(w->wfd);
		struct store_command c;
		while (store_command_take(w->st, w->slot, &c) == 1) {
			store_command_done(w->st, w->slot, c.seq,
					   c.value % 2 ? STORE_CMD_OK : STORE_CMD_REFUSED);
			w->handled++;
		}
	}
	return NULL;
}

/* Across threads: no command posted after the previous one finished is lost. */
static void test_command_threads(void)
{
	struct store *st;
	CU_ASSERT_FATAL(store_new(1, &st) == 0);
	struct mbox_worker w = {.st = st, .wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
	CU_ASSERT_FATAL(store_open(st, "usb-T", &w.slot) == 0);
	CU_ASSERT_FATAL(store_command_listen(st, w.slot, w.wfd) == 0);
	pthread_t t;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, mbox_worker_run, &w) == 0);
	for (int i = 0; i < 100; i++) {
		uint32_t seq;
		CU_ASSERT_FATAL(store_command_post(st, w.slot, BMS_CMD_CHARGE_FET, i, &seq) == 0);
		struct store_record r;
		for (;;) { /* wait for the outcome through the publisher's eventfd */
			store_read(st, w.slot, &r);
			if (r.cmd.cmd.seq == seq && r.cmd.status >= STORE_CMD_OK)
				break;
			struct pollfd p = {.fd = store_fd(st), .events = POLLIN};
			if (poll(&p, 1, 5000) != 1)
				break;
			store_drain(st);
		}
		CU_ASSERT(r.cmd.status == (i % 2 ? STORE_CMD_OK : STORE_CMD_REFUSED));
	}
	pthread_join(t, NULL);
	CU_ASSERT(w.handled == 100);
	close(w.wfd);
	store_free(st);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"lifecycle", test_lifecycle},
		{"eventfd_wakes", test_eventfd_wakes},
		{"handoff", test_handoff},
		{"no_torn_snapshot", test_no_torn_snapshot},
		{"concurrent_open", test_concurrent_open},
		{"port_registry", test_port_registry},
		{"command_mailbox", test_command_mailbox},
		{"command_threads", test_command_threads},
		{NULL, NULL},
	};
	return sb_add_suite("store", tests);
}
