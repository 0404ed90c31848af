/* SPDX-License-Identifier: MIT */
/*
 * Snapshot <-> JSON, one loop over the field table each way. The reader is
 * a small bounded recursive-descent parser for the subset a state file needs
 * (objects, arrays, numbers, strings, true/false/null); it never reads past
 * len and limits nesting, so a hostile file costs at most an error message.
 */
#include "snapshot_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

/* ---- writer ---- */

struct jw {
	char *buf;
	size_t cap, len;
	bool overflow;
	bool first;
};

static void jw_printf(struct jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jw_printf(struct jw *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = w->len < w->cap ? w->cap - w->len : 0;
	int n = vsnprintf(w->buf + (w->len < w->cap ? w->len : w->cap - 1), room ? room : 1, fmt,
			  ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		w->overflow = true;
	else
		w->len += (size_t)n;
}

static void jw_key(struct jw *w, const char *key)
{
	jw_printf(w, "%s\"%s\": ", w->first ? "" : ", ", key);
	w->first = false;
}

/* Trim a fixed-decimals number: 53.590 -> 53.59, 2.000 -> 2. */
static void jw_num(struct jw *w, const char *key, double v, int decimals)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%.*f", decimals, v);
	if (strchr(tmp, '.')) {
		size_t l = strlen(tmp);
		while (l > 0 && tmp[l - 1] == '0')
			tmp[--l] = '\0';
		if (l > 0 && tmp[l - 1] == '.')
			tmp[--l] = '\0';
	}
	if (!strcmp(tmp, "-0"))
		strcpy(tmp, "0");
	if (key)
		jw_key(w, key);
	jw_printf(w, "%s", tmp);
}

static void jw_str(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_printf(w, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			jw_printf(w, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			jw_printf(w, "\\u%04x", *p);
		else
			jw_printf(w, "%c", *p);
	}
	jw_printf(w, "\"");
}

static void jw_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_printf(w, "%s", v ? "true" : "false");
}

static void jw_field(struct jw *w, const struct bms_field *f, const struct bms_snapshot *s)
{
	const char *p = (const char *)s + f->offset;
	int dec = bms_field_decimals(f);
	switch (f->type) {
	case BMS_FT_BOOL:
		jw_bool(w, f->key, *(const bool *)p);
		break;
	case BMS_FT_STR:
		jw_str(w, f->key, p);
		break;
	case BMS_FT_CELLS:
	case BMS_FT_TEMPS: {
		unsigned n = bms_field_len(f, s);
		jw_key(w, f->key);
		jw_printf(w, "[");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				jw_printf(w, ", ");
			jw_num(w, NULL, bms_field_elem(f, s, i), dec);
		}
		jw_printf(w, "]");
		break;
	}
	case BMS_FT_BITS: {
		uint32_t mask = *(const uint32_t *)p;
		bool first = true;
		jw_key(w, f->key);
		jw_printf(w, "[");
		for (unsigned i = 0; i < 32; i++)
			if ((mask >> i) & 1u) {
				jw_printf(w, "%s%u", first ? "" : ", ", i + 1);
				first = false;
			}
		jw_printf(w, "]");
		break;
	}
	case BMS_FT_ALARMS:
		jw_key(w, f->key);
		jw_printf(w, "{");
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
			jw_printf(w, "%s\"%s\": %u", a ? ", " : "",
				  bms_alarm_name((enum bms_alarm)a), ((const uint8_t *)p)[a]);
		jw_printf(w, "}");
		break;
	case BMS_FT_PROT:
		jw_key(w, f->key);
		jw_printf(w, "{");
		for (unsigned e = 0; e < BMS_PROT_COUNT; e++)
			jw_printf(w, "%s\"%s\": %u", e ? ", " : "", bms_prot_name((enum bms_prot)e),
				  ((const uint16_t *)p)[e]);
		jw_printf(w, "}");
		break;
	default: {
		double v = bms_field_get(f, s);
		/* a count is written as what the arrays hold (cell_count <= 32) */
		if (f->max && v > f->max)
			v = f->max;
		jw_num(w, f->key, v, dec);
		break;
	}
	}
}

int bms_json_format(const struct bms_snapshot *s, char *buf, size_t cap)
{
	if (cap == 0)
		return -ENOSPC;
	struct jw w = {buf, cap, 0, false, true};
	buf[0] = '\0';
	jw_printf(&w, "{");
	for (unsigned i = 0; i < BMS_FIELD_COUNT; i++)
		if (s->valid & bms_fields[i].valid)
			jw_field(&w, &bms_fields[i], s);
	jw_printf(&w, "}");
	return w.overflow ? -ENOSPC : 0;
}

/* ---- reader ---- */

#define JP_MAX_DEPTH 16

