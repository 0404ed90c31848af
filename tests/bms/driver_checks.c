/* SPDX-License-Identifier: MIT */
/* The driver conformance harness; usage in driver_checks.h. */
#include "driver_checks.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/fields.h"
#include "bms/stats.h"
#include "bms/sim/sim.h"
#include "tools/decode.h"

#include "tests/bms/vectors.inc"

#define DC_BUF 8192
#define DC_MAX_STEPS 32

unsigned dc_count(const struct bms_driver *drv, const char *direction)
{
	unsigned n = 0;
	for (size_t i = 0; i < VECTOR_COUNT; i++)
		n += !strcmp(vectors[i].protocol, drv->name) &&
		     !strcmp(vectors[i].direction, direction);
	return n;
}

const struct vec *dc_vectors(size_t *ret_count)
{
	*ret_count = VECTOR_COUNT;
	return vectors;
}

/* A failed check prints why (CUnit's own message only has the line). */
static void dc_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("\n    driver_checks: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	CU_FAIL("driver check failed (reason on stderr)");
}

static void *state_new(const struct bms_driver *drv, uint8_t address)
{
	void *st = calloc(1, drv->state_size ? drv->state_size : 1);
	CU_ASSERT_FATAL(st != NULL);
	if (drv->init && drv->init(st, address) != 0)
		dc_fail("%s: init(address %u) failed", drv->name, address);
	return st;
}

int dc_feed(const struct bms_driver *drv, void *st, const struct bms_request *req,
	    const uint8_t *buf, size_t len, struct bms_snapshot *snap)
{
	size_t pos = 0;
	int last = -ENODATA;
	while (pos < len) {
		size_t start = 0, flen = 0;
		enum bms_find f = bms_frame_find(drv, buf + pos, len - pos, &start, &flen);
		if (f != BMS_FIND_VALID)
			break;
		if (start + flen > len - pos || flen == 0) {
			dc_fail("%s: bms_frame_find returned [%zu,+%zu) beyond %zu bytes",
				drv->name, start, flen, len - pos);
			return -EIO;
		}
		int r = drv->parse(st, req, buf + pos + start, flen, snap);
		/* what parse raises must be what the driver says it can report (publish/) */
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
			if (snap->alarm[a] && !(drv->alarms >> a & 1u))
				dc_fail("%s: parse raised alarm %s, not in struct "
					"bms_driver.alarms",
					drv->name, bms_alarm_name((enum bms_alarm)a));
		if (r < 0)
			return r;
		if (r == 0)
			return 0;
		last = 1;
		pos += start + flen;
	}
	return last;
}

/* ---- key mapping ---- */

enum dc_map dc_num(struct dc_value *ret, double v)
{
	ret->kind = VEC_NUM;
	ret->num = v;
	return DC_MAPPED;
}

static enum dc_map boolean(struct dc_value *ret, bool v)
{
	ret->kind = VEC_BOOL;
	ret->num = v ? 1 : 0;
	return DC_MAPPED;
}

static enum dc_map str(struct dc_value *ret, const char *s)
{
	ret->kind = VEC_STR;
	snprintf(ret->str, sizeof(ret->str), "%s", s);
	return DC_MAPPED;
}

/* The driver did not set the valid bit of an expected key: compare fails. */
static enum dc_map missing(struct dc_value *ret)
{
	ret->kind = VEC_OTHER;
	snprintf(ret->str, sizeof(ret->str), "(valid bit not set)");
	return DC_MAPPED;
}

bool dc_key_in(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(key, *list) == 0)
			return true;
	return false;
}

/* A field of the table as the vectors give it (their keys are the JSON keys). */
static enum dc_map map_field(const struct bms_field *f, const struct bms_snapshot *s,
			     struct dc_value *ret)
{
	if (!(s->valid & f->valid))
		return missing(ret);
	switch (f->type) {
	case BMS_FT_BOOL:
		return boolean(ret, bms_field_get(f, s) != 0);
	case BMS_FT_STR:
		return str(ret, (const char *)s + f->offset);
	case BMS_FT_CELLS:
	case BMS_FT_TEMPS:
		ret->kind = VEC_ARRAY;
		ret->n = bms_field_len(f, s);
		for (unsigned i = 0; i < ret->n; i++)
			ret->arr[i] = bms_field_elem(f, s, i);
		return DC_MAPPED;
	case BMS_FT_BITS:
	case BMS_FT_ALARMS:
	case BMS_FT_PROT:
		return DC_UNKNOWN; /* no vector carries them in this form */
	default:
		return dc_num(ret, bms_field_get(f, s));
	}
}

enum dc_map dc_map_common(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			  size_t len, struct dc_value *ret)
{
	(void)frame;
	(void)len;
	const struct bms_field *f = bms_field_by_key(key);
	if (f)
		return map_field(f, s, ret);
	/* derived keys of the vectors: the statistics and single sensors */
	uint32_t v = s->valid;
	if (!strcmp(key, "min_cell_v") || !strcmp(key, "max_cell_v") ||
	    !strcmp(key, "min_cell_no") || !strcmp(key, "max_cell_no")) {
		if (!(v & BMS_V_CELLS))
			return missing(ret);
		struct bms_stats cs;
		bms_stats_compute(s, &cs);
		if (!strcmp(key, "min_cell_v"))
			return dc_num(ret, bms_mv_to_v(cs.cell_min_mv));
		if (!strcmp(key, "max_cell_v"))
			return dc_num(ret, bms_mv_to_v(cs.cell_max_mv));
		if (!strcmp(key, "min_cell_no"))
			return dc_num(ret, cs.cell_min_idx + 1);
		return dc_num(ret, cs.cell_max_idx + 1);
	}
	if (!strcmp(key, "temp_sensor_count")) {
		if (!(v & BMS_V_TEMPS))
			return missing(ret);
		return dc_num(ret, s->temp_count);
	}
	unsigned tn;
	char tail[8];
	if (sscanf(key, "temp%u_%7s", &tn, tail) == 2 && !strcmp(tail, "c") && tn >= 1 &&
	    tn <= BMS_MAX_TEMPS) {
		const struct bms_field *t = &bms_fields[BMS_FIELD_TEMPS];
		if (!(v & t->valid) || tn > s->temp_count)
			return missing(ret);
		return dc_num(ret, bms_field_elem(t, s, tn - 1));
	}
	return DC_UNKNOWN;
}

