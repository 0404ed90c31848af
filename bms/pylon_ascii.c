/* SPDX-License-Identifier: MIT */
/* The Pylontech-style '~' ASCII frame (see pylon_ascii.h). */
#include "pylon_ascii.h"

#include <errno.h>

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
