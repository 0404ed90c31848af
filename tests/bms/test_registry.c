/* SPDX-License-Identifier: MIT */
/*
 * Walks bms_drivers[] and fails on an inconsistent entry, so a new driver
 * cannot be registered half-done: every hook the worker and the tools rely
 * on, sane link defaults, unique names, captured vectors and a test file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bms/bms.h"
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
		if (!d->frame_find)
			fail(n, "no frame_find");
		if (!d->parse)
			fail(n, "no parse");
		if (!d->build_request)
			fail(n, "no build_request");
		if (!d->sim_respond)
			fail(n, "no sim_respond (the simulator and round-trip tests need it)");
		if (!d->bauds || d->bauds[0] == 0)
			fail(n, "no baud list");
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

/* Every driver has captured vectors and a tests/bms/test_<name>.c using them. */
static void test_vectors_and_tests(void)
{
	const char *src = getenv("SB_SOURCE_DIR");
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	for (size_t i = 0; bms_drivers[i]; i++) {
		const char *n = bms_drivers[i]->name;
		if (!n)
			continue;
		const char *fam = dc_family_of(n);
		if (!fam) {
			fail(n, "no vectors family line in dc_families[] (tests/bms/driver_checks.c)");
			continue;
		}
		unsigned responses = 0;
		for (size_t k = 0; k < nvec; k++)
			if (!strcmp(v[k].family, fam) && !strcmp(v[k].direction, "response"))
				responses++;
		if (responses == 0)
			fail(n, "its vectors family has no captured response");
		if (src) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/tests/bms/test_%s.c", src, n);
			if (access(path, R_OK) != 0)
				fail(n, "no tests/bms/test_<name>.c");
		}
	}
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
		int r = d->build_request(st, BMS_REQ_PROBE, 0, tiny, 0);
		if (r > 0)
			fail(d->name, "build_request wrote into a 0-byte buffer");
		(void)tiny;
		free(st);
	}
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"table_not_empty", test_table_not_empty},
		{"entries", test_entries},
		{"vectors_and_tests", test_vectors_and_tests},
		{"build_request_bounds", test_build_request_bounds},
		{NULL, NULL},
	};
	return sb_add_suite("registry", tests);
}