static void compare(const char *what, const struct vec_expect *e, const struct dc_value *got)
{
	switch (e->kind) {
	case VEC_NUM:
	case VEC_BOOL:
		if ((got->kind != VEC_NUM && got->kind != VEC_BOOL) ||
		    fabs(got->num - e->num) > 0.001)
			dc_fail("%s: %s = %.4f expected %.4f%s%s", what, e->key, got->num, e->num,
				got->kind == VEC_OTHER ? " " : "",
				got->kind == VEC_OTHER ? got->str : "");
		break;
	case VEC_STR:
	case VEC_OTHER:
		if ((got->kind != VEC_STR && got->kind != VEC_OTHER) ||
		    strcmp(got->str, e->str) != 0)
			dc_fail("%s: %s = \"%s\" expected \"%s\"", what, e->key, got->str, e->str);
		break;
	case VEC_ARRAY:
		if (got->kind != VEC_ARRAY || got->n != e->n) {
			dc_fail("%s: %s has %u values, expected %u %s", what, e->key, got->n, e->n,
				got->kind == VEC_OTHER ? got->str : "");
			break;
		}
		for (unsigned i = 0; i < e->n; i++)
			if (fabs(got->arr[i] - e->arr[i]) > 0.001)
				dc_fail("%s: %s[%u] = %.4f expected %.4f", what, e->key, i,
					got->arr[i], e->arr[i]);
		break;
	}
}

/*
 * Parse frame as the answer to some step: returns the parse result of the
 * first step whose request it answers (0 or 1), or the last error.
 */
static int parse_as_some_step(const struct bms_driver *drv, uint8_t address, const uint8_t *buf,
			      size_t len, struct bms_snapshot *snap)
{
	static const enum bms_req_kind kinds[] = {BMS_REQ_POLL, BMS_REQ_PROBE};
	uint8_t req[DC_BUF];
	int best = -ENODATA;
	for (size_t k = 0; k < 2; k++) {
		for (unsigned step = 0; step < DC_MAX_STEPS; step++) {
			/* the descriptor says which request: no earlier step is replayed */
			struct bms_request rq = {.kind = kinds[k], .step = step, .cycle = 1};
			void *st = state_new(drv, address);
			int n = drv->build_request(st, &rq, req, sizeof(req));
			if (n <= 0) {
				free(st);
				break;
			}
			struct bms_snapshot tmp;
			memset(&tmp, 0, sizeof(tmp));
			int r = dc_feed(drv, st, &rq, buf, len, &tmp);
			free(st);
			if (r >= 0) {
				*snap = tmp;
				return r;
			}
			best = r;
		}
	}
	return best;
}

/*
 * Added for the JBD/Daly tests: a captured reply to a request the driver
 * deliberately never sends (JBD 0xAA error counters, Daly 0x91 cell range)
 * is allowed when the mapper skips every one of its keys (the snapshot has
 * no field for them). Such a frame must still be found by bms_frame_find; it
 * counts as checked (every response of the protocol is accounted for).
 */
static bool dc_unrequested(const struct bms_driver *drv, const struct vec *v, const uint8_t *buf,
			   size_t len, dc_map_fn map)
{
	struct bms_snapshot empty;
	memset(&empty, 0, sizeof(empty));
	if (!map || v->nexpect == 0)
		return false;
	for (unsigned k = 0; k < v->nexpect; k++) {
		struct dc_value got;
		memset(&got, 0, sizeof(got));
		if (map(v->expect[k].key, &empty, buf, len, &got) != DC_SKIP)
			return false;
	}
	size_t start = 0, flen = 0;
	return bms_frame_find(drv, buf, len, &start, &flen) == BMS_FIND_VALID && start == 0 &&
	       flen == len;
}

unsigned dc_check_vectors(const struct bms_driver *drv, uint8_t address, dc_map_fn map)
{
	unsigned checked = 0;
	uint8_t buf[DC_BUF], garbled[DC_BUF];
	for (size_t i = 0; i < VECTOR_COUNT; i++) {
		const struct vec *v = &vectors[i];
		if (strcmp(v->protocol, drv->name) || strcmp(v->direction, "response"))
			continue;
		int n = vec_hex(v->hex, buf, sizeof(buf));
		CU_ASSERT_FATAL(n > 0);
		char what[96];
		snprintf(what, sizeof(what), "%s vector %zu (%s)", drv->name, i, v->family);

		struct bms_snapshot snap;
		int r = parse_as_some_step(drv, address, buf, (size_t)n, &snap);
		if (r < 0) {
			if (!dc_unrequested(drv, v, buf, (size_t)n, map))
				dc_fail("%s: no request step accepts this frame (parse %d)", what,
					r);
			else
				checked++; /* a frame we never ask for, known as such */
			continue;
		}
		/* the same frame after garbage decodes the same */
		static const uint8_t junk[] = {0x00, 0xff, 0x55, 0x4e, 0xdd, 0xa5, 0x01, 0x10};
		memcpy(garbled, junk, sizeof(junk));
		memcpy(garbled + sizeof(junk), buf, (size_t)n);
		struct bms_snapshot snap2;
		int r2 =
			parse_as_some_step(drv, address, garbled, sizeof(junk) + (size_t)n, &snap2);
		if (r2 != r || memcmp(&snap, &snap2, sizeof(snap)) != 0)
			dc_fail("%s: decodes differently after leading garbage", what);

		for (unsigned k = 0; k < v->nexpect; k++) {
			const struct vec_expect *e = &v->expect[k];
			struct dc_value got;
			memset(&got, 0, sizeof(got));
			enum dc_map m = map ? map(e->key, &snap, buf, (size_t)n, &got) : DC_UNKNOWN;
			if (m == DC_UNKNOWN)
				m = dc_map_common(e->key, &snap, buf, (size_t)n, &got);
			if (m == DC_UNKNOWN) {
				dc_fail("%s: expected key '%s' is not mapped", what, e->key);
				continue;
			}
			if (m == DC_MAPPED)
				compare(what, e, &got);
		}
		checked++;
	}
	return checked;
}

