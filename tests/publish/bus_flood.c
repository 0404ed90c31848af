/* SPDX-License-Identifier: MIT */
/*
 * Test helper: a hostile bus client that calls GetItems on a service N times
 * and never reads a reply (its socket and the bus daemon fill up), then waits
 * for SIGTERM. Prints "sent" on stdout once every call left its queue.
 *   usage: sb_bus_flood BUS_ADDRESS DESTINATION COUNT
 */
#include <dbus/dbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: sb_bus_flood BUS_ADDRESS DESTINATION COUNT\n");
		return 2;
	}
	DBusError err;
	dbus_error_init(&err);
	DBusConnection *c = dbus_connection_open_private(argv[1], &err);
	if (!c || !dbus_bus_register(c, &err)) {
		fprintf(stderr, "sb_bus_flood: %s\n", err.message ? err.message : "?");
		return 1;
	}
	/* libdbus stops reading the socket once this much is queued unread: a client that never
	 * reads */
	dbus_connection_set_max_received_size(c, 1);
	long n = strtol(argv[3], NULL, 10);
	for (long k = 0; k < n; k++) {
		DBusMessage *m = dbus_message_new_method_call(
			argv[2], "/", "com.victronenergy.BusItem", "GetItems");
		if (!m || !dbus_connection_send(c, m, NULL))
			return 1;
		dbus_message_unref(m);
		/* write as we go (a full queue would only measure this process) */
		while (dbus_connection_has_messages_to_send(c))
			dbus_connection_read_write(c, 100);
	}
	printf("sent\n");
	fflush(stdout);
	pause(); /* never reads: replies pile up until we are killed */
	return 0;
}
