/* SPDX-License-Identifier: MIT */
/*
 * Walks bms_drivers[] and fails on an inconsistent entry, so a new driver
 * cannot be registered half-done: every hook the worker and the tools rely
 * on, sane link defaults, unique names; and walks the registry x the captured
 * vectors (tests/vectors/<name>.json), so every driver meets every frame of
 * its family here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bms/bms.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

static void fail(const char *name, const char *why)
{
	fprintf(stderr, "\n    registry: driver '%s': %s\n", name ? name : "(null)", why);
	CU_FAIL("inconsistent registry entry (reason on stderr)");
}

static void test_table_not_empty(void)
{
	CU_ASSERT(bms_driver_count() > 0);
	CU_ASSERT(bms_drivers[bms_driver_count()] == NULL);
}

static void test_entries(void)
{
	for (size_t i = 0; bms_drivers[i]; i++) {
		const struct bms_driver *d = bms_drivers[i];
		const char *n = d->name;
		if (!n || !*n) {
			fail(n, "no name");
			continue;
		}
		if (!d->description || !*d->description)
			fail(n, "no description");
		if (!d->spec || !*d->spec)
			fail(n, "no spec");
		if (!d->frame_check)
			fail(n, "no frame_check");
		if (!d->parse)
			fail(n, "no parse");
		if (!d->build_request)
			fail(n, "no build_request");
		if (!d->links || d->nlinks == 0)
			fail(n, "no link list");
		for (size_t k = 0; k < d->nlinks; k++) {
			const struct bms_link *l = &d->links[k];
			if (l->kind == BMS_LINK_SERIAL && (!l->serial.bauds || !l->serial.bauds[0]))
				fail(n, "a serial link without a baud list");
			if (l->kind == BMS_LINK_CAN && l->can.bitrate == 0)
				fail(n, "a CAN link without a bitrate");
			if (l->kind == BMS_LINK_BLE && (!l->ble.service || !l->ble.notify))
				fail(n, "a BLE link without service and notify characteristic");
		}
		if (!bms_driver_serial(d))
			fail(n, "no serial link (the only transport driven today)");
		if (d->nsteps > 32 || (d->nsteps && !d->steps))
			fail(n, "steps: more than 32, or a count without the table");
		for (size_t k = 0; k < d->nsteps; k++)
			if ((d->steps[k].flags & BMS_STEP_STATIC) && d->steps[k].fills == 0)
				fail(n, "a static step that fills no field");
		for (const enum bms_command *c = d->commands; c && *c; c++)
			if (*c >= BMS_CMD_COUNT)
				fail(n, "an unknown command in its list");
		if (d->max_frame == 0)
			fail(n, "max_frame is 0");
		if (d->state_size && !d->init)
			fail(n, "state_size without init");
		if (d->response_timeout_ms == 0)
			fail(n, "response_timeout_ms is 0");
		if (d->poll_interval_ms == 0)
			fail(n, "poll_interval_ms is 0");
		if (d->flags & BMS_F_ADDRESSED) {
			if (d->address_min > d->address_max || d->address_max == 0)
				fail(n, "addressed driver without an address range");
			if (!d->addresses || d->addresses[0] == 0)
				fail(n, "addressed driver without default addresses");
		}
		if (bms_driver_find(n) != d)
			fail(n, "bms_driver_find does not return it (duplicate name?)");
		for (size_t j = 0; j < i; j++)
			if (bms_drivers[j]->name && strcmp(bms_drivers[j]->name, n) == 0)
				fail(n, "duplicate name");
	}
}

/*
 * The registry x the vectors: every registered driver has
 * tests/vectors/<name>.json with captured replies, each reply is whole frames
 * of the driver's frame check (single frames through the whole conformance
 * set) and the driver decodes its family's replies. The expected values are
 * compared by the driver's own test (its key map knows the protocol's keys).
 */
static void test_registry_x_vectors(void)
{
	/* fact sheet only, no public capture (docs/PROTOCOLS.md): their tests run on the simulator
	 */
	static const char *const uncaptured[] = {"heltec", "felicity", "ecs", NULL};
	for (size_t i = 0; bms_drivers[i]; i++) {
		const struct bms_driver *d = bms_drivers[i];
		unsigned responses = dc_count(d, "response");
		if (dc_key_in(d->name, uncaptured)) {
			if (responses)
				fail(d->name, "has captured replies now: take it off the list");
			continue;
		}
		if (responses == 0) {
			fail(d->name, "no captured replies: add tests/vectors/<name>.json");
			continue;
		}
		uint8_t addr = d->addresses ? d->addresses[0] : 0;
		CU_ASSERT_EQUAL(dc_check_protocol(d, addr), responses);
	}
	/* vectors of protocols with no driver yet are kept for the families to come */
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	for (size_t k = 0; k < nvec; k++)
		CU_ASSERT(v[k].protocol != NULL && v[k].protocol[0] != '\0');
}

