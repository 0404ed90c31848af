/* SPDX-License-Identifier: MIT */
/*
 * The publisher thread. It owns every D-Bus connection (one private
 * connection per battery service, see service.h for why) and waits on one
 * poll(): a wake eventfd (stop), the store's eventfd (a worker committed),
 * a periodic timerfd (ages, limits, aggregate) and the connections' fds.
 *
 * A pack's values are sent as soon as its worker commits (one ItemsChanged
 * per commit); the timer re-evaluates ages for the comms-loss policy and
 * refreshes the aggregate once per interval. After every wake-up bus_upkeep()
 * keeps each service on the bus (registration, reconnect with backoff, a
 * taken name retried), on the real clock and with poll()'s timeout as its
 * timer, so neither the data clock nor a stream of readings delays it.
 */
#include "publish/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "bms/fields.h"
#include "bms/plausible.h"
#include "bms/stats.h"
#include "charge/bank.h"
#include "charge/charge.h"
#include "charge/soc.h"
#include "common/log.h"
#include "common/sbtime.h"
#include "common/statefile.h"
#include "publish/busitem.h"
#include "publish/extsource.h"
#include "publish/pathids.h"
#include "publish/paths.h"
#include "publish/publish_config.h"
#include "publish/service.h"

#define AGG_NAME "com.victronenergy.battery.aggregate"
/*
 * /CurrentAvg: the mean of the readings of the last current_avg_window_s
 * seconds. The ring is fixed (no allocation per poll) and holds an hour of
 * 1 s readings; a faster poll with a long window drops the oldest first.
 */
#define CURRENT_AVG_MAX 3600
/* the bank's own ring is sampled at most once a second (its fills run per member poll) */
#define BANK_AVG_STEP_MS 1000u
#define QUIET_PERIOD_MS 60000 /* diagnostics counters alone: at most one signal a minute */
#define CHARGE_TEXT_LEN 512

/*
 * The owner's writes to the BMS from /Settings (issue 17), one slot per
 * kind. A wish waits in its slot until the mailbox is free (one command at a
 * time per pack, so quick writes to two paths do not replace each other),
 * then goes to the worker; a switch's force counts only once a poll after
 * the BMS's acknowledgement shows it.
 */
enum wr_kind { WR_CHG, WR_DSG, WR_BAL, WR_SOC, WR_KINDS };
struct wr_slot {
	bool queued;          /* a wish waits to be posted */
	int32_t want;         /* switches: 1 force off, 0 release; SOC: 0.01 % */
	uint32_t seq;         /* mailbox seq while posted, 0 = none */
	int32_t sent;         /* the wish that was posted */
	bool verify;          /* acknowledged: the next poll has to show it */
	uint64_t acked_data;  /* rec.updated_ms at the acknowledgement */
	uint64_t acked_at_ms; /* publish clock then: bounds the wait for that poll */
	bool force;           /* switches: our force holds, as the BMS reports it */
	uint64_t force_data;  /* rec.updated_ms that confirmed it: later data can end it */
};
struct batt_writes {
	struct wr_slot s[WR_KINDS];
	int32_t soc_target;          /* /Settings/ResetSocTo, % */
	uint32_t done, errors;       /* /Link/Writes, /Link/WriteErrors */
	char error[PUBLISH_STR_LEN]; /* /Settings/LastWriteError ("": the last one went through) */
	char saved[64];              /* the forces as last saved */
};

/*
 * Current readings with their times (mA; ms, the low 32 bits: differences of
 * those are right across a wrap, and a window is far shorter than the 49
 * days of one), a ring sized once for its window (the window over the poll
 * interval, at most CURRENT_AVG_MAX), oldest at head: 2.4 KB for the default
 * 300 s at a 1 s poll; nothing is allocated per reading.
 */
struct avg_ring {
	int32_t *ma;
	uint32_t *t;
	unsigned cap; /* sized at creation for its window: 0 = none (no memory) */
	unsigned n, head;
	int64_t sum_ma;
};

/* Room for a window of window_ms at one reading every step_ms; false when out of memory. */
static bool avg_init(struct avg_ring *r, uint64_t window_ms, uint64_t step_ms)
{
	uint64_t cap = window_ms / (step_ms ? step_ms : 1000u) + 2;
	cap = cap > CURRENT_AVG_MAX ? CURRENT_AVG_MAX : cap;
	memset(r, 0, sizeof(*r));
	r->ma = calloc((size_t)cap, sizeof(*r->ma));
	r->t = calloc((size_t)cap, sizeof(*r->t));
	if (!r->ma || !r->t) {
		free(r->ma);
		free(r->t);
		memset(r, 0, sizeof(*r));
		return false;
	}
	r->cap = (unsigned)cap;
	return true;
}

static void avg_free(struct avg_ring *r)
{
	free(r->ma);
	free(r->t);
	memset(r, 0, sizeof(*r));
}

struct batt {
	bool used;
	int slot;
	char key[STORE_KEY_LEN];
	char sid[STORE_KEY_LEN];
	char tty[32];
	uint8_t address;
	struct publish *pub;
	uint64_t quiet_sent_ms; /* publish clock when quiet counters were last released */
	struct avg_ring cur;    /* /CurrentAvg */
	struct publish_service *svc;
	struct publish_tree *tree;
	struct store_record rec;
	uint64_t seen_seq;
	struct charge_state cst;
	struct charge_result res;
	bool have_res;
	struct publish_history hist;
	uint64_t hist_saved_ms; /* when the history file was last written, 0 = not yet */
	uint64_t gone_since_ms; /* 0 = not gone */
	char charge_text[CHARGE_TEXT_LEN];
	bool in_bank;
	int member;            /* position among the bank's members, -1 = none (yet) */
	int bank_index;        /* 1-based: member + 1 */
	bool info_hidden;      /* the last fill left /Info to the bank */
	bool reported;         /* has committed a snapshot since the publisher started */
	uint32_t mode_seq;     /* the /Mode write on its way to the BMS (mailbox seq), 0 = none */
	int32_t mode_want;     /* its value: 3 on, 252 standby */
	bool standby;          /* the owner's standby holds: /Mode 252 while both FETs are off */
	uint64_t standby_ms;   /* rec.updated_ms when it was confirmed: later data can end it */
	uint64_t next_tick_ms; /* re-evaluate (ages, ramps) by then even without new data */
	struct batt_writes wr; /* /Settings writes to the BMS */
	/* the daemon's own SOC (charge/soc.h), with soc_source "coulomb" */
	const struct charge_soc_config *soc_cfg; /* this pack's charge.soc entry, NULL = none */
	bool soc_counting;                       /* soc_source "coulomb" */
	bool soc_nocap_logged;                   /* "no capacity" said once */
	bool soc_write_due;                      /* a full reset still to send to the BMS */
	struct soc_state soc;
	char soc_text[32];     /* the state file's text as last written */
	uint64_t soc_saved_ms; /* when it was last written, 0 = not yet */
};

/*
 * A bank member outlives its pack's service: a pack that went offline stays
 * listed (and keeps holding the bank CVL) until it returns or the owner
 * forgets it through /Bank/Forget.
 */
struct bank_slot {
	bool used;
	bool reported;           /* a pack has reported into this position */
	char key[STORE_KEY_LEN]; /* "" = a named position nobody has filled yet */
	char tty[32];
	char name[CFG_STR]; /* the bank_packs entry, "" with "all" */
	bool have_res;
	struct charge_result last; /* the pack's last charge result */
};

struct aggregate {
	bool active;
	struct publish_service *svc;
	struct publish_tree *tree;
	struct publish *pub;
	struct bank_slot members[BANK_MAX_PACKS];
	struct bank_state bst;
	struct bank_result res;
	struct avg_ring cur; /* the bank's /CurrentAvg */
};

struct kept_state {
	bool used;
	char key[STORE_KEY_LEN];
	struct charge_state cst;
	bool wr_force[WR_KINDS]; /* our forces when the service went: kept if it returns */
};

struct publish {
	char *bus_address;
	struct publish_config *own_cfg;
	struct charge_config *own_charge;
	const struct publish_config *cfg;
	const struct charge_config *ccfg;
	char state_dir[CFG_STR];
	bool state_failing; /* charge state saves fail: logged once */
	uint64_t (*clock_ms)(void *ctx);
	void *clock_ctx;

	struct store *st;
	unsigned nslots;
	struct batt *batts;
	/* Charge state of packs whose service was removed (gone, lost, moved to
	 * another tty), by key: a returning pack goes on from it, so a CCL cut
	 * for missing data comes back through its hold and ramp, not at once. */
	struct kept_state *kept;
	struct aggregate agg;
	struct publish_msgbuf msgbuf; /* every service's ItemsChanged is written here in turn */
	struct publish_ext *ext;      /* external current/SOC source and ESS minimum SOC */
	int ext_target;               /* who uses its values: a slot, EXT_BANK or EXT_NONE */
	/* the source is a pack's charge.soc soc_source "service:..." (else publish.external_source)
	 */
	const struct charge_soc_config *ext_entry;
	uint64_t start_ms;
	uint64_t agg_next_ms; /* next aggregate update while active */
	unsigned start_ports; /* ports registered by the supervisor when we started */
	bool complete;        /* the bank knows every pack it waits for (or timed out) */
	unsigned detecting;   /* slots still detecting, counted by this cycle */
	bool bank_touched;    /* a member was evaluated this cycle */

	int wake_fd, timer_fd;
	pthread_t thread;
	bool running;
	/* The one owner of D-Bus (docs/ARCHITECTURE.md, "Wake-ups"): whoever holds it. The
	 * thread holds it whenever it is out of poll(); a worker that commits only tries it
	 * (handoff()) and runs the cycle itself when it is free. */
	pthread_mutex_t lock;
	bool handoff_on;
	/* A cycle run by a worker (handoff()) leaves to the thread whatever may block or
	 * changes what the thread polls: a service created or removed (a bus connection and
	 * its round trips) and a state file written (fsync). It sets thread_due and hands the
	 * commit back; the thread runs the cycle again and thread_work(). */
	bool in_handoff, thread_due;
	/* publish_get_stats(): written by the thread after every wake-up */
	_Atomic uint64_t st_requests, st_dropped, st_ignored, st_reconnects;
	_Atomic uint64_t st_ext_updates, st_ext_implausible, st_ext_refused, st_ext_lost;
	_Atomic uint64_t st_handoffs, st_handbacks;
};

static uint64_t now_ms(const struct publish *p)
{
	return p->clock_ms ? p->clock_ms(p->clock_ctx) : time_mono_ms();
}

/* True in a worker's hand-off: the caller leaves its work to the thread (in_handoff). */
static bool thread_only(struct publish *p)
{
	if (p->in_handoff)
		p->thread_due = true;
	return p->in_handoff;
}

/* ---- charge state persistence ---- */

static void state_name(const struct batt *b, char *buf, size_t len)
{
	snprintf(buf, len, "charge_%s.state", b->sid);
}

static void state_load(struct publish *p, struct batt *b, uint64_t now)
{
	if (!p->state_dir[0])
		return;
	char name[STORE_KEY_LEN + 16], text[CHARGE_TEXT_LEN];
	state_name(b, name, sizeof(name));
	int r = statefile_read(p->state_dir, name, text, sizeof(text), NULL);
	/* a refused or missing directory is the supervisor's one warning, not one per pack */
	if (r == -ENOENT || r == -EPERM || r == -EACCES || r == -ENOTDIR || r == -EROFS)
		return;
	if (r == 0 && charge_state_parse(&b->cst, text, now) == 0)
		snprintf(b->charge_text, sizeof(b->charge_text), "%s", text);
	else
		log_warn("publish: ignoring charge state %s/%s: %s", p->state_dir, name,
			 r < 0 ? strerror(-r) : "unreadable");
}

/*
 * A failed save is retried on the next change of the same battery (its text
 * stays unsaved), so a full or refused directory would log every cycle: log
 * when saving starts failing and when it works again, once for all batteries.
 */
static void state_save(struct publish *p, struct batt *b)
{
	char text[CHARGE_TEXT_LEN];
	if (!p->state_dir[0] || charge_state_format(&b->cst, text, sizeof(text)) < 0 ||
	    strcmp(text, b->charge_text) == 0)
		return;
	if (thread_only(p))
		return;
	char name[STORE_KEY_LEN + 16];
	state_name(b, name, sizeof(name));
	int r = statefile_write(p->state_dir, name, text, strlen(text));
	if (r == 0)
		snprintf(b->charge_text, sizeof(b->charge_text), "%s", text);
	if (r < 0 && !p->state_failing) {
		p->state_failing = true;
		log_warn("publish: cannot save charge state in %s: %s (logged once until it works "
			 "again)",
			 p->state_dir, strerror(-r));
	} else if (r == 0 && p->state_failing) {
		p->state_failing = false;
		log_info("publish: saving charge state in %s works again", p->state_dir);
	}
}

/* ---- computed SOC persistence ---- */

/* At most one write per SOC_SAVE_MS while the SOC changes (the Python driver's
 * 15 s), and at removal and stop: a restart loses at most that much counting. */
#define SOC_SAVE_MS 15000u

static void soc_name(const struct batt *b, char *buf, size_t len)
{
	snprintf(buf, len, "soc_%s.state", b->sid);
}

static void soc_load(struct publish *p, struct batt *b)
{
	if (!p->state_dir[0])
		return;
	char name[STORE_KEY_LEN + 16], text[32];
	soc_name(b, name, sizeof(name));
	int r = statefile_read(p->state_dir, name, text, sizeof(text), NULL);
	if (r == -ENOENT || r == -EPERM || r == -EACCES || r == -ENOTDIR || r == -EROFS)
		return;
	if (r == 0 && soc_state_parse(&b->soc, text) == 0)
		snprintf(b->soc_text, sizeof(b->soc_text), "%s", text);
	else
		log_warn("publish: ignoring saved SOC %s/%s: %s", p->state_dir, name,
			 r < 0 ? strerror(-r) : "unreadable");
}

