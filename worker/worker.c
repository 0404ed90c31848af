/* SPDX-License-Identifier: MIT */
/*
 * The worker thread: open the port, detect, then poll every battery on it.
 *
 *   open -> detect round -(nothing)-> back off (doubling, capped) -> detect ...
 *                 | match
 *                 v
 *   open a store slot per address -> poll all addresses each interval
 *        every good, plausible cycle commits one whole snapshot; a failed or
 *        implausible one commits nothing (only the counters)
 *        all addresses failing `redetect_after` cycles in a row -> one detect round
 *        (a different protocol that answers now replaces the old one)
 *
 * Writes: every slot the worker opens has the worker's command eventfd as its
 * mailbox listener (common/store.h). The idle wait between cycles ends on it;
 * waiting commands then run one after another, never inside a poll cycle, and
 * a battery whose write took effect is polled again at once.
 *
 * Stop: the supervisor writes the wake eventfd; every wait in here polls it.
 */
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "bms/plausible.h"
#include "common/sbtime.h"
#include "worker/detect.h"
#include "worker/serial.h"

/* A pack failing this many cycles in a row gets one attempt per cycle, not
 * retries: a silent unit on a shared bus must not slow its neighbours much. */
#define FAILING_AFTER 3u

#define SETUP_TRIES 2 /* a BMS_REQ_SETUP sequence per detection, at most */

struct battery {
	uint8_t address;
	int slot; /* -1 = no slot */
	void *state;
	unsigned fails; /* consecutive failed cycles */
	struct worker_counters cnt;
	struct store_info info;
	uint8_t cells;        /* cell count fixed at registration (first commit); 0 = not yet */
	bool implausible;     /* in an episode of implausible cycles (logged at start and end) */
	uint32_t bad_cells;   /* cells out of range in the last commit (logged on change) */
	struct bms_held held; /* cycle count and static fields (bms.h) */
	uint8_t setup_tries;  /* BMS_REQ_SETUP sequences tried since detection (at most 2) */
	bool setup_done;      /* completed, or the driver has none */
	struct bms_snapshot last;    /* last committed */
	struct bms_snapshot scratch; /* the cycle in progress */
};

struct worker {
	pthread_t thread;
	bool joined;
	int wake_fd;
	int cmd_fd; /* eventfd the store writes when a command is posted; -1 = none yet */
	struct store *st;
	struct worker_params p;
	struct bms_plausible_limits lim; /* chemistry and currents; cell_count per battery */
	atomic_bool finished;
	atomic_int status;

	struct worker_link *link;
	char tty[32];
	const struct bms_driver *drv;
	uint32_t baud;
	uint64_t interval_ms;
	struct battery bat[WORKER_MAX_ADDRS];
	unsigned nbat;
	uint8_t *states; /* WORKER_MAX_ADDRS driver states, allocated once */
	size_t state_size;
};

static void battery_key(const struct worker *w, const struct bms_driver *drv, uint8_t addr,
			char *buf, size_t len)
{
	/* A long identity is cut before the suffix, so addresses never collide. */
	int room = (int)len - 1 - ((drv->flags & BMS_F_ADDRESSED) ? 6 : 0);
	if (drv->flags & BMS_F_ADDRESSED)
		snprintf(buf, len, "%.*s__0x%02x", room, w->p.identity, addr);
	else
		snprintf(buf, len, "%.*s", room, w->p.identity);
}

/* Stop listening before the close: the store never writes an fd we closed. */
static void release_slot(struct worker *w, int slot)
{
	store_command_listen(w->st, slot, -1);
	store_close(w->st, slot);
}

static void close_batteries(struct worker *w)
{
	for (unsigned i = 0; i < w->nbat; i++)
		if (w->bat[i].slot >= 0) {
			release_slot(w, w->bat[i].slot);
			w->bat[i].slot = -1;
		}
	w->nbat = 0;
}

