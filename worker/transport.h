/* SPDX-License-Identifier: MIT */
/*
 * The transport seam: how the request/reply engine (worker/link.c) reaches a
 * BMS without knowing what carries the bytes. A backend is one const ops
 * table and a handle that starts with struct worker_transport. Serial
 * (worker/serial.c: termios, timed reads) is the daemon's only backend
 * today; socketcan and Bluetooth join as further tables, and tests add a
 * socket stream of their own (tests/worker/wstream.c).
 *
 * Every wait is bounded by a monotonic deadline (common/sbtime.h) and also
 * watches the handle's wake fd, so a stop is immediate. Errors everywhere:
 * -ECANCELED when the wake fd is readable (stop requested; left readable so
 * every later wait sees it too), -ENODEV when the device went away (adapter
 * pulled, peer closed), -ETIMEDOUT when the deadline passed.
 */
#ifndef SB_WORKER_TRANSPORT_H
#define SB_WORKER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"

/*
 * What configure() applies. A struct rather than arguments so the CAN
 * bitrate and the BLE characteristics can join without touching any
 * backend's signature; a backend reads only the fields of its own kind.
 */
struct worker_line {
	uint32_t baud;            /* serial: line speed; 0 = none (no wire time) */
	enum bms_framing framing; /* serial: 8N1 or 8E1 */
};

struct worker_transport;

struct worker_transport_ops {
	const char *name; /* for logs: "serial" */
	/* Open path; wake_fd is borrowed (-1 = none). *ret written only on success. */
	int (*open)(const char *path, int wake_fd, struct worker_transport **ret);
	/* Close and free; accepts NULL. */
	void (*close)(struct worker_transport *t);
	/* Apply line settings: -EINVAL for settings the device cannot take. */
	int (*configure)(struct worker_transport *t, const struct worker_line *line);
	/*
	 * Write all of one request before deadline_ms: 0 or a negative errno.
	 * Every exchange starts here; len 0 starts one with nothing to send
	 * (listening to a device that talks unsolicited).
	 */
	int (*write)(struct worker_transport *t, const uint8_t *buf, size_t len,
		     uint64_t deadline_ms);
	/*
	 * Wait for input until deadline_ms, then read what is there: the byte
	 * count (> 0), -ETIMEDOUT, -ECANCELED or -ENODEV. A backend may hold
	 * bytes back until more of the reply is in (serial: a timed sleep to the
	 * reply's computed end, VMIN), never past the deadline.
	 */
	int (*read)(struct worker_transport *t, uint8_t *buf, size_t cap, uint64_t deadline_ms);
	/* Drop unread input (a late reply to an earlier request, echo, noise). */
	int (*flush)(struct worker_transport *t);
	/* The fd whose POLLHUP/POLLERR means the device went away (idle waits on it). */
	int (*fd)(const struct worker_transport *t);
	/*
	 * Optional: the reply to the last write() was whole after `used` of the
	 * bytes read since. A backend that batches reads learns from it.
	 */
	void (*reply_done)(struct worker_transport *t, size_t used);
};

/*
 * What a transport did, counted by the transport itself: tests assert on
 * these (how many waits a reply cost) instead of on durations, and benches
 * print them. Only ever incremented.
 */
struct worker_transport_stats {
	uint64_t sleeps;          /* timed waits until a reply's computed end (no device fd) */
	uint64_t polls;           /* waits on the device fd for input */
	uint64_t reads;           /* read() calls on the device */
	uint64_t short_reads;     /* a timed read found less than the learned reply (or nothing) */
	uint64_t latency_learned; /* a reply's end was seen (poll()): the latency measured */
	uint64_t flushes;         /* input dropped after an unclean exchange */
};

/* The part of every backend's handle the engine may see. */
struct worker_transport {
	const struct worker_transport_ops *ops;
	int wake_fd;             /* borrowed; -1 = none */
	struct worker_line line; /* as last configured */
	bool configured;
	/*
	 * Input may hold something that is not the next reply: set on open, on a
	 * new line setting and by the engine for every exchange until it ended
	 * cleanly (one whole reply, nothing before or after it). The engine
	 * flushes only then, so a clean run of exchanges costs no flush.
	 */
	bool unclean;
	/*
	 * Set by the engine before write(): nothing goes out until this long
	 * after the reply's end anyway (the inter-frame gap when another request
	 * of the cycle follows), so a backend that sleeps until a reply's
	 * computed end may sleep that much longer and wake once for both.
	 */
	unsigned linger_ms;
	/* Set by a backend on read(): by when the bytes read had arrived, 0 = unknown (now). */
	uint64_t rx_end_ms;
	struct worker_transport_stats stats;
};

int worker_transport_open(const struct worker_transport_ops *ops, const char *path, int wake_fd,
			  struct worker_transport **ret);
void worker_transport_close(struct worker_transport *t); /* accepts NULL */

/* configure() unless line is what the transport already has. */
int worker_transport_configure(struct worker_transport *t, const struct worker_line *line);

static inline int worker_transport_write(struct worker_transport *t, const uint8_t *buf, size_t len,
					 uint64_t deadline_ms)
{
	return t->ops->write(t, buf, len, deadline_ms);
}

static inline int worker_transport_read(struct worker_transport *t, uint8_t *buf, size_t cap,
					uint64_t deadline_ms)
{
	return t->ops->read(t, buf, cap, deadline_ms);
}

static inline int worker_transport_flush(struct worker_transport *t)
{
	t->stats.flushes++;
	return t->ops->flush(t);
}

static inline void worker_transport_reply_done(struct worker_transport *t, size_t used)
{
	if (t->ops->reply_done)
		t->ops->reply_done(t, used);
}

/*
 * Idle until deadline_ms: 0 at the deadline, -ECANCELED when woken, -ENODEV
 * when the device hangs up meanwhile. Input does not end the wait.
 */
int worker_transport_idle(struct worker_transport *t, uint64_t deadline_ms);

/*
 * The same, also ending when extra_fd (-1 = none) is readable: 1 then, left
 * readable for the caller to drain. For the worker's command eventfd, so a
 * posted BMS write ends the wait between poll cycles. A stop or a hangup at
 * the same moment wins over it.
 */
int worker_transport_idle_or(struct worker_transport *t, int extra_fd, uint64_t deadline_ms);

/* Milliseconds the configured line needs to carry n bytes (0 without a line speed). */
unsigned worker_transport_wire_ms(const struct worker_transport *t, size_t n);

/* The same for a serial line without a transport: for reports and benchmarks. */
unsigned worker_wire_ms(uint32_t baud, enum bms_framing framing, size_t n);

/*
 * poll() fd for `events` plus wake_fd (-1 = none) until deadline_ms, for
 * backends: 1 = fd ready, 0 = deadline, -ECANCELED, -ENODEV (POLLHUP or
 * POLLERR; before input, whose bytes are of no use to a worker that is
 * ending anyway), -EBADF.
 */
int worker_wait_fd(int fd, int wake_fd, short events, uint64_t deadline_ms);

#endif
