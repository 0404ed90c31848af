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

/* ---- what the '~' BMS families (PACE, Seplos v2) share above the frame ---- */

struct breader;

/* A family's frames: VER, CID1 (and a second CID1 it may answer with; = cid1
 * when none), and the longest frame it ever takes. */
struct bms_pylon_family {
	uint8_t ver, cid1, cid1_alt;
	size_t max_frame;
};

/* The wire ADR of driver address n: the pack at ADR n - 1 (the core ends its address lists
 * with 0, which stands for ADR 0 too). -EINVAL above max. */
int bms_pylon_adr(uint8_t address, uint8_t max, uint8_t *ret_adr);

/* The command a request stands for: probe for step 0 of BMS_REQ_PROBE, poll[step] of
 * BMS_REQ_POLL, the register of BMS_REQ_READ step 0; 0 = the cycle has no such step. */
uint8_t bms_pylon_step_cmd(const struct bms_request *req, uint8_t probe, const uint8_t *poll,
			   size_t npoll);

/* True when f is of fam (its VER and one of its CID1s). */
bool bms_pylon_is_family(const struct bms_pylon_family *fam, const struct bms_pylon_frame *f);

/* bms_pylon_check bounded: a header announcing more than max_frame is garbage (-1), as is
 * max_frame bytes that are still not a whole frame. */
int bms_pylon_check_max(size_t max_frame, const uint8_t *p, size_t avail, size_t *ret_len);

/* A request for command cmd to the pack at adr; INFO is the ADR byte itself when pack_info
 * (0x42/0x44 name the pack), else empty. Its length, -ENOSPC when cap is too small. */
int bms_pylon_build(const struct bms_pylon_family *fam, uint8_t adr, uint8_t cmd, bool pack_info,
		    uint8_t *out, size_t cap);

/* build_request of a '~' driver that writes nothing: a SET, or a READ of a register that is
 * not one of the family's commands (!known), -EOPNOTSUPP; no step (cmd 0) 0; else
 * bms_pylon_build of cmd. */
int bms_pylon_build_step(const struct bms_pylon_family *fam, uint8_t adr,
			 const struct bms_request *req, uint8_t cmd, bool known, bool pack_info,
			 uint8_t *out, size_t cap);

/*
 * A decoded reply's checks, in this order: !cmd_ok (the request stands for
 * no command of the family) -EPROTO; a request on the line (CID2 a command:
 * another master, our echo) or another ADR's reply BMS_FOREIGN; a reply at
 * our ADR in another family's VER/CID1 -EPROTO (the unit we asked refusing
 * our words, not someone else's exchange: every '~' driver answers so); a
 * non-zero RTN -EREMOTEIO; else 0. For drivers that decode themselves
 * (another SOI: DR-1363).
 */
int bms_pylon_reply_check(const struct bms_pylon_family *fam, uint8_t adr, bool cmd_ok,
			  const struct bms_pylon_frame *f);

/*
 * A reply's checks: not one whole frame of at most max_frame bytes -EBADMSG;
 * then bms_pylon_reply_check. Then INFO decoded into info: its length in
 * bytes, or -EPROTO.
 */
int bms_pylon_parse_reply(const struct bms_pylon_family *fam, uint8_t adr, bool cmd_ok,
			  const uint8_t *frame, size_t len, uint8_t *info, size_t cap);

/*
 * The telemetry (0x42) INFO head both families share (bytes, BE): DATAFLAG,
 * pack, M (1..BMS_MAX_CELLS), M x cell mV, N (2..BMS_MAX_TEMPS + 2), N x
 * temperature in 0.1 K (temp_zero = 0 degC), current s16 10 mA, pack
 * voltage, remaining capacity, custom number. r is left at what follows;
 * -EPROTO for a count out of range, a temperature beyond int16 or a short INFO.
 */
struct bms_pylon_tele {
	uint8_t pack, m, n, custom;
	uint16_t cells[BMS_MAX_CELLS];
	int16_t temps[BMS_MAX_TEMPS + 2]; /* 0.1 degC */
	int16_t current;                  /* 10 mA */
	uint16_t volt, remain;            /* the family's units; remain 10 mAh */
};
int bms_pylon_tele_read(struct breader *r, uint16_t temp_zero, struct bms_pylon_tele *t);

/* Cells, the cell temperatures (all but the last two sensors), the MOSFET sensor (index
 * mosfet of the sensors), current and remaining capacity of t into s, with their valid bits. */
void bms_pylon_tele_apply(const struct bms_pylon_tele *t, unsigned mosfet, struct bms_snapshot *s);

/*
 * The alarm/status (0x44) INFO head both families share: DATAFLAG, pack, M
 * (1..BMS_MAX_CELLS), M cell codes, N (0..BMS_MAX_TEMPS + 2), N sensor codes
 * (pointers into r's data). r is left at what follows; -EPROTO when a count
 * is out of range or the INFO is short.
 */
struct bms_pylon_codes {
	uint8_t pack, m, n;
	const uint8_t *cell_codes, *temp_codes;
};
int bms_pylon_codes_read(struct breader *r, struct bms_pylon_codes *a);

/* describe's items for a's codes: temp<i>_alarm_code, then cell<i>_alarm_code (from 1). */
void bms_pylon_describe_codes(const struct bms_pylon_codes *a, struct bms_frame_desc *x);

/*
 * describe's common part: the frame (at most max_frame bytes) decoded into *f
 * and its INFO into info (-1 when either fails). A request is described whole
 * here (returns 1); for a reply returns 0 and *ret_n = the INFO length, for
 * the family to tell the command from the layout and call
 * bms_pylon_describe_reply.
 */
int bms_pylon_describe_head(size_t max_frame, const uint8_t *frame, size_t len,
			    struct bms_pylon_frame *f, uint8_t *info, size_t cap, int *ret_n,
			    struct bms_frame_desc *x);

/* Start the description of a reply: command cmd (0 = not told), name, and
 * the header items ver, adr, cid2_return_code, info_length. */
void bms_pylon_describe_reply(const struct bms_pylon_frame *f, uint16_t cmd, const char *name,
			      struct bms_frame_desc *x);

#endif