static int64_t interval_for(const struct worker *w, const struct bms_driver *drv)
{
	if (w->p.port.poll_interval > 0)
		return (int64_t)(w->p.port.poll_interval * 1000.0 + 0.5);
	return drv->poll_interval_ms ? drv->poll_interval_ms : 1000;
}

/*
 * Each poll cycle starts from an empty snapshot, so a field the BMS stops
 * sending loses its valid bit instead of going out again with a fresh
 * timestamp. Only what a driver declares static data (BMS_STEP_STATIC: JBD's
 * 0x05 model, JBD UP16S's product block, Daly's 0x50 rated capacity) is
 * carried, by worker_cycle from the battery's bms_held. Measurements, alarms
 * and the BMS's own current limits are read every cycle by every driver and
 * are never carried.
 */

static void cells_text(uint32_t mask, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < BMS_MAX_CELLS && n + 4 < len; i++)
		if (mask & (1u << i))
			n += (size_t)snprintf(buf + n, len - n, "%s%u", n ? "," : "", i + 1);
}

/*
 * The one gate to the store: a cycle (or a detection result) is committed
 * only when plausible for this battery (bms/plausible.h). An implausible one
 * is counted and commits nothing, so persisting garbage ends in the same
 * comms-loss policy as silence. Logged once per episode, not per cycle.
 * Returns true when committed.
 */
static bool commit_checked(struct worker *w, struct battery *b, const struct bms_snapshot *snap)
{
	struct bms_plausible_limits lim = w->lim;
	lim.cell_count = b->cells;
	uint32_t bad = 0;
	enum bms_implausible why = bms_plausible_check(snap, &lim, &bad);
	if (why != BMS_PLAUSIBLE) {
		b->info.implausible++;
		if (!b->implausible)
			log_warn("%s: %s addr 0x%02x: implausible data, not published: %s", w->tty,
				 w->drv->name, b->address, bms_implausible_text(why));
		b->implausible = true;
		store_update_info(w->st, b->slot, &b->info);
		return false;
	}
	if (b->implausible)
		log_info("%s: %s addr 0x%02x: plausible again (%" PRIu64 " cycles dropped so far)",
			 w->tty, w->drv->name, b->address, b->info.implausible);
	b->implausible = false;
	b->last = *snap;
	bms_plausible_mark(&b->last, &lim, bad);
	if (bad != b->bad_cells) {
		char list[100];
		cells_text(bad, list, sizeof(list));
		if (bad)
			log_warn("%s: %s addr 0x%02x: cell(s) %s outside the %s range: flagged and "
				 "alarmed",
				 w->tty, w->drv->name, b->address, list,
				 bms_chemistry_name(lim.chemistry));
		else
			log_info("%s: %s addr 0x%02x: every cell in range again", w->tty,
				 w->drv->name, b->address);
		b->bad_cells = bad;
	}
	if (!b->cells && (b->last.valid & BMS_V_CELLS))
		b->cells = b->last.cell_count; /* registration: fixed from now on */
	b->info.cycles_ok++;
	store_commit(w->st, b->slot, &b->last, &b->info, time_mono_ms());
	return true;
}

