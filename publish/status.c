/* SPDX-License-Identifier: MIT */
#include "publish/status.h"

#include <dbus/dbus.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PREFIX "com.victronenergy.battery."
#define CALL_TIMEOUT_MS 3000

static double num(DBusMessageIter *var)
{
	DBusMessageIter v;
	dbus_message_iter_recurse(var, &v);
	DBusBasicValue b;
	switch (dbus_message_iter_get_arg_type(&v)) {
	case DBUS_TYPE_DOUBLE:
		dbus_message_iter_get_basic(&v, &b);
		return b.dbl;
	case DBUS_TYPE_INT32:
		dbus_message_iter_get_basic(&v, &b);
		return b.i32;
	default:
		return NAN;
	}
}

static void str(DBusMessageIter *var, char *out, size_t len)
{
	DBusMessageIter v;
	dbus_message_iter_recurse(var, &v);
	if (dbus_message_iter_get_arg_type(&v) == DBUS_TYPE_STRING) {
		const char *s;
		dbus_message_iter_get_basic(&v, &s);
		snprintf(out, len, "%s", s);
	}
}

static void take(struct publish_status *s, const char *path, DBusMessageIter *value)
{
	static const struct {
		const char *path;
		size_t off;
	} nums[] = {
		{"/Dc/0/Voltage", offsetof(struct publish_status, voltage)},
		{"/Dc/0/Current", offsetof(struct publish_status, current)},
		{"/Dc/0/Power", offsetof(struct publish_status, power)},
		{"/Soc", offsetof(struct publish_status, soc)},
		{"/Info/MaxChargeVoltage", offsetof(struct publish_status, cvl)},
		{"/Info/MaxChargeCurrent", offsetof(struct publish_status, ccl)},
		{"/Info/MaxDischargeCurrent", offsetof(struct publish_status, dcl)},
		{"/System/MinCellVoltage", offsetof(struct publish_status, min_cell)},
		{"/System/MaxCellVoltage", offsetof(struct publish_status, max_cell)},
		{"/Link/ImplausibleCycles", offsetof(struct publish_status, implausible)},
		{"/Link/ForeignFrames", offsetof(struct publish_status, foreign)},
		{"/Link/PollCycles", offsetof(struct publish_status, polls)},
	};
	static const char prot[] = "/Bms/ProtectionEvents/";
	static const char prot_names[BMS_PROT_COUNT][28] = {
		"ShortCircuit",           "ChargeOverCurrent",        "DischargeOverCurrent",
		"CellOverVoltage",        "CellUnderVoltage",         "ChargeOverTemperature",
		"ChargeUnderTemperature", "DischargeOverTemperature", "DischargeUnderTemperature",
		"PackOverVoltage",        "PackUnderVoltage",
	};
	if (strncmp(path, prot, sizeof(prot) - 1) == 0) {
		for (unsigned e = 0; e < BMS_PROT_COUNT; e++)
			if (strcmp(path + sizeof(prot) - 1, prot_names[e]) == 0)
				s->prot_events[e] = num(value);
		return;
	}
	for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
		if (strcmp(path, nums[k].path) == 0) {
			*(double *)((char *)s + nums[k].off) = num(value);
			return;
		}
	if (strcmp(path, "/DeviceInstance") == 0) {
		double d = num(value);
		s->instance = isnan(d) ? -1 : (int)d;
	} else if (strcmp(path, "/Connected") == 0) {
		double d = num(value);
		s->connected = isnan(d) ? -1 : (int)d;
	} else if (strcmp(path, "/ProductName") == 0) {
		str(value, s->product, sizeof(s->product));
	} else if (strcmp(path, "/CustomName") == 0) {
		str(value, s->custom_name, sizeof(s->custom_name));
	} else if (strcmp(path, "/System/MinVoltageCellId") == 0) {
		str(value, s->min_cell_id, sizeof(s->min_cell_id));
	} else if (strcmp(path, "/System/MaxVoltageCellId") == 0) {
		str(value, s->max_cell_id, sizeof(s->max_cell_id));
	}
}

