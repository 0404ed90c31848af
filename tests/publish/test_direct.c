/* SPDX-License-Identifier: MIT */
/*
 * ItemsChanged written straight onto the connection's socket
 * (publish_tree_flush(), busitem.c send_direct()), on a real dbus-daemon with
 * a libdbus client reading what arrives:
 *
 * 1. While libdbus has nothing queued every ItemsChanged goes straight out,
 *    and the bus daemon takes each (it disconnects a client that sends it a
 *    malformed message), whole and in order, with the values and Texts set.
 * 2. With the daemon stopped (SIGSTOP) the socket fills: then libdbus queues,
 *    nothing goes straight out while it holds a queue, and once the daemon
 *    runs again every message arrives exactly once, in order, so no message
 *    was written into the middle of another.
 * 3. Only UTF-8 goes on the bus: a string with stray bytes, or cut inside a
 *    character by the item's length, is sent with '?' for each such byte
 *    (the daemon would drop the connection otherwise); publish_utf8_clean()
 *    on the forms RFC 3629 forbids.
 */
#include <dbus/dbus.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bus_fixture.h"
#include "publish/busitem.h"
#include "tests/support/cunit_main.h"

#define WAIT_MS 10000
#define FLOOD_MAX 20000

enum { ID_VOLTAGE = 1, ID_COUNT, ID_NAME };

static struct tb_bus bus;
static DBusConnection *pubc, *cli;
static struct publish_tree *tree;

static int on_write(void *ctx, struct publish_tree *t, struct publish_item *it,
		    const struct publish_item *value)
{
	(void)ctx;
	(void)t;
	(void)it;
	(void)value;
	return -1;
}

static int suite_clean(void)
{
	publish_tree_free(tree);
	tree = NULL;
	if (pubc)
		tb_disconnect(pubc);
	if (cli)
		tb_disconnect(cli);
	pubc = cli = NULL;
	tb_bus_stop(&bus);
	return 0;
}

static int suite_init(void)
{
	if (tb_bus_start(&bus) < 0 || (pubc = tb_connect(bus.address)) == NULL ||
	    (cli = tb_connect(bus.address)) == NULL ||
	    publish_tree_new(on_write, NULL, &tree) < 0 ||
	    publish_tree_add_id(tree, ID_VOLTAGE, "/Dc/0/Voltage", 'd', "%.2fV") < 0 ||
	    publish_tree_add_id(tree, ID_COUNT, "/Count", 'i', NULL) < 0 ||
	    publish_tree_add_id(tree, ID_NAME, "/ProductName", 's', NULL) < 0) {
		suite_clean();
		return -1;
	}
	publish_tree_seal(tree);
	char rule[256];
	snprintf(rule, sizeof(rule), "type='signal',sender='%s',member='ItemsChanged'",
		 dbus_bus_get_unique_name(pubc));
	tb_add_match(cli, rule);
	return 0;
}

static DBusMessage *next_items(void)
{
	return tb_wait_signal(cli, "ItemsChanged", "/", dbus_bus_get_unique_name(pubc), WAIT_MS);
}

/* Until the daemon has read all we wrote (a bounded wait, not a timing assertion). */
static void daemon_caught_up(void)
{
	int fd, queued = 1;
	CU_ASSERT_FATAL(dbus_connection_get_socket(pubc, &fd));
	for (int k = 0; k < WAIT_MS && queued > 0; k++) {
		CU_ASSERT_FATAL(ioctl(fd, SIOCOUTQ, &queued) == 0);
		if (queued > 0)
			usleep(1000);
	}
	CU_ASSERT(queued == 0);
}

static void set_step(int k)
{
	publish_set_int(tree, ID_COUNT, k);
	publish_set_double(tree, ID_VOLTAGE, 50.0 + k / 100.0);
}

/* Reads n ItemsChanged from k0 on: every one once, in order. */
static void expect_steps(int k0, int n)
{
	for (int k = k0; k < k0 + n; k++) {
		DBusMessage *m = next_items();
		CU_ASSERT_FATAL(m != NULL);
		struct tb_val v;
		CU_ASSERT(tb_items_get(m, "/Count", &v) == 0 && v.type == 'i' && v.i == k);
		if (v.i != k) {
			printf("\n  step %d arrived as %d ", k, v.i);
			dbus_message_unref(m);
			CU_FAIL_FATAL("out of order");
		}
		dbus_message_unref(m);
	}
}

static void test_straight_and_whole(void)
{
	uint64_t d0 = publish_tree_direct(tree);
	publish_set_string(tree, ID_NAME, "JBD BMS");
	for (int k = 0; k < 200; k++) {
		set_step(k);
		CU_ASSERT(publish_tree_flush(tree, pubc, false) == 1);
		daemon_caught_up();
	}
	CU_ASSERT(publish_tree_direct(tree) == d0 + 200);
	CU_ASSERT(dbus_connection_get_is_connected(pubc));
	DBusMessage *m = next_items();
	CU_ASSERT_FATAL(m != NULL);
	struct tb_val v;
	CU_ASSERT(tb_items_get(m, "/ProductName", &v) == 0 && v.type == 's' &&
		  strcmp(v.s, "JBD BMS") == 0 && strcmp(v.text, "JBD BMS") == 0);
	CU_ASSERT(tb_items_get(m, "/Dc/0/Voltage", &v) == 0 && v.type == 'd' && v.d == 50.0 &&
		  strcmp(v.text, "50.00V") == 0);
	CU_ASSERT(tb_items_get(m, "/Count", &v) == 0 && v.type == 'i' && v.i == 0 &&
		  strcmp(v.text, "0") == 0);
	dbus_message_unref(m);
	expect_steps(1, 199);
}