/* Take over a detection result: slots for every address, the first snapshot committed. */
static void adopt(struct worker *w, const struct worker_detect_result *res)
{
	/* Keep slots whose key survives (same identity and address): the battery
	 * stays on D-Bus through a protocol change instead of flapping. */
	struct battery old[WORKER_MAX_ADDRS];
	unsigned nold = w->nbat;
	memcpy(old, w->bat, sizeof(old[0]) * nold);
	const struct bms_driver *old_drv = w->drv;
	w->nbat = 0;
	w->drv = res->drv;
	w->baud = res->baud;
	w->interval_ms = (uint64_t)interval_for(w, res->drv);
	for (unsigned i = 0; i < res->naddresses && i < WORKER_MAX_ADDRS; i++) {
		struct battery *b = &w->bat[w->nbat];
		uint8_t addr = res->addresses[i];
		char key[STORE_KEY_LEN];
		battery_key(w, res->drv, addr, key, sizeof(key));
		int slot = -1;
		uint8_t cells = 0;
		for (unsigned k = 0; k < nold; k++) {
			char okey[STORE_KEY_LEN];
			battery_key(w, old_drv, old[k].address, okey, sizeof(okey));
			if (old[k].slot >= 0 && strcmp(okey, key) == 0) {
				slot = old[k].slot;
				old[k].slot = -1;
				cells = old[k].cells; /* registration outlives a re-detection */
			}
		}
		if (slot < 0) {
			int r = store_open(w->st, key, &slot);
			if (r < 0) {
				log_error("%s: no battery slot for %s: %s", w->tty, key,
					  strerror(-r));
				continue;
			}
		}
		/* again for a kept slot: harmless, and a command posted during
		 * the detection round pokes the fd anew */
		store_command_listen(w->st, slot, w->cmd_fd);
		memset(b, 0, sizeof(*b));
		b->address = addr;
		b->slot = slot;
		b->cells = cells;
		b->state = w->states + (size_t)w->nbat * w->state_size;
		memset(b->state, 0, w->state_size);
		if (res->drv->init)
			res->drv->init(b->state, addr);
		snprintf(b->info.tty, sizeof(b->info.tty), "%s", w->tty);
		snprintf(b->info.protocol, sizeof(b->info.protocol), "%s", res->drv->name);
		b->info.address = addr;
		b->info.poll_interval_ms = (uint32_t)w->interval_ms;
		if (addr == res->address) {
			/* the detection's cycle read the static data already */
			bms_held_seed(res->drv, &b->held, &res->snap);
			commit_checked(w, b, &res->snap);
		} else {
			store_update_info(w->st, slot, &b->info);
		}
		w->nbat++;
	}
	for (unsigned k = 0; k < nold; k++)
		if (old[k].slot >= 0)
			release_slot(w, old[k].slot);
}

static void fill_opts(const struct worker *w, struct worker_detect_opts *o, uint8_t *addrs)
{
	memset(o, 0, sizeof(*o));
	const struct worker_port_config *pc = &w->p.port;
	o->bms = pc->bms;
	o->baud = (uint32_t)pc->baud;
	unsigned n = 0;
	for (unsigned i = 0; i < pc->addresses.n && n < WORKER_MAX_ADDRS; i++)
		if (pc->addresses.v[i] >= 0 && pc->addresses.v[i] <= 255)
			addrs[n++] = (uint8_t)pc->addresses.v[i];
	o->addresses = n ? addrs : NULL;
	o->naddresses = n;
	o->scan = pc->scan;
	o->state_dir = w->p.state_dir[0] ? w->p.state_dir : NULL;
	o->identity = w->p.identity;
	o->retries = (unsigned)w->p.serial.retries;
	o->round_max_ms = (unsigned)(w->p.serial.detect_round_max * 1000.0);
	o->limits = &w->lim;
}