/* force: at removal or stop; otherwise only when SOC_SAVE_MS have passed */
static void soc_save(struct publish *p, struct batt *b, uint64_t now, bool force)
{
	char text[32];
	if (!p->state_dir[0] || !b->soc_counting ||
	    soc_state_format(&b->soc, text, sizeof(text)) < 0 || strcmp(text, b->soc_text) == 0)
		return;
	if ((!force && b->soc_saved_ms && now - b->soc_saved_ms < SOC_SAVE_MS) || thread_only(p))
		return;
	char name[STORE_KEY_LEN + 16];
	soc_name(b, name, sizeof(name));
	/* a failure is retried after SOC_SAVE_MS; state_save logs the directory's trouble */
	b->soc_saved_ms = now ? now : 1;
	if (statefile_write(p->state_dir, name, text, strlen(text)) == 0)
		snprintf(b->soc_text, sizeof(b->soc_text), "%s", text);
}

/* ---- history persistence ---- */

/* The history survives restarts: one file per battery identity, written at
 * most once a minute (HISTORY_SAVE_MS), at removal/stop and after a clear. */
#define HISTORY_SAVE_MS 60000u

static void hist_name(const struct batt *b, char *buf, size_t len)
{
	snprintf(buf, len, "history_%s.state", b->sid);
}

static void hist_load(struct publish *p, struct batt *b)
{
	if (!p->state_dir[0])
		return;
	char name[STORE_KEY_LEN + 16], text[PUBLISH_HISTORY_TEXT_LEN];
	hist_name(b, name, sizeof(name));
	int r = statefile_read(p->state_dir, name, text, sizeof(text), NULL);
	if (r == -ENOENT || r == -EPERM || r == -EACCES || r == -ENOTDIR || r == -EROFS)
		return;
	if (r < 0 || publish_history_parse(&b->hist, text) < 0)
		log_warn("publish: ignoring history %s/%s: %s", p->state_dir, name,
			 r < 0 ? strerror(-r) : "unreadable");
}

/* force: at removal, stop or clear; otherwise only once a minute has passed */
static void hist_save(struct publish *p, struct batt *b, uint64_t now, bool force)
{
	if (!p->state_dir[0] || !b->hist.dirty)
		return;
	if ((!force && b->hist_saved_ms && now - b->hist_saved_ms < HISTORY_SAVE_MS) ||
	    thread_only(p))
		return;
	char name[STORE_KEY_LEN + 16], text[PUBLISH_HISTORY_TEXT_LEN];
	int n = publish_history_format(&b->hist, text, sizeof(text));
	if (n < 0)
		return;
	hist_name(b, name, sizeof(name));
	/* a failure is retried next minute; state_save logs the directory's trouble */
	b->hist_saved_ms = now ? now : 1;
	if (statefile_write(p->state_dir, name, text, (size_t)n) == 0)
		b->hist.dirty = false;
}

/* ---- bank membership ---- */

static bool bank_all(const struct publish_config *c)
{
	return c->bank_packs.n == 0 ||
	       (c->bank_packs.n == 1 && strcmp(c->bank_packs.v[0], "all") == 0);
}

/* The member position of a pack: its own, a named one waiting for it, or a free one. */
static int member_attach(struct publish *p, struct batt *b, int named)
{
	struct bank_slot *m = p->agg.members;
	for (int i = 0; i < BANK_MAX_PACKS; i++)
		if (m[i].used && m[i].key[0] && strcmp(m[i].key, b->key) == 0)
			return i;
	int i = named;
	if (i < 0)
		for (int k = 0; k < BANK_MAX_PACKS && i < 0; k++)
			if (!m[k].used)
				i = k;
	if (i < 0 || i >= BANK_MAX_PACKS || (m[i].used && m[i].key[0]))
		return -1;
	if (!m[i].used) {
		memset(&m[i], 0, sizeof(m[i]));
		bank_forget(&p->agg.bst, (unsigned)i);
		if (named >= 0)
			snprintf(m[i].name, sizeof(m[i].name), "%s", p->cfg->bank_packs.v[named]);
	}
	m[i].used = true;
	snprintf(m[i].key, sizeof(m[i].key), "%s", b->key);
	snprintf(m[i].tty, sizeof(m[i].tty), "%s", b->tty);
	return i;
}

static int bank_named_position(const struct publish *p, const struct batt *b)
{
	const struct publish_config *c = p->cfg;
	for (unsigned k = 0; k < c->bank_packs.n && k < BANK_MAX_PACKS; k++)
		if (strcmp(c->bank_packs.v[k], b->key) == 0 ||
		    strcmp(c->bank_packs.v[k], b->tty) == 0 ||
		    strcmp(c->bank_packs.v[k], b->sid) == 0)
			return (int)k;
	return -1;
}

static void bank_place(struct publish *p, struct batt *b)
{
	const struct publish_config *c = p->cfg;
	b->in_bank = false;
	b->member = -1;
	b->bank_index = b->slot + 1;
	if (c->bank_mode == PUBLISH_BANK_OFF)
		return;
	int named = -1;
	if (!bank_all(c)) {
		named = bank_named_position(p, b);
		if (named < 0)
			return;
	}
	b->in_bank = true;
	b->member = member_attach(p, b, named);
	if (b->member >= 0)
		b->bank_index = b->member + 1;
	else
		log_warn("publish: %s: no bank position free (at most %d packs, or its named "
			 "position is taken), left out of the bank",
			 b->key, BANK_MAX_PACKS);
}

/* Named packs hold their positions from the start: one that never reports is listed offline. */
static void bank_init_members(struct publish *p)
{
	const struct publish_config *c = p->cfg;
	bank_state_init(&p->agg.bst);
	if (c->bank_mode == PUBLISH_BANK_OFF || bank_all(c))
		return;
	for (unsigned k = 0; k < c->bank_packs.n && k < BANK_MAX_PACKS; k++) {
		struct bank_slot *m = &p->agg.members[k];
		m->used = true;
		snprintf(m->name, sizeof(m->name), "%s", c->bank_packs.v[k]);
	}
}

/* ---- writes from the bus ---- */

/* /CustomName: shown at once, stored in settings (which signal it back, unchanged). */
static int write_custom_name(struct publish_service *svc, struct publish_item *it,
			     const struct publish_item *value)
{
	const char *v = value->valid ? value->s : "";
	publish_item_set_string(it, v);
	if (svc)
		publish_service_store_custom_name(svc, v);
	return 0;
}

static bool pack_online(const struct batt *b);

/*
 * Why a /Mode write cannot go to this pack's BMS, or NULL when it can. gui-v2
 * offers on (3) and standby (252); off (4) is the BMS's own protection state.
 */
static const char *mode_refusal(const struct batt *b, const struct publish_item *value)
{
	if (!value || !value->valid)
		return "it takes 3 (on) or 252 (standby)";
	if (value->i == 4)
		return "4 (off) is the state the BMS's protection puts the pack in; 252 (standby) "
		       "switches both FETs off";
	if (value->i != 3 && value->i != 252)
		return "it takes 3 (on) or 252 (standby)";
	const struct bms_driver *drv = bms_driver_find(b->rec.info.protocol);
	if (!drv || !bms_driver_supports(drv, BMS_CMD_STANDBY))
		return "this BMS's protocol has no FET switch";
	if (!pack_online(b))
		return "the pack is not online";
	return NULL;
}

/*
 * /Mode: post standby (both FETs off) or on to the pack's worker. The path
 * keeps showing what the BMS reports: the FETs change in a later poll, and
 * slot_update learns the outcome from the mailbox.
 */
static int mode_write(struct batt *b, const struct publish_item *value)
{
	const char *why = mode_refusal(b, value);
	uint32_t seq = 0;
	if (!why &&
	    store_command_post(b->pub->st, b->slot, BMS_CMD_STANDBY, value->i == 252, &seq) < 0)
		why = "the pack is not online";
	if (why) {
		log_warn("publish: %s: /Mode %d refused: %s", b->key,
			 value && value->valid ? (int)value->i : -1, why);
		return 2;
	}
	b->mode_seq = seq;
	b->mode_want = value->i;
	log_info("publish: %s: /Mode %d (%s) sent to the BMS", b->key, (int)value->i,
		 value->i == 252 ? "standby" : "on");
	return 0;
}

/* What became of the /Mode write, once the worker has run it. */
static void mode_outcome(struct batt *b)
{
	const struct store_cmd_state *c = &b->rec.cmd;
	if (!b->mode_seq || c->cmd.seq < b->mode_seq)
		return;
	if (c->cmd.seq > b->mode_seq) { /* replaced by a newer write */
		b->mode_seq = 0;
		return;
	}
	if (c->status == STORE_CMD_PENDING || c->status == STORE_CMD_RUNNING)
		return;
	if (c->status == STORE_CMD_OK) {
		b->standby = b->mode_want == 252;
		b->standby_ms = b->rec.updated_ms;
	} else
		log_warn("publish: %s: /Mode %d: %s by the BMS", b->key, (int)b->mode_want,
			 c->status == STORE_CMD_REFUSED   ? "refused"
			 : c->status == STORE_CMD_TIMEOUT ? "not confirmed"
							  : "canceled");
	b->mode_seq = 0;
}

/* ---- writes to the BMS from /Settings (issue 17) ---- */

/*
 * The paths, the command each sends and what a poll shows of it. A switch's
 * path reads 1 while our force holds: the BMS acknowledged our "off" and a
 * poll after that showed the FET (balancer) off. A later poll that shows it
 * on again (the BMS's app, a reset) ends the force: the path reads 0.
 */
static const struct wr_def {
	const char *path;
	const char *label; /* what /Settings/LastWriteError and the log call it */
	const char *name;  /* what the BMS switches */
	const char *key;   /* in the state file */
	enum bms_command cmd;
} wr_defs[WR_KINDS] = {
	[WR_CHG] = {"/Settings/ForceChargingOff", "ForceChargingOff", "charge FET", "charge_off",
		    BMS_CMD_CHARGE_FET},
	[WR_DSG] = {"/Settings/ForceDischargingOff", "ForceDischargingOff", "discharge FET",
		    "discharge_off", BMS_CMD_DISCHARGE_FET},
	[WR_BAL] = {"/Settings/TurnBalancingOff", "TurnBalancingOff", "balancer", "balancer_off",
		    BMS_CMD_BALANCER},
	[WR_SOC] = {"/Settings/ResetSocToApply", "ResetSocTo", "SOC", NULL, BMS_CMD_SOC},
};
/* the longest wait for the poll that confirms an acknowledged switch */
#define WR_VERIFY_MIN_MS 10000u

/* Is the switch on in this snapshot? -1 when the snapshot does not say. */
static int wr_switch_on(const struct bms_snapshot *s, enum wr_kind k)
{
	if (k == WR_BAL)
		return (s->valid & BMS_V_BALANCER) ? s->balancer_enabled : -1;
	if (!(s->valid & BMS_V_FETS))
		return -1;
	return k == WR_CHG ? s->charge_fet : s->discharge_fet;
}

static void wr_name(char *buf, size_t len, const struct batt *b)
{
	snprintf(buf, len, "writes_%s.state", b->sid);
}

/* Our forces go to the state file whenever they change (one line per switch). */
static void wr_save(struct publish *p, struct batt *b)
{
	char text[sizeof(b->wr.saved)];
	size_t o = 0;
	for (int k = WR_CHG; k <= WR_BAL; k++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s=%d\n", wr_defs[k].key,
				      b->wr.s[k].force ? 1 : 0);
	if (!p->state_dir[0] || strcmp(text, b->wr.saved) == 0 || thread_only(p))
		return;
	char name[STORE_KEY_LEN + 16];
	wr_name(name, sizeof(name), b);
	/* a failure is retried at the next change; state_save logs the directory's trouble */
	if (statefile_write(p->state_dir, name, text, strlen(text)) == 0)
		snprintf(b->wr.saved, sizeof(b->wr.saved), "%s", text);
}

static void wr_finish(struct batt *b, enum wr_kind k, int32_t v, const char *why)
{
	struct batt_writes *w = &b->wr;
	w->done++;
	if (!why) {
		w->error[0] = '\0';
		log_info("publish: %s: %s %d: done", b->key, wr_defs[k].label, (int)v);
		return;
	}
	w->errors++;
	snprintf(w->error, sizeof(w->error), "%s %d: %s", wr_defs[k].label, (int)v, why);
	log_warn("publish: %s: %s", b->key, w->error);
}

/*
 * Post the next waiting wish when the mailbox is free (a /Mode write may hold
 * it). A release with no force of ours sends nothing: 0 only undoes our own
 * "off", never a FET the BMS switched off itself.
 */
static void wr_pump(struct batt *b)
{
	struct batt_writes *w = &b->wr;
	for (int k = 0; k < WR_KINDS; k++)
		if (w->s[k].seq || w->s[k].verify)
			return;
	struct store_record now;
	if (store_read(b->pub->st, b->slot, &now) < 0)
		return;
	if (now.cmd.status == STORE_CMD_PENDING || now.cmd.status == STORE_CMD_RUNNING)
		return; /* slot_update comes back when it is done */
	for (int k = 0; k < WR_KINDS; k++) {
		struct wr_slot *x = &w->s[k];
		if (!x->queued)
			continue;
		x->queued = false;
		if (k != WR_SOC && !x->want && !x->force) {
			wr_finish(b, (enum wr_kind)k, 0, NULL); /* nothing of ours to undo */
			continue;
		}
		/* a switch's "off" is the command's 0, "on" its 1 */
		int32_t value = k == WR_SOC ? x->want : !x->want;
		uint32_t seq = 0;
		if (!pack_online(b) ||
		    store_command_post(b->pub->st, b->slot, wr_defs[k].cmd, value, &seq) < 0) {
			wr_finish(b, (enum wr_kind)k, k == WR_SOC ? x->want / 100 : x->want,
				  "refused: the pack is not online");
			continue;
		}
		x->seq = seq;
		x->sent = x->want;
		return;
	}
}

