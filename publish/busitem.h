/* SPDX-License-Identifier: MIT */
/*
 * One service's item tree and its com.victronenergy.BusItem export
 * (internal to publish/). Items have a fixed D-Bus type for their whole life:
 * int32, double or string; invalid is sent as an empty int32 array with Text
 * "---". Values are stored with a changed flag; publish_tree_flush() sends
 * one ItemsChanged with exactly the changed items, written in the wire format
 * by busitem.c itself (docs/DBUS.md, "Encoding").
 */
#ifndef SB_PUBLISH_BUSITEM_H
#define SB_PUBLISH_BUSITEM_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUBLISH_PATH_LEN 48
#define PUBLISH_STR_LEN 128

enum publish_type { PUBLISH_T_INT = 'i', PUBLISH_T_DOUBLE = 'd', PUBLISH_T_STRING = 's' };

struct publish_item {
	char path[PUBLISH_PATH_LEN];
	char type; /* enum publish_type */
	bool valid;
	bool changed;
	bool writable;
	bool quiet; /* a counter: sent only with other changes or on release */
	/* Text, parsed from the printf-like format once when the item is added:
	 * 'f' fixed with prec decimals, 'd' decimal, 'X' "0x" hex, each followed by
	 * suffix; 0 plain; 'p' anything else, printed with fmt (no path of ours) */
	char conv;
	uint8_t prec;
	char suffix[8];
	uint16_t id; /* the caller's id (publish_tree_add_id), 0 = none */
	double band; /* deadband: a double less than this from the value held is no change */
	int32_t i;
	double d;
	char s[PUBLISH_STR_LEN];
	const char *fmt; /* Text format for i/d ("%.2fV"), NULL: plain */
	double min, max; /* accepted range of a writable number */
};

/*
 * Text of an item as GetText answers it and as ItemsChanged carries it (never
 * empty). Without printf: it runs for every changed item of every cycle, and
 * prints exactly what printf would (correctly rounded decimals, ties to even).
 * Returns the length written (len >= PUBLISH_TEXT_LEN is always enough).
 */
#define PUBLISH_TEXT_LEN (PUBLISH_STR_LEN + 32)
size_t publish_item_text(const struct publish_item *it, char *buf, size_t len);
/* v in decimal, without a terminator (at most 11 characters); returns the length. */
size_t publish_int_text(char *out, int32_t v);

struct publish_tree;

/*
 * Where ItemsChanged and GetItems replies are written (grown to the largest
 * message, then reused). A tree has its own; the trees of one thread may
 * share one (publish_tree_share_buffer): one buffer for all services, not
 * one each. publish_msgbuf_free after the last tree that used it.
 */
struct publish_msgbuf {
	uint8_t *b;
	size_t cap;
};
void publish_msgbuf_free(struct publish_msgbuf *m);

/*
 * Shared by the bus code of publish/: a number in a variant of any numeric
 * D-Bus type (false for other types, e.g. Victron's invalid, an empty ai);
 * the current unique owner of name ("" when none), asked of the bus daemon.
 */
bool publish_variant_number(DBusMessageIter *v, double *ret);
/*
 * A private connection to address (NULL: the system bus, DBUS_SYSTEM_BUS_ADDRESS
 * honoured), registered, that does not exit the process on a loss, with
 * filter installed and incoming messages capped at max_received bytes (0:
 * libdbus's default). 0, -ECONNREFUSED (logged at debug) or -ENOMEM.
 */
int publish_bus_connect(const char *address, DBusHandleMessageFunction filter, void *ctx,
			long max_received, DBusConnection **ret);
void publish_bus_name_owner(DBusConnection *c, const char *name, char *out, size_t len,
			    int timeout_ms);

/*
 * A write accepted by type and range: return 0 to accept (the callback may
 * change the item itself), non-zero to refuse (SetValue answers it). A NULL
 * value means "set invalid" (bare empty array).
 */
typedef int (*publish_write_fn)(void *ctx, struct publish_tree *t, struct publish_item *it,
				const struct publish_item *value);

int publish_tree_new(publish_write_fn on_write, void *ctx, struct publish_tree **ret);
void publish_tree_free(struct publish_tree *t);
/* Write this tree's messages into m (of the same thread) instead of its own buffer. */
void publish_tree_share_buffer(struct publish_tree *t, struct publish_msgbuf *m);

/* Building: add every path (invalid), then seal (sorts; no more adds). */
int publish_tree_add(struct publish_tree *t, const char *path, char type, const char *fmt);
int publish_tree_add_writable(struct publish_tree *t, const char *path, char type, double min,
			      double max);
void publish_tree_seal(struct publish_tree *t);

/*
 * Paths by id: the fill of every cycle addresses its items by a number the
 * caller gives each path when adding it (1..65535, its own enum), so no
 * path is looked up by its string after the tree is sealed. An id the tree
 * was not built with (a pack-only path on the aggregate) is NULL / ignored.
 */