/* Detection rounds until a match (0), a stop (-ECANCELED) or the port goes (-ENODEV). */
static int detect_until_found(struct worker *w)
{
	struct worker_detect_opts o;
	uint8_t addrs[WORKER_MAX_ADDRS];
	fill_opts(w, &o, addrs);
	uint64_t backoff = 1000, cap = (uint64_t)(w->p.serial.detect_backoff_max * 1000.0);
	if (cap < 1000)
		cap = 1000;
	for (unsigned round = 1;; round++) {
		struct worker_detect_result res;
		/* odd rounds fast (short first-answer wait), even rounds thorough */
		o.quick = round % 2 == 1;
		int r = worker_detect(w->link, &o, &res);
		if (r == 0) {
			log_info("%s: %s at %u baud%s, %u batter%s, detected in %" PRIu64
				 " ms (round %u)",
				 w->tty, res.drv->name, res.baud,
				 res.remembered ? " (remembered)" : "", res.naddresses,
				 res.naddresses == 1 ? "y" : "ies", res.elapsed_ms, round);
			adopt(w, &res);
			/* after the commit: a bank counting ports finds this pack in the store */
			store_port_mark(w->st, w->p.path, STORE_PORT_DETECTED);
			return 0;
		}
		if (r == -ECANCELED || r == -ENODEV)
			return r;
		store_port_mark(w->st, w->p.path, STORE_PORT_FAILED);
		if (r == -ENOENT && o.bms && o.bms[0]) {
			log_error("%s: unknown bms '%s'", w->tty, o.bms);
			return -EINVAL;
		}
		if (round == 1)
			log_warn("%s: no BMS answers; retrying with back-off up to %" PRIu64 " s",
				 w->tty, cap / 1000);
		else
			log_debug("%s: detection round %u: nothing (%s)", w->tty, round,
				  strerror(-r));
		r = worker_transport_idle(w->link->t, time_mono_ms() + backoff);
		if (r < 0)
			return r;
		backoff = backoff * 2 > cap ? cap : backoff * 2;
	}
}

/*
 * The driver's one-time sequence (BMS_REQ_SETUP, e.g. JBD's configured
 * current limits behind factory mode), before the first poll after a
 * detection: tried at most twice, then never again until the next
 * detection. What it read is kept like static data. 0, or -ECANCELED /
 * -ENODEV to end the worker.
 */
static int setup_battery(struct worker *w, struct battery *b)
{
	if (b->setup_done || b->setup_tries >= SETUP_TRIES)
		return 0;
	b->setup_tries++;
	memset(&b->scratch, 0, sizeof(b->scratch));
	int r = worker_setup(w->link, w->drv, b->state, &b->scratch, &b->cnt);
	if (r == -ECANCELED || r == -ENODEV)
		return r;
	if (r == 1) {
		b->setup_done = true;
		return 0;
	}
	if (r == 0) {
		b->setup_done = true;
		bms_held_keep_setup(&b->held, &b->scratch);
		log_info("%s: %s addr 0x%02x: setup read (%s)", w->tty, w->drv->name, b->address,
			 b->scratch.valid ? "settings kept" : "nothing usable");
		return 0;
	}
	log_warn("%s: %s addr 0x%02x: setup sequence failed (%s), attempt %u of %d%s", w->tty,
		 w->drv->name, b->address, strerror(-r), b->setup_tries, SETUP_TRIES,
		 b->setup_tries >= SETUP_TRIES ? ": going on without it" : "");
	return 0;
}

/* One poll cycle of one battery: commit on success, counters only on failure. */
static int poll_battery(struct worker *w, struct battery *b)
{
	const struct bms_driver *drv = w->drv;
	struct worker_line line = {.baud = w->baud, .framing = bms_driver_framing(drv)};
	int r = worker_transport_configure(w->link->t, &line);
	if (r < 0)
		return r;
	r = setup_battery(w, b);
	if (r < 0)
		return r;
	memset(&b->scratch, 0, sizeof(b->scratch)); /* see "Each poll cycle" above */
	unsigned retries = b->fails >= FAILING_AFTER ? 0 : (unsigned)w->p.serial.retries;
	uint64_t bad0 = b->cnt.frames_bad, to0 = b->cnt.timeouts, fo0 = b->cnt.frames_foreign;
	r = worker_cycle(w->link, drv, b->state, BMS_REQ_POLL, retries, &b->held, &b->scratch,
			 &b->cnt);
	if (r == -ECANCELED || r == -ENODEV)
		return r;
	b->info.frames_bad = b->cnt.frames_bad;
	b->info.timeouts = b->cnt.timeouts;
	b->info.frames_foreign = b->cnt.frames_foreign;
	if (r == 0) {
		if (b->fails >= FAILING_AFTER)
			log_info("%s: %s addr 0x%02x answers again", w->tty, drv->name, b->address);
		/* It answers its protocol: an implausible cycle is no reason to
		 * re-detect (that could register another cell count). */
		b->fails = 0;
		commit_checked(w, b, &b->scratch);
		return 0;
	}
	b->fails++;
	if (b->fails == FAILING_AFTER)
		log_warn("%s: %s addr 0x%02x: %u cycles without an answer (%s)", w->tty, drv->name,
			 b->address, b->fails, strerror(-r));
	if (b->cnt.frames_bad != bad0 || b->cnt.timeouts != to0 || b->cnt.frames_foreign != fo0)
		store_update_info(w->st, b->slot, &b->info);
	return 0;
}