static void test_queue_then_straight(void)
{
	CU_ASSERT_FATAL(kill(bus.daemon, SIGSTOP) == 0);
	int k = 0, queued_at = -1;
	uint64_t direct_at_queue = 0;
	for (; k < FLOOD_MAX; k++) {
		set_step(1000 + k);
		CU_ASSERT_FATAL(publish_tree_flush(tree, pubc, false) == 1);
		if (queued_at < 0 && dbus_connection_has_messages_to_send(pubc)) {
			queued_at = k;
			direct_at_queue = publish_tree_direct(tree);
		}
		if (queued_at >= 0 && k >= queued_at + 50)
			break;
	}
	CU_ASSERT(queued_at > 0);
	/* a queue held: everything after it went through libdbus */
	CU_ASSERT(publish_tree_direct(tree) == direct_at_queue);
	CU_ASSERT_FATAL(kill(bus.daemon, SIGCONT) == 0);
	dbus_connection_flush(pubc); /* the publisher thread's POLLOUT, here */
	CU_ASSERT(!dbus_connection_has_messages_to_send(pubc));
	expect_steps(1000, k + 1);
	/* the queue written out: straight again */
	daemon_caught_up();
	uint64_t d = publish_tree_direct(tree);
	set_step(1000 + k + 1);
	CU_ASSERT(publish_tree_flush(tree, pubc, false) == 1);
	CU_ASSERT(publish_tree_direct(tree) == d + 1);
	expect_steps(1000 + k + 1, 1);
	CU_ASSERT(dbus_connection_get_is_connected(pubc));
	printf("\n  %d straight, then libdbus queued ", queued_at);
}

static void test_only_utf8(void)
{
	char s[8] = "ab\xff"
		    "c";
	CU_ASSERT(publish_utf8_clean(s) == 1 && strcmp(s, "ab?c") == 0);
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"25\xc2\xb0"
		 "C",
		 "25\xc2\xb0"
		 "C"},                                    /* U+00B0, 2 bytes */
		{"\xf0\x9f\x94\x8b", "\xf0\x9f\x94\x8b"}, /* U+1F50B, 4 bytes */
		{"\xe2\x82\xac", "\xe2\x82\xac"},         /* U+20AC, 3 bytes */
		{"\xc0\xaf", "??"},                       /* overlong '/' */
		{"\xe0\x80\xaf", "???"},                  /* overlong, 3 bytes */
		{"\xed\xa0\x80", "???"},                  /* a surrogate */
		{"\xf4\x90\x80\x80", "????"},             /* above U+10FFFF */
		{"\xe2\x82", "??"},                       /* cut short */
		{"x\x80y", "x?y"},                        /* a lone continuation */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		publish_utf8_clean(buf);
		CU_ASSERT(strcmp(buf, cases[i].out) == 0);
		if (strcmp(buf, cases[i].out) != 0)
			printf("\n  case %zu gave \"%s\" ", i, buf);
	}

	/* on the bus: a config file's Latin-1, and a name cut inside its last character */
	publish_set_string(tree, ID_NAME, "Batterie \xe9t\xe9");
	CU_ASSERT(publish_tree_flush(tree, pubc, false) == 1);
	DBusMessage *m = next_items();
	CU_ASSERT_FATAL(m != NULL);
	struct tb_val v;
	CU_ASSERT(tb_items_get(m, "/ProductName", &v) == 0 && strcmp(v.s, "Batterie ?t?") == 0);
	dbus_message_unref(m);
	char longname[PUBLISH_STR_LEN + 4];
	memset(longname, 'a', PUBLISH_STR_LEN - 2);
	memcpy(longname + PUBLISH_STR_LEN - 2, "\xc3\xa9", 3); /* 'é' across the end */
	publish_set_string(tree, ID_NAME, longname);
	CU_ASSERT(publish_tree_flush(tree, pubc, false) == 1);
	m = next_items();
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT(tb_items_get(m, "/ProductName", &v) == 0 && strlen(v.s) == PUBLISH_STR_LEN - 1 &&
		  v.s[PUBLISH_STR_LEN - 2] == '?');
	dbus_message_unref(m);
	dbus_connection_read_write(pubc, 0);
	CU_ASSERT(dbus_connection_get_is_connected(pubc));
	/* the same text again is no change */
	publish_set_string(tree, ID_NAME, longname);
	CU_ASSERT(publish_tree_flush(tree, pubc, false) == 0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"straight onto the socket, whole", test_straight_and_whole},
		{"a libdbus queue first, then straight", test_queue_then_straight},
		{"only UTF-8 on the bus", test_only_utf8},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("ItemsChanged straight onto the socket", suite_init,
				    suite_clean, tests);
}
