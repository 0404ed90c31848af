/* SPDX-License-Identifier: MIT */
/*
 * The serial backend of worker/transport.h (worker_serial_ops), and under it
 * the serial port of one worker: raw termios at a standard baud and framing,
 * writes and reads bounded by a monotonic deadline, and one poll() that also
 * watches a wake eventfd so the supervisor can stop the worker at once.
 *
 * Errors: -ECANCELED when the wake fd is readable (stop requested; the fd is
 * left readable so every later wait sees it too), -ENODEV when the port went
 * away (POLLHUP/POLLERR/EIO: adapter pulled, pty master closed),
 * -ETIMEDOUT when the deadline passed.
 */
#ifndef SB_WORKER_SERIAL_H
#define SB_WORKER_SERIAL_H

#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "bms/bms.h"
#include "worker/transport.h"

/* The transport: a port below, reads timed by the reply length and latency it learns
 * (docs/WORKER.md "Timed reads"). */
extern const struct worker_transport_ops worker_serial_ops;

struct worker_port {
	int fd;
	int wake_fd;   /* borrowed; -1 = none */
	uint32_t baud; /* current line speed, 0 before the first set_line */
	enum bms_framing framing;
	uint8_t vmin;       /* current VMIN (poll wakes when this many bytes wait) */
	struct termios tio; /* last applied settings */
};

/* Open path raw (8N1, 9600 until set_line). ret is written only on success. */
int worker_port_open(const char *path, int wake_fd, struct worker_port *ret);
void worker_port_close(struct worker_port *p);

/* -EINVAL for a baud that is not a standard termios speed. No-op when unchanged. */
int worker_port_set_line(struct worker_port *p, uint32_t baud, enum bms_framing framing);

/* Batch reads: poll() reports input only once n (1..255) bytes wait. */
int worker_port_set_vmin(struct worker_port *p, uint8_t n);

/* Write all of buf before deadline_ms. */
int worker_port_write(struct worker_port *p, const uint8_t *buf, size_t len, uint64_t deadline_ms);

/*
 * Wait for input until deadline_ms, then read what is there into buf.
 * Returns the byte count (> 0), -ETIMEDOUT, -ECANCELED or -ENODEV.
 */
int worker_port_read(struct worker_port *p, uint8_t *buf, size_t cap, uint64_t deadline_ms);

/* Non-blocking read of whatever waits, ignoring VMIN: 0 when nothing. */
int worker_port_read_now(struct worker_port *p, uint8_t *buf, size_t cap);

/*
 * Idle until deadline_ms: returns 0 at the deadline, -ECANCELED when woken,
 * -ENODEV when the port hangs up meanwhile. Input does not end the wait.
 */
int worker_port_idle(struct worker_port *p, uint64_t deadline_ms);

#endif
