/* SPDX-License-Identifier: MIT */
/*
 * The transport seam (worker/transport.h) with a backend that is not termios:
 * a byte stream over a real AF_UNIX socket (tests/worker/wstream.c), the
 * device answering through each family's simulator (bms/sim). Detection, the
 * poll cycle, a hangup, a stop and the whole worker thread run over it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bms/sim/sim.h"
#include "common/sbtime.h"
#include "tests/support/cunit_main.h"
#include "tests/worker/wstream.h"
#include "tests/worker/wtest.h"
#include "worker/detect.h"
#include "worker/worker.h"

static const char *const families[] = {"jk", "jkpb", "jbd", "daly", NULL};

static bool same_cells(const struct bms_snapshot *got)
{
	struct bms_snapshot want;
	wt_snapshot(&want);
	if (!(got->valid & BMS_V_CELLS) || got->cell_count != want.cell_count)
		return false;
	for (unsigned i = 0; i < want.cell_count; i++)
		if (got->cell_mv[i] != want.cell_mv[i])
			return false;
	return true;
}

/* A link over the stream backend with drv answering on the far end. */
struct stream_bms {
	char path[108];
	int listen_fd;
	struct worker_link *l;
	struct wt_resp r;
};

static int stream_bms_start(struct stream_bms *b, const struct bms_driver *drv, int wake_fd)
{
	memset(b, 0, sizeof(*b));
	b->listen_fd = wt_stream_listen(b->path, sizeof(b->path));
	if (b->listen_fd < 0)
		return b->listen_fd;
	int r = worker_link_open_ops(&wt_stream_ops, b->path, wake_fd, &b->l);
	if (r < 0)
		return r;
	int fd = wt_stream_accept(b->listen_fd, 5000);
	if (fd < 0)
		return fd;
	return wt_resp_start_fd(&b->r, drv, fd);
}

static void stream_bms_stop(struct stream_bms *b)
{
	worker_link_close(b->l);
	wt_resp_stop(&b->r);
	wt_stream_unlisten(b->listen_fd, b->path);
}

/* Each family found with no hints, then polled, over a transport with no termios at all. */
static void test_detect_and_cycle_over_stream(void)
{
	for (const char *const *f = families; *f; f++) {
		const struct bms_driver *drv = bms_driver_find(*f);
		if (!drv || !bms_sim_find(drv->name)) {
			printf("\n    (%s not registered: skipped) ", *f);
			continue;
		}
		struct stream_bms b;
		CU_ASSERT_FATAL(stream_bms_start(&b, drv, -1) == 0);
		CU_ASSERT(b.l->t->ops == &wt_stream_ops);
		struct worker_detect_opts o = {.retries = 2, .quick = true};
		struct worker_detect_result res;
		int rc = worker_detect(b.l, &o, &res);
		CU_ASSERT(rc == 0);
		if (rc == 0) {
			CU_ASSERT(res.drv == drv);
			CU_ASSERT(same_cells(&res.snap));
			/* the engine set the line through the ops: the candidate's own */
			CU_ASSERT(wt_stream_configures(b.l->t) >= 1);
			CU_ASSERT(b.l->t->line.baud == res.baud);
			CU_ASSERT(b.l->t->line.framing == bms_driver_framing(drv));

			/* then a poll cycle of the battery found, as the worker runs it */
			void *state = calloc(1, b.l->state_cap);
			CU_ASSERT_FATAL(state != NULL);
			if (drv->init)
				drv->init(state, res.address);
			struct bms_snapshot snap;
			memset(&snap, 0, sizeof(snap));
			struct worker_counters c = {0};
			unsigned before = atomic_load(&b.r.requests);
			CU_ASSERT(worker_cycle(b.l, drv, state, BMS_REQ_POLL, 2, NULL, &snap, &c) ==
				  0);
			CU_ASSERT(same_cells(&snap));
			CU_ASSERT(c.timeouts == 0 && c.frames_bad == 0);
			CU_ASSERT(atomic_load(&b.r.requests) > before);
			free(state);
		}
		stream_bms_stop(&b);
	}
}

