/* SPDX-License-Identifier: MIT */
#include "bus_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Start dbus-daemon on the fixture's config; fills address (without the guid). */
static int spawn_daemon(struct tb_bus *b)
{
	char conf[256];
	snprintf(conf, sizeof(conf), "%s/bus.conf", b->dir);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(pfd[1], 3); /* dup2 clears CLOEXEC on the copy */
		char cf[300];
		snprintf(cf, sizeof(cf), "--config-file=%s", conf);
		execlp("dbus-daemon", "dbus-daemon", cf, "--print-address=3", "--nofork",
		       (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	b->daemon = pid;
	char addr[sizeof(b->address)];
	size_t n = 0;
	while (n + 1 < sizeof(addr)) {
		ssize_t r = read(pfd[0], addr + n, sizeof(addr) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(addr, '\n', n))
			break;
	}
	close(pfd[0]);
	addr[n] = 0;
	/*
	 * A restarted daemon has a new guid, and libdbus refuses a server whose
	 * guid differs from the address's: hand out the address without it, as
	 * the system bus's well-known address is.
	 */
	addr[strcspn(addr, ",\n")] = 0;
	if (!addr[0])
		return -EIO;
	snprintf(b->address, sizeof(b->address), "%s", addr);
	return 0;
}

int tb_bus_start(struct tb_bus *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "/tmp/sb-bus-XXXXXX");
	if (!mkdtemp(b->dir))
		return -errno;
	char conf[256];
	snprintf(conf, sizeof(conf), "%s/bus.conf", b->dir);
	FILE *f = fopen(conf, "w");
	if (!f)
		return -errno;
	/*
	 * A fixed socket path (restart keeps the address). The limits are the
	 * stock session bus's: generous enough that a client which never reads
	 * makes the daemon hold our replies, which is what the memory test needs.
	 */
	fprintf(f,
		"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
		"1.0//EN\"\n"
		" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		"<busconfig><type>session</type><listen>unix:path=%s/bus</listen>\n"
		"<auth>EXTERNAL</auth>\n"
		"<limit name=\"max_incoming_bytes\">1000000000</limit>\n"
		"<limit name=\"max_outgoing_bytes\">1000000000</limit>\n"
		"<limit name=\"max_replies_per_connection\">50000</limit>\n"
		"<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
		"<allow eavesdrop=\"true\"/><allow own=\"*\"/><allow user=\"*\"/></policy>\n"
		"</busconfig>\n",
		b->dir);
	fclose(f);
	return spawn_daemon(b);
}

int tb_settings_start(struct tb_bus *b)
{
	DBusConnection *c = tb_connect(b->address);
	if (!c)
		return -EIO;
	tb_add_match(c, "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',"
			"arg0='com.victronenergy.settings'");
	const char *bin = getenv("SB_BINARY_DIR");
	char path[512], state[200];
	snprintf(path, sizeof(path), "%s/tests/publish/sb_fake_settings", bin ? bin : ".");
	/* the settings survive a restart of the stand-in (or of the bus), as localsettings' do */
	snprintf(state, sizeof(state), "%s/settings.txt", b->dir);
	pid_t pid = fork();
	if (pid == 0) {
		execl(path, path, b->address, state, (char *)NULL);
		_exit(127);
	}
	b->settings = pid;
	DBusMessage *m = tb_wait_signal(c, "NameOwnerChanged", NULL, NULL, 10000);
	tb_disconnect(c);
	if (!m)
		return -ETIMEDOUT;
	dbus_message_unref(m);
	return 0;
}

static void reap(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

void tb_settings_stop(struct tb_bus *b)
{
	reap(&b->settings);
}

int tb_bus_restart(struct tb_bus *b)
{
	bool settings = b->settings > 0;
	reap(&b->settings);
	reap(&b->daemon);
	int r = spawn_daemon(b);
	if (r == 0 && settings)
		r = tb_settings_start(b);
	return r;
}

pid_t tb_spawn(const char *const argv[], int *ret_stdout)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	*ret_stdout = pfd[0];
	return pid;
}

void tb_reap(pid_t pid)
{
	reap(&pid);
}

void tb_bus_stop(struct tb_bus *b)
{
	reap(&b->settings);
	reap(&b->daemon);
	char p[300];
	snprintf(p, sizeof(p), "%s/bus.conf", b->dir);
	unlink(p);
	/* the socket file of unix:dir= is removed by the daemon or left: clean it */
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", b->dir);
}

DBusConnection *tb_connect(const char *address)
{
	DBusError err;
	dbus_error_init(&err);
	DBusConnection *c = dbus_connection_open_private(address, &err);
	if (c && !dbus_bus_register(c, &err)) {
		dbus_connection_close(c);
		dbus_connection_unref(c);
		c = NULL;
	}
	if (c)
		dbus_connection_set_exit_on_disconnect(c, FALSE);
	dbus_error_free(&err);
	return c;
}

void tb_disconnect(DBusConnection *c)
{
	if (!c)
		return;
	dbus_connection_close(c);
	dbus_connection_unref(c);
}

void tb_add_match(DBusConnection *c, const char *rule)
{
	DBusError err;
	dbus_error_init(&err);
	dbus_bus_add_match(c, rule, &err); /* blocking: the rule is active on return */
	dbus_error_free(&err);
}

DBusMessage *tb_method(const char *dest, const char *path, const char *member)
{
	return dbus_message_new_method_call(dest, path, "com.victronenergy.BusItem", member);
}

DBusMessage *tb_call(DBusConnection *c, DBusMessage *msg, char *errbuf, size_t errlen)
{
	DBusError err;
	dbus_error_init(&err);
	DBusMessage *r = dbus_connection_send_with_reply_and_block(c, msg, 10000, &err);
	dbus_message_unref(msg);
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", r ? "" : (err.name ? err.name : "?"));
	dbus_error_free(&err);
	return r;
}

DBusMessage *tb_wait_signal(DBusConnection *c, const char *member, const char *path,
			    const char *sender, int timeout_ms)
{
	/* a failure deadline, not a timing assertion: success returns as soon as it arrives */
	int waited = 0;
	for (;;) {
		DBusMessage *m;
		while ((m = dbus_connection_pop_message(c))) {
			if (dbus_message_get_type(m) == DBUS_MESSAGE_TYPE_SIGNAL &&
			    (!member || strcmp(dbus_message_get_member(m), member) == 0) &&
			    (!path || strcmp(dbus_message_get_path(m), path) == 0) &&
			    (!sender || strcmp(dbus_message_get_sender(m), sender) == 0))
				return m;
			dbus_message_unref(m);
		}
		if (waited >= timeout_ms || !dbus_connection_read_write(c, 100))
			return NULL;
		waited += 100;
	}
}

void tb_val_from_variant(DBusMessageIter *var, struct tb_val *ret)
{
	DBusMessageIter v;
	memset(ret, 0, sizeof(*ret));
	dbus_message_iter_recurse(var, &v);
	switch (dbus_message_iter_get_arg_type(&v)) {
	case DBUS_TYPE_INT32:
		ret->type = 'i';
		dbus_message_iter_get_basic(&v, &ret->i);
		break;
	case DBUS_TYPE_DOUBLE:
		ret->type = 'd';
		dbus_message_iter_get_basic(&v, &ret->d);
		break;
	case DBUS_TYPE_STRING: {
		const char *s;
		ret->type = 's';
		dbus_message_iter_get_basic(&v, &s);
		snprintf(ret->s, sizeof(ret->s), "%s", s);
		break;
	}
	case DBUS_TYPE_ARRAY: {
		DBusMessageIter a;
		dbus_message_iter_recurse(&v, &a);
		ret->type = dbus_message_iter_get_element_type(&v) == DBUS_TYPE_INT32 &&
					    dbus_message_iter_get_arg_type(&a) == DBUS_TYPE_INVALID
				    ? 'x'
				    : '?';
		break;
	}
	default:
		ret->type = '?';
	}
}

static bool items_iter(DBusMessage *m, DBusMessageIter *arr)
{
	if (!dbus_message_has_signature(m, "a{sa{sv}}"))
		return false;
	DBusMessageIter it;
	dbus_message_iter_init(m, &it);
	dbus_message_iter_recurse(&it, arr);
	return true;
}

int tb_items_count(DBusMessage *m)
{
	DBusMessageIter arr;
	if (!items_iter(m, &arr))
		return -1;
	int n = 0;
	while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY) {
		n++;
		dbus_message_iter_next(&arr);
	}
	return n;
}

