/* SPDX-License-Identifier: MIT */
/* Cross-family checks for the ASCII '~'/'>' drivers (ascii_checks.h). */
#include "tests/bms/ascii_checks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

#define AC_STEPS 8      /* more than any of these drivers' poll steps */
#define AC_SIM_ADDRS 18 /* every address any of these families takes, and one more */

/* A fresh driver state at address a; NULL when drv does not take a. */
static void *state_at(const struct bms_driver *drv, uint8_t a)
{
	void *st = calloc(1, drv->state_size ? drv->state_size : 1);
	CU_ASSERT_FATAL(st != NULL);
	if (drv->init && drv->init(st, a) != 0) {
		free(st);
		return NULL;
	}
	return st;
}

/*
 * A static step answers with identity strings, and a sibling may have the
 * very same command (0x51 of Seplos v2 and Pylontech is one layout): the
 * data steps and the probe tell the families apart.
 */
static bool is_static(const struct bms_driver *drv, unsigned step)
{
	return step < drv->nsteps && (drv->steps[step].flags & BMS_STEP_STATIC);
}

unsigned ac_refuses_vectors(const struct bms_driver *drv, const uint8_t *addrs, const char *other)
{
	size_t count;
	const struct vec *v = dc_vectors(&count);
	unsigned seen = 0;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(v[i].protocol, other) || strcmp(v[i].direction, "response"))
			continue;
		uint8_t f[1024];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		for (const uint8_t *a = addrs; *a; a++) {
			void *st = state_at(drv, *a);
			if (!st)
				continue;
			for (unsigned k = 0; k < 2; k++)
				for (unsigned step = 0; step < AC_STEPS; step++) {
					struct bms_request rq = {.kind = k ? BMS_REQ_PROBE
									   : BMS_REQ_POLL,
								 .step = step,
								 .cycle = 1};
					if (!k && is_static(drv, step))
						continue;
					struct bms_snapshot s;
					memset(&s, 0, sizeof(s));
					CU_ASSERT(drv->parse(st, &rq, f, (size_t)n, &s) < 0);
					CU_ASSERT(s.valid == 0);
				}
			free(st);
		}
		seen++;
	}
	return seen;
}

/* One probe and one poll cycle of drv (state st) against the simulator od at
 * sa: true when every step took its reply, as a detection's match needs. */
static bool whole_cycle_taken(const struct bms_driver *drv, void *st, const struct bms_driver *od,
			      struct bms_snapshot *dev, uint8_t sa)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	for (unsigned k = 0; k < 2; k++)
		for (unsigned step = 0; step < AC_STEPS; step++) {
			struct bms_request rq = {
				.kind = k ? BMS_REQ_POLL : BMS_REQ_PROBE, .step = step, .cycle = 1};
			uint8_t req[512], rep[1024];
			int n = drv->build_request(st, &rq, req, sizeof(req));
			if (n <= 0)
				break;
			int m = bms_sim_respond(od, dev, sa, req, (size_t)n, rep, sizeof(rep));
			if (m <= 0 || dc_feed(drv, st, &rq, rep, (size_t)m, &s) != 0)
				return false;
		}
	return true;
}

void ac_refuses_sim(const struct bms_driver *drv, const uint8_t *addrs, const char *other)
{
	const struct bms_driver *od = bms_driver_find(other);
	CU_ASSERT_FATAL(od != NULL);
	struct bms_snapshot dev;
	memset(&dev, 0, sizeof(dev));
	dev.cell_count = 16;
	for (unsigned c = 0; c < 16; c++)
		dev.cell_mv[c] = (uint16_t)(3300 + c);
	dev.voltage_mv = 52920;
	dev.current_ma = -2000;
	dev.soc_cpct = 6000;
	dev.soh_cpct = 10000;
	dev.temp_count = 4;
	for (unsigned t = 0; t < 4; t++)
		dev.temp_dc[t] = (int16_t)(250 + t);
	dev.capacity_remain_mah = 60000;
	dev.capacity_full_mah = dev.capacity_design_mah = 100000;
	dev.charge_fet = dev.discharge_fet = true;
	dev.valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_SOH |
		    BMS_V_TEMPS | BMS_V_FETS | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL | BMS_V_CAP_DESIGN;
	for (const uint8_t *a = addrs; *a; a++) {
		void *st = state_at(drv, *a);
		if (!st)
			continue;
		/* the sibling at every address: the address conventions differ
		 * (PACE and Seplos count ADR from 1), the wire ADR may match */
		for (uint8_t sa = 1; sa <= AC_SIM_ADDRS; sa++) {
			bool taken = whole_cycle_taken(drv, st, od, &dev, sa);
			if (taken)
				fprintf(stderr, "\n    %s at %u takes the %s simulator at %u\n",
					drv->name, *a, other, sa);
			CU_ASSERT(!taken);
		}
		free(st);
	}
}