static int read_service(DBusConnection *c, const char *name, struct publish_status *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->service, sizeof(s->service), "%s", name);
	s->instance = s->connected = -1;
	s->voltage = s->current = s->power = s->soc = s->cvl = s->ccl = s->dcl = NAN;
	s->min_cell = s->max_cell = s->implausible = s->foreign = s->polls = NAN;
	for (unsigned e = 0; e < BMS_PROT_COUNT; e++)
		s->prot_events[e] = NAN;
	DBusMessage *m =
		dbus_message_new_method_call(name, "/", "com.victronenergy.BusItem", "GetItems");
	if (!m)
		return -ENOMEM;
	DBusMessage *r = dbus_connection_send_with_reply_and_block(c, m, CALL_TIMEOUT_MS, NULL);
	dbus_message_unref(m);
	if (!r)
		return -EIO;
	if (!dbus_message_has_signature(r, "a{sa{sv}}")) {
		dbus_message_unref(r);
		return -EPROTO;
	}
	DBusMessageIter it, arr;
	dbus_message_iter_init(r, &it);
	dbus_message_iter_recurse(&it, &arr);
	while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter e, d;
		const char *path;
		dbus_message_iter_recurse(&arr, &e);
		dbus_message_iter_get_basic(&e, &path);
		dbus_message_iter_next(&e);
		dbus_message_iter_recurse(&e, &d);
		while (dbus_message_iter_get_arg_type(&d) == DBUS_TYPE_DICT_ENTRY) {
			DBusMessageIter de;
			const char *k;
			dbus_message_iter_recurse(&d, &de);
			dbus_message_iter_get_basic(&de, &k);
			dbus_message_iter_next(&de);
			if (strcmp(k, "Value") == 0)
				take(s, path, &de);
			dbus_message_iter_next(&d);
		}
		dbus_message_iter_next(&arr);
	}
	dbus_message_unref(r);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static DBusConnection *connect_bus(const char *address)
{
	DBusError err;
	dbus_error_init(&err);
	DBusConnection *c;
	if (address) {
		c = dbus_connection_open_private(address, &err);
		if (c && !dbus_bus_register(c, &err)) {
			dbus_connection_close(c);
			dbus_connection_unref(c);
			c = NULL;
		}
	} else {
		c = dbus_bus_get_private(DBUS_BUS_SYSTEM, &err);
	}
	dbus_error_free(&err);
	if (c)
		dbus_connection_set_exit_on_disconnect(c, FALSE);
	return c;
}

int publish_bank_forget(const char *address, const char *what)
{
	DBusConnection *c = connect_bus(address);
	if (!c)
		return -ECONNREFUSED;
	int r = -EIO;
	DBusMessage *m =
		dbus_message_new_method_call("com.victronenergy.battery.aggregate", "/Bank/Forget",
					     "com.victronenergy.BusItem", "SetValue");
	DBusMessage *reply = NULL;
	if (m) {
		DBusMessageIter it, v;
		dbus_message_iter_init_append(m, &it);
		dbus_message_iter_open_container(&it, DBUS_TYPE_VARIANT, "s", &v);
		dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &what);
		dbus_message_iter_close_container(&it, &v);
		DBusError err;
		dbus_error_init(&err);
		reply = dbus_connection_send_with_reply_and_block(c, m, CALL_TIMEOUT_MS, &err);
		if (!reply)
			r = dbus_error_has_name(&err, DBUS_ERROR_SERVICE_UNKNOWN) ||
					    dbus_error_has_name(&err, DBUS_ERROR_NAME_HAS_NO_OWNER)
				    ? -ESRCH
				    : -EIO;
		dbus_error_free(&err);
	}
	int32_t code;
	if (reply && dbus_message_get_args(reply, NULL, DBUS_TYPE_INT32, &code, DBUS_TYPE_INVALID))
		r = code == 0 ? 0 : -ENOENT;
	if (reply)
		dbus_message_unref(reply);
	if (m)
		dbus_message_unref(m);
	dbus_connection_close(c);
	dbus_connection_unref(c);
	return r;
}