struct jp {
	const char *s;
	size_t len, pos;
	int depth;
	char *err;
	size_t errcap;
	bool failed;
};

static int jp_fail(struct jp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jp_fail(struct jp *p, const char *fmt, ...)
{
	if (!p->failed && p->err && p->errcap) {
		char msg[160];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		snprintf(p->err, p->errcap, "offset %zu: %s", p->pos, msg);
	}
	p->failed = true;
	return -EINVAL;
}

static void jp_ws(struct jp *p)
{
	while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos])
		p->pos++;
}

static int jp_peek(struct jp *p)
{
	jp_ws(p);
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int jp_expect(struct jp *p, char c)
{
	if (jp_peek(p) != c)
		return jp_fail(p, "expected '%c'", c);
	p->pos++;
	return 0;
}

static int jp_string(struct jp *p, char *out, size_t cap)
{
	if (jp_expect(p, '"') < 0)
		return -EINVAL;
	size_t k = 0;
	while (p->pos < p->len) {
		char c = p->s[p->pos++];
		if (c == '"') {
			if (cap)
				out[k < cap ? k : cap - 1] = '\0';
			return 0;
		}
		if (c == '\\') {
			if (p->pos >= p->len)
				break;
			c = p->s[p->pos++];
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'u': /* keep ASCII, replace the rest */
				if (p->len - p->pos < 4)
					return jp_fail(p, "short \\u escape");
				c = (char)strtol((char[]){p->s[p->pos], p->s[p->pos + 1],
							  p->s[p->pos + 2], p->s[p->pos + 3], 0},
						 NULL, 16);
				if ((unsigned char)c >= 0x80 || c == 0)
					c = '?';
				p->pos += 4;
				break;
			default:
				break; /* \" \\ \/ and others: the character itself */
			}
		}
		if (k + 1 < cap)
			out[k++] = c;
	}
	return jp_fail(p, "unterminated string");
}

static int jp_number(struct jp *p, double *ret)
{
	jp_ws(p);
	char tmp[64];
	size_t k = 0;
	while (p->pos < p->len && k + 1 < sizeof(tmp) && strchr("+-0123456789.eE", p->s[p->pos]) &&
	       p->s[p->pos])
		tmp[k++] = p->s[p->pos++];
	tmp[k] = '\0';
	char *end;
	double v = strtod(tmp, &end);
	if (k == 0 || *end != '\0' || !isfinite(v))
		return jp_fail(p, "expected a number");
	*ret = v;
	return 0;
}

static int jp_literal(struct jp *p, const char *word)
{
	size_t n = strlen(word);
	jp_ws(p);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return -1;
	p->pos += n;
	return 0;
}

static int jp_bool(struct jp *p, bool *ret)
{
	if (jp_literal(p, "true") == 0) {
		*ret = true;
		return 0;
	}
	if (jp_literal(p, "false") == 0) {
		*ret = false;
		return 0;
	}
	double v;
	if (jp_number(p, &v) == 0) {
		*ret = v != 0;
		return 0;
	}
	return jp_fail(p, "expected true/false");
}

static int jp_skip(struct jp *p)
{
	int c = jp_peek(p);
	if (++p->depth > JP_MAX_DEPTH)
		return jp_fail(p, "nested too deeply");
	int r = 0;
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		p->pos++;
		if (jp_peek(p) == close) {
			p->pos++;
		} else {
			for (;;) {
				if (c == '{') {
					char key[2];
					if ((r = jp_string(p, key, sizeof(key))) < 0 ||
					    (r = jp_expect(p, ':')) < 0)
						break;
				}
				if ((r = jp_skip(p)) < 0)
					break;
				if (jp_peek(p) == ',') {
					p->pos++;
					continue;
				}
				r = jp_expect(p, close);
				break;
			}
		}
	} else if (c == '"') {
		char tmp[2];
		r = jp_string(p, tmp, sizeof(tmp));
	} else if (jp_literal(p, "true") == 0 || jp_literal(p, "false") == 0 ||
		   jp_literal(p, "null") == 0) {
		r = 0;
	} else {
		double v;
		r = jp_number(p, &v);
	}
	p->depth--;
	return r;
}

