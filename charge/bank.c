/* SPDX-License-Identifier: MIT */
/*
 * The bank rules (see bank.h and docs/DBUS.md, Aggregation).
 *
 * Current limits: packs in parallel do not share current evenly, so the bank
 * may only ask for the largest current at which no pack exceeds its own
 * limit. With pack i taking the fraction s_i of the bank current, that is
 * min_i(L_i / s_i). The fractions are measured (pack current / bank current
 * while the bank current is large enough to mean something); a rising share
 * is taken at once and a falling one decays slowly, so the estimate errs
 * towards the pack taking more. Without measured shares the even split
 * n x min(L_i) is assumed. Never above the sum of the limits.
 */
#include "charge/bank.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A pack with its FETs on takes at least this fraction of the bank current:
 * it keeps a division by a share near 0 finite, and a pack whose own limit is
 * 0 still takes the bank's limit to 0. */
#define SHARE_FLOOR 0.01

/* Round down to 1/100 (V or A). The small slack keeps a value that is exactly
 * two decimals in decimal (51.83 stored as 51.8299999...) from losing a cent. */
static double floor_cent(double v)
{
	if (!(v > 0))
		return 0.0;
	return floor(v * 100.0 + 1e-6) / 100.0;
}

static bool connected(const struct bank_pack_in *p)
{
	return p->have_res && (p->link == BANK_ONLINE || p->link == BANK_STALE);
}

void bank_state_init(struct bank_state *st)
{
	memset(st, 0, sizeof(*st));
}

void bank_forget(struct bank_state *st, unsigned i)
{
	if (i < BANK_MAX_PACKS)
		memset(&st->m[i], 0, sizeof(st->m[i]));
}

static void append(char *buf, size_t len, const char *sep, const char *text)
{
	size_t n = strlen(buf);
	if (!text[0])
		return;
	/* truncated to fit: a text, not a value anything depends on */
	for (const char *s = n ? sep : ""; *s && n + 1 < len; s++)
		buf[n++] = *s;
	for (const char *s = text; *s && n + 1 < len; s++)
		buf[n++] = *s;
	buf[n] = '\0';
}

/* What the bank remembers of a member: the live values while it is online,
 * never anything higher while it is not. */
static void remember(const struct bank_pack_in *p, struct bank_member *m)
{
	if (!p->have_res || !p->res.cvl_valid)
		return;
	double absorb =
		p->res.float_mode && p->res.cvl_absorb_v > 0 ? p->res.cvl_absorb_v : p->res.cvl_v;
	if (p->link == BANK_ONLINE || !m->held) {
		m->cvl_v = p->res.cvl_v;
		m->cvl_absorb_v = absorb;
		m->float_mode = p->res.float_mode;
		m->held = true;
		return;
	}
	if (p->res.cvl_v < m->cvl_v)
		m->cvl_v = p->res.cvl_v;
	if (absorb < m->cvl_absorb_v)
		m->cvl_absorb_v = absorb;
}

static void measure_shares(const struct bank_config *cfg, const struct bank_pack_in *in, unsigned n,
			   struct bank_state *st, uint64_t now)
{
	double total = 0;
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!connected(&in[i]))
			continue;
		/* one pack without a fresh current and the split is unknown */
		if (in[i].link != BANK_ONLINE || !in[i].current_valid)
			return;
		total += in[i].current_a;
		k++;
	}
	int d;
	if (k == 0)
		return;
	if (total > cfg->share_current && total > 0)
		d = 0;
	else if (total < -cfg->share_current && total < 0)
		d = 1;
	else
		return;
	double tau_ms = cfg->share_fall_time * 1000.0;
	for (unsigned i = 0; i < n; i++) {
		if (!connected(&in[i]))
			continue;
		double m = in[i].current_a / total;
		/* above 1 when the others give current back (circulation): that
		 * pack then takes more than the bank, so its share must say so */
		m = m < 0 ? 0 : m;
		struct bank_share *s = &st->m[i].share[d];
		if (!s->known || m >= s->value) {
			s->value = m;
		} else {
			double dt = now > s->at_ms ? (double)(now - s->at_ms) : 0;
			double a = tau_ms > 0 ? 1.0 - exp(-dt / tau_ms) : 1.0;
			s->value += a * (m - s->value);
		}
		s->known = true;
		s->at_ms = now;
	}
}

/* Only an online pack's FET state is news: a silent one may have switched since. */
static bool fet_known_off(const struct bank_pack_in *p, int d)
{
	return p->link == BANK_ONLINE && p->fets_valid &&
	       !(d == 0 ? p->charge_fet : p->discharge_fet);
}

/* One direction's limit (d 0 = charge, 1 = discharge); *ret_lim the member
 * that sets it (-1 none). */
