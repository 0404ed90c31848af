/* SPDX-License-Identifier: MIT */
/* Modbus RTU framing, request/reply checks and register maps (see modbus_rtu.h). */
#include "modbus_rtu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"

void bms_modbus_put_crc(uint8_t *p, size_t len)
{
	put_u16le(p + len, bms_crc16_modbus(p, len));
}

bool bms_modbus_crc_ok(const uint8_t *frame, size_t len)
{
	if (len < 3)
		return false;
	return bms_crc16_modbus(frame, len - 2) ==
	       (uint16_t)(frame[len - 2] | (frame[len - 1] << 8));
}

static bool is_read(uint8_t fn)
{
	return fn >= BMS_MODBUS_READ_COILS && fn <= BMS_MODBUS_READ_INPUT;
}

static bool is_bits(uint8_t fn)
{
	return fn == BMS_MODBUS_READ_COILS || fn == BMS_MODBUS_READ_DISCRETE ||
	       fn == BMS_MODBUS_WRITE_COILS;
}

static bool is_standard(uint8_t fn)
{
	return is_read(fn) || fn == BMS_MODBUS_WRITE_COIL || fn == BMS_MODBUS_WRITE_SINGLE ||
	       fn == BMS_MODBUS_WRITE_COILS || fn == BMS_MODBUS_WRITE_MULTIPLE;
}

/* Data bytes a read or multiple write of count items carries. */
static size_t data_bytes(uint8_t fn, uint16_t count)
{
	return is_bits(fn) ? ((size_t)count + 7) / 8 : (size_t)count * 2;
}

int bms_modbus_frame(uint8_t addr, uint8_t fn, const uint8_t *pdu, size_t n, uint8_t *out,
		     size_t cap)
{
	if (n > 0 && !pdu)
		return -EINVAL;
	if (cap < 4 || n > cap - 4)
		return -ENOBUFS;
	out[0] = addr;
	out[1] = fn;
	if (n > 0)
		memcpy(out + 2, pdu, n);
	bms_modbus_put_crc(out, n + 2);
	return (int)(n + 4);
}

int bms_modbus_read_request(uint8_t addr, uint8_t fn, uint16_t start, uint16_t count, uint8_t *out,
			    size_t cap)
{
	if (!is_read(fn) || count == 0 ||
	    count > (is_bits(fn) ? BMS_MODBUS_MAX_READ_BITS : BMS_MODBUS_MAX_READ_REGS))
		return -EINVAL;
	uint8_t pdu[4];
	put_u16be(pdu, start);
	put_u16be(pdu + 2, count);
	return bms_modbus_frame(addr, fn, pdu, sizeof(pdu), out, cap);
}

int bms_modbus_write_single(uint8_t addr, uint16_t reg, uint16_t value, uint8_t *out, size_t cap)
{
	uint8_t pdu[4];
	put_u16be(pdu, reg);
	put_u16be(pdu + 2, value);
	return bms_modbus_frame(addr, BMS_MODBUS_WRITE_SINGLE, pdu, sizeof(pdu), out, cap);
}

int bms_modbus_write_multiple(uint8_t addr, uint16_t start, const uint16_t *values, uint16_t count,
			      uint8_t *out, size_t cap)
{
	if (!values || count == 0 || count > BMS_MODBUS_MAX_WRITE_REGS)
		return -EINVAL;
	size_t n = 5 + 2 * (size_t)count;
	if (cap < n + 4)
		return -ENOBUFS;
	/* built in place: the PDU is written straight after addr and fn */
	out[0] = addr;
	out[1] = BMS_MODBUS_WRITE_MULTIPLE;
	put_u16be(out + 2, start);
	put_u16be(out + 4, count);
	out[6] = (uint8_t)(2 * count);
	for (uint16_t i = 0; i < count; i++)
		put_u16be(out + 7 + 2 * i, values[i]);
	bms_modbus_put_crc(out, n + 2);
	return (int)(n + 4);
}

