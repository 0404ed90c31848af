/* SPDX-License-Identifier: MIT */
#include "publish/service.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"

#define SETTINGS_NAME "com.victronenergy.settings"
#define SETTINGS_IFACE "com.victronenergy.Settings"
#define BUSITEM_IFACE "com.victronenergy.BusItem"
/* AddSettings is answered at once by localsettings; a missing service fails at once too. */
#define SETTINGS_TIMEOUT_MS 5000
/* Unhandled incoming bytes libdbus may hold per connection (requests are ~200 bytes). */
#define INCOMING_CAP (256 * 1024)

void publish_sanitize(const char *in, char *out, size_t len)
{
	size_t k = 0;
	for (; in[k] && k + 1 < len; k++)
		out[k] = isalnum((unsigned char)in[k]) ? in[k] : '_';
	if (len)
		out[k] = 0;
}

int publish_service_new(const char *address, struct publish_service **ret)
{
	struct publish_service *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->address = address;
	*ret = s;
	return 0;
}

static DBusHandlerResult service_filter(DBusConnection *conn, DBusMessage *msg, void *ctx);

/* Subscribe to NameOwnerChanged of one name (asynchronous: ordered before later calls). */
static void watch_name(DBusConnection *conn, const char *name)
{
	char rule[PUBLISH_NAME_LEN + 160];
	snprintf(rule, sizeof(rule),
		 "type='signal',sender='" DBUS_SERVICE_DBUS "',interface='" DBUS_INTERFACE_DBUS
		 "',member='NameOwnerChanged',arg0='%s'",
		 name);
	dbus_bus_add_match(conn, rule, NULL);
}

int publish_service_connect(struct publish_service *s)
{
	if (s->conn)
		return 0;
	DBusConnection *c;
	/*
	 * Requests are read only as fast as they are handled: a client that
	 * floods us waits in the bus daemon, not in our memory.
	 */
	int r = publish_bus_connect(s->address, service_filter, s, INCOMING_CAP, &c);
	if (r < 0)
		return r;
	s->conn = c;
	s->owned = false;
	s->name_watched = false;
	s->settings_watched = false;
	s->name_free = false;
	s->settings_back = false;
	s->backoff_ms = 0;
	/* subscribe first, then ask: a change in between is seen by the signal */
	watch_name(c, SETTINGS_NAME);
	if (s->name[0]) {
		watch_name(c, s->name);
		s->name_watched = true;
	}
	publish_bus_name_owner(c, SETTINGS_NAME, s->settings_owner, sizeof(s->settings_owner),
			       SETTINGS_TIMEOUT_MS);
	return 0;
}

int publish_service_open(const char *address, struct publish_service **ret)
{
	struct publish_service *s;
	int r = publish_service_new(address, &s);
	if (r < 0)
		return r;
	/* no bus now: the publisher's upkeep connects it with backoff */
	publish_service_connect(s);
	*ret = s;
	return 0;
}

static void close_conn(struct publish_service *s)
{
	if (!s->conn)
		return;
	dbus_connection_remove_filter(s->conn, service_filter, s);
	dbus_connection_close(s->conn);
	dbus_connection_unref(s->conn);
	s->conn = NULL;
}

void publish_service_lost(struct publish_service *s)
{
	close_conn(s);
	s->owned = false;
	s->reclaim = false;
	s->settings_owner[0] = 0;
	/* consumers on the new bus know nothing of us: every value goes out again */
	s->resend = true;
}

void publish_service_release_name(struct publish_service *s)
{
	if (!s->owned)
		return;
	DBusError err;
	dbus_error_init(&err);
	if (s->conn && dbus_connection_get_is_connected(s->conn))
		dbus_bus_release_name(s->conn, s->name, &err);
	dbus_error_free(&err);
	s->owned = false;
	log_info("publish: released %s", s->name);
}

void publish_service_close(struct publish_service *s)
{
	if (!s)
		return;
	publish_service_release_name(s);
	if (s->conn)
		dbus_connection_flush(s->conn);
	close_conn(s);
	free(s);
}

/* Text value of a settings reply/signal variant, or NULL. */
static const char *variant_string(DBusMessageIter *v)
{
	if (dbus_message_iter_get_arg_type(v) != DBUS_TYPE_STRING)
		return NULL;
	const char *str;
	dbus_message_iter_get_basic(v, &str);
	return str;
}