/* ---- frame check conformance ---- */

static enum bms_find find_exact(const struct bms_driver *drv, const uint8_t *p, size_t len,
				size_t *start, size_t *flen)
{
	/* an exact-size heap copy: any read past len is an ASan report */
	uint8_t *copy = malloc(len ? len : 1);
	CU_ASSERT_FATAL(copy != NULL);
	if (len)
		memcpy(copy, p, len);
	*start = (size_t)-1;
	*flen = (size_t)-1;
	enum bms_find f = bms_frame_find(drv, copy, len, start, flen);
	free(copy);
	return f;
}

void dc_check_frame(const struct bms_driver *drv, const uint8_t *frame, size_t len)
{
	size_t start, flen;
	uint8_t *buf = malloc(3 * len + 64);
	CU_ASSERT_FATAL(buf != NULL);

	/* whole */
	enum bms_find f = find_exact(drv, frame, len, &start, &flen);
	if (f != BMS_FIND_VALID || start != 0 || flen != len)
		dc_fail("%s: whole frame of %zu: find %d start %zu len %zu", drv->name, len, f,
			start, flen);
	if (len > drv->max_frame)
		dc_fail("%s: frame of %zu exceeds max_frame %zu", drv->name, len, drv->max_frame);

	/* leading garbage */
	uint32_t seed = 12345;
	for (unsigned pat = 0; pat < 9; pat++) {
		size_t g = 0;
		switch (pat) {
		case 0: /* pseudo-random noise */
			for (g = 0; g < 23; g++) {
				seed = seed * 1103515245u + 12345u;
				buf[g] = (uint8_t)(seed >> 16);
			}
			break;
		case 1:
		case 2:
		case 3:
		case 4: /* the first 1..4 bytes: a header look-alike */
			g = pat < len ? pat : len - 1;
			memcpy(buf, frame, g);
			break;
		case 5: /* a truncated copy: a frame cut off by a previous timeout */
			g = len / 2;
			memcpy(buf, frame, g);
			break;
		case 6: /* zeros (an idle or echoing line) */
			g = 9;
			memset(buf, 0, g);
			break;
		case 7: /* the first byte repeated */
			g = 5;
			memset(buf, frame[0], g);
			break;
		case 8: /* all-ones */
			g = 11;
			memset(buf, 0xff, g);
			break;
		}
		memcpy(buf + g, frame, len);
		f = find_exact(drv, buf, g + len, &start, &flen);
		if (f != BMS_FIND_VALID || start != g || flen != len)
			dc_fail("%s: garbage pattern %u (%zu bytes) before a %zu-byte frame: find "
				"%d "
				"start %zu len %zu",
				drv->name, pat, g, len, f, start, flen);
	}

	/*
	 * every single byte corrupted: never this frame. Except where the
	 * protocol's own check cannot see it: EG4 LifePower's (XOR ^ sum) & 0xFF
	 * is blind to any flip of bit 7 and to many others (docs/PROTOCOLS.md);
	 * there only its framing bytes (start, length, end, checksum) are held
	 * to it, and its test shows which flips pass.
	 */
	static const char *const weak_check[] = {"eg4_lifepower", NULL};
	bool weak = dc_key_in(drv->name, weak_check);
	for (size_t i = 0; i < len; i++) {
		if (weak && i != 0 && i != 3 && i + 2 < len)
			continue;
		static const uint8_t flips[] = {0x01, 0x80, 0xff};
		for (size_t k = 0; k < sizeof(flips); k++) {
			memcpy(buf, frame, len);
			buf[i] ^= flips[k];
			f = find_exact(drv, buf, len, &start, &flen);
			if (f == BMS_FIND_VALID && start == 0 && flen == len)
				dc_fail("%s: byte %zu ^ 0x%02x still VALID", drv->name, i,
					flips[k]);
			if (f == BMS_FIND_VALID && start + flen > len)
				dc_fail("%s: VALID past the end", drv->name);
		}
	}

	/* truncated at every length */
	for (size_t l = 0; l < len; l++) {
		f = find_exact(drv, frame, l, &start, &flen);
		if (f == BMS_FIND_VALID)
			dc_fail("%s: truncated to %zu of %zu bytes is VALID", drv->name, l, len);
		if (f == BMS_FIND_NEED_MORE && start > l)
			dc_fail("%s: truncated to %zu: NEED_MORE start %zu beyond the data",
				drv->name, l, start);
	}
	/* the worker's NEED_MORE contract: a partial frame says "more" */
	f = find_exact(drv, frame, len - 1, &start, &flen);
	if (f != BMS_FIND_NEED_MORE || start != 0)
		dc_fail("%s: all but the last byte: find %d start %zu, expected NEED_MORE at 0",
			drv->name, f, start);

	/* back to back */
	memcpy(buf, frame, len);
	memcpy(buf + len, frame, len);
	f = find_exact(drv, buf, 2 * len, &start, &flen);
	if (f != BMS_FIND_VALID || start != 0 || flen != len)
		dc_fail("%s: back to back, first: find %d start %zu len %zu", drv->name, f, start,
			flen);
	f = find_exact(drv, buf + len, len, &start, &flen);
	if (f != BMS_FIND_VALID || start != 0 || flen != len)
		dc_fail("%s: back to back, second: find %d start %zu len %zu", drv->name, f, start,
			flen);
	free(buf);
}