static const struct bms_modbus_shape *vendor_shape(const struct bms_modbus_spec *spec, uint8_t fn)
{
	if (!spec || !spec->vendor)
		return NULL;
	for (size_t i = 0; i < spec->nvendor; i++)
		if (spec->vendor[i].fn == fn)
			return &spec->vendor[i];
	return NULL;
}

/*
 * The length a frame starting at p must have, from the bytes it has so far:
 * >0 the length, 0 not known yet, -1 no frame of ours can start here.
 */
static long frame_length(const struct bms_modbus_spec *spec, const uint8_t *p, size_t avail)
{
	bool req = spec && spec->requests;
	bool standard_ok = !(spec && spec->vendor_only);
	if (spec && spec->match_addr && (p[0] < spec->addr_min || p[0] > spec->addr_max))
		return -1;
	if (avail < 2)
		return 0;
	uint8_t fn = p[1];
	if (fn & BMS_MODBUS_EXCEPTION) {
		uint8_t base = (uint8_t)(fn & ~BMS_MODBUS_EXCEPTION);
		if (req || !((standard_ok && is_standard(base)) || vendor_shape(spec, base)))
			return -1;
		return 5;
	}
	const struct bms_modbus_shape *v = vendor_shape(spec, fn);
	if (v) {
		if (v->fixed)
			return v->fixed >= 4 ? v->fixed : -1;
		if (v->len_size < 1 || v->len_size > 2)
			return -1;
		size_t end = (size_t)v->len_off + v->len_size;
		if (v->len_off < 2)
			return -1;
		if (avail < end)
			return 0;
		long n = p[v->len_off];
		if (v->len_size == 2)
			n = (n << 8) | p[v->len_off + 1];
		if (n < v->len_min || (v->len_max && n > v->len_max))
			return -1;
		return (long)end + n + 2;
	}
	if (!standard_ok || !is_standard(fn))
		return -1;
	if (is_read(fn) && !req) {
		if (avail < 3)
			return 0;
		uint8_t bytes = p[2];
		/* a read returns at least one item; registers come in pairs of bytes */
		if (bytes == 0 || (!is_bits(fn) && (bytes & 1)))
			return -1;
		return 5 + bytes;
	}
	if ((fn == BMS_MODBUS_WRITE_COILS || fn == BMS_MODBUS_WRITE_MULTIPLE) && req) {
		if (avail < 7)
			return 0;
		uint16_t count = (uint16_t)((p[4] << 8) | p[5]);
		if (count == 0 || p[6] != data_bytes(fn, count))
			return -1;
		return 9 + p[6];
	}
	return 8; /* read requests, single writes both ways, multiple-write replies */
}

int bms_modbus_check(const void *ctx, const uint8_t *p, size_t avail, size_t *ret_len)
{
	long n = frame_length(ctx, p, avail);
	if (n < 0)
		return -1;
	if (n == 0 || avail < (size_t)n)
		return 0;
	if (!bms_modbus_crc_ok(p, (size_t)n))
		return -1;
	*ret_len = (size_t)n;
	return 1;
}

enum bms_find bms_modbus_find(const struct bms_modbus_spec *spec, const uint8_t *buf, size_t len,
			      size_t *ret_start, size_t *ret_len)
{
	return bms_scan_frames(buf, len, bms_modbus_check, spec, ret_start, ret_len);
}

