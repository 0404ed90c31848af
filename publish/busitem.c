/* SPDX-License-Identifier: MIT */
#include "publish/busitem.h"

#include <assert.h>
#include <errno.h>
#include <linux/sockios.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/sbtime.h"

/* An episode of a full queue ends after this long without a drop (one log line each way). */
#define DROP_QUIET_MS 10000u

#define BUSITEM_IFACE "com.victronenergy.BusItem"
#define INTROSPECT_IFACE "org.freedesktop.DBus.Introspectable"

struct publish_tree {
	struct publish_item *items;
	size_t n, cap;
	bool sealed;
	publish_write_fn on_write;
	void *ctx;
	uint64_t requests;           /* method calls handled */
	uint64_t dropped;            /* replies not queued (outgoing cap) */
	uint64_t dropped_logged;     /* dropped at the last log line */
	uint64_t last_drop_ms;       /* monotonic */
	bool dropping;               /* in an episode of a full outgoing queue */
	bool send_quiet;             /* the next flush sends quiet changes alone too */
	struct publish_item **by_id; /* item of each id (publish_tree_add_id), NULL = none */
	size_t nid;
	/* where the ItemsChanged / GetItems message is written (kept: no allocation per
	 * cycle once it has grown to the largest message), own or shared, and the serial
	 * of our own messages */
	struct publish_msgbuf own;
	struct publish_msgbuf *msg;
	uint32_t serial;
	uint64_t direct; /* ItemsChanged written straight onto the socket (send_direct()) */
};

int publish_tree_new(publish_write_fn on_write, void *ctx, struct publish_tree **ret)
{
	struct publish_tree *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->on_write = on_write;
	t->ctx = ctx;
	t->msg = &t->own;
	*ret = t;
	return 0;
}

void publish_tree_free(struct publish_tree *t)
{
	if (!t)
		return;
	free(t->items);
	free(t->by_id);
	publish_msgbuf_free(&t->own);
	free(t);
}

/*
 * The formats of our paths are "%.<n>f<unit>", "%d<unit>" and "0x%X": parsed
 * once here so that the cycle prints without printf. Anything else keeps its
 * printf format (conv 'p').
 */
static void parse_fmt(struct publish_item *it, const char *fmt)
{
	it->conv = 0;
	it->suffix[0] = '\0';
	if (!fmt)
		return;
	const char *rest = NULL;
	char conv = 'p';
	if (fmt[0] == '%' && fmt[1] == '.' && fmt[2] >= '0' && fmt[2] <= '3' && fmt[3] == 'f') {
		conv = 'f';
		it->prec = (uint8_t)(fmt[2] - '0');
		rest = fmt + 4;
	} else if (fmt[0] == '%' && fmt[1] == 'd') {
		conv = 'd';
		rest = fmt + 2;
	} else if (strcmp(fmt, "0x%X") == 0) {
		conv = 'X';
		rest = fmt + 4;
	}
	size_t n = 0;
	while (rest && *rest) {
		if ((rest[0] == '%' && rest[1] != '%') || n + 1 >= sizeof(it->suffix)) {
			rest = NULL; /* another conversion, or a long suffix: printf's */
		} else {
			it->suffix[n++] = *rest;
			rest += rest[0] == '%' ? 2 : 1;
		}
	}
	it->conv = rest ? conv : 'p';
	it->suffix[rest ? n : 0] = '\0';
}

void publish_msgbuf_free(struct publish_msgbuf *m)
{
	free(m->b);
	m->b = NULL;
	m->cap = 0;
}

void publish_tree_share_buffer(struct publish_tree *t, struct publish_msgbuf *m)
{
	t->msg = m;
}

static int add_item(struct publish_tree *t, unsigned id, const char *path, char type,
		    const char *fmt, bool writable, double min, double max)
{
	if (t->sealed || path[0] != '/' || strlen(path) >= PUBLISH_PATH_LEN || id > UINT16_MAX)
		return -EINVAL;
	if (id >= t->nid) {
		size_t nid = (id + 64u) & ~(size_t)63; /* ids come nearly in order: a few steps */
		struct publish_item **nb = realloc(t->by_id, nid * sizeof(*nb));
		if (!nb)
			return -ENOMEM;
		t->by_id = nb;
		t->nid = nid;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct publish_item *ni = realloc(t->items, cap * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		t->items = ni;
		t->cap = cap;
	}
	struct publish_item *it = &t->items[t->n++];
	memset(it, 0, sizeof(*it));
	strcpy(it->path, path);
	it->type = type;
	it->fmt = fmt;
	parse_fmt(it, fmt);
	it->id = (uint16_t)id;
	it->writable = writable;
	it->min = min;
	it->max = max;
	return 0;
}

int publish_tree_add(struct publish_tree *t, const char *path, char type, const char *fmt)
{
	return add_item(t, 0, path, type, fmt, false, 0, 0);
}

int publish_tree_add_writable(struct publish_tree *t, const char *path, char type, double min,
			      double max)
{
	return add_item(t, 0, path, type, NULL, true, min, max);
}

int publish_tree_add_id(struct publish_tree *t, unsigned id, const char *path, char type,
			const char *fmt)
{
	return id ? add_item(t, id, path, type, fmt, false, 0, 0) : -EINVAL;
}

int publish_tree_add_writable_id(struct publish_tree *t, unsigned id, const char *path, char type,
				 double min, double max)
{
	return id ? add_item(t, id, path, type, NULL, true, min, max) : -EINVAL;
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct publish_item *)a)->path,
		      ((const struct publish_item *)b)->path);
}

void publish_tree_seal(struct publish_tree *t)
{
	qsort(t->items, t->n, sizeof(*t->items), cmp_item);
	t->sealed = true;
	/* the items do not move from here on: each id's item, found once */
	for (size_t k = 0; k < t->nid; k++)
		t->by_id[k] = NULL;
	for (size_t k = 0; k < t->n; k++)
		if (t->items[k].id)
			t->by_id[t->items[k].id] = &t->items[k];
}

struct publish_item *publish_tree_item(struct publish_tree *t, unsigned id)
{
	return t->sealed && id < t->nid ? t->by_id[id] : NULL;
}

