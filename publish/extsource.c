/* SPDX-License-Identifier: MIT */
#include "publish/extsource.h"

#include <dbus/dbus.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/plausible.h"
#include "common/log.h"
#include "publish/busitem.h"

#define SETTINGS_NAME "com.victronenergy.settings"
#define BUSITEM_IFACE "com.victronenergy.BusItem"
#define MIN_SOC_PATH "/Settings/CGwacs/BatteryLife/MinimumSocLimit"
#define NAME_LEN 256
/* GetItems of a SmartShunt is answered at once; a service that hangs is given up on */
#define CALL_TIMEOUT_MS 5000
#define RECONNECT_FIRST_MS 100u
#define RECONNECT_CAP_MS 2000u

/* One value of the source as received: its number, and whether it may be used. */
struct ext_value {
	bool ok;
	double v;
};

struct publish_ext {
	char *address; /* NULL: system bus */
	char service[NAME_LEN];
	publish_ext_own_fn own;
	void *own_ctx;
	DBusConnection *conn;
	uint64_t retry_at_ms;
	uint32_t backoff_ms;

	char owner[NAME_LEN];        /* unique name of the source, "" when none */
	bool refused;                /* the owner is one of ours: nothing is read */
	DBusPendingCall *items_call; /* GetItems on the source */
	struct ext_value cur, soc;   /* /Dc/0/Current, /Soc */
	bool connected;              /* its /Connected (1 when it has none) */
	int64_t max_charge_ma, max_discharge_ma;

	char settings_owner[NAME_LEN];
	DBusPendingCall *min_soc_call; /* GetValue of MinimumSocLimit */
	struct ext_value min_soc;

	unsigned changed; /* PUBLISH_EXT_* */
	struct publish_ext_stats stats;
};

static void drop_call(DBusPendingCall **c)
{
	if (!*c)
		return;
	dbus_pending_call_cancel(*c);
	dbus_pending_call_unref(*c);
	*c = NULL;
}

static bool same_value(const struct ext_value *a, const struct ext_value *b)
{
	return a->ok == b->ok && (!a->ok || a->v == b->v);
}

/*
 * A value of the source: usable only when it is a number the same rules
 * would accept from a BMS (the current within the plausible maximum, the
 * SOC within 0..100 %). One that is not is counted and not used, so the
 * BMS's value takes its place.
 */
static void source_value(struct publish_ext *e, const char *path, DBusMessageIter *var)
{
	double v = 0;
	bool num = publish_variant_number(var, &v);
	struct ext_value nv = {.ok = false, .v = 0};
	struct ext_value *slot = NULL;
	if (strcmp(path, "/Dc/0/Current") == 0) {
		slot = &e->cur;
		nv.ok = num && isfinite(v) && v * 1000.0 <= (double)e->max_charge_ma &&
			-v * 1000.0 <= (double)e->max_discharge_ma;
	} else if (strcmp(path, "/Soc") == 0) {
		slot = &e->soc;
		nv.ok = num && isfinite(v) && v >= 0 && v <= 100;
	} else if (strcmp(path, "/Connected") == 0) {
		bool c = !num || v == 1; /* invalid: it says nothing either way */
		if (c != e->connected) {
			e->connected = c;
			e->changed |= PUBLISH_EXT_VALUES;
			log_info("publish: external source %s %s", e->service,
				 c ? "connected to its device again"
				   : "lost its device (/Connected)");
		}
		return;
	} else {
		return;
	}
	e->stats.updates++;
	if (num && !nv.ok) {
		/* counted, logged the first time: a source that keeps sending it would flood */
		if (e->stats.implausible++ == 0)
			log_warn("publish: external source %s: %s %g is implausible: the BMS's "
				 "value is used (logged once, counted)",
				 e->service, path, v);
	}
	nv.v = nv.ok ? v : 0;
	if (!same_value(slot, &nv)) {
		*slot = nv;
		e->changed |= PUBLISH_EXT_VALUES;
	}
}

