/* SPDX-License-Identifier: MIT */
/*
 * The libudev watch against umockdev: real libudev code enumerating and
 * monitoring simulated devices (run under libumockdev-preload.so).
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "common/sbtime.h"
#include "tests/support/cunit_main.h"
#include "tests/hotplug/mockdev.h"
#include "hotplug/hotplug.h"

#define MAX_EV 16

struct seen {
	int n;
	enum hotplug_action action[MAX_EV];
	char devname[MAX_EV][64];
	char serial[MAX_EV][160];
	char vid[MAX_EV][8];
	char model[MAX_EV][64];
	bool claim[MAX_EV];
};

static void record(void *ctx, enum hotplug_action a, const struct hotplug_props *p)
{
	struct seen *s = ctx;
	if (s->n >= MAX_EV || strncmp(p->devname, "/dev/ttyUSB", 11) != 0)
		return;
	s->action[s->n] = a;
	snprintf(s->devname[s->n], 64, "%s", p->devname);
	snprintf(s->serial[s->n], 160, "%s", p->serial ? p->serial : "");
	snprintf(s->vid[s->n], 8, "%s", p->vendor_id ? p->vendor_id : "");
	snprintf(s->model[s->n], 64, "%s", p->model ? p->model : "");
	struct hotplug_config c = {.claim_usb = true};
	s->claim[s->n] = hotplug_port_match(p, &c, NULL, 0, NULL) == HOTPLUG_CLAIM;
	s->n++;
}

/* Dispatch monitor events until want events are recorded or 10 s pass. */
static void pump(struct hotplug_watch *w, struct seen *s, int want)
{
	uint64_t deadline = time_mono_ms() + 10000;
	while (s->n < want && time_mono_ms() < deadline) {
		struct pollfd p = {.fd = hotplug_watch_fd(w), .events = POLLIN};
		if (poll(&p, 1, time_poll_timeout(deadline)) > 0)
			hotplug_watch_dispatch(w, record, s);
	}
}

static void test_enumerate_and_monitor(void)
{
	UMockdevTestbed *tb = umockdev_testbed_new();
	CU_ASSERT_FATAL(umockdev_in_mock_environment()); /* else we would see the host's devices */
	struct mock_adapter ch340, ved, ftdi;
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_CH340, 1, "ttyUSB0", &ch340) == 0);
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_VEDIRECT, 2, "ttyUSB1", &ved) == 0);

	struct hotplug_watch *w;
	CU_ASSERT_FATAL(hotplug_watch_new(&w) == 0);
	struct seen s = {0};
	CU_ASSERT(hotplug_watch_enumerate(w, record, &s) == 0);
	CU_ASSERT_FATAL(s.n == 2);
	int i0 = strcmp(s.devname[0], "/dev/ttyUSB0") == 0 ? 0 : 1;
	CU_ASSERT(s.action[i0] == HOTPLUG_ADD && s.action[1 - i0] == HOTPLUG_ADD);
	CU_ASSERT_STRING_EQUAL(s.devname[i0], "/dev/ttyUSB0");
	CU_ASSERT_STRING_EQUAL(s.vid[i0], "1a86");
	CU_ASSERT_STRING_EQUAL(s.serial[i0], "1a86_USB_Serial");
	CU_ASSERT(s.claim[i0]);
	CU_ASSERT_STRING_EQUAL(s.devname[1 - i0], "/dev/ttyUSB1");
	CU_ASSERT_STRING_EQUAL(s.model[1 - i0], "VE_Direct_cable");
	CU_ASSERT(!s.claim[1 - i0]); /* the Victron cable is never ours */

	/* hotplug: the same handler sees add and remove */
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_FTDI, 3, "ttyUSB2", &ftdi) == 0);
	pump(w, &s, 1);
	CU_ASSERT_FATAL(s.n == 1);
	CU_ASSERT(s.action[0] == HOTPLUG_ADD);
	CU_ASSERT_STRING_EQUAL(s.devname[0], "/dev/ttyUSB2");
	CU_ASSERT_STRING_EQUAL(s.serial[0], "FTDI_FT232R_USB_UART_A10K1234");
	CU_ASSERT(s.claim[0]);

	mock_unplug(tb, &ch340);
	pump(w, &s, 2);
	CU_ASSERT_FATAL(s.n == 2);
	CU_ASSERT(s.action[1] == HOTPLUG_REMOVE);
	CU_ASSERT_STRING_EQUAL(s.devname[1], "/dev/ttyUSB0");

	/* after the unplug, enumeration no longer reports it */
	memset(&s, 0, sizeof(s));
	CU_ASSERT(hotplug_watch_enumerate(w, record, &s) == 0);
	CU_ASSERT(s.n == 2);
	for (int i = 0; i < s.n; i++)
		CU_ASSERT(strcmp(s.devname[i], "/dev/ttyUSB0") != 0);

	hotplug_watch_free(w);
	mock_unplug(tb, &ved);
	mock_unplug(tb, &ftdi);
	g_object_unref(tb);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"enumerate, then add/remove through one handler", test_enumerate_and_monitor},
		{NULL, NULL},
	};
	return sb_add_suite("hotplug_watch", tests);
}