int publish_tree_set_band(struct publish_tree *t, unsigned id, double band)
{
	struct publish_item *it = publish_tree_item(t, id);
	if (!it || it->type != PUBLISH_T_DOUBLE || !(band >= 0))
		return -EINVAL;
	it->band = band;
	return 0;
}

struct publish_item *publish_tree_find(struct publish_tree *t, const char *path)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(t->items[mid].path, path);
		if (c == 0)
			return &t->items[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Index of the first item whose path is >= prefix. */
static size_t lower_bound(const struct publish_tree *t, const char *prefix)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(t->items[mid].path, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void publish_item_set_int(struct publish_item *it, int32_t v)
{
	if (it->valid && it->i == v)
		return;
	it->i = v;
	it->valid = true;
	it->changed = true;
}

void publish_item_set_double(struct publish_item *it, double v)
{
	if (!isfinite(v)) {
		publish_item_set_invalid(it);
		return;
	}
	/* the tolerance keeps a step of exactly the band (3.302 - 3.300 V) a change */
	if (it->valid && (it->d == v || fabs(v - it->d) < it->band * (1 - 1e-9)))
		return;
	it->d = v;
	it->valid = true;
	it->changed = true;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF), 0 when there is none. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t n = c >= 0xC2 && c <= 0xDF   ? 2
		   : c >= 0xE0 && c <= 0xEF ? 3
		   : c >= 0xF0 && c <= 0xF4 ? 4
					    : 0;
	for (size_t k = 1; k < n; k++)
		if ((s[k] & 0xC0) != 0x80)
			return 0;
	if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
	    (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
		return 0;
	return n;
}

size_t publish_utf8_clean(char *s)
{
	size_t bad = 0;
	for (unsigned char *p = (unsigned char *)s; *p;) {
		size_t n = utf8_seq(p);
		if (n == 0) {
			*p++ = '?';
			bad++;
		} else {
			p += n;
		}
	}
	return bad;
}

/* D-Bus carries only UTF-8: anything else (a config file's text, a name cut in the middle of
 * a character by the item's length) goes out with '?' for each stray byte. */
void publish_item_set_string(struct publish_item *it, const char *v)
{
	/* the same text as held (every cycle, for most strings): nothing to do */
	if (it->valid && strncmp(it->s, v, sizeof(it->s) - 1) == 0)
		return;
	char buf[sizeof(it->s)];
	size_t n = strnlen(v, sizeof(buf) - 1);
	memcpy(buf, v, n);
	buf[n] = 0;
	publish_utf8_clean(buf);
	if (it->valid && strcmp(it->s, buf) == 0)
		return;
	memcpy(it->s, buf, n + 1);
	it->valid = true;
	it->changed = true;
}

void publish_item_set_invalid(struct publish_item *it)
{
	if (!it->valid)
		return;
	it->valid = false;
	it->changed = true;
}

void publish_tree_set_int(struct publish_tree *t, const char *path, int32_t v)
{
	struct publish_item *it = publish_tree_find(t, path);
	if (it)
		publish_item_set_int(it, v);
}

void publish_tree_set_double(struct publish_tree *t, const char *path, double v)
{
	struct publish_item *it = publish_tree_find(t, path);
	if (it)
		publish_item_set_double(it, v);
}

void publish_tree_set_string(struct publish_tree *t, const char *path, const char *v)
{
	struct publish_item *it = publish_tree_find(t, path);
	if (it)
		publish_item_set_string(it, v);
}

void publish_tree_set_invalid(struct publish_tree *t, const char *path)
{
	struct publish_item *it = publish_tree_find(t, path);
	if (it)
		publish_item_set_invalid(it);
}

void publish_tree_set_double_if(struct publish_tree *t, const char *path, bool valid, double v)
{
	if (valid)
		publish_tree_set_double(t, path, v);
	else
		publish_tree_set_invalid(t, path);
}

void publish_tree_set_int_if(struct publish_tree *t, const char *path, bool valid, int32_t v)
{
	if (valid)
		publish_tree_set_int(t, path, v);
	else
		publish_tree_set_invalid(t, path);
}

void publish_tree_set_string_if(struct publish_tree *t, const char *path, bool valid, const char *v)
{
	if (valid && v[0])
		publish_tree_set_string(t, path, v);
	else
		publish_tree_set_invalid(t, path);
}

void publish_set_int(struct publish_tree *t, unsigned id, int32_t v)
{
	struct publish_item *it = publish_tree_item(t, id);
	if (it)
		publish_item_set_int(it, v);
}

void publish_set_double(struct publish_tree *t, unsigned id, double v)
{
	struct publish_item *it = publish_tree_item(t, id);
	if (it)
		publish_item_set_double(it, v);
}

void publish_set_string(struct publish_tree *t, unsigned id, const char *v)
{
	struct publish_item *it = publish_tree_item(t, id);
	if (it)
		publish_item_set_string(it, v);
}

void publish_set_invalid(struct publish_tree *t, unsigned id)
{
	struct publish_item *it = publish_tree_item(t, id);
	if (it)
		publish_item_set_invalid(it);
}

void publish_set_double_if(struct publish_tree *t, unsigned id, bool valid, double v)
{
	if (valid)
		publish_set_double(t, id, v);
	else
		publish_set_invalid(t, id);
}

void publish_set_int_if(struct publish_tree *t, unsigned id, bool valid, int32_t v)
{
	if (valid)
		publish_set_int(t, id, v);
	else
		publish_set_invalid(t, id);
}

void publish_set_string_if(struct publish_tree *t, unsigned id, bool valid, const char *v)
{
	if (valid && v[0])
		publish_set_string(t, id, v);
	else
		publish_set_invalid(t, id);
}

void publish_tree_clear_changes(struct publish_tree *t)
{
	for (size_t k = 0; k < t->n; k++)
		t->items[k].changed = false;
}

void publish_tree_mark_changed(struct publish_tree *t)
{
	for (size_t k = 0; k < t->n; k++)
		t->items[k].changed = true;
}

uint64_t publish_tree_dropped(const struct publish_tree *t)
{
	return t->dropped;
}

uint64_t publish_tree_requests(const struct publish_tree *t)
{
	return t->requests;
}

/*
 * Whether the outgoing queue has room. The bus daemon reads from us only as
 * fast as it can hand our messages on, and holds them for a client that does
 * not read them; libdbus's queue has no limit of its own: this is the limit.
 * One log line when an episode starts, one when it has been quiet for
 * DROP_QUIET_MS.
 */
static bool queue_room(struct publish_tree *t, DBusConnection *conn)
{
	bool room = dbus_connection_get_outgoing_size(conn) < PUBLISH_OUTGOING_CAP;
	uint64_t now = time_mono_ms();
	if (!room) {
		if (!t->dropping)
			log_warn("publish: outgoing D-Bus queue over %d bytes (a client does not "
				 "read "
				 "its replies): dropping replies",
				 PUBLISH_OUTGOING_CAP);
		t->dropping = true;
		t->last_drop_ms = now;
	} else if (t->dropping && now - t->last_drop_ms >= DROP_QUIET_MS) {
		t->dropping = false;
		log_info("publish: outgoing D-Bus queue has room again; %llu replies were dropped",
			 (unsigned long long)(t->dropped - t->dropped_logged));
		t->dropped_logged = t->dropped;
	}
	return room;
}

/* ---- text ---- */

/* Digits of v, most significant first; returns the count (v 0: "0"). */
static size_t put_u64(char *out, uint64_t v)
{
	char d[20];
	size_t k = 0;
	do {
		d[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < k; i++)
		out[i] = d[k - 1 - i];
	return k;
}

/*
 * v with prec (0..3) decimals, rounded from v's exact binary value with ties
 * to even as printf does (12.345 is 12.3449999... in binary: "12.34"). v =
 * mant x 2^e exactly, so v x 10^prec is an exact integer (< 2^63) shifted by
 * e. Returns 0 for a magnitude past 2^53 (then the caller uses printf).
 */
static size_t put_fixed(char *out, double v, unsigned prec)
{
	static const uint64_t p10[] = {1, 10, 100, 1000};
	int e;
	double m = frexp(fabs(v), &e);
	uint64_t x = (uint64_t)ldexp(m, 53) * p10[prec];
	e -= 53;
	uint64_t q;
	if (e > 0)
		return 0;
	if (e <= -64) {
		q = 0; /* x < 2^63: below one half */
	} else {
		unsigned sh = (unsigned)-e;
		q = sh ? x >> sh : x;
		uint64_t rem = sh ? x & ((UINT64_C(1) << sh) - 1) : 0;
		uint64_t half = sh ? UINT64_C(1) << (sh - 1) : 1;
		if (sh && (rem > half || (rem == half && (q & 1))))
			q++;
	}
	size_t n = 0;
	if (signbit(v))
		out[n++] = '-';
	n += put_u64(out + n, q / p10[prec]);
	if (prec) {
		out[n++] = '.';
		uint64_t f = q % p10[prec];
		for (unsigned k = prec; k-- > 0;) {
			out[n + k] = (char)('0' + f % 10);
			f /= 10;
		}
		n += prec;
	}
	return n;
}

static size_t put_int(char *out, int32_t v)
{
	size_t n = 0;
	int64_t x = v;
	if (x < 0) {
		out[n++] = '-';
		x = -x;
	}
	return n + put_u64(out + n, (uint64_t)x);
}

size_t publish_int_text(char *out, int32_t v)
{
	return put_int(out, v);
}

static size_t put_hex(char *out, uint32_t v)
{
	static const char hex[] = "0123456789ABCDEF";
	char d[8];
	size_t k = 0;
	do {
		d[k++] = hex[v & 15u];
		v >>= 4;
	} while (v);
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < k; i++)
		out[2 + i] = d[k - 1 - i];
	return 2 + k;
}

size_t publish_item_text(const struct publish_item *it, char *buf, size_t len)
{
	size_t n = 0;
	if (len < PUBLISH_TEXT_LEN) {
		buf[0] = '\0';
		return 0;
	}
	if (!it->valid) {
		memcpy(buf, "---", 4);
		return 3;
	}
	switch (it->type) {
	case PUBLISH_T_INT:
		if (it->conv == 'X')
			n = put_hex(buf, (uint32_t)it->i);
		else if (it->conv == 'd' || it->conv == 0)
			n = put_int(buf, it->i);
		else {
			int r = snprintf(buf, len, it->fmt, (int)it->i);
			return r < 0 ? 0 : (size_t)r >= len ? len - 1 : (size_t)r;
		}
		break;
	case PUBLISH_T_DOUBLE:
		if (it->conv == 'f')
			n = put_fixed(buf, it->d, it->prec);
		if (n == 0) {
			int r = snprintf(buf, len, it->fmt ? it->fmt : "%g", it->d);
			return r < 0 ? 0 : (size_t)r >= len ? len - 1 : (size_t)r;
		}
		break;
	default:
		/* Node-RED drops signals with an empty Text, so an empty string shows as ---. */
		n = strlen(it->s);
		if (n == 0) {
			memcpy(buf, "---", 4);
			return 3;
		}
		memcpy(buf, it->s, n + 1);
		return n;
	}
	size_t sl = strlen(it->suffix);
	memcpy(buf + n, it->suffix, sl + 1);
	return n + sl;
}

/* ---- marshalling ---- */

static bool append_value(DBusMessageIter *it, const struct publish_item *item)
{
	DBusMessageIter var, arr;
	if (!item->valid) {
		/* Victron's "invalid": a variant holding an empty int32 array. */
		return dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "ai", &var) &&
		       dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, "i", &arr) &&
		       dbus_message_iter_close_container(&var, &arr) &&
		       dbus_message_iter_close_container(it, &var);
	}
	char sig[2] = {item->type, 0};
	if (!dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, sig, &var))
		return false;
	bool ok;
	if (item->type == PUBLISH_T_INT) {
		dbus_int32_t v = item->i;
		ok = dbus_message_iter_append_basic(&var, DBUS_TYPE_INT32, &v);
	} else if (item->type == PUBLISH_T_DOUBLE) {
		double v = item->d;
		ok = dbus_message_iter_append_basic(&var, DBUS_TYPE_DOUBLE, &v);
	} else {
		const char *s = item->s;
		ok = dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &s);
	}
	return ok && dbus_message_iter_close_container(it, &var);
}

