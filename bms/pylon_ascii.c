/* SPDX-License-Identifier: MIT */
/* The Pylontech-style '~' ASCII frame (see pylon_ascii.h). */
#include "pylon_ascii.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"

#define HDR_END 13 /* SOI + VER ADR CID1 CID2 (8) + LENGTH (4) */

static const char hexdig[] = "0123456789ABCDEF";

/*
 * Value of one hex character, -1 for anything else. Upper case only, as the
 * protocol sends it: a lower-case letter in CHKSUM would read as the same
 * number, so a flipped case bit there would pass unnoticed.
 */
static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* n hex characters at p (all known to be hex digits) as a number. */
static unsigned hexnum(const uint8_t *p, size_t n)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 4) | (unsigned)hexval(p[i]);
	return v;
}

uint16_t bms_pylon_length(uint16_t lenid)
{
	lenid &= 0x0FFF;
	unsigned sum = (lenid & 0xF) + ((lenid >> 4) & 0xF) + ((lenid >> 8) & 0xF);
	unsigned lchk = (~sum + 1) & 0xF;
	return (uint16_t)((lchk << 12) | lenid);
}

uint16_t bms_pylon_chksum(const uint8_t *p, size_t n)
{
	return (uint16_t)(~bms_sum16(p, n) + 1);
}

static void put_hex(uint8_t *out, unsigned v, size_t digits)
{
	for (size_t i = digits; i-- > 0; v >>= 4)
		out[i] = (uint8_t)hexdig[v & 0xF];
}

bool bms_pylon_is_reply(uint8_t cid2)
{
	return cid2 <= 0x06 || cid2 == 0x90 || cid2 == 0x91;
}

int bms_pylon_request(uint8_t ver, uint8_t adr, uint8_t cid1, uint8_t cid2, const uint8_t *info,
		      size_t info_len, uint8_t *out, size_t cap)
{
	if ((info_len > 0 && !info) || info_len > BMS_PYLON_MAX_LENID / 2)
		return -EINVAL;
	size_t lenid = 2 * info_len;
	size_t total = BMS_PYLON_OVERHEAD + lenid;
	if (!out || cap < total)
		return -ENOBUFS;
	out[0] = BMS_PYLON_SOI;
	put_hex(out + 1, ver, 2);
	put_hex(out + 3, adr, 2);
	put_hex(out + 5, cid1, 2);
	put_hex(out + 7, cid2, 2);
	put_hex(out + 9, bms_pylon_length((uint16_t)lenid), 4);
	for (size_t i = 0; i < info_len; i++)
		put_hex(out + HDR_END + 2 * i, info[i], 2);
	put_hex(out + HDR_END + lenid, bms_pylon_chksum(out + 1, HDR_END - 1 + lenid), 4);
	out[total - 1] = BMS_PYLON_EOI;
	return (int)total;
}

int bms_pylon_check(const void *ctx, const uint8_t *p, size_t avail, size_t *ret_len)
{
	const struct bms_pylon_spec *spec = ctx;
	uint8_t soi = spec ? spec->soi : BMS_PYLON_SOI;
	if (avail == 0 || p[0] != soi)
		return -1;
	/* every character up to CHKSUM's end is hex: garbage fails on its first byte */
	size_t hdr = avail < HDR_END ? avail : HDR_END;
	for (size_t i = 1; i < hdr; i++)
		if (hexval(p[i]) < 0)
			return -1;
	if (avail < HDR_END)
		return 0;
	unsigned length = hexnum(p + 9, 4);
	uint16_t lenid = (uint16_t)(length & 0x0FFF);
	/* INFO is bytes, two characters each: an odd count cannot be decoded */
	if (bms_pylon_length(lenid) != length || (lenid & 1))
		return -1;
	size_t total = BMS_PYLON_OVERHEAD + lenid;
	size_t hex_end = total - 1;
	for (size_t i = HDR_END; i < hex_end && i < avail; i++)
		if (hexval(p[i]) < 0)
			return -1;
	if (avail < total)
		return 0;
	if (p[total - 1] != BMS_PYLON_EOI)
		return -1;
	if (bms_pylon_chksum(p + 1, HDR_END - 1 + lenid) != hexnum(p + HDR_END + lenid, 4))
		return -1;
	*ret_len = total;
	return 1;
}

enum bms_find bms_pylon_find(const struct bms_pylon_spec *spec, const uint8_t *buf, size_t len,
			     size_t *ret_start, size_t *ret_len)
{
	return bms_scan_frames(buf, len, bms_pylon_check, spec, ret_start, ret_len);
}

