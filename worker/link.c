/* SPDX-License-Identifier: MIT */
#include "link.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sbtime.h"
#include "worker/serial.h"

#define REQ_CAP 512
/* Bytes keep a reply alive this long after the last one (USB adapters deliver
 * in bursts, every 1-16 ms); never beyond the hard cap of the attempt. */
#define QUIET_MS 40u

/* Largest state_size over the registry (at least 1). */
static size_t worker_state_size_max(void)
{
	size_t m = 1;
	for (size_t i = 0; bms_drivers[i]; i++)
		if (bms_drivers[i]->state_size > m)
			m = bms_drivers[i]->state_size;
	return m;
}

static size_t frame_size_max(void)
{
	size_t m = 256;
	for (size_t i = 0; bms_drivers[i]; i++)
		if (bms_drivers[i]->max_frame > m)
			m = bms_drivers[i]->max_frame;
	return m;
}

int worker_link_open_ops(const struct worker_transport_ops *ops, const char *path, int wake_fd,
			 struct worker_link **ret)
{
	struct worker_link *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	/* Room for a whole frame behind a frame's worth of echo or noise. */
	l->rx_cap = 2 * frame_size_max() + 256;
	l->req_cap = REQ_CAP;
	l->state_cap = worker_state_size_max();
	l->rx = malloc(l->rx_cap);
	l->req = malloc(l->req_cap);
	l->scratch_state = calloc(1, l->state_cap);
	int r = -ENOMEM;
	if (!l->rx || !l->req || !l->scratch_state)
		goto fail;
	r = worker_transport_open(ops, path, wake_fd, &l->t);
	if (r < 0)
		goto fail;
	*ret = l;
	return 0;
fail:
	worker_link_close(l);
	return r;
}

int worker_link_open(const char *path, int wake_fd, struct worker_link **ret)
{
	return worker_link_open_ops(&worker_serial_ops, path, wake_fd, ret);
}

void worker_link_close(struct worker_link *l)
{
	if (!l)
		return;
	worker_transport_close(l->t);
	free(l->rx);
	free(l->req);
	free(l->scratch_state);
	free(l);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}
static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* One request and its reply; reqlen 0 (a passive driver): listen only. */
static int step_once(struct worker_link *l, const struct bms_driver *drv, void *state,
		     const struct bms_request *req, size_t reqlen, struct bms_snapshot *snap,
		     struct worker_counters *c)
{
	struct worker_transport *t = l->t;
	int r;
	if (reqlen && l->next_tx_ms > time_mono_ms()) {
		r = worker_transport_idle(t, l->next_tx_ms);
		if (r < 0)
			return r;
	}
	/* A late reply to an earlier request must not be taken for this one:
	 * after an exchange that did not end cleanly (a timeout, a bad frame,
	 * bytes before or after the reply), a new line or at the start, input is
	 * dropped. After a clean one there is nothing to drop, and noise that
	 * came meanwhile is skipped by the candidate scan like any garbage. A
	 * passive BMS talks unsolicited: what it sent is the data, keep it. */
	if (t->unclean && !(drv->flags & BMS_F_PASSIVE)) {
		r = worker_transport_flush(t);
		if (r < 0)
			return r;
	}
	t->unclean = true; /* until this exchange ends cleanly */
	/* another request of this cycle follows after the gap: read this reply
	 * in the same wake-up as the gap ends */
	t->linger_ms = l->more_follows ? drv->inter_frame_gap_ms : 0;
	t->rx_end_ms = 0;
	uint64_t t0 = time_mono_ms();
	unsigned wire_req = worker_transport_wire_ms(t, reqlen);
	/* reqlen 0 still starts an exchange (worker/transport.h): nothing goes out */
	r = worker_transport_write(t, l->req, reqlen, t0 + wire_req + 1000u);
	if (r == -ETIMEDOUT) {
		c->timeouts++;
		return r;
	}
	if (r < 0)
		return r;

	unsigned tmo = drv->response_timeout_ms;
	if (l->timeout_cap_ms && l->timeout_cap_ms < tmo)
		tmo = l->timeout_cap_ms;
	/* The request is still on the wire when write() returns on a real UART. */
	uint64_t soft = t0 + wire_req + tmo;
	uint64_t hard = soft + worker_transport_wire_ms(t, drv->max_frame) + QUIET_MS;
	size_t len = 0, got = 0, consumed = 0;
	uint64_t last_rx = 0;
	bool bad = false;
	bool noise = false; /* bytes that were neither our reply nor our echo */
	/* every byte so far made frames for someone else: a silence from ours */
	bool foreign_only = true;