static bool append_text_variant(DBusMessageIter *it, const struct publish_item *item)
{
	char buf[PUBLISH_TEXT_LEN];
	publish_item_text(item, buf, sizeof(buf));
	const char *s = buf;
	DBusMessageIter var;
	return dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "s", &var) &&
	       dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &s) &&
	       dbus_message_iter_close_container(it, &var);
}

static bool append_dict_sv(DBusMessageIter *arr, const char *key, const struct publish_item *item,
			   bool text)
{
	DBusMessageIter e;
	return dbus_message_iter_open_container(arr, DBUS_TYPE_DICT_ENTRY, NULL, &e) &&
	       dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &key) &&
	       (text ? append_text_variant(&e, item) : append_value(&e, item)) &&
	       dbus_message_iter_close_container(arr, &e);
}

/* {"Value": v, "Text": s} */
static bool append_value_text(DBusMessageIter *it, const struct publish_item *item)
{
	DBusMessageIter d;
	return dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "{sv}", &d) &&
	       append_dict_sv(&d, "Value", item, false) && append_dict_sv(&d, "Text", item, true) &&
	       dbus_message_iter_close_container(it, &d);
}

/* ---- the a{sa{sv}} writer ---- */

/*
 * ItemsChanged and GetItems carry a{sa{sv}}: path -> {"Value": v, "Text": s}.
 * Writing it with libdbus's iterators was three quarters of the publisher's
 * instructions (a type check and a buffer growth per call), so the whole
 * message is written here in the wire format, in native byte order as libdbus
 * writes it, into a buffer the tree keeps (grown to the tree's size once, then
 * reused), and libdbus takes it with dbus_message_demarshal, which validates
 * it in one pass. tests/publish/test_marshal.c compares the body with
 * libdbus's own encoding byte for byte for every kind of value.
 */
