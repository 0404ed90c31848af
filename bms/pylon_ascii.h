/* SPDX-License-Identifier: MIT */
/*
 * The Pylontech-style ASCII frame, written once for the families that share
 * it (Seplos v2, PACE, Pylontech RS485, Daren, EG4 LifePower4 v2). Pure: no
 * I/O, no logging, no allocation; every function reads only what it is given.
 *
 * Frame:  '~' VER ADR CID1 CID2 LENGTH INFO CHKSUM CR
 *   every field between '~' and CR is uppercase hex ASCII: VER, ADR, CID1,
 *   CID2 two characters each, LENGTH and CHKSUM four, INFO LENID characters
 *   (two per byte).
 *   LENGTH = LCHKSUM << 12 | LENID, LENID the INFO character count (< 4096),
 *     LCHKSUM = -(sum of LENID's three nibbles) mod 16.
 *   CHKSUM = -(sum of the ASCII codes after '~' up to INFO's end) mod 65536.
 *   CID2 is the command in a request and the return code (RTN) in a reply:
 *   0 OK, 1 VER error, 2 CHKSUM error, 3 LCHKSUM error, 4 CID2 invalid,
 *   5 command format error, 6 invalid INFO, 0x90 ADR error, 0x91 internal
 *   communication error.
 *
 * Sample (Seplos v2, address 0, telemetry of pack 0):
 *   request ~20004642E00200FD37\r   VER 20 ADR 00 CID1 46 CID2 42 LENGTH E002
 *                                    INFO "00" CHKSUM FD37
 *   reply   ~2000460010960001100CD7...0000DC6C\r   RTN 00, LENGTH 1096 (150
 *           characters: 75 bytes of INFO)
 *
 * Errors: -EBADMSG (a frame that breaks the rules above: characters,
 * LCHKSUM, CHKSUM, EOI), -EREMOTEIO (a reply whose RTN is not 0: the device
 * refused; the code in *ret_rtn), -EPROTO (a good frame that does not answer
 * us: VER or ADR differ), -EINVAL / -ENOBUFS (arguments, output too small).
 */
#ifndef SB_BMS_PYLON_ASCII_H
#define SB_BMS_PYLON_ASCII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms.h"

#define BMS_PYLON_SOI '~'
#define BMS_PYLON_EOI '\r'
#define BMS_PYLON_OVERHEAD 18 /* SOI, 12 header characters, CHKSUM, EOI */
#define BMS_PYLON_MAX_LENID 4095
#define BMS_PYLON_MAX_FRAME (BMS_PYLON_OVERHEAD + BMS_PYLON_MAX_LENID)

/* The 16-bit LENGTH field for lenid INFO characters (lenid < 4096). */
uint16_t bms_pylon_length(uint16_t lenid);
/* The CHKSUM of the characters p[0..n) (those after SOI, before CHKSUM). */
uint16_t bms_pylon_chksum(const uint8_t *p, size_t n);

/*
 * Build a frame: info[0..info_len) are INFO bytes, written as hex. Returns
 * the frame length or -EINVAL (INFO too long) / -ENOBUFS.
 */
int bms_pylon_request(uint8_t ver, uint8_t adr, uint8_t cid1, uint8_t cid2, const uint8_t *info,
		      size_t info_len, uint8_t *out, size_t cap);

/*
 * Is cid2 a return code (a reply) rather than a command (a request)? The two
 * share the field; the RTN codes (0..6, 0x90, 0x91) are no command of any
 * family, so a driver on a shared line tells another master's request, or
 * the echo of its own, from a reply without the request.
 */
bool bms_pylon_is_reply(uint8_t cid2);

/* Frame-check options; NULL means SOI '~'. KS48100 starts its frames with '>'. */
struct bms_pylon_spec {
	uint8_t soi;
};

/*
 * bms_check_fn (bms/bytes.h) for a frame at p with avail bytes: 1 whole
 * frame with good LCHKSUM, CHKSUM and EOI (length in *ret_len), 0 may be
 * one but incomplete, -1 none here. ctx: const struct bms_pylon_spec * or
 * NULL. Reads only p[0..avail).
 */
int bms_pylon_check(const void *ctx, const uint8_t *p, size_t avail, size_t *ret_len);
/* The candidate scan with bms_pylon_check: a driver's frame_find in one line. */
enum bms_find bms_pylon_find(const struct bms_pylon_spec *spec, const uint8_t *buf, size_t len,
			     size_t *ret_start, size_t *ret_len);

/* A decoded frame; info points into the frame (hex characters, not bytes). */
struct bms_pylon_frame {
	uint8_t ver, adr, cid1, cid2; /* cid2: command (request) or RTN (reply) */
	const uint8_t *info;
	size_t info_chars;
};

/*
 * Decode the header of a whole frame (every rule checked, the SOI that of
 * spec, NULL for '~'): 0 or -EBADMSG.
 */
int bms_pylon_decode(const struct bms_pylon_spec *spec, const uint8_t *frame, size_t len,
		     struct bms_pylon_frame *ret);

/* INFO as bytes into out[0..cap): the byte count, or -EBADMSG / -ENOBUFS. */
int bms_pylon_info(const struct bms_pylon_frame *f, uint8_t *out, size_t cap);

/*
 * A reply to a request sent with (ver, adr): decode (SOI of spec), match VER and ADR, and
 * hand back its INFO bytes. Returns the INFO byte count, -EBADMSG,
 * -EPROTO (VER or ADR differ), -EREMOTEIO (RTN not 0, code in *ret_rtn,
 * which may be NULL) or -ENOBUFS.
 */
int bms_pylon_reply(const struct bms_pylon_spec *spec, uint8_t ver, uint8_t adr,
		    const uint8_t *frame, size_t len, uint8_t *info, size_t cap, uint8_t *ret_rtn);

#endif
