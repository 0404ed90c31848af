/* SPDX-License-Identifier: MIT */
/*
 * Table-driven libconfig loading. A walk over the file refuses keys the
 * schema does not know; one walk over the schema applies defaults (parsed
 * from their libconfig text), then the file; then each section's cross-key
 * check runs.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void set_err(struct cfg_error *err, const char *file, int line, const char *key,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_err(struct cfg_error *err, const char *file, int line, const char *key,
		    const char *fmt, ...)
{
	if (!err)
		return;
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->line = line;
	snprintf(err->key, sizeof(err->key), "%s", key ? key : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void cfg_error_format(const struct cfg_error *err, char *buf, size_t len)
{
	if (err->line > 0)
		snprintf(buf, len, "%s:%d: %s%s%s", err->file, err->line, err->key,
			 err->key[0] ? ": " : "", err->msg);
	else
		snprintf(buf, len, "%s: %s%s%s", err->file, err->key, err->key[0] ? ": " : "",
			 err->msg);
}

struct ctx {
	const char *file;
	struct cfg_error *err;
};

static const char *type_name(int t)
{
	switch (t) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	case CONFIG_TYPE_GROUP:
		return "a group";
	default:
		return "something else";
	}
}

/* The line of s, or of the nearest enclosing setting that has one (libconfig
 * reports 0 for a setting it has no line for): an error must point somewhere. */
static int line_of(const config_setting_t *s)
{
	for (; s; s = config_setting_parent(s)) {
		int line = (int)config_setting_source_line(s);
		if (line > 0)
			return line;
	}
	return 0;
}

/* Integers are stored as read, never through a double, which cannot hold
 * every 64-bit value. The bounds are doubles, exact for every bound a table
 * uses (far below 2^53), so the comparison sees the number the file wrote. */
static int read_int(struct ctx *c, const config_setting_t *s, const char *key, double min,
		    double max, int64_t *ret)
{
	int t = config_setting_type(s);
	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long v = config_setting_get_int64(s);
		if ((double)v < min || (double)v > max) {
			set_err(c->err, c->file, line_of(s), key,
				"value %lld out of range [%g, %g]", v, min, max);
			return -EINVAL;
		}
		*ret = v;
		return 0;
	}
	if (t == CONFIG_TYPE_FLOAT) {
		/* widen_ints() turns an integer beyond 64 bits into a float. */
		double v = config_setting_get_float(s);
		if (isfinite(v) && v == trunc(v) && fabs(v) >= 0x1p63) {
			set_err(c->err, c->file, line_of(s), key,
				"value does not fit in 64 bits, out of range [%g, %g]", min, max);
			return -EINVAL;
		}
	}
	set_err(c->err, c->file, line_of(s), key, "expected an integer, found %s", type_name(t));
	return -EINVAL;
}