int publish_tree_add_id(struct publish_tree *t, unsigned id, const char *path, char type,
			const char *fmt);
int publish_tree_add_writable_id(struct publish_tree *t, unsigned id, const char *path, char type,
				 double min, double max);
struct publish_item *publish_tree_item(struct publish_tree *t, unsigned id);
void publish_set_int(struct publish_tree *t, unsigned id, int32_t v);
void publish_set_double(struct publish_tree *t, unsigned id, double v);
void publish_set_string(struct publish_tree *t, unsigned id, const char *v);
void publish_set_invalid(struct publish_tree *t, unsigned id);
void publish_set_double_if(struct publish_tree *t, unsigned id, bool valid, double v);
void publish_set_int_if(struct publish_tree *t, unsigned id, bool valid, int32_t v);
void publish_set_string_if(struct publish_tree *t, unsigned id, bool valid, const char *v);
/*
 * A deadband for a double path (after seal): a new value less than band from
 * the one held is no change (the bus keeps the held one). -EINVAL for an id
 * not in the tree or not a double.
 */
int publish_tree_set_band(struct publish_tree *t, unsigned id, double band);

struct publish_item *publish_tree_find(struct publish_tree *t, const char *path);

/* Setters mark the item changed only when value or validity differ. Unknown path: ignored. */
void publish_tree_set_int(struct publish_tree *t, const char *path, int32_t v);
void publish_tree_set_double(struct publish_tree *t, const char *path, double v);
void publish_tree_set_string(struct publish_tree *t, const char *path, const char *v);
void publish_tree_set_invalid(struct publish_tree *t, const char *path);
/* The value when valid, else invalid (a string also when empty): for values that may be unknown. */
void publish_tree_set_double_if(struct publish_tree *t, const char *path, bool valid, double v);
void publish_tree_set_int_if(struct publish_tree *t, const char *path, bool valid, int32_t v);
void publish_tree_set_string_if(struct publish_tree *t, const char *path, bool valid,
				const char *v);
void publish_item_set_int(struct publish_item *it, int32_t v);
void publish_item_set_double(struct publish_item *it, double v);
void publish_item_set_string(struct publish_item *it, const char *v);
/* Every byte of s that is not part of well-formed UTF-8 becomes '?'; the count of them. */
size_t publish_utf8_clean(char *s);
void publish_item_set_invalid(struct publish_item *it);

/* Forget pending changes (what the bus has not seen yet needs no signal). */
void publish_tree_clear_changes(struct publish_tree *t);
/* Mark every item changed: the next flush sends them all (a new bus knows none of them). */
void publish_tree_mark_changed(struct publish_tree *t);

/*
 * Cap of a connection's outgoing queue (bytes). Past it, replies are dropped
 * (counted, logged once per episode) and flushes wait with the items still
 * marked changed: a client that never reads cannot grow our memory.
 */
#define PUBLISH_OUTGOING_CAP (1024 * 1024)
/* Replies dropped by the cap, and method calls handled, since the tree was made. */
uint64_t publish_tree_dropped(const struct publish_tree *t);
uint64_t publish_tree_requests(const struct publish_tree *t);

/*
 * Send one ItemsChanged on "/" with the changed items (nothing when none
 * changed), plus one PropertiesChanged per changed item when per_path. Returns
 * the number of signals queued, -EAGAIN when the outgoing queue is over the
 * cap (nothing sent, items stay changed) or a negative errno (-EPIPE: the
 * connection was shut down, see below). The ItemsChanged goes straight onto
 * the socket when libdbus has nothing queued for it; publish_tree_direct()
 * counts those.
 */
int publish_tree_flush(struct publish_tree *t, DBusConnection *conn, bool per_path);
uint64_t publish_tree_direct(const struct publish_tree *t);

/*
 * The a{sa{sv}} message as the flush and GetItems write it: ItemsChanged on
 * "/" (reply_to NULL) or the return of reply_to, with the changed items only
 * or all of them. NULL without memory or for a string that is no UTF-8.
 */
DBusMessage *publish_tree_items_message(struct publish_tree *t, DBusMessage *reply_to,
					bool changed_only);

/*
 * Quiet items (diagnostic counters that move every poll) are current in
 * GetItems but make no ItemsChanged of their own: a flush with only quiet
 * changes sends nothing and keeps them, until another item changes or the
 * owner releases them (publish_tree_release_quiet: the next flush sends them).
 */
int publish_tree_set_quiet(struct publish_tree *t, const char *path);
void publish_tree_release_quiet(struct publish_tree *t);

/* The object-path fallback handler on "/" for this tree. */
DBusHandlerResult publish_tree_handle(DBusConnection *conn, DBusMessage *msg, void *tree);

#endif