	for (;;) {
		uint64_t dl = soft;
		if (got > 0)
			dl = min_u64(hard, max_u64(soft, last_rx + QUIET_MS));
		r = worker_transport_read(t, l->rx + len, l->rx_cap - len, dl);
		if (r == -ETIMEDOUT) {
			l->next_tx_ms = time_mono_ms() + drv->inter_frame_gap_ms;
			if (got == 0 || (foreign_only && len == 0)) {
				c->timeouts++;
				return -ETIMEDOUT;
			}
			if (!bad)
				c->frames_bad++;
			return -EBADMSG;
		}
		if (r < 0)
			return r;
		len += (size_t)r;
		got += (size_t)r;
		last_rx = time_mono_ms();

		while (len > 0) {
			size_t start = 0, flen = 0;
			enum bms_find f = bms_frame_find(drv, l->rx, len, &start, &flen);
			if (f == BMS_FIND_INVALID) {
				consumed += len;
				len = 0;
				foreign_only = false;
				noise = true;
				break;
			}
			if (f == BMS_FIND_NEED_MORE) {
				if (start > len)
					start = len;
				if (start == 0 && len == l->rx_cap)
					start = 1; /* a "frame" longer than any: resync */
				if (start) {
					foreign_only = false;
					noise = true;
					memmove(l->rx, l->rx + start, len - start);
					len -= start;
					consumed += start;
				}
				break;
			}
			if (start > 0) {
				foreign_only = false; /* garbage before the frame */
				noise = true;
			}
			if (start > len || flen == 0 || flen > len - start) {
				/* a driver bug: never trust the bounds it gave */
				consumed += len;
				len = 0;
				break;
			}
			/* our own request echoed by the adapter (CH340 boards do): not
			 * someone else's traffic, not counted at all */
			bool echo = reqlen && flen == reqlen &&
				    memcmp(l->rx + start, l->req, reqlen) == 0;
			int pr = echo ? BMS_FOREIGN
				      : drv->parse(state, req, l->rx + start, flen, snap);
			size_t used = start + flen;
			memmove(l->rx, l->rx + used, len - used);
			len -= used;
			consumed += used;
			if (pr == 0) {
				worker_transport_reply_done(t, consumed);
				/* the gap counts from the reply's end; a backend that read
				 * it late (timed, lingering) says when that was */
				uint64_t now = time_mono_ms();
				uint64_t end =
					t->rx_end_ms && t->rx_end_ms < now ? t->rx_end_ms : now;
				l->next_tx_ms = end + drv->inter_frame_gap_ms;
				l->timeout_cap_ms = 0; /* it answers: full timeouts from now on */
				t->unclean = len > 0 || noise || bad;
				return 0;
			}
			if (pr == 1) {
				/* more frames of the same reply follow */
				uint64_t now = time_mono_ms();
				soft = now + tmo;
				hard = soft + worker_transport_wire_ms(t, drv->max_frame) +
				       QUIET_MS;
				continue;
			}
			if (pr == -EPERM) {
				/* the BMS answered and refused (a write): no retry helps */
				l->next_tx_ms = time_mono_ms() + drv->inter_frame_gap_ms;
				return -EPERM;
			}
			if (pr == BMS_FOREIGN) {
				/* someone else's frame on a shared line: skip it, keep waiting */
				if (!echo) {
					c->frames_foreign++;
					noise = true;
				}
				continue;
			}
			/* checksummed but not a fit (impossible values, a broken sequence) */
			c->frames_bad++;
			c->frames_refused++;
			bad = true;
			foreign_only = false;
		}
	}
}

/*
 * One step with its retries. Each attempt builds the request again under the
 * same descriptor (same cycle, attempt counted up): the bytes must not change,
 * and a driver resets its per-reply progress there (JK PB: a data frame of an
 * earlier attempt is not completed by this attempt's ACK).
 * 0 when the step is done, 1 when the cycle has no such step, else an error.
 */

static int run_step(struct worker_link *l, const struct bms_driver *drv, void *state,
		    struct bms_request *req, unsigned retries, struct bms_snapshot *snap,
		    struct worker_counters *c)
{
	int first = 0;
	for (req->attempt = 0;; req->attempt++) {
		int n = drv->build_request(state, req, l->req, l->req_cap);
		if (n < 0)
			return n;
		if ((size_t)n > l->req_cap)
			return -EOVERFLOW;
		if (req->attempt == 0)
			first = n;
		else if (n != first)
			return -EPROTO; /* a driver bug: a retry must resend the same request */
		/* no request at step 0 from a passive driver: listen for its frames;
		 * anywhere else the cycle is over */
		if (n == 0 && (req->step != 0 || !(drv->flags & BMS_F_PASSIVE)))
			return 1;
		int r = step_once(l, drv, state, req, (size_t)n, snap, c);
		if (r == 0)
			return 0;
		if (r != -ETIMEDOUT && r != -EBADMSG)
			return r;
		if (req->attempt >= retries)
			return r;
	}
}