int tb_items_each(DBusMessage *m, int (*fn)(const char *key, void *ctx), void *ctx)
{
	DBusMessageIter arr;
	if (!items_iter(m, &arr))
		return -1;
	int sum = 0;
	while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter e;
		const char *key;
		dbus_message_iter_recurse(&arr, &e);
		dbus_message_iter_get_basic(&e, &key);
		sum += fn(key, ctx);
		dbus_message_iter_next(&arr);
	}
	return sum;
}

int tb_items_get(DBusMessage *m, const char *path, struct tb_val *ret)
{
	DBusMessageIter arr;
	if (!items_iter(m, &arr))
		return -1;
	while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter e, d;
		const char *key;
		dbus_message_iter_recurse(&arr, &e);
		dbus_message_iter_get_basic(&e, &key);
		if (strcmp(key, path) == 0) {
			dbus_message_iter_next(&e);
			dbus_message_iter_recurse(&e, &d);
			memset(ret, 0, sizeof(*ret));
			ret->type = '-';
			int keys = 0;
			while (dbus_message_iter_get_arg_type(&d) == DBUS_TYPE_DICT_ENTRY) {
				DBusMessageIter de, var;
				const char *k;
				dbus_message_iter_recurse(&d, &de);
				dbus_message_iter_get_basic(&de, &k);
				dbus_message_iter_next(&de);
				var = de;
				if (strcmp(k, "Value") == 0) {
					char text[256];
					memcpy(text, ret->text, sizeof(text));
					tb_val_from_variant(&var, ret);
					memcpy(ret->text, text, sizeof(text));
				} else if (strcmp(k, "Text") == 0) {
					struct tb_val t;
					tb_val_from_variant(&var, &t);
					snprintf(ret->text, sizeof(ret->text), "%s",
						 t.type == 's' ? t.s : "?");
				}
				keys++;
				dbus_message_iter_next(&d);
			}
			return keys == 2 ? 0 : -2; /* exactly Value and Text */
		}
		dbus_message_iter_next(&arr);
	}
	return -1;
}