/* "battery:513" -> 513 */
static int parse_instance(const char *v, int32_t *ret)
{
	const char *c = v ? strchr(v, ':') : NULL;
	if (!c)
		return -EINVAL;
	char *end;
	long n = strtol(c + 1, &end, 10);
	if (end == c + 1 || *end || n < 0 || n > 0x7fffffff)
		return -EINVAL;
	*ret = (int32_t)n;
	return 0;
}

static void apply_setting(struct publish_service *s, const char *rel, DBusMessageIter *value)
{
	const char *str = variant_string(value);
	if (!str)
		return;
	if (strcmp(rel, "CustomName") == 0) {
		snprintf(s->custom_name, sizeof(s->custom_name), "%s", str);
		if (s->tree)
			publish_tree_set_string(s->tree, "/CustomName", str);
	} else if (strcmp(rel, "ClassAndVrmInstance") == 0) {
		int32_t inst;
		if (parse_instance(str, &inst) == 0 && inst != s->instance) {
			s->instance = inst;
			if (s->tree) {
				/* consumers cache the instance at scan time: re-register the name
				 */
				publish_tree_set_int(s->tree, "/DeviceInstance", inst);
				s->reclaim = s->owned;
			}
		}
	}
}

/* A settings PropertiesChanged on our settings path: applied only from the settings owner. */
static void settings_signal(struct publish_service *s, DBusMessage *msg)
{
	if (!dbus_message_has_signature(msg, "a{sv}"))
		return;
	const char *path = dbus_message_get_path(msg);
	size_t bl = strlen(s->settings);
	if (!s->settings[0] || !path || strncmp(path, s->settings, bl) != 0 || path[bl] != '/')
		return;
	const char *sender = dbus_message_get_sender(msg);
	/*
	 * Any client may send a signal straight to our connection (no match rule
	 * filters those): only the unique name that owns the settings service
	 * may change our identity.
	 */
	if (!s->settings_owner[0] || !sender || strcmp(sender, s->settings_owner) != 0) {
		if (s->ignored_signals++ == 0)
			log_warn("publish: %s: ignoring settings signals not sent by %s (first "
				 "from %s)",
				 s->name[0] ? s->name : s->sid, SETTINGS_NAME,
				 sender ? sender : "?");
		return;
	}
	DBusMessageIter it, arr;
	dbus_message_iter_init(msg, &it);
	dbus_message_iter_recurse(&it, &arr);
	while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter e, v;
		const char *key;
		dbus_message_iter_recurse(&arr, &e);
		dbus_message_iter_get_basic(&e, &key);
		dbus_message_iter_next(&e);
		dbus_message_iter_recurse(&e, &v);
		if (strcmp(key, "Value") == 0)
			apply_setting(s, path + bl + 1, &v);
		dbus_message_iter_next(&arr);
	}
}

/* NameOwnerChanged from the bus: the settings owner, or our wanted name freed. */
static void owner_changed(struct publish_service *s, DBusMessage *msg)
{
	const char *name, *old, *nw;
	if (!dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old,
				   DBUS_TYPE_STRING, &nw, DBUS_TYPE_INVALID))
		return;
	if (strcmp(name, SETTINGS_NAME) == 0) {
		snprintf(s->settings_owner, sizeof(s->settings_owner), "%s", nw);
		if (nw[0] && s->sid[0] && !s->have_settings)
			s->settings_back = true;
	} else if (s->name[0] && strcmp(name, s->name) == 0 && !nw[0]) {
		s->name_free = true;
	}
}

static DBusHandlerResult service_filter(DBusConnection *conn, DBusMessage *msg, void *ctx)
{
	(void)conn;
	struct publish_service *s = ctx;
	if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_SIGNAL)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	const char *sender = dbus_message_get_sender(msg);
	/* only the bus itself can send as org.freedesktop.DBus */
	bool from_bus = sender && strcmp(sender, DBUS_SERVICE_DBUS) == 0;
	if (dbus_message_is_signal(msg, BUSITEM_IFACE, "PropertiesChanged"))
		settings_signal(s, msg);
	else if (from_bus && dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged"))
		owner_changed(s, msg);
	else if (from_bus && dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameLost")) {
		const char *name;
		/*
		 * Also the late echo of our own release before a re-request: asking
		 * again costs one call, answered "already owner" without a signal.
		 */
		if (dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID) &&
		    s->owned && strcmp(name, s->name) == 0) {
			log_debug("publish: NameLost %s; requesting it again", s->name);
			s->owned = false;
			s->name_free = true;
		}
	}
	/* other handlers on this connection may want the signal too */
	return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