int worker_cycle(struct worker_link *l, const struct bms_driver *drv, void *state,
		 enum bms_req_kind kind, unsigned retries, struct bms_held *held,
		 struct bms_snapshot *snap, struct worker_counters *c)
{
	if (kind != BMS_REQ_PROBE && kind != BMS_REQ_POLL)
		return -EINVAL; /* a SET goes through worker_set */
	struct bms_held first;  /* no history: a first cycle */
	if (!held) {
		bms_held_reset(&first);
		held = &first;
	}
	struct bms_request req = {.kind = kind};
	if (kind == BMS_REQ_POLL)
		req.cycle = bms_held_next_cycle(held);
	unsigned done = 0, last = 0;
	/* the last cycle of this driver tells whether a request follows a step */
	bool known = kind == BMS_REQ_POLL && l->steps_drv == drv;
	for (req.step = 0;; req.step++) {
		if (kind == BMS_REQ_POLL && !bms_step_due(drv, req.step, held))
			continue; /* static data already held, or not this cycle */
		l->more_follows = known && req.step < l->steps_last;
		int r = run_step(l, drv, state, &req, retries, snap, c);
		l->more_follows = false;
		if (r == 1)
			break;
		if (r < 0)
			return r;
		done++;
		last = req.step;
		if (kind == BMS_REQ_POLL)
			bms_held_keep(drv, req.step, held, snap);
	}
	if (done == 0 && kind == BMS_REQ_POLL)
		return -EPROTO; /* a poll cycle without a request cannot prove anything */
	if (kind == BMS_REQ_POLL) {
		l->steps_drv = drv;
		l->steps_last = last;
		bms_held_apply(held, snap);
	}
	if (drv->finish)
		drv->finish(state, snap);
	return 0;
}

static int set_one(struct worker_link *l, const struct bms_driver *drv, void *state,
		   enum bms_command command, int32_t value, unsigned retries,
		   struct worker_counters *c)
{
	struct bms_request req = {.kind = BMS_REQ_SET, .command = command, .value = value};
	/* the wall clock as the BMS's own clock shows it (Daly sets it with the SOC) */
	time_t now = time(NULL);
	struct tm tm;
	if (localtime_r(&now, &tm))
		req.local_time_s = (int64_t)now + tm.tm_gmtoff;
	struct bms_snapshot ack; /* a write's reply fills no snapshot */
	unsigned done = 0;
	for (req.step = 0;; req.step++) {
		memset(&ack, 0, sizeof(ack));
		int r = run_step(l, drv, state, &req, retries, &ack, c);
		if (r == 1)
			break;
		if (r < 0)
			return r;
		done++;
	}
	return done ? 0 : -EPROTO;
}

int worker_set(struct worker_link *l, const struct bms_driver *drv, void *state,
	       enum bms_command command, int32_t value, unsigned retries, struct worker_counters *c)
{
	/* refused before the port is touched: nothing goes out for it */
	if (!bms_driver_supports(drv, command))
		return -EOPNOTSUPP;
	bool listed = false;
	for (const enum bms_command *x = drv->commands; x && *x; x++)
		listed |= *x == command;
	if (command != BMS_CMD_STANDBY || listed)
		return set_one(l, drv, state, command, value, retries, c);
	/*
	 * Both FETs in turn (bms.h): standby cuts charging before discharging,
	 * on gives the load its path back before the charger. The second write
	 * is not sent when the first failed; the next poll shows what holds.
	 */
	if (value != 0 && value != 1)
		return -EINVAL;
	enum bms_command first = value ? BMS_CMD_CHARGE_FET : BMS_CMD_DISCHARGE_FET;
	enum bms_command second = value ? BMS_CMD_DISCHARGE_FET : BMS_CMD_CHARGE_FET;
	int32_t fet = value ? 0 : 1;
	int r = set_one(l, drv, state, first, fet, retries, c);
	if (r == 0)
		r = set_one(l, drv, state, second, fet, retries, c);
	return r;
}

int worker_setup(struct worker_link *l, const struct bms_driver *drv, void *state,
		 struct bms_snapshot *snap, struct worker_counters *c)
{
	struct bms_request req = {.kind = BMS_REQ_SETUP};
	/* a driver without a sequence (or a passive one: step 0 would listen) */
	if (drv->build_request(state, &req, l->req, l->req_cap) <= 0)
		return 1;
	int failed = 0;
	for (req.step = 0; req.step < BMS_STEP_CLEANUP; req.step++) {
		int r = run_step(l, drv, state, &req, 0, snap, c);
		if (r == 1)
			return 0;
		if (r == -ECANCELED || r == -ENODEV)
			return r;
		if (r < 0) {
			failed = r;
			break;
		}
	}
	if (!failed)
		return -EPROTO; /* a driver bug: a sequence that never ends */
	/* leave the mode, whatever went wrong: a BMS left in a factory or
	 * programming mode may not protect the pack as configured */
	struct bms_snapshot ack;
	memset(&ack, 0, sizeof(ack));
	req.step = BMS_STEP_CLEANUP;
	int r = run_step(l, drv, state, &req, 1, &ack, c);
	if (r == -ECANCELED || r == -ENODEV)
		return r;
	return failed;
}