static double current_limit(const struct bank_pack_in *in, unsigned n, const struct bank_state *st,
			    int d, bool *ret_shares, int *ret_lim)
{
	double sum = 0, min_l = INFINITY, ssum = 0;
	unsigned np = 0;
	bool known = true;
	int lim = -1;
	for (unsigned i = 0; i < n; i++) {
		const struct bank_pack_in *p = &in[i];
		if (!connected(p))
			continue;
		/* a FET known to be off carries no current: that pack cannot be overloaded */
		if (fet_known_off(p, d))
			continue;
		double l = d == 0 ? p->res.ccl_a : p->res.dcl_a;
		if (!(l > 0))
			l = 0;
		sum += l;
		np++;
		if (l < min_l) {
			min_l = l;
			lim = (int)i;
		}
		known = known && st->m[i].share[d].known;
		ssum += st->m[i].share[d].value;
	}
	*ret_shares = false;
	*ret_lim = lim;
	if (np == 0)
		return 0.0;
	double limit = (double)np * min_l;
	if (known) {
		/* shares measured with a pack that has since gone sum below 1: the
		 * others take its part now */
		double scale = ssum > 0 && ssum < 1 ? 1.0 / ssum : 1.0;
		limit = INFINITY;
		for (unsigned i = 0; i < n; i++) {
			const struct bank_pack_in *p = &in[i];
			if (!connected(p) || fet_known_off(p, d))
				continue;
			double l = d == 0 ? p->res.ccl_a : p->res.dcl_a;
			double s = st->m[i].share[d].value * scale;
			double at = (l > 0 ? l : 0) / (s > SHARE_FLOOR ? s : SHARE_FLOOR);
			if (at < limit) {
				limit = at;
				*ret_lim = (int)i;
			}
		}
		*ret_shares = true;
	}
	return floor_cent(limit < sum ? limit : sum);
}

void bank_step(const struct bank_config *cfg, const struct bank_pack_in *in, unsigned n,
	       struct bank_state *st, uint64_t now_ms, struct bank_result *out)
{
	memset(out, 0, sizeof(*out));
	if (n > BANK_MAX_PACKS)
		n = BANK_MAX_PACKS;
	for (unsigned i = 0; i < n; i++) {
		if (in[i].link == BANK_ABSENT) {
			bank_forget(st, i);
			continue;
		}
		remember(&in[i], &st->m[i]);
	}
	measure_shares(cfg, in, n, st, now_ms);

	/* CVL: float only when every member is in float; until then a floating
	 * member asks for what it would ask outside float */
	bool all_float = true, any_cvl = false;
	for (unsigned i = 0; i < n; i++)
		if (in[i].link != BANK_ABSENT && st->m[i].held) {
			any_cvl = true;
			all_float = all_float && st->m[i].float_mode;
		}
	all_float = all_float && any_cvl;
	double cvl = INFINITY;
	int cvl_by = -1, holding = -1;
	for (unsigned i = 0; i < n; i++) {
		const struct bank_member *m = &st->m[i];
		if (in[i].link == BANK_ABSENT || !m->held)
			continue;
		double v = all_float ? m->cvl_v : m->cvl_absorb_v;
		if (v < cvl) {
			cvl = v;
			cvl_by = (int)i;
		}
		if (!m->float_mode && holding < 0)
			holding = (int)i;
	}
	out->cvl_valid = any_cvl;
	out->cvl_v = any_cvl ? floor_cent(cvl) : 0.0;
	out->float_mode = all_float;

	int by_c = -1, by_d = -1;
	out->ccl_a = current_limit(in, n, st, 0, &out->shares_used[0], &by_c);
	out->dcl_a = current_limit(in, n, st, 1, &out->shares_used[1], &by_d);

	for (unsigned i = 0; i < n; i++) {
		const struct bank_pack_in *p = &in[i];
		if (p->link == BANK_ABSENT)
			continue;
		out->members++;
		if (p->link == BANK_ONLINE && p->have_res)
			out->online++;
		else if (p->link == BANK_STALE && p->have_res)
			out->stale++;
		else
			out->offline++;
		if (!connected(p)) {
			char t[BANK_LABEL_LEN + 16];
			snprintf(t, sizeof(t), "Pack %s offline", p->label);
			append(out->offline_text, sizeof(out->offline_text), ", ", t);
			out->blocking_charge++;
			out->blocking_discharge++;
			if (out->bms_cable_alarm < 1)
				out->bms_cable_alarm = 1;
			continue;
		}
		out->limits_valid = true;
		if (p->res.battery_low_voltage_v > out->battery_low_voltage_v)
			out->battery_low_voltage_v = p->res.battery_low_voltage_v;
		out->blocking_charge += !p->res.allow_charge;
		out->blocking_discharge += !p->res.allow_discharge;
		int cable = p->res.bms_cable_alarm > 0 ? p->res.bms_cable_alarm
						       : (p->link == BANK_STALE ? 1 : 0);
		if (cable > out->bms_cable_alarm)
			out->bms_cable_alarm = cable;
	}
	if (!out->limits_valid) {
		out->ccl_a = out->dcl_a = 0;
		out->cvl_valid = false;
	}
	out->allow_charge = out->limits_valid && out->ccl_a > 0;
	out->allow_discharge = out->limits_valid && out->dcl_a > 0;

	/* texts: what holds the bank back, named by pack */
	int mode_by = !all_float && holding >= 0 ? holding : cvl_by;
	if (mode_by >= 0 && in[mode_by].have_res)
		snprintf(out->mode, sizeof(out->mode), "%s", in[mode_by].res.mode);
	char t[200];
	append(out->charge_limitation, sizeof(out->charge_limitation), ", ", out->offline_text);
	if (by_c >= 0 && in[by_c].res.charge_limitation[0]) {
		snprintf(t, sizeof(t), "Pack %s: %s", in[by_c].label,
			 in[by_c].res.charge_limitation);
		append(out->charge_limitation, sizeof(out->charge_limitation), ", ", t);
	}
	append(out->discharge_limitation, sizeof(out->discharge_limitation), ", ",
	       out->offline_text);
	if (by_d >= 0 && in[by_d].res.discharge_limitation[0]) {
		snprintf(t, sizeof(t), "Pack %s: %s", in[by_d].label,
			 in[by_d].res.discharge_limitation);
		append(out->discharge_limitation, sizeof(out->discharge_limitation), ", ", t);
	}
}