/* The "Value" entry of the a{sv} whose entries d walks, into *ret_var; false without one. */
static bool sv_value(DBusMessageIter *d, DBusMessageIter *ret_var)
{
	for (; dbus_message_iter_get_arg_type(d) == DBUS_TYPE_DICT_ENTRY;
	     dbus_message_iter_next(d)) {
		DBusMessageIter de;
		const char *key;
		dbus_message_iter_recurse(d, &de);
		dbus_message_iter_get_basic(&de, &key);
		if (strcmp(key, "Value") != 0)
			continue;
		dbus_message_iter_next(&de);
		dbus_message_iter_recurse(&de, ret_var);
		return true;
	}
	return false;
}

/* fn(e, path, value) for each entry of an a{sa{sv}} (GetItems, ItemsChanged) with a Value. */
static void items_each(struct publish_ext *e, DBusMessage *m,
		       void (*fn)(struct publish_ext *e, const char *path, DBusMessageIter *var))
{
	if (!dbus_message_has_signature(m, "a{sa{sv}}"))
		return;
	DBusMessageIter it, arr;
	dbus_message_iter_init(m, &it);
	dbus_message_iter_recurse(&it, &arr);
	for (; dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY;
	     dbus_message_iter_next(&arr)) {
		DBusMessageIter ent, d, var;
		const char *path;
		dbus_message_iter_recurse(&arr, &ent);
		dbus_message_iter_get_basic(&ent, &path);
		dbus_message_iter_next(&ent);
		dbus_message_iter_recurse(&ent, &d);
		if (sv_value(&d, &var))
			fn(e, path, &var);
	}
}

/* a{sa{sv}} of GetItems or ItemsChanged: absolute path -> {Value, Text}. */
static void source_items(struct publish_ext *e, DBusMessage *m)
{
	items_each(e, m, source_value);
}

/* The Value of a PropertiesChanged a{sv}, into *ret_var; false when it has none. */
static bool changed_value(DBusMessage *m, DBusMessageIter *ret_var)
{
	if (!dbus_message_has_signature(m, "a{sv}"))
		return false;
	DBusMessageIter it, arr;
	dbus_message_iter_init(m, &it);
	dbus_message_iter_recurse(&it, &arr);
	return sv_value(&arr, ret_var);
}

static void set_min_soc(struct publish_ext *e, DBusMessageIter *var)
{
	double v = 0;
	struct ext_value nv = {.ok = var && publish_variant_number(var, &v) && isfinite(v) &&
				     v >= 0 && v <= 100,
			       .v = 0};
	nv.v = nv.ok ? v : 0;
	if (!same_value(&e->min_soc, &nv)) {
		e->min_soc = nv;
		e->changed |= PUBLISH_EXT_MIN_SOC;
	}
}

/* Forget the source's values (it went away or is not to be read). */
static void source_clear(struct publish_ext *e)
{
	drop_call(&e->items_call);
	if (e->cur.ok || e->soc.ok)
		e->changed |= PUBLISH_EXT_VALUES;
	e->cur.ok = e->soc.ok = false;
	e->connected = true;
}

/* The reply of pc, whose call is done: *slot (where it was kept) no longer holds it. */
static DBusMessage *take_reply(DBusPendingCall *pc, DBusPendingCall **slot)
{
	DBusMessage *r = dbus_pending_call_steal_reply(pc);
	if (pc == *slot) {
		dbus_pending_call_unref(*slot);
		*slot = NULL;
	}
	return r;
}

static void items_reply(DBusPendingCall *pc, void *ctx)
{
	struct publish_ext *e = ctx;
	DBusMessage *r = take_reply(pc, &e->items_call);
	if (!r)
		return;
	const char *from = dbus_message_get_sender(r);
	if (dbus_message_get_type(r) == DBUS_MESSAGE_TYPE_ERROR)
		log_warn("publish: external source %s: GetItems failed (%s): the BMS's values are "
			 "used until it sends its values",
			 e->service, dbus_message_get_error_name(r));
	else if (from && strcmp(from, e->owner) == 0) /* not a late reply of a former owner */
		source_items(e, r);
	dbus_message_unref(r);
}

