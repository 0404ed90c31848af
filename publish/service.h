/* SPDX-License-Identifier: MIT */
/*
 * One battery service on the bus (internal to publish/): its own private
 * DBusConnection, its item tree exported on every path, its settings in
 * com.victronenergy.settings and its bus name.
 *
 * Why one connection per service: Victron consumers key values by the
 * sender's unique name and every battery has the same paths (/Dc/0/Voltage),
 * so two names on one connection could not be told apart (a signal or a
 * GetValue on /Soc would be ambiguous). The publisher thread owns all of them.
 */
#ifndef SB_PUBLISH_SERVICE_H
#define SB_PUBLISH_SERVICE_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stdint.h>

#include "bms/bms.h"
#include "publish/busitem.h"

#define PUBLISH_NAME_LEN 160
#define PUBLISH_MIGRATE_IDS 10 /* serial, port, eight "<version>_<capacity>Ah" forms */

struct publish_service {
	DBusConnection *conn;        /* NULL while the bus is away */
	const char *address;         /* NULL: system bus; owned by the publisher */
	struct publish_tree *tree;   /* exported again on every connection */
	char name[PUBLISH_NAME_LEN]; /* com.victronenergy.battery.<x>, "" until first requested */
	char settings[PUBLISH_NAME_LEN]; /* /Settings/Devices/serialbattery_<id> */
	char sid[PUBLISH_NAME_LEN];      /* <id> of the last claim, "" before it */
	int32_t default_instance;
	int32_t instance;   /* DeviceInstance */
	bool have_settings; /* settings service answered AddSettings */
	bool owned;         /* bus name acquired */
	bool reclaim;       /* instance changed: drop and re-request the name */
	bool name_taken_logged;
	bool name_watched;     /* NameOwnerChanged of name subscribed on this connection */
	bool settings_watched; /* settings PropertiesChanged subscribed on this connection */
	bool name_free;        /* the bus says name has no owner now: request it */
	bool settings_back;    /* settings appeared while we had none: claim again */
	bool resend;           /* new connection: send every value once the name is ours */
	/* unique name of com.victronenergy.settings, "" when none: the only accepted settings
	 * sender */
	char settings_owner[PUBLISH_NAME_LEN];
	uint64_t ignored_signals; /* settings signals from any other sender */
	uint64_t retry_at_ms;     /* next reconnect or name request (monotonic) */
	uint32_t backoff_ms;      /* reconnect backoff, 0 while connected */
	char custom_name[PUBLISH_STR_LEN];
	/* dbus-serialbattery migration (publish_service_migrate_hint): tried once, at the
	 * first claim that reaches a settings service */
	bool migrate_pending;
	bool migrate_sole; /* the only battery this daemon expects */
	char migrate_ids[PUBLISH_MIGRATE_IDS][PUBLISH_NAME_LEN]; /* ids the Python driver may
								   have used; "" = none */
};

/* A service without a connection (publish_service_connect makes one). */
int publish_service_new(const char *address, struct publish_service **ret);
/* Open a private connection (NULL address: system bus) and track the settings owner. */
int publish_service_connect(struct publish_service *s);
/* The connection is gone: forget it and the name; tree, name and identity stay. */
void publish_service_lost(struct publish_service *s);
/* new + connect; without a bus the service is returned unconnected (0 or -ENOMEM). */
int publish_service_open(const char *address, struct publish_service **ret);
/* Release the name, close the connection, free the tree. Accepts NULL. */
void publish_service_close(struct publish_service *s);

/*
 * Claim ClassAndVrmInstance and CustomName under
 * /Settings/Devices/serialbattery_<sid>: fills instance and custom_name
 * (fallback: default_instance, "" when no settings service answers) and
 * subscribes to their PropertiesChanged (accepted only from the current
 * owner of com.victronenergy.settings).
 */
int publish_service_claim(struct publish_service *s, const char *sid, int32_t default_instance);

/*
 * Before the first claim of a battery: what the Python driver dbus-serialbattery
 * may have called it (its BMS serial, "<tty>__0x<addr>", or its fallback for a
 * BMS without a serial: a version string without punctuation, "_", the
 * capacity as Python prints the float, "Ah", e.g. JBD's "23_100_0Ah" from
 * snap's versions or model and its rated or full capacity) and whether it is the
 * only battery this daemon expects. When our own settings entry does not exist
 * yet, the first claim looks for an entry the Python driver left under
 * /Settings/Devices/serialbattery_* (one with a UniqueIdentifier) that matches
 * one of these ids, or the only such entry when sole is true, and takes over
 * its ClassAndVrmInstance and CustomName, unless a live battery service on the
 * bus already uses that instance (docs/VENUS.md, "Moving from dbus-serialbattery").
 */
void publish_service_migrate_hint(struct publish_service *s, const struct bms_snapshot *snap,
				  const char *tty, unsigned address, bool sole);

/* Export tree on every path (the tree must be complete and sealed). */
int publish_service_export(struct publish_service *s, struct publish_tree *tree);

/* Request name with DO_NOT_QUEUE: 0 owned, -EEXIST taken, -ENOTCONN, other negative errno. */
int publish_service_request_name(struct publish_service *s, const char *name);
void publish_service_release_name(struct publish_service *s);

/* Store a new CustomName in settings (fire and forget). */
void publish_service_store_custom_name(struct publish_service *s, const char *v);

/* Non-blocking I/O and dispatch; false when the connection is gone. */
bool publish_service_dispatch(struct publish_service *s);
int publish_service_fd(const struct publish_service *s);
bool publish_service_wants_write(const struct publish_service *s);

/* Replace characters that are not [A-Za-z0-9_] with '_' (settings path and bus name safe). */
void publish_sanitize(const char *in, char *out, size_t len);

#endif
