/* SPDX-License-Identifier: MIT */
/*
 * Coulomb counting (see soc.h and docs/SOC.md).
 *
 * Choices, and why:
 *  - An interval is integrated with the mean of the currents at its two ends
 *    (trapezoid): a step in the current somewhere between two polls is then
 *    right on average, where the current of either end alone is biased.
 *  - An interval longer than max_gap (comms loss, a stopped worker) is not
 *    integrated at all: the current at its ends says nothing about what
 *    flowed in between, and a guess can be as wrong as the whole gap. The
 *    next full or empty reset corrects what was missed.
 *  - The correction table is extended beyond its ends along its first and
 *    last segments: clamping (the Python driver's np.interp) would turn
 *    every current beyond the table into the end value.
 *  - The full condition must hold for full_time without a break (a gap
 *    restarts it); the reset happens once per episode and the SOC is held at
 *    100 % while the condition lasts, so a small current at the charge
 *    voltage does not count the pack down.
 */
#include "charge/soc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charge/charge.h"

#define SERVICE_PREFIX "service:"
#define BATTERY_NS "com.victronenergy.battery."

/* A D-Bus well-known name: elements of [A-Za-z0-9_-], not starting with a digit, >= 2. */
static bool bus_name_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 255 || s[0] == '.' || s[len - 1] == '.')
		return false;
	unsigned elems = 1;
	bool start = true;
	for (const char *c = s; *c; c++) {
		if (*c == '.') {
			if (start)
				return false; /* empty element */
			elems++;
			start = true;
			continue;
		}
		bool alpha = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' ||
			     *c == '-';
		bool digit = *c >= '0' && *c <= '9';
		if (!alpha && !(digit && !start))
			return false;
		start = false;
	}
	return elems >= 2;
}

int charge_soc_source_parse(const char *text, enum charge_soc_source *ret_src,
			    const char **ret_service, const char **ret_why)
{
	const char *service = NULL;
	enum charge_soc_source src;
	if (strcmp(text, "bms") == 0)
		src = CHARGE_SOC_BMS;
	else if (strcmp(text, "coulomb") == 0)
		src = CHARGE_SOC_COULOMB;
	else if (strncmp(text, SERVICE_PREFIX, strlen(SERVICE_PREFIX)) == 0) {
		service = text + strlen(SERVICE_PREFIX);
		if (strncmp(service, BATTERY_NS, strlen(BATTERY_NS)) != 0 ||
		    !service[strlen(BATTERY_NS)]) {
			if (ret_why)
				*ret_why = "a service must be a com.victronenergy.battery.<name>";
			return -EINVAL;
		}
		if (!bus_name_ok(service)) {
			if (ret_why)
				*ret_why = "not a valid D-Bus service name";
			return -EINVAL;
		}
		src = CHARGE_SOC_SERVICE;
	} else {
		if (ret_why)
			*ret_why = "must be \"bms\", \"coulomb\" or "
				   "\"service:com.victronenergy.battery.<name>\"";
		return -EINVAL;
	}
	*ret_src = src;
	if (ret_service)
		*ret_service = service;
	return 0;
}

const struct charge_soc_config *charge_soc_find(const struct charge_config *c, const char *key,
						const char *tty, const char *sid)
{
	const struct charge_soc_config *any = NULL;
	for (unsigned i = 0; i < c->nsoc && i < CHARGE_SOC_MAX_PACKS; i++) {
		const struct charge_soc_config *e = &c->soc[i];
		if (!e->pack[0]) {
			if (!any)
				any = e;
			continue;
		}
		if ((key && key[0] && strcmp(e->pack, key) == 0) ||
		    (tty && tty[0] && strcmp(e->pack, tty) == 0) ||
		    (sid && sid[0] && strcmp(e->pack, sid) == 0))
			return e;
	}
	return any;
}

enum charge_soc_source charge_soc_source_of(const struct charge_soc_config *e,
					    const char **ret_service)
{
	enum charge_soc_source src = CHARGE_SOC_BMS;
	const char *service = NULL;
	/* validated at load: a value that does not parse cannot get here, bms is the safe reading
	 */
	if (e && charge_soc_source_parse(e->soc_source, &src, &service, NULL) < 0)
		src = CHARGE_SOC_BMS;
	if (ret_service)
		*ret_service = src == CHARGE_SOC_SERVICE ? service : NULL;
	return src;
}

void soc_state_init(struct soc_state *st)
{
	memset(st, 0, sizeof(*st));
}