static bool add_setting_entry(DBusMessageIter *arr, const char *path, const char *def)
{
	DBusMessageIter d, e, v;
	const char *kp = "path", *kd = "default";
	return dbus_message_iter_open_container(arr, DBUS_TYPE_ARRAY, "{sv}", &d) &&
	       dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &e) &&
	       dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &kp) &&
	       dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "s", &v) &&
	       dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &path) &&
	       dbus_message_iter_close_container(&e, &v) &&
	       dbus_message_iter_close_container(&d, &e) &&
	       dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &e) &&
	       dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &kd) &&
	       dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "s", &v) &&
	       dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &def) &&
	       dbus_message_iter_close_container(&e, &v) &&
	       dbus_message_iter_close_container(&d, &e) &&
	       dbus_message_iter_close_container(arr, &d);
}

/* Reply aa{sv}: [{"path": s, "error": i, "value": v}, ...] */
static void parse_add_reply(struct publish_service *s, DBusMessage *reply, const char *sid)
{
	if (!dbus_message_has_signature(reply, "aa{sv}"))
		return;
	size_t pl = strlen("serialbattery_") + strlen(sid) + 1;
	DBusMessageIter it, outer;
	dbus_message_iter_init(reply, &it);
	dbus_message_iter_recurse(&it, &outer);
	while (dbus_message_iter_get_arg_type(&outer) == DBUS_TYPE_ARRAY) {
		DBusMessageIter d;
		const char *path = NULL;
		DBusMessageIter value;
		bool have_value = false;
		int32_t error = 0;
		dbus_message_iter_recurse(&outer, &d);
		while (dbus_message_iter_get_arg_type(&d) == DBUS_TYPE_DICT_ENTRY) {
			DBusMessageIter e, v;
			const char *key;
			dbus_message_iter_recurse(&d, &e);
			dbus_message_iter_get_basic(&e, &key);
			dbus_message_iter_next(&e);
			dbus_message_iter_recurse(&e, &v);
			if (strcmp(key, "path") == 0) {
				path = variant_string(&v);
			} else if (strcmp(key, "value") == 0) {
				value = v;
				have_value = true;
			} else if (strcmp(key, "error") == 0 &&
				   dbus_message_iter_get_arg_type(&v) == DBUS_TYPE_INT32) {
				dbus_int32_t x;
				dbus_message_iter_get_basic(&v, &x);
				error = x;
			}
			dbus_message_iter_next(&d);
		}
		if (path && have_value && error == 0 && strlen(path) > pl)
			apply_setting(s, path + pl, &value);
		else if (error)
			log_warn("publish: settings refused %s (error %d)", path ? path : "?",
				 (int)error);
		dbus_message_iter_next(&outer);
	}
}

/*
 * The Python driver's fallback id: the version string's letters and digits,
 * "_", the capacity as Python's str() prints capacity/100 ("100.0", "105.5",
 * "123.45"), "Ah"; every other character then becomes '_' like its other ids.
 */
static void capacity_id(char *out, size_t len, const char *version, int32_t cap_mah)
{
	char alnum[BMS_STR_LEN] = "";
	size_t n = 0;
	for (const char *c = version; c && *c && n + 1 < sizeof(alnum); c++)
		if (isalnum((unsigned char)*c))
			alnum[n++] = *c;
	alnum[n] = '\0';
	unsigned centi = (unsigned)(cap_mah / 10); /* JBD: 10 mAh units, so exact */
	char cap[24];
	if (centi % 100 == 0)
		snprintf(cap, sizeof(cap), "%u.0", centi / 100);
	else if (centi % 10 == 0)
		snprintf(cap, sizeof(cap), "%u.%u", centi / 100, centi / 10 % 10);
	else
		snprintf(cap, sizeof(cap), "%u.%02u", centi / 100, centi % 100);
	char raw[PUBLISH_NAME_LEN];
	snprintf(raw, sizeof(raw), "%s%s%sAh", alnum, n ? "_" : "", cap);
	publish_sanitize(raw, out, len);
}

