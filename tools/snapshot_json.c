/* SPDX-License-Identifier: MIT */
/*
 * Snapshot <-> JSON. The reader is a small bounded recursive-descent parser
 * for the subset a state file needs (objects, arrays, numbers, strings,
 * true/false/null); it never reads past len and limits nesting, so a
 * hostile file costs at most an error message.
 */
#include "snapshot_json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int snapshot_json_format(const struct bms_snapshot *s, char *buf, size_t cap)
{
	if (cap == 0)
		return -ENOSPC;
	struct jw w = {buf, cap, 0, false, true};
	uint32_t v = s->valid;
	buf[0] = '\0';
	jw_printf(&w, "{");
	if (v & BMS_V_VOLTAGE)
		jw_num(&w, "voltage_v", s->voltage_mv / 1000.0, 3);
	if (v & BMS_V_CURRENT)
		jw_num(&w, "current_a", s->current_ma / 1000.0, 3);
	if (v & BMS_V_POWER)
		jw_num(&w, "power_w", (double)s->power_mw / 1000.0, 3);
	if (v & BMS_V_SOC)
		jw_num(&w, "soc_pct", s->soc_cpct / 100.0, 2);
	if (v & BMS_V_SOH)
		jw_num(&w, "soh_pct", s->soh_cpct / 100.0, 2);
	if (v & BMS_V_CAP_REMAIN)
		jw_num(&w, "capacity_remaining_ah", s->capacity_remain_mah / 1000.0, 3);
	if (v & BMS_V_CAP_FULL)
		jw_num(&w, "capacity_full_ah", s->capacity_full_mah / 1000.0, 3);
	if (v & BMS_V_CAP_DESIGN)
		jw_num(&w, "capacity_design_ah", s->capacity_design_mah / 1000.0, 3);
	if (v & BMS_V_CYCLES)
		jw_num(&w, "cycles", s->cycles, 0);
	if (v & BMS_V_CELLS) {
		unsigned n = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
		jw_num(&w, "cell_count", n, 0);
		jw_key(&w, "cell_voltages_v");
		jw_printf(&w, "[");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				jw_printf(&w, ", ");
			jw_num(&w, NULL, s->cell_mv[i] / 1000.0, 3);
		}
		jw_printf(&w, "]");
	}
	if (v & BMS_V_TEMPS) {
		unsigned n = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
		jw_key(&w, "temperatures_c");
		jw_printf(&w, "[");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				jw_printf(&w, ", ");
			jw_num(&w, NULL, s->temp_dc[i] / 10.0, 1);
		}
		jw_printf(&w, "]");
	}
	if (v & BMS_V_MOSFET_TEMP)
		jw_num(&w, "mosfet_temp_c", s->mosfet_temp_dc / 10.0, 1);
	if (v & BMS_V_FETS) {
		jw_bool(&w, "charge_fet", s->charge_fet);
		jw_bool(&w, "discharge_fet", s->discharge_fet);
	}
	if (v & BMS_V_BALANCING) {
		jw_key(&w, "balancing");
		jw_printf(&w, "[");
		bool first = true;
		for (unsigned i = 0; i < 32; i++)
			if ((s->balancing >> i) & 1u) {
				jw_printf(&w, "%s%u", first ? "" : ", ", i + 1);
				first = false;
			}
		jw_printf(&w, "]");
	}
	if (v & BMS_V_BALANCER)
		jw_bool(&w, "balancer_enabled", s->balancer_enabled);
	if (v & BMS_V_ALARMS) {
		jw_key(&w, "alarms");
		jw_printf(&w, "{");
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
			jw_printf(&w, "%s\"%s\": %u", a ? ", " : "", bms_alarm_name((enum bms_alarm)a),
				  s->alarm[a]);
		jw_printf(&w, "}");
	}
	if (v & BMS_V_MAX_CHARGE_I)
		jw_num(&w, "max_charge_current_a", s->max_charge_ma / 1000.0, 3);
	if (v & BMS_V_MAX_DISCHARGE_I)
		jw_num(&w, "max_discharge_current_a", s->max_discharge_ma / 1000.0, 3);
	if (v & BMS_V_SERIAL)
		jw_str(&w, "serial", s->serial);
	if (v & BMS_V_MODEL)
		jw_str(&w, "model", s->model);
	if (v & BMS_V_HW_VERSION)
		jw_str(&w, "hw_version", s->hw_version);
	if (v & BMS_V_SW_VERSION)
		jw_str(&w, "sw_version", s->sw_version);
	jw_printf(&w, "}");
	return w.overflow ? -ENOSPC : 0;
}