/*
 * What became of a write, for the one who posted it. A value the command
 * cannot take is the driver saying no. An error not listed (a transport
 * failure) left no usable answer, as a silent BMS does.
 */
static const char *command_name(enum bms_command c)
{
	switch (c) {
	case BMS_CMD_CHARGE_FET:
		return "charge FET";
	case BMS_CMD_DISCHARGE_FET:
		return "discharge FET";
	case BMS_CMD_BALANCER:
		return "balancer";
	case BMS_CMD_SOC:
		return "SOC";
	case BMS_CMD_STANDBY:
		return "standby";
	default:
		return "?";
	}
}

static enum store_cmd_status command_outcome(int r)
{
	switch (r) {
	case 0:
		return STORE_CMD_OK;
	case -EOPNOTSUPP:
	case -EPERM:
	case -EPROTO:
	case -EREMOTEIO:
	case -EINVAL:
		return STORE_CMD_REFUSED;
	case -ECANCELED:
	case -ENODEV:
		return STORE_CMD_CANCELED;
	default:
		return STORE_CMD_TIMEOUT;
	}
}

/*
 * Run the command waiting for b, if any, and report its outcome to the store.
 * 1 when the BMS took it, 0 when none waited or it was not taken, -ECANCELED
 * or -ENODEV to end the worker. Not a poll cycle: b->fails and cycles_ok stay
 * as they are, whatever the write did; its timeouts and bad frames are link
 * counters like any other.
 */
static int run_command(struct worker *w, struct battery *b)
{
	struct store_command c;
	if (store_command_take(w->st, b->slot, &c) != 1)
		return 0;
	const struct bms_driver *drv = w->drv;
	/* a stop or hangup that came meanwhile: nothing goes on the wire for it */
	int r = worker_transport_idle(w->link->t, 0);
	if (r == 0 && !bms_driver_supports(drv, c.command)) {
		r = -EOPNOTSUPP; /* decided before the line is even configured */
	} else if (r == 0) {
		struct worker_line line = {.baud = w->baud, .framing = bms_driver_framing(drv)};
		r = worker_transport_configure(w->link->t, &line);
		if (r == 0) {
			uint64_t bad0 = b->cnt.frames_bad, to0 = b->cnt.timeouts,
				 fo0 = b->cnt.frames_foreign;
			r = worker_set(w->link, drv, b->state, c.command, c.value,
				       (unsigned)w->p.serial.retries, &b->cnt);
			if (b->cnt.frames_bad != bad0 || b->cnt.timeouts != to0 ||
			    b->cnt.frames_foreign != fo0) {
				b->info.frames_bad = b->cnt.frames_bad;
				b->info.timeouts = b->cnt.timeouts;
				b->info.frames_foreign = b->cnt.frames_foreign;
				store_update_info(w->st, b->slot, &b->info);
			}
		}
	}
	enum store_cmd_status st = command_outcome(r);
	store_command_done(w->st, b->slot, c.seq, st);
	if (st == STORE_CMD_OK)
		log_info("%s: %s addr 0x%02x: %s %" PRId32 ": %s", w->tty, drv->name, b->address,
			 command_name(c.command), c.value, store_cmd_status_name(st));
	else if (st != STORE_CMD_CANCELED)
		log_warn("%s: %s addr 0x%02x: %s %" PRId32 ": %s (%s)", w->tty, drv->name,
			 b->address, command_name(c.command), c.value, store_cmd_status_name(st),
			 strerror(-r));
	if (r == -ECANCELED || r == -ENODEV)
		return r;
	return r == 0;
}

