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

#endif