void publish_service_migrate_hint(struct publish_service *s, const struct bms_snapshot *snap,
				  const char *tty, unsigned address, bool sole)
{
	memset(s->migrate_ids, 0, sizeof(s->migrate_ids));
	/* the Python driver's ids have every non-alphanumeric character as '_' */
	if (snap && (snap->valid & BMS_V_SERIAL))
		publish_sanitize(snap->serial, s->migrate_ids[0], sizeof(s->migrate_ids[0]));
	/* its USE_PORT_AS_UNIQUE_ID form (and its CAN families'): address 0x01 when none */
	if (tty && tty[0])
		snprintf(s->migrate_ids[1], sizeof(s->migrate_ids[1]), "%s__0x%02x", tty,
			 address ? address : 1u);
	/*
	 * Its fallback for a BMS without a serial, from the hardware version it
	 * reads: for JBD the version byte of 0x03 (our sw_version, "2.3" -> "23"),
	 * in older releases the 0x05 name; whichever the pack matches.
	 */
	if (snap) {
		/* the rated capacity (JBD 0x03 bytes 6-7), on some firmware the full one */
		int32_t caps[2] = {(snap->valid & BMS_V_CAP_DESIGN) ? snap->capacity_design_mah : 0,
				   (snap->valid & BMS_V_CAP_FULL) ? snap->capacity_full_mah : 0};
		const char *versions[4] = {(snap->valid & BMS_V_SW_VERSION) ? snap->sw_version : "",
					   (snap->valid & BMS_V_HW_VERSION) ? snap->hw_version : "",
					   (snap->valid & BMS_V_MODEL) ? snap->model : "", ""};
		for (unsigned c = 0; c < 2; c++)
			for (unsigned i = 0; i < 4; i++) {
				char *id = s->migrate_ids[2 + 4 * c + i];
				if (caps[c] > 0 && (versions[i][0] || i == 3))
					capacity_id(id, PUBLISH_NAME_LEN, versions[i], caps[c]);
			}
	}
	s->migrate_sole = sole;
	s->migrate_pending = true;
}

/* An entry dbus-serialbattery left under /Settings/Devices. */
struct old_entry {
	char group[PUBLISH_NAME_LEN]; /* serialbattery_<ID> */
	char cls[64];                 /* ClassAndVrmInstance, "" when none */
	char name[PUBLISH_STR_LEN];   /* CustomName */
	char uid[PUBLISH_NAME_LEN];   /* UniqueIdentifier, "" when none (not the Python driver's) */
};

#define OLD_MAX 32
#define DEVICES "/Settings/Devices/"
#define OLD_PREFIX "serialbattery_"
/* a live service that does not answer within this is taken to hold the instance */
#define LIVE_TIMEOUT_MS 1000

static DBusMessage *call(DBusConnection *c, DBusMessage *m, int timeout, char *err, size_t len)
{
	DBusError e;
	dbus_error_init(&e);
	DBusMessage *r = dbus_connection_send_with_reply_and_block(c, m, timeout, &e);
	dbus_message_unref(m);
	if (!r && err)
		snprintf(err, len, "%s", e.name ? e.name : "?");
	dbus_error_free(&e);
	return r;
}

/*
 * Fill old[] from a GetItems reply of localsettings; *ret_own when our own
 * entry serialbattery_<sid> exists (then this is not a first start); *ret_full when
 * there were more serialbattery_* groups than old[] holds.
 */
