/* SPDX-License-Identifier: MIT */
/* Function 0x03 families' shared frame handling (bms/modbus_fc3.h). */
#include <errno.h>
#include <stdio.h>

#include "bytes.h"
#include "modbus_fc3.h"
#include "modbus_rtu.h"

/* A function 0x03 read request (the byte after the address is checked by the caller). */
static int fc3_request_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	static const struct bms_modbus_spec request = {.requests = true};
	return bms_modbus_check(&request, p, avail, ret_len);
}

int bms_fc3_check(uint8_t addr_min, uint8_t addr_max, const uint8_t *p, size_t avail,
		  size_t *ret_len)
{
	if (avail == 0)
		return 0;
	if (p[0] < addr_min || p[0] > addr_max)
		return -1;
	if (avail >= 2 && (p[1] & ~BMS_MODBUS_EXCEPTION) != BMS_MODBUS_READ_HOLDING)
		return -1;
	const struct bms_modbus_spec reply = {
		.match_addr = true, .addr_min = addr_min, .addr_max = addr_max};
	size_t n = 0;
	int r = bms_modbus_check_exchange(&reply, fc3_request_check, p, avail, &n);
	/* a byte count of 252..255 makes a reply longer than any RTU frame: noise,
	 * unless the bytes are a request */
	if (r == 1 && n > BMS_MODBUS_MAX_ADU)
		r = fc3_request_check(p, avail, &n) == 1 ? 1 : -1;
	if (r == 1)
		*ret_len = n;
	return r;
}

bool bms_fc3_is_request(const uint8_t *f, size_t len)
{
	return bms_modbus_is_request(fc3_request_check, f, len);
}

int bms_fc3_reply(uint8_t addr, uint16_t start, uint16_t count, const uint8_t *f, size_t len,
		  const uint8_t **ret_data)
{
	if (len < 5 || !bms_modbus_crc_ok(f, len))
		return -EBADMSG;
	if (bms_fc3_is_request(f, len) || f[0] != addr)
		return BMS_FOREIGN;
	const struct bms_modbus_req asked = {
		.addr = addr, .fn = BMS_MODBUS_READ_HOLDING, .start = start, .count = count};
	const uint8_t *d;
	size_t n;
	int r = bms_modbus_reply(&asked, f, len, &d, &n, NULL);
	if (r == -EPROTO)
		return BMS_FOREIGN;
	if (r < 0)
		return r;
	*ret_data = d;
	return 0;
}

int bms_fc3_describe_frame(uint8_t addr_min, uint8_t addr_max, const uint8_t *f, size_t len,
			   struct bms_frame_desc *x)
{
	size_t flen = 0;
	if (bms_fc3_check(addr_min, addr_max, f, len, &flen) != 1 || flen != len)
		return -1;
	if (f[1] & BMS_MODBUS_EXCEPTION) {
		bms_modbus_describe_exception(f, NULL, x);
		return 1;
	}
	if (!bms_fc3_is_request(f, len))
		return 0;
	uint16_t start = (uint16_t)((f[2] << 8) | f[3]), count = (uint16_t)((f[4] << 8) | f[5]);
	char name[40];
	snprintf(name, sizeof(name), "read %u x%u", start, count);
	bms_desc_init(x, BMS_DIR_REQUEST, start, f[0], name);
	bms_desc_num(x, "address", f[0]);
	bms_desc_num(x, "function", f[1]);
	bms_desc_num(x, "start_register", start);
	bms_desc_num(x, "register_count", count);
	return 1;
}

static const struct bms_fc3_block *block_of(const struct bms_fc3_family *f,
					    const struct bms_request *req)
{
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step < f->probe ? &f->blocks[req->step] : NULL;
	case BMS_REQ_POLL:
		return req->step < f->nblocks ? &f->blocks[req->step] : NULL;
	case BMS_REQ_READ:
		for (size_t i = 0; req->step == 0 && i < f->nblocks; i++)
			if (f->blocks[i].start == req->reg)
				return &f->blocks[i];
		return NULL;
	default:
		return NULL;
	}
}

int bms_fc3_build(const struct bms_fc3_family *f, uint8_t addr, const struct bms_request *req,
		  uint8_t *out, size_t cap)
{
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	const struct bms_fc3_block *b = block_of(f, req);
	if (!b)
		return req->kind == BMS_REQ_READ && req->step == 0 ? -EOPNOTSUPP : 0;
	int n = bms_modbus_read_request(addr, BMS_MODBUS_READ_HOLDING, b->start, b->count, out,
					cap);
	return n == -ENOBUFS ? -ENOSPC : n;
}

int bms_fc3_parse(const struct bms_fc3_family *f, uint8_t addr, const struct bms_request *req,
		  const uint8_t *frame, size_t len, struct bms_snapshot *snap)
{
	size_t flen = 0;
	if (bms_fc3_check(f->addr_min, f->addr_max, frame, len, &flen) != 1 || flen != len)
		return -EBADMSG;
	const struct bms_fc3_block *b = block_of(f, req);
	if (!b)
		return -EPROTO;
	const uint8_t *d;
	int r = bms_fc3_reply(addr, b->start, b->count, frame, len, &d);
	return r < 0 ? r : b->parse(d, snap);
}

int bms_fc3_describe(const struct bms_fc3_family *f, const uint8_t *frame, size_t len,
		     struct bms_frame_desc *x)
{
	int r = bms_fc3_describe_frame(f->addr_min, f->addr_max, frame, len, x);
	if (r != 0)
		return r > 0 ? 0 : -1;
	const struct bms_fc3_block *b = NULL;
	for (size_t i = 0; !b && i < f->nblocks; i++)
		if (frame[2] == 2 * f->blocks[i].count)
			b = &f->blocks[i];
	bms_desc_init(x, BMS_DIR_REPLY, b ? b->start : 0xFFFF, frame[0],
		      b ? b->name : "read reply");
	bms_desc_num(x, "address", frame[0]);
	bms_desc_num(x, "function", frame[1]);
	bms_desc_num(x, "byte_count", frame[2]);
	if (b && b->describe)
		b->describe(frame + 3, x);
	return 0;
}
