/* SPDX-License-Identifier: MIT */
/*
 * The capture decoder behind `serialbattery decode` (docs/PROTOCOLS.md
 * "Decoding a capture"): finds every frame of a driver's protocol in a
 * capture (requests and replies in any order, noise between them), tells
 * what each one is with the driver's describe(), decodes every reply through
 * a BMS_REQ_READ of its command and merges the results into one snapshot.
 * Shared by the CLI and the tests (tests/bms/driver_checks.c).
 */
#ifndef SB_TOOLS_DECODE_H
#define SB_TOOLS_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bms/bms.h"

/* One piece of a capture: a --hex argument or a line of a file. */
struct decode_segment {
	const uint8_t *buf;
	size_t len;
};

struct decode_result {
	struct bms_snapshot snap; /* every decoded reply merged, later ones winning */
	int address;              /* the unit decoded (-1: the protocol has none) */
	unsigned frames;          /* frames of the protocol found */
	unsigned requests;
	unsigned replies_decoded; /* replies (multi-frame: whole replies) put in snap */
	unsigned refused;         /* frames of the protocol that did not fit */
	unsigned foreign;         /* frames for another unit or another master */
	unsigned checksum_errors; /* a frame start whose checksum or length failed */
	unsigned noise_bytes;     /* bytes that are no frame at all */
	unsigned truncated;       /* frame starts cut off by the end of a segment */
	char first_error[160];    /* why the first checksum error or missing frame */
};

/*
 * Decode segs with drv. address: the unit to decode, -1 = the driver's
 * default, or for an addressed protocol the unit of the first reply found.
 * frames: NULL, or where to print one line per frame and per skipped run:
 *   @OFFSET DIR 0xCMD NAME [address N]: {"key": value, ...}
 *   @OFFSET DIR 0xCMD NAME ...: refused: REASON
 * (OFFSET counts bytes over the whole capture). 0, or a negative errno for
 * a usage problem (no memory, a driver without describe()).
 */
int decode_capture(const struct bms_driver *drv, int address, const struct decode_segment *segs,
		   size_t nseg, FILE *frames, struct decode_result *res);

#endif