static unsigned old_entries(DBusMessage *r, const char *sid, struct old_entry *old, bool *ret_own,
			    bool *ret_full)
{
	unsigned n = 0;
	char own[PUBLISH_NAME_LEN];
	snprintf(own, sizeof(own), OLD_PREFIX "%s", sid);
	*ret_own = false;
	*ret_full = false;
	if (!dbus_message_has_signature(r, "a{sa{sv}}"))
		return 0;
	DBusMessageIter it, arr;
	dbus_message_iter_init(r, &it);
	dbus_message_iter_recurse(&it, &arr);
	for (; dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY;
	     dbus_message_iter_next(&arr)) {
		DBusMessageIter e, d;
		const char *key;
		dbus_message_iter_recurse(&arr, &e);
		dbus_message_iter_get_basic(&e, &key);
		if (strncmp(key, DEVICES OLD_PREFIX, strlen(DEVICES OLD_PREFIX)) != 0)
			continue;
		const char *group = key + strlen(DEVICES);
		const char *leaf = strchr(group, '/');
		if (!leaf || (size_t)(leaf - group) >= sizeof(old[0].group))
			continue;
		char g[PUBLISH_NAME_LEN];
		snprintf(g, sizeof(g), "%.*s", (int)(leaf - group), group);
		leaf++;
		if (strcmp(g, own) == 0) {
			*ret_own = true;
			continue;
		}
		const char *val = NULL;
		dbus_message_iter_next(&e);
		dbus_message_iter_recurse(&e, &d);
		for (; dbus_message_iter_get_arg_type(&d) == DBUS_TYPE_DICT_ENTRY;
		     dbus_message_iter_next(&d)) {
			DBusMessageIter de, v;
			const char *k;
			dbus_message_iter_recurse(&d, &de);
			dbus_message_iter_get_basic(&de, &k);
			dbus_message_iter_next(&de);
			dbus_message_iter_recurse(&de, &v);
			if (strcmp(k, "Value") == 0)
				val = variant_string(&v);
		}
		if (!val)
			continue;
		unsigned k = 0;
		while (k < n && strcmp(old[k].group, g) != 0)
			k++;
		if (k == n) {
			if (n == OLD_MAX) {
				*ret_full = true; /* "the only entry" cannot be told any more */
				continue;
			}
			memset(&old[n], 0, sizeof(old[n]));
			snprintf(old[n].group, sizeof(old[n].group), "%s", g);
			n++;
		}
		if (strcmp(leaf, "ClassAndVrmInstance") == 0)
			snprintf(old[k].cls, sizeof(old[k].cls), "%s", val);
		else if (strcmp(leaf, "CustomName") == 0)
			snprintf(old[k].name, sizeof(old[k].name), "%s", val);
		else if (strcmp(leaf, "UniqueIdentifier") == 0)
			snprintf(old[k].uid, sizeof(old[k].uid), "%s", val);
	}
	return n;
}

/* The entry to take over: an id match first, else the only candidate when we are sole. */
static const struct old_entry *old_match(const struct publish_service *s,
					 const struct old_entry *old, unsigned n, bool full)
{
	const struct old_entry *only = NULL;
	unsigned candidates = 0;
	for (unsigned k = 0; k < n; k++) {
		/* ours have no UniqueIdentifier; one without an instance was migrated already */
		if (!old[k].uid[0] || strncmp(old[k].cls, "battery:", 8) != 0)
			continue;
		candidates++;
		only = &old[k];
		for (unsigned i = 0; i < PUBLISH_MIGRATE_IDS; i++) {
			const char *id = s->migrate_ids[i];
			/* the group name is the id upper-cased: compare without case */
			if (id[0] && (strcasecmp(old[k].uid, id) == 0 ||
				      strcasecmp(old[k].group + strlen(OLD_PREFIX), id) == 0))
				return &old[k];
		}
	}
	return candidates == 1 && s->migrate_sole && !full ? only : NULL;
}

/*
 * Our own services are served by this very thread, which is blocked in the
 * call: asking them would time out. They hold their instances through
 * settings entries of their own, so no old entry can share one.
 */
static bool own_process(DBusConnection *c, const char *name)
{
	DBusMessage *m =
		dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, DBUS_INTERFACE_DBUS,
					     "GetConnectionUnixProcessID");
	if (!m || !dbus_message_append_args(m, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID)) {
		if (m)
			dbus_message_unref(m);
		return false;
	}
	DBusMessage *r = call(c, m, SETTINGS_TIMEOUT_MS, NULL, 0);
	dbus_uint32_t pid = 0;
	bool own = r && dbus_message_get_args(r, NULL, DBUS_TYPE_UINT32, &pid, DBUS_TYPE_INVALID) &&
		   pid == (dbus_uint32_t)getpid();
	if (r)
		dbus_message_unref(r);
	return own;
}