static void min_soc_reply(DBusPendingCall *pc, void *ctx)
{
	struct publish_ext *e = ctx;
	DBusMessage *r = take_reply(pc, &e->min_soc_call);
	if (!r)
		return;
	const char *from = dbus_message_get_sender(r);
	DBusMessageIter it, var;
	if (dbus_message_get_type(r) == DBUS_MESSAGE_TYPE_METHOD_RETURN && from &&
	    strcmp(from, e->settings_owner) == 0 && dbus_message_iter_init(r, &it) &&
	    dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_VARIANT) {
		dbus_message_iter_recurse(&it, &var);
		set_min_soc(e, &var);
	}
	dbus_message_unref(r);
}

/* Send m (consumed) with its reply to fn; the call is kept in *slot to be dropped. */
static void call_async(struct publish_ext *e, DBusMessage *m, DBusPendingCallNotifyFunction fn,
		       DBusPendingCall **slot)
{
	drop_call(slot);
	if (!m)
		return;
	DBusPendingCall *pc = NULL;
	if (dbus_connection_send_with_reply(e->conn, m, &pc, CALL_TIMEOUT_MS) && pc) {
		*slot = pc;
		if (!dbus_pending_call_set_notify(pc, fn, e, NULL))
			drop_call(slot);
		else if (dbus_pending_call_get_completed(pc))
			fn(pc, e); /* answered before the notify was set */
	}
	dbus_message_unref(m);
}

/* The source got an owner ("" = it went away): read it, unless it is one of ours. */
static void source_owner(struct publish_ext *e, const char *owner)
{
	if (strcmp(owner, e->owner) == 0)
		return;
	bool was_used = e->cur.ok || e->soc.ok;
	source_clear(e);
	snprintf(e->owner, sizeof(e->owner), "%s", owner);
	e->refused = false;
	if (!owner[0]) {
		if (was_used) {
			e->stats.lost++;
			log_warn("publish: external source %s went away: the BMS's current and SOC "
				 "are used",
				 e->service);
		}
		return;
	}
	if (e->own && e->own(e->own_ctx, e->service, owner)) {
		e->refused = true;
		e->stats.refused++;
		log_warn("publish: external source %s is one of our own services: not used (it "
			 "would read back what we publish); name another monitor's service",
			 e->service);
		return;
	}
	log_info("publish: external source %s appeared: reading its current and SOC", e->service);
	call_async(e, dbus_message_new_method_call(e->service, "/", BUSITEM_IFACE, "GetItems"),
		   items_reply, &e->items_call);
}

static void settings_owner(struct publish_ext *e, const char *owner)
{
	snprintf(e->settings_owner, sizeof(e->settings_owner), "%s", owner);
	if (!owner[0]) {
		drop_call(&e->min_soc_call);
		set_min_soc(e, NULL);
		return;
	}
	call_async(e,
		   dbus_message_new_method_call(SETTINGS_NAME, MIN_SOC_PATH, BUSITEM_IFACE,
						"GetValue"),
		   min_soc_reply, &e->min_soc_call);
}

/* An entry of a settings ItemsChanged: only the ESS minimum SOC is ours to read. */
static void settings_item(struct publish_ext *e, const char *path, DBusMessageIter *var)
{
	if (strcmp(path, MIN_SOC_PATH) == 0)
		set_min_soc(e, var);
}