struct wr {
	uint8_t *b;
	size_t n;
};

#define WR_NAME_MAX 256 /* a bus name (the spec's limit: 255) */
#define WR_HEADER_MAX (256 + WR_NAME_MAX)

/*
 * The most an item's entry can take: lengths, padding, signatures and keys
 * (under 96 bytes), its path, and its value and Text: a string twice, a
 * number's Text under 48 bytes (a printf format's up to PUBLISH_TEXT_LEN).
 * Sized to what is sent: the buffer is kept, and resident memory is what a
 * tree's largest message touched.
 */
static size_t item_room(const struct publish_item *it)
{
	size_t n = 96 + strlen(it->path);
	if (it->type == PUBLISH_T_STRING)
		return n + 2 * strlen(it->s) + 8;
	return n + 8 + (it->conv == 'p' ? PUBLISH_TEXT_LEN : 48);
}

static void w_pad(struct wr *w, size_t a)
{
	while (w->n & (a - 1))
		w->b[w->n++] = 0;
}

static void w_u32(struct wr *w, uint32_t v)
{
	w_pad(w, 4);
	memcpy(w->b + w->n, &v, 4);
	w->n += 4;
}

static void w_str(struct wr *w, const char *s, size_t len)
{
	w_u32(w, (uint32_t)len);
	memcpy(w->b + w->n, s, len);
	w->b[w->n + len] = 0;
	w->n += len + 1;
}

static void w_sig(struct wr *w, const char *sig)
{
	size_t len = strlen(sig);
	w->b[w->n++] = (uint8_t)len;
	memcpy(w->b + w->n, sig, len + 1);
	w->n += len + 1;
}

/* The value's variant; Victron's invalid is an empty int32 array. */
static void w_value(struct wr *w, const struct publish_item *it)
{
	if (!it->valid) {
		w_sig(w, "ai");
		w_u32(w, 0); /* length; the int32 elements need no further padding */
		return;
	}
	switch (it->type) {
	case PUBLISH_T_INT:
		w_sig(w, "i");
		w_u32(w, (uint32_t)it->i);
		break;
	case PUBLISH_T_DOUBLE:
		w_sig(w, "d");
		w_pad(w, 8);
		memcpy(w->b + w->n, &it->d, 8);
		w->n += 8;
		break;
	default:
		w_sig(w, "s");
		w_str(w, it->s, strlen(it->s));
		break;
	}
}

/* {path: {"Value": v, "Text": s}}: a dict entry, 8-aligned. */
static void w_item(struct wr *w, const struct publish_item *it)
{
	w_pad(w, 8);
	w_str(w, it->path, strlen(it->path));
	w_u32(w, 0);
	size_t len_at = w->n - 4;
	w_pad(w, 8);
	size_t start = w->n;
	w_str(w, "Value", 5);
	w_value(w, it);
	w_pad(w, 8);
	w_str(w, "Text", 4);
	w_sig(w, "s");
	w_pad(w, 4);
	/* the text straight into its place after its length */
	uint32_t tl = (uint32_t)publish_item_text(it, (char *)w->b + w->n + 4, PUBLISH_TEXT_LEN);
	memcpy(w->b + w->n, &tl, 4);
	w->n += 4 + tl + 1;
	uint32_t inner = (uint32_t)(w->n - start);
	memcpy(w->b + len_at, &inner, 4);
}

static void w_field_str(struct wr *w, uint8_t code, const char *sig, const char *v)
{
	w_pad(w, 8);
	w->b[w->n++] = code;
	w_sig(w, sig);
	if (sig[0] == 'g')
		w_sig(w, v);
	else
		w_str(w, v, strlen(v));
}

/*
 * A header: a signal on "/" (reply_to NULL) or the return of reply_to; both
 * flagged no-reply-expected as libdbus flags them. Returns where the body
 * length goes; the body starts at w->n (8-aligned).
 */
static size_t w_header(struct wr *w, uint32_t serial, const char *member, DBusMessage *reply_to)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w->b[0] = 'B';
#else
	w->b[0] = 'l';