unsigned dc_check_family_frames(const struct bms_driver *drv)
{
	unsigned n = 0;
	uint8_t buf[DC_BUF];
	for (size_t i = 0; i < VECTOR_COUNT; i++) {
		if (strcmp(vectors[i].protocol, drv->name) ||
		    strcmp(vectors[i].direction, "response"))
			continue;
		int len = vec_hex(vectors[i].hex, buf, sizeof(buf));
		CU_ASSERT_FATAL(len > 0);
		dc_check_frame(drv, buf, (size_t)len);
		n++;
	}
	return n;
}

unsigned dc_check_requests(const struct bms_driver *drv, uint8_t address)
{
	static const enum bms_req_kind kinds[] = {BMS_REQ_PROBE, BMS_REQ_POLL};
	unsigned matched = 0;
	uint8_t want[DC_BUF], req[DC_BUF];
	for (size_t i = 0; i < VECTOR_COUNT; i++) {
		if (strcmp(vectors[i].protocol, drv->name) ||
		    strcmp(vectors[i].direction, "request"))
			continue;
		int wn = vec_hex(vectors[i].hex, want, sizeof(want));
		CU_ASSERT_FATAL(wn > 0);
		bool found = false;
		for (size_t k = 0; k < 2 && !found; k++) {
			void *st = state_new(drv, address);
			for (unsigned step = 0; step < DC_MAX_STEPS; step++) {
				struct bms_request rq = {
					.kind = kinds[k], .step = step, .cycle = 1};
				int n = drv->build_request(st, &rq, req, sizeof(req));
				if (n <= 0)
					break;
				if (n == wn && memcmp(req, want, (size_t)n) == 0) {
					found = true;
					break;
				}
			}
			free(st);
		}
		if (found)
			matched++;
		else
			fprintf(stderr,
				"\n    driver_checks: %s: request vector %zu (%s) not built\n",
				drv->name, i, vectors[i].hex);
	}
	return matched;
}

/* ---- simulator round trip ---- */

static void compare_snap(const char *name, const struct bms_snapshot *got,
			 const struct bms_snapshot *want)
{
	uint32_t v = got->valid;
#define EQ(bit, field)                                                                             \
	do {                                                                                       \
		if ((v & (bit)) && got->field != want->field)                                      \
			dc_fail("%s: round trip " #field " = %lld, state has %lld", name,          \
				(long long)got->field, (long long)want->field);                    \
	} while (0)
#define STREQ(bit, field)                                                                          \
	do {                                                                                       \
		if ((v & (bit)) && strcmp(got->field, want->field) != 0)                           \
			dc_fail("%s: round trip " #field " = \"%s\", state has \"%s\"", name,      \
				got->field, want->field);                                          \
	} while (0)
	EQ(BMS_V_VOLTAGE, voltage_mv);
	EQ(BMS_V_CURRENT, current_ma);
	EQ(BMS_V_POWER, power_mw);
	EQ(BMS_V_SOC, soc_cpct);
	EQ(BMS_V_SOH, soh_cpct);
	EQ(BMS_V_CAP_REMAIN, capacity_remain_mah);
	EQ(BMS_V_CAP_FULL, capacity_full_mah);
	EQ(BMS_V_CAP_DESIGN, capacity_design_mah);
	EQ(BMS_V_CYCLES, cycles);
	EQ(BMS_V_CELLS, cell_count);
	if (v & BMS_V_CELLS)
		for (unsigned i = 0; i < got->cell_count && i < BMS_MAX_CELLS; i++)
			EQ(BMS_V_CELLS, cell_mv[i]);
	EQ(BMS_V_TEMPS, temp_count);
	if (v & BMS_V_TEMPS)
		for (unsigned i = 0; i < got->temp_count && i < BMS_MAX_TEMPS; i++)
			EQ(BMS_V_TEMPS, temp_dc[i]);
	EQ(BMS_V_MOSFET_TEMP, mosfet_temp_dc);
	EQ(BMS_V_FETS, charge_fet);
	EQ(BMS_V_FETS, discharge_fet);
	EQ(BMS_V_BALANCING, balancing);
	EQ(BMS_V_BALANCER, balancer_enabled);
	if (v & BMS_V_ALARMS)
		for (unsigned i = 0; i < BMS_ALARM_COUNT; i++)
			EQ(BMS_V_ALARMS, alarm[i]);
	EQ(BMS_V_MAX_CHARGE_I, max_charge_ma);
	EQ(BMS_V_MAX_DISCHARGE_I, max_discharge_ma);
	STREQ(BMS_V_SERIAL, serial);
	STREQ(BMS_V_MODEL, model);
	STREQ(BMS_V_HW_VERSION, hw_version);
	STREQ(BMS_V_SW_VERSION, sw_version);
	EQ(BMS_V_HEATING, heating);
	EQ(BMS_V_HEATER_CURRENT, heater_current_ma);
	EQ(BMS_V_HEATER_SETTINGS, heating_enabled);
	EQ(BMS_V_HEATER_SETTINGS, heating_start_dc);
	EQ(BMS_V_HEATER_SETTINGS, heating_stop_dc);
#undef EQ
#undef STREQ
}

/* Run one cycle of `kind` through the simulator, as the core runs it (the
 * first poll cycle: every static step is due). */