/* The live com.victronenergy.battery.* service publishing DeviceInstance inst, into who. */
static bool instance_live(DBusConnection *c, int32_t inst, char *who, size_t len)
{
	DBusMessage *m = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
						      DBUS_INTERFACE_DBUS, "ListNames");
	DBusMessage *r = m ? call(c, m, SETTINGS_TIMEOUT_MS, NULL, 0) : NULL;
	if (!r)
		return true; /* cannot tell: take nothing */
	bool live = false;
	DBusMessageIter it, arr;
	if (dbus_message_has_signature(r, "as")) {
		dbus_message_iter_init(r, &it);
		dbus_message_iter_recurse(&it, &arr);
		for (; !live && dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_STRING;
		     dbus_message_iter_next(&arr)) {
			const char *name;
			dbus_message_iter_get_basic(&arr, &name);
			if (strncmp(name, "com.victronenergy.battery.", 26) != 0 ||
			    own_process(c, name))
				continue;
			m = dbus_message_new_method_call(name, "/DeviceInstance", BUSITEM_IFACE,
							 "GetValue");
			char err[128] = "";
			DBusMessage *v = m ? call(c, m, LIVE_TIMEOUT_MS, err, sizeof(err)) : NULL;
			if (!v) {
				/* gone or without the path: not a user; silent: cannot tell */
				live = strstr(err, "UnknownObject") == NULL &&
				       strstr(err, "UnknownMethod") == NULL &&
				       strstr(err, "ServiceUnknown") == NULL &&
				       strstr(err, "NameHasNoOwner") == NULL;
			} else {
				DBusMessageIter vi, var;
				dbus_message_iter_init(v, &vi);
				if (dbus_message_iter_get_arg_type(&vi) == DBUS_TYPE_VARIANT) {
					dbus_message_iter_recurse(&vi, &var);
					dbus_int32_t x;
					if (dbus_message_iter_get_arg_type(&var) ==
					    DBUS_TYPE_INT32) {
						dbus_message_iter_get_basic(&var, &x);
						live = x == inst;
					}
				}
				dbus_message_unref(v);
			}
			if (live)
				snprintf(who, len, "%s", name);
		}
	}
	dbus_message_unref(r);
	return live;
}

/* RemoveSettings of the old entry's ClassAndVrmInstance: frees the number for us. */
static int old_release(DBusConnection *c, const struct old_entry *o)
{
	char path[PUBLISH_NAME_LEN + 32];
	snprintf(path, sizeof(path), DEVICES "%s", o->group);
	DBusMessage *m =
		dbus_message_new_method_call(SETTINGS_NAME, path, SETTINGS_IFACE, "RemoveSettings");
	const char *leaf = "ClassAndVrmInstance";
	const char **lp = &leaf;
	if (!m || !dbus_message_append_args(m, DBUS_TYPE_ARRAY, DBUS_TYPE_STRING, &lp, 1,
					    DBUS_TYPE_INVALID)) {
		if (m)
			dbus_message_unref(m);
		return -ENOMEM;
	}
	DBusMessage *r = call(c, m, SETTINGS_TIMEOUT_MS, NULL, 0);
	if (!r)
		return -EIO;
	dbus_int32_t *res = NULL;
	int cnt = 0;
	int ret = dbus_message_get_args(r, NULL, DBUS_TYPE_ARRAY, DBUS_TYPE_INT32, &res, &cnt,
					DBUS_TYPE_INVALID) &&
				  cnt == 1 && res[0] == 0
			  ? 0
			  : -EIO;
	dbus_message_unref(r);
	return ret;
}

/*
 * First start of a battery (our entry does not exist yet): take over the
 * instance and name of the matching entry dbus-serialbattery left, so the
 * owner's battery monitor and BMS selections (by instance) keep pointing at
 * it. Returns false when the settings service did not answer (try again at
 * the next claim).
 */