#endif
	w->b[1] = reply_to ? DBUS_MESSAGE_TYPE_METHOD_RETURN : DBUS_MESSAGE_TYPE_SIGNAL;
	w->b[2] = 0x1; /* NO_REPLY_EXPECTED */
	w->b[3] = 1;   /* protocol version */
	w->n = 4;
	w_u32(w, 0);
	size_t body_at = w->n - 4;
	w_u32(w, serial);
	w_u32(w, 0);
	size_t fields_at = w->n - 4;
	w_pad(w, 8);
	size_t start = w->n;
	if (reply_to) {
		w_pad(w, 8);
		w->b[w->n++] = DBUS_HEADER_FIELD_REPLY_SERIAL;
		w_sig(w, "u");
		w_u32(w, dbus_message_get_serial(reply_to));
		const char *dest = dbus_message_get_sender(reply_to);
		if (dest)
			w_field_str(w, DBUS_HEADER_FIELD_DESTINATION, "s", dest);
	} else {
		w_field_str(w, DBUS_HEADER_FIELD_PATH, "o", "/");
		w_field_str(w, DBUS_HEADER_FIELD_INTERFACE, "s", BUSITEM_IFACE);
		w_field_str(w, DBUS_HEADER_FIELD_MEMBER, "s", member);
	}
	w_field_str(w, DBUS_HEADER_FIELD_SIGNATURE, "g", "a{sa{sv}}");
	uint32_t fl = (uint32_t)(w->n - start);
	memcpy(w->b + fields_at, &fl, 4);
	w_pad(w, 8);
	return body_at;
}

/*
 * The message with the items (changed ones only when changed_only), written
 * into t->msg; its length, 0 without memory.
 */
static size_t write_items(struct publish_tree *t, DBusMessage *reply_to, bool changed_only)
{
	/* the text is printed in place: PUBLISH_TEXT_LEN of room after the last item's start */
	size_t need = WR_HEADER_MAX + PUBLISH_TEXT_LEN;
	for (size_t k = 0; k < t->n; k++)
		if (!changed_only || t->items[k].changed)
			need += item_room(&t->items[k]);
	const char *dest = reply_to ? dbus_message_get_sender(reply_to) : NULL;
	if (dest && strlen(dest) >= WR_NAME_MAX)
		return 0;
	struct publish_msgbuf *mb = t->msg;
	if (need > mb->cap) {
		uint8_t *nb = realloc(mb->b, need);
		if (!nb)
			return 0;
		mb->b = nb;
		mb->cap = need;
	}
	/*
	 * Serial: libdbus numbers a message only when it has none, and a
	 * demarshalled one must have one. Ours count up from 2^31, libdbus's
	 * from 1: they would meet after 2^31 messages, and even then a serial
	 * equal to another message's does no harm (serials only pair a method
	 * call with its reply, and nobody replies to a signal; a reply of ours
	 * pairs by the caller's serial, not its own).
	 */
	if (++t->serial < 0x80000000u)
		t->serial = 0x80000000u;
	struct wr w = {.b = mb->b};
	size_t body_at = w_header(&w, t->serial, "ItemsChanged", reply_to);
	size_t body = w.n;
	w_u32(&w, 0);
	size_t len_at = w.n - 4;
	w_pad(&w, 8);
	size_t start = w.n;
	for (size_t k = 0; k < t->n; k++)
		if (!changed_only || t->items[k].changed)
			w_item(&w, &t->items[k]);
	uint32_t al = (uint32_t)(w.n - start);
	memcpy(w.b + len_at, &al, 4);
	uint32_t bl = (uint32_t)(w.n - body);
	memcpy(w.b + body_at, &bl, 4);
	return w.n;
}

/* The n bytes written by write_items() as a DBusMessage (libdbus validates them in one
 * pass), NULL without memory or when it refuses them. */
static DBusMessage *demarshal(const uint8_t *b, size_t n, const char *what)
{
	DBusError err;
	dbus_error_init(&err);
	DBusMessage *m = dbus_message_demarshal((const char *)b, (int)n, &err);
	if (!m)
		log_error("publish: %s not sent: %s", what, err.message ? err.message : "?");
	dbus_error_free(&err);
	return m;
}

static DBusMessage *build_items(struct publish_tree *t, DBusMessage *reply_to, bool changed_only)
{
	size_t n = write_items(t, reply_to, changed_only);
	return n ? demarshal(t->msg->b, n, reply_to ? "GetItems" : "ItemsChanged") : NULL;
}

/*
 * ItemsChanged straight onto the connection's socket, when libdbus has nothing queued for
 * it (so no message of its own is partly written): one send() of the bytes write_items()
 * wrote, without dbus_message_demarshal()'s validation pass and libdbus's queue (together
 * most of the publisher's instructions). The stream must only ever carry whole messages,
 * so it is tried only when the socket's send queue leaves room for the whole message (on
 * Linux such a write is all or nothing); EAGAIN and the like leave it to libdbus, which
 * queues it. A partial write all the same is finished here, waiting for room at most
 * DIRECT_FINISH_MS, else the connection is shut down (libdbus sees it broken and the
 * service reconnects) rather than leave a torn message on it.
 * 1: sent; 0: not sent, use libdbus; -EPIPE: the connection was given up.
 */
#define DIRECT_MAX (32u * 1024u)
#define DIRECT_QUEUED_MAX (64 * 1024)
#define DIRECT_FINISH_MS 1000

static int send_direct(DBusConnection *conn, const uint8_t *b, size_t n)
{
	int fd, queued;
	if (n > DIRECT_MAX || !dbus_connection_get_socket(conn, &fd) ||
	    dbus_connection_has_messages_to_send(conn) || ioctl(fd, SIOCOUTQ, &queued) < 0 ||
	    queued > DIRECT_QUEUED_MAX)
		return 0;
	ssize_t w = send(fd, b, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w <= 0)
		return 0; /* nothing went: libdbus queues it, and sees an error itself */
	size_t done = (size_t)w;
	uint64_t end = time_mono_ms() + DIRECT_FINISH_MS;
	while (done < n) {
		uint64_t now = time_mono_ms();
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		if (now >= end || poll(&pf, 1, (int)(end - now)) < 0) {
			if (now < end && errno == EINTR)
				continue;
			break;
		}
		w = send(fd, b + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0)
			done += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			break;
	}
	if (done == n)
		return 1;
	log_error("publish: a message was cut off on the bus connection: reconnecting");
	shutdown(fd, SHUT_RDWR);
	return -EPIPE;
}

DBusMessage *publish_tree_items_message(struct publish_tree *t, DBusMessage *reply_to,
					bool changed_only)
{
	return build_items(t, reply_to, changed_only);
}