int bms_modbus_parse_request(const uint8_t *frame, size_t len, struct bms_modbus_req *ret)
{
	if (!frame || len < 8 || !bms_modbus_crc_ok(frame, len))
		return -EBADMSG;
	struct bms_modbus_req r = {
		.addr = frame[0],
		.fn = frame[1],
		.start = (uint16_t)((frame[2] << 8) | frame[3]),
		.count = (uint16_t)((frame[4] << 8) | frame[5]),
	};
	if (!is_standard(r.fn))
		return -EPROTO;
	if (r.fn == BMS_MODBUS_WRITE_COIL || r.fn == BMS_MODBUS_WRITE_SINGLE) {
		r.value = r.count;
		r.count = 1;
	}
	if (r.fn == BMS_MODBUS_WRITE_COILS || r.fn == BMS_MODBUS_WRITE_MULTIPLE) {
		if (len < 9 || frame[6] != data_bytes(r.fn, r.count) || len != 9 + (size_t)frame[6])
			return -EBADMSG;
	} else if (len != 8) {
		return -EBADMSG;
	}
	*ret = r;
	return 0;
}

int bms_modbus_reply(const struct bms_modbus_req *req, const uint8_t *frame, size_t len,
		     const uint8_t **ret_data, size_t *ret_n, uint8_t *ret_exception)
{
	if (!req || !frame || !ret_data || !ret_n)
		return -EINVAL;
	if (len < 5 || !bms_modbus_crc_ok(frame, len))
		return -EBADMSG;
	if (frame[0] != req->addr)
		return -EPROTO;
	if (frame[1] == (req->fn | BMS_MODBUS_EXCEPTION)) {
		if (len != 5)
			return -EBADMSG;
		if (ret_exception)
			*ret_exception = frame[2];
		return -EREMOTEIO;
	}
	if (frame[1] != req->fn)
		return -EPROTO;
	const uint8_t *data = NULL;
	size_t n = 0;
	if (is_read(req->fn)) {
		if (len != 5 + (size_t)frame[2])
			return -EBADMSG;
		if (frame[2] != data_bytes(req->fn, req->count))
			return -EPROTO;
		data = frame + 3;
		n = frame[2];
	} else if (is_standard(req->fn)) {
		if (len != 8)
			return -EBADMSG;
		uint16_t a = (uint16_t)((frame[2] << 8) | frame[3]);
		uint16_t b = (uint16_t)((frame[4] << 8) | frame[5]);
		bool single =
			req->fn == BMS_MODBUS_WRITE_COIL || req->fn == BMS_MODBUS_WRITE_SINGLE;
		if (a != req->start || b != (single ? req->value : req->count))
			return -EPROTO;
	} else {
		/* a vendor function: its layout is the driver's business */
		data = frame + 2;
		n = len - 4;
	}
	*ret_data = data;
	*ret_n = n;
	return 0;
}

/* Registers one value of type t spans. */
static unsigned type_regs(enum bms_modbus_type t)
{
	switch (t) {
	case BMS_MODBUS_U32:
	case BMS_MODBUS_S32:
	case BMS_MODBUS_U32_WS:
	case BMS_MODBUS_S32_WS:
	case BMS_MODBUS_U32_LE:
	case BMS_MODBUS_S32_LE:
		return 2;
	default:
		return 1;
	}
}

/* The raw value at b, which holds exactly type_regs(t) registers. */
static int64_t read_raw(enum bms_modbus_type t, const uint8_t *b)
{
	uint16_t be0 = (uint16_t)((b[0] << 8) | b[1]);
	uint16_t le0 = (uint16_t)(b[0] | (b[1] << 8));
	switch (t) {
	case BMS_MODBUS_U16:
		return be0;
	case BMS_MODBUS_S16:
		return (int16_t)be0;
	case BMS_MODBUS_U16_LE:
		return le0;
	case BMS_MODBUS_S16_LE:
		return (int16_t)le0;
	case BMS_MODBUS_U8_HI:
		return b[0];
	case BMS_MODBUS_U8_LO:
		return b[1];
	case BMS_MODBUS_S8_HI:
		return (int8_t)b[0];
	case BMS_MODBUS_S8_LO:
		return (int8_t)b[1];
	case BMS_MODBUS_ASCII:
		return 0;
	default:
		break;
	}
	/* two registers: only now may b[2] and b[3] be read */
	uint16_t be1 = (uint16_t)((b[2] << 8) | b[3]);
	switch (t) {
	case BMS_MODBUS_U32:
		return ((uint32_t)be0 << 16) | be1;
	case BMS_MODBUS_S32:
		return (int32_t)(((uint32_t)be0 << 16) | be1);
	case BMS_MODBUS_U32_WS:
		return ((uint32_t)be1 << 16) | be0;
	case BMS_MODBUS_S32_WS:
		return (int32_t)(((uint32_t)be1 << 16) | be0);
	case BMS_MODBUS_U32_LE:
		return (uint32_t)le0 | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
	case BMS_MODBUS_S32_LE:
		return (int32_t)((uint32_t)le0 | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24));
	default:
		return 0;
	}
}

