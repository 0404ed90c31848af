/* SPDX-License-Identifier: MIT */
/*
 * hotplug_port_match() and hotplug_identity() against property tables shaped like
 * what udev reports for real adapters (ID_* from udev's usb_id builtin).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"
#include "tests/support/cunit_main.h"
#include "hotplug/hotplug.h"

static const struct hotplug_props ch340 = {.devname = "/dev/ttyUSB0",
					   .id_bus = "usb",
					   .vendor_id = "1a86",
					   .model_id = "7523",
					   .vendor = "1a86",
					   .model = "USB_Serial",
					   .serial = "1a86_USB_Serial",
					   .iface_num = "00",
					   .path = "platform-xhci-hcd.0-usb-0:1.2:1.0"};
static const struct hotplug_props ftdi = {.devname = "/dev/ttyUSB1",
					  .id_bus = "usb",
					  .vendor_id = "0403",
					  .model_id = "6001",
					  .vendor = "FTDI",
					  .model = "FT232R_USB_UART",
					  .serial = "FTDI_FT232R_USB_UART_A10K1234",
					  .serial_short = "A10K1234",
					  .iface_num = "00",
					  .path = "platform-xhci-hcd.0-usb-0:1.3:1.0"};
static const struct hotplug_props cp2102 = {
	.devname = "/dev/ttyUSB2",
	.id_bus = "usb",
	.vendor_id = "10c4",
	.model_id = "ea60",
	.vendor = "Silicon_Labs",
	.model = "CP2102_USB_to_UART_Bridge_Controller",
	.serial = "Silicon_Labs_CP2102_USB_to_UART_Bridge_Controller_0001",
	.serial_short = "0001",
	.iface_num = "00",
	.path = "platform-xhci-hcd.0-usb-0:1.4:1.0"};
static const struct hotplug_props vedirect = {.devname = "/dev/ttyUSB3",
					      .id_bus = "usb",
					      .vendor_id = "0403",
					      .model_id = "6015",
					      .vendor = "VictronEnergy_BV",
					      .model = "VE_Direct_cable",
					      .serial = "VictronEnergy_BV_VE_Direct_cable_VE5GZN4D",
					      .serial_short = "VE5GZN4D",
					      .iface_num = "00",
					      .path = "platform-xhci-hcd.0-usb-0:1.1:1.0"};
static const struct hotplug_props mk3 = {.devname = "/dev/ttyUSB4",
					 .id_bus = "usb",
					 .vendor_id = "0403",
					 .model_id = "6001",
					 .vendor = "VictronEnergy",
					 .model = "MK3-USB_Interface",
					 .serial = "VictronEnergy_MK3-USB_Interface_HQ2132VK4JK",
					 .serial_short = "HQ2132VK4JK",
					 .iface_num = "00",
					 .path = "platform-xhci-hcd.0-usb-0:1.5:1.0"};
static const struct hotplug_props ttys0 = {.devname = "/dev/ttyS0", .path = "platform-serial8250"};

static struct hotplug_config defaults(void)
{
	struct sb_config c;
	struct cfg_error e;
	CU_ASSERT_FATAL(sb_config_load(NULL, &c, &e) == 0);
	return c.udev;
}

static enum hotplug_verdict match(const struct hotplug_props *p, const struct hotplug_config *c)
{
	return hotplug_port_match(p, c, NULL, 0, NULL);
}

static void add_rule(struct cfg_slist *l, const char *rule)
{
	CU_ASSERT_FATAL(l->n < CFG_SLIST_MAX);
	snprintf(l->v[l->n++], CFG_STR, "%s", rule);
}

static void test_defaults(void)
{
	struct hotplug_config c = defaults();
	CU_ASSERT(c.claim_usb);
	CU_ASSERT(c.include.n == 0 && c.exclude.n == 0);
	CU_ASSERT(match(&ch340, &c) == HOTPLUG_CLAIM);
	CU_ASSERT(match(&ftdi, &c) == HOTPLUG_CLAIM);
	CU_ASSERT(match(&cp2102, &c) == HOTPLUG_CLAIM);
	CU_ASSERT(match(&vedirect, &c) == HOTPLUG_IGNORE);
	CU_ASSERT(match(&mk3, &c) == HOTPLUG_IGNORE);
	CU_ASSERT(match(&ttys0, &c) == HOTPLUG_IGNORE); /* built-in UARTs only when configured */
	const char *why = NULL;
	CU_ASSERT(hotplug_port_match(&vedirect, &c, NULL, 0, &why) == HOTPLUG_IGNORE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(why);
	CU_ASSERT(strstr(why, "Victron") != NULL);
}