int publish_tree_flush(struct publish_tree *t, DBusConnection *conn, bool per_path)
{
	size_t nchanged = 0, nloud = 0;
	for (size_t k = 0; k < t->n; k++) {
		nchanged += t->items[k].changed;
		nloud += t->items[k].changed && !t->items[k].quiet;
	}
	if (nchanged == 0 || (nloud == 0 && !t->send_quiet))
		return 0; /* quiet changes stay marked: they go with the next loud one */
	if (!queue_room(t, conn))
		return -EAGAIN; /* the items stay changed: the next flush sends them */
	int sent = 0;
	size_t len = write_items(t, NULL, true);
	if (!len)
		return -ENOMEM;
#ifndef NDEBUG
	/* development builds (the tests, the sanitizers) check every message as libdbus would */
	DBusMessage *check = demarshal(t->msg->b, len, "ItemsChanged");
	assert(check != NULL);
	if (check)
		dbus_message_unref(check);
#endif
	int d = send_direct(conn, t->msg->b, len);
	if (d < 0)
		return d;
	if (d == 0) {
		DBusMessage *m = demarshal(t->msg->b, len, "ItemsChanged");
		if (!m)
			return -EINVAL;
		if (!dbus_connection_send(conn, m, NULL)) {
			dbus_message_unref(m);
			return -ENOMEM;
		}
		dbus_message_unref(m);
	}
	t->direct += d == 1;
	sent++;
	DBusMessage *m;
	DBusMessageIter it;
	for (size_t k = 0; per_path && k < t->n; k++) {
		const struct publish_item *item = &t->items[k];
		if (!item->changed)
			continue;
		m = dbus_message_new_signal(item->path, BUSITEM_IFACE, "PropertiesChanged");
		if (!m)
			return -ENOMEM;
		dbus_message_iter_init_append(m, &it);
		if (!append_value_text(&it, item) || !dbus_connection_send(conn, m, NULL)) {
			dbus_message_unref(m);
			return -ENOMEM;
		}
		dbus_message_unref(m);
		sent++;
	}
	publish_tree_clear_changes(t);
	t->send_quiet = false;
	return sent;
}

uint64_t publish_tree_direct(const struct publish_tree *t)
{
	return t->direct;
}

int publish_tree_set_quiet(struct publish_tree *t, const char *path)
{
	struct publish_item *it = publish_tree_find(t, path);
	if (!it)
		return -ENOENT;
	it->quiet = true;
	return 0;
}

void publish_tree_release_quiet(struct publish_tree *t)
{
	t->send_quiet = true;
}

/* ---- method handling ---- */

/* True when path is "/" or a proper ancestor of at least one item. */
static bool is_node(const struct publish_tree *t, const char *path, size_t *ret_first)
{
	if (strcmp(path, "/") == 0) {
		*ret_first = 0;
		return t->n > 0;
	}
	char prefix[PUBLISH_PATH_LEN + 1];
	int n = snprintf(prefix, sizeof(prefix), "%s/", path);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return false;
	size_t k = lower_bound(t, prefix);
	if (k < t->n && strncmp(t->items[k].path, prefix, (size_t)n) == 0) {
		*ret_first = k;
		return true;
	}
	return false;
}

/* Queue a reply unless the outgoing queue is full (then it is counted and dropped). */
static void queue_reply(struct publish_tree *t, DBusConnection *conn, DBusMessage *r)
{
	if (queue_room(t, conn))
		dbus_connection_send(conn, r, NULL);
	else
		t->dropped++;
}

static DBusHandlerResult reply_error(struct publish_tree *t, DBusConnection *conn, DBusMessage *msg,
				     const char *name, const char *text)
{
	if (dbus_message_get_no_reply(msg))
		return DBUS_HANDLER_RESULT_HANDLED;
	DBusMessage *r = dbus_message_new_error(msg, name, text);
	if (r) {
		queue_reply(t, conn, r);
		dbus_message_unref(r);
	}
	return DBUS_HANDLER_RESULT_HANDLED;
}

static DBusHandlerResult send_reply(struct publish_tree *t, DBusConnection *conn, DBusMessage *r)
{
	if (!r)
		return DBUS_HANDLER_RESULT_NEED_MEMORY;
	queue_reply(t, conn, r);
	dbus_message_unref(r);
	return DBUS_HANDLER_RESULT_HANDLED;
}

/* GetValue/GetText on a node: a{sv} with keys relative to the node, no leading slash. */
static DBusMessage *node_values(DBusMessage *msg, const struct publish_tree *t, const char *path,
				size_t first, bool text)
{
	size_t plen = strcmp(path, "/") == 0 ? 1 : strlen(path) + 1;
	DBusMessage *r = dbus_message_new_method_return(msg);
	if (!r)
		return NULL;
	DBusMessageIter it, var, arr;
	dbus_message_iter_init_append(r, &it);
	bool ok = dbus_message_iter_open_container(&it, DBUS_TYPE_VARIANT, text ? "a{ss}" : "a{sv}",
						   &var) &&
		  dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, text ? "{ss}" : "{sv}",
						   &arr);
	for (size_t k = first; ok && k < t->n; k++) {
		const struct publish_item *item = &t->items[k];
		if (plen > 1 &&
		    (strncmp(item->path, path, plen - 1) != 0 || item->path[plen - 1] != '/'))
			break;
		const char *key = item->path + plen;
		if (text) {
			char buf[PUBLISH_TEXT_LEN];
			publish_item_text(item, buf, sizeof(buf));
			const char *s = buf;
			DBusMessageIter e;
			ok = dbus_message_iter_open_container(&arr, DBUS_TYPE_DICT_ENTRY, NULL,
							      &e) &&
			     dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &key) &&
			     dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &s) &&
			     dbus_message_iter_close_container(&arr, &e);
		} else {
			ok = append_dict_sv(&arr, key, item, false);
		}
	}
	ok = ok && dbus_message_iter_close_container(&var, &arr) &&
	     dbus_message_iter_close_container(&it, &var);
	if (!ok) {
		dbus_message_unref(r);
		return NULL;
	}
	return r;
}

