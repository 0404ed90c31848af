/* SPDX-License-Identifier: MIT */
/*
 * Test stand-in for Victron's localsettings (com.victronenergy.settings),
 * which Debian does not package: AddSettings (relative paths, type from the
 * default, ClassAndVrmInstance bumped to the next free instance of its class),
 * GetValue/GetText/SetValue on settings, GetItems on "/", RemoveSettings and a
 * PropertiesChanged {Value, Text} on every change, as victron-dbus.md section 3
 * describes. With a STATE_FILE
 * the settings are saved on every change and loaded at start, so they
 * survive a restart of the stand-in or of the bus, as localsettings' do.
 *   usage: sb_fake_settings BUS_ADDRESS [STATE_FILE]
 */
#include <dbus/dbus.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETTINGS 256

struct setting {
	char path[256];
	char type; /* 's', 'i', 'd' */
	char s[256];
	int32_t i;
	double d;
};

static struct setting settings[MAX_SETTINGS];
static int nsettings;
static const char *state_file;

/* One line per setting: type, tab, path, tab, value (no tabs or newlines in values). */
static void save(void)
{
	if (!state_file)
		return;
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", state_file);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	for (int k = 0; k < nsettings; k++) {
		const struct setting *s = &settings[k];
		if (s->type == 's')
			fprintf(f, "s\t%s\t%s\n", s->path, s->s);
		else if (s->type == 'i')
			fprintf(f, "i\t%s\t%d\n", s->path, (int)s->i);
		else
			fprintf(f, "d\t%s\t%.17g\n", s->path, s->d);
	}
	if (fclose(f) == 0)
		rename(tmp, state_file);
}

static void load(void)
{
	FILE *f = state_file ? fopen(state_file, "r") : NULL;
	if (!f)
		return;
	char line[600];
	while (nsettings < MAX_SETTINGS && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *path = strchr(line, '\t');
		char *val = path ? strchr(path + 1, '\t') : NULL;
		if (!val)
			continue;
		*path++ = 0;
		*val++ = 0;
		struct setting *s = &settings[nsettings++];
		memset(s, 0, sizeof(*s));
		s->type = line[0];
		snprintf(s->path, sizeof(s->path), "%s", path);
		if (s->type == 's')
			snprintf(s->s, sizeof(s->s), "%s", val);
		else if (s->type == 'i')
			s->i = (int32_t)strtol(val, NULL, 10);
		else
			s->d = strtod(val, NULL);
	}
	fclose(f);
}

static struct setting *find(const char *path)
{
	for (int k = 0; k < nsettings; k++)
		if (strcmp(settings[k].path, path) == 0)
			return &settings[k];
	return NULL;
}

static void append_value(DBusMessageIter *it, const struct setting *s)
{
	DBusMessageIter v;
	char sig[2] = {s->type, 0};
	dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, sig, &v);
	if (s->type == 's') {
		const char *p = s->s;
		dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &p);
	} else if (s->type == 'i') {
		dbus_message_iter_append_basic(&v, DBUS_TYPE_INT32, &s->i);
	} else {
		dbus_message_iter_append_basic(&v, DBUS_TYPE_DOUBLE, &s->d);
	}
	dbus_message_iter_close_container(it, &v);
}

static void text_of(const struct setting *s, char *buf, size_t len)
{
	if (s->type == 's')
		snprintf(buf, len, "%s", s->s);
	else if (s->type == 'i')
		snprintf(buf, len, "%d", (int)s->i);
	else
		snprintf(buf, len, "%g", s->d);
}

static void signal_change(DBusConnection *c, const struct setting *s)
{
	DBusMessage *m =
		dbus_message_new_signal(s->path, "com.victronenergy.BusItem", "PropertiesChanged");
	DBusMessageIter it, a, e, v;
	dbus_message_iter_init_append(m, &it);
	dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &a);
	const char *k = "Value";
	dbus_message_iter_open_container(&a, DBUS_TYPE_DICT_ENTRY, NULL, &e);
	dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &k);
	append_value(&e, s);
	dbus_message_iter_close_container(&a, &e);
	char text[300];
	text_of(s, text, sizeof(text));
	const char *tp = text;
	k = "Text";
	dbus_message_iter_open_container(&a, DBUS_TYPE_DICT_ENTRY, NULL, &e);
	dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &k);
	dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "s", &v);
	dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &tp);
	dbus_message_iter_close_container(&e, &v);
	dbus_message_iter_close_container(&a, &e);
	dbus_message_iter_close_container(&it, &a);
	dbus_connection_send(c, m, NULL);
	dbus_message_unref(m);
}