int tb_get_value(DBusConnection *c, const char *dest, const char *path, struct tb_val *ret)
{
	DBusMessage *r = tb_call(c, tb_method(dest, path, "GetValue"), NULL, 0);
	if (!r)
		return -1;
	DBusMessageIter it;
	int rc = -1;
	if (dbus_message_iter_init(r, &it) &&
	    dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_VARIANT) {
		tb_val_from_variant(&it, ret);
		rc = 0;
	}
	dbus_message_unref(r);
	return rc;
}

int tb_get_text(DBusConnection *c, const char *dest, const char *path, char *buf, size_t len)
{
	DBusMessage *r = tb_call(c, tb_method(dest, path, "GetText"), NULL, 0);
	if (!r)
		return -1;
	const char *s = NULL;
	int rc = dbus_message_get_args(r, NULL, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID) ? 0 : -1;
	if (rc == 0)
		snprintf(buf, len, "%s", s);
	dbus_message_unref(r);
	return rc;
}

int tb_set_value(DBusConnection *c, const char *dest, const char *path, const struct tb_val *v)
{
	DBusMessage *m = tb_method(dest, path, "SetValue");
	DBusMessageIter it, var, arr;
	dbus_message_iter_init_append(m, &it);
	if (v->type == 'x') {
		dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "i", &arr);
		dbus_message_iter_close_container(&it, &arr);
	} else {
		char sig[2] = {v->type, 0};
		dbus_message_iter_open_container(&it, DBUS_TYPE_VARIANT, sig, &var);
		if (v->type == 'i')
			dbus_message_iter_append_basic(&var, DBUS_TYPE_INT32, &v->i);
		else if (v->type == 'd')
			dbus_message_iter_append_basic(&var, DBUS_TYPE_DOUBLE, &v->d);
		else {
			const char *s = v->s;
			dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &s);
		}
		dbus_message_iter_close_container(&it, &var);
	}
	DBusMessage *r = tb_call(c, m, NULL, 0);
	if (!r)
		return -1000;
	dbus_int32_t rc = -1000;
	if (!dbus_message_get_args(r, NULL, DBUS_TYPE_INT32, &rc, DBUS_TYPE_INVALID))
		rc = -1000;
	dbus_message_unref(r);
	return rc;
}