static DBusHandlerResult ext_filter(DBusConnection *conn, DBusMessage *msg, void *ctx)
{
	(void)conn;
	struct publish_ext *e = ctx;
	if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_SIGNAL)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	const char *sender = dbus_message_get_sender(msg);
	const char *path = dbus_message_get_path(msg);
	if (!sender || !path)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	if (strcmp(sender, DBUS_SERVICE_DBUS) == 0 &&
	    dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged")) {
		const char *name, *old, *nw;
		if (dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING,
					  &old, DBUS_TYPE_STRING, &nw, DBUS_TYPE_INVALID)) {
			if (e->service[0] && strcmp(name, e->service) == 0)
				source_owner(e, nw);
			else if (strcmp(name, SETTINGS_NAME) == 0)
				settings_owner(e, nw);
		}
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	/* anyone may send a signal to our connection: only the owners' count */
	bool from_source = e->owner[0] && !e->refused && strcmp(sender, e->owner) == 0;
	bool from_settings = e->settings_owner[0] && strcmp(sender, e->settings_owner) == 0;
	DBusMessageIter var;
	if (dbus_message_is_signal(msg, BUSITEM_IFACE, "ItemsChanged") && strcmp(path, "/") == 0) {
		if (from_source)
			source_items(e, msg);
		/* localsettings sends PropertiesChanged; a newer one may batch */
		if (from_settings)
			items_each(e, msg, settings_item);
	} else if (dbus_message_is_signal(msg, BUSITEM_IFACE, "PropertiesChanged") &&
		   changed_value(msg, &var)) {
		if (from_source)
			source_value(e, path, &var);
		else if (from_settings && strcmp(path, MIN_SOC_PATH) == 0)
			set_min_soc(e, &var);
	}
	return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

int publish_ext_new(const char *address, const char *service, publish_ext_own_fn own, void *ctx,
		    struct publish_ext **ret)
{
	struct publish_ext *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (address && !(e->address = strdup(address))) {
		free(e);
		return -ENOMEM;
	}
	snprintf(e->service, sizeof(e->service), "%s", service ? service : "");
	/* libdbus refuses (or aborts on) a malformed name in a call: check it once here */
	if (e->service[0] && !dbus_validate_bus_name(e->service, NULL)) {
		log_error("publish: external_source \"%s\" is no D-Bus service name: not used",
			  e->service);
		e->service[0] = 0;
	} else if (e->service[0] && strncmp(e->service, "com.victronenergy.battery.", 26) != 0) {
		log_warn("publish: external_source %s is not a battery service "
			 "(com.victronenergy.battery.*): its /Dc/0/Current and /Soc are read all "
			 "the "
			 "same",
			 e->service);
	}
	e->own = own;
	e->own_ctx = ctx;
	e->connected = true;
	e->max_charge_ma = e->max_discharge_ma = BMS_PLAUSIBLE_CURRENT_ANY_MA;
	*ret = e;
	return 0;
}

static void close_conn(struct publish_ext *e)
{
	drop_call(&e->items_call);
	drop_call(&e->min_soc_call);
	if (!e->conn)
		return;
	dbus_connection_remove_filter(e->conn, ext_filter, e);
	dbus_connection_close(e->conn);
	dbus_connection_unref(e->conn);
	e->conn = NULL;
}

void publish_ext_free(struct publish_ext *e)
{
	if (!e)
		return;
	close_conn(e);
	free(e->address);
	free(e);
}

static void add_match(DBusConnection *c, const char *fmt, const char *a, const char *b)
{
	char rule[NAME_LEN * 2 + 256];
	snprintf(rule, sizeof(rule), fmt, a, b);
	dbus_bus_add_match(c, rule, NULL);
}

static int ext_connect(struct publish_ext *e)
{
	DBusConnection *c;
	int r = publish_bus_connect(e->address, ext_filter, e, 0, &c);
	if (r < 0)
		return r;
	e->conn = c;
	/* subscribe first, then ask who owns the names: a change in between is signalled */
	static const char noc[] =
		"type='signal',sender='" DBUS_SERVICE_DBUS "',interface='" DBUS_INTERFACE_DBUS
		"',member='NameOwnerChanged',arg0='%s'%s";
	add_match(c, noc, SETTINGS_NAME, "");
	add_match(c,
		  "type='signal',sender='%s',interface='" BUSITEM_IFACE
		  "',member='PropertiesChanged',path='%s'",
		  SETTINGS_NAME, MIN_SOC_PATH);
	add_match(c,
		  "type='signal',sender='%s',interface='" BUSITEM_IFACE
		  "',member='ItemsChanged',path='%s'",
		  SETTINGS_NAME, "/");
	if (e->service[0]) {
		add_match(c, noc, e->service, "");
		add_match(c,
			  "type='signal',sender='%s',interface='" BUSITEM_IFACE
			  "',member='ItemsChanged',path='%s'",
			  e->service, "/");
		static const char *const paths[] = {"/Dc/0/Current", "/Soc", "/Connected"};
		for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++)
			add_match(c,
				  "type='signal',sender='%s',interface='" BUSITEM_IFACE
				  "',member='PropertiesChanged',path='%s'",
				  e->service, paths[k]);
	}
	char owner[NAME_LEN];
	publish_bus_name_owner(c, SETTINGS_NAME, owner, sizeof(owner), CALL_TIMEOUT_MS);
	settings_owner(e, owner);
	if (e->service[0]) {
		publish_bus_name_owner(c, e->service, owner, sizeof(owner), CALL_TIMEOUT_MS);
		e->owner[0] = 0; /* a new connection reads the source again */
		source_owner(e, owner);
	}
	return 0;
}

