/* SPDX-License-Identifier: MIT */
/* The supervisor's pure helpers: --port parsing and restart backoff. */
#include <errno.h>
#include <string.h>

#include "supervisor/supervisor.h"
#include "tests/support/cunit_main.h"

static void test_parse_port(void)
{
	struct supervisor_cli_port p;
	CU_ASSERT(supervisor_parse_port("/dev/ttyUSB0", &p) == 0);
	CU_ASSERT_STRING_EQUAL(p.path, "/dev/ttyUSB0");
	CU_ASSERT_STRING_EQUAL(p.bms, "");
	CU_ASSERT(supervisor_parse_port("/dev/ttyUSB0:jk", &p) == 0);
	CU_ASSERT_STRING_EQUAL(p.path, "/dev/ttyUSB0");
	CU_ASSERT_STRING_EQUAL(p.bms, "jk");
	/* by-path names contain colons that are not a BMS */
	const char *bypath = "/dev/serial/by-path/platform-xhci-hcd.0-usb-0:1.2:1.0-port0";
	CU_ASSERT(supervisor_parse_port(bypath, &p) == 0);
	CU_ASSERT_STRING_EQUAL(p.path, bypath);
	CU_ASSERT_STRING_EQUAL(p.bms, "");
	CU_ASSERT(supervisor_parse_port("/dev/ttyUSB0:nosuchbms", &p) == -EINVAL);
	CU_ASSERT(supervisor_parse_port("", &p) == -EINVAL);
}

static void test_backoff(void)
{
	CU_ASSERT(supervisor_backoff_ms(0, 60000) == 1000);
	CU_ASSERT(supervisor_backoff_ms(1, 60000) == 2000);
	CU_ASSERT(supervisor_backoff_ms(5, 60000) == 32000);
	CU_ASSERT(supervisor_backoff_ms(6, 60000) == 60000);
	CU_ASSERT(supervisor_backoff_ms(1000, 60000) == 60000);
	for (unsigned i = 1; i < 40; i++)
		CU_ASSERT(supervisor_backoff_ms(i, 60000) >= supervisor_backoff_ms(i - 1, 60000));
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"--port PATH[:BMS]", test_parse_port},
		{"restart backoff", test_backoff},
		{NULL, NULL},
	};
	return sb_add_suite("supervisor_units", tests);
}