int tb_config_defaults(struct publish_config *pcfg, struct charge_config *ccfg)
{
	const struct cfg_section secs[] = {
		{.name = "publish", .keys = publish_cfg_keys, .offset = 0}, {NULL}};
	const struct cfg_schema sch = {.sections = secs};
	const struct cfg_section csecs[] = {{.name = "charge",
					     .keys = charge_cfg_keys,
					     .offset = 0,
					     .validate = charge_config_validate},
					    {NULL}};
	const struct cfg_schema csch = {.sections = csecs};
	struct cfg_error err;
	if (cfg_defaults(&sch, pcfg, &err) < 0 || cfg_defaults(&csch, ccfg, &err) < 0)
		return -1;
	return 0;
}

static uint64_t fake_clock(void *ctx)
{
	return atomic_load((_Atomic uint64_t *)ctx);
}

static int publisher_start(const char *address, const struct publish_config *pcfg,
			   const struct charge_config *ccfg, const char *state_dir,
			   _Atomic uint64_t *clock, bool handoff, struct store *st,
			   struct publish **ret)
{
	struct publish_params prm;
	memset(&prm, 0, sizeof(prm));
	prm.bus_address = address;
	prm.cfg = pcfg;
	prm.charge = ccfg;
	snprintf(prm.state_dir, sizeof(prm.state_dir), "%s", state_dir ? state_dir : "");
	prm.clock_ms = fake_clock;
	prm.clock_ctx = clock;
	prm.handoff = handoff;
	return publish_start(&prm, st, ret);
}

int tb_publisher_start(const char *address, const struct publish_config *pcfg,
		       const struct charge_config *ccfg, const char *state_dir,
		       _Atomic uint64_t *clock, struct store *st, struct publish **ret)
{
	return publisher_start(address, pcfg, ccfg, state_dir, clock, false, st, ret);
}

int tb_publisher_start_handoff(const char *address, const struct publish_config *pcfg,
			       const struct charge_config *ccfg, const char *state_dir,
			       _Atomic uint64_t *clock, struct store *st, struct publish **ret)
{
	return publisher_start(address, pcfg, ccfg, state_dir, clock, true, st, ret);
}

struct bms_snapshot tb_snap(int32_t mv, int32_t ma, uint16_t soc_cpct, int32_t cap_mah)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		  BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_FETS |
		  BMS_V_ALARMS | BMS_V_SERIAL | BMS_V_SW_VERSION | BMS_V_BALANCER | BMS_V_BALANCING;
	s.voltage_mv = mv;
	s.current_ma = ma;
	s.soc_cpct = soc_cpct;
	s.capacity_full_mah = cap_mah;
	s.capacity_remain_mah = (int32_t)((int64_t)cap_mah * soc_cpct / 10000);
	s.cycles = 42;
	s.cell_count = 16;
	for (int k = 0; k < 16; k++)
		s.cell_mv[k] = 3300;
	s.cell_mv[6] = 3320; /* C7 is the highest */
	s.cell_mv[2] = 3290; /* C3 the lowest */
	s.temp_count = 2;
	s.temp_dc[0] = 250;
	s.temp_dc[1] = 260;
	s.mosfet_temp_dc = 300;
	s.charge_fet = s.discharge_fet = true;
	s.balancer_enabled = true;
	snprintf(s.serial, sizeof(s.serial), "SN123");
	snprintf(s.sw_version, sizeof(s.sw_version), "11.XW");
	return s;
}

int tb_commit(struct store *st, int slot, const char *tty, const char *proto, uint64_t cycles,
	      const struct bms_snapshot *s, uint64_t now)
{
	struct store_info info;
	memset(&info, 0, sizeof(info));
	snprintf(info.tty, sizeof(info.tty), "%s", tty);
	snprintf(info.protocol, sizeof(info.protocol), "%s", proto);
	info.poll_interval_ms = 1000;
	info.cycles_ok = cycles;
	return store_commit(st, slot, s, &info, now);
}

static bool val_equal(const struct tb_val *v, const struct tb_val *want)
{
	if (v->type != want->type)
		return false;
	switch (want->type) {
	case 'i':
		return v->i == want->i;
	case 'd':
		return fabs(v->d - want->d) < 1e-6;
	case 's':
		return strcmp(v->s, want->s) == 0;
	default:
		return true;
	}
}