static int read_double(struct ctx *c, const config_setting_t *s, const char *key, double min,
		       double max, double *ret)
{
	int t = config_setting_type(s);
	double v;
	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		v = (double)config_setting_get_int64(s);
	} else if (t == CONFIG_TYPE_FLOAT) {
		v = config_setting_get_float(s);
	} else {
		set_err(c->err, c->file, line_of(s), key, "expected a number, found %s",
			type_name(t));
		return -EINVAL;
	}
	if (!isfinite(v) || v < min || v > max) {
		set_err(c->err, c->file, line_of(s), key, "value %g out of range [%g, %g]", v, min,
			max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int read_string(struct ctx *c, const config_setting_t *s, const char *key, char *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		set_err(c->err, c->file, line_of(s), key, "expected a string, found %s",
			type_name(config_setting_type(s)));
		return -EINVAL;
	}
	const char *v = config_setting_get_string(s);
	if (strlen(v) >= CFG_STR) {
		set_err(c->err, c->file, line_of(s), key, "string longer than %d characters",
			CFG_STR - 1);
		return -EINVAL;
	}
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int read_group_list(struct ctx *c, const config_setting_t *s, const struct cfg_key *k,
			   const char *key, char *base);

static int read_key(struct ctx *c, const config_setting_t *s, const struct cfg_key *k,
		    const char *key, char *base)
{
	void *dst = base + k->offset;
	double d;
	int r;

	switch (k->type) {
	case CFG_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			set_err(c->err, c->file, line_of(s), key,
				"expected true or false, found %s",
				type_name(config_setting_type(s)));
			return -EINVAL;
		}
		*(bool *)dst = config_setting_get_bool(s) != 0;
		return 0;
	case CFG_INT:
		return read_int(c, s, key, k->min, k->max, dst);
	case CFG_DOUBLE:
		r = read_double(c, s, key, k->min, k->max, &d);
		if (r == 0)
			*(double *)dst = d;
		return r;
	case CFG_STRING:
		return read_string(c, s, key, dst);
	case CFG_ENUM: {
		char tmp[CFG_STR];
		r = read_string(c, s, key, tmp);
		if (r)
			return r;
		for (int i = 0; k->choices[i]; i++) {
			if (strcmp(k->choices[i], tmp) == 0) {
				*(int *)dst = i;
				return 0;
			}
		}
		char all[256] = "";
		for (int i = 0; k->choices[i]; i++) {
			size_t l = strlen(all);
			snprintf(all + l, sizeof(all) - l, "%s\"%s\"", i ? ", " : "",
				 k->choices[i]);
		}
		set_err(c->err, c->file, line_of(s), key, "\"%s\" is not one of %s", tmp, all);
		return -EINVAL;
	}
	case CFG_DOUBLE_LIST:
	case CFG_INT_LIST:
	case CFG_STRING_LIST: {
		int t = config_setting_type(s);
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
			set_err(c->err, c->file, line_of(s), key,
				"expected an array [ ... ], found %s", type_name(t));
			return -EINVAL;
		}
		unsigned n = (unsigned)config_setting_length(s);
		unsigned cap = k->type == CFG_STRING_LIST ? CFG_SLIST_MAX : CFG_LIST_MAX;
		if (n > cap) {
			set_err(c->err, c->file, line_of(s), key, "%u elements, at most %u allowed",
				n, cap);
			return -EINVAL;
		}
		for (unsigned i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, i);
			char ekey[160];
			snprintf(ekey, sizeof(ekey), "%s[%u]", key, i);
			if (k->type == CFG_DOUBLE_LIST) {
				r = read_double(c, e, ekey, k->min, k->max, &d);
				if (r)
					return r;
				((struct cfg_dlist *)dst)->v[i] = d;
			} else if (k->type == CFG_INT_LIST) {
				r = read_int(c, e, ekey, k->min, k->max,
					     &((struct cfg_ilist *)dst)->v[i]);
				if (r)
					return r;
			} else {
				r = read_string(c, e, ekey, ((struct cfg_slist *)dst)->v[i]);
				if (r)
					return r;
			}
		}
		if (k->type == CFG_DOUBLE_LIST)
			((struct cfg_dlist *)dst)->n = n;
		else if (k->type == CFG_INT_LIST)
			((struct cfg_ilist *)dst)->n = n;
		else
			((struct cfg_slist *)dst)->n = n;
		return 0;
	}
	case CFG_GROUP_LIST:
		return read_group_list(c, s, k, key, base);
	}
	return -EINVAL;
}

static int parse(config_t *cf, const char *text, const char *name, struct cfg_error *err);

/* Apply the defaults of keys[] to base: parse each default as libconfig text. */
static int apply_defaults(const struct cfg_key *keys, char *base, const char *where,
			  struct cfg_error *err)
{
	for (const struct cfg_key *k = keys; k->path; k++) {
		void *dst = base + k->offset;
		switch (k->type) {
		case CFG_STRING:
			memset(dst, 0, CFG_STR);
			break;
		case CFG_DOUBLE_LIST:
			memset(dst, 0, sizeof(struct cfg_dlist));
			break;
		case CFG_INT_LIST:
			memset(dst, 0, sizeof(struct cfg_ilist));
			break;
		case CFG_STRING_LIST:
			memset(dst, 0, sizeof(struct cfg_slist));
			break;
		case CFG_GROUP_LIST:
			*(unsigned *)(base + k->count_offset) = 0;
			memset(dst, 0, k->elem_size * k->max_count);
			break;
		default:
			break;
		}
		if (!k->def)
			continue;
		config_t cf;
		config_init(&cf);
		char text[1024];
		snprintf(text, sizeof(text), "v = %s;", k->def);
		struct ctx c = {"(built-in default)", err};
		char key[160];
		snprintf(key, sizeof(key), "%s%s%s", where, where[0] ? "." : "", k->path);
		/* the file's parser, so a default reads exactly as the same text in a file */
		int r = parse(&cf, text, c.file, err);
		if (r) {
			set_err(err, c.file, 0, key, "cannot parse default '%s'", k->def);
		} else {
			r = read_key(&c, config_lookup(&cf, "v"), k, key, base);
		}
		config_destroy(&cf);
		if (r)
			return r;
	}
	return 0;
}