/* A simulator is optional, but one must belong to a registered driver. */
static void test_simulators(void)
{
	for (size_t i = 0; bms_sims[i]; i++)
		if (!bms_driver_find(bms_sims[i]->name))
			fail(bms_sims[i]->name, "a simulator in bms/sim with no registered driver");
}

/* The request builder of every driver stays inside the caller's buffer. */
static void test_build_request_bounds(void)
{
	for (size_t i = 0; bms_drivers[i]; i++) {
		const struct bms_driver *d = bms_drivers[i];
		if (!d->build_request)
			continue;
		void *st = calloc(1, d->state_size ? d->state_size : 1);
		CU_ASSERT_FATAL(st != NULL);
		uint8_t addr = d->addresses ? d->addresses[0] : 0;
		if (d->init)
			CU_ASSERT(d->init(st, addr) == 0);
		uint8_t tiny[1];
		struct bms_request probe = {.kind = BMS_REQ_PROBE};
		int r = d->build_request(st, &probe, tiny, 0);
		if (r > 0)
			fail(d->name, "build_request wrote into a 0-byte buffer");
		(void)tiny;
		free(st);
	}
}

/* A driver for the link list alone: CAN and BLE must be expressible. */
static const uint32_t t_bauds[] = {19200, 9600, 0};
static const uint32_t t_ids[] = {0x351, 0x355, 0x356, 0};
static const struct bms_link t_links[] = {
	{.kind = BMS_LINK_BLE,
	 .ble = {"0000ff00-0000-1000-8000-00805f9b34fb", "0000ff01-0000-1000-8000-00805f9b34fb",
		 "0000ff02-0000-1000-8000-00805f9b34fb"}},
	{.kind = BMS_LINK_CAN, .can = {500000, t_ids}},
	{.kind = BMS_LINK_SERIAL, .serial = {t_bauds, BMS_8E1}},
};
static const enum bms_command t_commands[] = {BMS_CMD_BALANCER, BMS_CMD_SOC, 0};

static void test_links_and_commands(void)
{
	struct bms_driver d = {.name = "t", .links = t_links, .nlinks = 3};
	CU_ASSERT(bms_driver_serial(&d) == &t_links[2]);
	CU_ASSERT(bms_driver_bauds(&d)[0] == 19200 && bms_driver_bauds(&d)[2] == 0);
	CU_ASSERT(bms_driver_framing(&d) == BMS_8E1);
	CU_ASSERT(t_links[1].can.bitrate == 500000 && t_links[1].can.ids[2] == 0x356);
	CU_ASSERT(strcmp(t_links[0].ble.write, "0000ff02-0000-1000-8000-00805f9b34fb") == 0);
	/* no serial link: no bauds, never NULL */
	d.nlinks = 2;
	CU_ASSERT(bms_driver_serial(&d) == NULL);
	CU_ASSERT(bms_driver_bauds(&d)[0] == 0);
	/* "can set" is derived from the command list */
	CU_ASSERT(!bms_driver_can_set(&d));
	CU_ASSERT(!bms_driver_supports(&d, BMS_CMD_SOC));
	d.commands = t_commands;
	CU_ASSERT(bms_driver_can_set(&d));
	CU_ASSERT(bms_driver_supports(&d, BMS_CMD_SOC));
	CU_ASSERT(bms_driver_supports(&d, BMS_CMD_BALANCER));
	CU_ASSERT(!bms_driver_supports(&d, BMS_CMD_CHARGE_FET));
	CU_ASSERT(!bms_driver_supports(&d, BMS_CMD_NONE));
	/* standby: listed, or through both FET commands */
	CU_ASSERT(!bms_driver_supports(&d, BMS_CMD_STANDBY));
	static const enum bms_command one_fet[] = {BMS_CMD_CHARGE_FET, 0};
	static const enum bms_command both_fets[] = {BMS_CMD_DISCHARGE_FET, BMS_CMD_CHARGE_FET, 0};
	static const enum bms_command listed[] = {BMS_CMD_STANDBY, 0};
	d.commands = one_fet;
	CU_ASSERT(!bms_driver_supports(&d, BMS_CMD_STANDBY));
	d.commands = both_fets;
	CU_ASSERT(bms_driver_supports(&d, BMS_CMD_STANDBY));
	d.commands = listed;
	CU_ASSERT(bms_driver_supports(&d, BMS_CMD_STANDBY));
	CU_ASSERT(!bms_driver_supports(&d, BMS_CMD_CHARGE_FET));
}

