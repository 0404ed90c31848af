/* SPDX-License-Identifier: MIT */
/* Test fixture: a private dbus-daemon, the settings stand-in and a libdbus client. */
#ifndef SB_TEST_BUS_FIXTURE_H
#define SB_TEST_BUS_FIXTURE_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "charge/charge.h"
#include "common/store.h"
#include "publish/publish.h"
#include "publish/publish_config.h"

struct tb_bus {
	pid_t daemon, settings;
	char dir[128];
	char address[512];
};

int tb_bus_start(struct tb_bus *b);
/* Start the settings stand-in and wait until it owns its name. */
int tb_settings_start(struct tb_bus *b);
void tb_settings_stop(struct tb_bus *b);
void tb_bus_stop(struct tb_bus *b);
/*
 * Kill the daemon (and the settings stand-in, whose connection dies with it)
 * and start a new one at the same address, then the stand-in again with its
 * saved settings.
 */
int tb_bus_restart(struct tb_bus *b);

/* Start argv[0] with its stdout on a pipe (*ret_stdout); -1 on error. */
pid_t tb_spawn(const char *const argv[], int *ret_stdout);
/* SIGTERM and wait. */
void tb_reap(pid_t pid);

DBusConnection *tb_connect(const char *address);
void tb_disconnect(DBusConnection *c);
void tb_add_match(DBusConnection *c, const char *rule);

/* Send msg (consumed) and wait for the reply; NULL on error with the error name in err. */
DBusMessage *tb_call(DBusConnection *c, DBusMessage *msg, char *err, size_t errlen);
DBusMessage *tb_method(const char *dest, const char *path, const char *member);

/* Pop messages until a signal member (and path, sender; NULL = any) arrives; NULL on timeout. */
DBusMessage *tb_wait_signal(DBusConnection *c, const char *member, const char *path,
			    const char *sender, int timeout_ms);

struct tb_val {
	char type; /* 'i', 'd', 's', 'x' = invalid (empty ai), '?' other */
	int32_t i;
	double d;
	char s[256];
	char text[256];
};

/* From a variant iterator. */
void tb_val_from_variant(DBusMessageIter *var, struct tb_val *ret);
/* An entry of a{sa{sv}} (GetItems reply or ItemsChanged): 0 or -1 when absent. */
int tb_items_get(DBusMessage *m, const char *path, struct tb_val *ret);
int tb_items_count(DBusMessage *m);
/* fn(key, ctx) for every path of a GetItems reply or ItemsChanged; the sum of
 * what fn returned (-1 when m is not such a message). */
int tb_items_each(DBusMessage *m, int (*fn)(const char *key, void *ctx), void *ctx);
/* GetValue of a leaf via the bus. */
int tb_get_value(DBusConnection *c, const char *dest, const char *path, struct tb_val *ret);
int tb_get_text(DBusConnection *c, const char *dest, const char *path, char *buf, size_t len);
/* SetValue with a variant of type 'i','d','s' or bare empty ai ('x'); returns the int reply or
 * -1000 on error. */
int tb_set_value(DBusConnection *c, const char *dest, const char *path, const struct tb_val *v);

/*
 * The publisher the tests run: config defaults of the publish and charge
 * sections (charge cross-checked as the loader does), and a start on address
 * with state_dir ("" = none) and the fake clock: now is *clock (ms), which the
 * test advances.
 */
int tb_config_defaults(struct publish_config *pcfg, struct charge_config *ccfg);
int tb_publisher_start(const char *address, const struct publish_config *pcfg,
		       const struct charge_config *ccfg, const char *state_dir,
		       _Atomic uint64_t *clock, struct store *st, struct publish **ret);
/* The same with the hand-off on (publish_params.handoff): a commit may run the cycle in the
 * committing thread, so the clock is read from the test's threads too (it is atomic). */
int tb_publisher_start_handoff(const char *address, const struct publish_config *pcfg,
			       const struct charge_config *ccfg, const char *state_dir,
			       _Atomic uint64_t *clock, struct store *st, struct publish **ret);

/*
 * A 16-cell pack as the tests commit it: voltage mv, current ma, SOC and full
 * capacity, every common field valid (cycles, cells with C3 the lowest and C7
 * the highest, two sensors and the MOSFET, FETs, alarms, serial, version,
 * balancer), remaining capacity from the SOC.
 */
struct bms_snapshot tb_snap(int32_t mv, int32_t ma, uint16_t soc_cpct, int32_t cap_mah);
/* Commit s to slot as a poll of tty by protocol proto with cycles_ok cycles at now. */
int tb_commit(struct store *st, int slot, const char *tty, const char *proto, uint64_t cycles,
	      const struct bms_snapshot *s, uint64_t now);
/*
 * Poll GetValue of dest's path until it equals want (type and value; numbers
 * within 1e-6, 'x' invalid); false after timeout_ms (printing what it was).
 */
bool tb_until(DBusConnection *c, const char *dest, const char *path, const struct tb_val *want,
	      int timeout_ms);
/* The same for a string (NULL: invalid), an int32 and a number of type 'i'/'d' ('x': invalid),
 * each within TB_UNTIL_MS. */
#define TB_UNTIL_MS 5000
bool tb_until_s(DBusConnection *c, const char *dest, const char *path, const char *want);
bool tb_until_i(DBusConnection *c, const char *dest, const char *path, int32_t want);
bool tb_until_d(DBusConnection *c, const char *dest, const char *path, char type, double want);
/* A suite's clean-up: publisher, client, store, bus and state_dir ("" none): 0 or -1. */
int tb_teardown(struct publish **pub, DBusConnection **cli, struct store **st, struct tb_bus *bus,
		const char *state_dir);
/*
 * AddSettings on com.victronenergy.settings's object root ("/" with an
 * absolute path, "/Settings" with one below it) with a default of type 'i',
 * 'd' or 's': 0, or -1 without a reply.
 */
int tb_add_setting(DBusConnection *c, const char *root, const char *path, const struct tb_val *def);
/* The unique name that owns name now ("" when none). */
void tb_owner(DBusConnection *c, const char *name, char *out, size_t len);

#endif
