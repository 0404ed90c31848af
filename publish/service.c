/* SPDX-License-Identifier: MIT */
#include "publish/service.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Current unique owner of name into out ("" when none). */
static void name_owner(DBusConnection *conn, const char *name, char *out, size_t len)
{
	out[0] = 0;
	DBusMessage *m = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
						      DBUS_INTERFACE_DBUS, "GetNameOwner");
	if (!m || !dbus_message_append_args(m, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID)) {
		if (m)
			dbus_message_unref(m);
		return;
	}
	DBusError err;
	dbus_error_init(&err);
	DBusMessage *r =
		dbus_connection_send_with_reply_and_block(conn, m, SETTINGS_TIMEOUT_MS, &err);
	dbus_message_unref(m);
	dbus_error_free(&err); /* NameHasNoOwner: "" */
	const char *o;
	if (r && dbus_message_get_args(r, NULL, DBUS_TYPE_STRING, &o, DBUS_TYPE_INVALID))
		snprintf(out, len, "%s", o);
	if (r)
		dbus_message_unref(r);
}

int publish_service_connect(struct publish_service *s)
{
	if (s->conn)
		return 0;
	DBusError err;
	dbus_error_init(&err);
	DBusConnection *c;
	if (s->address) {
		c = dbus_connection_open_private(s->address, &err);
		if (c && !dbus_bus_register(c, &err)) {
			dbus_connection_close(c);
			dbus_connection_unref(c);
			c = NULL;
		}
	} else {
		/* honours DBUS_SYSTEM_BUS_ADDRESS */
		c = dbus_bus_get_private(DBUS_BUS_SYSTEM, &err);
	}
	if (!c) {
		log_debug("publish: cannot connect to D-Bus %s: %s",
			  s->address ? s->address : "(system)", err.message ? err.message : "?");
		dbus_error_free(&err);
		return -ECONNREFUSED;
	}
	dbus_connection_set_exit_on_disconnect(c, FALSE);
	/*
	 * Requests are read only as fast as they are handled: a client that
	 * floods us waits in the bus daemon, not in our memory.
	 */
	dbus_connection_set_max_received_size(c, INCOMING_CAP);
	if (!dbus_connection_add_filter(c, service_filter, s, NULL)) {
		dbus_connection_close(c);
		dbus_connection_unref(c);
		return -ENOMEM;
	}
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
	name_owner(c, SETTINGS_NAME, s->settings_owner, sizeof(s->settings_owner));
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
	snprintf(def, sizeof(def), "battery:%d", (int)s->default_instance);

	DBusMessage *m = dbus_message_new_method_call(SETTINGS_NAME, "/Settings/Devices",
						      SETTINGS_IFACE, "AddSettings");
	if (!m)
		return -ENOMEM;
	DBusMessageIter it, arr;
	dbus_message_iter_init_append(m, &it);
	if (!dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "a{sv}", &arr) ||
	    !add_setting_entry(&arr, cpath, def) || !add_setting_entry(&arr, npath, "") ||
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