static int sim_cycle(const struct bms_driver *drv, enum bms_req_kind kind, uint8_t req_addr,
		     uint8_t sim_addr, const struct bms_snapshot *state, struct bms_snapshot *snap,
		     unsigned *ret_steps)
{
	uint8_t req[DC_BUF], reply[DC_BUF];
	void *st = state_new(drv, req_addr);
	struct bms_snapshot dev = *state;
	struct bms_held held;
	bms_held_reset(&held);
	struct bms_request rq = {.kind = kind};
	if (kind == BMS_REQ_POLL)
		rq.cycle = bms_held_next_cycle(&held);
	int r = 0;
	unsigned step;
	for (step = 0; step < DC_MAX_STEPS; step++) {
		rq.step = step;
		if (kind == BMS_REQ_POLL && !bms_step_due(drv, step, &held))
			continue;
		int n = drv->build_request(st, &rq, req, sizeof(req));
		if (n < 0) {
			r = n;
			break;
		}
		if (n == 0)
			break;
		int m = bms_sim_respond(drv, &dev, sim_addr, req, (size_t)n, reply, sizeof(reply));
		if (m < 0) {
			r = m;
			break;
		}
		if (m == 0) {
			r = -ETIMEDOUT; /* the device stayed silent */
			break;
		}
		r = dc_feed(drv, st, &rq, reply, (size_t)m, snap);
		if (r != 0)
			break;
		if (kind == BMS_REQ_POLL)
			bms_held_keep(drv, step, &held, snap);
	}
	if (r == 0 && kind == BMS_REQ_POLL)
		bms_held_apply(&held, snap);
	if (r == 0 && drv->finish)
		drv->finish(st, snap);
	free(st);
	if (ret_steps)
		*ret_steps = step;
	return r;
}

void dc_check_sim_roundtrip(const struct bms_driver *drv, uint8_t address,
			    const struct bms_snapshot *state, uint32_t must_valid)
{
	CU_ASSERT_FATAL(bms_sim_find(drv->name) != NULL);
	struct bms_snapshot snap;
	unsigned steps = 0;

	memset(&snap, 0, sizeof(snap));
	int r = sim_cycle(drv, BMS_REQ_PROBE, address, address, state, &snap, &steps);
	if (r != 0 || steps == 0)
		dc_fail("%s: probe through the simulator: %d after %u steps", drv->name, r, steps);

	memset(&snap, 0, sizeof(snap));
	r = sim_cycle(drv, BMS_REQ_POLL, address, address, state, &snap, &steps);
	if (r != 0 || steps == 0)
		dc_fail("%s: poll cycle through the simulator: %d after %u steps", drv->name, r,
			steps);
	if ((snap.valid & must_valid) != must_valid)
		dc_fail("%s: round trip valid 0x%x lacks 0x%x", drv->name, snap.valid,
			must_valid & ~snap.valid);
	compare_snap(drv->name, &snap, state);

	if (drv->flags & BMS_F_ADDRESSED) {
		uint8_t other = address < drv->address_max ? (uint8_t)(address + 1)
							   : (uint8_t)(address - 1);
		/* a device at another address stays silent */
		memset(&snap, 0, sizeof(snap));
		r = sim_cycle(drv, BMS_REQ_POLL, address, other, state, &snap, NULL);
		if (r != -ETIMEDOUT)
			dc_fail("%s: simulator at %u answered a request for %u (%d)", drv->name,
				other, address, r);
		/* a reply from another address is not taken for ours */
		uint8_t req[DC_BUF], oreq[DC_BUF], reply[DC_BUF];
		void *st = state_new(drv, address);
		void *ost = state_new(drv, other);
		struct bms_request rq = {.kind = BMS_REQ_POLL, .cycle = 1};
		struct bms_snapshot dev = *state;
		int n = drv->build_request(st, &rq, req, sizeof(req));
		int on = drv->build_request(ost, &rq, oreq, sizeof(oreq));
		CU_ASSERT(n > 0 && on > 0);
		int m = on > 0 ? bms_sim_respond(drv, &dev, other, oreq, (size_t)on, reply,
						 sizeof(reply))
			       : 0;
		CU_ASSERT(m > 0);
		if (m > 0) {
			memset(&snap, 0, sizeof(snap));
			r = dc_feed(drv, st, &rq, reply, (size_t)m, &snap);
			if (r == 0)
				dc_fail("%s: a reply from address %u completed a request to %u",
					drv->name, other, address);
		}
		free(st);
		free(ost);
	}
}

unsigned dc_check_protocol(const struct bms_driver *drv, uint8_t address)
{
	unsigned decoded = 0, responses = 0;
	uint8_t buf[DC_BUF];
	for (size_t i = 0; i < VECTOR_COUNT; i++) {
		const struct vec *v = &vectors[i];
		if (strcmp(v->protocol, drv->name) || strcmp(v->direction, "response"))
			continue;
		responses++;
		int n = vec_hex(v->hex, buf, sizeof(buf));
		CU_ASSERT_FATAL(n > 0);
		/* the capture is one or more whole frames, back to back, nothing else */
		size_t off = 0, start = 0, flen = 0, frames = 0;
		while (off < (size_t)n) {
			if (bms_frame_find(drv, buf + off, (size_t)n - off, &start, &flen) !=
				    BMS_FIND_VALID ||
			    start != 0) {
				dc_fail("%s vector %zu: bytes %zu.. are not a whole frame",
					drv->name, i, off);
				break;
			}
			if (flen > drv->max_frame)
				dc_fail("%s vector %zu: a %zu-byte frame exceeds max_frame %zu",
					drv->name, i, flen, drv->max_frame);
			off += flen;
			frames++;
		}
		/* a single-frame reply gets the whole conformance treatment */
		if (frames == 1 && off == (size_t)n)
			dc_check_frame(drv, buf, (size_t)n);
		struct bms_snapshot snap;
		if (parse_as_some_step(drv, address, buf, (size_t)n, &snap) >= 0)
			decoded++;
	}
	if (responses > 0 && decoded == 0)
		dc_fail("%s: no captured reply answers any request it builds", drv->name);
	return responses;
}