int bms_pylon_decode(const struct bms_pylon_spec *spec, const uint8_t *frame, size_t len,
		     struct bms_pylon_frame *ret)
{
	if (!frame || !ret)
		return -EINVAL;
	size_t flen = 0;
	if (bms_pylon_check(spec, frame, len, &flen) != 1 || flen != len)
		return -EBADMSG;
	ret->ver = (uint8_t)hexnum(frame + 1, 2);
	ret->adr = (uint8_t)hexnum(frame + 3, 2);
	ret->cid1 = (uint8_t)hexnum(frame + 5, 2);
	ret->cid2 = (uint8_t)hexnum(frame + 7, 2);
	ret->info = frame + HDR_END;
	ret->info_chars = len - BMS_PYLON_OVERHEAD;
	return 0;
}

int bms_pylon_info(const struct bms_pylon_frame *f, uint8_t *out, size_t cap)
{
	if (!f || (f->info_chars > 0 && !f->info))
		return -EINVAL;
	if (f->info_chars & 1)
		return -EBADMSG;
	size_t n = f->info_chars / 2;
	if (n > cap || (n > 0 && !out))
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(f->info[2 * i]), lo = hexval(f->info[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)n;
}

int bms_pylon_reply(const struct bms_pylon_spec *spec, uint8_t ver, uint8_t adr,
		    const uint8_t *frame, size_t len, uint8_t *info, size_t cap, uint8_t *ret_rtn)
{
	struct bms_pylon_frame f;
	int rc = bms_pylon_decode(spec, frame, len, &f);
	if (rc < 0)
		return rc;
	if (f.ver != ver || f.adr != adr)
		return -EPROTO;
	if (f.cid2 != 0) {
		if (ret_rtn)
			*ret_rtn = f.cid2;
		return -EREMOTEIO;
	}
	return bms_pylon_info(&f, info, cap);
}

/* ---- what the '~' BMS families share above the frame ---- */

int bms_pylon_adr(uint8_t address, uint8_t max, uint8_t *ret_adr)
{
	if (address > max)
		return -EINVAL;
	*ret_adr = address ? (uint8_t)(address - 1) : 0;
	return 0;
}

uint8_t bms_pylon_step_cmd(const struct bms_request *req, uint8_t probe, const uint8_t *poll,
			   size_t npoll)
{
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step == 0 ? probe : 0;
	case BMS_REQ_POLL:
		return req->step < npoll ? poll[req->step] : 0;
	case BMS_REQ_READ:
		return req->step == 0 ? (uint8_t)req->reg : 0;
	default:
		return 0;
	}
}

bool bms_pylon_is_family(const struct bms_pylon_family *fam, const struct bms_pylon_frame *f)
{
	return f->ver == fam->ver && (f->cid1 == fam->cid1 || f->cid1 == fam->cid1_alt);
}

int bms_pylon_check_max(size_t max_frame, const uint8_t *p, size_t avail, size_t *ret_len)
{
	size_t n = 0;
	int r = bms_pylon_check(NULL, p, avail, &n);
	if ((r == 1 && n > max_frame) || (r == 0 && avail >= max_frame))
		return -1;
	if (r == 1)
		*ret_len = n;
	return r;
}

int bms_pylon_build(const struct bms_pylon_family *fam, uint8_t adr, uint8_t cmd, bool pack_info,
		    uint8_t *out, size_t cap)
{
	int n = bms_pylon_request(fam->ver, adr, fam->cid1, cmd, &adr, pack_info ? 1 : 0, out, cap);
	return n == -ENOBUFS ? -ENOSPC : n;
}

int bms_pylon_build_step(const struct bms_pylon_family *fam, uint8_t adr,
			 const struct bms_request *req, uint8_t cmd, bool known, bool pack_info,
			 uint8_t *out, size_t cap)
{
	if (req->kind == BMS_REQ_SET || (req->kind == BMS_REQ_READ && !known))
		return -EOPNOTSUPP;
	return cmd == 0 ? 0 : bms_pylon_build(fam, adr, cmd, pack_info, out, cap);
}

int bms_pylon_reply_check(const struct bms_pylon_family *fam, uint8_t adr, bool cmd_ok,
			  const struct bms_pylon_frame *f)
{
	if (!cmd_ok)
		return -EPROTO;
	if (!bms_pylon_is_reply(f->cid2) || f->adr != adr)
		return BMS_FOREIGN;
	/*
	 * A reply at our ADR in another family's VER/CID1 (a PACE, Daren or
	 * Pylontech pack refusing our VER, the other DR-1363 CID1) is the answer
	 * of the unit we asked: a refusal, not someone else's exchange on a
	 * shared line, which is all BMS_FOREIGN means (bms/bms.h). So the link
	 * stops waiting and counts it refused, and detection moves on.
	 */
	if (!bms_pylon_is_family(fam, f))
		return -EPROTO;
	return f->cid2 != 0 ? -EREMOTEIO : 0;
}