bool tb_until(DBusConnection *c, const char *dest, const char *path, const struct tb_val *want,
	      int timeout_ms)
{
	struct tb_val v;
	memset(&v, 0, sizeof(v));
	for (int waited = 0; waited <= timeout_ms; waited += 5) {
		if (tb_get_value(c, dest, path, &v) == 0 && val_equal(&v, want))
			return true;
		usleep(5000);
	}
	printf("\n    %s %s: type %c %d %g \"%s\", want %c %d %g \"%s\"", dest, path, v.type, v.i,
	       v.d, v.s, want->type, want->i, want->d, want->s);
	return false;
}

bool tb_until_s(DBusConnection *c, const char *dest, const char *path, const char *want)
{
	struct tb_val v = {.type = want ? 's' : 'x'};
	if (want)
		snprintf(v.s, sizeof(v.s), "%s", want);
	return tb_until(c, dest, path, &v, TB_UNTIL_MS);
}

bool tb_until_i(DBusConnection *c, const char *dest, const char *path, int32_t want)
{
	return tb_until(c, dest, path, &(struct tb_val){.type = 'i', .i = want}, TB_UNTIL_MS);
}

bool tb_until_d(DBusConnection *c, const char *dest, const char *path, char type, double want)
{
	struct tb_val v = {.type = type, .i = (int32_t)want, .d = want};
	return tb_until(c, dest, path, &v, TB_UNTIL_MS);
}

int tb_teardown(struct publish **pub, DBusConnection **cli, struct store **st, struct tb_bus *bus,
		const char *state_dir)
{
	publish_free(*pub);
	*pub = NULL;
	if (*cli)
		tb_disconnect(*cli);
	*cli = NULL;
	store_free(*st);
	*st = NULL;
	tb_bus_stop(bus);
	if (!state_dir || !state_dir[0])
		return 0;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int tb_add_setting(DBusConnection *c, const char *root, const char *path, const struct tb_val *def)
{
	DBusMessage *m = dbus_message_new_method_call("com.victronenergy.settings", root,
						      "com.victronenergy.Settings", "AddSettings");
	DBusMessageIter it, arr, d, de, v;
	const char *kp = "path", *kd = "default", *s = def->s;
	dbus_int32_t i = def->i;
	double dv = def->d;
	dbus_message_iter_init_append(m, &it);
	dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "a{sv}", &arr);
	dbus_message_iter_open_container(&arr, DBUS_TYPE_ARRAY, "{sv}", &d);
	dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &de);
	dbus_message_iter_append_basic(&de, DBUS_TYPE_STRING, &kp);
	dbus_message_iter_open_container(&de, DBUS_TYPE_VARIANT, "s", &v);
	dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &path);
	dbus_message_iter_close_container(&de, &v);
	dbus_message_iter_close_container(&d, &de);
	dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &de);
	dbus_message_iter_append_basic(&de, DBUS_TYPE_STRING, &kd);
	char sig[2] = {def->type, 0};
	dbus_message_iter_open_container(&de, DBUS_TYPE_VARIANT, sig, &v);
	if (def->type == 'i')
		dbus_message_iter_append_basic(&v, DBUS_TYPE_INT32, &i);
	else if (def->type == 'd')
		dbus_message_iter_append_basic(&v, DBUS_TYPE_DOUBLE, &dv);
	else
		dbus_message_iter_append_basic(&v, DBUS_TYPE_STRING, &s);
	dbus_message_iter_close_container(&de, &v);
	dbus_message_iter_close_container(&d, &de);
	dbus_message_iter_close_container(&arr, &d);
	dbus_message_iter_close_container(&it, &arr);
	DBusMessage *r = tb_call(c, m, NULL, 0);
	if (!r)
		return -1;
	dbus_message_unref(r);
	return 0;
}

void tb_owner(DBusConnection *c, const char *name, char *out, size_t len)
{
	out[0] = 0;
	DBusMessage *m =
		dbus_message_new_method_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
					     "org.freedesktop.DBus", "GetNameOwner");
	dbus_message_append_args(m, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID);
	DBusMessage *r = tb_call(c, m, NULL, 0);
	const char *o;
	if (r && dbus_message_get_args(r, NULL, DBUS_TYPE_STRING, &o, DBUS_TYPE_INVALID))
		snprintf(out, len, "%s", o);
	if (r)
		dbus_message_unref(r);
}