static bool migrate(struct publish_service *s, const char *sid, char *ret_name, size_t len)
{
	DBusMessage *m =
		dbus_message_new_method_call(SETTINGS_NAME, "/", BUSITEM_IFACE, "GetItems");
	DBusMessage *r = m ? call(s->conn, m, SETTINGS_TIMEOUT_MS, NULL, 0) : NULL;
	if (!r)
		return false;
	static struct old_entry old[OLD_MAX]; /* publisher thread only */
	bool own, full;
	unsigned n = old_entries(r, sid, old, &own, &full);
	dbus_message_unref(r);
	const struct old_entry *o = own ? NULL : old_match(s, old, n, full);
	int32_t inst;
	if (!o || parse_instance(o->cls, &inst) < 0)
		return true;
	char who[PUBLISH_NAME_LEN] = "";
	if (instance_live(s->conn, inst, who, sizeof(who))) {
		log_warn("publish: %s: dbus-serialbattery's %s has %s, but %s uses it now (is "
			 "dbus-serialbattery still running?): not taken over",
			 sid, o->group, o->cls, who[0] ? who : "a service that does not answer");
		return true;
	}
	if (old_release(s->conn, o) < 0) {
		log_warn("publish: %s: cannot free %s of dbus-serialbattery's %s: not taken over",
			 sid, o->cls, o->group);
		return true;
	}
	/* the claim's reply sets instance and name (and updates a tree already exported) */
	s->default_instance = inst;
	snprintf(ret_name, len, "%s", o->name);
	log_info("publish: %s: taking over %s and name \"%s\" from dbus-serialbattery's %s", sid,
		 o->cls, o->name, o->group);
	return true;
}

int publish_service_claim(struct publish_service *s, const char *sid, int32_t default_instance)
{
	if (strcmp(s->sid, sid) != 0) {
		/* first claim; a later one (new connection) keeps what we know */
		snprintf(s->sid, sizeof(s->sid), "%s", sid);
		snprintf(s->settings, sizeof(s->settings), "/Settings/Devices/serialbattery_%s",
			 sid);
		s->default_instance = default_instance;
		s->instance = default_instance;
		s->custom_name[0] = 0;
	}
	s->settings_back = false;
	if (!s->conn) {
		s->have_settings = false;
		return -ENOTCONN;
	}
	char cpath[PUBLISH_NAME_LEN], npath[PUBLISH_NAME_LEN], def[32];
	snprintf(cpath, sizeof(cpath), "serialbattery_%s/ClassAndVrmInstance", sid);
	snprintf(npath, sizeof(npath), "serialbattery_%s/CustomName", sid);
	const char *name_def = "";
	char old_name[PUBLISH_STR_LEN] = "";
	int32_t before = s->default_instance;
	bool migrated = false;
	if (s->migrate_pending && migrate(s, sid, old_name, sizeof(old_name))) {
		s->migrate_pending = false;
		name_def = old_name;
		migrated = s->default_instance != before;
	}
	snprintf(def, sizeof(def), "battery:%d", (int)s->default_instance);

	DBusMessage *m = dbus_message_new_method_call(SETTINGS_NAME, "/Settings/Devices",
						      SETTINGS_IFACE, "AddSettings");
	if (!m)
		return -ENOMEM;
	DBusMessageIter it, arr;
	dbus_message_iter_init_append(m, &it);
	if (!dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "a{sv}", &arr) ||
	    !add_setting_entry(&arr, cpath, def) || !add_setting_entry(&arr, npath, name_def) ||
	    !dbus_message_iter_close_container(&it, &arr)) {
		dbus_message_unref(m);
		return -ENOMEM;
	}
	/* Subscribe first so a change between the reply and the match is not lost. */
	if (!s->settings_watched) {
		char rule[512];
		snprintf(rule, sizeof(rule),
			 "type='signal',sender='" SETTINGS_NAME "',interface='" BUSITEM_IFACE
			 "',member='PropertiesChanged',path_namespace='%s'",
			 s->settings);
		dbus_bus_add_match(s->conn, rule, NULL);
		s->settings_watched = true;
	}

	DBusError err;
	dbus_error_init(&err);
	DBusMessage *reply =
		dbus_connection_send_with_reply_and_block(s->conn, m, SETTINGS_TIMEOUT_MS, &err);
	dbus_message_unref(m);
	if (!reply) {
		log_info("publish: no settings service (%s): instance from %d, unique among ours",
			 err.name ? err.name : "?", (int)s->instance);
		dbus_error_free(&err);
		s->have_settings = false;
		return 0;
	}
	/* the owner answered: from now on it is the one settings sender we trust */
	const char *from = dbus_message_get_sender(reply);
	if (from && !s->settings_owner[0])
		snprintf(s->settings_owner, sizeof(s->settings_owner), "%s", from);
	if (!from || strcmp(from, s->settings_owner) != 0) {
		log_warn("publish: settings reply from %s, not %s: ignored", from ? from : "?",
			 s->settings_owner);
		dbus_message_unref(reply);
		s->have_settings = false;
		return 0;
	}
	s->have_settings = true;
	parse_add_reply(s, reply, sid);
	if (migrated && s->instance != s->default_instance)
		log_warn("publish: %s: wanted instance %d of dbus-serialbattery's entry, settings "
			 "gave %d (taken in between)",
			 sid, (int)s->default_instance, (int)s->instance);
	dbus_message_unref(reply);
	return 0;
}