/*
 * Between poll cycles: reset the command eventfd, then give every battery its
 * waiting command. Reset first, so a post that lands after it wakes the next
 * wait again. poll_now: read a battery back at once after a write it took,
 * so the change shows without waiting for the rest of the interval.
 */
static int run_commands(struct worker *w, bool poll_now)
{
	uint64_t v;
	if (read(w->cmd_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("%s: command fd: %s", w->tty, strerror(errno));
	for (unsigned i = 0; i < w->nbat; i++) {
		int r = run_command(w, &w->bat[i]);
		if (r < 0)
			return r;
		if (r == 1 && poll_now) {
			r = poll_battery(w, &w->bat[i]);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Nothing on the port answers its protocol any more: does another one? */
static int try_redetect(struct worker *w)
{
	struct worker_detect_opts o;
	uint8_t addrs[WORKER_MAX_ADDRS];
	fill_opts(w, &o, addrs);
	struct worker_detect_result res;
	int r = worker_detect(w->link, &o, &res);
	if (r == -ECANCELED || r == -ENODEV)
		return r;
	if (r < 0)
		return 0; /* still nothing: keep polling the old protocol */
	if (res.drv != w->drv || res.baud != w->baud)
		log_info("%s: now %s at %u baud (was %s at %u)", w->tty, res.drv->name, res.baud,
			 w->drv->name, w->baud);
	adopt(w, &res);
	return 0;
}

static int run(struct worker *w)
{
	const struct worker_transport_ops *ops =
		w->p.transport ? w->p.transport : &worker_serial_ops;
	w->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->cmd_fd < 0)
		return -errno;
	int r = worker_link_open_ops(ops, w->p.path, w->wake_fd, &w->link);
	if (r < 0) {
		log_error("%s: cannot open %s: %s", w->tty, w->p.path, strerror(-r));
		return r;
	}
	w->state_size = w->link->state_cap;
	w->states = calloc(WORKER_MAX_ADDRS, w->state_size);
	if (!w->states)
		return -ENOMEM;
	r = detect_until_found(w);
	if (r < 0)
		return r;
	unsigned redetect_after = (unsigned)w->p.serial.redetect_after;
	uint64_t redetect_hold = 1000; /* doubles while re-detection finds nothing */
	uint64_t next_redetect = 0;
	uint64_t next = time_mono_ms() + w->interval_ms;
	for (;;) {
		r = worker_transport_idle_or(w->link->t, w->cmd_fd, next);
		if (r < 0)
			return r;
		/* The command fd is readable whenever a command waits (every post
		 * and every listen with one waiting write it), so a plain deadline
		 * costs the cycle nothing. A command mid-interval runs at once and
		 * its battery is read back; at the interval's start waiting ones
		 * run before the cycle, which reads every battery anyway. Steady
		 * posting cannot hold the cycle off: past the deadline it runs. */
		if (r == 1) {
			bool mid = time_mono_ms() < next;
			r = run_commands(w, mid);
			if (r < 0)
				return r;
			if (mid)
				continue;
		}
		bool all_failing = w->nbat > 0;
		for (unsigned i = 0; i < w->nbat; i++) {
			r = poll_battery(w, &w->bat[i]);
			if (r < 0)
				return r;
			if (w->bat[i].fails < redetect_after || redetect_after == 0)
				all_failing = false;
		}
		uint64_t now = time_mono_ms();
		if (all_failing && now >= next_redetect) {
			log_debug("%s: no answer for %u cycles: re-detecting", w->tty,
				  redetect_after);
			const struct bms_driver *before = w->drv;
			r = try_redetect(w);
			if (r < 0)
				return r;
			now = time_mono_ms();
			uint64_t cap = (uint64_t)(w->p.serial.detect_backoff_max * 1000.0);
			if (w->drv == before && w->bat[0].fails > 0) {
				next_redetect = now + redetect_hold;
				redetect_hold = redetect_hold * 2 > cap ? cap : redetect_hold * 2;
			} else {
				redetect_hold = 1000;
			}
		}
		/* Fixed rate; after an overrun start from now instead of bursting. */
		next += w->interval_ms;
		if (next <= now)
			next = now + w->interval_ms;
	}
}

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	/* 15 characters at most: "sb-worker:" leaves 5, so the "tty" every
	 * serial node starts with goes (ttyUSB0 -> USB0, ttyACM1 -> ACM1). */
	char name[16];
	const char *t = strncmp(w->tty, "tty", 3) == 0 && w->tty[3] ? w->tty + 3 : w->tty;
	snprintf(name, sizeof(name), "sb-worker:%.5s", t);
	pthread_setname_np(pthread_self(), name);
	int r = run(w);
	if (r < 0 && r != -ECANCELED)
		store_port_mark(w->st, w->p.path, STORE_PORT_FAILED); /* e.g. cannot open */
	if (r == -ECANCELED)
		r = 0;
	else if (r == -ENODEV)
		log_info("%s: port gone, worker ends", w->tty);
	else if (r < 0)
		log_error("%s: worker ends: %s", w->tty, strerror(-r));
	close_batteries(w);
	if (w->cmd_fd >= 0)
		close(w->cmd_fd); /* no slot listens to it any more */
	w->cmd_fd = -1;
	worker_link_close(w->link);
	w->link = NULL;
	free(w->states);
	w->states = NULL;
	atomic_store(&w->status, r);
	atomic_store(&w->finished, true);
	/* Tell the supervisor only when we ended by ourselves. */
	uint64_t one = 1, stop;
	if (w->p.notify_fd >= 0 && read(w->wake_fd, &stop, sizeof(stop)) != sizeof(stop))
		if (write(w->p.notify_fd, &one, sizeof(one)) < 0)
			log_debug("%s: notify: %s", w->tty, strerror(errno));
	return NULL;
}

int worker_start(const struct worker_params *p, struct store *st, struct worker **ret)
{
	if (!p || !st || !p->path[0])
		return -EINVAL;
	struct worker *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->p = *p;
	w->st = st;
	w->cmd_fd = -1;
	w->lim.chemistry = (unsigned)p->serial.chemistry < BMS_CHEM_COUNT
				   ? (enum bms_chemistry)p->serial.chemistry
				   : BMS_CHEM_LFP;
	w->lim.max_charge_ma = p->max_charge_ma;
	w->lim.max_discharge_ma = p->max_discharge_ma;
	if (!w->p.identity[0])
		snprintf(w->p.identity, sizeof(w->p.identity), "%.127s", p->path);
	const char *base = strrchr(p->path, '/');
	snprintf(w->tty, sizeof(w->tty), "%.31s", base ? base + 1 : p->path);
	/* Non-blocking: the worker peeks at it to tell "stopped" from "ended by itself". */
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0) {
		int r = -errno;
		free(w);
		return r;
	}
	int r = pthread_create(&w->thread, NULL, thread_main, w);
	if (r != 0) {
		close(w->wake_fd);
		free(w);
		return -r;
	}
	*ret = w;
	return 0;
}

void worker_stop(struct worker *w)
{
	if (!w || w->joined)
		return;
	uint64_t one = 1;
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		log_debug("worker stop: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	w->joined = true;
}

bool worker_finished(struct worker *w)
{
	return w && atomic_load(&w->finished);
}

int worker_exit_status(struct worker *w)
{
	return w ? atomic_load(&w->status) : -EINVAL;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	worker_stop(w);
	close(w->wake_fd);
	free(w);
}
