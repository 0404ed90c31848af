/* SPDX-License-Identifier: MIT */
/*
 * A bounded byte reader: every read checks the remaining length and fails
 * (sets r->err, returns 0) on overrun instead of reading past the end. Once
 * failed, a reader stays failed, so a parser can read a whole record and
 * test r.err once at the end.
 */
#ifndef SB_BMS_BYTES_H
#define SB_BMS_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms.h"

struct breader {
	const uint8_t *p;
	size_t len;
	size_t pos;
	bool err;
};

static inline struct breader br_init(const uint8_t *p, size_t len)
{
	struct breader r = {p, len, 0, false};
	return r;
}

static inline bool br_has(struct breader *r, size_t n)
{
	if (r->err || n > r->len - r->pos) {
		r->err = true;
		return false;
	}
	return true;
}

/* Move to absolute offset off (fails when off > len). */
static inline void br_seek(struct breader *r, size_t off)
{
	if (r->err || off > r->len)
		r->err = true;
	else
		r->pos = off;
}

static inline void br_skip(struct breader *r, size_t n)
{
	if (br_has(r, n))
		r->pos += n;
}

static inline size_t br_left(const struct breader *r)
{
	return r->err ? 0 : r->len - r->pos;
}

static inline uint8_t br_u8(struct breader *r)
{
	if (!br_has(r, 1))
		return 0;
	return r->p[r->pos++];
}

static inline uint16_t br_u16be(struct breader *r)
{
	if (!br_has(r, 2))
		return 0;
	uint16_t v = (uint16_t)((r->p[r->pos] << 8) | r->p[r->pos + 1]);
	r->pos += 2;
	return v;
}

static inline uint16_t br_u16le(struct breader *r)
{
	if (!br_has(r, 2))
		return 0;
	uint16_t v = (uint16_t)(r->p[r->pos] | (r->p[r->pos + 1] << 8));
	r->pos += 2;
	return v;
}

static inline uint32_t br_u32be(struct breader *r)
{
	if (!br_has(r, 4))
		return 0;
	const uint8_t *b = r->p + r->pos;
	r->pos += 4;
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static inline uint32_t br_u32le(struct breader *r)
{
	if (!br_has(r, 4))
		return 0;
	const uint8_t *b = r->p + r->pos;
	r->pos += 4;
	return ((uint32_t)b[3] << 24) | ((uint32_t)b[2] << 16) | ((uint32_t)b[1] << 8) | b[0];
}

static inline int16_t br_s16be(struct breader *r)
{
	return (int16_t)br_u16be(r);
}
static inline int16_t br_s16le(struct breader *r)
{
	return (int16_t)br_u16le(r);
}
static inline int32_t br_s32le(struct breader *r)
{
	return (int32_t)br_u32le(r);
}
static inline int32_t br_s32be(struct breader *r)
{
	return (int32_t)br_u32be(r);
}

/*
 * Copy n bytes as a string into out (cap bytes incl. NUL), stopping at the
 * first NUL and trimming trailing spaces and non-printables.
 */
void br_str(struct breader *r, size_t n, char *out, size_t cap);

/* Byte writers for request/response builders; callers check capacity first. */
static inline void put_u16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void put_u16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void put_u32be(uint8_t *p, uint32_t v)
{
	put_u16be(p, (uint16_t)(v >> 16));
	put_u16be(p + 2, (uint16_t)v);
}
static inline void put_u32le(uint8_t *p, uint32_t v)
{
	put_u16le(p, (uint16_t)v);
	put_u16le(p + 2, (uint16_t)(v >> 16));
}

/*
 * The candidate scan every framed protocol needs (bms/scan.c). check() looks
 * at a possible frame start p with avail bytes after it and returns 1 for a
 * whole valid frame (its length in *ret_len), 0 for a frame that may start
 * here but is not complete yet, -1 for no frame here. The earliest whole
 * frame wins even after an incomplete earlier candidate, so a header
 * look-alike in garbage with a long length cannot stall a real frame behind
 * it; else NEED_MORE at the earliest candidate; else INVALID.
 */
typedef int (*bms_check_fn)(const void *ctx, const uint8_t *p, size_t avail, size_t *ret_len);
enum bms_find bms_scan_frames(const uint8_t *buf, size_t len, bms_check_fn check, const void *ctx,
			      size_t *ret_start, size_t *ret_len);

/* Checksums (bms/checksum.c), each over p[0..len). */
uint16_t bms_crc16_modbus(const uint8_t *p, size_t len); /* init 0xFFFF, poly 0xA001 */
/* CRC-8 poly 0x07, MSB first, no final XOR (SMBus PEC); crc = 0 or a running value */
uint8_t bms_crc8(uint8_t crc, const uint8_t *p, size_t len);
uint8_t bms_sum8(const uint8_t *p, size_t len);   /* sum & 0xFF */
uint16_t bms_sum16(const uint8_t *p, size_t len); /* sum & 0xFFFF */

#endif
