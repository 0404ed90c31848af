/* SPDX-License-Identifier: MIT */
/*
 * The shape the register-map families share that read nothing but holding
 * registers (function 0x03): Heltec, Felicity, ECS. One place for their
 * frame check, the check of a reply against the block asked and the
 * description of the frames that carry no registers (requests,
 * exceptions), so each driver is its register map and its plausibility.
 *
 * Frames (bms/modbus_rtu.h): request addr 03 start(2) count(2) crc, 8 bytes;
 * reply addr 03 bytes data crc, 5 + bytes (always odd: never taken for a
 * request); exception addr 83 code crc.
 */
#ifndef SB_BMS_MODBUS_FC3_H
#define SB_BMS_MODBUS_FC3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms.h"

/*
 * The frame check (struct bms_driver.frame_check semantics) for a family
 * whose units sit at addr_min..addr_max: function 0x03 replies and
 * exceptions from them, and function 0x03 read requests to them (an
 * adapter's echo of ours, another master's), so a capture's requests are
 * found whole. Any other function is no frame here.
 */
int bms_fc3_check(uint8_t addr_min, uint8_t addr_max, const uint8_t *p, size_t avail,
		  size_t *ret_len);

/* A whole frame the check accepted: is it a read request (8 bytes)? */
bool bms_fc3_is_request(const uint8_t *f, size_t len);

/*
 * A whole frame the check accepted, against the read of count registers at
 * start from addr: 0 with *ret_data (2 * count bytes); BMS_FOREIGN for a
 * request, another unit's frame, or a reply of another size (it answers
 * another read); -EREMOTEIO for our unit's exception; -EBADMSG for a frame
 * that contradicts itself.
 */
int bms_fc3_reply(uint8_t addr, uint16_t start, uint16_t count, const uint8_t *f, size_t len,
		  const uint8_t **ret_data);

/*
 * Describe what is no data reply: a read request ("read <start> x<count>",
 * with address, function, start_register, register_count) or an exception
 * (address, function, exception_code). 1 = described, 0 = a data reply
 * (the driver tells its block), -1 = not a whole frame of the shape.
 */
int bms_fc3_describe_frame(uint8_t addr_min, uint8_t addr_max, const uint8_t *f, size_t len,
			   struct bms_frame_desc *x);

/*
 * A family as its reads: the poll is blocks[0..nblocks) in order (one step
 * each), the probe blocks[0..probe). Each block decodes its own data
 * (2 * count bytes, the registers from start) into the snapshot: 0, or
 * -EPROTO for values the family never sends (nothing written then). The
 * blocks' sizes differ, so a reply, which names no register, tells its
 * block by its byte count (describe, `serialbattery decode`).
 */
struct bms_fc3_block {
	uint16_t start, count;
	const char *name; /* describe's frame name: "live 75" */
	int (*parse)(const uint8_t *data, struct bms_snapshot *snap);
	void (*describe)(const uint8_t *data, struct bms_frame_desc *x); /* NULL: header only */
};

struct bms_fc3_family {
	uint8_t addr_min, addr_max;
	const struct bms_fc3_block *blocks;
	size_t nblocks;
	unsigned probe;
};

/*
 * The read request of req (PROBE and POLL by step, READ by req->reg = a
 * block's start) to addr: its length, 0 when the cycle has no such step
 * (and for SETUP: none), -EOPNOTSUPP for a SET or a READ of no block,
 * -ENOSPC when out is too small.
 */
int bms_fc3_build(const struct bms_fc3_family *f, uint8_t addr, const struct bms_request *req,
		  uint8_t *out, size_t cap);

/*
 * struct bms_driver.parse for such a family at addr: -EBADMSG for a frame
 * the check refuses, -EPROTO for a descriptor that asks nothing, then
 * bms_fc3_reply's results, then the block's own parse.
 */
int bms_fc3_parse(const struct bms_fc3_family *f, uint8_t addr, const struct bms_request *req,
		  const uint8_t *frame, size_t len, struct bms_snapshot *snap);

/* The driver's describe function: requests and exceptions, else the block of the reply's size. */
int bms_fc3_describe(const struct bms_fc3_family *f, const uint8_t *frame, size_t len,
		     struct bms_frame_desc *x);

#endif
