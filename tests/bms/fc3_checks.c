/* SPDX-License-Identifier: MIT */
/* Shared checks of the function 0x03 families' tests (tests/bms/fc3_checks.h). */
#include "tests/bms/fc3_checks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

void fc3_fix_crc(uint8_t *frame, size_t len)
{
	put_u16le(frame + len - 2, bms_crc16_modbus(frame, len - 2));
}

void fc3_check_requests(const struct bms_driver *drv, const uint8_t probe[8], unsigned probe_steps,
			const uint16_t (*blocks)[2], unsigned n)
{
	uint8_t st[256], req[16], r2[16];
	CU_ASSERT_FATAL(drv->state_size <= sizeof(st));
	CU_ASSERT_FATAL(drv->init(st, 0) == 0);
	struct bms_request rq = {.kind = BMS_REQ_PROBE};
	CU_ASSERT(drv->build_request(st, &rq, req, sizeof(req)) == 8 && !memcmp(req, probe, 8));
	for (rq.step = 0; rq.step < probe_steps; rq.step++) {
		CU_ASSERT(drv->build_request(st, &rq, req, sizeof(req)) == 8);
		CU_ASSERT((req[2] << 8 | req[3]) == blocks[rq.step][0] &&
			  (req[4] << 8 | req[5]) == blocks[rq.step][1]);
	}
	CU_ASSERT(drv->build_request(st, &rq, req, sizeof(req)) == 0);
	CU_ASSERT_FATAL(drv->init(st, 0x22) == 0);
	rq = (struct bms_request){.kind = BMS_REQ_POLL, .cycle = 1};
	for (rq.step = 0; rq.step < n; rq.step++) {
		CU_ASSERT(drv->build_request(st, &rq, req, sizeof(req)) == 8);
		CU_ASSERT(req[0] == 0x22 && req[1] == 3);
		CU_ASSERT((req[2] << 8 | req[3]) == blocks[rq.step][0] &&
			  (req[4] << 8 | req[5]) == blocks[rq.step][1]);
		struct bms_request rd = {.kind = BMS_REQ_READ, .reg = blocks[rq.step][0]};
		CU_ASSERT(drv->build_request(st, &rd, r2, sizeof(r2)) == 8 && !memcmp(req, r2, 8));
	}
	CU_ASSERT(drv->build_request(st, &rq, req, sizeof(req)) == 0);
	rq = (struct bms_request){.kind = BMS_REQ_READ, .reg = (uint16_t)(blocks[0][0] + 1)};
	CU_ASSERT(drv->build_request(st, &rq, req, sizeof(req)) == -EOPNOTSUPP);
	rq = (struct bms_request){.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET};
	CU_ASSERT(drv->build_request(st, &rq, req, sizeof(req)) == -EOPNOTSUPP);
	rq = (struct bms_request){.kind = BMS_REQ_SETUP};
	CU_ASSERT(drv->build_request(st, &rq, req, sizeof(req)) == 0);
	rq = (struct bms_request){.kind = BMS_REQ_POLL, .cycle = 1};
	CU_ASSERT(drv->build_request(st, &rq, req, 7) == -ENOSPC);
}

void fc3_check_foreign(const struct bms_driver *drv, const struct bms_request *req,
		       const uint8_t *frame, size_t n)
{
	uint8_t st[256], g[300], req_b[16];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(n <= sizeof(g) - 8 && drv->init(st, 1) == 0);
	memcpy(g, frame, n);
	g[0] = 2;
	fc3_fix_crc(g, n);
	CU_ASSERT(drv->parse(st, req, g, n, &s) == BMS_FOREIGN);
	uint8_t small[9] = {1, 3, 4, 0, 1, 0, 2, 0, 0};
	fc3_fix_crc(small, 9);
	CU_ASSERT(drv->parse(st, req, small, 9, &s) == BMS_FOREIGN);
	struct bms_request other = {.kind = BMS_REQ_POLL, .step = req->step ^ 1u, .cycle = 1};
	CU_ASSERT(drv->parse(st, &other, frame, n, &s) == BMS_FOREIGN);
	memcpy(g, frame, n);
	g[n - 1] ^= 1;
	CU_ASSERT(drv->parse(st, req, g, n, &s) == -EBADMSG);
	CU_ASSERT_FATAL(drv->build_request(st, req, req_b, sizeof(req_b)) == 8);
	CU_ASSERT(drv->parse(st, req, req_b, 8, &s) == BMS_FOREIGN);
	uint8_t ex[5] = {1, 0x83, 0x02, 0, 0};
	fc3_fix_crc(ex, 5);
	CU_ASSERT(drv->parse(st, req, ex, 5, &s) == -EREMOTEIO);
	struct bms_frame_desc x;
	CU_ASSERT(bms_driver_describe(drv, ex, 5, &x) == 0 && x.dir == BMS_DIR_REPLY);
	ex[0] = 9;
	fc3_fix_crc(ex, 5);
	CU_ASSERT(drv->parse(st, req, ex, 5, &s) == BMS_FOREIGN);
	CU_ASSERT(s.valid == 0);
	CU_ASSERT(bms_driver_describe(drv, req_b, 8, &x) == 0 && x.dir == BMS_DIR_REQUEST &&
		  x.command == (req_b[2] << 8 | req_b[3]));
	/* other functions are no frame of these families */
	uint8_t rd[7] = {1, 4, 2, 0x12, 0x34, 0, 0};
	fc3_fix_crc(rd, 7);
	size_t start, flen;
	CU_ASSERT(bms_frame_find(drv, rd, 7, &start, &flen) != BMS_FIND_VALID);
	CU_ASSERT(bms_driver_describe(drv, rd, 7, &x) == -1);
	/* a byte count of 252: 257 bytes, longer than any RTU frame, is noise whatever its CRC */
	uint8_t big[257];
	memset(big, 0x11, sizeof(big));
	big[0] = 1, big[1] = 3, big[2] = 252;
	fc3_fix_crc(big, sizeof(big));
	CU_ASSERT(!(bms_frame_find(drv, big, sizeof(big), &start, &flen) == BMS_FIND_VALID &&
		    start == 0));
	/* the echo, then the reply */
	memcpy(g, req_b, 8);
	memcpy(g + 8, frame, n);
	CU_ASSERT(bms_frame_find(drv, g, 8 + n, &start, &flen) == BMS_FIND_VALID && start == 0 &&
		  flen == 8);
	CU_ASSERT(dc_feed(drv, st, req, g + 8, n, &s) == 0);
}