static size_t ftype_size(enum bms_modbus_ftype f)
{
	switch (f) {
	case BMS_MODBUS_F_BOOL:
		return sizeof(bool);
	case BMS_MODBUS_F_U8:
	case BMS_MODBUS_F_CHARS:
		return 1;
	case BMS_MODBUS_F_U16:
	case BMS_MODBUS_F_S16:
		return 2;
	case BMS_MODBUS_F_U32:
	case BMS_MODBUS_F_S32:
		return 4;
	case BMS_MODBUS_F_S64:
		return 8;
	}
	return 0;
}

static bool fits(enum bms_modbus_ftype f, int64_t v)
{
	switch (f) {
	case BMS_MODBUS_F_BOOL:
		return true; /* any non-zero value is true */
	case BMS_MODBUS_F_U8:
		return v >= 0 && v <= UINT8_MAX;
	case BMS_MODBUS_F_U16:
		return v >= 0 && v <= UINT16_MAX;
	case BMS_MODBUS_F_U32:
		return v >= 0 && v <= (int64_t)UINT32_MAX;
	case BMS_MODBUS_F_S16:
		return v >= INT16_MIN && v <= INT16_MAX;
	case BMS_MODBUS_F_S32:
		return v >= INT32_MIN && v <= INT32_MAX;
	case BMS_MODBUS_F_S64:
		return true;
	case BMS_MODBUS_F_CHARS:
		break;
	}
	return false;
}

/* memcpy keeps the store legal whatever the field's alignment and type. */
static void store(uint8_t *dst, enum bms_modbus_ftype f, int64_t v)
{
	switch (f) {
	case BMS_MODBUS_F_BOOL: {
		bool x = v != 0;
		memcpy(dst, &x, sizeof(x));
		break;
	}
	case BMS_MODBUS_F_U8: {
		uint8_t x = (uint8_t)v;
		memcpy(dst, &x, sizeof(x));
		break;
	}
	case BMS_MODBUS_F_U16: {
		uint16_t x = (uint16_t)v;
		memcpy(dst, &x, sizeof(x));
		break;
	}
	case BMS_MODBUS_F_U32: {
		uint32_t x = (uint32_t)v;
		memcpy(dst, &x, sizeof(x));
		break;
	}
	case BMS_MODBUS_F_S16: {
		int16_t x = (int16_t)v;
		memcpy(dst, &x, sizeof(x));
		break;
	}
	case BMS_MODBUS_F_S32: {
		int32_t x = (int32_t)v;
		memcpy(dst, &x, sizeof(x));
		break;
	}
	case BMS_MODBUS_F_S64:
		memcpy(dst, &v, sizeof(v));
		break;
	case BMS_MODBUS_F_CHARS:
		break;
	}
}

/* One scaled value, or -EOVERFLOW. */
static int scale(const struct bms_modbus_reg *e, int64_t raw, int64_t *ret)
{
	if (e->mask)
		raw = ((uint64_t)raw & e->mask) ? 1 : 0;
	int64_t v = raw + e->offset;
	int64_t mul = e->mul ? e->mul : 1;
	int64_t div = e->div ? e->div : 1;
	if (v != 0 && llabs(v) > INT64_MAX / llabs(mul))
		return -EOVERFLOW;
	*ret = v * mul / div; /* C division truncates toward zero */
	return 0;
}

