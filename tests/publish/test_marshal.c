/* SPDX-License-Identifier: MIT */
/*
 * The publisher's own a{sa{sv}} writer (ItemsChanged, GetItems) against
 * libdbus's encoding of the same values: both messages marshalled, the bodies
 * compared byte for byte, for every kind of value we publish (int32, double,
 * string, Victron's invalid as an empty ai, with each Text format of our
 * paths). The reference Text is printf's, so the writer's Text without printf
 * is checked with it; and the Text formatter alone against printf over many
 * values, ties and signs included.
 */
#include <dbus/dbus.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "publish/busitem.h"
#include "tests/support/cunit_main.h"

/* What the publisher sent before its writer: libdbus's iterators, Text by printf. */
static void ref_text(const struct publish_item *it, char *buf, size_t len)
{
	if (!it->valid)
		snprintf(buf, len, "---");
	else if (it->type == PUBLISH_T_INT)
		snprintf(buf, len, it->fmt ? it->fmt : "%d", (int)it->i);
	else if (it->type == PUBLISH_T_DOUBLE)
		snprintf(buf, len, it->fmt ? it->fmt : "%g", it->d);
	else
		snprintf(buf, len, "%s", it->s[0] ? it->s : "---");
}

static void ref_variant(DBusMessageIter *it, const struct publish_item *item, bool text)
{
	DBusMessageIter var, arr;
	if (text) {
		char buf[PUBLISH_TEXT_LEN];
		ref_text(item, buf, sizeof(buf));
		const char *s = buf;
		CU_ASSERT_FATAL(dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "s", &var));
		CU_ASSERT_FATAL(dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &s));
	} else if (!item->valid) {
		CU_ASSERT_FATAL(
			dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "ai", &var));
		CU_ASSERT_FATAL(dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, "i", &arr));
		CU_ASSERT_FATAL(dbus_message_iter_close_container(&var, &arr));
	} else if (item->type == PUBLISH_T_INT) {
		dbus_int32_t v = item->i;
		CU_ASSERT_FATAL(dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "i", &var));
		CU_ASSERT_FATAL(dbus_message_iter_append_basic(&var, DBUS_TYPE_INT32, &v));
	} else if (item->type == PUBLISH_T_DOUBLE) {
		double v = item->d;
		CU_ASSERT_FATAL(dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "d", &var));
		CU_ASSERT_FATAL(dbus_message_iter_append_basic(&var, DBUS_TYPE_DOUBLE, &v));
	} else {
		const char *s = item->s;
		CU_ASSERT_FATAL(dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "s", &var));
		CU_ASSERT_FATAL(dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &s));
	}
	CU_ASSERT_FATAL(dbus_message_iter_close_container(it, &var));
}

static void ref_items(DBusMessage *m, struct publish_tree *t, const char *const *paths, size_t n)
{
	DBusMessageIter it, arr;
	dbus_message_iter_init_append(m, &it);
	CU_ASSERT_FATAL(dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sa{sv}}", &arr));
	for (size_t k = 0; k < n; k++) {
		const struct publish_item *item = publish_tree_find(t, paths[k]);
		CU_ASSERT_FATAL(item != NULL);
		DBusMessageIter e, d, kv;
		const char *key = item->path, *value = "Value", *text = "Text";
		CU_ASSERT_FATAL(
			dbus_message_iter_open_container(&arr, DBUS_TYPE_DICT_ENTRY, NULL, &e));
		CU_ASSERT_FATAL(dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &key));
		CU_ASSERT_FATAL(dbus_message_iter_open_container(&e, DBUS_TYPE_ARRAY, "{sv}", &d));
		CU_ASSERT_FATAL(
			dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &kv));
		CU_ASSERT_FATAL(dbus_message_iter_append_basic(&kv, DBUS_TYPE_STRING, &value));
		ref_variant(&kv, item, false);
		CU_ASSERT_FATAL(dbus_message_iter_close_container(&d, &kv));
		CU_ASSERT_FATAL(
			dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &kv));
		CU_ASSERT_FATAL(dbus_message_iter_append_basic(&kv, DBUS_TYPE_STRING, &text));
		ref_variant(&kv, item, true);
		CU_ASSERT_FATAL(dbus_message_iter_close_container(&d, &kv));
		CU_ASSERT_FATAL(dbus_message_iter_close_container(&e, &d));
		CU_ASSERT_FATAL(dbus_message_iter_close_container(&arr, &e));
	}
	CU_ASSERT_FATAL(dbus_message_iter_close_container(&it, &arr));
}