static int read_keys(struct ctx *c, const config_setting_t *group, const struct cfg_key *keys,
		     const char *where, char *base)
{
	for (const struct cfg_key *k = keys; k->path; k++) {
		const config_setting_t *s =
			config_setting_lookup((config_setting_t *)group, k->path);
		if (!s)
			continue;
		char key[160];
		snprintf(key, sizeof(key), "%s%s%s", where, where[0] ? "." : "", k->path);
		int r = read_key(c, s, k, key, base);
		if (r)
			return r;
	}
	return 0;
}

static int read_group_list(struct ctx *c, const config_setting_t *s, const struct cfg_key *k,
			   const char *key, char *base)
{
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_LIST) {
		set_err(c->err, c->file, line_of(s), key,
			"expected a list ( { ... }, ... ), found %s", type_name(t));
		return -EINVAL;
	}
	unsigned n = (unsigned)config_setting_length(s);
	if (n > k->max_count) {
		set_err(c->err, c->file, line_of(s), key, "%u entries, at most %zu allowed", n,
			k->max_count);
		return -EINVAL;
	}
	char *arr = base + k->offset;
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		char ekey[160];
		snprintf(ekey, sizeof(ekey), "%s[%u]", key, i);
		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			set_err(c->err, c->file, line_of(e), ekey,
				"expected a group { ... }, found %s",
				type_name(config_setting_type(e)));
			return -EINVAL;
		}
		char *elem = arr + i * k->elem_size;
		int r = apply_defaults(k->sub, elem, ekey, c->err);
		if (r)
			return r;
		r = read_keys(c, e, k->sub, ekey, elem);
		if (r)
			return r;
	}
	*(unsigned *)(base + k->count_offset) = n;
	return 0;
}

int cfg_defaults(const struct cfg_schema *schema, void *root, struct cfg_error *err)
{
	for (const struct cfg_section *sec = schema->sections; sec->name; sec++) {
		int r = apply_defaults(sec->keys, (char *)root + sec->offset, sec->name, err);
		if (r)
			return r;
	}
	return 0;
}

static const struct cfg_key *find_key(const struct cfg_key *keys, const char *name)
{
	for (const struct cfg_key *k = keys; k->path; k++)
		if (strcmp(k->path, name) == 0)
			return k;
	return NULL;
}

/* Edit distance with adjacent transpositions (a swapped pair of letters is
 * one typo); SIZE_MAX for names too long to bother. */