static bool instance_taken(const char *value, const struct setting *self)
{
	for (int k = 0; k < nsettings; k++) {
		const struct setting *o = &settings[k];
		const char *tail = strrchr(o->path, '/');
		if (o != self && tail && strcmp(tail, "/ClassAndVrmInstance") == 0 &&
		    o->type == 's' && strcmp(o->s, value) == 0)
			return true;
	}
	return false;
}

/* One AddSettings entry: returns the error code. */
static int add_one(const char *base, DBusMessageIter *dict, char *ret_path, size_t plen,
		   struct setting **ret)
{
	const char *rel = NULL;
	DBusMessageIter def;
	bool have_def = false;
	while (dbus_message_iter_get_arg_type(dict) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter e, v;
		const char *key;
		dbus_message_iter_recurse(dict, &e);
		dbus_message_iter_get_basic(&e, &key);
		dbus_message_iter_next(&e);
		dbus_message_iter_recurse(&e, &v);
		if (strcmp(key, "path") == 0 &&
		    dbus_message_iter_get_arg_type(&v) == DBUS_TYPE_STRING)
			dbus_message_iter_get_basic(&v, &rel);
		else if (strcmp(key, "default") == 0) {
			def = v;
			have_def = true;
		}
		dbus_message_iter_next(dict);
	}
	if (!rel || !have_def)
		return -4;
	snprintf(ret_path, plen, "%s", rel);
	char abs[256];
	snprintf(abs, sizeof(abs), "%s/%s", strcmp(base, "/") == 0 ? "" : base,
		 rel[0] == '/' ? rel + 1 : rel);
	if (strncmp(abs, "/Settings/", 10) != 0)
		return -9;
	char type;
	switch (dbus_message_iter_get_arg_type(&def)) {
	case DBUS_TYPE_STRING:
		type = 's';
		break;
	case DBUS_TYPE_INT32:
		type = 'i';
		break;
	case DBUS_TYPE_DOUBLE:
		type = 'd';
		break;
	default:
		return -3;
	}
	struct setting *s = find(abs);
	if (s) {
		*ret = s;
		return s->type == type ? 0 : -5;
	}
	if (nsettings == MAX_SETTINGS)
		return -4;
	s = &settings[nsettings++];
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", abs);
	s->type = type;
	if (type == 's') {
		const char *v;
		dbus_message_iter_get_basic(&def, &v);
		snprintf(s->s, sizeof(s->s), "%s", v);
		const char *tail = strrchr(abs, '/');
		if (strcmp(tail, "/ClassAndVrmInstance") == 0) {
			/* bump to the next free instance within the class */
			char cls[64];
			int n = 0;
			if (sscanf(v, "%63[^:]:%d", cls, &n) == 2)
				while (instance_taken(s->s, s))
					snprintf(s->s, sizeof(s->s), "%s:%d", cls, ++n);
		}
	} else if (type == 'i') {
		dbus_message_iter_get_basic(&def, &s->i);
	} else {
		dbus_message_iter_get_basic(&def, &s->d);
	}
	*ret = s;
	return 0;
}