/* One name per protocol; the old config value of the UP16S driver still works. */
static void test_names(void)
{
	const struct bms_driver *up = bms_driver_find("jbd_up16s");
	CU_ASSERT_FATAL(up != NULL);
	CU_ASSERT_STRING_EQUAL(up->name, "jbd_up16s");
	CU_ASSERT(bms_driver_find("jbdup16s") == up);
	CU_ASSERT(bms_sim_find("jbd_up16s") != NULL);
	CU_ASSERT(bms_driver_find("jbd_up16") == NULL);
	/* JBD, Daly and JK write today (docs/PROTOCOLS.md: the others have no documented write) */
	for (size_t i = 0; bms_drivers[i]; i++)
		CU_ASSERT(bms_driver_can_set(bms_drivers[i]) ==
			  (strcmp(bms_drivers[i]->name, "jbd") == 0 ||
			   strcmp(bms_drivers[i]->name, "daly") == 0 ||
			   strcmp(bms_drivers[i]->name, "jk") == 0));
}

/* Every driver tells what its frames are (decode needs it), and a capture of a
 * whole poll cycle of its simulator decodes back to the simulator's state. */
static void test_describe_and_roundtrip(void)
{
	for (size_t i = 0; bms_drivers[i]; i++) {
		const struct bms_driver *d = bms_drivers[i];
		/* its own probe request is found and told as a request */
		struct bms_frame_desc desc;
		uint8_t st[4096], q[512];
		size_t start, flen;
		struct bms_request pr = {.kind = BMS_REQ_PROBE, .cycle = 1};
		uint8_t a = d->addresses ? d->addresses[0] : 0;
		CU_ASSERT_FATAL(d->state_size <= sizeof(st));
		memset(st, 0, sizeof(st));
		int n = (!d->init || d->init(st, a) == 0) ? d->build_request(st, &pr, q, sizeof(q))
							  : -1;
		if (n > 0 && !(d->flags & BMS_F_PASSIVE) &&
		    (bms_frame_find(d, q, (size_t)n, &start, &flen) != BMS_FIND_VALID ||
		     bms_driver_describe(d, q + start, flen, &desc) != 0 ||
		     desc.dir != BMS_DIR_REQUEST)) {
			fail(d->name, "its probe request is not found and told as a request");
			continue;
		}
		if (!bms_sim_find(d->name))
			continue;
		struct bms_snapshot truth, got;
		memset(&truth, 0, sizeof(truth));
		truth.cell_count = 8;
		/* 0.1 V apart: every family carries them exactly (Renogy sends 0.1 V) */
		for (unsigned c = 0; c < 8; c++)
			truth.cell_mv[c] = (uint16_t)(3300 + 100 * c);
		truth.voltage_mv = 29200; /* the cells' sum: some families check it */
		truth.current_ma = -5000;
		truth.soc_cpct = 5000;
		truth.temp_count = 2;
		truth.temp_dc[0] = 250;
		truth.temp_dc[1] = 260;
		truth.charge_fet = truth.discharge_fet = true;
		truth.capacity_remain_mah = 50000;
		truth.capacity_full_mah = truth.capacity_design_mah = 100000;
		truth.valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC |
			      BMS_V_TEMPS | BMS_V_FETS | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
			      BMS_V_CAP_DESIGN;
		uint8_t addr = d->addresses ? d->addresses[0] : 0;
		int r = dc_decode_roundtrip(d, addr, &truth, &got);
		if (r < 0) {
			fail(d->name, "a simulated poll cycle does not decode");
			continue;
		}
		/*
		 * HLPdata BMS4S always has four cells (it sends the first four);
		 * the ECS meter sends none (docs/PROTOCOLS.md "ECS")
		 */
		static const char *const four_cells[] = {"hlpdata", NULL};
		unsigned cells = dc_key_in(d->name, four_cells) ? 4 : 8;
		if (strcmp(d->name, "ecs") != 0)
			CU_ASSERT(got.cell_count == cells &&
				  got.cell_mv[cells - 1] == 3300 + 100 * (cells - 1));
		CU_ASSERT(got.soc_cpct == 5000);
		/* families whose protocol carries no MOSFET state (docs/PROTOCOLS.md) */
		static const char *const no_fets[] = {"eg4_lifepower", "eg4_ll", NULL};
		if (!dc_key_in(d->name, no_fets))
			CU_ASSERT((got.valid & BMS_V_FETS) && got.charge_fet && got.discharge_fet);
	}
}

