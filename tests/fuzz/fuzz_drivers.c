/* SPDX-License-Identifier: MIT */
/*
 * The fuzz entry point shared by the libFuzzer harness and the replay test:
 * arbitrary bytes go through the core's candidate scan over the driver's
 * frame_check (checking the bounds it reports), every VALID frame through
 * parse as the answer to each step of a poll, a probe and a setup cycle and
 * to each write the driver lists, every frame through describe() and parse
 * as a READ of the command it names (what `serialbattery decode` does), and the whole input through
 * the family's simulator (bms/sim) as a request. The first input byte selects the driver (modulo
 * the registry size), so a newly registered driver is fuzzed without touching this file;
 * SB_FUZZ_DRIVER=<name> pins one driver (the first byte is then ignored).
 */
#include "fuzz_drivers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/sim/sim.h"

#define FZ_MAX_STEPS 8

static void fz_check(bool ok, const char *drv, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz: %s: %s\n", drv, what);
		abort();
	}
}

/* The worker's loop: find, drop garbage, parse; bounds checked at each turn. */
static void fz_frames(const struct bms_driver *drv, void *st, const struct bms_request *req,
		      const uint8_t *data, size_t size, struct bms_snapshot *snap)
{
	size_t pos = 0;
	while (pos < size) {
		size_t start = (size_t)-1, flen = (size_t)-1;
		enum bms_find f = bms_frame_find(drv, data + pos, size - pos, &start, &flen);
		if (f == BMS_FIND_INVALID)
			return;
		fz_check(start <= size - pos, drv->name, "start beyond the data");
		if (f == BMS_FIND_NEED_MORE) {
			/* drop the garbage before the candidate, then skip one byte of it */
			pos += start + 1;
			continue;
		}
		fz_check(f == BMS_FIND_VALID, drv->name, "unknown bms_frame_find result");
		fz_check(flen > 0 && flen <= size - pos - start, drv->name, "frame past the end");
		fz_check(flen <= drv->max_frame, drv->name, "frame larger than max_frame");
		/* an exact-size copy: a parse that reads past the frame trips ASan */
		uint8_t *frame = malloc(flen);
		fz_check(frame != NULL, drv->name, "malloc");
		memcpy(frame, data + pos + start, flen);
		struct bms_request rq = *req;
		if (req->kind == BMS_REQ_READ) {
			/* what decode does: describe, then a READ of its command */
			struct bms_frame_desc d;
			if (bms_driver_describe(drv, frame, flen, &d) < 0) {
				free(frame);
				pos += start + flen;
				continue;
			}
			fz_check(d.n <= BMS_DESC_ITEMS, drv->name, "describe: too many items");
			fz_check(memchr(d.name, 0, sizeof(d.name)) != NULL, drv->name,
				 "describe: name not terminated");
			for (unsigned i = 0; i < d.n; i++)
				fz_check(memchr(d.items[i].key, 0, BMS_DESC_KEY) != NULL &&
						 memchr(d.items[i].text, 0, BMS_DESC_TEXT) != NULL,
					 drv->name, "describe: item not terminated");
			rq.reg = d.command;
			uint8_t q[1024];
			if (d.dir != BMS_DIR_REPLY ||
			    drv->build_request(st, &rq, q, sizeof(q)) < 0) {
				free(frame);
				pos += start + flen;
				continue;
			}
		}
		int r = drv->parse(st, &rq, frame, flen, snap);
		free(frame);
		fz_check(r >= -4095 && r <= 1, drv->name, "parse result out of range");
		fz_check(snap->cell_count <= BMS_MAX_CELLS, drv->name,
			 "cell_count > BMS_MAX_CELLS");
		fz_check(snap->temp_count <= BMS_MAX_TEMPS, drv->name,
			 "temp_count > BMS_MAX_TEMPS");
		fz_check(memchr(snap->serial, 0, sizeof(snap->serial)) != NULL, drv->name,
			 "serial not terminated");
		/* an alarm outside the driver's mask would be published invalid though raised */
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
			fz_check(snap->alarm[a] <= 2 &&
					 (!snap->alarm[a] || (drv->alarms >> a & 1u)),
				 drv->name, "alarm outside struct bms_driver.alarms (or above 2)");
		pos += start + flen;
	}
}

void sb_fuzz_driver(const struct bms_driver *drv, const uint8_t *data, size_t size)
{
	static const enum bms_req_kind kinds[] = {BMS_REQ_POLL, BMS_REQ_PROBE, BMS_REQ_SET,
						  BMS_REQ_SETUP, BMS_REQ_READ};
	uint8_t req[1024];
	uint8_t addr = drv->addresses ? drv->addresses[0] : 0;
	void *st = calloc(1, drv->state_size ? drv->state_size : 1);
	fz_check(st != NULL, drv->name, "calloc");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		/* a write per listed command (value from the data), one poll, one probe */
		const enum bms_command *cmds = drv->commands;
		for (size_t c = 0; kinds[k] != BMS_REQ_SET || (cmds && cmds[c]); c++) {
			memset(st, 0, drv->state_size ? drv->state_size : 1);
			if (drv->init && drv->init(st, addr) < 0)
				break;
			struct bms_request rq = {.kind = kinds[k], .cycle = 1};
			if (kinds[k] == BMS_REQ_SET) {
				rq.command = cmds[c];
				rq.value = size ? data[0] & 1 : 0;
				rq.local_time_s = 1796452470; /* a write with a date (Daly 0x21) */
			}
			for (rq.step = 0; rq.step < FZ_MAX_STEPS; rq.step++) {
				int n = kinds[k] == BMS_REQ_READ
						? 1 /* built per frame, from its description */
						: drv->build_request(st, &rq, req, sizeof(req));
				if (n <= 0)
					break;
				fz_check((size_t)n <= sizeof(req), drv->name,
					 "request longer than its buffer");
				struct bms_snapshot snap;
				memset(&snap, 0, sizeof(snap));
				fz_frames(drv, st, &rq, data, size, &snap);
				if (drv->finish)
					drv->finish(st, &snap);
				if (kinds[k] == BMS_REQ_READ)
					break; /* one pass over every frame */
			}
			if (kinds[k] != BMS_REQ_SET)
				break;
		}
	}
	free(st);

	/* the simulator's request parsing */
	const struct bms_sim *sim = bms_sim_find(drv->name);
	if (sim) {
		static uint8_t out[16384];
		struct bms_snapshot s;
		memset(&s, 0, sizeof(s));
		s.cell_count = (uint8_t)(size ? data[0] % (BMS_MAX_CELLS + 1) : 4);
		s.temp_count = 2;
		int m = sim->respond(&s, addr, data, size, out, sizeof(out));
		fz_check(m <= (int)sizeof(out), drv->name, "simulator past its buffer");
	}
}

int sb_fuzz_one(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const struct bms_driver *drv = NULL;
	const char *pin = getenv("SB_FUZZ_DRIVER");
	if (pin && *pin)
		drv = bms_driver_find(pin);
	if (!drv)
		drv = bms_drivers[data[0] % bms_driver_count()];
	sb_fuzz_driver(drv, data + 1, size - 1);
	return 0;
}