/* What became of the posted wish, once the worker has run it. */
static void wr_outcome(struct batt *b, uint64_t now)
{
	const struct store_cmd_state *c = &b->rec.cmd;
	for (int k = 0; k < WR_KINDS; k++) {
		struct wr_slot *x = &b->wr.s[k];
		if (!x->seq || c->cmd.seq < x->seq)
			continue;
		int32_t shown = k == WR_SOC ? x->sent / 100 : x->sent;
		if (c->cmd.seq > x->seq) {
			/* a /Mode write replaced it before it ran: the wish stands, send it again
			 */
			x->seq = 0;
			if (!x->queued) {
				x->queued = true;
				x->want = x->sent;
			}
			continue;
		}
		if (c->status == STORE_CMD_PENDING || c->status == STORE_CMD_RUNNING)
			continue;
		x->seq = 0;
		if (c->status != STORE_CMD_OK) {
			wr_finish(b, (enum wr_kind)k, shown,
				  c->status == STORE_CMD_REFUSED ? "refused by the BMS"
				  : c->status == STORE_CMD_TIMEOUT
					  ? "not confirmed: the BMS did not answer in time"
					  : "canceled: the pack went away before it ran");
			continue;
		}
		if (k == WR_SOC) {
			wr_finish(b, WR_SOC, shown,
				  NULL); /* /Soc shows what the BMS then reports */
		} else if (!x->sent) {
			x->force = false; /* our force is undone; /Io shows what the BMS holds */
			wr_save(b->pub, b);
			wr_finish(b, (enum wr_kind)k, 0, NULL);
		} else {
			x->verify = true;
			x->acked_data = b->rec.updated_ms;
			x->acked_at_ms = now;
		}
	}
}

/* An acknowledged "off" counts once a later poll shows it; a force ends when one shows it on. */
static void wr_verify(struct batt *b, uint64_t now)
{
	const struct bms_snapshot *s = &b->rec.snap;
	uint64_t data = b->rec.updated_ms;
	uint64_t wait = (uint64_t)b->rec.info.poll_interval_ms * 3u;
	if (wait < WR_VERIFY_MIN_MS)
		wait = WR_VERIFY_MIN_MS;
	for (int k = WR_CHG; k <= WR_BAL; k++) {
		struct wr_slot *x = &b->wr.s[k];
		int on = wr_switch_on(s, (enum wr_kind)k);
		if (x->verify && data > x->acked_data) {
			x->verify = false;
			/* a BMS that does not report the switch: its acknowledgement is all we get
			 */
			if (on == 1) {
				char why[96];
				snprintf(why, sizeof(why),
					 "not confirmed: the BMS acknowledged, but its next poll "
					 "shows the %s on",
					 wr_defs[k].name);
				wr_finish(b, (enum wr_kind)k, 1, why);
				continue;
			}
			x->force = true;
			x->force_data = data;
			wr_save(b->pub, b);
			wr_finish(b, (enum wr_kind)k, 1, NULL);
		} else if (x->verify && now - x->acked_at_ms > wait) {
			x->verify = false;
			wr_finish(b, (enum wr_kind)k, 1, "not confirmed: no poll after the write");
		} else if (x->force && !x->seq && data > x->force_data && on == 1) {
			/* switched on by someone else: our force no longer holds */
			x->force = false;
			wr_save(b->pub, b);
			log_info("publish: %s: the BMS reports the %s on again: %s is 0", b->key,
				 wr_defs[k].name, wr_defs[k].path);
		}
	}
}

static void wr_fill(struct batt *b);

/* Why this pack cannot take a write of kind k, or NULL. */
static const char *wr_refusal(const struct batt *b, enum wr_kind k)
{
	const struct bms_driver *drv = bms_driver_find(b->rec.info.protocol);
	if (!drv || !bms_driver_supports(drv, wr_defs[k].cmd))
		return "refused: this BMS's protocol has no such write";
	if (!pack_online(b))
		return "refused: the pack is not online";
	return NULL;
}

/* A write to one of the /Settings paths; 1 when it is not one of them. */
static int wr_write(struct batt *b, struct publish_item *it, const struct publish_item *value)
{
	struct batt_writes *w = &b->wr;
	if (it->id == PP_SETTINGS_RESET_SOC_TO) {
		if (!value || !value->valid)
			return 2;
		w->soc_target = value->i;
		publish_item_set_int(it, value->i);
		return 0;
	}
	int k = 0;
	while (k < WR_KINDS && strcmp(it->path, wr_defs[k].path) != 0)
		k++;
	if (k == WR_KINDS)
		return 1;
	if (!value || !value->valid)
		return 2;
	if (k == WR_SOC && value->i == 0)
		return 0; /* the apply path reads 0: writing 0 applies nothing */
	int32_t want = k == WR_SOC ? w->soc_target * 100 : value->i;
	const char *why = wr_refusal(b, (enum wr_kind)k);
	if (why) {
		wr_finish(b, (enum wr_kind)k, k == WR_SOC ? w->soc_target : want, why);
		wr_fill(b);
		return 2;
	}
	struct wr_slot *x = &w->s[k];
	if (x->queued)
		w->done++; /* the wish it replaces was never sent: superseded, not failed */
	x->queued = true;
	x->want = want;
	wr_pump(b);
	wr_fill(b); /* a write with nothing to send is done now: show it */
	return 0;
}

/*
 * After detection: the forces a previous run left in the BMS. With
 * publish.keep_forced_switches they are sent again; without, ours are
 * undone (the switch sent on), which the safety rule allows: it was our own.
 * A pack returning in the same run (replugged, back from a silence) kept its
 * forces in memory: they stand as they are, and its next poll tells whether
 * the BMS still holds them.
 */
static void wr_restore(struct publish *p, struct batt *b, bool returning)
{
	b->wr.soc_target = 100;
	if (returning) {
		for (int k = WR_CHG; k <= WR_BAL; k++)
			b->wr.s[k].force_data = 0;
		wr_save(p, b);
		return;
	}
	if (!p->state_dir[0])
		return;
	char name[STORE_KEY_LEN + 16], text[sizeof(b->wr.saved)];
	wr_name(name, sizeof(name), b);
	if (statefile_read(p->state_dir, name, text, sizeof(text), NULL) < 0)
		return;
	snprintf(b->wr.saved, sizeof(b->wr.saved), "%s", text);
	for (int k = WR_CHG; k <= WR_BAL; k++) {
		char line[32];
		snprintf(line, sizeof(line), "%s=1\n", wr_defs[k].key);
		const struct bms_driver *drv = bms_driver_find(b->rec.info.protocol);
		if (!strstr(text, line) || !drv || !bms_driver_supports(drv, wr_defs[k].cmd))
			continue;
		struct wr_slot *x = &b->wr.s[k];
		x->queued = true;
		if (p->cfg->keep_forced_switches) {
			x->want = 1;
		} else {
			/* ours, still in the BMS: undone now (a poll showing it on
			 * already ends it, and then nothing is sent) */
			x->force = true;
			x->force_data = 0;
			x->want = 0;
		}
		log_info("publish: %s: %s %s from the last run", b->key,
			 p->cfg->keep_forced_switches ? "forcing again" : "undoing",
			 wr_defs[k].path);
	}
	wr_pump(b);
}

static void wr_fill(struct batt *b)
{
	const struct batt_writes *w = &b->wr;
	publish_paths_writes(b->tree, w->s[WR_CHG].force, w->s[WR_DSG].force, w->s[WR_BAL].force,
			     w->soc_target, w->error, w->done, w->errors);
}

static int pack_on_write(void *ctx, struct publish_tree *t, struct publish_item *it,
			 const struct publish_item *value)
{
	struct batt *b = ctx;
	if (it->id == PP_MODE)
		return mode_write(b, value);
	if (strncmp(it->path, "/Settings/", 10) == 0) {
		int r = wr_write(b, it, value);
		if (r != 1)
			return r;
	}
	if (it->id == PP_CUSTOM_NAME) {
		int r = write_custom_name(b->svc, it, value);
		/* a name cleared shows the default at once, not on the next cycle */
		publish_paths_names(t, &b->rec, b->pub->cfg->product_name,
				    b->svc ? b->svc->custom_name : "");
		return r;
	}
	if (it->id == PP_HISTORY_CLEAR) {
		/* 1 clears all, 2..7 one group (the Python driver's); the path stays 0 */
		if (!value || !value->valid || value->i < 0)
			return -EINVAL;
		if (value->i == 0 || publish_history_clear(&b->hist, value->i) < 0)
			return 0;
		hist_save(b->pub, b, now_ms(b->pub), true);
		publish_history_fill(t, &b->hist, &b->rec.snap);
		return 0;
	}
	return 1;
}

static void agg_fill(struct publish *p, uint64_t now);

/* The pack at member i, if it has a service. */
static struct batt *member_batt(struct publish *p, int i)
{
	for (unsigned s = 0; s < p->nslots; s++)
		if (p->batts[s].used && p->batts[s].in_bank && p->batts[s].member == i)
			return &p->batts[s];
	return NULL;
}

/*
 * /Bank/Forget: the owner removes offline packs from the bank. The value
 * names one (its number in the bank, identity, tty or bank_packs entry) or
 * is "offline" for all of them. A pack that is online or stale is refused:
 * it is still wired in parallel and its limits count.
 */
static int bank_forget_write(struct publish *p, const char *what)
{
	int n = 0;
	bool all = strcmp(what, "offline") == 0;
	char *end;
	long num = strtol(what, &end, 10);
	bool is_num = what[0] && !*end;
	for (int i = 0; i < BANK_MAX_PACKS; i++) {
		struct bank_slot *m = &p->agg.members[i];
		if (!m->used)
			continue;
		char sid[STORE_KEY_LEN];
		publish_sanitize(m->key, sid, sizeof(sid));
		bool match =
			all || (is_num && num == i + 1) ||
			(!is_num && what[0] &&
			 ((m->key[0] && (strcmp(what, m->key) == 0 || strcmp(what, sid) == 0)) ||
			  (m->tty[0] && strcmp(what, m->tty) == 0) ||
			  (m->name[0] && strcmp(what, m->name) == 0)));
		if (!match)
			continue;
		struct batt *b = member_batt(p, i);
		if (b && b->have_res && b->res.connected)
			continue; /* not offline */
		if (b)
			b->member = -1; /* re-joins when it reports again */
		log_info("publish: bank pack %d (%s) forgotten by the owner", i + 1,
			 m->key[0] ? m->key : m->name);
		memset(m, 0, sizeof(*m));
		bank_forget(&p->agg.bst, (unsigned)i);
		n++;
	}
	return n;
}

/*
 * The bank's /Mode: every online pack or none (a bank half in standby would
 * put the whole load on the rest), so one pack that cannot refuses it.
 */
static int bank_mode_write(struct publish *p, const struct publish_item *value)
{
	unsigned n = 0;
	for (int i = 0; i < BANK_MAX_PACKS; i++) {
		struct batt *b = member_batt(p, i);
		if (!b || !pack_online(b))
			continue;
		const char *why = mode_refusal(b, value);
		if (why) {
			log_warn("publish: bank /Mode %d refused: pack %d (%s): %s",
				 value && value->valid ? (int)value->i : -1, i + 1, b->key, why);
			return 2;
		}
		n++;
	}
	if (n == 0) {
		log_warn("publish: bank /Mode refused: no pack of the bank is online");
		return 2;
	}
	int r = 0;
	for (int i = 0; i < BANK_MAX_PACKS; i++) {
		struct batt *b = member_batt(p, i);
		if (b && pack_online(b) && mode_write(b, value) != 0)
			r = 2;
	}
	return r;
}

/* The bank shows standby when every online pack holds the owner's standby. */
static bool bank_standby(struct publish *p)
{
	unsigned n = 0;
	for (int i = 0; i < BANK_MAX_PACKS; i++) {
		struct batt *b = member_batt(p, i);
		if (!b || !b->used || !b->have_res || !b->res.connected)
			continue;
		if (!b->standby)
			return false;
		n++;
	}
	return n > 0;
}

static int agg_on_write(void *ctx, struct publish_tree *t, struct publish_item *it,
			const struct publish_item *value)
{
	struct aggregate *a = ctx;
	if (it->id == PP_MODE)
		return bank_mode_write(a->pub, value);
	if (it->id == PP_CUSTOM_NAME)
		return write_custom_name(a->svc, it, value);
	if (it->id == PP_BANK_FORGET) {
		if (!value->valid || bank_forget_write(a->pub, value->s) == 0)
			return 2;
		/* the path is a command: it reads "" again, the counts change at once */
		publish_item_set_string(it, "");
		agg_fill(a->pub, now_ms(a->pub));
		(void)t;
		return 0;
	}
	return 1;
}

/* ---- one pack ---- */

static void pack_service_name(const struct batt *b, char *buf, size_t len)
{
	char tty[40];
	publish_sanitize(b->tty[0] ? b->tty : b->sid, tty, sizeof(tty));
	if (b->address)
		snprintf(buf, len, "com.victronenergy.battery.%s__0x%02x", tty, b->address);
	else
		snprintf(buf, len, "com.victronenergy.battery.%s", tty);
}