/* Check one entry (write == false) or store it; the checks run in both passes. */
static int apply_one(const struct bms_modbus_reg *e, uint16_t start, const uint8_t *data,
		     size_t nregs, struct bms_snapshot *snap, bool write)
{
	bool text = e->type == BMS_MODBUS_ASCII;
	size_t count = e->count ? e->count : 1;
	size_t span = text ? count : count * type_regs(e->type);
	if (e->reg < start || (size_t)(e->reg - start) + span > nregs)
		return -ERANGE;
	if (text != (e->ftype == BMS_MODBUS_F_CHARS))
		return -EINVAL;
	size_t esize = text ? e->field_size : ftype_size(e->ftype);
	size_t need = text ? e->field_size : count * esize;
	if (esize == 0 || need > e->field_size || e->field > sizeof(*snap) ||
	    e->field_size > sizeof(*snap) - e->field)
		return -EINVAL;
	const uint8_t *src = data + 2 * (size_t)(e->reg - start);
	uint8_t *dst = (uint8_t *)snap + e->field;
	if (text) {
		if (write) {
			struct breader r = br_init(src, 2 * count);
			br_str(&r, 2 * count, (char *)dst, e->field_size);
		}
		return 0;
	}
	for (size_t i = 0; i < count; i++) {
		int64_t v;
		int rc = scale(e, read_raw(e->type, src + 2 * type_regs(e->type) * i), &v);
		if (rc < 0)
			return rc;
		if (!fits(e->ftype, v))
			return -EOVERFLOW;
		if (write)
			store(dst + i * esize, e->ftype, v);
	}
	return 0;
}

int bms_modbus_map_apply(const struct bms_modbus_reg *map, size_t n, uint16_t start,
			 const uint8_t *data, size_t len, struct bms_snapshot *snap)
{
	if ((n > 0 && !map) || (len > 0 && !data) || !snap || (len & 1))
		return -EINVAL;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			int rc = apply_one(&map[i], start, data, len / 2, snap, pass == 1);
			if (rc < 0)
				return rc;
			if (pass == 1)
				snap->valid |= map[i].valid;
		}
	}
	return 0;
}

int bms_modbus_check_exchange(const struct bms_modbus_spec *spec,
			      int (*request_check)(const uint8_t *p, size_t avail, size_t *ret_len),
			      const uint8_t *p, size_t avail, size_t *ret_len)
{
	size_t n = 0;
	int rr = bms_modbus_check(spec, p, avail, &n);
	if (rr == 1) {
		*ret_len = n;
		return 1;
	}
	int rq = request_check(p, avail, &n);
	if (rq == 1) {
		*ret_len = n;
		return 1;
	}
	return rr == 0 || rq == 0 ? 0 : -1;
}

bool bms_modbus_is_request(int (*request_check)(const uint8_t *p, size_t avail, size_t *ret_len),
			   const uint8_t *frame, size_t len)
{
	size_t n = 0;
	return len == 8 && request_check(frame, len, &n) == 1;
}

void bms_modbus_describe_exception(const uint8_t *frame, const char *name, struct bms_frame_desc *x)
{
	uint8_t fn = frame[1];
	char buf[40];
	if (!name) {
		snprintf(buf, sizeof(buf), "exception to 0x%02X", fn & ~BMS_MODBUS_EXCEPTION);
		name = buf;
	}
	bms_desc_init(x, BMS_DIR_REPLY, 0, frame[0], name);
	bms_desc_num(x, "address", frame[0]);
	bms_desc_num(x, "function", fn);
	bms_desc_num(x, "exception_code", frame[2]);
}