uint64_t publish_ext_upkeep(struct publish_ext *e, uint64_t rt)
{
	if (e->conn)
		return UINT64_MAX;
	if (rt < e->retry_at_ms)
		return e->retry_at_ms;
	if (ext_connect(e) == 0) {
		e->backoff_ms = 0;
		return UINT64_MAX;
	}
	uint32_t b = e->backoff_ms ? e->backoff_ms * 2u : RECONNECT_FIRST_MS;
	e->backoff_ms = b > RECONNECT_CAP_MS ? RECONNECT_CAP_MS : b;
	e->retry_at_ms = rt + e->backoff_ms;
	return e->retry_at_ms;
}

bool publish_ext_connected(const struct publish_ext *e)
{
	return e->conn != NULL;
}

int publish_ext_fd(const struct publish_ext *e)
{
	int fd = -1;
	if (!e->conn || !dbus_connection_get_unix_fd(e->conn, &fd))
		return -1;
	return fd;
}

bool publish_ext_wants_write(const struct publish_ext *e)
{
	return e->conn && dbus_connection_has_messages_to_send(e->conn);
}

bool publish_ext_pending(struct publish_ext *e)
{
	if (!e->conn)
		return false;
	while (dbus_connection_get_dispatch_status(e->conn) == DBUS_DISPATCH_DATA_REMAINS)
		dbus_connection_dispatch(e->conn);
	return dbus_connection_get_is_connected(e->conn);
}

bool publish_ext_dispatch(struct publish_ext *e)
{
	if (!e->conn || !dbus_connection_read_write(e->conn, 0))
		return false;
	return publish_ext_pending(e);
}

void publish_ext_lost(struct publish_ext *e)
{
	bool was_used = e->cur.ok || e->soc.ok;
	close_conn(e);
	source_clear(e);
	if (was_used)
		e->stats.lost++;
	e->owner[0] = 0;
	e->settings_owner[0] = 0;
	set_min_soc(e, NULL);
	e->backoff_ms = 0;
	e->retry_at_ms = 0;
}

void publish_ext_set_limits(struct publish_ext *e, int64_t max_charge_ma, int64_t max_discharge_ma)
{
	e->max_charge_ma = max_charge_ma;
	e->max_discharge_ma = max_discharge_ma;
}

void publish_ext_values(const struct publish_ext *e, struct publish_ext_values *ret)
{
	bool live = e->owner[0] && !e->refused && e->connected;
	ret->current_valid = live && e->cur.ok;
	ret->current_a = e->cur.v;
	ret->soc_valid = live && e->soc.ok;
	ret->soc_pct = e->soc.v;
}

unsigned publish_ext_take_changed(struct publish_ext *e)
{
	unsigned c = e->changed;
	e->changed = 0;
	return c;
}

bool publish_ext_min_soc(const struct publish_ext *e, double *ret_pct)
{
	if (!e->min_soc.ok)
		return false;
	*ret_pct = e->min_soc.v;
	return true;
}

void publish_ext_get_stats(const struct publish_ext *e, struct publish_ext_stats *ret)
{
	*ret = e->stats;
}