/* The peer going away ends a cycle with -ENODEV; a written wake fd with -ECANCELED. */
static void test_stream_hangup_and_stop(void)
{
	const struct bms_driver *jbd = bms_driver_find("jbd");
	CU_ASSERT_FATAL(jbd != NULL);
	int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CU_ASSERT_FATAL(wake >= 0);
	struct stream_bms b;
	CU_ASSERT_FATAL(stream_bms_start(&b, jbd, wake) == 0);
	struct worker_detect_opts o = {.bms = "jbd", .retries = 1};
	struct worker_detect_result res;
	CU_ASSERT_FATAL(worker_detect(b.l, &o, &res) == 0);
	void *state = calloc(1, b.l->state_cap);
	CU_ASSERT_FATAL(state != NULL);
	if (jbd->init)
		jbd->init(state, res.address);
	struct bms_snapshot snap;
	struct worker_counters c = {0};

	/* a command eventfd ends the idle wait and is left readable for its
	 * owner to drain; a stop at the same moment wins */
	int cmd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CU_ASSERT_FATAL(cmd >= 0);
	uint64_t one = 1;
	CU_ASSERT(worker_transport_idle_or(b.l->t, cmd, time_mono_ms()) == 0);
	CU_ASSERT(write(cmd, &one, sizeof(one)) == sizeof(one));
	CU_ASSERT(worker_transport_idle_or(b.l->t, cmd, time_mono_ms() + 3600000) == 1);
	CU_ASSERT(worker_transport_idle_or(b.l->t, cmd, time_mono_ms() + 3600000) == 1);
	CU_ASSERT(worker_transport_idle(b.l->t, time_mono_ms()) == 0); /* not its business */

	/* a stop: every wait ends at once, however far its deadline */
	CU_ASSERT(write(wake, &one, sizeof(one)) == sizeof(one));
	CU_ASSERT(worker_transport_idle(b.l->t, time_mono_ms() + 3600000) == -ECANCELED);
	CU_ASSERT(worker_transport_idle_or(b.l->t, cmd, time_mono_ms() + 3600000) == -ECANCELED);
	CU_ASSERT(worker_cycle(b.l, jbd, state, BMS_REQ_POLL, 2, NULL, &snap, &c) == -ECANCELED);
	uint64_t v;
	CU_ASSERT(read(wake, &v, sizeof(v)) == sizeof(v));

	/* the far end closes: a hangup, not a timeout, and not hidden by a command */
	wt_resp_stop(&b.r);
	CU_ASSERT(worker_transport_idle_or(b.l->t, cmd, time_mono_ms() + 3600000) == -ENODEV);
	close(cmd);
	CU_ASSERT(worker_cycle(b.l, jbd, state, BMS_REQ_POLL, 2, NULL, &snap, &c) == -ENODEV);
	CU_ASSERT(c.timeouts == 0);
	worker_link_close(b.l);
	wt_stream_unlisten(b.listen_fd, b.path);
	close(wake);
	free(state);
}

struct slot_wait {
	struct store *st;
	const char *key;
	struct store_record rec;
};

static bool online_twice(void *arg)
{
	struct slot_wait *w = arg;
	return wt_find_slot(w->st, w->key, &w->rec) >= 0 && w->rec.state == STORE_ONLINE &&
	       w->rec.info.cycles_ok >= 2;
}

static bool finished(void *arg)
{
	return worker_finished(arg);
}

/* The worker thread over the stream: detects, commits whole snapshots, ends on a hangup. */
static void test_worker_thread_over_stream(void)
{
	const struct bms_driver *jbd = bms_driver_find("jbd");
	CU_ASSERT_FATAL(jbd != NULL);
	char path[108];
	int lfd = wt_stream_listen(path, sizeof(path));
	CU_ASSERT_FATAL(lfd >= 0);
	struct store *st;
	CU_ASSERT_FATAL(store_new(4, &st) == 0);
	struct worker_params p;
	wt_worker_params(&p, path, "stream-test");
	p.transport = &wt_stream_ops;
	snprintf(p.port.bms, sizeof(p.port.bms), "jbd");
	struct worker *w;
	CU_ASSERT_FATAL(worker_start(&p, st, &w) == 0);
	/* requests sent before the accept wait in the socket; detection retries */
	int fd = wt_stream_accept(lfd, 10000);
	CU_ASSERT_FATAL(fd >= 0);
	struct wt_resp r;
	CU_ASSERT_FATAL(wt_resp_start_fd(&r, jbd, fd) == 0);
	struct slot_wait sw = {.st = st, .key = "stream-test"};
	CU_ASSERT(wt_wait(online_twice, &sw, 30000));
	CU_ASSERT(same_cells(&sw.rec.snap));
	CU_ASSERT_STRING_EQUAL(sw.rec.info.protocol, "jbd");
	wt_resp_stop(&r);
	CU_ASSERT(wt_wait(finished, w, 30000));
	CU_ASSERT(worker_exit_status(w) == -ENODEV);
	worker_free(w);
	store_free(st);
	wt_stream_unlisten(lfd, path);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"detect_and_cycle_over_stream", test_detect_and_cycle_over_stream},
		{"stream_hangup_and_stop", test_stream_hangup_and_stop},
		{"worker_thread_over_stream", test_worker_thread_over_stream},
		{NULL, NULL},
	};
	return sb_add_suite("worker_transport", tests);
}