int publish_service_export(struct publish_service *s, struct publish_tree *tree)
{
	static const DBusObjectPathVTable vt = {.message_function = publish_tree_handle};
	s->tree = tree;
	publish_tree_set_int(tree, "/DeviceInstance", s->instance);
	publish_tree_set_string(tree, "/CustomName", s->custom_name);
	/* without a connection the tree is registered when one is made */
	if (s->conn && !dbus_connection_register_fallback(s->conn, "/", &vt, tree))
		return -ENOMEM;
	return 0;
}

int publish_service_request_name(struct publish_service *s, const char *name)
{
	if (name != s->name)
		snprintf(s->name, sizeof(s->name), "%s", name);
	s->name_free = false;
	if (!s->conn)
		return -ENOTCONN;
	if (!s->name_watched) {
		/* told when the name is released, so a taken name is retried at once */
		watch_name(s->conn, s->name);
		s->name_watched = true;
	}
	DBusError err;
	dbus_error_init(&err);
	int r = dbus_bus_request_name(s->conn, name, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err);
	if (r == DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER ||
	    r == DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER) {
		s->owned = true;
		s->name_taken_logged = false;
		if (r == DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) {
			/* consumers read the tree whole at NameOwnerChanged: nothing to signal */
			if (s->tree)
				publish_tree_clear_changes(s->tree);
			log_info("publish: registered %s (instance %d)", name, (int)s->instance);
		}
		return 0;
	}
	if (r < 0) {
		/* retried every second: say it once (a refused name is a policy
		 * problem that lasts), "registered" says when it is over */
		if (!s->name_taken_logged)
			log_error("publish: RequestName %s: %s; retrying", name,
				  err.message ? err.message : "?");
		s->name_taken_logged = true;
		dbus_error_free(&err);
		return -EIO;
	}
	if (!s->name_taken_logged)
		log_warn("publish: %s is taken by another process; retrying", name);
	s->name_taken_logged = true;
	return -EEXIST;
}

void publish_service_store_custom_name(struct publish_service *s, const char *v)
{
	snprintf(s->custom_name, sizeof(s->custom_name), "%s", v);
	if (!s->have_settings || !s->conn)
		return;
	char path[PUBLISH_NAME_LEN + 16];
	snprintf(path, sizeof(path), "%s/CustomName", s->settings);
	DBusMessage *m =
		dbus_message_new_method_call(SETTINGS_NAME, path, BUSITEM_IFACE, "SetValue");
	if (!m)
		return;
	DBusMessageIter it, var;
	dbus_message_iter_init_append(m, &it);
	if (dbus_message_iter_open_container(&it, DBUS_TYPE_VARIANT, "s", &var) &&
	    dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &v) &&
	    dbus_message_iter_close_container(&it, &var)) {
		dbus_message_set_no_reply(m, TRUE);
		dbus_connection_send(s->conn, m, NULL);
	}
	dbus_message_unref(m);
}

bool publish_service_dispatch(struct publish_service *s)
{
	if (!s->conn || !dbus_connection_read_write(s->conn, 0))
		return false;
	while (dbus_connection_dispatch(s->conn) == DBUS_DISPATCH_DATA_REMAINS)
		;
	return dbus_connection_get_is_connected(s->conn);
}

int publish_service_fd(const struct publish_service *s)
{
	int fd = -1;
	if (!s->conn || !dbus_connection_get_unix_fd(s->conn, &fd))
		return -1;
	return fd;
}

bool publish_service_wants_write(const struct publish_service *s)
{
	return s->conn && dbus_connection_has_messages_to_send(s->conn);
}
