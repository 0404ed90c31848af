/* SPDX-License-Identifier: MIT */
/*
 * CPU time and wake-ups per poll cycle and resident memory of one worker,
 * against a simulator link: worker_bench LINK BMS CYCLES. Prints one line of
 * figures: CPU (the thread's CPU clock), wake-ups (the thread's voluntary and
 * involuntary context switches, getrusage) and the transport's own counters
 * per cycle (timed sleeps, polls, reads, short reads, flushes). Built and run
 * by bench/worker_bench.sh (not a test: figures, no verdict).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/sbtime.h"
#include "common/store.h"
#include "worker/detect.h"
#include "worker/worker.h"

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static double thread_cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The cycles measured, in a function of their own for callgrind's --toggle-collect. */
__attribute__((noinline)) static unsigned
measured_cycles(struct worker_link *l, const struct bms_driver *drv, void *state,
		struct bms_held *held, struct bms_snapshot *snap, struct worker_counters *c,
		unsigned cycles, double *cpu)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < cycles; i++) {
		double t0 = thread_cpu_us();
		memset(snap, 0, sizeof(*snap));
		if (worker_cycle(l, drv, state, BMS_REQ_POLL, 2, held, snap, c) == 0)
			ok++;
		*cpu += thread_cpu_us() - t0;
	}
	return ok;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: worker_bench LINK BMS CYCLES\n");
		return 2;
	}
	const struct bms_driver *drv = bms_driver_find(argv[2]);
	unsigned cycles = (unsigned)atoi(argv[3]);
	struct worker_link *l;
	if (!drv || worker_link_open(argv[1], -1, &l) < 0)
		return 1;
	struct worker_detect_opts o = {.bms = argv[2], .retries = 2};
	struct worker_detect_result res;
	if (worker_detect(l, &o, &res) < 0)
		return 1;
	void *state = calloc(1, l->state_cap);
	if (drv->init)
		drv->init(state, res.address);
	struct bms_snapshot snap = res.snap;
	struct bms_held held; /* as the worker keeps it per battery */
	bms_held_reset(&held);
	bms_held_seed(drv, &held, &res.snap);
	struct worker_counters c = {0};
	unsigned ok = 0;
	double cpu = 0;
	/* one cycle first: lengths and latency are learned, as after a detection */
	memset(&snap, 0, sizeof(snap));
	worker_cycle(l, drv, state, BMS_REQ_POLL, 2, &held, &snap, &c);
	struct worker_transport_stats s0 = l->t->stats;
	struct rusage u0, u1;
	getrusage(RUSAGE_THREAD, &u0);
	ok = measured_cycles(l, drv, state, &held, &snap, &c, cycles, &cpu);
	getrusage(RUSAGE_THREAD, &u1);
	struct worker_transport_stats s1 = l->t->stats;
	double vol = (double)(u1.ru_nvcsw - u0.ru_nvcsw);
	double wakes = vol + (double)(u1.ru_nivcsw - u0.ru_nivcsw);
	unsigned steps = 0;
	/* the requests of a steady-state cycle: static steps already held are skipped */
	struct bms_request rq = {.kind = BMS_REQ_POLL, .cycle = held.cycle};
	for (rq.step = 0;; rq.step++) {
		if (!bms_step_due(drv, rq.step, &held))
			continue;
		if (drv->build_request(state, &rq, l->req, l->req_cap) <= 0)
			break;
		steps++;
	}
	worker_link_close(l);
	free(state);

	/* resident memory of one whole worker thread, online */
	struct store *st;
	store_new(4, &st);
	long before = rss_kb();
	struct worker_params p = {.notify_fd = -1};
	snprintf(p.path, sizeof(p.path), "%s", argv[1]);
	snprintf(p.identity, sizeof(p.identity), "bench");
	p.serial.retries = 2;
	p.serial.detect_backoff_max = 60;
	p.serial.detect_round_max = 10;
	p.port.bms[0] = '\0';
	snprintf(p.port.bms, sizeof(p.port.bms), "%s", argv[2]);
	struct worker *w;
	worker_start(&p, st, &w);
	uint64_t end = time_mono_ms() + 20000;
	struct store_record r = {0};
	while (time_mono_ms() < end) {
		if (store_read(st, 0, &r) == 0 && r.info.cycles_ok >= 3)
			break;
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
	long after = rss_kb();
	worker_free(w);
	store_free(st);
	double n = cycles ? cycles : 1;
	printf("%s: %u/%u cycles ok, %u steps/cycle, CPU %.1f us/cycle (%.1f us/step), "
	       "%.2f wake-ups/cycle (%.2f voluntary; sleeps %.2f, polls %.2f, reads %.2f, "
	       "short %.2f, flushes %.2f), worker RSS +%ld KiB\n",
	       drv->name, ok, cycles, steps, cpu / n, cpu / n / (steps ? steps : 1), wakes / n,
	       vol / n, (double)(s1.sleeps - s0.sleeps) / n, (double)(s1.polls - s0.polls) / n,
	       (double)(s1.reads - s0.reads) / n, (double)(s1.short_reads - s0.short_reads) / n,
	       (double)(s1.flushes - s0.flushes) / n, after - before);
	return 0;
}
