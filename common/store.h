/* SPDX-License-Identifier: MIT */
/*
 * The snapshot store: the only shared mutable state between workers and the
 * publisher. Fixed slots, one per battery. A worker commits a whole snapshot
 * under the slot mutex (readers never see a half-updated battery); each commit
 * bumps the slot's sequence number and wakes the reader through one eventfd.
 *
 * Slot life: EMPTY -> store_open() -> DETECTING -> store_commit() -> ONLINE
 * -> store_close() -> GONE -> store_release() (by the publisher, after it
 * removed the battery from the bus) -> EMPTY. Re-opening a key that is still
 * GONE takes the same slot back (a replugged adapter keeps its battery).
 */
#ifndef SB_STORE_H
#define SB_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "bms/bms.h"

#define STORE_KEY_LEN 96

enum store_state {
	STORE_EMPTY = 0,
	STORE_DETECTING = 1, /* worker runs, no good cycle yet */
	STORE_ONLINE = 2,    /* at least one good cycle committed */
	STORE_GONE = 3,      /* worker ended; the publisher removes the battery */
};

/* Identity and link counters, committed together with a snapshot. */
struct store_info {
	char key[STORE_KEY_LEN]; /* identity: adapter ID_SERIAL/ID_PATH or path, plus "__<addr>" */
	char tty[32];            /* port basename of the moment, e.g. "ttyUSB0" */
	char protocol[16];       /* driver name, "" while detecting */
	uint8_t address;         /* bus address, 0 when unaddressed */
	uint32_t poll_interval_ms;
	uint64_t cycles_ok;      /* good poll cycles */
	uint64_t frames_bad;     /* frames dropped for checksum/length/parse errors */
	uint64_t timeouts;       /* requests that got no answer in time */
	uint64_t frames_foreign; /* frames for someone else on a shared line (not errors) */
	uint64_t implausible;    /* whole cycles dropped as implausible (bms/plausible.h) */
};

/*
 * The command mailbox: the one channel back from the publisher to a worker
 * (BMS writes: FETs, balancer, SOC). One slot holds at most one command
 * waiting and one running; posting while one waits replaces it (the newest
 * wish wins, like a switch), so a burst of toggles costs one write. The worker
 * takes it between poll cycles and reports the outcome, which every reader of
 * the record sees with its sequence number.
 */
enum store_cmd_status {
	STORE_CMD_NONE = 0,     /* nothing posted yet */
	STORE_CMD_PENDING = 1,  /* posted, not yet taken by the worker */
	STORE_CMD_RUNNING = 2,  /* taken; the request is on the wire */
	STORE_CMD_OK = 3,       /* the BMS acknowledged it */
	STORE_CMD_REFUSED = 4,  /* the BMS said no, or the driver has no such command */
	STORE_CMD_TIMEOUT = 5,  /* no usable answer after the retries */
	STORE_CMD_CANCELED = 6, /* replaced before it ran, or the battery went away */
};

struct store_command {
	enum bms_command command;
	int32_t value;
	uint32_t seq; /* 1, 2, ... per slot; 0 = none */
};

/* The latest command of a slot and what became of it. */
struct store_cmd_state {
	struct store_command cmd;
	enum store_cmd_status status;
};

const char *store_cmd_status_name(enum store_cmd_status s);

struct store_record {
	enum store_state state;
	uint64_t seq;        /* bumped by every commit/update/close; 0 = never written */
	uint64_t updated_ms; /* monotonic ms of the last good cycle, 0 = never */
	struct store_info info;
	struct bms_snapshot snap;   /* the last good snapshot (valid == 0 before the first) */
	struct store_cmd_state cmd; /* the latest command posted to this battery */
};

struct store;

int store_new(unsigned nslots, struct store **ret);
void store_free(struct store *st); /* accepts NULL */
unsigned store_slot_count(const struct store *st);