static DBusMessage *add_settings(DBusMessage *msg)
{
	if (!dbus_message_has_signature(msg, "aa{sv}"))
		return dbus_message_new_error(msg, DBUS_ERROR_INVALID_ARGS, "aa{sv} expected");
	const char *base = dbus_message_get_path(msg);
	DBusMessage *r = dbus_message_new_method_return(msg);
	DBusMessageIter in, arr, out, oarr;
	dbus_message_iter_init(msg, &in);
	dbus_message_iter_recurse(&in, &arr);
	dbus_message_iter_init_append(r, &out);
	dbus_message_iter_open_container(&out, DBUS_TYPE_ARRAY, "a{sv}", &oarr);
	while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_ARRAY) {
		DBusMessageIter dict;
		dbus_message_iter_recurse(&arr, &dict);
		char rel[256] = "";
		struct setting *s = NULL;
		dbus_int32_t err = add_one(base, &dict, rel, sizeof(rel), &s);
		DBusMessageIter d, e, v;
		dbus_message_iter_open_container(&oarr, DBUS_TYPE_ARRAY, "{sv}", &d);
		const char *k = "path", *rp = rel;
		dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &e);
		dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &k);
		dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "s", &v);
		dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &rp);
		dbus_message_iter_close_container(&e, &v);
		dbus_message_iter_close_container(&d, &e);
		k = "error";
		dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &e);
		dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &k);
		dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "i", &v);
		dbus_message_iter_append_basic(&v, DBUS_TYPE_INT32, &err);
		dbus_message_iter_close_container(&e, &v);
		dbus_message_iter_close_container(&d, &e);
		if (s && err == 0) {
			k = "value";
			dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &e);
			dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &k);
			append_value(&e, s);
			dbus_message_iter_close_container(&d, &e);
		}
		dbus_message_iter_close_container(&oarr, &d);
		dbus_message_iter_next(&arr);
	}
	dbus_message_iter_close_container(&out, &oarr);
	save();
	return r;
}

static DBusMessage *set_value(DBusConnection *c, DBusMessage *msg, struct setting *s)
{
	dbus_int32_t rc = -1;
	DBusMessageIter it, v;
	dbus_message_iter_init(msg, &it);
	if (dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_VARIANT) {
		dbus_message_iter_recurse(&it, &v);
		int t = dbus_message_iter_get_arg_type(&v);
		struct setting old = *s;
		if (s->type == 's' && t == DBUS_TYPE_STRING) {
			const char *p;
			dbus_message_iter_get_basic(&v, &p);
			snprintf(s->s, sizeof(s->s), "%s", p);
			rc = 0;
		} else if (s->type == 'i' && t == DBUS_TYPE_INT32) {
			dbus_message_iter_get_basic(&v, &s->i);
			rc = 0;
		} else if (s->type == 'd' && t == DBUS_TYPE_DOUBLE) {
			dbus_message_iter_get_basic(&v, &s->d);
			rc = 0;
		}
		if (rc == 0 && memcmp(&old, s, sizeof(old)) != 0) {
			save();
			signal_change(c, s);
		}
	}
	DBusMessage *r = dbus_message_new_method_return(msg);
	dbus_message_append_args(r, DBUS_TYPE_INT32, &rc, DBUS_TYPE_INVALID);
	return r;
}

/* GetItems on "/": every setting, absolute path -> {Value, Text}. */
static DBusMessage *get_items(DBusMessage *msg)
{
	DBusMessage *r = dbus_message_new_method_return(msg);
	DBusMessageIter it, a, e, d, de, v;
	dbus_message_iter_init_append(r, &it);
	dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sa{sv}}", &a);
	for (int k = 0; k < nsettings; k++) {
		const struct setting *s = &settings[k];
		const char *p = s->path, *kv = "Value", *kt = "Text";
		char text[300];
		text_of(s, text, sizeof(text));
		const char *tp = text;
		dbus_message_iter_open_container(&a, DBUS_TYPE_DICT_ENTRY, NULL, &e);
		dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &p);
		dbus_message_iter_open_container(&e, DBUS_TYPE_ARRAY, "{sv}", &d);
		dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &de);
		dbus_message_iter_append_basic(&de, DBUS_TYPE_STRING, &kv);
		append_value(&de, s);
		dbus_message_iter_close_container(&d, &de);
		dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &de);
		dbus_message_iter_append_basic(&de, DBUS_TYPE_STRING, &kt);
		dbus_message_iter_open_container(&de, DBUS_TYPE_VARIANT, "s", &v);
		dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &tp);
		dbus_message_iter_close_container(&de, &v);
		dbus_message_iter_close_container(&d, &de);
		dbus_message_iter_close_container(&e, &d);
		dbus_message_iter_close_container(&a, &e);
	}
	dbus_message_iter_close_container(&it, &a);
	return r;
}