int bms_pylon_parse_reply(const struct bms_pylon_family *fam, uint8_t adr, bool cmd_ok,
			  const uint8_t *frame, size_t len, uint8_t *info, size_t cap)
{
	struct bms_pylon_frame f;
	if (len > fam->max_frame || bms_pylon_decode(NULL, frame, len, &f) < 0)
		return -EBADMSG;
	int r = bms_pylon_reply_check(fam, adr, cmd_ok, &f);
	if (r != 0)
		return r;
	int n = bms_pylon_info(&f, info, cap);
	return n < 0 ? -EPROTO : n;
}

int bms_pylon_tele_read(struct breader *r, uint16_t temp_zero, struct bms_pylon_tele *t)
{
	br_skip(r, 1); /* DATAFLAG */
	t->pack = br_u8(r);
	t->m = br_u8(r);
	if (r->err || t->m == 0 || t->m > BMS_MAX_CELLS)
		return -EPROTO;
	for (unsigned i = 0; i < t->m; i++)
		t->cells[i] = br_u16be(r);
	t->n = br_u8(r);
	if (r->err || t->n < 2 || t->n > BMS_MAX_TEMPS + 2)
		return -EPROTO;
	for (unsigned i = 0; i < t->n; i++) {
		int v = (int)br_u16be(r) - temp_zero;
		if (v > INT16_MAX)
			return -EPROTO;
		t->temps[i] = (int16_t)v;
	}
	t->current = br_s16be(r);
	t->volt = br_u16be(r);
	t->remain = br_u16be(r);
	t->custom = br_u8(r);
	return r->err ? -EPROTO : 0;
}

void bms_pylon_tele_apply(const struct bms_pylon_tele *t, unsigned mosfet, struct bms_snapshot *s)
{
	s->cell_count = t->m;
	memcpy(s->cell_mv, t->cells, t->m * sizeof(t->cells[0]));
	unsigned nt = t->n - 2u; /* the last two are not cell sensors */
	s->temp_count = (uint8_t)(nt > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : nt);
	memcpy(s->temp_dc, t->temps, s->temp_count * sizeof(t->temps[0]));
	s->mosfet_temp_dc = t->temps[mosfet];
	s->current_ma = t->current * 10;
	s->capacity_remain_mah = t->remain * 10;
	s->valid |=
		BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_CURRENT | BMS_V_CAP_REMAIN;
}

int bms_pylon_codes_read(struct breader *r, struct bms_pylon_codes *a)
{
	br_skip(r, 1); /* DATAFLAG */
	a->pack = br_u8(r);
	a->m = br_u8(r);
	if (r->err || a->m == 0 || a->m > BMS_MAX_CELLS || !br_has(r, a->m))
		return -EPROTO;
	a->cell_codes = r->p + r->pos;
	br_skip(r, a->m);
	a->n = br_u8(r);
	if (r->err || a->n > BMS_MAX_TEMPS + 2 || !br_has(r, a->n))
		return -EPROTO;
	a->temp_codes = r->p + r->pos;
	br_skip(r, a->n);
	return 0;
}

int bms_pylon_describe_head(size_t max_frame, const uint8_t *frame, size_t len,
			    struct bms_pylon_frame *f, uint8_t *info, size_t cap, int *ret_n,
			    struct bms_frame_desc *x)
{
	if (len > max_frame || bms_pylon_decode(NULL, frame, len, f) < 0)
		return -1;
	int n = bms_pylon_info(f, info, cap);
	if (n < 0)
		return -1;
	*ret_n = n;
	if (bms_pylon_is_reply(f->cid2))
		return 0;
	char name[40];
	snprintf(name, sizeof(name), "request 0x%02X", f->cid2);
	bms_desc_init(x, BMS_DIR_REQUEST, f->cid2, f->adr + 1, name);
	bms_desc_num(x, "ver", f->ver);
	bms_desc_num(x, "adr", f->adr);
	bms_desc_num(x, "cid1", f->cid1);
	bms_desc_num(x, "cid2", f->cid2);
	if (n >= 1)
		bms_desc_num(x, "info_pack", info[0]);
	return 1;
}

void bms_pylon_describe_codes(const struct bms_pylon_codes *a, struct bms_frame_desc *x)
{
	char key[BMS_DESC_KEY];
	for (unsigned i = 0; i < a->n; i++) {
		snprintf(key, sizeof(key), "temp%u_alarm_code", i + 1);
		bms_desc_num(x, key, a->temp_codes[i]);
	}
	for (unsigned i = 0; i < a->m; i++) {
		snprintf(key, sizeof(key), "cell%u_alarm_code", i + 1);
		bms_desc_num(x, key, a->cell_codes[i]);
	}
}

void bms_pylon_describe_reply(const struct bms_pylon_frame *f, uint16_t cmd, const char *name,
			      struct bms_frame_desc *x)
{
	bms_desc_init(x, BMS_DIR_REPLY, cmd, f->adr + 1, name);
	bms_desc_num(x, "ver", f->ver);
	bms_desc_num(x, "adr", f->adr);
	bms_desc_num(x, "cid2_return_code", f->cid2);
	bms_desc_num(x, "info_length", (double)f->info_chars);
}
