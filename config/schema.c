/* SPDX-License-Identifier: MIT */
#include "config/schema.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sbtime.h"

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

const struct cfg_key daemon_cfg_keys[] = {
	{.path = "log_level",
	 .type = CFG_ENUM,
	 .offset = offsetof(struct daemon_config, log_level),
	 .def = "\"info\"",
	 .choices = log_levels,
	 .doc = "Messages up to this level are logged; -v on the command line raises it."},
	{.path = "syslog",
	 .type = CFG_BOOL,
	 .offset = offsetof(struct daemon_config, syslog),
	 .def = "false",
	 .doc = "Log to syslog instead of stderr (services under systemd use stderr)."},
	{.path = "state_dir",
	 .type = CFG_STRING,
	 .offset = offsetof(struct daemon_config, state_dir),
	 .def = "\"/var/lib/serialbattery\"",
	 .doc = "Directory for small state files (remembered protocols, charge state, history); "
		"created "
		"(0755) when missing. It must be the daemon user's own and not writable by group "
		"or others, or the daemon refuses to start (exit status 2). Read at start only."},
	{.path = "max_batteries",
	 .type = CFG_INT,
	 .offset = offsetof(struct daemon_config, max_batteries),
	 .min = 1,
	 .max = 64,
	 .def = "16",
	 .doc = "Number of battery slots (ports x addresses) the daemon can serve."},
	{NULL},
};

static const struct cfg_section sections[] = {
	{.name = "daemon",
	 .doc = "Process-wide settings.",
	 .keys = daemon_cfg_keys,
	 .offset = offsetof(struct sb_config, daemon)},
	{.name = "udev",
	 .doc = "Which serial adapters the daemon claims (see docs/SUPERVISOR.md).",
	 .keys = hotplug_cfg_keys,
	 .offset = offsetof(struct sb_config, udev),
	 .validate = hotplug_config_validate},
	{.name = "serial",
	 .doc = "Serial ports: detection, polling, RS485 addresses (see docs/WORKER.md).",
	 .keys = worker_cfg_keys,
	 .offset = offsetof(struct sb_config, serial),
	 .validate = worker_config_validate},
	{.name = "charge",
	 .doc = "Charge control: voltage and current limits, comms-loss policy (see "
		"docs/CHARGE.md).",
	 .keys = charge_cfg_keys,
	 .offset = offsetof(struct sb_config, charge),
	 .validate = charge_config_validate},
	{.name = "publish",
	 .doc = "D-Bus publishing and bank aggregation (see docs/DBUS.md).",
	 .keys = publish_cfg_keys,
	 .offset = offsetof(struct sb_config, publish)},
	{NULL},
};

/*
 * One external current/SOC source a daemon (publish/extsource reads one
 * service): the charge.soc entries with soc_source "service:..." and
 * publish.external_source must all name the same one.
 */
static int sb_config_validate(const void *root, struct cfg_invalid *ret)
{
	const struct sb_config *c = root;
	const char *first = NULL;
	unsigned first_i = 0;
	for (unsigned i = 0; i < c->charge.nsoc && i < CHARGE_SOC_MAX_PACKS; i++) {
		const char *svc = NULL;
		if (charge_soc_source_of(&c->charge.soc[i], &svc) != CHARGE_SOC_SERVICE || !svc)
			continue;
		if (!first) {
			first = svc;
			first_i = i;
		} else if (strcmp(first, svc) != 0) {
			char key[64];
			snprintf(key, sizeof(key), "charge.soc[%u].soc_source", i);
			return cfg_invalid(ret, key,
					   "names another service than charge.soc[%u] (%s): one "
					   "external source a daemon",
					   first_i, first);
		}
	}
	if (first && c->publish.external_source[0] &&
	    strcmp(first, c->publish.external_source) != 0)
		return cfg_invalid(ret, "publish.external_source",
				   "names another service than charge.soc[%u] (%s): one external "
				   "source a daemon",
				   first_i, first);
	return 0;
}

const struct cfg_schema sb_config_schema = {.sections = sections, .validate = sb_config_validate};

int sb_config_load(const char *path, struct sb_config *ret, struct cfg_error *err)
{
	struct sb_config *tmp = calloc(1, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	int r = path ? cfg_load_file(&sb_config_schema, tmp, path, err)
		     : cfg_defaults(&sb_config_schema, tmp, err);
	if (r == 0)
		*ret = *tmp;
	free(tmp);
	return r;
}

bool sb_config_publisher_equal(const struct sb_config *a, const struct sb_config *b)
{
	return cfg_keys_equal(publish_cfg_keys, &a->publish, &b->publish) &&
	       cfg_keys_equal(charge_cfg_keys, &a->charge, &b->charge);
}

/* What the child sends back: plain data, read in one piece. */
struct child_reply {
	int32_t status;
	struct cfg_error err;
	struct sb_config cfg;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Read len bytes, giving up at deadline_ms (monotonic): a child stuck on a
 * FIFO given as the config file, or on a lock some other thread held at
 * fork(), must not keep the supervisor from its signals. Returns the bytes read.
 */
static size_t read_all(int fd, void *buf, size_t len, uint64_t deadline_ms, bool *ret_timeout)
{
	char *p = buf;
	size_t got = 0;
	*ret_timeout = false;
	while (got < len) {
		uint64_t now = time_mono_ms();
		if (now >= deadline_ms) {
			*ret_timeout = true;
			break;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, (int)(deadline_ms - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			break;
		if (pr == 0)
			continue; /* the deadline check above ends it */
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static int child_failed(struct cfg_error *err, const char *path, const char *what, int e)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", path ? path : "(defaults)");
	snprintf(err->msg, sizeof(err->msg), "cannot check the file: %s%s%s", what, e ? ": " : "",
		 e ? strerror(e) : "");
	return -EIO;
}

int sb_config_load_isolated(const char *path, unsigned timeout_ms, struct sb_config *ret,
			    struct cfg_error *err)
{
	struct child_reply *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		int e = errno;
		free(m);
		return child_failed(err, path, "pipe", e);
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		free(m);
		return child_failed(err, path, "fork", e);
	}
	if (pid == 0) {
		close(fds[0]);
		/* no logging here: another thread may hold the log's locks at fork() */
		m->status = path ? cfg_load_file(&sb_config_schema, &m->cfg, path, &m->err)
				 : cfg_defaults(&sb_config_schema, &m->cfg, &m->err);
		/* _exit: no atexit handlers, no flushing of the parent's stdio buffers */
		_exit(write_all(fds[1], m, sizeof(*m)) == 0 ? 0 : 1);
	}
	close(fds[1]);
	bool timeout;
	size_t got = read_all(fds[0], m, sizeof(*m), time_mono_ms() + timeout_ms, &timeout);
	close(fds[0]);
	if (timeout)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int r;
	if (timeout) {
		r = child_failed(err, path, "no answer in time (a FIFO, a hung file system?)", 0);
	} else if (got != sizeof(*m) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		r = child_failed(err, path, "the checking process failed", 0);
	} else {
		r = m->status;
		if (r == 0)
			*ret = m->cfg;
		else
			*err = m->err;
	}
	free(m);
	return r;
}