static void batt_remove(struct publish *p, struct batt *b)
{
	hist_save(p, b, now_ms(p), true);
	soc_save(p, b, now_ms(p), true);
	if (b->svc)
		publish_service_close(b->svc);
	publish_tree_free(b->tree);
	avg_free(&b->cur);
	if (b->have_res) {
		/* one entry per key; a full cache drops the oldest entry (slot 0) */
		struct kept_state *k = NULL;
		for (unsigned i = 0; i < p->nslots && !k; i++)
			if (p->kept[i].used && strcmp(p->kept[i].key, b->key) == 0)
				k = &p->kept[i];
		for (unsigned i = 0; i < p->nslots && !k; i++)
			if (!p->kept[i].used)
				k = &p->kept[i];
		if (!k)
			k = &p->kept[0];
		k->used = true;
		snprintf(k->key, sizeof(k->key), "%s", b->key);
		k->cst = b->cst;
		for (int w = 0; w < WR_KINDS; w++)
			k->wr_force[w] = b->wr.s[w].force;
	}
	memset(b, 0, sizeof(*b));
}

/* The charge state a returning pack left behind, if any (taken out of the cache). */
static bool kept_take(struct publish *p, const char *key, struct charge_state *ret)
{
	for (unsigned i = 0; i < p->nslots; i++)
		if (p->kept[i].used && strcmp(p->kept[i].key, key) == 0) {
			*ret = p->kept[i].cst;
			p->kept[i].used = false;
			return true;
		}
	return false;
}

/*
 * A bank pack never shows /Info: systemcalc sorts a service that has ever
 * shown /Info/MaxChargeVoltage first, so a pack that showed it before the
 * bank was complete would be selected, then lost. Until the bank knows its
 * packs it is undecided whether there is a bank at all, so /Info waits.
 */
static bool aggregate_owns_info(const struct publish *p, const struct batt *b)
{
	return b->in_bank && p->cfg->bank_mode != PUBLISH_BANK_OFF &&
	       (p->agg.active || !p->complete);
}

static void batt_compute(struct publish *p, struct batt *b, uint64_t now)
{
	uint64_t age = b->rec.updated_ms ? (now > b->rec.updated_ms ? now - b->rec.updated_ms : 0)
					 : UINT64_MAX;
	charge_step(p->ccfg, b->rec.updated_ms ? &b->rec.snap : NULL, age, &b->cst, now, &b->res);
	b->have_res = true;
	state_save(p, b);
}