static DBusMessage *introspect(DBusMessage *msg, const struct publish_tree *t, const char *path,
			       const struct publish_item *leaf, size_t first)
{
	size_t cap = 4096, len = 0;
	char *xml = malloc(cap);
	if (!xml)
		return NULL;
#define XML(...)                                                                                   \
	do {                                                                                       \
		int n_ = snprintf(xml + len, cap - len, __VA_ARGS__);                              \
		while (n_ >= 0 && (size_t)n_ >= cap - len) {                                       \
			char *nx_ = realloc(xml, cap * 2);                                         \
			if (!nx_) {                                                                \
				free(xml);                                                         \
				return NULL;                                                       \
			}                                                                          \
			xml = nx_;                                                                 \
			cap *= 2;                                                                  \
			n_ = snprintf(xml + len, cap - len, __VA_ARGS__);                          \
		}                                                                                  \
		if (n_ > 0)                                                                        \
			len += (size_t)n_;                                                         \
	} while (0)
	XML("<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
	    " \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n<node>\n"
	    " <interface name=\"" INTROSPECT_IFACE "\">\n"
	    "  <method name=\"Introspect\"><arg direction=\"out\" type=\"s\"/></method>\n"
	    " </interface>\n <interface name=\"" BUSITEM_IFACE "\">\n"
	    "  <method name=\"GetValue\"><arg direction=\"out\" type=\"v\"/></method>\n");
	if (leaf) {
		XML("  <method name=\"GetText\"><arg direction=\"out\" type=\"s\"/></method>\n"
		    "  <method name=\"SetValue\"><arg direction=\"in\" type=\"v\"/>"
		    "<arg direction=\"out\" type=\"i\"/></method>\n"
		    "  <signal name=\"PropertiesChanged\"><arg type=\"a{sv}\"/></signal>\n");
	} else {
		XML("  <method name=\"GetText\"><arg direction=\"out\" type=\"v\"/></method>\n");
	}
	if (strcmp(path, "/") == 0)
		XML("  <method name=\"GetItems\"><arg direction=\"out\" "
		    "type=\"a{sa{sv}}\"/></method>\n"
		    "  <signal name=\"ItemsChanged\"><arg type=\"a{sa{sv}}\"/></signal>\n");
	XML(" </interface>\n");
	if (!leaf) {
		size_t plen = strcmp(path, "/") == 0 ? 1 : strlen(path) + 1;
		const char *last = NULL;
		size_t last_len = 0;
		for (size_t k = first; k < t->n; k++) {
			const char *p = t->items[k].path;
			if (plen > 1 && (strncmp(p, path, plen - 1) != 0 || p[plen - 1] != '/'))
				break;
			const char *child = p + plen;
			size_t cl = strcspn(child, "/");
			if (last && cl == last_len && strncmp(child, last, cl) == 0)
				continue;
			XML(" <node name=\"%.*s\"/>\n", (int)cl, child);
			last = child;
			last_len = cl;
		}
	}
	XML("</node>\n");
#undef XML
	DBusMessage *r = dbus_message_new_method_return(msg);
	const char *s = xml;
	if (r && !dbus_message_append_args(r, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID)) {
		dbus_message_unref(r);
		r = NULL;
	}
	free(xml);
	return r;
}

bool publish_variant_number(DBusMessageIter *v, double *ret)
{
	DBusBasicValue b;
	int t = dbus_message_iter_get_arg_type(v);
	switch (t) {
	case DBUS_TYPE_DOUBLE:
	case DBUS_TYPE_INT32:
	case DBUS_TYPE_UINT32:
	case DBUS_TYPE_INT64:
	case DBUS_TYPE_UINT64:
	case DBUS_TYPE_INT16:
	case DBUS_TYPE_UINT16:
	case DBUS_TYPE_BYTE:
		dbus_message_iter_get_basic(v, &b);
		break;
	default:
		return false;
	}
	switch (t) {
	case DBUS_TYPE_DOUBLE:
		*ret = b.dbl;
		break;
	case DBUS_TYPE_INT32:
		*ret = b.i32;
		break;
	case DBUS_TYPE_UINT32:
		*ret = b.u32;
		break;
	case DBUS_TYPE_INT64:
		*ret = (double)b.i64;
		break;
	case DBUS_TYPE_UINT64:
		*ret = (double)b.u64;
		break;
	case DBUS_TYPE_INT16:
		*ret = b.i16;
		break;
	case DBUS_TYPE_UINT16:
		*ret = b.u16;
		break;
	default:
		*ret = b.byt;
		break;
	}
	return true;
}