int publish_status_list(const char *address, struct publish_status *out, size_t cap)
{
	DBusConnection *c = connect_bus(address);
	if (!c)
		return -ECONNREFUSED;
	int found = 0;
	DBusMessage *m =
		dbus_message_new_method_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
					     "org.freedesktop.DBus", "ListNames");
	DBusMessage *r =
		m ? dbus_connection_send_with_reply_and_block(c, m, CALL_TIMEOUT_MS, NULL) : NULL;
	if (m)
		dbus_message_unref(m);
	char **names = NULL;
	int n = 0;
	if (!r || !dbus_message_get_args(r, NULL, DBUS_TYPE_ARRAY, DBUS_TYPE_STRING, &names, &n,
					 DBUS_TYPE_INVALID)) {
		found = -EIO;
		goto out;
	}
	qsort(names, (size_t)n, sizeof(*names), cmp_name);
	for (int k = 0; k < n; k++) {
		if (strncmp(names[k], PREFIX, strlen(PREFIX)) != 0)
			continue;
		if ((size_t)found < cap && read_service(c, names[k], &out[found]) < 0)
			continue;
		found++;
	}
	dbus_free_string_array(names);
out:
	if (r)
		dbus_message_unref(r);
	dbus_connection_close(c);
	dbus_connection_unref(c);
	return found;
}

/* ---- one write for `serialbattery set` (issue 17) ---- */

/* 0 and the service's one name that `what` means, -ENOENT none, -EEXIST several. */
int publish_battery_find(const char *address, const char *what, char *ret, size_t len)
{
	DBusConnection *c = connect_bus(address);
	if (!c)
		return -ECONNREFUSED;
	int r = -ENOENT;
	DBusMessage *m =
		dbus_message_new_method_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
					     "org.freedesktop.DBus", "ListNames");
	DBusMessage *reply =
		m ? dbus_connection_send_with_reply_and_block(c, m, CALL_TIMEOUT_MS, NULL) : NULL;
	if (m)
		dbus_message_unref(m);
	char **names = NULL;
	int n = 0;
	if (!reply || !dbus_message_get_args(reply, NULL, DBUS_TYPE_ARRAY, DBUS_TYPE_STRING, &names,
					     &n, DBUS_TYPE_INVALID)) {
		r = -EIO;
		goto out;
	}
	size_t pl = strlen(PREFIX), wl = strlen(what);
	for (int k = 0; k < n; k++) {
		const char *s = names[k];
		if (strncmp(s, PREFIX, pl) != 0)
			continue;
		const char *tail = s + pl;
		/* the whole name, its tty part, or the tty of an addressed pack (tty__0x01) */
		bool match = strcmp(s, what) == 0 || strcmp(tail, what) == 0 ||
			     (strncmp(tail, what, wl) == 0 && strncmp(tail + wl, "__", 2) == 0);
		if (!match)
			continue;
		if (r == 0) {
			r = -EEXIST;
			break;
		}
		snprintf(ret, len, "%s", s);
		r = 0;
	}
	dbus_free_string_array(names);
out:
	if (reply)
		dbus_message_unref(reply);
	dbus_connection_close(c);
	dbus_connection_unref(c);
	return r;
}

static int call_error(DBusError *err)
{
	if (dbus_error_has_name(err, DBUS_ERROR_SERVICE_UNKNOWN) ||
	    dbus_error_has_name(err, DBUS_ERROR_NAME_HAS_NO_OWNER))
		return -ESRCH;
	if (dbus_error_has_name(err, "org.freedesktop.DBus.Error.UnknownObject"))
		return -ENOENT;
	return -EIO;
}