/* Readings at or before now - window leave the ring. */
static void avg_expire(struct avg_ring *r, uint64_t now, uint64_t window_ms)
{
	while (r->n && (uint32_t)((uint32_t)now - r->t[r->head]) >= window_ms) {
		r->sum_ma -= r->ma[r->head];
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
}

static void avg_add(struct avg_ring *r, int32_t ma, uint64_t t, uint64_t window_ms)
{
	if (!r->cap)
		return;
	avg_expire(r, t, window_ms);
	if (r->n == r->cap) { /* full (a poll faster than it was sized for): the oldest goes */
		r->sum_ma -= r->ma[r->head];
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
	unsigned k = (r->head + r->n) % r->cap;
	r->ma[k] = ma;
	r->t[k] = (uint32_t)t;
	r->sum_ma += ma;
	r->n++;
}

/* The mean (A) of the window ending now; false when it holds no reading. */
static bool avg_mean(struct avg_ring *r, uint64_t now, uint64_t window_ms, double *ret_a)
{
	avg_expire(r, now, window_ms);
	if (!r->n)
		return false;
	*ret_a = (double)r->sum_ma / r->n / 1000.0;
	return true;
}

static uint64_t avg_window_ms(const struct publish *p)
{
	return (uint64_t)p->cfg->current_avg_window_s * 1000u;
}

/* ---- external source ---- */

/*
 * Whose values the external source replaces. Named by a pack's charge.soc
 * entry (soc_source "service:..."): that pack, bank or not; an entry for
 * every pack (no `pack`) only while it is the only pack. Named by
 * publish.external_source: the bank, else the only pack, else nobody.
 */
static bool only_pack(const struct publish *p, const struct batt *b)
{
	for (unsigned s = 0; s < p->nslots; s++)
		if (p->batts[s].used && &p->batts[s] != b)
			return false;
	return true;
}

static bool ext_for_bank(const struct publish *p)
{
	return !p->ext_entry && p->cfg->external_source[0] && p->agg.active;
}

static bool ext_for_pack(const struct publish *p, const struct batt *b)
{
	if (p->ext_entry)
		return b->soc_cfg == p->ext_entry && (b->soc_cfg->pack[0] || only_pack(p, b));
	if (!p->cfg->external_source[0] || p->agg.active)
		return false;
	return only_pack(p, b);
}

/* The source's current (mA), when it replaces this pack's. */
static bool ext_pack_current(const struct publish *p, const struct batt *b, int32_t *ret_ma)
{
	struct publish_ext_values v;
	if (!p->ext || !ext_for_pack(p, b))
		return false;
	publish_ext_values(p->ext, &v);
	if (v.current_valid)
		*ret_ma = (int32_t)lround(v.current_a * 1000.0);
	return v.current_valid;
}

/* A reading of the pack's current into the /CurrentAvg ring (fixed storage: no allocation). */
static void current_avg_add(struct batt *b)
{
	int32_t ma;
	if (!ext_pack_current(b->pub, b, &ma)) {
		if (!(b->rec.snap.valid & BMS_V_CURRENT))
			return;
		ma = b->rec.snap.current_ma;
	}
	avg_add(&b->cur, ma, b->rec.updated_ms, avg_window_ms(b->pub));
}

/* The target of /TimeToGo: the ESS minimum SOC, else the configured one. */
static double time_to_go_target(const struct publish *p)
{
	double v;
	if (p->ext && publish_ext_min_soc(p->ext, &v))
		return v;
	return p->cfg->time_to_go_soc;
}

#define TIME_TO_MAX_S 864000.0 /* Victron's cap: 10 days */
#define TIME_TO_MIN_A 0.1      /* below it the current is noise (the Python driver's) */

/* Seconds from soc to target (%) of cap_ah at avg_a (+ = charging); false: not towards it. */
static bool time_to(double soc, double target, double cap_ah, double avg_a, int32_t *ret_s)
{
	double d = target - soc; /* % to go, signed like the current that gets there */
	if (fabs(avg_a) <= TIME_TO_MIN_A || d == 0 || (d > 0) != (avg_a > 0))
		return false;
	/* %/100 x Ah / A x 3600 s, in one product: 65 % of 100 Ah at 10 A is 23400 s exactly */
	double sec = d * cap_ah * 36.0 / avg_a;
	*ret_s = (int32_t)lround(fmin(sec, TIME_TO_MAX_S));
	return true;
}

/*
 * /TimeToGo (to the ESS minimum SOC, only while discharging) and
 * /TimeToSoC/<p> from the averaged current: a momentary load step moves
 * neither. have: SOC, capacity and average are known.
 */
static void time_to_fill(const struct publish *p, struct publish_tree *t, bool have, double soc,
			 double cap_ah, double avg_a)
{
	int32_t sec = 0;
	bool ttg = have && cap_ah > 0 && avg_a < 0 &&
		   time_to(soc, time_to_go_target(p), cap_ah, avg_a, &sec);
	publish_set_int_if(t, PP_TIME_TO_GO, ttg, sec);
	const struct cfg_ilist *pts = &p->cfg->time_to_soc_points;
	for (unsigned k = 0; k < pts->n; k++) {
		char text[16];
		bool ok =
			have && cap_ah > 0 && time_to(soc, (double)pts->v[k], cap_ah, avg_a, &sec);
		text[publish_int_text(text, sec)] = '\0';
		publish_set_string_if(t, PP_TIME_TO_SOC + k, ok, text);
	}
}

/* The entry of charge.soc for a new pack, and its saved SOC when it counts. */
static void soc_setup(struct publish *p, struct batt *b)
{
	b->soc_cfg = charge_soc_find(p->ccfg, b->key, b->tty, b->sid);
	b->soc_counting = charge_soc_source_of(b->soc_cfg, NULL) == CHARGE_SOC_COULOMB;
	soc_state_init(&b->soc);
	if (b->soc_counting)
		soc_load(p, b);
}

/* After a full reset, set the BMS's own SOC to 100 % (write_back), where the driver can. */
static void soc_write_back(struct publish *p, struct batt *b)
{
	if (!b->soc_write_due)
		return;
	const struct bms_driver *drv = bms_driver_find(b->rec.info.protocol);
	if (!drv || !bms_driver_supports(drv, BMS_CMD_SOC)) {
		b->soc_write_due = false;
		log_info("publish: %s: full reset not written back: this BMS's protocol has no SOC "
			 "write",
			 b->key);
		return;
	}
	/* never replace a write of the owner's still waiting in the mailbox: next poll */
	if (b->rec.cmd.status == STORE_CMD_PENDING || b->rec.cmd.status == STORE_CMD_RUNNING)
		return;
	uint32_t seq;
	if (store_command_post(p->st, b->slot, BMS_CMD_SOC, 10000, &seq) == 0) {
		b->soc_write_due = false;
		log_info("publish: %s: full reset: BMS SOC set to 100 %% (command %u)", b->key,
			 (unsigned)seq);
	}
}

/*
 * soc_source "coulomb": count this pack's SOC from a fresh snapshot and put
 * it (and the remaining capacity it means) into b->rec.snap in place of the
 * BMS's, on every pass, before the charge rules, the paths, the history and
 * the bank read the snapshot: they all see one SOC. /SocBms keeps the BMS's
 * own. The full-charge condition uses the CVL of the previous result: the
 * one the charger was following while this sample was taken.
 */
static void soc_apply(struct publish *p, struct batt *b, bool new_data, uint64_t now)
{
	struct bms_snapshot *sn = &b->rec.snap;
	publish_set_double_if(b->tree, PP_SOC_BMS, sn->valid & BMS_V_SOC,
			      bms_cpct_to_pct(sn->soc_cpct));
	if (!b->soc_counting)
		return;
	const struct charge_soc_config *cfg = b->soc_cfg;
	double cap_ah = (sn->valid & BMS_V_CAP_FULL) && sn->capacity_full_mah > 0
				? bms_mah_to_ah(sn->capacity_full_mah)
				: cfg->capacity;
	if (new_data) {
		struct bms_stats cs;
		bms_stats_compute(sn, &cs);
		bool cvl = b->have_res && b->res.cvl_valid && !b->res.stale;
		struct soc_input in = {
			.t_ms = b->rec.updated_ms,
			.current_valid = (sn->valid & BMS_V_CURRENT) != 0,
			.current_a = bms_ma_to_a(sn->current_ma),
			.bms_soc_valid = (sn->valid & BMS_V_SOC) != 0,
			.bms_soc_pct = bms_cpct_to_pct(sn->soc_cpct),
			.capacity_ah = cap_ah,
			.voltage_valid = (sn->valid & BMS_V_VOLTAGE) != 0,
			.voltage_v = bms_mv_to_v(sn->voltage_mv),
			.cells = cs.cell_count,
			.cell_min_v = bms_mv_to_v(cs.cell_min_mv),
			.cell_max_v = bms_mv_to_v(cs.cell_max_mv),
			.cvl_valid = cvl,
			.cvl_v = cvl ? b->res.cvl_absorb_v - p->ccfg->voltage_drop : 0,
			.cell_target_v = p->ccfg->max_cell_voltage,
		};
		unsigned ev = 0;
		int r = soc_step(cfg, &in, &b->soc, &ev);
		if (r == -ENODATA && !b->soc_nocap_logged) {
			b->soc_nocap_logged = true;
			log_warn(
				"publish: %s: soc_source \"coulomb\" needs a capacity: the BMS "
				"reports none and charge.soc has capacity 0; showing the BMS's SOC",
				b->key);
		}
		if (ev & SOC_EV_FULL) {
			log_info("publish: %s: full charge: computed SOC set to 100 %%", b->key);
			b->soc_write_due = cfg->write_back;
		}
		if (ev & SOC_EV_EMPTY)
			log_info("publish: %s: empty: computed SOC set to 0 %%", b->key);
		if (ev & SOC_EV_GAP)
			log_debug("publish: %s: a gap in the readings was not counted", b->key);
		soc_save(p, b, now, false);
	}
	soc_write_back(p, b);
	/* nothing counted without a capacity (a saved value would stand still): the BMS's */
	if (!b->soc.started || !(cap_ah > 0))
		return;
	sn->soc_cpct = (uint16_t)lround(b->soc.soc_pct * 100.0);
	sn->capacity_full_mah = (int32_t)lround(cap_ah * 1000.0);
	sn->capacity_remain_mah = (int32_t)lround(cap_ah * 10.0 * b->soc.soc_pct);
	sn->valid |= BMS_V_SOC | BMS_V_CAP_FULL | BMS_V_CAP_REMAIN;
}

static void batt_fill(struct publish *p, struct batt *b)
{
	b->info_hidden = aggregate_owns_info(p, b);
	publish_paths_fill(b->tree, &b->rec, &b->res, &b->hist, !b->info_hidden);
	publish_paths_names(b->tree, &b->rec, p->cfg->product_name,
			    b->svc ? b->svc->custom_name : "");
	uint64_t now = now_ms(p);
	const struct bms_snapshot *sn = &b->rec.snap;
	bool online = b->res.connected && !b->res.stale;
	double soc = bms_cpct_to_pct(sn->soc_cpct);
	bool have_soc = sn->valid & BMS_V_SOC;
	struct publish_ext_values ev;
	if (p->ext && ext_for_pack(p, b)) {
		/* the external monitor's values replace the BMS's while it gives them */
		publish_ext_set_limits(p->ext,
				       bms_plausible_current_max_ma(
					       (int32_t)(p->ccfg->max_charge_current * 1000.0)),
				       bms_plausible_current_max_ma(
					       (int32_t)(p->ccfg->max_discharge_current * 1000.0)));
		publish_ext_values(p->ext, &ev);
		if (ev.current_valid && online) {
			publish_set_double(b->tree, PP_DC_0_CURRENT, ev.current_a);
			publish_set_double_if(
				b->tree, PP_DC_0_POWER, sn->valid & BMS_V_VOLTAGE,
				round(bms_mv_to_v(sn->voltage_mv) * ev.current_a * 10) / 10);
		}
		if (ev.soc_valid) {
			soc = ev.soc_pct;
			have_soc = true;
			publish_set_double(b->tree, PP_SOC, soc);
		}
	}
	/* withdrawn with the live current once stale, like /Dc/0/Current */
	double avg_a = 0;
	bool avg = avg_mean(&b->cur, now, avg_window_ms(p), &avg_a) && online;
	publish_set_double_if(b->tree, PP_CURRENT_AVG, avg, round(avg_a * 100.0) / 100.0);
	int32_t cap_mah =
		(sn->valid & BMS_V_CAP_FULL) ? sn->capacity_full_mah : sn->capacity_design_mah;
	bool have_cap = sn->valid & (BMS_V_CAP_FULL | BMS_V_CAP_DESIGN);
	time_to_fill(p, b->tree, avg && have_soc && have_cap, soc, bms_mah_to_ah(cap_mah), avg_a);
	/* standby the owner chose shows as such while the BMS holds both FETs off */
	bool running = b->have_res && (b->res.allow_charge || b->res.allow_discharge);
	if (running && b->rec.updated_ms > b->standby_ms)
		b->standby = false; /* a poll after the write shows a FET on again */
	else if (b->standby && b->have_res && b->res.connected)
		publish_set_int(b->tree, PP_MODE, 252);
	wr_fill(b);
	if (b->in_bank)
		p->bank_touched = true;
}

/*
 * Without a settings service nobody hands out instances, and two batteries
 * with the same DeviceInstance would confuse systemcalc and VRM: take the
 * lowest free number at or above the preferred one, as localsettings would.
 */
static void instance_make_unique(struct publish *p, struct publish_service *self)
{
	if (self->have_settings)
		return;
	for (int32_t n = self->instance;; n++) {
		bool taken = p->agg.svc && p->agg.svc != self && p->agg.svc->instance == n;
		for (unsigned i = 0; i < p->nslots && !taken; i++) {
			const struct batt *o = &p->batts[i];
			taken = o->used && o->svc && o->svc != self && o->svc->instance == n;
		}
		if (!taken) {
			self->instance = n;
			return;
		}
	}
}

/* ---- bus upkeep ---- */

/* Our own services: the external source must never be one of them (publish_ext_own_fn). */
static bool own_service(void *ctx, const char *name, const char *owner)
{
	struct publish *p = ctx;
	if (strcmp(name, AGG_NAME) == 0)
		return true;
	for (unsigned s = 0; s <= p->nslots; s++) {
		const struct publish_service *svc = s < p->nslots ? p->batts[s].svc : p->agg.svc;
		if (s < p->nslots && p->batts[s].used) {
			char own[PUBLISH_NAME_LEN];
			pack_service_name(&p->batts[s], own, sizeof(own));
			if (strcmp(own, name) == 0)
				return true;
		}
		const char *u = svc && svc->conn ? dbus_bus_get_unique_name(svc->conn) : NULL;
		if (owner[0] && u && strcmp(u, owner) == 0)
			return true;
	}
	return false;
}

static void agg_update(struct publish *p, uint64_t now);

#define EXT_NONE (-1)
#define EXT_BANK (-2)

static void ext_refill(struct publish *p);

/*
 * The source's values or the ESS minimum SOC changed: refill what uses them,
 * at once. A monitor's update concerns only its user; the minimum SOC every
 * /TimeToGo.
 */
static void ext_changed(struct publish *p)
{
	unsigned c = p->ext ? publish_ext_take_changed(p->ext) : 0;
	if (c & PUBLISH_EXT_MIN_SOC) {
		ext_refill(p);
	} else if (c && p->ext_target >= 0) {
		struct batt *b = &p->batts[p->ext_target];
		if (b->used && b->tree && b->have_res) {
			batt_fill(p, b);
			if (b->svc && b->svc->owned)
				publish_tree_flush(b->tree, b->svc->conn,
						   p->cfg->properties_changed);
		}
	} else if (c && p->ext_target == EXT_BANK) {
		agg_update(p, now_ms(p));
	}
}

/*
 * The source moved to another user (a second pack appeared, the bank
 * formed): the one that had it shows its BMS's values again in this cycle,
 * not at its next poll.
 */
static void ext_retarget(struct publish *p)
{
	if (!p->cfg->external_source[0] && !p->ext_entry)
		return;
	int target = ext_for_bank(p) ? EXT_BANK : EXT_NONE;
	for (unsigned s = 0; s < p->nslots && target == EXT_NONE; s++)
		if (p->batts[s].used && ext_for_pack(p, &p->batts[s]))
			target = (int)s;
	if (target == p->ext_target)
		return;
	p->ext_target = target;
	ext_refill(p);
}

static void ext_refill(struct publish *p)
{
	for (unsigned s = 0; s < p->nslots; s++) {
		struct batt *b = &p->batts[s];
		if (!b->used || !b->tree || !b->have_res)
			continue;
		batt_fill(p, b);
		if (b->svc && b->svc->owned)
			publish_tree_flush(b->tree, b->svc->conn, p->cfg->properties_changed);
	}
	if (p->agg.active)
		agg_update(p, now_ms(p));
}

/*
 * Bus timing runs on the real monotonic clock, not on the data clock
 * (p->clock_ms): a restarted bus daemon does not wait for the next reading.
 */
#define RECONNECT_FIRST_MS 100u
#define RECONNECT_CAP_MS 2000u
#define NAME_RETRY_MS 1000u

static const char *svc_label(const struct publish_service *svc)
{
	return svc->name[0] ? svc->name : svc->sid;
}

static void svc_backoff(struct publish_service *svc, uint64_t rt)
{
	uint32_t b = svc->backoff_ms ? svc->backoff_ms * 2u : RECONNECT_FIRST_MS;
	svc->backoff_ms = b > RECONNECT_CAP_MS ? RECONNECT_CAP_MS : b;
	svc->retry_at_ms = rt + svc->backoff_ms;
}

/*
 * Keep one service on the bus, run after every wake-up of the loop: make a
 * connection when there is none (claim the instance, export, then request the
 * name, in that order), claim again when the settings service appears, ask
 * for a wanted name we do not hold (at once when the bus says it was
 * released, else every NAME_RETRY_MS) and, once the name is ours on a new
 * connection, send every value. want_name NULL: hold no name (an aggregate
 * not yet active). Returns when to come back (monotonic ms, UINT64_MAX: not
 * before something happens).
 */
static uint64_t svc_upkeep(struct publish *p, struct publish_service *svc, const char *want_name,
			   uint64_t rt)
{
	if (!svc->conn) {
		if (rt < svc->retry_at_ms)
			return svc->retry_at_ms;
		bool retrying = svc->backoff_ms != 0;
		if (publish_service_connect(svc) < 0) {
			if (!retrying)
				log_warn("publish: %s: cannot reach the bus; retrying",
					 svc_label(svc));
			svc_backoff(svc, rt);
			return svc->retry_at_ms;
		}
		if (retrying || svc->resend) {
			log_info("publish: %s: connected to the bus again", svc_label(svc));
			atomic_fetch_add(&p->st_reconnects, 1);
		}
		if (svc->sid[0]) {
			publish_service_claim(svc, svc->sid, svc->default_instance);
			instance_make_unique(p, svc);
		}
		if (svc->tree)
			publish_service_export(svc, svc->tree);
		svc->retry_at_ms = rt;
	} else if (svc->settings_back) {
		/* the settings service came (back): its instance and name win over our fallback */
		publish_service_claim(svc, svc->sid, svc->default_instance);
		instance_make_unique(p, svc);
	}
	if (svc->reclaim) {
		svc->reclaim = false;
		publish_service_release_name(svc);
		svc->retry_at_ms = rt;
	}
	if (want_name && !svc->owned && (svc->name_free || rt >= svc->retry_at_ms)) {
		if (publish_service_request_name(svc, want_name) < 0)
			svc->retry_at_ms = rt + NAME_RETRY_MS;
	}
	if (svc->owned && svc->tree && svc->resend) {
		publish_tree_mark_changed(svc->tree);
		svc->resend = false;
		publish_tree_flush(svc->tree, svc->conn, p->cfg->properties_changed);
	}
	return want_name && !svc->owned ? svc->retry_at_ms : UINT64_MAX;
}

/* Create the service and bring it onto the bus (every path has its value by now). */
/* ret_due (may be NULL): when the service wants its next upkeep, as svc_upkeep() says. */
static int batt_register(struct publish *p, struct batt *b, uint64_t *ret_due)
{
	if (!b->svc) {
		int r = publish_service_new(p->bus_address, &b->svc);
		if (r < 0)
			return r;
		/* dbus-serialbattery's entry for this pack, if any, is taken over at the claim */
		unsigned ports, pending, others = 0;
		store_port_count(p->st, &ports, &pending);
		for (unsigned i = 0; i < p->nslots; i++)
			others += p->batts[i].used && &p->batts[i] != b;
		publish_service_migrate_hint(b->svc, &b->rec.snap, b->tty, b->address,
					     ports <= 1 && others == 0);
		/* no connection yet: this records the identity, the claim runs on connecting */
		publish_service_claim(b->svc, b->sid, (int32_t)p->cfg->device_instance);
		publish_service_export(b->svc, b->tree);
		/* export showed the stored name, "" until settings answer: the default meanwhile */
		publish_paths_names(b->tree, &b->rec, p->cfg->product_name, b->svc->custom_name);
	}
	char name[PUBLISH_NAME_LEN];
	pack_service_name(b, name, sizeof(name));
	uint64_t due = svc_upkeep(p, b->svc, name, time_mono_ms());
	if (ret_due)
		*ret_due = due;
	return b->svc->owned ? 0 : b->svc->conn ? -EEXIST : -ENOTCONN;
}

static int batt_create(struct publish *p, int slot, const struct store_record *rec, uint64_t now)
{
	struct batt *b = &p->batts[slot];
	memset(b, 0, sizeof(*b));
	b->used = true;
	b->slot = slot;
	b->pub = p;
	b->rec = *rec;
	snprintf(b->key, sizeof(b->key), "%s", rec->info.key);
	publish_sanitize(rec->info.key, b->sid, sizeof(b->sid));
	snprintf(b->tty, sizeof(b->tty), "%s", rec->info.tty);
	b->address = rec->info.address;
	bank_place(p, b);
	bool returning = false; /* in this run: our forces are still ours, not a restart's */
	for (unsigned i = 0; i < p->nslots && !returning; i++)
		if (p->kept[i].used && strcmp(p->kept[i].key, b->key) == 0) {
			returning = true;
			for (int w = 0; w < WR_KINDS; w++)
				b->wr.s[w].force = p->kept[i].wr_force[w];
		}
	if (!kept_take(p, b->key, &b->cst)) {
		charge_state_init(&b->cst);
		state_load(p, b, now);
	}
	hist_load(p, b);
	/* without memory for it, /CurrentAvg stays invalid: nothing else depends on it */
	avg_init(&b->cur, avg_window_ms(p),
		 rec->info.poll_interval_ms ? rec->info.poll_interval_ms : p->cfg->interval_ms);
	soc_setup(p, b);

	int r = publish_tree_new(pack_on_write, b, &b->tree);
	unsigned ncells = (rec->snap.valid & BMS_V_CELLS) ? rec->snap.cell_count : 0;
	if (r == 0)
		r = publish_paths_build_pack(b->tree, ncells, false,
					     bms_driver_find(rec->info.protocol),
					     &p->cfg->time_to_soc_points);
	if (r < 0) {
		batt_remove(p, b);
		return r;
	}
	publish_paths_bands(b->tree, p->cfg);
	publish_tree_share_buffer(b->tree, &p->msgbuf);
	char conn[80];
	if (b->address)
		snprintf(conn, sizeof(conn), "Serial %s__0x%02x", b->tty, b->address);
	else
		snprintf(conn, sizeof(conn), "Serial %s", b->tty);
	publish_paths_fixed(b->tree, conn); /* the names follow the snapshot (batt_fill) */
	b->seen_seq = rec->seq;
	b->reported = true;
	soc_apply(p, b, true, now);
	current_avg_add(b);
	batt_compute(p, b, now);
	publish_history_update(&b->hist, &b->rec.snap, &b->res.stats, rec->updated_ms,
			       rec->info.poll_interval_ms);
	wr_restore(p, b, returning);
	batt_fill(p, b);
	/* every path exists and has its value before the name is requested */
	r = batt_register(p, b, NULL);
	if (r == -ENOMEM) {
		batt_remove(p, b);
		return r;
	}
	return 0; /* not on the bus yet: bus_upkeep retries */
}

/* Process one slot; tick: also when its seq did not change (ages). */
static void slot_update(struct publish *p, int slot, bool tick, uint64_t now)
{
	struct store_record rec;
	if (store_read(p->st, slot, &rec) < 0)
		return;
	struct batt *b = &p->batts[slot];
	/* a service to create or remove: the thread's (its seq stays unseen for it) */
	if ((b->used ? strcmp(b->key, rec.info.key) != 0 ||
			       (rec.info.tty[0] && strcmp(b->tty, rec.info.tty) != 0)
		     : rec.state == STORE_GONE || (rec.state == STORE_ONLINE && rec.updated_ms)) &&
	    thread_only(p))
		return;
	if (b->used && strcmp(b->key, rec.info.key) != 0)
		batt_remove(p, b); /* slot re-used by another battery */
	if (b->used && rec.info.tty[0] && strcmp(b->tty, rec.info.tty) != 0) {
		/* re-plugged on another port: the service name follows the tty */
		log_info("publish: %s moved from %s to %s", b->key, b->tty, rec.info.tty);
		batt_remove(p, b);
	}

	if (!b->used) {
		if (rec.state == STORE_GONE)
			store_release(p->st, slot);
		else if (rec.state == STORE_ONLINE && rec.updated_ms)
			batt_create(p, slot, &rec, now);
		return;
	}
	bool fresh = rec.seq != b->seen_seq;
	if (!fresh && !tick)
		return;
	bool new_data = fresh && rec.updated_ms && rec.updated_ms != b->rec.updated_ms;
	if (new_data)
		b->reported = true;
	b->rec = rec;
	b->seen_seq = rec.seq;
	/* half an interval of slack: the next poll's data, not the timer, should wake us */
	b->next_tick_ms = now + (uint64_t)p->cfg->interval_ms * 3u / 2u;
	soc_apply(p, b, new_data, now);
	if (new_data)
		current_avg_add(b);
	mode_outcome(b);
	wr_outcome(b, now);
	batt_compute(p, b, now);
	wr_verify(b, now);
	wr_pump(b);
	if (new_data) /* after the limits: the history sees the cells they came from */
		publish_history_update(&b->hist, &b->rec.snap, &b->res.stats, rec.updated_ms,
				       rec.info.poll_interval_ms);
	hist_save(p, b, now, false);

	if (rec.state == STORE_GONE) {
		if (!b->gone_since_ms)
			b->gone_since_ms = now;
		/* comms-loss policy ran (stale then lost); remove once lost or after the grace time
		 */
		if (!b->res.connected ||
		    now - b->gone_since_ms >= (uint64_t)p->cfg->gone_remove_after_s * 1000u) {
			if (thread_only(p)) {
				b->next_tick_ms = 0; /* due at the thread's cycle */
				return;
			}
			log_info("publish: %s gone, removing its service", b->key);
			store_release(p->st, slot);
			batt_remove(p, b);
			return;
		}
	} else {
		b->gone_since_ms = 0;
	}
	batt_fill(p, b);
	/* the poll counters alone are sent at most once a minute (publish clock) */
	if (now - b->quiet_sent_ms >= QUIET_PERIOD_MS) {
		publish_tree_release_quiet(b->tree);
		b->quiet_sent_ms = now;
	}
	/* registration and its retries: bus_upkeep, after every wake-up */
	if (b->svc && b->svc->owned)
		publish_tree_flush(b->tree, b->svc->conn, p->cfg->properties_changed);
}

/* ---- aggregate ---- */

static bool pack_online(const struct batt *b)
{
	return b->used && b->have_res && b->res.connected && !b->res.stale &&
	       b->rec.state != STORE_GONE;
}

static int agg_create(struct publish *p)
{
	struct aggregate *a = &p->agg;
	int r = publish_tree_new(agg_on_write, a, &a->tree);
	if (r == 0)
		r = publish_paths_build_pack(a->tree, 0, true, NULL, &p->cfg->time_to_soc_points);
	if (r == 0) {
		publish_paths_bands(a->tree, p->cfg);
		publish_tree_share_buffer(a->tree, &p->msgbuf);
	}
	if (r == 0)
		r = publish_service_open(p->bus_address, &a->svc);
	if (r < 0) {
		publish_tree_free(a->tree);
		a->tree = NULL;
		return r;
	}
	if (!a->cur.cap) /* sampled at most once a second */
		avg_init(&a->cur, avg_window_ms(p), BANK_AVG_STEP_MS);
	publish_set_string(a->tree, PP_PRODUCT_NAME, "Battery bank");
	publish_paths_fixed(a->tree, "Parallel packs");
	publish_service_claim(a->svc, "aggregate", (int32_t)p->cfg->aggregate_instance);
	instance_make_unique(p, a->svc);
	return 0;
}

/* The bank's inputs: every member, with its pack's live result or what it left behind. */
static unsigned bank_inputs(struct publish *p, struct bank_pack_in *in)
{
	for (unsigned s = 0; s < p->nslots; s++) {
		struct batt *b = &p->batts[s];
		/* a forgotten pack re-joins once it reports again */
		if (b->used && b->in_bank && b->member < 0 && pack_online(b)) {
			b->member = member_attach(p, b, bank_named_position(p, b));
			if (b->member >= 0)
				b->bank_index = b->member + 1;
		}
	}
	unsigned n = 0;
	for (int i = 0; i < BANK_MAX_PACKS; i++) {
		struct bank_slot *m = &p->agg.members[i];
		struct bank_pack_in *x = &in[i];
		memset(x, 0, sizeof(*x));
		if (!m->used)
			continue;
		n = (unsigned)i + 1;
		struct batt *b = member_batt(p, i);
		/* a long bank_packs entry is cut: the label only has to tell packs apart */
		snprintf(x->label, sizeof(x->label), "%d (%.*s)", i + 1, BANK_LABEL_LEN - 8,
			 m->tty[0]    ? m->tty
			 : m->name[0] ? m->name
				      : "?");
		x->link = BANK_OFFLINE;
		if (b && b->have_res) {
			m->last = b->res;
			m->have_res = true;
			m->reported = m->reported || b->reported;
			snprintf(m->tty, sizeof(m->tty), "%s", b->tty);
			const struct bms_snapshot *sn = &b->rec.snap;
			/* in parallel until the comms-loss policy declares it lost */
			x->link = !b->res.connected ? BANK_OFFLINE
				  : pack_online(b)  ? BANK_ONLINE
						    : BANK_STALE;
			x->current_valid = x->link == BANK_ONLINE && (sn->valid & BMS_V_CURRENT);
			x->current_a = bms_ma_to_a(sn->current_ma);
			/* a silent pack's last FET state is no news: it may have switched since */
			x->fets_valid = x->link == BANK_ONLINE && (sn->valid & BMS_V_FETS) != 0;
			x->charge_fet = sn->charge_fet;
			x->discharge_fet = sn->discharge_fet;
		}
		x->have_res = m->have_res;
		x->res = m->last;
	}
	return n;
}

/* Start-up: the bank publishes no limits or SOC until it knows every pack it waits for. */
static bool bank_complete(struct publish *p, uint64_t now, bool ports_done)
{
	const struct publish_config *c = p->cfg;
	if (p->complete || now - p->start_ms >= (uint64_t)c->bank_startup_timeout_s * 1000u)
		return true;
	if (bank_all(c))
		/* every port known at start has its pack committed or found nothing */
		return ports_done && p->detecting == 0;
	for (int i = 0; i < BANK_MAX_PACKS; i++) {
		const struct bank_slot *m = &p->agg.members[i];
		if (m->used && m->name[0]) {
			const struct batt *b = member_batt(p, i);
			if (!m->reported && !(b && b->reported))
				return false;
		}
	}
	return true;
}

/*
 * The bank's external source, /CurrentAvg and times: the source's current
 * and SOC replace the packs' sum and weighted SOC while it gives them; the
 * averaged current (whichever source) feeds /TimeToGo from the bank's
 * capacity.
 */
static void agg_ext_avg(struct publish *p, struct publish_tree *t, bool have_soc, double soc,
			double cap_ah, double volt, bool have_i, double isum, uint64_t now)
{
	struct aggregate *a = &p->agg;
	if (p->ext && ext_for_bank(p)) {
		/* a bank's plausible current: every member's at once */
		unsigned n = a->res.members ? a->res.members : 1;
		int64_t mc = bms_plausible_current_max_ma(
			(int32_t)(p->ccfg->max_charge_current * 1000.0));
		int64_t md = bms_plausible_current_max_ma(
			(int32_t)(p->ccfg->max_discharge_current * 1000.0));
		publish_ext_set_limits(p->ext, mc * n, md * n);
		struct publish_ext_values ev;
		publish_ext_values(p->ext, &ev);
		if (ev.current_valid) {
			have_i = true;
			isum = ev.current_a;
			publish_set_double(t, PP_DC_0_CURRENT, round(isum * 1000) / 1000);
			publish_set_double_if(t, PP_DC_0_POWER, !isnan(volt),
					      round(volt * isum * 10) / 10);
		}
		if (ev.soc_valid && p->complete) {
			have_soc = true;
			soc = ev.soc_pct;
			publish_set_double(t, PP_SOC, round(soc * 100) / 100);
		}
	}
	uint32_t last = a->cur.n ? a->cur.t[(a->cur.head + a->cur.n - 1) % a->cur.cap] : 0;
	if (have_i && (!a->cur.n || (uint32_t)((uint32_t)now - last) >= BANK_AVG_STEP_MS))
		avg_add(&a->cur, (int32_t)lround(isum * 1000.0), now, avg_window_ms(p));
	double avg_a = 0;
	bool avg = avg_mean(&a->cur, now, avg_window_ms(p), &avg_a) && have_i;
	publish_set_double_if(t, PP_CURRENT_AVG, avg, round(avg_a * 100.0) / 100.0);
	time_to_fill(p, t, avg && have_soc && cap_ah > 0, soc, cap_ah, avg_a);
}

static void agg_fill(struct publish *p, uint64_t now)
{
	struct aggregate *a = &p->agg;
	struct publish_tree *t = a->tree;

	struct bank_pack_in in[BANK_MAX_PACKS];
	unsigned nin = bank_inputs(p, in);
	/* an incomplete bank would measure a split without the packs still to come */
	struct bank_config bc = {.share_current =
					 p->complete ? p->cfg->bank_share_current : INFINITY,
				 .share_fall_time = (double)p->cfg->bank_share_fall_time_s};
	bank_step(&bc, in, nin, &a->bst, now, &a->res);
	const struct bank_result *br = &a->res;

	unsigned nv = 0, cells = 0;
	double vsum = 0, isum = 0, psum = 0, socw = 0, capw = 0, socsum = 0, remain = 0, full = 0;
	unsigned nsoc = 0;
	bool have_i = false, have_p = false, have_remain = false, have_full = false;
	uint8_t alarms[BMS_ALARM_COUNT];
	uint32_t known_alarms = 0; /* reported by at least one member */
	memset(alarms, 0, sizeof(alarms));
	double cmin = INFINITY, cmax = -INFINITY, tmin = INFINITY, tmax = -INFINITY, tsum = 0;
	unsigned nt = 0;
	char cmin_id[24] = "", cmax_id[24] = "", tmin_id[24] = "", tmax_id[24] = "";
	int heating = -1; /* /Heating: 1 any pack heats, 0 some report it, -1 none does */

	for (unsigned s = 0; s < p->nslots; s++) {
		const struct batt *b = &p->batts[s];
		if (!b->used || !b->in_bank || b->member < 0 || !b->have_res)
			continue;
		const struct bms_snapshot *sn = &b->rec.snap;
		if (sn->valid & BMS_V_ALARMS) {
			uint32_t known = publish_paths_alarm_mask(&b->rec);
			known_alarms |= known;
			for (int k = 0; k < BMS_ALARM_COUNT; k++)
				if ((known >> k & 1u) && sn->alarm[k] > alarms[k])
					alarms[k] = sn->alarm[k];
		}
		if (!pack_online(b))
			continue; /* measurements only from packs with fresh data */
		if ((sn->valid & BMS_V_HEATING) && heating < 1)
			heating = sn->heating ? 1 : 0;
		if (sn->valid & BMS_V_VOLTAGE) {
			vsum += bms_mv_to_v(sn->voltage_mv);
			nv++;
		}
		if (sn->valid & BMS_V_CURRENT) {
			isum += bms_ma_to_a(sn->current_ma);
			have_i = true;
		}
		double w;
		if (publish_snap_power(sn, &w)) {
			psum += w;
			have_p = true;
		}
		double capf =
			(sn->valid & BMS_V_CAP_FULL) ? bms_mah_to_ah(sn->capacity_full_mah) : 0;
		if (sn->valid & BMS_V_SOC) {
			socsum += bms_cpct_to_pct(sn->soc_cpct);
			nsoc++;
			socw += bms_cpct_to_pct(sn->soc_cpct) * capf;
			capw += capf;
		}
		if (sn->valid & BMS_V_CAP_REMAIN) {
			remain += bms_mah_to_ah(sn->capacity_remain_mah);
			have_remain = true;
		}
		if (sn->valid & BMS_V_CAP_FULL) {
			full += capf;
			have_full = true;
		}
		/* the cells the pack's limits came from (its charge result) */
		const struct bms_stats *cs = &b->res.stats;
		if (cs->cell_count) {
			if (bms_mv_to_v(cs->cell_min_mv) < cmin) {
				cmin = bms_mv_to_v(cs->cell_min_mv);
				snprintf(cmin_id, sizeof(cmin_id), "%d:C%d", b->bank_index,
					 cs->cell_min_idx + 1);
			}
			if (bms_mv_to_v(cs->cell_max_mv) > cmax) {
				cmax = bms_mv_to_v(cs->cell_max_mv);
				snprintf(cmax_id, sizeof(cmax_id), "%d:C%d", b->bank_index,
					 cs->cell_max_idx + 1);
			}
			cells = sn->cell_count;
		}
		if ((sn->valid & BMS_V_TEMPS))
			for (unsigned k = 0; k < sn->temp_count && k < BMS_MAX_TEMPS; k++) {
				double tv = bms_dc_to_c(sn->temp_dc[k]);
				tsum += tv;
				nt++;
				if (tv < tmin) {
					tmin = tv;
					snprintf(tmin_id, sizeof(tmin_id), "Pack %d Battery %u",
						 b->bank_index, k + 1);
				}
				if (tv > tmax) {
					tmax = tv;
					snprintf(tmax_id, sizeof(tmax_id), "Pack %d Battery %u",
						 b->bank_index, k + 1);
				}
			}
	}

	bool ready = p->complete;
	publish_set_int(t, PP_CONNECTED, br->online + br->stale ? 1 : 0);
	struct charge_result r;
	memset(&r, 0, sizeof(r));
	r.cvl_valid = br->cvl_valid;
	r.cvl_v = br->cvl_v;
	r.ccl_a = br->ccl_a;
	r.dcl_a = br->dcl_a;
	r.battery_low_voltage_v = br->battery_low_voltage_v;
	snprintf(r.mode, sizeof(r.mode), "%s", br->mode);
	snprintf(r.charge_limitation, sizeof(r.charge_limitation), "%s", br->charge_limitation);
	snprintf(r.discharge_limitation, sizeof(r.discharge_limitation), "%s",
		 br->discharge_limitation);
	publish_paths_limits(t, &r, ready && br->limits_valid);
	publish_set_invalid(t, PP_IO_ALLOW_TO_BALANCE);
	if (ready) {
		bool allow_c = br->allow_charge, allow_d = br->allow_discharge;
		publish_set_int(t, PP_IO_ALLOW_TO_CHARGE, allow_c);
		publish_set_int(t, PP_IO_ALLOW_TO_DISCHARGE, allow_d);
		publish_set_int(t, PP_STATE, allow_c || allow_d ? 9 : 14);
		publish_set_int(t, PP_MODE, allow_c || allow_d ? 3 : bank_standby(p) ? 252 : 4);
	} else {
		/* a bank not yet complete has computed nothing: no 0 and no standby */
		publish_set_invalid(t, PP_IO_ALLOW_TO_CHARGE);
		publish_set_invalid(t, PP_IO_ALLOW_TO_DISCHARGE);
		publish_set_invalid(t, PP_STATE);
		publish_set_invalid(t, PP_MODE);
	}

	publish_set_double_if(t, PP_DC_0_VOLTAGE, nv > 0,
			      round(vsum / (nv ? nv : 1) * 1000) / 1000);
	publish_set_double_if(t, PP_DC_0_CURRENT, have_i, round(isum * 1000) / 1000);
	publish_set_double_if(t, PP_DC_0_POWER, have_p, round(psum * 10) / 10);
	publish_set_double_if(t, PP_DC_0_TEMPERATURE, nt > 0,
			      round(tsum / (nt ? nt : 1) * 10) / 10);
	double soc = capw > 0 ? socw / capw : socsum / (nsoc ? nsoc : 1);
	publish_set_double_if(t, PP_SOC, ready && nsoc > 0, round(soc * 100) / 100);
	publish_set_invalid(t, PP_SOH);
	publish_set_double_if(t, PP_CAPACITY, have_remain, round(remain * 1000) / 1000);
	publish_set_double_if(t, PP_INSTALLED_CAPACITY, have_full, round(full * 1000) / 1000);
	publish_set_double_if(t, PP_CONSUMED_AMPHOURS, have_full && have_remain,
			      -round((full - remain) * 1000) / 1000);
	agg_ext_avg(p, t, ready && nsoc > 0, soc, have_full ? full : 0, nv ? vsum / nv : NAN,
		    have_i, isum, now);
	publish_set_double_if(t, PP_SYSTEM_MIN_CELL_VOLTAGE, cmin_id[0], cmin);
	publish_set_double_if(t, PP_SYSTEM_MAX_CELL_VOLTAGE, cmax_id[0], cmax);
	publish_set_string_if(t, PP_SYSTEM_MIN_VOLTAGE_CELL_ID, cmin_id[0], cmin_id);
	publish_set_string_if(t, PP_SYSTEM_MAX_VOLTAGE_CELL_ID, cmax_id[0], cmax_id);
	publish_set_double_if(t, PP_SYSTEM_MIN_CELL_TEMPERATURE, nt > 0, tmin);
	publish_set_double_if(t, PP_SYSTEM_MAX_CELL_TEMPERATURE, nt > 0, tmax);
	publish_set_string_if(t, PP_SYSTEM_MIN_TEMPERATURE_CELL_ID, nt > 0, tmin_id);
	publish_set_string_if(t, PP_SYSTEM_MAX_TEMPERATURE_CELL_ID, nt > 0, tmax_id);
	publish_set_string_if(t, PP_BANK_OFFLINE, br->offline_text[0], br->offline_text);
	publish_set_invalid(t, PP_SYSTEM_MOSTEMPERATURE);
	publish_set_int_if(t, PP_HEATING, heating >= 0, heating);
	if (cells)
		publish_set_int(t, PP_SYSTEM_NR_OF_CELLS_PER_BATTERY, (int32_t)cells);
	else
		publish_set_invalid(t, PP_SYSTEM_NR_OF_CELLS_PER_BATTERY);
	publish_set_int(t, PP_SYSTEM_NR_OF_MODULES_ONLINE, (int32_t)br->online);
	/* a stale pack is offline here as on its own service, though its limits still count */
	publish_set_int(t, PP_SYSTEM_NR_OF_MODULES_OFFLINE, (int32_t)(br->members - br->online));
	publish_set_int(t, PP_SYSTEM_NR_OF_MODULES_BLOCKING_CHARGE, (int32_t)br->blocking_charge);
	publish_set_int(t, PP_SYSTEM_NR_OF_MODULES_BLOCKING_DISCHARGE,
			(int32_t)br->blocking_discharge);
	publish_set_int(t, PP_SYSTEM_NR_OF_BATTERIES, (int32_t)br->members);
	publish_set_int(t, PP_SYSTEM_BATTERIES_PARALLEL, (int32_t)br->members);
	for (unsigned k = 0; k < BMS_ALARM_COUNT; k++)
		publish_set_int_if(t, PP_ALARM + k, known_alarms >> k & 1u, alarms[k]);
	publish_set_int(t, PP_ALARMS_BMS_CABLE, br->bms_cable_alarm);
	/* gui-v2's device pages: no own fault code (the alarms say it), no settings page */
	publish_set_int(t, PP_ERROR_CODE, 0);
	char ci[48];
	snprintf(ci, sizeof(ci), "%u of %u packs online", br->online, br->members);
	publish_set_string(t, PP_CONNECTION_INFORMATION, ci);
	publish_set_int(t, PP_SETTINGS_HAS_SETTINGS, 0);
	publish_set_int(t, PP_SETTINGS_HAS_TEMPERATURE, nt > 0 ? 1 : 0);
	publish_set_int(t, PP_SETTINGS_HAS_STARTER_VOLTAGE, 0);
	publish_set_invalid(t, PP_DEVICE_NAME);
	if (!a->svc || !a->svc->custom_name[0]) {
		/* the name an owner would write, until they write one */
		char name[48];
		snprintf(name, sizeof(name), "Battery bank (%u pack%s)", br->members,
			 br->members == 1 ? "" : "s");
		publish_set_string(t, PP_CUSTOM_NAME, name);
	}
}

/* Bank packs expected now: those known, or the named list, or the ports known at start. */
static unsigned bank_expected(const struct publish *p)
{
	unsigned members = 0;
	for (unsigned s = 0; s < p->nslots; s++)
		members += p->batts[s].used && p->batts[s].in_bank;
	unsigned listed = 0;
	for (int i = 0; i < BANK_MAX_PACKS; i++)
		listed += p->agg.members[i].used;
	unsigned e = members > listed ? members : listed;
	if (bank_all(p->cfg) && p->start_ports > e)
		e = p->start_ports;
	return e;
}

static void agg_update(struct publish *p, uint64_t now)
{
	struct aggregate *a = &p->agg;
	const struct publish_config *c = p->cfg;
	if (!a->active) {
		/* sticky once active: Venus must not see the BMS switch back and forth */
		unsigned expected = bank_expected(p);
		bool want = (c->bank_mode == PUBLISH_BANK_ON && expected >= 1) ||
			    (c->bank_mode == PUBLISH_BANK_AUTO && expected >= 2);
		if (!want || thread_only(p)) /* a service to create: the thread's */
			return;
		if (!a->tree && agg_create(p) < 0)
			return;
		a->active = true;
		log_info("publish: bank of %u packs: publishing %s", expected, AGG_NAME);
		agg_fill(p, now);
		publish_service_export(a->svc, a->tree);
		agg_fill(p, now); /* export wrote DeviceInstance/CustomName */
		publish_service_request_name(a->svc, AGG_NAME);
		return;
	}
	agg_fill(p, now);
	if (!a->svc->owned)
		publish_service_request_name(a->svc, AGG_NAME);
	else
		publish_tree_flush(a->tree, a->svc->conn, c->properties_changed);
}

/* A pack whose /Info ownership changed (bank decided or formed) is refilled at once. */
static void handover_info(struct publish *p)
{
	for (unsigned s = 0; s < p->nslots; s++) {
		struct batt *b = &p->batts[s];
		if (!b->used || !b->tree || b->info_hidden == aggregate_owns_info(p, b))
			continue;
		batt_fill(p, b);
		if (b->svc && b->svc->owned)
			publish_tree_flush(b->tree, b->svc->conn, p->cfg->properties_changed);
	}
}

/* ---- the loop ---- */

/*
 * One pass over the slots. A battery is re-evaluated when its data changed or
 * when its own deadline (one publish interval after it was last evaluated)
 * passed, so a battery that reports every poll never costs an extra wake-up;
 * a silent one is still re-evaluated every interval, which is what moves it
 * through the comms-loss policy. The one-shot timer is armed for the earliest
 * deadline, never later than one and a half intervals from now.
 */
static void cycle(struct publish *p, bool timer)
{
	uint64_t now = now_ms(p);
	uint64_t interval = (uint64_t)p->cfg->interval_ms;
	bool was_complete = p->complete;
	bool ports_done = true;
	if (!p->complete) {
		/* the registry before the slots: a port marked detected has its pack committed */
		unsigned total, pending;
		store_port_count(p->st, &total, &pending);
		ports_done = pending == 0;
		p->detecting = 0;
		for (unsigned s = 0; s < p->nslots; s++) {
			struct store_record rec;
			if (store_read(p->st, (int)s, &rec) == 0 && rec.state == STORE_DETECTING)
				p->detecting++;
		}
		p->complete = bank_complete(p, now, ports_done);
	}
	p->bank_touched = false;
	for (unsigned s = 0; s < p->nslots; s++) {
		struct batt *b = &p->batts[s];
		bool due = b->used ? now >= b->next_tick_ms : timer;
		slot_update(p, (int)s, due, now);
	}
	if (!p->complete)
		p->complete = bank_complete(p, now, ports_done); /* named packs that reported now */
	if (p->complete && !was_complete)
		log_info("publish: bank start-up complete after %" PRIu64 " ms", now - p->start_ms);
	/* a member's reduction reaches the bank in the cycle that brought it, never on the timer */
	if (!p->agg.active || p->bank_touched || timer || now >= p->agg_next_ms ||
	    p->complete != was_complete) {
		agg_update(p, now);
		if (p->agg.active && (timer || now >= p->agg_next_ms))
			p->agg_next_ms = now + interval;
	}
	ext_retarget(p);
	handover_info(p);
	uint64_t next = p->agg.active ? p->agg_next_ms : UINT64_MAX;
	for (unsigned s = 0; s < p->nslots; s++)
		if (p->batts[s].used && p->batts[s].next_tick_ms < next)
			next = p->batts[s].next_tick_ms;
	uint64_t wait = next > now ? next - now : 1;
	if (wait > interval * 3u / 2u)
		wait = interval * 3u / 2u;
	struct itimerspec its = {.it_value = time_ms_to_timespec(wait)};
	timerfd_settime(p->timer_fd, 0, &its, NULL);
}

/* After dispatching: flush what handlers changed (an instance change is bus_upkeep's). */
static void after_dispatch(struct publish *p, struct publish_service *svc, struct publish_tree *t)
{
	if (svc->owned && !svc->reclaim)
		publish_tree_flush(t, svc->conn, p->cfg->properties_changed);
}

/* The bus went away (daemon restarted, or it dropped us): reconnect with backoff. */
static void drop_disconnected(struct publish *p, struct publish_service *svc)
{
	(void)p;
	log_warn("publish: lost the bus connection of %s; reconnecting", svc_label(svc));
	publish_service_lost(svc);
	svc->backoff_ms = 0;
	svc_backoff(svc, time_mono_ms());
}

static void stats_add(const struct publish_service *svc, const struct publish_tree *t,
		      struct publish_stats *st)
{
	if (t) {
		st->requests += publish_tree_requests(t);
		st->dropped_replies += publish_tree_dropped(t);
	}
	if (svc)
		st->ignored_signals += svc->ignored_signals;
}

static void stats_update(struct publish *p)
{
	struct publish_stats st = {0};
	for (unsigned s = 0; s < p->nslots; s++)
		if (p->batts[s].used)
			stats_add(p->batts[s].svc, p->batts[s].tree, &st);
	stats_add(p->agg.svc, p->agg.tree, &st);
	atomic_store(&p->st_requests, st.requests);
	atomic_store(&p->st_dropped, st.dropped_replies);
	atomic_store(&p->st_ignored, st.ignored_signals);
	if (p->ext) {
		struct publish_ext_stats es;
		publish_ext_get_stats(p->ext, &es);
		atomic_store(&p->st_ext_updates, es.updates);
		atomic_store(&p->st_ext_implausible, es.implausible);
		atomic_store(&p->st_ext_refused, es.refused);
		atomic_store(&p->st_ext_lost, es.lost);
	}
}

void publish_get_stats(const struct publish *p, struct publish_stats *ret)
{
	ret->requests = atomic_load(&p->st_requests);
	ret->dropped_replies = atomic_load(&p->st_dropped);
	ret->ignored_signals = atomic_load(&p->st_ignored);
	ret->reconnects = atomic_load(&p->st_reconnects);
	ret->ext_updates = atomic_load(&p->st_ext_updates);
	ret->ext_implausible = atomic_load(&p->st_ext_implausible);
	ret->ext_refused = atomic_load(&p->st_ext_refused);
	ret->ext_lost = atomic_load(&p->st_ext_lost);
	ret->handoffs = atomic_load(&p->st_handoffs);
	ret->handbacks = atomic_load(&p->st_handbacks);
}

/* On the bus with its name and nothing pending. */
static bool svc_settled(const struct publish_service *svc)
{
	return svc->conn && svc->owned && !svc->resend && !svc->reclaim && !svc->settings_back;
}

/* Every service's upkeep; returns the poll timeout in ms (-1: none due). */
static int bus_upkeep(struct publish *p)
{
	uint64_t rt = time_mono_ms(), next = UINT64_MAX;
	for (unsigned s = 0; s < p->nslots; s++) {
		struct batt *b = &p->batts[s];
		if (!b->used)
			continue;
		uint64_t due;
		if (!b->svc) {
			/* a first connect or name request that failed keeps its own retry time */
			due = UINT64_MAX;
			if (batt_register(p, b, &due) == -ENOMEM)
				due = rt + NAME_RETRY_MS;
		} else if (svc_settled(b->svc)) {
			continue; /* the common case, on every wake-up: nothing to format or ask */
		} else {
			char name[PUBLISH_NAME_LEN];
			pack_service_name(b, name, sizeof(name));
			due = svc_upkeep(p, b->svc, name, rt);
		}
		if (due < next)
			next = due;
	}
	if (p->agg.svc) {
		uint64_t due = svc_upkeep(p, p->agg.svc, p->agg.active ? AGG_NAME : NULL, rt);
		if (due < next)
			next = due;
	}
	if (p->ext) {
		uint64_t due = publish_ext_upkeep(p->ext, rt);
		if (due < next)
			next = due;
		ext_changed(p); /* a (re)connection reads the source and the settings */
	}
	stats_update(p);
	if (next == UINT64_MAX)
		return -1;
	rt = time_mono_ms();
	return next > rt ? (int)(next - rt < 60000 ? next - rt : 60000) : 0;
}

/* Nothing for the thread to do after a cycle run elsewhere: on the bus with its name (the
 * aggregate without one while there is no bank), nothing waiting to be written or
 * dispatched. Anything else (a new battery to register, a full socket, a reconnect) is the
 * thread's, which bus_upkeep() and the fds it polls take care of. */
static bool handoff_svc_ok(struct publish_service *svc, bool named)
{
	return svc && svc->conn && dbus_connection_get_is_connected(svc->conn) &&
	       (svc->owned || !named) && !svc->resend && !svc->reclaim && !svc->settings_back &&
	       !publish_service_wants_write(svc) &&
	       dbus_connection_get_dispatch_status(svc->conn) != DBUS_DISPATCH_DATA_REMAINS;
}

static bool handoff_settled(struct publish *p)
{
	for (unsigned s = 0; s < p->nslots; s++)
		if (p->batts[s].used && !handoff_svc_ok(p->batts[s].svc, true))
			return false;
	if (p->agg.svc && !handoff_svc_ok(p->agg.svc, p->agg.active))
		return false;
	return !(p->ext && publish_ext_wants_write(p->ext));
}

/* The hand-off (store_set_handoff()), in the worker that just committed: the cycle the
 * thread would run for this commit, run here when no one owns D-Bus, so a poll that ends
 * costs no second thread's wake-up. Never blocks: a busy lock means the thread is awake
 * (or another worker is publishing) and the store's eventfd brings it this commit too.
 * Sending does not block either: an ItemsChanged goes straight onto the socket only when
 * it takes the whole message (busitem.c send_direct(), which waits at most 1 s to finish
 * the rare partial write), libdbus's sends write what the socket takes and queue the rest,
 * and a queue left (a full socket) hands back to the thread, which polls for POLLOUT. */
static bool handoff(void *ctx)
{
	struct publish *p = ctx;
	if (pthread_mutex_trylock(&p->lock) != 0)
		return false;
	bool done = false;
	if (!p->thread_due && handoff_settled(p)) {
		p->in_handoff = true;
		cycle(p, false);
		p->in_handoff = false;
		done = !p->thread_due && handoff_settled(p);
	}
	atomic_fetch_add(done ? &p->st_handoffs : &p->st_handbacks, 1);
	pthread_mutex_unlock(&p->lock);
	return done;
}

/* What a hand-off left to the thread (thread_only()): the slots' services were created or
 * removed by the cycle that follows the hand-back; the state files are written here. */
static void thread_work(struct publish *p)
{
	uint64_t now = now_ms(p);
	p->thread_due = false;
	for (unsigned s = 0; s < p->nslots; s++) {
		struct batt *b = &p->batts[s];
		if (!b->used)
			continue;
		state_save(p, b);
		soc_save(p, b, now, false);
		hist_save(p, b, now, false);
		wr_save(p, b);
	}
}

static void *thread_main(void *arg)
{
	struct publish *p = arg;
	pthread_mutex_lock(&p->lock);
	size_t cap = 5 + p->nslots;
	struct pollfd *fds = calloc(cap, sizeof(*fds));
	struct publish_service **owners = calloc(cap, sizeof(*owners));
	if (!fds || !owners) {
		log_error("publish: out of memory");
		goto out;
	}
	cycle(p, true);
	if (p->handoff_on) { /* never the store's hook lock while holding ours (see out:) */
		pthread_mutex_unlock(&p->lock);
		store_set_handoff(p->st, handoff, p);
		pthread_mutex_lock(&p->lock);
	}
	for (;;) {
		int timeout = bus_upkeep(p);
		size_t n = 0;
		fds[n++] = (struct pollfd){.fd = p->wake_fd, .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = store_fd(p->st), .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = p->timer_fd, .events = POLLIN};
		for (unsigned s = 0; s <= p->nslots; s++) {
			struct publish_service *svc = s < p->nslots ? p->batts[s].svc : p->agg.svc;
			if (!svc || !svc->conn)
				continue;
			/* messages read during a blocking call are queued, not readable on the fd
			 */
			bool alive = true;
			if (dbus_connection_get_dispatch_status(svc->conn) ==
			    DBUS_DISPATCH_DATA_REMAINS) {
				alive = publish_service_dispatch(svc);
				timeout = 0; /* handlers may have set work for bus_upkeep */
			}
			/* a loss seen inside a blocking call: no fd to poll */
			if (!alive || !dbus_connection_get_is_connected(svc->conn)) {
				drop_disconnected(p, svc);
				timeout = 0;
				continue;
			}
			owners[n] = svc;
			fds[n++] = (struct pollfd){
				.fd = publish_service_fd(svc),
				.events =
					(short)(POLLIN |
						(publish_service_wants_write(svc) ? POLLOUT : 0))};
		}
		size_t ext_k = 0; /* the external source's fd in fds, 0 = none */
		if (p->ext && publish_ext_connected(p->ext)) {
			/* a loss seen inside a blocking call: no fd to poll */
			if (!publish_ext_pending(p->ext) || publish_ext_fd(p->ext) < 0) {
				publish_ext_lost(p->ext);
				ext_changed(p);
				timeout = 0;
			} else {
				ext_changed(p);
				ext_k = n;
				owners[n] = NULL;
				fds[n++] = (struct pollfd){
					.fd = publish_ext_fd(p->ext),
					.events = (short)(POLLIN |
							  (publish_ext_wants_write(p->ext) ? POLLOUT
											   : 0))};
			}
		}
		/* only here is D-Bus free for a worker's hand-off: what it does meanwhile
		 * (a cycle, a sent signal, the timer re-armed) is seen after poll() */
		pthread_mutex_unlock(&p->lock);
		int pr = poll(fds, (nfds_t)n, timeout);
		int perr = errno;
		pthread_mutex_lock(&p->lock);
		if (pr < 0) {
			if (perr == EINTR)
				continue;
			log_error("publish: poll: %s", strerror(perr));
			break;
		}
		if (fds[0].revents)
			break;
		if (fds[1].revents) {
			store_drain(p->st);
			cycle(p, false);
		}
		if (p->thread_due)
			thread_work(p);
		if (fds[2].revents) {
			uint64_t ticks;
			if (read(p->timer_fd, &ticks, sizeof(ticks)) > 0)
				cycle(p, true);
		}
		for (size_t k = 3; k < n; k++) {
			if (!fds[k].revents)
				continue;
			if (k == ext_k) {
				if (!publish_ext_dispatch(p->ext))
					publish_ext_lost(p->ext);
				ext_changed(p);
				continue;
			}
			struct publish_service *svc = owners[k];
			/* the service may have been removed by the cycle above */
			struct batt *b = NULL;
			for (unsigned s = 0; s < p->nslots && !b; s++)
				if (p->batts[s].svc == svc)
					b = &p->batts[s];
			if (!b && svc != p->agg.svc)
				continue;
			if (!publish_service_dispatch(svc)) {
				drop_disconnected(p, svc);
				continue;
			}
			after_dispatch(p, svc, b ? b->tree : p->agg.tree);
		}
	}
out:
	/* waits for a hand-off in progress; ours let go meanwhile, so no lock waits for the
	 * store's hook lock while holding the publisher's (a worker holds them the other way) */
	pthread_mutex_unlock(&p->lock);
	store_set_handoff(p->st, NULL, NULL);
	pthread_mutex_lock(&p->lock);
	for (unsigned s = 0; s < p->nslots; s++)
		if (p->batts[s].used)
			batt_remove(p, &p->batts[s]);
	if (p->agg.svc)
		publish_service_close(p->agg.svc);
	publish_tree_free(p->agg.tree);
	avg_free(&p->agg.cur);
	publish_ext_free(p->ext);
	p->ext = NULL;
	p->agg.svc = NULL;
	p->agg.tree = NULL;
	free(fds);
	free(owners);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- lifecycle ---- */

static int section_defaults(const char *name, const struct cfg_key *keys, size_t size, void **ret)
{
	void *sec = calloc(1, size);
	if (!sec)
		return -ENOMEM;
	const struct cfg_section secs[] = {{.name = name, .keys = keys, .offset = 0}, {NULL}};
	const struct cfg_schema schema = {.sections = secs};
	struct cfg_error err;
	int r = cfg_defaults(&schema, sec, &err);
	if (r < 0) {
		free(sec);
		return r;
	}
	*ret = sec;
	return 0;
}

void publish_free(struct publish *p)
{
	if (!p)
		return;
	publish_stop(p);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	if (p->timer_fd >= 0)
		close(p->timer_fd);
	publish_msgbuf_free(&p->msgbuf); /* the trees that used it went with the thread */
	free(p->batts);
	free(p->kept);
	free(p->own_cfg);
	free(p->own_charge);
	free(p->bus_address);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int publish_start(const struct publish_params *prm, struct store *st, struct publish **ret)
{
	struct publish *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->wake_fd = p->timer_fd = -1;
	int r = 0;
	p->st = st;
	p->nslots = store_slot_count(st);
	p->batts = calloc(p->nslots, sizeof(*p->batts));
	p->kept = calloc(p->nslots, sizeof(*p->kept));
	if (!p->batts || !p->kept ||
	    (prm->bus_address && !(p->bus_address = strdup(prm->bus_address)))) {
		r = -ENOMEM;
		goto fail;
	}
	p->cfg = prm->cfg;
	if (!p->cfg) {
		r = section_defaults("publish", publish_cfg_keys, sizeof(*p->own_cfg),
				     (void **)&p->own_cfg);
		if (r < 0)
			goto fail;
		p->cfg = p->own_cfg;
	}
	p->ccfg = prm->charge;
	if (!p->ccfg) {
		r = section_defaults("charge", charge_cfg_keys, sizeof(*p->own_charge),
				     (void **)&p->own_charge);
		if (r < 0)
			goto fail;
		p->ccfg = p->own_charge;
	}
	snprintf(p->state_dir, sizeof(p->state_dir), "%s", prm->state_dir);
	p->clock_ms = prm->clock_ms;
	p->clock_ctx = prm->clock_ctx;
	p->handoff_on = prm->handoff;

	p->start_ms = now_ms(p);
	unsigned pending;
	store_port_count(st, &p->start_ports, &pending);
	p->agg.pub = p;
	bank_init_members(p);
	p->ext_target = EXT_NONE;
	/* one source a daemon (the config loader refuses two): a pack's entry, else the key */
	const char *ext_service = p->cfg->external_source;
	for (unsigned i = 0; i < p->ccfg->nsoc && i < CHARGE_SOC_MAX_PACKS; i++) {
		const char *svc = NULL;
		if (charge_soc_source_of(&p->ccfg->soc[i], &svc) == CHARGE_SOC_SERVICE && svc) {
			p->ext_entry = &p->ccfg->soc[i];
			ext_service = svc;
			break;
		}
	}
	r = publish_ext_new(p->bus_address, ext_service, own_service, p, &p->ext);
	if (r < 0)
		goto fail;

	/* libdbus is used from this thread only, but the daemon's other threads may link it */
	dbus_threads_init_default();
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->wake_fd < 0 || p->timer_fd < 0) {
		r = -errno;
		goto fail;
	}
	struct itimerspec its;
	its.it_interval = time_ms_to_timespec((uint64_t)p->cfg->interval_ms);
	its.it_value = its.it_interval;
	if (timerfd_settime(p->timer_fd, 0, &its, NULL) < 0) {
		r = -errno;
		goto fail;
	}
	r = -pthread_create(&p->thread, NULL, thread_main, p);
	if (r < 0)
		goto fail;
	pthread_setname_np(p->thread, "sb-publish");
	p->running = true;
	*ret = p;
	return 0;
fail:
	publish_free(p);
	return r;
}

void publish_stop(struct publish *p)
{
	if (!p || !p->running)
		return;
	uint64_t one = 1;
	if (write(p->wake_fd, &one, sizeof(one)) != sizeof(one))
		log_error("publish: cannot wake the publisher thread");
	pthread_join(p->thread, NULL);
	p->running = false;
}