static void test_victron_never_by_rules(void)
{
	struct hotplug_config c = defaults();
	add_rule(&c.include, "0403:*");
	add_rule(&c.include, "vendor=Victron*");
	CU_ASSERT(match(&vedirect, &c) == HOTPLUG_IGNORE);
	CU_ASSERT(match(&mk3, &c) == HOTPLUG_IGNORE);
	CU_ASSERT(match(&ftdi, &c) == HOTPLUG_CLAIM);
	/* a re-branded model string is still recognised */
	struct hotplug_props p = ftdi;
	p.vendor = "FTDI";
	p.model = "VE_Direct_cable";
	CU_ASSERT(hotplug_is_victron(&p));
	CU_ASSERT(match(&p, &c) == HOTPLUG_IGNORE);
	CU_ASSERT(!hotplug_is_victron(&ch340));
}

static void test_ve_service(void)
{
	struct hotplug_config c = defaults();
	static const struct {
		const char *svc;
		enum hotplug_verdict want;
	} rows[] = {
		{"", HOTPLUG_CLAIM},        {"default", HOTPLUG_CLAIM},
		{"rs485", HOTPLUG_CLAIM},   {"sbattery", HOTPLUG_CLAIM},
		{"ignore", HOTPLUG_IGNORE}, {"vedirect", HOTPLUG_IGNORE},
		{"mkx", HOTPLUG_IGNORE},    {"gps", HOTPLUG_IGNORE},
		{"cgwacs", HOTPLUG_IGNORE},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct hotplug_props p = ch340;
		p.ve_service = rows[i].svc;
		CU_ASSERT(match(&p, &c) == rows[i].want);
		/* include rules do not take a port from another service either */
		struct hotplug_config inc = c;
		add_rule(&inc.include, "1a86:7523");
		CU_ASSERT(match(&p, &inc) == rows[i].want);
	}
}

static void test_sb_property(void)
{
	struct hotplug_config c = defaults();
	/* our udev rule: serial-starter told to ignore, we told to claim */
	struct hotplug_props p = ch340;
	p.ve_service = "ignore";
	p.sb_claim = "claim";
	CU_ASSERT(match(&p, &c) == HOTPLUG_CLAIM);
	p = ch340;
	p.sb_claim = "ignore";
	CU_ASSERT(match(&p, &c) == HOTPLUG_IGNORE);
	/* exclude still wins over the property */
	p = ch340;
	p.sb_claim = "claim";
	add_rule(&c.exclude, "1a86:7523");
	CU_ASSERT(match(&p, &c) == HOTPLUG_IGNORE);
}

static void test_include_exclude(void)
{
	struct hotplug_config c = defaults();
	c.claim_usb = false;
	CU_ASSERT(match(&ch340, &c) == HOTPLUG_IGNORE);
	CU_ASSERT(match(&ftdi, &c) == HOTPLUG_IGNORE);
	add_rule(&c.include, "1A86:7523"); /* hex in any case */
	add_rule(&c.include, "serial=FTDI_*");
	CU_ASSERT(match(&ch340, &c) == HOTPLUG_CLAIM);
	CU_ASSERT(match(&ftdi, &c) == HOTPLUG_CLAIM);
	CU_ASSERT(match(&cp2102, &c) == HOTPLUG_IGNORE);

	c = defaults();
	add_rule(&c.exclude, "10c4:*");
	add_rule(&c.exclude, "path=*usb-0:1.3:*");
	CU_ASSERT(match(&cp2102, &c) == HOTPLUG_IGNORE);
	CU_ASSERT(match(&ftdi, &c) == HOTPLUG_IGNORE);
	CU_ASSERT(match(&ch340, &c) == HOTPLUG_CLAIM);
	/* exclude wins over include */
	add_rule(&c.include, "10c4:ea60");
	CU_ASSERT(match(&cp2102, &c) == HOTPLUG_IGNORE);
}

static void test_globs(void)
{
	CU_ASSERT(hotplug_rule_match("/dev/ttyUSB*", &ch340));
	CU_ASSERT(hotplug_rule_match("/dev/ttyUSB[01]", &ftdi));
	CU_ASSERT(!hotplug_rule_match("/dev/ttyUSB[01]", &cp2102));
	CU_ASSERT(!hotplug_rule_match("/dev/ttyACM*", &ch340));
	CU_ASSERT(hotplug_rule_match("model=cp210?_*", &cp2102)); /* any case */
	CU_ASSERT(hotplug_rule_match("vendor=ftdi", &ftdi));
	CU_ASSERT(hotplug_rule_match("serial=*A10K1234", &ftdi));
	CU_ASSERT(!hotplug_rule_match("serial=*A10K1234", &ch340));
	CU_ASSERT(hotplug_rule_match("path=platform-*-usb-0:1.2:1.0", &ch340));
	CU_ASSERT(!hotplug_rule_match("0403:6001", &ch340));
	CU_ASSERT(hotplug_rule_match("0403:6001", &ftdi));
	/* rules on absent properties never match */
	CU_ASSERT(!hotplug_rule_match("serial=*", &ttys0));
	CU_ASSERT(!hotplug_rule_match("1a86:*", &ttys0));

	CU_ASSERT(hotplug_rule_check("1a86:7523") == 0);
	CU_ASSERT(hotplug_rule_check("1a86:*") == 0);
	CU_ASSERT(hotplug_rule_check("/dev/ttyUSB*") == 0);
	CU_ASSERT(hotplug_rule_check("serial=x") == 0);
	CU_ASSERT(hotplug_rule_check("1a86") == -EINVAL);
	CU_ASSERT(hotplug_rule_check("1a86:75") == -EINVAL);
	CU_ASSERT(hotplug_rule_check("serial=") == -EINVAL);
	CU_ASSERT(hotplug_rule_check("ttyUSB0") == -EINVAL);
	CU_ASSERT(hotplug_rule_check("") == -EINVAL);
}