/* Claim a slot for key (or take back the GONE/ONLINE slot with the same key). -ENOSPC when full. */
int store_open(struct store *st, const char *key, int *ret_slot);
/* A good cycle: copy snapshot and info in whole, state ONLINE, stamp now_ms. */
int store_commit(struct store *st, int slot, const struct bms_snapshot *snap,
		 const struct store_info *info, uint64_t now_ms);
/* Counters/identity changed without a good cycle (timeouts, bad frames, implausible
 * cycles, re-detection). */
int store_update_info(struct store *st, int slot, const struct store_info *info);
/* The worker ended. */
int store_close(struct store *st, int slot);
/* The publisher is done with a GONE slot: free it. -EBUSY if not GONE. */
int store_release(struct store *st, int slot);

/* Copy a slot out whole. */
int store_read(struct store *st, int slot, struct store_record *ret);

/*
 * Publisher side: post a command for the battery in slot. Only a live battery
 * (DETECTING or ONLINE) takes commands: -ESTALE otherwise, -EINVAL for an
 * unknown command. A command still waiting is replaced (its status becomes
 * CANCELED only if nothing replaces it; the new one reports instead). Wakes
 * the worker through its listen fd. *ret_seq identifies the command.
 */
int store_command_post(struct store *st, int slot, enum bms_command command, int32_t value,
		       uint32_t *ret_seq);

/*
 * Worker side. listen: fd (an eventfd the worker polls; borrowed, -1 to stop)
 * is written whenever a command is posted to slot. take: 1 and *ret filled
 * when a command waits (it becomes RUNNING), 0 when none. done: the outcome of
 * command seq (ignored unless it is the running one); wakes the publisher.
 */
int store_command_listen(struct store *st, int slot, int fd);
int store_command_take(struct store *st, int slot, struct store_command *ret);
int store_command_done(struct store *st, int slot, uint32_t seq, enum store_cmd_status status);

/* True when a record that was ONLINE has had no good cycle for stale_after_ms. */
bool store_record_stale(const struct store_record *r, uint64_t now_ms, uint64_t stale_after_ms);

/*
 * The ports known at start-up, so the publisher can tell when a bank of "all"
 * packs is complete: the supervisor registers each port (PENDING) before it
 * starts its worker; the worker marks it after its first detection round.
 * A port leaves the registry when the supervisor releases it.
 */
#define STORE_MAX_PORTS 32

enum store_port_state {
	STORE_PORT_PENDING = 0,  /* first detection round not finished */
	STORE_PORT_DETECTED = 1, /* a BMS answered; its first snapshot is committed */
	STORE_PORT_FAILED = 2,   /* the first round found nothing (or the port failed) */
};

/* Add path as PENDING (a known path keeps its state). -ENOSPC when full. */
int store_port_register(struct store *st, const char *path);
/* Leave PENDING (no effect on a port already marked or not registered); wakes the reader. */
void store_port_mark(struct store *st, const char *path, enum store_port_state state);
void store_port_remove(struct store *st, const char *path);
/* Registered ports and how many of them are still PENDING. */
void store_port_count(struct store *st, unsigned *ret_total, unsigned *ret_pending);

/* eventfd that becomes readable after any commit/update/close; store_drain() resets it. */
int store_fd(const struct store *st);
void store_drain(struct store *st);

/* The hand-off (docs/ARCHITECTURE.md, "Wake-ups"): the reader may do its work for a commit
 * in the committing thread instead of being woken for it. store_commit() calls fn(ctx) after
 * the slot is unlocked; true means the reader's work for every commit so far is done and the
 * eventfd is not written, false writes it as before. A commit that finds another thread in
 * fn leaves it to that thread, which calls fn once more. fn must never block: it runs in a
 * worker. store_set_handoff() waits for a call in progress, so after
 * store_set_handoff(st, NULL, NULL) returns fn is not running and never called again; it
 * writes the eventfd (a commit may have found its lock taken). */
typedef bool (*store_handoff_fn)(void *ctx);
void store_set_handoff(struct store *st, store_handoff_fn fn, void *ctx);

#endif
