/* SPDX-License-Identifier: MIT */
#include "link.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/sbtime.h"
#include "worker/serial.h"

#define REQ_CAP 512
/* Bytes keep a reply alive this long after the last one (USB adapters deliver
 * in bursts, every 1-16 ms); never beyond the hard cap of the attempt. */
#define QUIET_MS 40u

size_t worker_state_size_max(void)
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

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* One request and its reply. */
static int step_once(struct worker_link *l, const struct bms_driver *drv, void *state,
		     enum bms_request kind, unsigned step, size_t reqlen,
		     struct bms_snapshot *snap, struct worker_counters *c)
{
	struct worker_transport *t = l->t;
	int r;
	(void)kind; /* the transport learns reply lengths per request, not per step */
	(void)step;
	if (l->next_tx_ms > time_mono_ms()) {
		r = worker_transport_idle(t, l->next_tx_ms);
		if (r < 0)
			return r;
	}
	/* A late reply to an earlier request must not be taken for this one. */
	r = worker_transport_flush(t);
	if (r < 0)
		return r;
	uint64_t t0 = time_mono_ms();
	unsigned wire_req = worker_transport_wire_ms(t, reqlen);
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

	for (;;) {
		uint64_t dl = soft;
		if (got > 0)
			dl = min_u64(hard, max_u64(soft, last_rx + QUIET_MS));
		r = worker_transport_read(t, l->rx + len, l->rx_cap - len, dl);
		if (r == -ETIMEDOUT) {
			l->next_tx_ms = time_mono_ms() + drv->inter_frame_gap_ms;
			if (got == 0) {
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

		for (;;) {
			size_t start = 0, flen = 0;
			enum bms_find f = drv->frame_find(l->rx, len, &start, &flen);
			if (f == BMS_FIND_INVALID) {
				consumed += len;
				len = 0;
				break;
			}
			if (f == BMS_FIND_NEED_MORE) {
				if (start > len)
					start = len;
				if (start == 0 && len == l->rx_cap)
					start = 1; /* a "frame" longer than any: resync */
				if (start) {
					memmove(l->rx, l->rx + start, len - start);
					len -= start;
					consumed += start;
				}
				break;
			}
			if (start > len || flen == 0 || flen > len - start) {
				/* a driver bug: never trust the bounds it gave */
				consumed += len;
				len = 0;
				break;
			}
			int pr = drv->parse(state, l->rx + start, flen, snap);
			size_t used = start + flen;
			memmove(l->rx, l->rx + used, len - used);
			len -= used;
			consumed += used;
			if (pr == 0) {
				worker_transport_reply_done(t, consumed);
				l->next_tx_ms = time_mono_ms() + drv->inter_frame_gap_ms;
				l->timeout_cap_ms = 0; /* it answers: full timeouts from now on */
				return 0;
			}
			if (pr == 1) {
				/* more frames of the same reply follow */
				uint64_t now = time_mono_ms();
				soft = now + tmo;
				hard = soft + worker_transport_wire_ms(t, drv->max_frame) + QUIET_MS;
				continue;
			}
			/* checksummed but not ours (other address, other command): drop it */
			c->frames_bad++;
			bad = true;
		}
	}
}

int worker_cycle(struct worker_link *l, const struct bms_driver *drv, void *state,
		 enum bms_request kind, unsigned retries, struct bms_snapshot *snap,
		 struct worker_counters *c)
{
	unsigned step;
	for (step = 0;; step++) {
		int n = drv->build_request(state, kind, step, l->req, l->req_cap);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		if ((size_t)n > l->req_cap)
			return -EOVERFLOW;
		int r;
		for (unsigned attempt = 0;; attempt++) {
			r = step_once(l, drv, state, kind, step, (size_t)n, snap, c);
			if (r == 0)
				break;
			if (r != -ETIMEDOUT && r != -EBADMSG)
				return r;
			if (attempt >= retries)
				return r;
			/* The driver may keep per-request state: build the same request again. */
			int m = drv->build_request(state, kind, step, l->req, l->req_cap);
			if (m != n)
				return m < 0 ? m : -EPROTO;
		}
	}
	if (step == 0 && kind == BMS_REQ_POLL)
		return -EPROTO; /* a poll cycle without a request cannot prove anything */
	if (drv->finish)
		drv->finish(state, snap);
	return 0;
}