int dc_decode_roundtrip(const struct bms_driver *drv, uint8_t address,
			const struct bms_snapshot *truth, struct bms_snapshot *got)
{
	enum { CAP = 64 * 1024 };
	uint8_t *cap = malloc(CAP), *rep = malloc(8192);
	void *st = calloc(1, drv->state_size ? drv->state_size : 1);
	struct bms_snapshot sim = *truth, scratch;
	struct bms_held held;
	size_t used = 0;
	int r = -ENOMEM;
	if (!cap || !rep || !st)
		goto out;
	r = drv->init ? drv->init(st, address) : 0;
	if (r < 0)
		goto out;
	bms_held_reset(&held);
	memset(&scratch, 0, sizeof(scratch));
	struct bms_request req = {.kind = BMS_REQ_POLL, .cycle = bms_held_next_cycle(&held)};
	for (req.step = 0; req.step < 64; req.step++) {
		if (!bms_step_due(drv, req.step, &held))
			continue;
		uint8_t q[512];
		int n = drv->build_request(st, &req, q, sizeof(q));
		if (n < 0) {
			r = n;
			goto out;
		}
		if (n == 0)
			break;
		int m = bms_sim_respond(drv, &sim, address, q, (size_t)n, rep, 8192);
		if (m < 0) {
			r = m;
			goto out;
		}
		if (used + (size_t)n + (size_t)m > CAP) {
			r = -E2BIG;
			goto out;
		}
		memcpy(cap + used, q, (size_t)n);
		used += (size_t)n;
		memcpy(cap + used, rep, (size_t)m);
		used += (size_t)m;
		/* the driver's state follows the replies, as in the worker */
		size_t pos = 0, start, flen;
		while (pos < (size_t)m && bms_frame_find(drv, rep + pos, (size_t)m - pos, &start,
							 &flen) == BMS_FIND_VALID) {
			int pr = drv->parse(st, &req, rep + pos + start, flen, &scratch);
			pos += start + flen;
			if (pr <= 0 && pr != BMS_FOREIGN)
				break;
		}
	}
	struct decode_segment seg = {cap, used};
	struct decode_result res;
	r = decode_capture(drv, address, &seg, 1, NULL, &res);
	if (r < 0)
		goto out;
	*got = res.snap;
	r = res.refused || res.checksum_errors || res.replies_decoded == 0 ? -EBADMSG : 0;
out:
	free(cap);
	free(rep);
	free(st);
	return r;
}

void dc_check_alarm_mask(const struct bms_driver *drv, uint8_t address,
			 const struct bms_snapshot *base)
{
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++) {
		bool raised = false;
		for (uint8_t level = 1; level <= 2 && !raised; level++) {
			struct bms_snapshot state = *base, snap;
			memset(state.alarm, 0, sizeof(state.alarm));
			state.valid |= BMS_V_ALARMS;
			state.alarm[a] = level;
			memset(&snap, 0, sizeof(snap));
			int r = sim_cycle(drv, BMS_REQ_POLL, address, address, &state, &snap, NULL);
			if (r != 0) {
				dc_fail("%s: poll with alarm %s at %u: %d", drv->name,
					bms_alarm_name((enum bms_alarm)a), level, r);
				return;
			}
			raised = (snap.valid & BMS_V_ALARMS) && snap.alarm[a] != 0;
		}
		bool listed = drv->alarms >> a & 1u;
		if (listed && !raised)
			dc_fail("%s: alarm %s is in struct bms_driver.alarms, but no frame of the "
				"simulator raises it",
				drv->name, bms_alarm_name((enum bms_alarm)a));
		if (!listed && raised)
			dc_fail("%s: alarm %s raised, but not in struct bms_driver.alarms",
				drv->name, bms_alarm_name((enum bms_alarm)a));
	}
}

/* ---- small helpers the driver tests share ---- */

const struct bms_desc_item *dc_desc_find(const struct bms_frame_desc *d, const char *key)
{
	for (unsigned i = 0; i < d->n; i++)
		if (!strcmp(d->items[i].key, key))
			return &d->items[i];
	return NULL;
}

enum dc_map dc_desc_array(const struct bms_frame_desc *d, const char *fmt, unsigned n,
			  struct dc_value *ret)
{
	ret->kind = VEC_ARRAY;
	ret->n = 0;
	for (unsigned i = 0; i < n && ret->n < sizeof(ret->arr) / sizeof(ret->arr[0]); i++) {
		char key[BMS_DESC_KEY];
		snprintf(key, sizeof(key), fmt, i + 1);
		const struct bms_desc_item *it = dc_desc_find(d, key);
		if (!it)
			break;
		ret->arr[ret->n++] = it->num;
	}
	return DC_MAPPED;
}

enum dc_map dc_map_ids(const char *key, const struct bms_snapshot *s, struct dc_value *ret)
{
	if (!strcmp(key, "hardware_version") && (s->valid & BMS_V_HW_VERSION))
		return str(ret, s->hw_version);
	if (!strcmp(key, "serial_number") && (s->valid & BMS_V_SERIAL))
		return str(ret, s->serial);
	if ((!strcmp(key, "charge_mosfet_on") || !strcmp(key, "discharge_mosfet_on")) &&
	    (s->valid & BMS_V_FETS))
		return boolean(ret, key[0] == 'c' ? s->charge_fet : s->discharge_fet);
	return DC_UNKNOWN;
}

enum dc_map dc_map_desc(const struct bms_frame_desc *d, const char *key,
			const struct bms_snapshot *s, struct dc_value *ret)
{
	const struct bms_field *f = bms_field_by_key(key);
	if (f && (s->valid & f->valid))
		return DC_UNKNOWN;
	const struct bms_desc_item *it = dc_desc_find(d, key);
	if (!it)
		return DC_UNKNOWN;
	ret->kind = it->is_text ? VEC_STR : VEC_NUM;
	ret->num = it->num;
	snprintf(ret->str, sizeof(ret->str), "%s", it->text);
	return DC_MAPPED;
}

