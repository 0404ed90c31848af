/* SPDX-License-Identifier: MIT */
/*
 * The supervisor main loop and its port table.
 *
 * A port is a device we own, of one source kind (enum port_source): a tty
 * claimed from udev (enumerated at start or plugged later: the same handler
 * for both), or a configured path (--port, or a serial.ports[].path that udev
 * does not know, such as a simulator's pty).
 * Each port has at most one worker and one notify eventfd the worker writes
 * when it ends by itself; the port then waits for a restart deadline on the
 * shared timerfd (capped exponential backoff) unless udev reports it gone.
 *
 * Everything here runs on the main thread; workers and the publisher only
 * share the store. This is the only file that starts and joins threads.
 */
#include "supervisor/supervisor.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "bms/bms.h"
#include "common/log.h"
#include "common/sbtime.h"
#include "common/statefile.h"
#include "common/store.h"
#include "publish/publish.h"
#include "hotplug/hotplug.h"
#include "worker/serial.h"

#define SUP_MAX_PORTS 32
#define BACKOFF_CAP_MS 60000u
/* A worker that ran this long before ending was healthy: start backoff from scratch. */
#define HEALTHY_RUN_MS 60000u

/* Owned copies of the udev properties, so a port can be re-matched on SIGHUP. */
enum {
	PR_DEVNAME,
	PR_BUS,
	PR_VID,
	PR_PID,
	PR_VENDOR,
	PR_MODEL,
	PR_SERIAL,
	PR_SERIAL_SHORT,
	PR_IFACE,
	PR_PATH,
	PR_VE_SERVICE,
	PR_SB,
	PR_COUNT,
};

/*
 * Where a port comes from. The kind picks the transport its worker speaks;
 * a socketcan interface (netlink) and a Bluetooth device (BlueZ) join as
 * further kinds with their own transport ops (worker/transport.h).
 */
enum port_source {
	PORT_UDEV_TTY,   /* a tty udev reported and hotplug_port_match() claimed */
	PORT_CONFIGURED, /* --port, or a serial.ports[].path udev does not report */
};

static const struct {
	const char *name; /* for the log */
	const struct worker_transport_ops *transport;
} port_sources[] = {
	[PORT_UDEV_TTY] = {"udev tty", &worker_serial_ops},
	[PORT_CONFIGURED] = {"configured path", &worker_serial_ops},
};

struct port {
	bool used;
	enum port_source source;
	bool seen; /* marked during a re-enumeration */
	char devname[256];
	char tty[64];
	char identity[128];
	char props[PR_COUNT][CFG_STR];
	struct worker_port_config pc;
	struct worker *w;
	int notify_fd;
	unsigned failures;
	uint64_t started_ms;
	uint64_t restart_at_ms; /* 0: no restart pending */
};

struct sup {
	const struct supervisor_options *o;
	struct sb_config *cfg;
	struct worker_config serial; /* serial section plus --port entries */
	char state_dir[CFG_STR];
	struct store *store;
	struct publish *pub;
	/* The publisher's own copy: it reads publish and charge settings from its
	 * thread, so a reload must never write under it; replaced only while the
	 * publisher is stopped. */
	struct sb_config *pub_cfg;
	struct hotplug_watch *uw;
	bool restart_workers; /* during a reload: the section-wide serial settings changed */
	int sfd;
	int tfd;
	struct port ports[SUP_MAX_PORTS];
};

unsigned supervisor_backoff_ms(unsigned failures, unsigned cap_ms)
{
	if (failures >= 20)
		return cap_ms;
	uint64_t d = 1000ull << failures;
	return d > cap_ms ? cap_ms : (unsigned)d;
}

