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

void publish_sanitize(const char *in, char *out, size_t len)
{
	size_t k = 0;
	for (; in[k] && k + 1 < len; k++)
		out[k] = isalnum((unsigned char)in[k]) ? in[k] : '_';
	if (len)
		out[k] = 0;
}

int publish_service_open(const char *address, struct publish_service **ret)
{
	struct publish_service *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	DBusError err;
	dbus_error_init(&err);
	if (address) {
		s->conn = dbus_connection_open_private(address, &err);
		if (s->conn && !dbus_bus_register(s->conn, &err)) {
			dbus_connection_close(s->conn);
			dbus_connection_unref(s->conn);
			s->conn = NULL;
		}
	} else {
		/* honours DBUS_SYSTEM_BUS_ADDRESS */
		s->conn = dbus_bus_get_private(DBUS_BUS_SYSTEM, &err);
	}
	if (!s->conn) {
		log_error("publish: cannot connect to D-Bus %s: %s", address ? address : "(system)",
			  err.message ? err.message : "?");
		dbus_error_free(&err);
		free(s);
		return -ECONNREFUSED;
	}
	dbus_connection_set_exit_on_disconnect(s->conn, FALSE);
	*ret = s;
	return 0;
}

void publish_service_release_name(struct publish_service *s)
{
	if (!s->owned)
		return;
	DBusError err;
	dbus_error_init(&err);
	if (dbus_connection_get_is_connected(s->conn))
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
	dbus_connection_flush(s->conn);
	dbus_connection_close(s->conn);
	dbus_connection_unref(s->conn);
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
				/* consumers cache the instance at scan time: re-register the name */
				publish_tree_set_int(s->tree, "/DeviceInstance", inst);
				s->reclaim = s->owned;
			}
		}
	}
}

static DBusHandlerResult settings_filter(DBusConnection *conn, DBusMessage *msg, void *ctx)
{
	(void)conn;
	struct publish_service *s = ctx;
	if (!dbus_message_is_signal(msg, BUSITEM_IFACE, "PropertiesChanged") ||
	    !dbus_message_has_signature(msg, "a{sv}"))
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	const char *path = dbus_message_get_path(msg);
	size_t bl = strlen(s->settings);
	if (!path || strncmp(path, s->settings, bl) != 0 || path[bl] != '/')
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
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
	/* other services on this connection may want the signal too */
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
			log_warn("publish: settings refused %s (error %d)", path ? path : "?", (int)error);
		dbus_message_iter_next(&outer);
	}
}

int publish_service_claim(struct publish_service *s, const char *sid, int32_t default_instance)
{
	snprintf(s->settings, sizeof(s->settings), "/Settings/Devices/serialbattery_%s", sid);
	s->instance = default_instance;
	s->custom_name[0] = 0;
	char cpath[PUBLISH_NAME_LEN], npath[PUBLISH_NAME_LEN], def[32];
	snprintf(cpath, sizeof(cpath), "serialbattery_%s/ClassAndVrmInstance", sid);
	snprintf(npath, sizeof(npath), "serialbattery_%s/CustomName", sid);
	snprintf(def, sizeof(def), "battery:%d", (int)default_instance);

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
	char rule[512];
	snprintf(rule, sizeof(rule),
		 "type='signal',sender='" SETTINGS_NAME "',interface='" BUSITEM_IFACE
		 "',member='PropertiesChanged',path_namespace='%s'",
		 s->settings);
	dbus_bus_add_match(s->conn, rule, NULL);
	dbus_connection_add_filter(s->conn, settings_filter, s, NULL);

	DBusError err;
	dbus_error_init(&err);
	DBusMessage *reply =
		dbus_connection_send_with_reply_and_block(s->conn, m, SETTINGS_TIMEOUT_MS, &err);
	dbus_message_unref(m);
	if (!reply) {
		log_info("publish: no settings service (%s): instance from %d, unique among ours",
			 err.name ? err.name : "?", (int)default_instance);
		dbus_error_free(&err);
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
	if (!dbus_connection_register_fallback(s->conn, "/", &vt, tree))
		return -ENOMEM;
	return 0;
}

int publish_service_request_name(struct publish_service *s, const char *name)
{
	if (name != s->name)
		snprintf(s->name, sizeof(s->name), "%s", name);
	/* nothing before the name is visible: consumers see the tree whole at NameOwnerChanged */
	if (s->tree)
		publish_tree_clear_changes(s->tree);
	DBusError err;
	dbus_error_init(&err);
	int r = dbus_bus_request_name(s->conn, name, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err);
	if (r == DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER || r == DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER) {
		s->owned = true;
		s->name_taken_logged = false;
		log_info("publish: registered %s (instance %d)", name, (int)s->instance);
		return 0;
	}
	if (r < 0) {
		log_error("publish: RequestName %s: %s", name, err.message ? err.message : "?");
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
	if (!s->have_settings)
		return;
	char path[PUBLISH_NAME_LEN + 16];
	snprintf(path, sizeof(path), "%s/CustomName", s->settings);
	DBusMessage *m = dbus_message_new_method_call(SETTINGS_NAME, path, BUSITEM_IFACE, "SetValue");
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
	if (!dbus_connection_read_write(s->conn, 0))
		return false;
	while (dbus_connection_dispatch(s->conn) == DBUS_DISPATCH_DATA_REMAINS)
		;
	return dbus_connection_get_is_connected(s->conn);
}

int publish_service_fd(const struct publish_service *s)
{
	int fd = -1;
	if (!dbus_connection_get_unix_fd(s->conn, &fd))
		return -1;
	return fd;
}

bool publish_service_wants_write(const struct publish_service *s)
{
	return dbus_connection_has_messages_to_send(s->conn);
}
