/* SPDX-License-Identifier: MIT */
/*
 * Modbus RTU, written once for every family that speaks it (Seplos v3,
 * Renogy, EG4 LL, Pylontech RT, Felicity, Heltec, JK PB's trigger writes,
 * JBD UP16S's vendor function 0x78). Pure: no I/O, no logging, no
 * allocation; every function reads only the bytes it is given.
 *
 * Frame (ADU): addr fn PDU... crc(2). The CRC is CRC-16/Modbus (init 0xFFFF,
 * poly 0xA001, no final XOR) over everything before it, sent LOW byte first;
 * register values and addresses are big-endian.
 *
 *   read 0x01..0x04   request  addr fn start(2) count(2) crc        8 bytes
 *                     reply    addr fn bytes(1) data[bytes] crc      5 + bytes
 *   write 0x05/0x06   request  addr fn reg(2) value(2) crc           8 bytes
 *                     reply    the request echoed                    8 bytes
 *   write 0x0F/0x10   request  addr fn start(2) count(2) bytes(1) data crc
 *                     reply    addr fn start(2) count(2) crc         8 bytes
 *   exception         reply    addr fn|0x80 code crc                 5 bytes
 *
 * Sample (Seplos v3, pack 1, PIA block):
 *   request 01 04 10 00 00 11 34 C6
 *   reply   01 04 22 14 CD FF 77 ... D3 2E    (0x22 = 34 bytes = 17 registers)
 *   refused 00 84 02 93 01                    (exception 2: illegal address)
 *
 * Errors, one meaning each, so a driver can tell a dead line from a device
 * that said no:
 *   -EBADMSG   CRC wrong, or the frame contradicts its own length fields
 *   -EREMOTEIO an exception reply: the device refused (code in *ret_exception)
 *   -EPROTO    a well-formed frame that does not answer the request
 *              (address, function, register, count or value differ)
 *   -ERANGE    a register map entry lies outside the reply's registers
 *   -EOVERFLOW a mapped value does not fit its snapshot field
 *   -EINVAL / -ENOBUFS  bad arguments / output too small
 */
#ifndef SB_BMS_MODBUS_RTU_H
#define SB_BMS_MODBUS_RTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms.h"

enum bms_modbus_fn {
	BMS_MODBUS_READ_COILS = 0x01,
	BMS_MODBUS_READ_DISCRETE = 0x02,
	BMS_MODBUS_READ_HOLDING = 0x03,
	BMS_MODBUS_READ_INPUT = 0x04,
	BMS_MODBUS_WRITE_COIL = 0x05,
	BMS_MODBUS_WRITE_SINGLE = 0x06,
	BMS_MODBUS_WRITE_COILS = 0x0F,
	BMS_MODBUS_WRITE_MULTIPLE = 0x10,
};

#define BMS_MODBUS_EXCEPTION 0x80
#define BMS_MODBUS_MAX_ADU 256       /* the RTU limit: addr + 253-byte PDU + CRC */
#define BMS_MODBUS_MAX_READ_REGS 125 /* 250 data bytes fit one reply */
#define BMS_MODBUS_MAX_READ_BITS 2000
#define BMS_MODBUS_MAX_WRITE_REGS 123

/* CRC-16/Modbus of p[0..len) appended at p[len], low byte first. */
void bms_modbus_put_crc(uint8_t *p, size_t len);
/* Whether the last two bytes of frame[0..len) are the CRC of the rest. */
bool bms_modbus_crc_ok(const uint8_t *frame, size_t len);

/*
 * Request builders: write the whole frame (CRC included) to out[0..cap) and
 * return its length, or -EINVAL (function or count out of the Modbus
 * limits) / -ENOBUFS.
 */
int bms_modbus_read_request(uint8_t addr, uint8_t fn, uint16_t start, uint16_t count, uint8_t *out,
			    size_t cap); /* fn 0x01..0x04 */
int bms_modbus_write_single(uint8_t addr, uint16_t reg, uint16_t value, uint8_t *out, size_t cap);
int bms_modbus_write_multiple(uint8_t addr, uint16_t start, const uint16_t *values, uint16_t count,
			      uint8_t *out, size_t cap);
/* Any function, vendor ones too (JBD UP16S 0x78): addr fn pdu[0..n) crc. */
int bms_modbus_frame(uint8_t addr, uint8_t fn, const uint8_t *pdu, size_t n, uint8_t *out,
		     size_t cap);