/* The body of a marshalled message (after the header and its padding). */
static void body_of(DBusMessage *m, char **ret_buf, const char **ret_body, size_t *ret_len)
{
	char *buf;
	int len;
	if (dbus_message_get_serial(m) == 0)
		dbus_message_set_serial(m, 1);
	CU_ASSERT_FATAL(dbus_message_marshal(m, &buf, &len));
	uint32_t body_len, fields_len;
	memcpy(&body_len, buf + 4, 4);
	memcpy(&fields_len, buf + 12, 4);
	size_t start = (16 + (size_t)fields_len + 7) & ~(size_t)7;
	CU_ASSERT_FATAL(start + body_len == (size_t)len);
	*ret_buf = buf;
	*ret_body = buf + start;
	*ret_len = body_len;
}

static void expect_same_body(DBusMessage *ours, DBusMessage *ref)
{
	char *a, *b;
	const char *ba, *bb;
	size_t la, lb;
	body_of(ours, &a, &ba, &la);
	body_of(ref, &b, &bb, &lb);
	CU_ASSERT(la == lb);
	CU_ASSERT(la == lb && memcmp(ba, bb, la) == 0);
	if (la != lb || memcmp(ba, bb, la) != 0) {
		for (size_t k = 0; k < la && k < lb; k++)
			if (ba[k] != bb[k]) {
				fprintf(stderr, "first difference at body byte %zu of %zu/%zu\n", k,
					la, lb);
				break;
			}
	}
	CU_ASSERT_STRING_EQUAL(dbus_message_get_signature(ours), dbus_message_get_signature(ref));
	dbus_free(a);
	dbus_free(b);
}

/* Every value kind and Text format a battery service publishes. */
static const struct {
	const char *path;
	char type;
	const char *fmt;
} kinds[] = {
	{"/Connected", 'i', NULL},
	{"/ProductId", 'i', "0x%X"},
	{"/TimeToGo", 'i', "%ds"},
	{"/Dc/0/Voltage", 'd', "%.2fV"},
	{"/Dc/0/Current", 'd', "%.1fA"},
	{"/Dc/0/Power", 'd', "%.0fW"},
	{"/Dc/0/Temperature", 'd', "%.1f°C"},
	{"/Soc", 'd', "%.0f%%"},
	{"/Voltages/Cell1", 'd', "%.3fV"},
	{"/History/ChargedEnergy", 'd', "%.2fkWh"},
	{"/Capacity", 'd', "%.1fAh"},
	{"/Dc/0/MidVoltageDeviation", 'd', "%.1f%%"},
	{"/Plain", 'd', NULL},
	{"/ProductName", 's', NULL},
	{"/Serial", 's', NULL},
	{"/Mode", 'i', NULL},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static struct publish_tree *make_tree(void)
{
	struct publish_tree *t;
	CU_ASSERT_FATAL(publish_tree_new(NULL, NULL, &t) == 0);
	for (size_t k = 0; k < NKINDS; k++) {
		int r;
		if (strcmp(kinds[k].path, "/Mode") == 0)
			r = publish_tree_add_writable_id(t, (unsigned)k + 1, kinds[k].path,
							 kinds[k].type, 3, 252);
		else
			r = publish_tree_add_id(t, (unsigned)k + 1, kinds[k].path, kinds[k].type,
						kinds[k].fmt);
		CU_ASSERT_FATAL(r == 0);
	}
	publish_tree_seal(t);
	return t;
}

/* Sorted paths of the tree whose items are changed (the order both messages use). */
static size_t changed_paths(struct publish_tree *t, const char **out, bool all)
{
	const char *sorted[NKINDS];
	size_t n = 0;
	for (size_t k = 0; k < NKINDS; k++)
		sorted[k] = kinds[k].path;
	for (size_t i = 1; i < NKINDS; i++)
		for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
			const char *x = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = x;
		}
	for (size_t k = 0; k < NKINDS; k++)
		if (all || publish_tree_find(t, sorted[k])->changed)
			out[n++] = sorted[k];
	return n;
}