/* Read a number array into arr[0..cap); *ret_n = count. */
static int jp_numbers(struct jp *p, double *arr, size_t cap, size_t *ret_n)
{
	size_t n = 0;
	if (jp_expect(p, '[') < 0)
		return -EINVAL;
	if (jp_peek(p) == ']') {
		p->pos++;
		*ret_n = 0;
		return 0;
	}
	for (;;) {
		double v;
		bool b;
		if (jp_peek(p) == 't' || jp_peek(p) == 'f') {
			if (jp_bool(p, &b) < 0)
				return -EINVAL;
			v = b ? 1 : 0;
		} else if (jp_number(p, &v) < 0) {
			return -EINVAL;
		}
		if (n >= cap)
			return jp_fail(p, "too many values (at most %zu)", cap);
		arr[n++] = v;
		if (jp_peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (jp_expect(p, ']') < 0)
			return -EINVAL;
		*ret_n = n;
		return 0;
	}
}

/* Round half away from zero without libm. */
static double rnd(double v)
{
	if (v > 9e15 || v < -9e15)
		return v;
	return (double)(int64_t)(v + (v >= 0 ? 0.5 : -0.5));
}

/* "balancing": cell numbers [3, 7]; a list of booleans [false, true] also works. */
static int jp_bits(struct jp *p, uint32_t *mask)
{
	double arr[BMS_MAX_CELLS];
	size_t n;
	size_t at = p->pos;
	jp_ws(p);
	bool bools = p->pos + 1 < p->len && (p->s[p->pos + 1] == 't' || p->s[p->pos + 1] == 'f');
	p->pos = at;
	if (jp_numbers(p, arr, BMS_MAX_CELLS, &n) < 0)
		return -EINVAL;
	*mask = 0;
	for (size_t i = 0; i < n; i++) {
		if (bools) {
			if (arr[i] != 0)
				*mask |= 1u << i;
		} else if (arr[i] >= 1 && arr[i] <= BMS_MAX_CELLS) {
			*mask |= 1u << ((unsigned)arr[i] - 1);
		} else {
			return jp_fail(p, "balancing: cell numbers are 1..%d", BMS_MAX_CELLS);
		}
	}
	return 0;
}

/*
 * An object of named numbers ("alarms", "protection_events"): each name one
 * of count (name_of), each value checked and stored by set; names not given
 * keep their value.
 */
struct jp_named {
	unsigned count;
	const char *(*name_of)(unsigned i);
	const char *what; /* for "unknown <what> '<name>'" */
	int (*set)(struct jp *p, const char *name, unsigned i, double v, void *out);
};

static int jp_named(struct jp *p, const struct jp_named *kind, void *out)
{
	int r;
	double v;
	if ((r = jp_expect(p, '{')) == 0 && jp_peek(p) != '}') {
		for (;;) {
			char name[48];
			if ((r = jp_string(p, name, sizeof(name))) < 0 ||
			    (r = jp_expect(p, ':')) < 0 || (r = jp_number(p, &v)) < 0)
				break;
			unsigned i;
			for (i = 0; i < kind->count; i++)
				if (!strcmp(name, kind->name_of(i)))
					break;
			if (i == kind->count)
				return jp_fail(p, "unknown %s '%s'", kind->what, name);
			if ((r = kind->set(p, name, i, v, out)) < 0)
				return r;
			if (jp_peek(p) == ',') {
				p->pos++;
				continue;
			}
			break;
		}
	}
	if (r == 0)
		r = jp_expect(p, '}');
	return r;
}

static const char *alarm_name(unsigned a)
{
	return bms_alarm_name((enum bms_alarm)a);
}

/* "alarms": {"LowVoltage": 0|1|2, ...} */
static int alarm_set(struct jp *p, const char *name, unsigned a, double v, void *out)
{
	if (v < 0 || v > 2)
		return jp_fail(p, "alarm %s: 0, 1 or 2", name);
	((uint8_t *)out)[a] = (uint8_t)v;
	return 0;
}

static const struct jp_named jp_alarms = {BMS_ALARM_COUNT, alarm_name, "alarm", alarm_set};

static const char *prot_name(unsigned e)
{
	return bms_prot_name((enum bms_prot)e);
}

/* "protection_events": {"short_circuit": n, ...} */
static int prot_set(struct jp *p, const char *name, unsigned e, double v, void *out)
{
	if (!(v >= 0 && v <= 65535) || v != (double)(uint16_t)v)
		return jp_fail(p, "protection event %s: 0..65535", name);
	((uint16_t *)out)[e] = (uint16_t)v;
	return 0;
}

static const struct jp_named jp_prot = {BMS_PROT_COUNT, prot_name, "protection event", prot_set};

/* The value of field f onto s. */
static int jp_field(struct jp *p, const struct bms_field *f, struct bms_snapshot *s)
{
	char *dst = (char *)s + f->offset;
	double v;
	bool b;
	switch (f->type) {
	case BMS_FT_BOOL:
		if (jp_bool(p, &b) < 0)
			return -EINVAL;
		*(bool *)dst = b;
		break;
	case BMS_FT_STR:
		if (jp_string(p, dst, BMS_STR_LEN) < 0)
			return -EINVAL;
		break;
	case BMS_FT_CELLS:
	case BMS_FT_TEMPS: {
		double arr[BMS_MAX_CELLS > BMS_MAX_TEMPS ? BMS_MAX_CELLS : BMS_MAX_TEMPS];
		size_t n;
		if (jp_numbers(p, arr, bms_field_cap(f), &n) < 0)
			return -EINVAL;
		if (f->type == BMS_FT_CELLS) {
			/* the cells not named are not reported: 0 */
			memset(s->cell_mv, 0, sizeof(s->cell_mv));
			s->cell_count = (uint8_t)n;
		} else {
			s->temp_count = (uint8_t)n;
		}
		for (size_t i = 0; i < n; i++)
			bms_field_set_elem(f, s, (unsigned)i, arr[i]);
		break;
	}
	case BMS_FT_BITS:
		if (jp_bits(p, (uint32_t *)(void *)dst) < 0)
			return -EINVAL;
		break;
	case BMS_FT_ALARMS:
		if (jp_named(p, &jp_alarms, dst) < 0)
			return -EINVAL;
		break;
	case BMS_FT_PROT:
		if (jp_named(p, &jp_prot, dst) < 0)
			return -EINVAL;
		break;
	default:
		if (jp_number(p, &v) < 0)
			return -EINVAL;
		if (bms_field_set(f, s, v) < 0)
			return jp_fail(p, "%s out of range", f->key);
		break;
	}
	s->valid |= f->valid;
	return 0;
}

/* Parse one object onto s; the "t" key (seconds) into *t_ms when not NULL.
 * states_at: where the "states" array starts (top level only), else NULL. */
static int jp_object(struct jp *p, struct bms_snapshot *s, uint64_t *t_ms, size_t *states_at)
{
	if (jp_expect(p, '{') < 0)
		return -EINVAL;
	if (jp_peek(p) == '}') {
		p->pos++;
		return 0;
	}
	for (;;) {
		char key[48];
		if (jp_string(p, key, sizeof(key)) < 0 || jp_expect(p, ':') < 0)
			return -EINVAL;
		size_t key_at = p->pos;
		const struct bms_field *f = bms_field_by_key(key);
		int r;
		if (f) {
			r = jp_field(p, f, s);
		} else if (!strcmp(key, "t") && t_ms) {
			double v;
			r = jp_number(p, &v);
			if (r == 0 && (v < 0 || v > 1e9))
				return jp_fail(p, "t out of range");
			if (r == 0)
				*t_ms = (uint64_t)rnd(v * 1000.0);
		} else if (!strcmp(key, "states") && states_at) {
			*states_at = p->pos;
			r = jp_skip(p);
		} else {
			p->pos = key_at;
			return jp_fail(p, "unknown key '%s'", key);
		}
		if (r < 0)
			return -EINVAL;
		if (jp_peek(p) == ',') {
			p->pos++;
			continue;
		}
		return jp_expect(p, '}');
	}
}

int bms_json_read(const char *text, size_t len, struct bms_json_state *states, size_t cap,
		  size_t *ret_n, char *err, size_t errcap)
{
	struct jp p = {text, len, 0, 0, err, errcap, false};
	struct bms_snapshot base;
	size_t states_at = 0;
	memset(&base, 0, sizeof(base));
	if (cap == 0)
		return -E2BIG;
	if (jp_object(&p, &base, NULL, &states_at) < 0)
		return -EINVAL;
	if (jp_peek(&p) != -1)
		return jp_fail(&p, "trailing text after the object");

	size_t n = 0;
	if (!states_at) {
		states[0].t_ms = 0;
		states[0].snap = base;
		*ret_n = 1;
		return 0;
	}
	p.pos = states_at;
	if (jp_expect(&p, '[') < 0)
		return -EINVAL;
	struct bms_snapshot cur = base;
	uint64_t last_t = 0;
	if (jp_peek(&p) == ']')
		return jp_fail(&p, "\"states\" is empty");
	for (;;) {
		uint64_t t = UINT64_MAX;
		if (jp_object(&p, &cur, &t, NULL) < 0)
			return -EINVAL;
		if (t == UINT64_MAX)
			return jp_fail(&p, "a state without \"t\"");
		if (n > 0 && t <= last_t)
			return jp_fail(&p, "\"t\" must increase from state to state");
		if (n >= cap) {
			jp_fail(&p, "more than %zu states", cap);
			return -E2BIG;
		}
		states[n].t_ms = t;
		states[n].snap = cur;
		last_t = t;
		n++;
		if (jp_peek(&p) == ',') {
			p.pos++;
			continue;
		}
		if (jp_expect(&p, ']') < 0)
			return -EINVAL;
		break;
	}
	*ret_n = n;
	return 0;
}

const struct bms_snapshot *bms_json_at(const struct bms_json_state *states, size_t n,
				       uint64_t elapsed_ms)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (states[i].t_ms <= elapsed_ms)
			k = i;
	return n ? &states[k].snap : NULL;
}