double soc_correct_current(const struct charge_soc_config *cfg, double reported_a)
{
	const struct cfg_dlist *x = &cfg->current_reported, *y = &cfg->current_actual;
	unsigned n = x->n < y->n ? x->n : y->n;
	if (n < 2)
		return reported_a;
	/* the segment containing the reading, or the first/last one beyond the ends */
	unsigned k = 1;
	while (k < n - 1 && reported_a > x->v[k])
		k++;
	double x0 = x->v[k - 1], x1 = x->v[k], y0 = y->v[k - 1], y1 = y->v[k];
	if (x1 <= x0) /* validated strictly ascending; never divide by zero */
		return reported_a;
	return y0 + (reported_a - x0) * (y1 - y0) / (x1 - x0);
}

static double clamp_pct(double v)
{
	return v < 0 ? 0 : v > 100 ? 100 : v;
}

/* Pack at the charge voltage (CVL outside float) or the highest cell at its target. */
static bool at_charge_voltage(const struct charge_soc_config *cfg, const struct soc_input *in)
{
	if (in->cells == 0)
		return false;
	double tol = cfg->full_cell_tolerance;
	if (in->voltage_valid && in->cvl_valid && in->cvl_v > 0 &&
	    in->voltage_v >= in->cvl_v - tol * in->cells)
		return true;
	return in->cell_target_v > 0 && in->cell_max_v >= in->cell_target_v - tol;
}

/* A condition that has to hold for hold_s without a break; true once it has. */
static bool held(bool cond, bool restart, double hold_s, uint64_t t_ms, bool *timing,
		 uint64_t *since_ms)
{
	if (!cond) {
		*timing = false;
		return false;
	}
	if (!*timing || restart) {
		*timing = true;
		*since_ms = t_ms;
	}
	return (double)(t_ms - *since_ms) >= hold_s * 1000.0 - 0.5;
}

int soc_step(const struct charge_soc_config *cfg, const struct soc_input *in, struct soc_state *st,
	     unsigned *ret_events)
{
	unsigned ev = 0;
	if (!(in->capacity_ah > 0))
		return -ENODATA;
	if (!st->started) {
		st->soc_pct = in->bms_soc_valid ? clamp_pct(in->bms_soc_pct) : 100.0;
		st->started = true;
	}

	bool gap = false;
	if (in->current_valid) {
		double i = soc_correct_current(cfg, in->current_a);
		if (st->have_last && in->t_ms >= st->last_ms) {
			double dt = (double)(in->t_ms - st->last_ms) / 1000.0;
			if (dt > cfg->max_gap) {
				gap = true;
				st->gaps++;
				ev |= SOC_EV_GAP;
			} else {
				double ah = (st->last_current_a + i) / 2.0 * dt / 3600.0;
				st->soc_pct = clamp_pct(st->soc_pct + ah / in->capacity_ah * 100.0);
			}
		}
		st->have_last = true;
		st->last_ms = in->t_ms;
		st->last_current_a = i;
	}

	/* full: at the charge voltage with the current at or below the tail, for full_time */
	bool full_cond = in->current_valid &&
			 soc_correct_current(cfg, in->current_a) <= cfg->tail_current &&
			 at_charge_voltage(cfg, in);
	if (held(full_cond, gap, cfg->full_time, in->t_ms, &st->full_timing, &st->full_since_ms)) {
		if (!st->full_latched) {
			st->full_latched = true;
			st->full_resets++;
			ev |= SOC_EV_FULL;
		}
		st->soc_pct = 100.0;
	} else if (!full_cond) {
		st->full_latched = false;
	}

	/* empty: the lowest cell at or below the empty voltage for empty_time */
	bool empty_cond = in->cells > 0 && in->cell_min_v <= cfg->empty_cell_voltage;
	if (held(empty_cond, gap, cfg->empty_time, in->t_ms, &st->empty_timing,
		 &st->empty_since_ms)) {
		if (!st->empty_latched) {
			st->empty_latched = true;
			st->empty_resets++;
			st->soc_pct = 0.0;
			ev |= SOC_EV_EMPTY;
		}
	} else if (!empty_cond) {
		st->empty_latched = false;
	}

	if (ret_events)
		*ret_events = ev;
	return 0;
}

int soc_state_format(const struct soc_state *st, char *buf, size_t len)
{
	if (!st->started)
		return -ENODATA;
	/* 0.01 % is finer than any BMS reports, and a restart loses at most that */
	int n = snprintf(buf, len, "soc=%.2f\n", st->soc_pct);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int soc_state_parse(struct soc_state *st, const char *text)
{
	if (strncmp(text, "soc=", 4) != 0)
		return -EINVAL;
	char *end;
	double v = strtod(text + 4, &end);
	if (end == text + 4 || (*end && *end != '\n') || !isfinite(v) || v < 0 || v > 100)
		return -EINVAL;
	st->soc_pct = v;
	st->started = true;
	return 0;
}