static void compare_signal(struct publish_tree *t)
{
	const char *paths[NKINDS];
	size_t n = changed_paths(t, paths, false);
	DBusMessage *ours = publish_tree_items_message(t, NULL, true);
	CU_ASSERT_FATAL(ours != NULL);
	DBusMessage *ref =
		dbus_message_new_signal("/", "com.victronenergy.BusItem", "ItemsChanged");
	ref_items(ref, t, paths, n);
	expect_same_body(ours, ref);
	CU_ASSERT_STRING_EQUAL(dbus_message_get_path(ours), "/");
	CU_ASSERT_STRING_EQUAL(dbus_message_get_interface(ours), "com.victronenergy.BusItem");
	CU_ASSERT_STRING_EQUAL(dbus_message_get_member(ours), "ItemsChanged");
	CU_ASSERT(dbus_message_get_type(ours) == DBUS_MESSAGE_TYPE_SIGNAL);
	CU_ASSERT(dbus_message_get_no_reply(ours) == dbus_message_get_no_reply(ref));
	dbus_message_unref(ours);
	dbus_message_unref(ref);
}

/* Values of every kind, valid and invalid, through ItemsChanged. */
static void test_items_changed(void)
{
	struct publish_tree *t = make_tree();
	compare_signal(t); /* nothing set: all invalid, none changed: an empty array */
	publish_tree_mark_changed(t);
	compare_signal(t); /* every kind invalid */
	static const double dv[] = {0,    -0.0, 52.345,      12.345, -3.25,
				    1e-9, 99.5, 100.0 / 3.0, -0.001, 4294967296.5};
	static const int32_t iv[] = {0, 1, -1, INT32_MAX, INT32_MIN, 0xBA77, 252};
	static const char *const sv[] = {"JK_B2A24S15P", "", "é ü °C",
					 "a string of some length "
					 "to make the padding differ"};
	for (unsigned round = 0; round < 10; round++) {
		publish_tree_clear_changes(t);
		for (size_t k = 0; k < NKINDS; k++) {
			struct publish_item *it = publish_tree_item(t, (unsigned)k + 1);
			if ((k + round) % 4 == 3) {
				publish_item_set_invalid(it);
				continue;
			}
			if (it->type == 'i')
				publish_item_set_int(it, iv[(k + round) % 7]);
			else if (it->type == 'd')
				publish_item_set_double(it, dv[(k + round) % 10]);
			else
				publish_item_set_string(it, sv[(k + round) % 4]);
		}
		compare_signal(t);
	}
	publish_tree_free(t);
}