/*
 * A vendor function's frame shape, for the frame check: a frame of `fn` is
 * `fixed` bytes long (CRC included) when fixed is not 0; else it carries a
 * big-endian length of len_size (1 or 2) bytes at len_off counting the
 * data bytes after it: total = len_off + len_size + length + 2, with length
 * in [len_min, len_max] (len_max 0: no limit).
 * JBD UP16S 0x78 reply: {.fn = 0x78, .len_off = 6, .len_size = 2,
 * .len_min = 1, .len_max = 512}; len_min 1 keeps an echo of the 10-byte
 * request (length 0, good CRC) from passing as a reply.
 */
struct bms_modbus_shape {
	uint8_t fn;
	uint8_t fixed;
	uint8_t len_off;
	uint8_t len_size;
	uint16_t len_min, len_max;
};

/* What the frame check accepts besides the standard functions. */
struct bms_modbus_spec {
	bool requests; /* judge frames as requests (simulator, passive listener), else replies */
	const struct bms_modbus_shape *vendor; /* extra functions, may be NULL */
	size_t nvendor;
	/* only the vendor functions and their exceptions: a family that never asks a
	 * standard one (JBD UP16S) would take "04 02 c8" in its data for a frame start */
	bool vendor_only;
	/* only frames from addresses addr_min..addr_max: a foreign unit's frame is garbage */
	bool match_addr;
	uint8_t addr_min, addr_max;
};

/*
 * bms_check_fn (bms/bytes.h) for a Modbus RTU frame at p with avail bytes:
 * 1 a whole frame of a known function with a good CRC (length in *ret_len),
 * 0 may be one but incomplete, -1 none here. ctx is a const struct
 * bms_modbus_spec * (NULL: replies of the standard functions). Reads only
 * p[0..avail).
 */
int bms_modbus_check(const void *ctx, const uint8_t *p, size_t avail, size_t *ret_len);
/* The candidate scan (bms_scan_frames) with bms_modbus_check: a driver's frame_find in one line. */
enum bms_find bms_modbus_find(const struct bms_modbus_spec *spec, const uint8_t *buf, size_t len,
			      size_t *ret_start, size_t *ret_len);

/*
 * A frame check for a bus carrying our requests too (a capture, another
 * master, an adapter's echo): a reply by bms_modbus_check with spec, else a
 * request by request_check (a bms_check_fn of the family's own requests).
 * 1 and *ret_len for a whole one, 0 while either may still complete, -1 when
 * neither can.
 */
int bms_modbus_check_exchange(const struct bms_modbus_spec *spec,
			      int (*request_check)(const uint8_t *p, size_t avail, size_t *ret_len),
			      const uint8_t *p, size_t avail, size_t *ret_len);

/* True when frame (len bytes) is one whole 8-byte read request by request_check. */
bool bms_modbus_is_request(int (*request_check)(const uint8_t *p, size_t avail, size_t *ret_len),
			   const uint8_t *frame, size_t len);

/* describe of an exception reply (frame[1] has BMS_MODBUS_EXCEPTION): name, or
 * "exception to 0x<function>" when NULL; address, function and exception_code. */
void bms_modbus_describe_exception(const uint8_t *frame, const char *name,
				   struct bms_frame_desc *x);

/* What a request asked: decoded from our own request bytes, or built by hand. */
struct bms_modbus_req {
	uint8_t addr;
	uint8_t fn;
	uint16_t start; /* register or coil */
	uint16_t count; /* registers or coils; 1 for 0x05/0x06 */
	uint16_t value; /* 0x05/0x06 only */
};

/* Decode a standard request frame (CRC checked): 0 or -EBADMSG / -EPROTO (unknown function). */
int bms_modbus_parse_request(const uint8_t *frame, size_t len, struct bms_modbus_req *ret);

/*
 * Check a whole reply frame[0..len) against what req asked. On 0 sets
 * *ret_data / *ret_n to the data bytes of a read reply (registers
 * big-endian, or packed coils LSB first) and to NULL / 0 for a write.
 * On -EREMOTEIO sets *ret_exception to the device's exception code.
 * ret_exception may be NULL.
 */
int bms_modbus_reply(const struct bms_modbus_req *req, const uint8_t *frame, size_t len,
		     const uint8_t **ret_data, size_t *ret_n, uint8_t *ret_exception);

