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

#include "publish/busitem.h"

#define PUBLISH_NAME_LEN 160

struct publish_service {
	DBusConnection *conn;
	struct publish_tree *tree;
	char name[PUBLISH_NAME_LEN];     /* com.victronenergy.battery.<x> */
	char settings[PUBLISH_NAME_LEN]; /* /Settings/Devices/serialbattery_<id> */
	int32_t instance;                /* DeviceInstance */
	bool have_settings;              /* settings service answered AddSettings */
	bool owned;                      /* bus name acquired */
	bool reclaim;                    /* instance changed: drop and re-request the name */
	bool name_taken_logged;
	char custom_name[PUBLISH_STR_LEN];
};

/* Open a private connection (NULL address: system bus). */
int publish_service_open(const char *address, struct publish_service **ret);
/* Release the name, close the connection, free the tree. Accepts NULL. */
void publish_service_close(struct publish_service *s);

/*
 * Claim ClassAndVrmInstance and CustomName under
 * /Settings/Devices/serialbattery_<sid>: fills instance and custom_name
 * (fallback: default_instance, "" when no settings service answers) and
 * subscribes to their PropertiesChanged.
 */
int publish_service_claim(struct publish_service *s, const char *sid, int32_t default_instance);

/* Export tree on every path (the tree must be complete and sealed). */
int publish_service_export(struct publish_service *s, struct publish_tree *tree);

/* Request name with DO_NOT_QUEUE: 0 owned, -EEXIST taken, other negative errno. */
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