static void test_config_pins(void)
{
	struct hotplug_config c = defaults();
	c.claim_usb = false;
	const struct hotplug_pin pins[] = {
		{.path = "/dev/ttyS0"},
		{.match = ch340.path},
		{.match = mk3.serial},
	};
	size_t n = sizeof(pins) / sizeof(pins[0]);
	CU_ASSERT(hotplug_port_match(&ttys0, &c, pins, n, NULL) == HOTPLUG_CLAIM);
	CU_ASSERT(hotplug_port_match(&ch340, &c, pins, n, NULL) == HOTPLUG_CLAIM);
	/* an explicit entry is the user's decision, even for a Victron interface */
	CU_ASSERT(hotplug_port_match(&mk3, &c, pins, n, NULL) == HOTPLUG_CLAIM);
	CU_ASSERT(hotplug_port_match(&ftdi, &c, pins, n, NULL) == HOTPLUG_IGNORE);
}

static void test_config_file(void)
{
	struct sb_config *c = calloc(1, sizeof(*c));
	struct cfg_error e;
	const char *good =
		"udev = { claim_usb = false; include = [\"1a86:7523\", \"/dev/ttyS1\"];\n"
		"exclude = [\"serial=FTDI_*\"]; };\n";
	CU_ASSERT(cfg_load_string(&sb_config_schema, c, good, "good.conf", &e) == 0);
	CU_ASSERT(!c->udev.claim_usb);
	CU_ASSERT(c->udev.include.n == 2);
	const char *bad = "udev = {\n  include = [\"1a86:7523\",\n \"nonsense\"];\n};\n";
	CU_ASSERT(cfg_load_string(&sb_config_schema, c, bad, "bad.conf", &e) == -EINVAL);
	/* the element's own line, not the list's */
	CU_ASSERT_STRING_EQUAL(e.key, "udev.include[1]");
	CU_ASSERT(e.line == 3);
	CU_ASSERT(strstr(e.msg, "nonsense") != NULL);
	free(c);
}

static void test_identity(void)
{
	char id[128];
	CU_ASSERT(hotplug_identity(&ftdi, id, sizeof(id)) == 0);
	CU_ASSERT_STRING_EQUAL(id, "FTDI_FT232R_USB_UART_A10K1234");
	/* CH340 has no serial number: its ID_SERIAL is the same for every CH340 */
	CU_ASSERT(hotplug_identity(&ch340, id, sizeof(id)) == 0);
	CU_ASSERT_STRING_EQUAL(id, "path-platform-xhci-hcd.0-usb-0:1.2:1.0");
	/* the same adapter on another ttyUSB number keeps its name */
	struct hotplug_props moved = ftdi;
	moved.devname = "/dev/ttyUSB7";
	char id2[128];
	CU_ASSERT(hotplug_identity(&moved, id2, sizeof(id2)) == 0);
	CU_ASSERT_STRING_EQUAL(id2, "FTDI_FT232R_USB_UART_A10K1234");
	/* second port of a dual adapter */
	struct hotplug_props port1 = ftdi;
	port1.iface_num = "01";
	CU_ASSERT(hotplug_identity(&port1, id, sizeof(id)) == 0);
	CU_ASSERT_STRING_EQUAL(id, "FTDI_FT232R_USB_UART_A10K1234-if01");
	/* nothing but a node */
	struct hotplug_props bare = {.devname = "/dev/ttyS3"};
	CU_ASSERT(hotplug_identity(&bare, id, sizeof(id)) == 0);
	CU_ASSERT_STRING_EQUAL(id, "ttyS3");
	CU_ASSERT(hotplug_identity(&ftdi, id, 8) == -ENAMETOOLONG);
	CU_ASSERT(hotplug_identity_by_path(&ftdi, id, sizeof(id)) == 0);
	CU_ASSERT_STRING_EQUAL(id, "path-platform-xhci-hcd.0-usb-0:1.3:1.0");
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"defaults: common adapters claimed, Victron not", test_defaults},
		{"Victron interfaces never claimed by rules", test_victron_never_by_rules},
		{"VE_SERVICE", test_ve_service},
		{"SERIALBATTERY udev property", test_sb_property},
		{"include / exclude", test_include_exclude},
		{"rule globs and syntax", test_globs},
		{"serial.ports entries claim", test_config_pins},
		{"udev section in a config file", test_config_file},
		{"identity", test_identity},
		{NULL, NULL},
	};
	return sb_add_suite("udev_match", tests);
}