/*
 * Register maps: a Modbus family is mostly a table of these. Each entry reads
 * `count` consecutive values of `type` starting at `reg` and stores
 *   value = (raw + offset) * mul / div     (rounded toward zero: a
 *                                            magnitude is never overstated)
 * into the snapshot field, setting `valid`. With `mask` set the raw value is
 * first reduced to a flag, 1 when any bit of raw & mask is set, else 0, so a
 * status bit becomes a bool (or, with mul 2, an alarm level). mul 0 counts
 * as 1, div 0 as 1. Name the field with BMS_MODBUS_FIELD(member) or, for an
 * array filled with count > 1, BMS_MODBUS_ARRAY(member).
 */
enum bms_modbus_type {
	BMS_MODBUS_U16, /* one register, big-endian (the standard) */
	BMS_MODBUS_S16,
	BMS_MODBUS_U16_LE, /* one register, bytes swapped (Heltec) */
	BMS_MODBUS_S16_LE,
	BMS_MODBUS_U8_HI, /* the high byte of a register */
	BMS_MODBUS_U8_LO,
	BMS_MODBUS_S8_HI,
	BMS_MODBUS_S8_LO,
	BMS_MODBUS_U32, /* two registers, high word first (Renogy) */
	BMS_MODBUS_S32,
	BMS_MODBUS_U32_WS, /* two registers, low word first (Seplos v3 EIA) */
	BMS_MODBUS_S32_WS,
	BMS_MODBUS_U32_LE, /* four bytes little-endian (Heltec) */
	BMS_MODBUS_S32_LE,
	BMS_MODBUS_ASCII, /* count registers of text into a char array */
};

/* The C type of the snapshot field an entry writes. */
enum bms_modbus_ftype {
	BMS_MODBUS_F_BOOL,
	BMS_MODBUS_F_U8,
	BMS_MODBUS_F_U16,
	BMS_MODBUS_F_U32,
	BMS_MODBUS_F_S16,
	BMS_MODBUS_F_S32,
	BMS_MODBUS_F_S64,
	BMS_MODBUS_F_CHARS,
};

#define BMS_MODBUS_FTYPE_OF(x)                                                                     \
	_Generic((x), bool: BMS_MODBUS_F_BOOL, uint8_t: BMS_MODBUS_F_U8,                          \
		 uint16_t: BMS_MODBUS_F_U16, uint32_t: BMS_MODBUS_F_U32,                          \
		 int16_t: BMS_MODBUS_F_S16, int32_t: BMS_MODBUS_F_S32, int64_t: BMS_MODBUS_F_S64, \
		 char *: BMS_MODBUS_F_CHARS)
/* A scalar field, or a char array for BMS_MODBUS_ASCII. */
#define BMS_MODBUS_FIELD(m)                                                                        \
	.field = offsetof(struct bms_snapshot, m),                                                 \
	.field_size = sizeof(((struct bms_snapshot *)0)->m),                                       \
	.ftype = BMS_MODBUS_FTYPE_OF(((struct bms_snapshot *)0)->m)
/* An array field filled element by element (count > 1): cell_mv, temp_dc. */
#define BMS_MODBUS_ARRAY(m)                                                                        \
	.field = offsetof(struct bms_snapshot, m),                                                 \
	.field_size = sizeof(((struct bms_snapshot *)0)->m),                                       \
	.ftype = BMS_MODBUS_FTYPE_OF(((struct bms_snapshot *)0)->m[0])

struct bms_modbus_reg {
	uint16_t reg;   /* first register */
	uint16_t count; /* values (ASCII: registers); 0 counts as 1 */
	enum bms_modbus_type type;
	uint32_t mask;  /* 0: a number; else a flag, see above */
	int32_t offset; /* added to raw before scaling (0.1 K -> 0.1 degC: -2731) */
	int32_t mul, div;
	size_t field;                /* offsetof(struct bms_snapshot, ...) */
	size_t field_size;           /* sizeof the whole member */
	enum bms_modbus_ftype ftype; /* element type */
	uint32_t valid;              /* enum bms_valid bits set when written */
};

/*
 * Apply map[0..n) to the registers of one read reply: data[0..len) holds
 * len / 2 registers, the first being `start`. All or nothing: every entry is
 * checked (inside the reply, value fits its field, map entry fits its field)
 * before anything is written, so on error snap is untouched. Returns 0,
 * -ERANGE (an entry outside the reply), -EOVERFLOW (a value that does not
 * fit) or -EINVAL (a malformed entry: array past its field, odd data length).
 */
int bms_modbus_map_apply(const struct bms_modbus_reg *map, size_t n, uint16_t start,
			 const uint8_t *data, size_t len, struct bms_snapshot *snap);

#endif