static size_t distance(const char *a, const char *b)
{
	enum { N = 64 };
	size_t la = strlen(a), lb = strlen(b);
	if (la >= N || lb >= N)
		return SIZE_MAX;
	size_t d[N][N];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* Keep cand as the suggestion for name when it is the closest so far and close
 * enough to be a typo: one edit in a short name, up to three in a long one. */
static void consider(const char *name, const char *cand, const char **best, size_t *best_d)
{
	size_t len = strlen(name);
	size_t limit = len < 4 ? 1 : len < 13 ? (len + 2) / 3 : 3;
	size_t d = distance(name, cand);
	if (d <= limit && d < *best_d) {
		*best = cand;
		*best_d = d;
	}
}

static int unknown(struct cfg_error *err, const char *file, const config_setting_t *s,
		   const char *full, const char *suggestion)
{
	if (suggestion)
		set_err(err, file, line_of(s), full, "unknown, did you mean '%s'?", suggestion);
	else
		set_err(err, file, line_of(s), full, "unknown");
	return -EINVAL;
}

/* Fail on the first setting under group that keys[] does not describe (the
 * file's order). Dotted key paths ("a.b") are matched as nested groups;
 * prefix is the part of the path the nesting has already consumed. */
static int check_unknown(const config_setting_t *group, const struct cfg_key *keys,
			 const char *prefix, const char *where, const char *file,
			 struct cfg_error *err)
{
	int n = config_setting_length(group);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		if (!name)
			continue;
		char rel[160], full[200];
		snprintf(rel, sizeof(rel), "%s%s%s", prefix, prefix[0] ? "." : "", name);
		snprintf(full, sizeof(full), "%s%s%s", where, where[0] ? "." : "", rel);
		const struct cfg_key *k = find_key(keys, rel);
		if (k) {
			if (k->type == CFG_GROUP_LIST &&
			    config_setting_type(s) == CONFIG_TYPE_LIST) {
				unsigned m = (unsigned)config_setting_length(s);
				for (unsigned j = 0; j < m; j++) {
					const config_setting_t *e = config_setting_get_elem(s, j);
					if (config_setting_type(e) != CONFIG_TYPE_GROUP)
						continue; /* read_group_list() says what is wrong */
					char ew[240];
					snprintf(ew, sizeof(ew), "%s[%u]", full, j);
					int r = check_unknown(e, k->sub, "", ew, file, err);
					if (r)
						return r;
				}
			}
			continue;
		}
		/* A group that is a prefix of known dotted keys: descend. */
		bool prefix_known = false;
		size_t rl = strlen(rel);
		for (const struct cfg_key *kk = keys; kk->path; kk++)
			if (strncmp(kk->path, rel, rl) == 0 && kk->path[rl] == '.')
				prefix_known = true;
		if (prefix_known) {
			if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
				set_err(err, file, line_of(s), full,
					"expected a group { ... }, found %s",
					type_name(config_setting_type(s)));
				return -EINVAL;
			}
			int r = check_unknown(s, keys, rel, where, file, err);
			if (r)
				return r;
			continue;
		}
		const char *best = NULL;
		size_t best_d = SIZE_MAX;
		for (const struct cfg_key *kk = keys; kk->path; kk++)
			consider(rel, kk->path, &best, &best_d);
		return unknown(err, file, s, full, best);
	}
	return 0;
}

/* The setting a validate callback's key names ("ports[1].bms", "deep.nested")
 * under the section's group, or the closest enclosing one the file has;
 * *exact says which. */
static const config_setting_t *resolve(const config_setting_t *group, const char *key, bool *exact)
{
	const config_setting_t *cur = group;
	const char *p = key;
	*exact = false;
	while (*p) {
		size_t len = strcspn(p, ".[");
		if (len) {
			char name[128];
			if (len >= sizeof(name))
				return cur;
			memcpy(name, p, len);
			name[len] = '\0';
			const config_setting_t *next =
				config_setting_type(cur) == CONFIG_TYPE_GROUP
					? config_setting_get_member(cur, name)
					: NULL;
			if (!next)
				return cur;
			cur = next;
			p += len;
		}
		while (*p == '[') {
			char *end;
			unsigned long idx = strtoul(p + 1, &end, 10);
			if (*end != ']' || idx > UINT_MAX)
				return cur;
			const config_setting_t *next = config_setting_get_elem(cur, (unsigned)idx);
			if (!next)
				return cur;
			cur = next;
			p = end + 1;
		}
		if (*p == '.')
			p++;
		else if (*p)
			return cur; /* malformed: stop at what was found */
	}
	*exact = true;
	return cur;
}

/* Past a float's exponent ("e-3") at q, if there is one. */
static const char *skip_exponent(const char *q)
{
	if (*q != 'e' && *q != 'E')
		return q;
	size_t sign = q[1] == '-' || q[1] == '+';
	if (!isdigit((unsigned char)q[1 + sign]))
		return q;
	return q + 1 + sign + strspn(q + 1 + sign, "0123456789");
}

/*
 * libconfig 1.5 keeps an integer without the L suffix in 32 bits and wraps
 * what does not fit: 99999999999 reads as 1215752191 and 4294967306 as 10,
 * both silently in range for some key. Copy text with every integer literal
 * suffixed, so libconfig reads it as 64 bits and the range check sees the
 * number that was written; a literal beyond 64 bits (which libconfig would
 * also wrap or saturate) becomes a float, refused by read_int(). Strings and
 * comments are copied untouched and no newline moves, so lines stay right.
 * Returns NULL when out of memory.
 */