enum dc_map dc_map_temps_env(const struct bms_snapshot *s, const struct bms_frame_desc *d,
			     bool mosfet_first, struct dc_value *ret)
{
	const struct bms_desc_item *env = dc_desc_find(d, "environment_temp_c");
	ret->kind = VEC_ARRAY;
	ret->n = 0;
	for (unsigned i = 0; i < s->temp_count; i++)
		ret->arr[ret->n++] = s->temp_dc[i] / 10.0;
	if (mosfet_first)
		ret->arr[ret->n++] = s->mosfet_temp_dc / 10.0;
	if (env)
		ret->arr[ret->n++] = env->num;
	if (!mosfet_first)
		ret->arr[ret->n++] = s->mosfet_temp_dc / 10.0;
	return DC_MAPPED;
}

int dc_vector_hex(const char *protocol, const char *direction, unsigned nth, uint8_t *buf,
		  size_t cap)
{
	for (size_t i = 0; i < VECTOR_COUNT; i++)
		if (!strcmp(vectors[i].protocol, protocol) &&
		    !strcmp(vectors[i].direction, direction) && nth-- == 0)
			return vec_hex(vectors[i].hex, buf, cap);
	return -1;
}

size_t dc_vector_frame(const char *protocol, const char *direction, unsigned nth, uint8_t *buf,
		       size_t cap)
{
	int len = dc_vector_hex(protocol, direction, nth, buf, cap);
	if (len <= 0)
		dc_fail("no %s vector %s #%u (or it does not fit %zu bytes)", protocol, direction,
			nth, cap);
	CU_ASSERT_FATAL(len > 0);
	return (size_t)len;
}

static uint64_t rng_state;

void dc_rnd_seed(uint64_t seed)
{
	rng_state = seed;
}

uint32_t dc_rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((rng_state >> 33) % n);
}

static uint32_t xrng_state;

void dc_xrnd_seed(uint32_t seed)
{
	xrng_state = seed;
}

uint32_t dc_xrnd(void)
{
	uint32_t x = xrng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return xrng_state = x;
}

int32_t dc_xrnd_in(int32_t lo, int32_t hi)
{
	return lo + (int32_t)(dc_xrnd() % (uint32_t)(hi - lo + 1));
}

bool dc_same_state(const struct bms_snapshot *truth, const struct bms_snapshot *got)
{
	if (got->valid != truth->valid || got->temp_count != truth->temp_count)
		return false;
	for (size_t i = 0; i < BMS_FIELD_COUNT; i++) {
		const struct bms_field *f = &bms_fields[i];
		const char *t = (const char *)truth + f->offset;
		const char *g = (const char *)got + f->offset;
		if (f->type == BMS_FT_STR) {
			if (strncmp(t, g, BMS_STR_LEN) != 0)
				return false;
		} else if (memcmp(t, g, bms_field_size(f)) != 0) {
			return false;
		}
	}
	return true;
}

unsigned dc_check_property(const struct bms_driver *drv, uint64_t seed, unsigned rounds,
			   uint8_t addr_first, uint32_t addr_count,
			   void (*make)(struct bms_snapshot *s))
{
	dc_rnd_seed(seed);
	unsigned checked = 0;
	for (unsigned i = 0; i < rounds; i++) {
		struct bms_snapshot truth, got;
		make(&truth);
		/* one fixed address draws nothing: the states stay those of the seed */
		uint8_t addr =
			(uint8_t)(addr_count > 1 ? addr_first + dc_rnd(addr_count) : addr_first);
		int r = dc_decode_roundtrip(drv, addr, &truth, &got);
		CU_ASSERT_FATAL(r == 0);
		bool ok = dc_same_state(&truth, &got);
		if (!ok)
			fprintf(stderr,
				"%s property: state %u (%u cells, %u temps, valid %x/%x) differs\n",
				drv->name, i, truth.cell_count, truth.temp_count, got.valid,
				truth.valid);
		CU_ASSERT(ok);
		checked++;
	}
	return checked;
}

void dc_random_alarms(struct bms_snapshot *s, bool (*level_ok)(unsigned alarm, uint8_t level))
{
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++) {
		uint8_t level = (uint8_t)(dc_rnd(6) < 4 ? 0 : 1 + dc_rnd(2));
		if (level && level_ok(a, level))
			s->alarm[a] = level;
	}
}

int dc_parse_at(const struct bms_driver *drv, uint8_t address, const struct bms_request *rq,
		const uint8_t *f, size_t n, struct bms_snapshot *s)
{
	_Alignas(16) uint8_t st[512];
	CU_ASSERT_FATAL(drv->state_size <= sizeof(st));
	CU_ASSERT_FATAL(drv->init(st, address) == 0);
	memset(s, 0, sizeof(*s));
	return drv->parse(st, rq, f, n, s);
}