void ac_check_read(const struct bms_driver *drv, uint8_t address, const struct bms_snapshot *dev,
		   const uint16_t *cmds, const uint32_t *fills, size_t n, uint16_t unknown)
{
	struct bms_snapshot truth = *dev, s;
	uint8_t req[512], rep[1024];
	void *st = state_at(drv, address);
	CU_ASSERT_FATAL(st != NULL);
	for (size_t i = 0; i < n; i++) {
		struct bms_request rq = {.kind = BMS_REQ_READ, .reg = cmds[i]};
		int k = drv->build_request(st, &rq, req, sizeof(req));
		CU_ASSERT_FATAL(k > 0);
		struct bms_frame_desc d;
		CU_ASSERT(bms_driver_describe(drv, req, (size_t)k, &d) == 0);
		CU_ASSERT(d.dir == BMS_DIR_REQUEST && d.command == cmds[i] && d.address == address);
		int m = bms_sim_respond(drv, &truth, address, req, (size_t)k, rep, sizeof(rep));
		CU_ASSERT_FATAL(m > 0);
		memset(&s, 0, sizeof(s));
		CU_ASSERT(drv->parse(st, &rq, rep, (size_t)m, &s) == 0);
		CU_ASSERT((s.valid & fills[i]) == fills[i]);
		CU_ASSERT(bms_driver_describe(drv, rep, (size_t)m, &d) == 0);
		CU_ASSERT(d.dir == BMS_DIR_REPLY && d.command == cmds[i] && d.address == address);
		rq.step = 1;
		CU_ASSERT(drv->build_request(st, &rq, req, sizeof(req)) == 0);
	}
	struct bms_request bad = {.kind = BMS_REQ_READ, .reg = unknown};
	CU_ASSERT(drv->build_request(st, &bad, req, sizeof(req)) == -EOPNOTSUPP);
	struct bms_request set = {.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET, .value = 1};
	CU_ASSERT(drv->build_request(st, &set, req, sizeof(req)) == -EOPNOTSUPP);
	CU_ASSERT(!bms_driver_can_set(drv));
	free(st);
}

void ac_check_long_header(const struct bms_driver *drv, const char *head)
{
	size_t len = drv->max_frame + 8, flen = 0;
	uint8_t *buf = malloc(len);
	CU_ASSERT_FATAL(buf != NULL && strlen(head) == 9);
	memset(buf, '0', len);
	memcpy(buf, head, 9);
	memcpy(buf + 9, "03E8", 4); /* LENID 1000 */
	CU_ASSERT(drv->frame_check(buf, len, &flen) == -1);
	free(buf);
}

void ac_check_describe_refusal(const struct bms_driver *drv, const uint8_t *rep, size_t len,
			       uint8_t address, uint8_t rtn)
{
	uint8_t f[128];
	struct bms_frame_desc d;
	CU_ASSERT_FATAL(len > 3 && len <= sizeof(f));
	memcpy(f, rep, len);
	CU_ASSERT(bms_driver_describe(drv, f, len, &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REPLY && d.command == 0 && d.address == address);
	CU_ASSERT(dc_desc_find(&d, "cid2_return_code")->num == rtn);
	f[3] = 'X';
	CU_ASSERT(bms_driver_describe(drv, f, len, &d) == -1);
}