static char *widen_ints(const char *text)
{
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	if (!f)
		return NULL;
	const char *p = text;
	while (*p) {
		const char *q = p;
		if (*p == '"') {
			for (q++; *q && *q != '"'; q++)
				if (*q == '\\' && q[1])
					q++;
			if (*q)
				q++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			q += strcspn(q, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			q = end ? end + 2 : p + strlen(p);
		} else if (isalpha((unsigned char)*p) || *p == '*' || *p == '_' || *p == '@') {
			/* a name (they may hold digits and '-') or true/false */
			for (q++; isalnum((unsigned char)*q) || (*q && strchr("-_*", *q)); q++)
				;
		} else if (*p == '.' && isdigit((unsigned char)p[1])) {
			/* a float without leading digits (".5"): its digits are no integer */
			q += 1 + strspn(q + 1, "0123456789");
			q = skip_exponent(q);
		} else if (isdigit((unsigned char)*p) ||
			   ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))) {
			bool neg = *p == '-';
			const char *digits = (*p == '-' || *p == '+') ? p + 1 : p;
			bool hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
			q = hex ? digits + 2 : digits;
			while (hex ? isxdigit((unsigned char)*q) : isdigit((unsigned char)*q))
				q++;
			if (!hex && (*q == '.' || *q == 'e' || *q == 'E')) {
				/* a float: copy it whole */
				q += strspn(q, "0123456789.");
				q = skip_exponent(q);
				fwrite(p, 1, (size_t)(q - p), f);
				p = q;
				continue;
			}
			size_t nl = strspn(q, "L");
			bool big = false;
			errno = 0;
			if (hex) {
				unsigned long long u = strtoull(digits, NULL, 16);
				big = errno == ERANGE || u > (unsigned long long)LLONG_MAX;
			} else {
				(void)strtoll(p, NULL, 10);
				big = errno == ERANGE;
			}
			if (big) {
				/* the sign kept: a float as large as the integer */
				double v = 0;
				for (const char *d = hex ? digits + 2 : digits; d < q; d++)
					v = v * (hex ? 16 : 10) +
					    (isdigit((unsigned char)*d)
						     ? *d - '0'
						     : tolower((unsigned char)*d) - 'a' + 10);
				fprintf(f, "%.17e", neg ? -v : v);
			} else {
				fwrite(p, 1, (size_t)(q - p) + nl, f);
				if (!nl)
					fputc('L', f);
			}
			p = q + nl;
			continue;
		} else {
			q++;
		}
		fwrite(p, 1, (size_t)(q - p), f);
		p = q;
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Parse text (already read from name) into cf; 0 or -EINVAL/-ENOMEM with err set. */
static int parse(config_t *cf, const char *text, const char *name, struct cfg_error *err)
{
	char *wide = widen_ints(text);
	if (!wide) {
		set_err(err, name, 0, "", "out of memory");
		return -ENOMEM;
	}
	int ok = config_read_string(cf, wide);
	free(wide);
	if (ok != CONFIG_TRUE) {
		set_err(err, name, config_error_line(cf), "", "syntax error: %s",
			config_error_text(cf) ? config_error_text(cf) : "?");
		return -EINVAL;
	}
	return 0;
}

static int load(const struct cfg_schema *schema, void *root, config_t *cf, const char *name,
		struct cfg_error *err)
{
	int r = cfg_defaults(schema, root, err);
	if (r)
		return r;
	config_setting_t *top = config_root_setting(cf);
	/* Unknown names first, in the file's order: a misspelt key is the likely
	 * cause of whatever else looks wrong, and must never pass silently. */
	int n = config_setting_length(top);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(top, (unsigned)i);
		const char *sname = config_setting_name(s);
		const struct cfg_section *found = NULL;
		const char *best = NULL;
		size_t best_d = SIZE_MAX;
		for (const struct cfg_section *sec = schema->sections; sec->name; sec++) {
			if (strcmp(sec->name, sname) == 0)
				found = sec;
			consider(sname, sec->name, &best, &best_d);
		}
		if (!found)
			return unknown(err, name, s, sname, best);
		if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
			r = check_unknown(s, found->keys, "", found->name, name, err);
			if (r)
				return r;
		}
	}
	struct ctx c = {name, err};
	for (const struct cfg_section *sec = schema->sections; sec->name; sec++) {
		const config_setting_t *g = config_setting_lookup(top, sec->name);
		if (!g)
			continue;
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			set_err(err, name, line_of(g), sec->name,
				"expected a group { ... }, found %s",
				type_name(config_setting_type(g)));
			return -EINVAL;
		}
		r = read_keys(&c, g, sec->keys, sec->name, (char *)root + sec->offset);
		if (r)
			return r;
	}
	for (const struct cfg_section *sec = schema->sections; sec->name; sec++) {
		if (!sec->validate)
			continue;
		struct cfg_invalid inv = {"", ""};
		if (sec->validate((char *)root + sec->offset, &inv) >= 0)
			continue;
		char full[200];
		snprintf(full, sizeof(full), "%s%s%s", sec->name, inv.key[0] ? "." : "", inv.key);
		const config_setting_t *g = config_setting_lookup(top, sec->name);
		bool exact = false;
		const config_setting_t *s = g ? resolve(g, inv.key, &exact) : NULL;
		if (s && !exact)
			/* The key keeps its default, which clashes with what the file
			 * set: point at the section and say so. */
			set_err(err, name, line_of(s), full,
				"%s (%s is not set here: its default applies)", inv.msg, inv.key);
		else
			set_err(err, name, line_of(s), full, "%s", inv.msg);
		return -EINVAL;
	}
	if (schema->validate) {
		struct cfg_invalid inv = {"", ""};
		if (schema->validate(root, &inv) < 0) {
			bool exact = false;
			const config_setting_t *s = resolve(top, inv.key, &exact);
			set_err(err, name, line_of(s), inv.key, "%s", inv.msg);
			return -EINVAL;
		}
	}
	return 0;
}