unsigned dc_check_refuses_captures(const struct bms_driver *drv, const char *other,
				   uint8_t addr_max, unsigned steps)
{
	unsigned seen = 0;
	for (size_t i = 0; i < VECTOR_COUNT; i++) {
		if (strcmp(vectors[i].protocol, other) || strcmp(vectors[i].direction, "response"))
			continue;
		uint8_t f[512];
		int n = vec_hex(vectors[i].hex, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		struct bms_frame_desc d;
		CU_ASSERT(bms_driver_describe(drv, f, (size_t)n, &d) == 0 && d.command == 0);
		for (uint8_t a = 1; a <= addr_max; a++)
			for (unsigned k = 0; k < 2; k++)
				for (unsigned step = 0; step < steps; step++) {
					struct bms_request rq = {.kind = k ? BMS_REQ_PROBE
									   : BMS_REQ_POLL,
								 .step = step,
								 .cycle = 1};
					struct bms_snapshot s;
					CU_ASSERT(dc_parse_at(drv, a, &rq, f, (size_t)n, &s) < 0);
					CU_ASSERT(s.valid == 0);
				}
		seen++;
	}
	return seen;
}

void dc_check_refuses_sim(const struct bms_driver *drv, const struct bms_driver *other,
			  struct bms_snapshot *dev, uint8_t addr_max, unsigned steps,
			  bool other_answers)
{
	for (uint8_t a = 1; a <= addr_max; a++) {
		_Alignas(16) uint8_t st[512];
		uint8_t req[64], rep[512];
		CU_ASSERT_FATAL(drv->state_size <= sizeof(st));
		CU_ASSERT_FATAL(drv->init(st, a) == 0);
		for (unsigned k = 0; k < 2; k++)
			for (unsigned step = 0; step < steps; step++) {
				struct bms_request rq = {.kind = k ? BMS_REQ_PROBE : BMS_REQ_POLL,
							 .step = step,
							 .cycle = 1};
				int n = drv->build_request(st, &rq, req, sizeof(req));
				if (n <= 0)
					continue;
				int m = bms_sim_respond(other, dev, a, req, (size_t)n, rep,
							sizeof(rep));
				if (other_answers)
					CU_ASSERT(m > 0);
				struct bms_snapshot s;
				memset(&s, 0, sizeof(s));
				if (m > 0)
					CU_ASSERT(dc_feed(drv, st, &rq, rep, (size_t)m, &s) != 0);
				CU_ASSERT(s.valid == 0);
			}
	}
}

void dc_random_cells(struct bms_snapshot *s, uint32_t max_cells, uint16_t min_mv, uint32_t span)
{
	s->cell_count = (uint8_t)(1 + dc_rnd(max_cells));
	int32_t sum = 0;
	for (unsigned i = 0; i < s->cell_count; i++) {
		s->cell_mv[i] = (uint16_t)(min_mv + dc_rnd(span));
		sum += s->cell_mv[i];
	}
	s->voltage_mv = sum / 10 * 10;
}

void dc_set_cells(struct bms_snapshot *s, uint8_t n, uint16_t first_mv)
{
	s->cell_count = n;
	int32_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		s->cell_mv[i] = (uint16_t)(first_mv + i);
		sum += s->cell_mv[i];
	}
	s->voltage_mv = sum / 10 * 10;
}

int dc_feed_any(const struct bms_driver *drv, void *st, const struct bms_request *req,
		const uint8_t *buf, size_t len, struct bms_snapshot *snap)
{
	size_t pos = 0;
	int r = -ENODATA;
	while (pos < len) {
		size_t start, flen;
		if (bms_frame_find(drv, buf + pos, len - pos, &start, &flen) != BMS_FIND_VALID)
			break;
		r = drv->parse(st, req, buf + pos + start, flen, snap);
		pos += start + flen;
		if (r >= 0)
			break;
	}
	return r;
}

void dc_check_neighbours(const struct bms_driver *drv, uint8_t address, struct bms_snapshot *dev,
			 const struct bms_request *rq, const uint8_t *req, size_t n)
{
	uint8_t rep[DC_BUF];
	struct bms_snapshot s;
	uint8_t lo = (uint8_t)(address - 1), hi = (uint8_t)(address + 1);
	CU_ASSERT(bms_sim_respond(drv, dev, lo, req, n, rep, sizeof(rep)) == 0);
	CU_ASSERT(bms_sim_respond(drv, dev, hi, req, n, rep, sizeof(rep)) == 0);
	int m = bms_sim_respond(drv, dev, address, req, n, rep, sizeof(rep));
	CU_ASSERT_FATAL(m > 0);
	CU_ASSERT(dc_parse_at(drv, address, rq, rep, (size_t)m, &s) == 0 &&
		  s.cell_count == dev->cell_count);
	CU_ASSERT(dc_parse_at(drv, lo, rq, rep, (size_t)m, &s) == BMS_FOREIGN && s.valid == 0);
	CU_ASSERT(dc_parse_at(drv, hi, rq, rep, (size_t)m, &s) == BMS_FOREIGN && s.valid == 0);
	CU_ASSERT(dc_parse_at(drv, address, rq, req, n, &s) == BMS_FOREIGN && s.valid == 0);
}

void dc_check_property_cov(const struct bms_driver *drv, unsigned rounds, uint8_t addr_lo,
			   uint8_t addr_hi, struct bms_snapshot (*make)(uint32_t *ret_valid),
			   struct dc_coverage *cov)
{
	memset(cov, 0, sizeof(*cov));
	for (unsigned i = 0; i < rounds; i++) {
		uint32_t valid;
		struct bms_snapshot truth = make(&valid), got;
		memset(&got, 0, sizeof(got));
		uint8_t addr = addr_lo == addr_hi ? addr_lo : (uint8_t)dc_xrnd_in(addr_lo, addr_hi);
		int r = dc_decode_roundtrip(drv, addr, &truth, &got);
		bool ok = r == 0 && truth.valid == valid && dc_same_state(&truth, &got);
		if (!ok)
			fprintf(stderr,
				"\n    state %u: %d, valid 0x%x want 0x%x, %u cells, %d mA\n", i, r,
				got.valid, valid, truth.cell_count, truth.current_ma);
		CU_ASSERT(ok);
		cov->ok += ok;
		cov->charging += truth.current_ma > 0;
		cov->discharging += truth.current_ma < 0;
		cov->fets_off += !truth.charge_fet || !truth.discharge_fet;
		cov->no_limit += !(valid & BMS_V_MAX_CHARGE_I);
		cov->max_cells += truth.cell_count == BMS_MAX_CELLS;
	}
}