/* GetValue of service's path: a number (NAN when invalid) or a string. */
static int get_value(DBusConnection *c, const char *service, const char *path, double *ret_num,
		     char *ret_str, size_t len)
{
	DBusMessage *m = dbus_message_new_method_call(service, path, "com.victronenergy.BusItem",
						      "GetValue");
	if (!m)
		return -ENOMEM;
	DBusError err;
	dbus_error_init(&err);
	DBusMessage *r = dbus_connection_send_with_reply_and_block(c, m, CALL_TIMEOUT_MS, &err);
	dbus_message_unref(m);
	int rc = r ? 0 : call_error(&err);
	dbus_error_free(&err);
	if (!r)
		return rc;
	DBusMessageIter it;
	if (dbus_message_iter_init(r, &it) &&
	    dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_VARIANT) {
		if (ret_num)
			*ret_num = num(&it);
		if (ret_str) {
			ret_str[0] = '\0';
			str(&it, ret_str, len);
		}
	} else {
		rc = -EPROTO;
	}
	dbus_message_unref(r);
	return rc;
}

/* SetValue(int32): 0 taken, -EPERM refused, -ENOENT no such path, -ESRCH no service. */
static int set_int(DBusConnection *c, const char *service, const char *path, int32_t value)
{
	DBusMessage *m = dbus_message_new_method_call(service, path, "com.victronenergy.BusItem",
						      "SetValue");
	if (!m)
		return -ENOMEM;
	DBusMessageIter it, v;
	dbus_message_iter_init_append(m, &it);
	dbus_message_iter_open_container(&it, DBUS_TYPE_VARIANT, "i", &v);
	dbus_message_iter_append_basic(&v, DBUS_TYPE_INT32, &value);
	dbus_message_iter_close_container(&it, &v);
	DBusError err;
	dbus_error_init(&err);
	DBusMessage *r = dbus_connection_send_with_reply_and_block(c, m, CALL_TIMEOUT_MS, &err);
	dbus_message_unref(m);
	int rc = r ? -EPROTO : call_error(&err);
	dbus_error_free(&err);
	int32_t code;
	if (r && dbus_message_get_args(r, NULL, DBUS_TYPE_INT32, &code, DBUS_TYPE_INVALID))
		rc = code == 0 ? 0 : -EPERM;
	if (r)
		dbus_message_unref(r);
	return rc;
}

int publish_write_wait(const char *address, const struct publish_write *w,
		       struct publish_write_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->shown = NAN;
	DBusConnection *c = connect_bus(address);
	if (!c)
		return -ECONNREFUSED;
	double done0 = NAN, errors0 = NAN, done = NAN, errors = NAN;
	/* the counters before: the outcome is the first write finished after ours was taken */
	int r = get_value(c, w->service, "/Link/Writes", &done0, NULL, 0);
	if (r == 0)
		r = get_value(c, w->service, "/Link/WriteErrors", &errors0, NULL, 0);
	if (r == 0 && w->pre_path)
		r = set_int(c, w->service, w->pre_path, w->pre_value);
	if (r == 0)
		r = set_int(c, w->service, w->path, w->value);
	if (r == -EPERM) {
		get_value(c, w->service, "/Settings/LastWriteError", NULL, ret->error,
			  sizeof(ret->error));
		goto out;
	}
	if (r < 0)
		goto out;
	r = -ETIMEDOUT;
	for (unsigned waited = 0; waited <= w->timeout_ms; waited += 100) {
		/* Writes first: both move together, so errors read after it cannot lag */
		if (get_value(c, w->service, "/Link/Writes", &done, NULL, 0) == 0 &&
		    get_value(c, w->service, "/Link/WriteErrors", &errors, NULL, 0) == 0 &&
		    done > done0) {
			if (errors > errors0) {
				get_value(c, w->service, "/Settings/LastWriteError", NULL,
					  ret->error, sizeof(ret->error));
				r = -EPERM;
			} else {
				get_value(c, w->service, w->show_path, &ret->shown, NULL, 0);
				r = 0;
			}
			break;
		}
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
out:
	dbus_connection_close(c);
	dbus_connection_unref(c);
	return r;
}