int cfg_invalid(struct cfg_invalid *ret, const char *key, const char *fmt, ...)
{
	snprintf(ret->key, sizeof(ret->key), "%s", key ? key : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ret->msg, sizeof(ret->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cfg_load_file(const struct cfg_schema *schema, void *root, const char *path,
		  struct cfg_error *err)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		set_err(err, path, 0, "", "cannot open: %s", strerror(e));
		return -e;
	}
	char *text = NULL;
	size_t cap = 0, len = 0;
	int r = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *m = realloc(text, cap = (cap + 4096) * 2);
			if (!m) {
				r = -ENOMEM;
				break;
			}
			text = m;
		}
		size_t got = fread(text + len, 1, 4096, f);
		len += got;
		if (got == 0)
			break;
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	if (r < 0) {
		set_err(err, path, 0, "", "cannot read: %s", strerror(-r));
		free(text);
		return r;
	}
	text[len] = '\0';
	r = cfg_load_string(schema, root, text, path, err);
	free(text);
	return r;
}

int cfg_load_string(const struct cfg_schema *schema, void *root, const char *text, const char *name,
		    struct cfg_error *err)
{
	config_t cf;
	config_init(&cf);
	int r = parse(&cf, text, name, err);
	if (r == 0)
		r = load(schema, root, &cf, name, err);
	config_destroy(&cf);
	return r;
}

/* ---- output ---- */

static void print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void print_double(FILE *out, double v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%.6g", v);
	/* libconfig needs a '.' or exponent to read a float back as a float. */
	if (!strpbrk(buf, ".eEn"))
		strcat(buf, ".0");
	fputs(buf, out);
}

static void print_value(FILE *out, const struct cfg_key *k, const char *base, int indent,
			bool with_docs);

static void print_keys(FILE *out, const struct cfg_key *keys, const char *base, int indent,
		       bool with_docs)
{
	for (const struct cfg_key *k = keys; k->path; k++) {
		if (with_docs && k->doc) {
			fprintf(out, "%*s# %s", indent, "", k->doc);
			if (k->type == CFG_INT || k->type == CFG_DOUBLE)
				fprintf(out, " [%g .. %g]", k->min, k->max);
			if (k->type == CFG_ENUM) {
				fputs(" One of:", out);
				for (int i = 0; k->choices[i]; i++)
					fprintf(out, " %s", k->choices[i]);
			}
			fputc('\n', out);
		}
		/* Dotted paths are written as nested groups by libconfig's reader
		 * too, but flat "a.b = v" is not valid syntax: write a group. */
		const char *dot = strchr(k->path, '.');
		if (dot) {
			fprintf(out, "%*s%.*s = { %s = ", indent, "", (int)(dot - k->path), k->path,
				dot + 1);
			print_value(out, k, base, indent, with_docs);
			fputs("; };\n", out);
		} else {
			fprintf(out, "%*s%s = ", indent, "", k->path);
			print_value(out, k, base, indent, with_docs);
			fputs(";\n", out);
		}
	}
}