int snapshot_json_write(FILE *f, const struct bms_snapshot *s)
{
	char buf[8192];
	int r = snapshot_json_format(s, buf, sizeof(buf));
	if (r < 0)
		return r;
	return fputs(buf, f) < 0 ? -EIO : 0;
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
				c = (char)strtol((char[]){p->s[p->pos], p->s[p->pos + 1], p->s[p->pos + 2],
							  p->s[p->pos + 3], 0},
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

static int32_t milli(double v)
{
	double m = rnd(v * 1000.0);
	return m > INT32_MAX ? INT32_MAX : m < INT32_MIN ? INT32_MIN : (int32_t)m;
}

/* Not clamped to 100 %: a state file may play a BMS that reports SOC 250 %
 * (the plausibility tests); the protocol's field width clamps it further. */
static uint16_t hundredths(double v)
{
	double m = rnd(v * 100.0);
	return m < 0 ? 0 : m > UINT16_MAX ? UINT16_MAX : (uint16_t)m;
}

static int16_t tenths(double v)
{
	double m = rnd(v * 10.0);
	return m > INT16_MAX ? INT16_MAX : m < INT16_MIN ? INT16_MIN : (int16_t)m;
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
		double v;
		bool b;
		if (jp_string(p, key, sizeof(key)) < 0 || jp_expect(p, ':') < 0)
			return -EINVAL;
		size_t key_at = p->pos;
		int r = 0;
#define NUM() (r = jp_number(p, &v)) == 0
		if (!strcmp(key, "voltage_v") && NUM()) {
			s->voltage_mv = milli(v);
			s->valid |= BMS_V_VOLTAGE;
		} else if (!strcmp(key, "current_a") && NUM()) {
			s->current_ma = milli(v);
			s->valid |= BMS_V_CURRENT;
		} else if (!strcmp(key, "power_w") && NUM()) {
			s->power_mw = (int64_t)rnd(v * 1000.0);
			s->valid |= BMS_V_POWER;
		} else if (!strcmp(key, "soc_pct") && NUM()) {
			s->soc_cpct = hundredths(v);
			s->valid |= BMS_V_SOC;
		} else if (!strcmp(key, "soh_pct") && NUM()) {
			s->soh_cpct = hundredths(v);
			s->valid |= BMS_V_SOH;
		} else if (!strcmp(key, "capacity_remaining_ah") && NUM()) {
			s->capacity_remain_mah = milli(v);
			s->valid |= BMS_V_CAP_REMAIN;
		} else if (!strcmp(key, "capacity_full_ah") && NUM()) {
			s->capacity_full_mah = milli(v);
			s->valid |= BMS_V_CAP_FULL;
		} else if (!strcmp(key, "capacity_design_ah") && NUM()) {
			s->capacity_design_mah = milli(v);
			s->valid |= BMS_V_CAP_DESIGN;
		} else if (!strcmp(key, "cycles") && NUM()) {
			s->cycles = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
			s->valid |= BMS_V_CYCLES;
		} else if (!strcmp(key, "cell_count") && NUM()) {
			if (v < 0 || v > BMS_MAX_CELLS)
				return jp_fail(p, "cell_count out of range");
			s->cell_count = (uint8_t)v;
			s->valid |= BMS_V_CELLS;
		} else if (!strcmp(key, "mosfet_temp_c") && NUM()) {
			s->mosfet_temp_dc = tenths(v);
			s->valid |= BMS_V_MOSFET_TEMP;
		} else if (!strcmp(key, "max_charge_current_a") && NUM()) {
			s->max_charge_ma = milli(v);
			s->valid |= BMS_V_MAX_CHARGE_I;
		} else if (!strcmp(key, "max_discharge_current_a") && NUM()) {
			s->max_discharge_ma = milli(v);
			s->valid |= BMS_V_MAX_DISCHARGE_I;
		} else if (!strcmp(key, "t") && t_ms && NUM()) {
			if (v < 0 || v > 1e9)
				return jp_fail(p, "t out of range");
			*t_ms = (uint64_t)rnd(v * 1000.0);
		} else if (!strcmp(key, "cell_voltages_v")) {
			double arr[BMS_MAX_CELLS];
			size_t n;
			if ((r = jp_numbers(p, arr, BMS_MAX_CELLS, &n)) == 0) {
				memset(s->cell_mv, 0, sizeof(s->cell_mv));
				for (size_t i = 0; i < n; i++)
					s->cell_mv[i] = (uint16_t)(arr[i] < 0 ? 0 : arr[i] > 65 ? 65535
									: rnd(arr[i] * 1000.0));
				s->cell_count = (uint8_t)n;
				s->valid |= BMS_V_CELLS;
			}
		} else if (!strcmp(key, "temperatures_c")) {
			double arr[BMS_MAX_TEMPS];
			size_t n;
			if ((r = jp_numbers(p, arr, BMS_MAX_TEMPS, &n)) == 0) {
				for (size_t i = 0; i < n; i++)
					s->temp_dc[i] = tenths(arr[i]);
				s->temp_count = (uint8_t)n;
				s->valid |= BMS_V_TEMPS;
			}
		} else if (!strcmp(key, "balancing")) {
			/* cell numbers [3, 7]; a list of booleans [false, true] also works */
			double arr[BMS_MAX_CELLS];
			size_t n;
			size_t at = p->pos;
			jp_ws(p);
			bool bools = p->pos + 1 < p->len && (p->s[p->pos + 1] == 't' ||
							     p->s[p->pos + 1] == 'f');
			p->pos = at;
			if ((r = jp_numbers(p, arr, BMS_MAX_CELLS, &n)) == 0) {
				s->balancing = 0;
				for (size_t i = 0; i < n; i++) {
					if (bools) {
						if (arr[i] != 0)
							s->balancing |= 1u << i;
					} else if (arr[i] >= 1 && arr[i] <= BMS_MAX_CELLS) {
						s->balancing |= 1u << ((unsigned)arr[i] - 1);
					} else {
						return jp_fail(p, "balancing: cell numbers are 1..%d",
							       BMS_MAX_CELLS);
					}
				}
				s->valid |= BMS_V_BALANCING;
			}
		} else if (!strcmp(key, "charge_fet") || !strcmp(key, "discharge_fet")) {
			if ((r = jp_bool(p, &b)) == 0) {
				*(key[0] == 'c' ? &s->charge_fet : &s->discharge_fet) = b;
				s->valid |= BMS_V_FETS;
			}
		} else if (!strcmp(key, "balancer_enabled")) {
			if ((r = jp_bool(p, &b)) == 0) {
				s->balancer_enabled = b;
				s->valid |= BMS_V_BALANCER;
			}
		} else if (!strcmp(key, "alarms")) {
			if ((r = jp_expect(p, '{')) == 0 && jp_peek(p) != '}') {
				for (;;) {
					char name[48];
					if ((r = jp_string(p, name, sizeof(name))) < 0 ||
					    (r = jp_expect(p, ':')) < 0 || (r = jp_number(p, &v)) < 0)
						break;
					unsigned a;
					for (a = 0; a < BMS_ALARM_COUNT; a++)
						if (!strcmp(name, bms_alarm_name((enum bms_alarm)a)))
							break;
					if (a == BMS_ALARM_COUNT)
						return jp_fail(p, "unknown alarm '%s'", name);
					if (v < 0 || v > 2)
						return jp_fail(p, "alarm %s: 0, 1 or 2", name);
					s->alarm[a] = (uint8_t)v;
					if (jp_peek(p) == ',') {
						p->pos++;
						continue;
					}
					break;
				}
			}
			if (r == 0)
				r = jp_expect(p, '}');
			if (r == 0)
				s->valid |= BMS_V_ALARMS;
		} else if (!strcmp(key, "serial") || !strcmp(key, "model") ||
			   !strcmp(key, "hw_version") || !strcmp(key, "sw_version")) {
			char *dst = key[0] == 'm'   ? s->model
				    : key[0] == 'h' ? s->hw_version
				    : key[1] == 'e' ? s->serial
						    : s->sw_version;
			static const uint32_t bit[] = {BMS_V_MODEL, BMS_V_HW_VERSION, BMS_V_SERIAL,
						       BMS_V_SW_VERSION};
			if ((r = jp_string(p, dst, BMS_STR_LEN)) == 0)
				s->valid |= bit[key[0] == 'm' ? 0 : key[0] == 'h' ? 1 : key[1] == 'e' ? 2 : 3];
		} else if (!strcmp(key, "states") && states_at) {
			*states_at = p->pos;
			r = jp_skip(p);
		} else if (r == 0) {
			p->pos = key_at;
			return jp_fail(p, "unknown key '%s'", key);
		}
#undef NUM
		if (r < 0)
			return -EINVAL;
		if (jp_peek(p) == ',') {
			p->pos++;
			continue;
		}
		return jp_expect(p, '}');
	}
}

int snapshot_json_read(const char *text, size_t len, struct snapshot_timed *states, size_t cap,
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
		if (n >= cap)
		{
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

int snapshot_json_load(const char *path, struct snapshot_timed *states, size_t cap, size_t *ret_n,
		       char *err, size_t errcap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (err && errcap)
			snprintf(err, errcap, "%s: %s", path, strerror(e));
		return -e;
	}
	char *buf = malloc(SNAPSHOT_JSON_MAX_TEXT);
	int r = -ENOMEM;
	size_t len = 0;
	if (!buf)
		goto out;
	for (;;) {
		ssize_t k = read(fd, buf + len, SNAPSHOT_JSON_MAX_TEXT - len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == SNAPSHOT_JSON_MAX_TEXT) {
			r = -EFBIG;
			if (err && errcap)
				snprintf(err, errcap, "%s: larger than %d bytes", path,
					 SNAPSHOT_JSON_MAX_TEXT);
			goto out;
		}
	}
	r = snapshot_json_read(buf, len, states, cap, ret_n, err, errcap);
out:
	free(buf);
	close(fd);
	return r;
}

const struct bms_snapshot *snapshot_json_at(const struct snapshot_timed *states, size_t n,
					    uint64_t elapsed_ms)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (states[i].t_ms <= elapsed_ms)
			k = i;
	return n ? &states[k].snap : NULL;
}
