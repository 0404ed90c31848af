/* SPDX-License-Identifier: MIT */
/*
 * A second transport for the worker, for tests only: a byte stream over an
 * AF_UNIX socket, with no line settings and no termios. Detection, the poll
 * cycle and the worker thread run over it unchanged, which shows the engine
 * reaches a device only through the ops of worker/transport.h.
 */
#ifndef SB_TESTS_WSTREAM_H
#define SB_TESTS_WSTREAM_H

#include <stddef.h>

#include "worker/transport.h"

/* open(path) connects to a listening AF_UNIX stream socket at path. */
extern const struct worker_transport_ops wt_stream_ops;

/* configure() calls a stream handle has taken (each with its line in t->line). */
unsigned wt_stream_configures(const struct worker_transport *t);

/*
 * Listen on a fresh socket path (written to path, >= 108 bytes, in a new
 * temporary directory). Returns the listening fd or -errno.
 */
int wt_stream_listen(char *path, size_t len);
/* Accept one connection within timeout_ms: the fd (non-blocking) or -errno. */
int wt_stream_accept(int listen_fd, unsigned timeout_ms);
/* Close the listener and remove its socket and directory. */
void wt_stream_unlisten(int listen_fd, const char *path);

#endif
