/* SPDX-License-Identifier: MIT */
#include "detect.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/statefile.h"
#include "common/sbtime.h"

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

int worker_link_open(const char *path, int wake_fd, struct worker_link **ret)
{
	struct worker_link *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->port.fd = -1;
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
	r = worker_port_open(path, wake_fd, &l->port);
	if (r < 0)
		goto fail;
	*ret = l;
	return 0;
fail:
	worker_link_close(l);
	return r;
}

void worker_link_close(struct worker_link *l)
{
	if (!l)
		return;
	worker_port_close(&l->port);
	free(l->rx);
	free(l->req);
	free(l->scratch_state);
	free(l);
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static uint16_t *learned_slot(struct worker_link *l, const struct bms_driver *drv,
			      enum bms_req_kind kind, unsigned step)
{
	if (l->learned_drv != drv) {
		memset(l->learned, 0, sizeof(l->learned));
		l->learned_drv = drv;
	}
	if (step >= WORKER_MAX_STEPS || (unsigned)kind >= BMS_REQ_KINDS)
		return NULL;
	return &l->learned[kind][step];
}

static uint8_t vmin_for(size_t want, size_t have)
{
	if (want <= have)
		return 1;
	size_t n = want - have;
	return (uint8_t)(n > 255 ? 255 : n);
}

/* One request and its reply; reqlen 0 (a passive driver): listen only. */
static int step_once(struct worker_link *l, const struct bms_driver *drv, void *state,
		     const struct bms_request *req, size_t reqlen, struct bms_snapshot *snap,
		     struct worker_counters *c)
{
	struct worker_port *p = &l->port;
	int r;
	if (reqlen && l->next_tx_ms > time_mono_ms()) {
		r = worker_port_idle(p, l->next_tx_ms);
		if (r < 0)
			return r;
	}
	/* A late reply to an earlier request must not be taken for this one. A
	 * passive BMS talks unsolicited: what it sent is the data, keep it. */
	if (!(drv->flags & BMS_F_PASSIVE)) {
		r = worker_port_flush_input(p);
		if (r < 0)
			return r;
	}
	uint64_t t0 = time_mono_ms();
	unsigned wire_req = worker_port_wire_ms(p, reqlen);
	if (reqlen) {
		r = worker_port_write(p, l->req, reqlen, t0 + wire_req + 1000u);
		if (r == -ETIMEDOUT) {
			c->timeouts++;
			return r;
		}
		if (r < 0)
			return r;
	}

	uint16_t *learned = learned_slot(l, drv, req->kind, req->step);
	size_t want = learned ? *learned : 0;
	unsigned tmo = drv->response_timeout_ms;
	if (l->timeout_cap_ms && l->timeout_cap_ms < tmo)
		tmo = l->timeout_cap_ms;
	/* The request is still on the wire when write() returns on a real UART. */
	uint64_t soft = t0 + wire_req + tmo;
	uint64_t hard = soft + worker_port_wire_ms(p, drv->max_frame) + QUIET_MS;
	size_t len = 0, got = 0, consumed = 0;
	uint64_t last_rx = 0;
	bool bad = false;

	r = worker_port_set_vmin(p, vmin_for(want, 0));
	if (r < 0)
		return r;
	for (;;) {
		uint64_t dl = soft;
		if (got > 0 && p->vmin == 1)
			dl = min_u64(hard, max_u64(soft, last_rx + QUIET_MS));
		r = worker_port_read(p, l->rx + len, l->rx_cap - len, dl);
		if (r == -ETIMEDOUT && p->vmin > 1) {
			/* The learned length was too long this time: take what came. */
			if (learned)
				*learned = 0;
			int s = worker_port_set_vmin(p, 1);
			if (s < 0)
				return s;
			r = worker_port_read_now(p, l->rx + len, l->rx_cap - len);
			if (r == 0)
				r = -ETIMEDOUT;
		}
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
			enum bms_find f = bms_frame_find(drv, l->rx, len, &start, &flen);
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
			int pr = drv->parse(state, req, l->rx + start, flen, snap);
			size_t used = start + flen;
			memmove(l->rx, l->rx + used, len - used);
			len -= used;
			consumed += used;
			if (pr == 0) {
				if (learned)
					*learned = (uint16_t)(consumed > UINT16_MAX ? 0 : consumed);
				l->next_tx_ms = time_mono_ms() + drv->inter_frame_gap_ms;
				l->timeout_cap_ms = 0; /* it answers: full timeouts from now on */
				return 0;
			}
			if (pr == 1) {
				/* more frames of the same reply follow */
				uint64_t now = time_mono_ms();
				soft = now + tmo;
				hard = soft + worker_port_wire_ms(p, drv->max_frame) + QUIET_MS;
				continue;
			}
			if (pr == -EPERM) {
				/* the BMS answered and refused (a write): no retry helps */
				l->next_tx_ms = time_mono_ms() + drv->inter_frame_gap_ms;
				return -EPERM;
			}
			/* checksummed but not ours (other address, other command): drop it */
			c->frames_bad++;
			bad = true;
		}
		r = worker_port_set_vmin(p, vmin_for(want, consumed + len));
		if (r < 0)
			return r;
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
	struct bms_held first; /* no history: a first cycle */
	if (!held) {
		bms_held_reset(&first);
		held = &first;
	}
	struct bms_request req = {.kind = kind};
	if (kind == BMS_REQ_POLL)
		req.cycle = bms_held_next_cycle(held);
	unsigned done = 0;
	for (req.step = 0;; req.step++) {
		if (kind == BMS_REQ_POLL && !bms_step_due(drv, req.step, held))
			continue; /* static data already held, or not this cycle */
		int r = run_step(l, drv, state, &req, retries, snap, c);
		if (r == 1)
			break;
		if (r < 0)
			return r;
		done++;
		if (kind == BMS_REQ_POLL)
			bms_held_keep(drv, req.step, held, snap);
	}
	if (done == 0 && kind == BMS_REQ_POLL)
		return -EPROTO; /* a poll cycle without a request cannot prove anything */
	if (kind == BMS_REQ_POLL)
		bms_held_apply(held, snap);
	if (drv->finish)
		drv->finish(state, snap);
	return 0;
}

int worker_set(struct worker_link *l, const struct bms_driver *drv, void *state,
	       enum bms_command command, int32_t value, unsigned retries,
	       struct worker_counters *c)
{
	/* refused before the port is touched: nothing goes out for it */
	if (!bms_driver_supports(drv, command))
		return -EOPNOTSUPP;
	struct bms_request req = {.kind = BMS_REQ_SET, .command = command, .value = value};
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

/* ---- remembered protocol ------------------------------------------------ */

/* "detect/<identity>", unsafe characters replaced: relative to the state dir. */
static int remember_rel(const char *state_dir, const char *identity, char *buf, size_t len)
{
	if (!state_dir || !state_dir[0] || !identity || !identity[0])
		return -EINVAL;
	char name[160];
	size_t i;
	for (i = 0; identity[i] && i < sizeof(name) - 1; i++) {
		char ch = identity[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
			  (ch == '.' && i > 0);
		name[i] = ok ? ch : '_';
	}
	name[i] = '\0';
	int n = snprintf(buf, len, "detect/%s", name);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int worker_remember_load(const char *state_dir, const char *identity,
			 const struct bms_driver **ret_drv, uint32_t *ret_baud,
			 uint8_t *ret_address)
{
	char rel[200];
	int r = remember_rel(state_dir, identity, rel, sizeof(rel));
	if (r < 0)
		return r;
	char text[96];
	r = statefile_read(state_dir, rel, text, sizeof(text), NULL);
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	char name[32];
	unsigned baud, addr;
	if (sscanf(text, "%31s %u %u", name, &baud, &addr) != 3 || addr > 255)
		return -EINVAL;
	const struct bms_driver *drv = bms_driver_find(name);
	if (!drv)
		return -ENOENT;
	*ret_drv = drv;
	*ret_baud = baud;
	*ret_address = (uint8_t)addr;
	return 0;
}

int worker_remember_save(const char *state_dir, const char *identity,
			 const struct bms_driver *drv, uint32_t baud, uint8_t address)
{
	const struct bms_driver *old;
	uint32_t ob;
	uint8_t oa;
	/* Flash on a GX device is precious: write only what changed. */
	if (worker_remember_load(state_dir, identity, &old, &ob, &oa) == 0 && old == drv &&
	    ob == baud && oa == address)
		return 0;
	char rel[200];
	int r = remember_rel(state_dir, identity, rel, sizeof(rel));
	if (r < 0)
		return r;
	char text[96];
	int n = snprintf(text, sizeof(text), "%s %u %u\n", drv->name, baud, address);
	return statefile_write(state_dir, rel, text, (size_t)n);
}

/*
 * Every worker remembers into the same directory: a full or refused state
 * directory is one episode for the whole process, logged when it starts and
 * when it ends, not once per port and detection.
 */
static atomic_bool remember_failing;

static void remember(const struct worker_detect_opts *o, const struct worker_detect_result *res)
{
	int s = worker_remember_save(o->state_dir, o->identity, res->drv, res->baud, res->address);
	if (s < 0 && !atomic_exchange(&remember_failing, true))
		log_warn("detect: cannot remember protocols under %s: %s (logged once until it "
			 "works again)",
			 o->state_dir, strerror(-s));
	else if (s == 0 && atomic_exchange(&remember_failing, false))
		log_info("detect: remembering protocols under %s works again", o->state_dir);
}

/* ---- detection ------------------------------------------------------------ */

struct cand {
	const struct bms_driver *drv;
	uint32_t baud;
	uint8_t address;
	bool sure; /* pinned or remembered: worth retries */
};

#define MAX_CANDS 256

struct cand_list {
	struct cand v[MAX_CANDS];
	unsigned n;
};

static void cand_add(struct cand_list *cl, const struct bms_driver *drv, uint32_t baud,
		     uint8_t address, bool sure)
{
	for (unsigned i = 0; i < cl->n; i++)
		if (cl->v[i].drv == drv && cl->v[i].baud == baud && cl->v[i].address == address)
			return;
	if (cl->n < MAX_CANDS)
		cl->v[cl->n++] = (struct cand){drv, baud, address, sure};
}

static bool drv_has_baud(const struct bms_driver *drv, uint32_t baud)
{
	for (const uint32_t *b = bms_driver_bauds(drv); *b; b++)
		if (*b == baud)
			return true;
	return false;
}

/* Every address to try for drv at one baud. */
static void cand_add_addresses(struct cand_list *cl, const struct bms_driver *drv,
			       uint32_t baud, const struct worker_detect_opts *o, bool sure)
{
	if (!(drv->flags & BMS_F_ADDRESSED) || (!drv->addresses && !o->naddresses && !o->scan)) {
		cand_add(cl, drv, baud, drv->addresses ? drv->addresses[0] : 0, sure);
		return;
	}
	if (o->naddresses) {
		for (unsigned i = 0; i < o->naddresses; i++)
			cand_add(cl, drv, baud, o->addresses[i], sure);
		return;
	}
	/* defaults first: a scan still finds the usual unit quickly */
	for (const uint8_t *a = drv->addresses; a && *a; a++)
		cand_add(cl, drv, baud, *a, sure);
	if (o->scan)
		for (unsigned a = drv->address_min; a <= drv->address_max; a++)
			cand_add(cl, drv, baud, (uint8_t)a, sure);
}

static int build_candidates(const struct worker_detect_opts *o, struct cand_list *cl,
			    bool *ret_has_remembered)
{
	cl->n = 0;
	*ret_has_remembered = false;
	if (o->bms && o->bms[0]) {
		const struct bms_driver *drv = bms_driver_find(o->bms);
		if (!drv)
			return -ENOENT;
		if (o->baud) {
			cand_add_addresses(cl, drv, o->baud, o, true);
		} else {
			for (const uint32_t *b = bms_driver_bauds(drv); *b; b++)
				cand_add_addresses(cl, drv, *b, o, true);
		}
		return 0;
	}
	const struct bms_driver *rd;
	uint32_t rb;
	uint8_t ra;
	if (worker_remember_load(o->state_dir, o->identity, &rd, &rb, &ra) == 0 &&
	    !(rd->flags & BMS_F_OPT_IN) && drv_has_baud(rd, rb)) {
		cand_add(cl, rd, rb, ra, true);
		*ret_has_remembered = true;
	}
	/* Bauds in order of first appearance; each baud once, drivers in table order. */
	uint32_t bauds[32];
	unsigned nb = 0;
	for (size_t i = 0; bms_drivers[i]; i++) {
		if (bms_drivers[i]->flags & BMS_F_OPT_IN)
			continue;
		for (const uint32_t *b = bms_driver_bauds(bms_drivers[i]); *b; b++) {
			bool seen = false;
			for (unsigned j = 0; j < nb; j++)
				seen |= bauds[j] == *b;
			if (!seen && nb < 32)
				bauds[nb++] = *b;
		}
	}
	for (unsigned j = 0; j < nb; j++)
		for (size_t i = 0; bms_drivers[i]; i++) {
			const struct bms_driver *drv = bms_drivers[i];
			if (!(drv->flags & BMS_F_OPT_IN) && drv_has_baud(drv, bauds[j]))
				cand_add_addresses(cl, drv, bauds[j], o, false);
		}
	return 0;
}

/* Probe (when the driver has a probe cycle) and one full poll cycle, then judge. */
static int try_candidate(struct worker_link *l, const struct cand *c, unsigned retries,
			 bool quick, const struct bms_plausible_limits *o_limits,
			 struct bms_snapshot *snap)
{
	const struct bms_driver *drv = c->drv;
	int r = worker_port_set_line(&l->port, c->baud, bms_driver_framing(drv));
	if (r < 0)
		return r;
	memset(l->scratch_state, 0, l->state_cap);
	if (drv->init) {
		r = drv->init(l->scratch_state, c->address);
		if (r < 0)
			return r;
	}
	memset(snap, 0, sizeof(*snap));
	struct worker_counters cnt = {0};
	/* Quick: an unknown candidate's probe waits a short while; once something
	 * answered, the rest of the cycle gets the driver's own timeouts. */
	l->timeout_cap_ms = quick ? WORKER_QUICK_TIMEOUT_MS : 0;
	r = worker_cycle(l, drv, l->scratch_state, BMS_REQ_PROBE, retries, NULL, snap, &cnt);
	if (r == 0)
		r = worker_cycle(l, drv, l->scratch_state, BMS_REQ_POLL, retries, NULL, snap, &cnt);
	l->timeout_cap_ms = 0;
	if (r < 0) {
		log_debug("detect %s@%u addr 0x%02x: %s (%llu bad, %llu timeouts)", drv->name,
			  c->baud, c->address, strerror(-r), (unsigned long long)cnt.frames_bad,
			  (unsigned long long)cnt.timeouts);
		return r;
	}
	/* The same check as every poll cycle (bms/plausible.c), before any
	 * cell count is registered. */
	struct bms_plausible_limits lim = {0};
	if (o_limits)
		lim = *o_limits;
	lim.cell_count = 0;
	uint32_t bad = 0;
	enum bms_implausible why = bms_plausible_check(snap, &lim, &bad);
	if (why != BMS_PLAUSIBLE) {
		log_debug("detect %s@%u addr 0x%02x: implausible: %s", drv->name, c->baud,
			  c->address, bms_implausible_text(why));
		return -EPROTO;
	}
	bms_plausible_mark(snap, &lim, bad);
	log_debug("detect %s@%u addr 0x%02x: match", drv->name, c->baud, c->address);
	return 0;
}

int worker_detect(struct worker_link *l, const struct worker_detect_opts *o,
		  struct worker_detect_result *ret)
{
	struct cand_list *cl = malloc(sizeof(*cl));
	struct worker_detect_result *res = calloc(1, sizeof(*res));
	struct bms_snapshot *snap = malloc(sizeof(*snap));
	int r = -ENOMEM;
	if (!cl || !res || !snap)
		goto out;
	bool has_remembered;
	r = build_candidates(o, cl, &has_remembered);
	if (r < 0)
		goto out;
	uint64_t t0 = time_mono_ms();
	uint64_t round_end = t0 + (o->round_max_ms ? o->round_max_ms : 10000u);
	bool pinned = o->bms && o->bms[0];
	r = -EHOSTUNREACH;
	unsigned i;
	for (i = 0; i < cl->n; i++) {
		if (i > 0 && time_mono_ms() >= round_end) {
			log_debug("detect: round time used up after %u of %u candidates", i,
				  cl->n);
			break;
		}
		const struct cand *c = &cl->v[i];
		int tr = try_candidate(l, c, c->sure ? o->retries : 0, o->quick && !c->sure,
					   o->limits, snap);
		if (tr == -ECANCELED || tr == -ENODEV) {
			r = tr;
			goto out;
		}
		if (tr < 0)
			continue;
		res->drv = c->drv;
		res->baud = c->baud;
		res->address = c->address;
		res->snap = *snap;
		res->attempts = i + 1;
		res->remembered = has_remembered && i == 0;
		res->addresses[res->naddresses++] = c->address;
		r = 0;
		break;
	}
	if (r < 0)
		goto out;
	if (res->drv->flags & BMS_F_ADDRESSED) {
		if (o->naddresses) {
			/* configured: every listed pack gets a battery, silent or not */
			res->naddresses = 0;
			for (unsigned k = 0; k < o->naddresses && k < WORKER_MAX_ADDRS; k++)
				res->addresses[res->naddresses++] = o->addresses[k];
		} else if (o->scan) {
			struct cand c = cl->v[i];
			for (unsigned a = c.drv->address_min; a <= c.drv->address_max; a++) {
				if (a == res->address || res->naddresses >= WORKER_MAX_ADDRS)
					continue;
				c.address = (uint8_t)a;
				int tr = try_candidate(l, &c, 0, o->quick, o->limits, snap);
				if (tr == -ECANCELED || tr == -ENODEV) {
					r = tr;
					goto out;
				}
				if (tr == 0)
					res->addresses[res->naddresses++] = (uint8_t)a;
			}
		}
	}
	res->elapsed_ms = time_mono_ms() - t0;
	if (!pinned && o->state_dir)
		remember(o, res);
	*ret = *res;
out:
	free(cl);
	free(res);
	free(snap);
	return r;
}