/* GetItems: all items, in a method return to the caller. */
static void test_get_items(void)
{
	struct publish_tree *t = make_tree();
	publish_set_double(t, 4, 53.1);
	publish_set_string(t, 14, "Pack");
	publish_set_int(t, 2, 0xBA77);
	DBusMessage *call = dbus_message_new_method_call("com.victronenergy.battery.x", "/",
							 "com.victronenergy.BusItem", "GetItems");
	dbus_message_set_serial(call, 4711);
	CU_ASSERT_FATAL(dbus_message_set_sender(call, ":1.42"));
	const char *paths[NKINDS];
	size_t n = changed_paths(t, paths, true);
	DBusMessage *ours = publish_tree_items_message(t, call, false);
	CU_ASSERT_FATAL(ours != NULL);
	DBusMessage *ref = dbus_message_new_method_return(call);
	ref_items(ref, t, paths, n);
	expect_same_body(ours, ref);
	CU_ASSERT(dbus_message_get_type(ours) == DBUS_MESSAGE_TYPE_METHOD_RETURN);
	CU_ASSERT(dbus_message_get_reply_serial(ours) == 4711);
	CU_ASSERT_STRING_EQUAL(dbus_message_get_destination(ours), ":1.42");
	dbus_message_unref(ours);
	dbus_message_unref(ref);
	dbus_message_unref(call);
	publish_tree_free(t);
}

static void expect_text(const char *fmt, char type, double d, int32_t i)
{
	struct publish_tree *t;
	CU_ASSERT_FATAL(publish_tree_new(NULL, NULL, &t) == 0);
	CU_ASSERT_FATAL(publish_tree_add_id(t, 1, "/X", type, fmt) == 0);
	publish_tree_seal(t);
	struct publish_item *it = publish_tree_item(t, 1);
	if (type == 'd')
		publish_item_set_double(it, d);
	else
		publish_item_set_int(it, i);
	char ours[PUBLISH_TEXT_LEN], ref[PUBLISH_TEXT_LEN];
	size_t n = publish_item_text(it, ours, sizeof(ours));
	ref_text(it, ref, sizeof(ref));
	CU_ASSERT(n == strlen(ours));
	if (strcmp(ours, ref) != 0) {
		fprintf(stderr, "fmt %s value %.17g / %d: ours \"%s\", printf \"%s\"\n", fmt, d,
			(int)i, ours, ref);
		CU_FAIL("Text differs from printf");
	}
	publish_tree_free(t);
}

/*
 * The formatter alone: what our paths carry (mV, mA, 0.1 degC, cpct as
 * doubles), exact ties of binary fractions (printf rounds them to even),
 * negative zero, values that round to a negative zero, and random doubles.
 */
static void test_text_as_printf(void)
{
	static const char *const ffmt[] = {"%.0f%%", "%.1fA", "%.2fV", "%.3fV", "%.1f°C"};
	for (size_t f = 0; f < 5; f++) {
		for (int k = -70000; k <= 70000; k += 7) {
			expect_text(ffmt[f], 'd', k / 1000.0, 0);
			expect_text(ffmt[f], 'd', k / 100.0, 0);
			expect_text(ffmt[f], 'd', k / 10.0, 0);
		}
		static const double ties[] = {
			0.5,  1.5,     2.5,   0.125,  0.375, -0.5,  -2.5,  0.0625,
			-0.0, -0.0001, -0.04, 1e-300, 1e15,  -1e15, 1e300, 9007199254740993.0};
		for (size_t k = 0; k < sizeof(ties) / sizeof(ties[0]); k++)
			expect_text(ffmt[f], 'd', ties[k], 0);
		unsigned seed = 20;
		for (int k = 0; k < 20000; k++) {
			seed = seed * 1103515245u + 12345u;
			double v = ((double)seed / 4294967296.0 - 0.5) * 2000.0;
			expect_text(ffmt[f], 'd', v, 0);
		}
	}
	static const int32_t iv[] = {0, 1, -1, 42, INT32_MAX, INT32_MIN, 0xBA77, 864000};
	for (size_t k = 0; k < sizeof(iv) / sizeof(iv[0]); k++) {
		expect_text(NULL, 'i', 0, iv[k]);
		expect_text("%ds", 'i', 0, iv[k]);
		expect_text("0x%X", 'i', 0, iv[k]);
	}
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"ItemsChanged as libdbus encodes it", test_items_changed},
		{"GetItems as libdbus encodes it", test_get_items},
		{"Text as printf prints it", test_text_as_printf},
		{NULL, NULL},
	};
	return sb_add_suite("marshal", tests);
}
