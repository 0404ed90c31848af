/* SPDX-License-Identifier: MIT */
/*
 * What the tests of the function 0x03 families without captures (heltec,
 * felicity, ecs) check alike, on top of tests/bms/driver_checks.h: every
 * reply frame of a simulated poll through the whole frame conformance set,
 * and the other Modbus families' captured replies refused by the probe.
 */
#ifndef SB_TESTS_FC3_CHECKS_H
#define SB_TESTS_FC3_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"

/*
 * One poll cycle of drv at address against its simulator holding state:
 * every reply through dc_check_frame (corruption at every byte, truncation
 * at every length, garbage before it, two back to back) and parsed as the
 * step's answer. Returns the number of replies checked.
 */
unsigned fc3_check_sim_frames(const struct bms_driver *drv, uint8_t address,
			      const struct bms_snapshot *state);

/*
 * No ghost match with the other Modbus RTU families: every captured reply of
 * renogy, seplos_v3, eg4_ll, jbd_up16s and pylontech_rt_modbus offered to
 * drv's probe at every address 1..16 as the worker would feed it, and what
 * the other families' simulators (those, heltec, felicity, ecs) holding a
 * plausible pack answer to drv's probe requests (the first probe_steps
 * steps of probe and poll) at those addresses (dc_check_refuses_sim): none
 * may complete a step or touch the snapshot. Returns the captured replies
 * tried.
 */
unsigned fc3_refuses_others(const struct bms_driver *drv, unsigned probe_steps);

/*
 * The requests drv builds: the probe's first request to the default address
 * (init 0) is the 8 bytes `probe`; the probe reads the first `probe_steps`
 * blocks of the poll; the poll at another address reads blocks[i] =
 * {start, count} for i < n, one per step, then ends; a READ of each start
 * gives the same request, of another register -EOPNOTSUPP; a SET is
 * -EOPNOTSUPP, a SETUP has no step, and a 7-byte buffer is -ENOSPC.
 */
void fc3_check_requests(const struct bms_driver *drv, const uint8_t probe[8], unsigned probe_steps,
			const uint16_t (*blocks)[2], unsigned n);

/*
 * Frames that are not the answer to req at address 1 (frame[0..n): a
 * whole reply from 1 that answers it): the same reply from unit 2, a reply
 * of another size, the reply offered to poll step (req->step ^ 1), which
 * reads another block, our own request (an echo), an
 * exception from unit 2 are BMS_FOREIGN; our unit's exception -EREMOTEIO;
 * a bad CRC -EBADMSG; nothing of any reaches the snapshot. The request and
 * the exception are described as such, a function 0x04 reply and a 0x03
 * reply longer than 256 bytes are no frame;
 * an echo before the reply is found whole and the reply after it decodes.
 */
void fc3_check_foreign(const struct bms_driver *drv, const struct bms_request *req,
		       const uint8_t *frame, size_t n);

/* A frame whose CRC is made right again after an edit: frame[0..len-2) + CRC. */
void fc3_fix_crc(uint8_t *frame, size_t len);

/*
 * The reply of drv's simulator holding state, at address, to drv's request
 * of kind/step (probe or poll step); its length (> 0, fatal otherwise).
 */
size_t fc3_sim_reply(const struct bms_driver *drv, uint8_t address, enum bms_req_kind kind,
		     unsigned step, const struct bms_snapshot *state, uint8_t *out, size_t cap);

#endif
