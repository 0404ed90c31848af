/* SPDX-License-Identifier: MIT */
#include "detect.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/sbtime.h"

/* ---- remembering a match ---------------------------------------------------- */

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
static void cand_add_addresses(struct cand_list *cl, const struct bms_driver *drv, uint32_t baud,
			       const struct worker_detect_opts *o, bool sure)
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
static int try_candidate(struct worker_link *l, const struct cand *c, unsigned retries, bool quick,
			 const struct bms_plausible_limits *o_limits, struct bms_snapshot *snap,
			 uint64_t *ret_garbled)
{
	*ret_garbled = 0;
	const struct bms_driver *drv = c->drv;
	struct worker_line line = {.baud = c->baud, .framing = bms_driver_framing(drv)};
	int r = worker_transport_configure(l->t, &line);
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
	*ret_garbled = cnt.frames_bad - cnt.frames_refused;
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
			log_debug("detect: round time used up after %u of %u candidates", i, cl->n);
			break;
		}
		const struct cand *c = &cl->v[i];
		uint64_t garbled = 0;
		int tr = try_candidate(l, c, c->sure ? o->retries : 0, o->quick && !c->sure,
				       o->limits, snap, &garbled);
		/*
		 * Bytes that made no frame of this protocol: perhaps something
		 * speaks it here and the line garbled one answer. Ask again at
		 * once rather than after a whole round of other families (a
		 * round is many seconds with every family in the registry). A
		 * whole frame the driver refused (a Modbus exception from another
		 * family's device, another layout) is an answer: asking again
		 * only gets it again.
		 */
		if (tr < 0 && tr != -ECANCELED && tr != -ENODEV && garbled > 0 && !c->sure)
			tr = try_candidate(l, c, o->retries, false, o->limits, snap, &garbled);
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
				uint64_t garbled = 0;
				int tr = try_candidate(l, &c, 0, o->quick, o->limits, snap,
						       &garbled);
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