/* RemoveSettings (as -> ai): paths relative to the object called; 0 removed, -1 unknown. */
static DBusMessage *remove_settings(DBusMessage *msg)
{
	char **names = NULL;
	int n = 0;
	if (!dbus_message_get_args(msg, NULL, DBUS_TYPE_ARRAY, DBUS_TYPE_STRING, &names, &n,
				   DBUS_TYPE_INVALID))
		return dbus_message_new_error(msg, DBUS_ERROR_INVALID_ARGS, "as expected");
	const char *base = dbus_message_get_path(msg);
	dbus_int32_t res[MAX_SETTINGS];
	for (int k = 0; k < n && k < MAX_SETTINGS; k++) {
		char abs[256];
		snprintf(abs, sizeof(abs), "%s/%s", strcmp(base, "/") == 0 ? "" : base,
			 names[k][0] == '/' ? names[k] + 1 : names[k]);
		struct setting *s = find(abs);
		res[k] = s ? 0 : -1;
		if (s) {
			*s = settings[--nsettings];
		}
	}
	dbus_free_string_array(names);
	save();
	DBusMessage *r = dbus_message_new_method_return(msg);
	const dbus_int32_t *rp = res;
	int cnt = n < MAX_SETTINGS ? n : MAX_SETTINGS;
	dbus_message_append_args(r, DBUS_TYPE_ARRAY, DBUS_TYPE_INT32, &rp, cnt, DBUS_TYPE_INVALID);
	return r;
}

static DBusHandlerResult handler(DBusConnection *c, DBusMessage *msg, void *ctx)
{
	(void)ctx;
	if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_METHOD_CALL)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	const char *member = dbus_message_get_member(msg);
	const char *path = dbus_message_get_path(msg);
	DBusMessage *r = NULL;
	struct setting *s = find(path);
	if (strcmp(member, "AddSettings") == 0) {
		r = add_settings(msg);
	} else if (strcmp(member, "RemoveSettings") == 0) {
		r = remove_settings(msg);
	} else if (strcmp(member, "GetItems") == 0 && strcmp(path, "/") == 0) {
		r = get_items(msg);
	} else if (!s) {
		r = dbus_message_new_error(msg, "org.freedesktop.DBus.Error.UnknownObject", path);
	} else if (strcmp(member, "GetValue") == 0) {
		r = dbus_message_new_method_return(msg);
		DBusMessageIter it;
		dbus_message_iter_init_append(r, &it);
		append_value(&it, s);
	} else if (strcmp(member, "GetText") == 0) {
		char text[300];
		text_of(s, text, sizeof(text));
		const char *tp = text;
		r = dbus_message_new_method_return(msg);
		dbus_message_append_args(r, DBUS_TYPE_STRING, &tp, DBUS_TYPE_INVALID);
	} else if (strcmp(member, "SetValue") == 0) {
		r = set_value(c, msg, s);
	} else {
		r = dbus_message_new_error(msg, DBUS_ERROR_UNKNOWN_METHOD, member);
	}
	if (!dbus_message_get_no_reply(msg))
		dbus_connection_send(c, r, NULL);
	dbus_message_unref(r);
	return DBUS_HANDLER_RESULT_HANDLED;
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: sb_fake_settings BUS_ADDRESS [STATE_FILE]\n");
		return 2;
	}
	state_file = argc == 3 ? argv[2] : NULL;
	load();
	DBusError err;
	dbus_error_init(&err);
	DBusConnection *c = dbus_connection_open_private(argv[1], &err);
	if (!c || !dbus_bus_register(c, &err)) {
		fprintf(stderr, "sb_fake_settings: %s\n", err.message);
		return 1;
	}
	static const DBusObjectPathVTable vt = {.message_function = handler};
	dbus_connection_register_fallback(c, "/", &vt, NULL);
	if (dbus_bus_request_name(c, "com.victronenergy.settings", DBUS_NAME_FLAG_DO_NOT_QUEUE,
				  &err) != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) {
		fprintf(stderr, "sb_fake_settings: name taken\n");
		return 1;
	}
	while (dbus_connection_read_write_dispatch(c, -1))
		;
	return 0;
}