static void print_value(FILE *out, const struct cfg_key *k, const char *base, int indent,
			bool with_docs)
{
	const void *src = base + k->offset;
	switch (k->type) {
	case CFG_BOOL:
		fputs(*(const bool *)src ? "true" : "false", out);
		break;
	case CFG_INT:
		fprintf(out, "%lld", (long long)*(const int64_t *)src);
		break;
	case CFG_DOUBLE:
		print_double(out, *(const double *)src);
		break;
	case CFG_STRING:
		print_string(out, src);
		break;
	case CFG_ENUM:
		print_string(out, k->choices[*(const int *)src]);
		break;
	case CFG_DOUBLE_LIST: {
		const struct cfg_dlist *l = src;
		fputc('[', out);
		for (unsigned i = 0; i < l->n; i++) {
			fputs(i ? ", " : " ", out);
			print_double(out, l->v[i]);
		}
		fputs(l->n ? " ]" : "]", out);
		break;
	}
	case CFG_INT_LIST: {
		const struct cfg_ilist *l = src;
		fputc('[', out);
		for (unsigned i = 0; i < l->n; i++)
			fprintf(out, "%s%lld", i ? ", " : " ", (long long)l->v[i]);
		fputs(l->n ? " ]" : "]", out);
		break;
	}
	case CFG_STRING_LIST: {
		const struct cfg_slist *l = src;
		fputc('[', out);
		for (unsigned i = 0; i < l->n; i++) {
			fputs(i ? ", " : " ", out);
			print_string(out, l->v[i]);
		}
		fputs(l->n ? " ]" : "]", out);
		break;
	}
	case CFG_GROUP_LIST: {
		unsigned n = *(const unsigned *)(base + k->count_offset);
		fputs("(", out);
		for (unsigned i = 0; i < n; i++) {
			fprintf(out, "%s\n%*s{\n", i ? "," : "", indent + 2, "");
			print_keys(out, k->sub, base + k->offset + i * k->elem_size, indent + 4,
				   false);
			fprintf(out, "%*s}", indent + 2, "");
		}
		if (n)
			fprintf(out, "\n%*s", indent, "");
		fputs(")", out);
		if (with_docs && n == 0 && k->sub) {
			/* An empty list still documents its element keys. */
			fputs(";\n", out);
			fprintf(out, "%*s# Each entry of %s is a group with these keys:\n", indent,
				"", k->path);
			for (const struct cfg_key *s = k->sub; s->path; s++)
				fprintf(out, "%*s#   %s: %s\n", indent, "", s->path,
					s->doc ? s->doc : "");
			/* print_keys adds ";\n" after us: emit a harmless comment line. */
			fprintf(out, "%*s# (end of %s)", indent, "", k->path);
			return;
		}
		break;
	}
	}
}

void cfg_dump(const struct cfg_schema *schema, const void *root, FILE *out, bool with_docs)
{
	for (const struct cfg_section *sec = schema->sections; sec->name; sec++) {
		if (with_docs && sec->doc)
			fprintf(out, "# %s\n", sec->doc);
		fprintf(out, "%s = {\n", sec->name);
		print_keys(out, sec->keys, (const char *)root + sec->offset, 2, with_docs);
		fputs("};\n\n", out);
	}
}

static const char *md_type(enum cfg_type t)
{
	switch (t) {
	case CFG_BOOL:
		return "bool";
	case CFG_INT:
		return "integer";
	case CFG_DOUBLE:
		return "number";
	case CFG_STRING:
		return "string";
	case CFG_ENUM:
		return "string (choice)";
	case CFG_DOUBLE_LIST:
		return "number list";
	case CFG_INT_LIST:
		return "integer list";
	case CFG_STRING_LIST:
		return "string list";
	case CFG_GROUP_LIST:
		return "list of groups";
	}
	return "?";
}