int publish_bus_connect(const char *address, DBusHandleMessageFunction filter, void *ctx,
			long max_received, DBusConnection **ret)
{
	DBusError err;
	dbus_error_init(&err);
	DBusConnection *c;
	if (address) {
		c = dbus_connection_open_private(address, &err);
		if (c && !dbus_bus_register(c, &err)) {
			dbus_connection_close(c);
			dbus_connection_unref(c);
			c = NULL;
		}
	} else {
		/* honours DBUS_SYSTEM_BUS_ADDRESS */
		c = dbus_bus_get_private(DBUS_BUS_SYSTEM, &err);
	}
	if (!c) {
		log_debug("publish: cannot connect to D-Bus %s: %s", address ? address : "(system)",
			  err.message ? err.message : "?");
		dbus_error_free(&err);
		return -ECONNREFUSED;
	}
	dbus_connection_set_exit_on_disconnect(c, FALSE);
	if (max_received > 0)
		dbus_connection_set_max_received_size(c, max_received);
	if (!dbus_connection_add_filter(c, filter, ctx, NULL)) {
		dbus_connection_close(c);
		dbus_connection_unref(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void publish_bus_name_owner(DBusConnection *c, const char *name, char *out, size_t len,
			    int timeout_ms)
{
	out[0] = 0;
	DBusMessage *m = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
						      DBUS_INTERFACE_DBUS, "GetNameOwner");
	if (!m || !dbus_message_append_args(m, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID)) {
		if (m)
			dbus_message_unref(m);
		return;
	}
	DBusError err;
	dbus_error_init(&err);
	DBusMessage *r = dbus_connection_send_with_reply_and_block(c, m, timeout_ms, &err);
	dbus_message_unref(m);
	dbus_error_free(&err); /* NameHasNoOwner: "" */
	const char *o;
	if (r && dbus_message_get_args(r, NULL, DBUS_TYPE_STRING, &o, DBUS_TYPE_INVALID))
		snprintf(out, len, "%s", o);
	if (r)
		dbus_message_unref(r);
}

/*
 * Parse a SetValue argument into a candidate item of the target's type:
 * returns 0 (value filled, or *ret_invalid for a bare or wrapped empty int32
 * array), 1 for a type that cannot be coerced, 2 for out of range.
 */
static int parse_set_arg(DBusMessage *msg, const struct publish_item *target,
			 struct publish_item *ret, bool *ret_invalid)
{
	DBusMessageIter it, v;
	dbus_message_iter_init(msg, &it);
	if (dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_VARIANT) {
		dbus_message_iter_recurse(&it, &v);
	} else {
		v = it; /* gui-v2 sends a bare "ai" to invalidate */
	}
	*ret = *target;
	*ret_invalid = false;
	int at = dbus_message_iter_get_arg_type(&v);
	if (at == DBUS_TYPE_ARRAY) {
		if (dbus_message_iter_get_element_type(&v) != DBUS_TYPE_INT32)
			return 1;
		DBusMessageIter a;
		dbus_message_iter_recurse(&v, &a);
		if (dbus_message_iter_get_arg_type(&a) != DBUS_TYPE_INVALID)
			return 1;
		*ret_invalid = true;
		return 0;
	}
	if (at == DBUS_TYPE_STRING) {
		if (target->type != PUBLISH_T_STRING)
			return 1;
		const char *s;
		dbus_message_iter_get_basic(&v, &s);
		if (strlen(s) >= sizeof(ret->s))
			return 2;
		snprintf(ret->s, sizeof(ret->s), "%s", s);
		return 0;
	}
	double num;
	if (!publish_variant_number(&v, &num))
		return 1;
	if (target->type == PUBLISH_T_STRING || !isfinite(num))
		return 1;
	if (target->type == PUBLISH_T_INT && num != floor(num))
		return 1;
	if (num < target->min || num > target->max)
		return 2;
	if (target->type == PUBLISH_T_INT)
		ret->i = (int32_t)num;
	else
		ret->d = num;
	return 0;
}

static DBusMessage *set_value(DBusMessage *msg, struct publish_tree *t, struct publish_item *it)
{
	dbus_int32_t rc;
	struct publish_item cand;
	bool invalid;
	if (!it->writable) {
		rc = 1;
	} else if ((rc = parse_set_arg(msg, it, &cand, &invalid)) == 0) {
		cand.valid = !invalid;
		if (t->on_write && t->on_write(t->ctx, t, it, &cand) != 0)
			rc = 2;
	}
	DBusMessage *r = dbus_message_new_method_return(msg);
	if (r && !dbus_message_append_args(r, DBUS_TYPE_INT32, &rc, DBUS_TYPE_INVALID)) {
		dbus_message_unref(r);
		r = NULL;
	}
	return r;
}

DBusHandlerResult publish_tree_handle(DBusConnection *conn, DBusMessage *msg, void *tree)
{
	struct publish_tree *t = tree;
	if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_METHOD_CALL)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	t->requests++;
	const char *path = dbus_message_get_path(msg);
	const char *iface = dbus_message_get_interface(msg);
	const char *member = dbus_message_get_member(msg);
	if (!path || !member)
		return reply_error(t, conn, msg, DBUS_ERROR_INVALID_ARGS, "no path or member");

	struct publish_item *leaf = publish_tree_find(t, path);
	size_t first = 0;
	bool node = !leaf && is_node(t, path, &first);
	if (!leaf && !node)
		return reply_error(t, conn, msg, "org.freedesktop.DBus.Error.UnknownObject", path);

	bool no_args = dbus_message_has_signature(msg, "");
	if (strcmp(member, "Introspect") == 0 && (!iface || strcmp(iface, INTROSPECT_IFACE) == 0)) {
		if (!no_args)
			return reply_error(t, conn, msg, DBUS_ERROR_INVALID_ARGS,
					   "Introspect takes no arguments");
		return send_reply(t, conn, introspect(msg, t, path, leaf, first));
	}
	if (iface && strcmp(iface, BUSITEM_IFACE) != 0)
		return reply_error(t, conn, msg, DBUS_ERROR_UNKNOWN_METHOD, member);

	if (strcmp(member, "GetValue") == 0 || strcmp(member, "GetText") == 0) {
		bool text = member[3] == 'T';
		if (!no_args)
			return reply_error(t, conn, msg, DBUS_ERROR_INVALID_ARGS,
					   "takes no arguments");
		if (node)
			return send_reply(t, conn, node_values(msg, t, path, first, text));
		DBusMessage *r = dbus_message_new_method_return(msg);
		if (!r)
			return DBUS_HANDLER_RESULT_NEED_MEMORY;
		DBusMessageIter it;
		dbus_message_iter_init_append(r, &it);
		bool ok;
		if (text) {
			char buf[PUBLISH_TEXT_LEN];
			publish_item_text(leaf, buf, sizeof(buf));
			const char *s = buf;
			ok = dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &s);
		} else {
			ok = append_value(&it, leaf);
		}
		if (!ok) {
			dbus_message_unref(r);
			return DBUS_HANDLER_RESULT_NEED_MEMORY;
		}
		return send_reply(t, conn, r);
	}
	if (strcmp(member, "GetItems") == 0 && strcmp(path, "/") == 0) {
		if (!no_args)
			return reply_error(t, conn, msg, DBUS_ERROR_INVALID_ARGS,
					   "takes no arguments");
		return send_reply(t, conn, build_items(t, msg, false));
	}
	if (strcmp(member, "SetValue") == 0 && leaf) {
		if (!dbus_message_has_signature(msg, "v") && !dbus_message_has_signature(msg, "ai"))
			return reply_error(t, conn, msg, DBUS_ERROR_INVALID_ARGS,
					   "SetValue takes one variant");
		return send_reply(t, conn, set_value(msg, t, leaf));
	}
	return reply_error(t, conn, msg, DBUS_ERROR_UNKNOWN_METHOD, member);
}