int supervisor_parse_port(const char *arg, struct supervisor_cli_port *ret)
{
	struct supervisor_cli_port p;
	memset(&p, 0, sizeof(p));
	if (!arg || !*arg)
		return -EINVAL;
	/*
	 * Paths may contain colons (/dev/serial/by-path/...-usb-0:1.2:1.0-port0),
	 * so only a last component that names a driver is taken as the BMS.
	 */
	const char *colon = strrchr(arg, ':');
	size_t plen = strlen(arg);
	if (colon && colon != arg && colon[1] && !strchr(colon + 1, '/')) {
		const char *name = colon + 1;
		bool wordlike = true;
		for (const char *c = name; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
				wordlike = false;
		bool digits_only = strspn(name, "0123456789") == strlen(name);
		if (wordlike && !digits_only) {
			if (!bms_driver_find(name))
				return -EINVAL;
			if (strlen(name) >= sizeof(p.bms))
				return -EINVAL;
			strcpy(p.bms, name);
			plen = (size_t)(colon - arg);
		}
	}
	if (plen == 0 || plen >= sizeof(p.path))
		return -EINVAL;
	memcpy(p.path, arg, plen);
	p.path[plen] = '\0';
	*ret = p;
	return 0;
}

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Truncating copy; the callers' sources fit, this only keeps a bad one bounded. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The serial section as workers see it: the config's entries, then --port ones. */
static void build_serial(const struct supervisor_options *o, const struct sb_config *cfg,
			 struct worker_config *out)
{
	*out = cfg->serial;
	for (unsigned i = 0; i < o->nports && out->nports < WORKER_MAX_PORTS; i++) {
		struct worker_port_config *pc = &out->ports[out->nports++];
		copy_str(pc->path, sizeof(pc->path), o->ports[i].path);
		copy_str(pc->bms, sizeof(pc->bms), o->ports[i].bms);
	}
}

/*
 * True when both paths name the same file: by-id / by-path links and udev's
 * DEVNAME resolve to one inode. Compared with stat(), not realpath(): it
 * follows every link the same way, costs one syscall per path, and does not
 * depend on the string a resolver builds (umockdev's realpath() wrapper, for
 * one, corrupts the stack when a tty node resolves to /dev/pts/N outside its
 * testbed; see docs/SUPERVISOR.md).
 */
static bool same_node(const char *a, const char *b)
{
	if (!a[0] || !b[0])
		return false;
	if (strcmp(a, b) == 0)
		return true;
	struct stat sa, sb;
	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The serial.ports entry for this port: by path first, then by udev match. */
static void effective_config(const struct sup *s, const struct port *p,
			     struct worker_port_config *ret)
{
	const struct worker_port_config *hit = NULL;
	for (unsigned i = 0; i < s->serial.nports && !hit; i++)
		if (same_node(s->serial.ports[i].path, p->devname))
			hit = &s->serial.ports[i];
	for (unsigned i = 0; i < s->serial.nports && !hit; i++) {
		const char *m = s->serial.ports[i].match;
		if (m[0] &&
		    (strcmp(m, p->props[PR_SERIAL]) == 0 || strcmp(m, p->props[PR_PATH]) == 0))
			hit = &s->serial.ports[i];
	}
	if (hit)
		*ret = *hit;
	else
		memset(ret, 0, sizeof(*ret));
	copy_str(ret->path, sizeof(ret->path), p->devname);
}

static struct hotplug_props props_view(const struct port *p)
{
	const char(*v)[CFG_STR] = p->props;
	struct hotplug_props u = {
		.devname = v[PR_DEVNAME],
		.id_bus = v[PR_BUS],
		.vendor_id = v[PR_VID],
		.model_id = v[PR_PID],
		.vendor = v[PR_VENDOR],
		.model = v[PR_MODEL],
		.serial = v[PR_SERIAL],
		.serial_short = v[PR_SERIAL_SHORT],
		.iface_num = v[PR_IFACE],
		.path = v[PR_PATH],
		.ve_service = v[PR_VE_SERVICE],
		.sb_claim = v[PR_SB],
	};
	return u;
}

static void store_props(struct port *p, const struct hotplug_props *u)
{
	const char *src[PR_COUNT] = {
		[PR_DEVNAME] = u->devname,       [PR_BUS] = u->id_bus,
		[PR_VID] = u->vendor_id,         [PR_PID] = u->model_id,
		[PR_VENDOR] = u->vendor,         [PR_MODEL] = u->model,
		[PR_SERIAL] = u->serial,         [PR_SERIAL_SHORT] = u->serial_short,
		[PR_IFACE] = u->iface_num,       [PR_PATH] = u->path,
		[PR_VE_SERVICE] = u->ve_service, [PR_SB] = u->sb_claim,
	};
	for (int i = 0; i < PR_COUNT; i++)
		copy_str(p->props[i], sizeof(p->props[i]), src[i]);
}

/*
 * Identity from udev, made unique: cheap CP2102s often share the serial
 * "0001"; a second adapter with an identity already in use falls back to
 * its USB socket so two batteries never fight over one store slot.
 */
static void compute_identity(const struct sup *s, const struct port *p, char *out, size_t len)
{
	struct hotplug_props u = props_view(p);
	if (p->source != PORT_UDEV_TTY || hotplug_identity(&u, out, len) < 0) {
		copy_str(out, len, p->devname);
		return;
	}
	for (int i = 0; i < SUP_MAX_PORTS; i++) {
		const struct port *o = &s->ports[i];
		if (o != p && o->used && strcmp(o->identity, out) == 0) {
			char alt[128];
			if (hotplug_identity_by_path(&u, alt, sizeof(alt)) == 0) {
				log_warn("%s: identity %s already used by %s; using %s", p->devname,
					 out, o->devname, alt);
				copy_str(out, len, alt);
			}
			return;
		}
	}
}

static struct port *find_port(struct sup *s, const char *devname)
{
	for (int i = 0; i < SUP_MAX_PORTS; i++) {
		struct port *p = &s->ports[i];
		if (p->used && (strcmp(p->devname, devname) == 0 || same_node(p->devname, devname)))
			return p;
	}
	return NULL;
}

static struct port *new_port(struct sup *s, const char *devname, enum port_source source)
{
	for (int i = 0; i < SUP_MAX_PORTS; i++) {
		struct port *p = &s->ports[i];
		if (p->used)
			continue;
		memset(p, 0, sizeof(*p));
		p->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->notify_fd < 0) {
			log_error("%s: eventfd: %s", devname, strerror(errno));
			return NULL;
		}
		p->used = true;
		p->source = source;
		copy_str(p->devname, sizeof(p->devname), devname);
		copy_str(p->tty, sizeof(p->tty), base_of(devname));
		return p;
	}
	log_error("%s: more than %d ports, not claimed", devname, SUP_MAX_PORTS);
	return NULL;
}

static void stop_worker(struct port *p)
{
	if (!p->w)
		return;
	worker_free(p->w); /* wakes, joins and frees */
	p->w = NULL;
	/* a stale notification from the ended thread must not count as a new end */
	uint64_t v;
	while (read(p->notify_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
}

static void schedule_restart(struct port *p, uint64_t now)
{
	unsigned d = supervisor_backoff_ms(p->failures, BACKOFF_CAP_MS);
	if (p->failures < UINT_MAX)
		p->failures++;
	p->restart_at_ms = now + d;
	log_info("%s: retrying in %u ms", p->tty, d);
}

static void start_worker(struct sup *s, struct port *p)
{
	struct worker_params wp;
	memset(&wp, 0, sizeof(wp));
	copy_str(wp.path, sizeof(wp.path), p->devname);
	copy_str(wp.identity, sizeof(wp.identity), p->identity);
	wp.port = p->pc;
	wp.serial = s->serial;
	copy_str(wp.state_dir, sizeof(wp.state_dir), s->state_dir);
	/* the configured maxima bound a plausible current (bms/plausible.h) */
	wp.max_charge_ma = (int32_t)(s->cfg->charge.max_charge_current * 1000.0);
	wp.max_discharge_ma = (int32_t)(s->cfg->charge.max_discharge_current * 1000.0);
	wp.notify_fd = p->notify_fd;
	wp.transport = port_sources[p->source].transport;
	p->restart_at_ms = 0;
	p->started_ms = time_mono_ms();
	/* before the worker runs, so its first detection round is always counted */
	if (store_port_register(s->store, p->devname) < 0)
		log_warn("%s: port registry full: a bank of all packs may wait for its timeout",
			 p->tty);
	int r = worker_start(&wp, s->store, &p->w);
	if (r < 0) {
		p->w = NULL;
		store_port_mark(s->store, p->devname, STORE_PORT_FAILED); /* a bank need not wait */
		log_error("%s: cannot start worker: %s", p->tty, strerror(-r));
		schedule_restart(p, p->started_ms);
		return;
	}
	log_info("%s: worker started (identity %s%s%s), source: %s", p->tty, p->identity,
		 p->pc.bms[0] ? ", bms " : "", p->pc.bms, port_sources[p->source].name);
}

static void remove_port(struct sup *s, struct port *p, const char *why)
{
	log_info("%s: released (%s)", p->tty, why);
	stop_worker(p);
	store_port_remove(s->store, p->devname);
	if (p->notify_fd >= 0)
		close(p->notify_fd);
	memset(p, 0, sizeof(*p));
	p->notify_fd = -1;
}

/* (Re)compute a port's settings; restart its worker when they changed. */
static void apply_port(struct sup *s, struct port *p)
{
	struct worker_port_config pc;
	char id[128];
	effective_config(s, p, &pc);
	compute_identity(s, p, id, sizeof(id));
	bool changed = !worker_port_config_equal(&pc, &p->pc) || strcmp(id, p->identity) != 0;
	if (!changed && !s->restart_workers && (p->w || p->restart_at_ms))
		return;
	if (p->w)
		log_info("%s: settings changed, restarting its worker", p->tty);
	stop_worker(p);
	p->pc = pc;
	copy_str(p->identity, sizeof(p->identity), id);
	p->failures = 0;
	start_worker(s, p);
}

/* serial.ports as the matcher's plain pins (strings borrowed from *w). */
static size_t config_pins(const struct worker_config *w, struct hotplug_pin *out)
{
	size_t n = 0;
	for (unsigned i = 0; i < w->nports && i < WORKER_MAX_PORTS; i++)
		out[n++] =
			(struct hotplug_pin){.path = w->ports[i].path, .match = w->ports[i].match};
	return n;
}

/* One handler for enumerated devices and hotplug events. */
static void on_udev(void *ctx, enum hotplug_action action, const struct hotplug_props *u)
{
	struct sup *s = ctx;
	struct port *p = find_port(s, u->devname);
	if (action == HOTPLUG_REMOVE) {
		if (p && p->source == PORT_UDEV_TTY)
			remove_port(s, p, "device removed");
		return;
	}
	const char *why = "";
	struct hotplug_pin pins[WORKER_MAX_PORTS];
	size_t npins = config_pins(&s->serial, pins);
	enum hotplug_verdict v = hotplug_port_match(u, &s->cfg->udev, pins, npins, &why);
	if (p && p->source != PORT_UDEV_TTY) {
		p->seen = true;
		return; /* a static port that udev also knows: keep it static */
	}
	if (v == HOTPLUG_IGNORE) {
		if (p) {
			remove_port(s, p, why);
		} else if (u->id_bus && strcmp(u->id_bus, "usb") == 0) {
			log_info("%s: not claimed: %s", base_of(u->devname), why);
		} else {
			log_debug("%s: not claimed: %s", base_of(u->devname), why);
		}
		return;
	}
	if (!p) {
		p = new_port(s, u->devname, PORT_UDEV_TTY);
		if (!p)
			return;
		log_info("%s: claimed: %s", p->tty, why);
	}
	p->seen = true;
	store_props(p, u);
	apply_port(s, p);
}

/* Static ports: --port and serial.ports paths udev did not report. */
static void sync_static_ports(struct sup *s)
{
	for (int i = 0; i < SUP_MAX_PORTS; i++) {
		struct port *p = &s->ports[i];
		if (!p->used || p->source != PORT_CONFIGURED)
			continue;
		bool listed = false;
		for (unsigned k = 0; k < s->serial.nports; k++)
			if (same_node(s->serial.ports[k].path, p->devname) ||
			    strcmp(s->serial.ports[k].path, p->devname) == 0)
				listed = true;
		if (!listed)
			remove_port(s, p, "no longer configured");
	}
	for (unsigned k = 0; k < s->serial.nports; k++) {
		const char *path = s->serial.ports[k].path;
		if (!path[0])
			continue;
		struct port *p = find_port(s, path);
		if (!p) {
			p = new_port(s, path, PORT_CONFIGURED);
			if (!p)
				continue;
			log_info("%s: claimed: configured port %s", p->tty, path);
		}
		if (p->source == PORT_CONFIGURED)
			apply_port(s, p);
	}
}

static void arm_timer(struct sup *s)
{
	uint64_t next = 0;
	for (int i = 0; i < SUP_MAX_PORTS; i++) {
		const struct port *p = &s->ports[i];
		if (p->used && p->restart_at_ms && (!next || p->restart_at_ms < next))
			next = p->restart_at_ms;
	}
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	if (next)
		its.it_value = time_ms_to_timespec(next); /* 0 would disarm: ms >= 1 here */
	if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_error("timerfd_settime: %s", strerror(errno));
}

static void on_timer(struct sup *s)
{
	uint64_t expirations;
	if (read(s->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("timerfd read: %s", strerror(errno));
	uint64_t now = time_mono_ms();
	for (int i = 0; i < SUP_MAX_PORTS; i++) {
		struct port *p = &s->ports[i];
		if (!p->used || !p->restart_at_ms || p->restart_at_ms > now || p->w)
			continue;
		if (access(p->devname, F_OK) != 0) {
			/* gone without (yet) a remove event, or a pty not created yet */
			schedule_restart(p, now);
			continue;
		}
		start_worker(s, p);
	}
}

static void on_worker_notify(struct port *p)
{
	uint64_t v;
	if (read(p->notify_fd, &v, sizeof(v)) < 0)
		return;
	if (!p->w || !worker_finished(p->w))
		return;
	int st = worker_exit_status(p->w);
	uint64_t now = time_mono_ms();
	worker_free(p->w);
	p->w = NULL;
	log_info("%s: worker ended: %s", p->tty, st ? strerror(-st) : "stopped");
	if (now - p->started_ms >= HEALTHY_RUN_MS)
		p->failures = 0;
	schedule_restart(p, now);
}

static int start_publisher(struct sup *s);
static void stop_publisher(struct sup *s);

/*
 * The state directory (remembered protocols, charge state) is created when
 * missing. One another user can write to, or that is not ours, could feed us
 * a protocol or a charge state, or swap a file for a symlink: it is refused
 * (true). One that cannot be created or written (read-only, missing parent)
 * only costs the saved state: warned about, then the writers log once.
 * Each read and write checks the directory again (common/statefile.c).
 */
static bool state_dir_refused(const struct sup *s, bool at_start)
{
	if (!s->state_dir[0])
		return false;
	int r = statefile_dir_prepare(s->state_dir);
	if (r == 0)
		return false;
	struct stat st;
	char why[200];
	bool refused = stat(s->state_dir, &st) == 0;
	if (refused && !S_ISDIR(st.st_mode))
		snprintf(why, sizeof(why), "not a directory");
	else if (refused && st.st_uid != geteuid())
		snprintf(why, sizeof(why), "owned by uid %u, not by the daemon's uid %u",
			 (unsigned)st.st_uid, (unsigned)geteuid());
	else if (refused && (st.st_mode & (S_IWGRP | S_IWOTH)))
		snprintf(why, sizeof(why), "writable by group or others (mode %04o; chmod go-w)",
			 (unsigned)(st.st_mode & 07777));
	else
		refused = false;
	if (refused && at_start)
		log_error("state directory %s refused: %s", s->state_dir, why);
	else if (refused)
		log_warn("SIGHUP: state directory %s refused: %s; protocols and charge state "
			 "are neither read nor saved until it is fixed",
			 s->state_dir, why);
	else
		log_warn("%sstate directory %s unusable: %s; protocols and charge state are not "
			 "saved",
			 at_start ? "" : "SIGHUP: ", s->state_dir, strerror(-r));
	return refused;
}

static void reload(struct sup *s)
{
	const char *path = s->o->config_path;
	struct sb_config *next = calloc(1, sizeof(*next));
	if (!next) {
		log_error("SIGHUP: out of memory, keeping the running config");
		return;
	}
	struct cfg_error err;
	/* a 1 MB file takes ~0.4 s; past 10 s something hangs (a FIFO, a dead mount) */
	int r = sb_config_load_isolated(path, 10000, next, &err);
	if (r < 0) {
		char msg[800];
		cfg_error_format(&err, msg, sizeof(msg));
		log_error("SIGHUP: config error, keeping the running config: %s", msg);
		free(next);
		return;
	}
	log_info("SIGHUP: reloaded %s", path ? path : "built-in defaults");
	bool pub_changed = !s->pub_cfg || !sb_config_publisher_equal(next, s->pub_cfg);
	/* the workers' plausibility check bounds the current by these */
	bool maxima_changed =
		next->charge.max_charge_current != s->cfg->charge.max_charge_current ||
		next->charge.max_discharge_current != s->cfg->charge.max_discharge_current;
	*s->cfg = *next;
	free(next);
	if (pub_changed) {
		log_info("SIGHUP: publish/charge settings changed, restarting the publisher");
		stop_publisher(s);
		start_publisher(s);
	}
	if (!s->o->state_dir && strcmp(s->cfg->daemon.state_dir, s->state_dir) != 0)
		log_warn("SIGHUP: daemon.state_dir changes only at the next start (still %s)",
			 s->state_dir);
	state_dir_refused(s, false);
	int level = s->cfg->daemon.log_level + s->o->verbose;
	log_set_level(s->o->quiet
			      ? SB_LOG_ERROR
			      : (enum sb_log_level)(level > SB_LOG_DEBUG ? SB_LOG_DEBUG : level));
	struct worker_config before = s->serial;
	build_serial(s->o, s->cfg, &s->serial);
	s->restart_workers = !worker_section_equal(&before, &s->serial) || maxima_changed;
	if (s->restart_workers)
		log_info("SIGHUP: serial settings or current maxima changed, restarting every "
			 "worker");
	/* Re-run every udev device through the same handler: new rules claim, drop or restart. */
	for (int i = 0; i < SUP_MAX_PORTS; i++)
		s->ports[i].seen = false;
	if (s->uw)
		hotplug_watch_enumerate(s->uw, on_udev, s);
	for (int i = 0; i < SUP_MAX_PORTS; i++) {
		struct port *p = &s->ports[i];
		if (p->used && p->source == PORT_UDEV_TTY && !p->seen)
			remove_port(s, p, "device no longer present");
	}
	sync_static_ports(s);
	s->restart_workers = false;
}

static int start_publisher(struct sup *s)
{
	if (!s->pub_cfg) {
		s->pub_cfg = malloc(sizeof(*s->pub_cfg));
		if (!s->pub_cfg)
			return -ENOMEM;
	}
	*s->pub_cfg = *s->cfg;
	struct publish_params pp;
	memset(&pp, 0, sizeof(pp));
	pp.bus_address = s->o->bus_address;
	pp.cfg = &s->pub_cfg->publish;
	pp.charge = &s->pub_cfg->charge;
	copy_str(pp.state_dir, sizeof(pp.state_dir), s->state_dir);
	pp.handoff = true; /* a poll's commit is published by its worker when D-Bus is free */
	int r = publish_start(&pp, s->store, &s->pub);
	if (r < 0) {
		s->pub = NULL;
		log_error("cannot start the publisher: %s", strerror(-r));
	}
	return r;
}

static void stop_publisher(struct sup *s)
{
	if (!s->pub)
		return;
	publish_stop(s->pub); /* removes every service from the bus, joins */
	publish_free(s->pub);
	s->pub = NULL;
}

static void stop_all(struct sup *s)
{
	for (int i = 0; i < SUP_MAX_PORTS; i++)
		if (s->ports[i].used)
			remove_port(s, &s->ports[i], "stopping");
}

int supervisor_run(const struct supervisor_options *o, struct sb_config *cfg)
{
	struct sup *s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	int status = 1;
	s->o = o;
	s->cfg = cfg;
	s->sfd = s->tfd = -1;
	for (int i = 0; i < SUP_MAX_PORTS; i++)
		s->ports[i].notify_fd = -1;
	copy_str(s->state_dir, sizeof(s->state_dir),
		 o->state_dir ? o->state_dir : cfg->daemon.state_dir);
	build_serial(o, cfg, &s->serial);

	/* Block before any thread exists so every thread inherits the mask. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN); /* a vanished peer is an error return, not a death */
	s->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->sfd < 0 || s->tfd < 0) {
		log_error("signalfd/timerfd: %s", strerror(errno));
		goto out;
	}
	if (state_dir_refused(s, true)) {
		status = 2; /* like a config error: a restart would only repeat it */
		goto out;
	}
	int r = store_new((unsigned)cfg->daemon.max_batteries, &s->store);
	if (r < 0) {
		log_error("store: %s", strerror(-r));
		goto out;
	}
	if (!o->no_udev) {
		r = hotplug_watch_new(&s->uw);
		if (r < 0)
			log_warn("udev unavailable (%s): only configured ports are used",
				 strerror(-r));
		else
			hotplug_watch_enumerate(s->uw, on_udev, s);
	}
	sync_static_ports(s);
	/* after the ports at start are registered: a bank of "all" packs waits for them */
	if (start_publisher(s) < 0)
		goto out;
	log_info("serialbatteryd %s running (config %s)", SB_VERSION,
		 o->config_path ? o->config_path : "built-in defaults");

	for (;;) {
		struct pollfd pfd[3 + SUP_MAX_PORTS];
		struct port *owner[3 + SUP_MAX_PORTS];
		nfds_t n = 0;
		pfd[n] = (struct pollfd){.fd = s->sfd, .events = POLLIN};
		owner[n++] = NULL;
		pfd[n] = (struct pollfd){.fd = s->tfd, .events = POLLIN};
		owner[n++] = NULL;
		pfd[n] = (struct pollfd){.fd = s->uw ? hotplug_watch_fd(s->uw) : -1,
					 .events = POLLIN};
		owner[n++] = NULL;
		for (int i = 0; i < SUP_MAX_PORTS; i++) {
			if (!s->ports[i].used)
				continue;
			pfd[n] = (struct pollfd){.fd = s->ports[i].notify_fd, .events = POLLIN};
			owner[n++] = &s->ports[i];
		}
		arm_timer(s);
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			bool stop = false;
			while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					reload(s);
				} else {
					log_info("signal %u: stopping", si.ssi_signo);
					stop = true;
				}
			}
			if (stop)
				break;
			continue; /* the port table may have changed under pfd */
		}
		if (pfd[2].revents & POLLIN)
			hotplug_watch_dispatch(s->uw, on_udev, s);
		for (nfds_t i = 3; i < n; i++)
			if ((pfd[i].revents & POLLIN) && owner[i]->used &&
			    owner[i]->notify_fd == pfd[i].fd)
				on_worker_notify(owner[i]);
		if (pfd[1].revents & POLLIN)
			on_timer(s);
	}
	status = 0;
out:
	stop_all(s);
	stop_publisher(s);
	free(s->pub_cfg);
	hotplug_watch_free(s->uw);
	store_free(s->store);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->tfd >= 0)
		close(s->tfd);
	free(s);
	if (status == 0)
		log_info("stopped");
	return status;
}
