/* SPDX-License-Identifier: MIT */
/*
 * What the two ANT driver tests (test_ant_legacy.c, test_ant_2021.c) share:
 * expected keys the snapshot has no field for, read from the driver's own
 * describe(); and the cross-family refusal check. Header-only, static.
 */
#ifndef SB_TESTS_ANT_CHECKS_H
#define SB_TESTS_ANT_CHECKS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/registry.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

/* key as the driver's describe() tells it from the frame; "temperatures_c" = temp1_c.. */
static enum dc_map ant_desc_map(const struct bms_driver *drv, const char *key, const uint8_t *frame,
				size_t len, struct dc_value *ret)
{
	struct bms_frame_desc d;
	if (bms_driver_describe(drv, frame, len, &d) != 0)
		return DC_UNKNOWN;
	if (!strcmp(key, "temperatures_c")) {
		ret->kind = VEC_ARRAY;
		ret->n = 0;
		for (unsigned t = 1; t <= BMS_MAX_TEMPS; t++) {
			char k[BMS_DESC_KEY];
			snprintf(k, sizeof(k), "temp%u_c", t);
			for (unsigned i = 0; i < d.n; i++)
				if (!strcmp(d.items[i].key, k))
					ret->arr[ret->n++] = d.items[i].num;
		}
		return ret->n ? DC_MAPPED : DC_UNKNOWN;
	}
	for (unsigned i = 0; i < d.n; i++)
		if (!strcmp(d.items[i].key, key) && !d.items[i].is_text) {
			ret->kind = VEC_NUM;
			ret->num = d.items[i].num;
			return DC_MAPPED;
		}
	return DC_UNKNOWN;
}

/* A state every family's simulator can answer from. */
static struct bms_snapshot ant_other_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 52800;
	s.current_ma = -5000;
	s.soc_cpct = 8000;
	s.soh_cpct = 10000;
	s.capacity_remain_mah = 80000;
	s.capacity_full_mah = 100000;
	s.capacity_design_mah = 100000;
	s.cycles = 12;
	s.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3295 + i);
	s.temp_count = 2;
	s.temp_dc[0] = 210;
	s.temp_dc[1] = 220;
	s.mosfet_temp_dc = 250;
	s.charge_fet = s.discharge_fet = true;
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_SOH | BMS_V_CAP_REMAIN |
		  BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS |
		  BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_ALARMS;
	return s;
}

/* Does any frame drv finds in buf parse as the answer to drv's probe and poll? */
static bool ant_takes(const struct bms_driver *drv, const uint8_t *buf, size_t len)
{
	bool took = false;
	for (int kind = BMS_REQ_PROBE; kind <= BMS_REQ_POLL; kind++) {
		size_t off = 0;
		while (off < len) {
			size_t start, flen;
			enum bms_find f = bms_frame_find(drv, buf + off, len - off, &start, &flen);
			if (f != BMS_FIND_VALID)
				break;
			void *st = calloc(1, drv->state_size);
			CU_ASSERT_FATAL(st != NULL && drv->init(st, 0) == 0);
			struct bms_request rq = {.kind = (enum bms_req_kind)kind, .cycle = 1};
			struct bms_snapshot snap;
			memset(&snap, 0, sizeof(snap));
			int r = drv->parse(st, &rq, buf + off + start, flen, &snap);
			free(st);
			if (r >= 0) {
				fprintf(stderr, "%s took a frame at %zu (%zu bytes)\n", drv->name,
					off + start, flen);
				took = true;
			}
			off += start + flen;
		}
	}
	return took;
}

/*
 * drv refuses every other registered family's probe and poll replies (from
 * their simulators, at their default address) and every captured frame of
 * every other protocol in tests/vectors. Returns the replies tried.
 */
static unsigned ant_check_refuses_others(const struct bms_driver *drv)
{
	unsigned tried = 0;
	for (size_t i = 0; bms_drivers[i]; i++) {
		const struct bms_driver *o = bms_drivers[i];
		if (o == drv || !bms_sim_find(o->name))
			continue;
		uint8_t addr = o->addresses ? o->addresses[0] : 0;
		void *st = calloc(1, o->state_size ? o->state_size : 1);
		CU_ASSERT_FATAL(st != NULL && (!o->init || o->init(st, addr) == 0));
		for (int kind = BMS_REQ_PROBE; kind <= BMS_REQ_POLL; kind++)
			for (unsigned step = 0; step < 8; step++) {
				struct bms_request rq = {
					.kind = (enum bms_req_kind)kind, .step = step, .cycle = 1};
				uint8_t req[512], reply[4096];
				int n = o->build_request(st, &rq, req, sizeof(req));
				if (n <= 0)
					break;
				struct bms_snapshot dev = ant_other_state();
				int m = bms_sim_respond(o, &dev, addr, req, (size_t)n, reply,
							sizeof(reply));
				if (m <= 0)
					continue;
				tried++;
				if (ant_takes(drv, reply, (size_t)m))
					fprintf(stderr, "%s took %s's reply to step %u\n",
						drv->name, o->name, step);
				CU_ASSERT(!ant_takes(drv, reply, (size_t)m));
				/* and the other family's request (our port may hear it) */
				CU_ASSERT(!ant_takes(drv, req, (size_t)n));
			}
		free(st);
	}
	size_t nv;
	const struct vec *v = dc_vectors(&nv);
	for (size_t i = 0; i < nv; i++) {
		if (!strcmp(v[i].protocol, drv->name))
			continue;
		uint8_t buf[4096];
		int n = vec_hex(v[i].hex, buf, sizeof(buf));
		if (n <= 0)
			continue;
		tried++;
		if (ant_takes(drv, buf, (size_t)n))
			fprintf(stderr, "%s took a %s vector (%zu)\n", drv->name, v[i].protocol, i);
		CU_ASSERT(!ant_takes(drv, buf, (size_t)n));
	}
	return tried;
}

#endif