size_t fc3_sim_reply(const struct bms_driver *drv, uint8_t address, enum bms_req_kind kind,
		     unsigned step, const struct bms_snapshot *state, uint8_t *out, size_t cap)
{
	uint8_t st[256], req[64];
	CU_ASSERT_FATAL(drv->state_size <= sizeof(st));
	CU_ASSERT_FATAL(drv->init(st, address) == 0);
	struct bms_request rq = {.kind = kind, .step = step, .cycle = 1};
	int n = drv->build_request(st, &rq, req, sizeof(req));
	CU_ASSERT_FATAL(n > 0);
	struct bms_snapshot dev = *state;
	int m = bms_sim_respond(drv, &dev, address, req, (size_t)n, out, cap);
	CU_ASSERT_FATAL(m > 0);
	return (size_t)m;
}

unsigned fc3_check_sim_frames(const struct bms_driver *drv, uint8_t address,
			      const struct bms_snapshot *state)
{
	unsigned checked = 0;
	for (unsigned step = 0;; step++) {
		uint8_t st[256], req[64], rep[300];
		CU_ASSERT_FATAL(drv->init(st, address) == 0);
		struct bms_request rq = {.kind = BMS_REQ_POLL, .step = step, .cycle = 1};
		if (drv->build_request(st, &rq, req, sizeof(req)) == 0)
			break;
		size_t m = fc3_sim_reply(drv, address, BMS_REQ_POLL, step, state, rep, sizeof(rep));
		dc_check_frame(drv, rep, m);
		/* the request is a frame too (an echo is found whole) */
		size_t start, flen;
		int n = drv->build_request(st, &rq, req, sizeof(req));
		CU_ASSERT(bms_frame_find(drv, req, (size_t)n, &start, &flen) == BMS_FIND_VALID &&
			  start == 0 && flen == (size_t)n);
		checked++;
	}
	return checked;
}

unsigned fc3_refuses_others(const struct bms_driver *drv, unsigned probe_steps)
{
	const uint8_t addr_last = 16;
	static const char *const fams[] = {"renogy", "seplos_v3", "eg4_ll", "jbd_up16s",
					   "pylontech_rt_modbus"};
	unsigned tried = 0;
	uint8_t f[1024];
	int n;
	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++)
		for (unsigned nth = 0;
		     (n = dc_vector_hex(fams[k], "response", nth, f, sizeof(f))) > 0;
		     nth++, tried++)
			for (unsigned addr = 1; addr <= addr_last; addr++) {
				uint8_t st[256];
				CU_ASSERT_FATAL(drv->init(st, (uint8_t)addr) == 0);
				struct bms_snapshot s;
				memset(&s, 0, sizeof(s));
				int taken = 0;
				struct bms_request pr = {.kind = BMS_REQ_PROBE, .cycle = 1};
				/* each probe step offered the frame: none may take it */
				for (pr.step = 0; !taken && pr.step < probe_steps; pr.step++)
					taken = dc_feed(drv, st, &pr, f, (size_t)n, &s) == 0;
				if (taken || s.valid)
					fprintf(stderr, "%s took %s reply %u at %u\n", drv->name,
						fams[k], nth, addr);
				CU_ASSERT(!taken && s.valid == 0);
			}
	static const char *const sims[] = {"renogy", "eg4_ll",   "seplos_v3", "jbd_up16s",
					   "heltec", "felicity", "ecs"};
	/* a plausible 4S pack (the detection matrix plays an 8S one) */
	struct bms_snapshot dev = {
		.valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_TEMPS |
			 BMS_V_FETS | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL,
		.voltage_mv = 13240,
		.current_ma = 2000,
		.soc_cpct = 6000,
		.capacity_remain_mah = 60000,
		.capacity_full_mah = 100000,
		.cell_count = 4,
		.cell_mv = {3300, 3310, 3320, 3310},
		.temp_count = 1,
		.temp_dc = {200},
		.charge_fet = true,
		.discharge_fet = true,
	};
	for (size_t k = 0; k < sizeof(sims) / sizeof(sims[0]); k++) {
		const struct bms_driver *other = bms_driver_find(sims[k]);
		CU_ASSERT_FATAL(other != NULL);
		if (other != drv)
			dc_check_refuses_sim(drv, other, &dev, addr_last, probe_steps, false);
	}
	return tried;
}