/*
 * Detection without ghost matches (issue 18): every family's simulator,
 * holding one plausible pack at its first address, against every driver's
 * probe at each of that driver's default addresses (0 for unaddressed). The
 * probe of the simulator's own family must take the answer; every other
 * driver's probe must either get no answer or refuse it. Baud is left out on
 * purpose: the matrix holds even where two families share a line speed, so a
 * pack set to another family's baud is not taken for that family either.
 */
static void test_detection_matrix(void)
{
	unsigned families = 0, pairs = 0;
	for (const struct bms_driver *const *f = bms_drivers; *f; f++) {
		const struct bms_driver *fam = *f;
		if (!bms_sim_find(fam->name) || (fam->flags & BMS_F_PASSIVE))
			continue;
		families++;
		uint8_t sim_addr = fam->addresses ? fam->addresses[0] : 0;
		for (const struct bms_driver *const *dp = bms_drivers; *dp; dp++) {
			const struct bms_driver *d = *dp;
			if (d->flags & BMS_F_PASSIVE)
				continue;
			static const uint8_t none[] = {0, 0};
			const uint8_t *addrs = d->addresses ? d->addresses : none;
			unsigned matched = 0;
			for (unsigned k = 0; k == 0 || addrs[k]; k++) {
				uint8_t a = addrs[k];
				void *st = calloc(1, d->state_size ? d->state_size : 1);
				CU_ASSERT_FATAL(st != NULL);
				if (d->init && d->init(st, a) != 0) {
					free(st);
					continue;
				}
				struct bms_request rq = {.kind = BMS_REQ_PROBE, .cycle = 1};
				uint8_t req[512], reply[4096];
				struct bms_snapshot dev, snap;
				memset(&dev, 0, sizeof(dev));
				dev.cell_count = 8;
				for (unsigned c = 0; c < 8; c++)
					dev.cell_mv[c] = (uint16_t)(3300 + 10 * c);
				dev.voltage_mv = 26680;
				dev.current_ma = -5000;
				dev.soc_cpct = 5000;
				dev.temp_count = 2;
				dev.temp_dc[0] = 250;
				dev.temp_dc[1] = 260;
				dev.charge_fet = dev.discharge_fet = true;
				dev.capacity_remain_mah = 50000;
				dev.capacity_full_mah = dev.capacity_design_mah = 100000;
				dev.valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT |
					    BMS_V_SOC | BMS_V_TEMPS | BMS_V_FETS |
					    BMS_V_CAP_REMAIN | BMS_V_CAP_FULL | BMS_V_CAP_DESIGN;
				/* the whole probe (a step or two): every reply taken */
				bool ok = true;
				unsigned steps = 0;
				for (rq.step = 0; rq.step < 8; rq.step++) {
					int n = d->build_request(st, &rq, req, sizeof(req));
					if (n <= 0)
						break;
					int m = bms_sim_respond(fam, &dev, sim_addr, req, (size_t)n,
								reply, sizeof(reply));
					memset(&snap, 0, sizeof(snap));
					if (m <= 0 ||
					    dc_feed(d, st, &rq, reply, (size_t)m, &snap) != 0) {
						ok = false;
						break;
					}
					steps++;
				}
				if (ok && steps)
					matched++;
				free(st);
				pairs++;
			}
			bool own = d == fam;
			if (own && !matched) {
				fprintf(stderr,
					"\n    detection: %s's probe misses its own simulator",
					d->name);
				CU_FAIL("a family's probe misses its own simulator");
			}
			if (!own && matched) {
				fprintf(stderr,
					"\n    detection: %s's probe takes the %s simulator's "
					"answer",
					d->name, fam->name);
				CU_FAIL("a ghost match across families");
			}
		}
	}
	CU_ASSERT(families >= 5);
	CU_ASSERT(pairs >= families * families);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"table_not_empty", test_table_not_empty},
		{"entries", test_entries},
		{"registry_x_vectors", test_registry_x_vectors},
		{"simulators", test_simulators},
		{"build_request_bounds", test_build_request_bounds},
		{"links_and_commands", test_links_and_commands},
		{"names", test_names},
		{"describe_and_roundtrip", test_describe_and_roundtrip},
		{"detection_matrix", test_detection_matrix},
		{NULL, NULL},
	};
	return sb_add_suite("registry", tests);
}