static void md_keys(FILE *out, const char *prefix, const struct cfg_key *keys)
{
	for (const struct cfg_key *k = keys; k->path; k++) {
		fprintf(out, "| `%s.%s` | %s | %s | ", prefix, k->path, md_type(k->type),
			k->def ? k->def : "");
		if (k->type == CFG_INT || k->type == CFG_DOUBLE || k->type == CFG_DOUBLE_LIST ||
		    k->type == CFG_INT_LIST)
			fprintf(out, "%g .. %g", k->min, k->max);
		else if (k->type == CFG_ENUM)
			for (int i = 0; k->choices[i]; i++)
				fprintf(out, "%s`%s`", i ? ", " : "", k->choices[i]);
		fprintf(out, " | %s |\n", k->doc ? k->doc : "");
		if (k->type == CFG_GROUP_LIST) {
			char p[160];
			snprintf(p, sizeof(p), "%s.%s[]", prefix, k->path);
			md_keys(out, p, k->sub);
		}
	}
}

void cfg_markdown(const struct cfg_schema *schema, FILE *out)
{
	for (const struct cfg_section *sec = schema->sections; sec->name; sec++) {
		fprintf(out, "## `%s`\n\n%s\n\n", sec->name, sec->doc ? sec->doc : "");
		fputs("| key | type | default | range | meaning |\n|---|---|---|---|---|\n", out);
		md_keys(out, sec->name, sec->keys);
		fputc('\n', out);
	}
}

static size_t count_keys(const struct cfg_key *keys)
{
	size_t n = 0;
	for (const struct cfg_key *k = keys; k->path; k++)
		n += 1 + (k->type == CFG_GROUP_LIST ? count_keys(k->sub) : 0);
	return n;
}

size_t cfg_key_count(const struct cfg_schema *schema)
{
	size_t n = 0;
	for (const struct cfg_section *sec = schema->sections; sec->name; sec++)
		n += count_keys(sec->keys);
	return n;
}

bool cfg_keys_equal(const struct cfg_key *keys, const void *a, const void *b)
{
	const char *pa = a, *pb = b;
	for (const struct cfg_key *k = keys; k->path; k++) {
		const void *x = pa + k->offset, *y = pb + k->offset;
		switch (k->type) {
		case CFG_BOOL:
			if (*(const bool *)x != *(const bool *)y)
				return false;
			break;
		case CFG_INT:
			if (*(const int64_t *)x != *(const int64_t *)y)
				return false;
			break;
		case CFG_DOUBLE:
			if (*(const double *)x != *(const double *)y)
				return false;
			break;
		case CFG_STRING:
			if (strncmp(x, y, CFG_STR) != 0)
				return false;
			break;
		case CFG_ENUM:
			if (*(const int *)x != *(const int *)y)
				return false;
			break;
		case CFG_DOUBLE_LIST: {
			/* only the first n entries are settings; -0.0 vs 0.0 counting as a change
			 * is harmless */
			const struct cfg_dlist *l = x, *m = y;
			if (l->n != m->n || memcmp(l->v, m->v, sizeof(l->v[0]) * l->n) != 0)
				return false;
			break;
		}
		case CFG_INT_LIST: {
			const struct cfg_ilist *l = x, *m = y;
			if (l->n != m->n || memcmp(l->v, m->v, sizeof(l->v[0]) * l->n) != 0)
				return false;
			break;
		}
		case CFG_STRING_LIST: {
			const struct cfg_slist *l = x, *m = y;
			if (l->n != m->n)
				return false;
			for (unsigned i = 0; i < l->n && i < CFG_SLIST_MAX; i++)
				if (strncmp(l->v[i], m->v[i], CFG_STR) != 0)
					return false;
			break;
		}
		case CFG_GROUP_LIST: {
			unsigned n = *(const unsigned *)(pa + k->count_offset);
			if (n != *(const unsigned *)(pb + k->count_offset))
				return false;
			for (unsigned i = 0; i < n && i < k->max_count; i++)
				if (!cfg_keys_equal(k->sub, (const char *)x + i * k->elem_size,
						    (const char *)y + i * k->elem_size))
					return false;
			break;
		}
		}
	}
	return true;
}
