/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct slot {
	pthread_mutex_t lock;
	struct store_record rec;
	/* the mailbox; rec.cmd is its public face */
	struct store_command waiting; /* seq 0 = none */
	uint32_t running;             /* seq of the command on the wire, 0 = none */
	uint32_t next_seq;
	int listen_fd; /* the worker's eventfd, -1 = none (borrowed) */
};

static void mailbox_reset(struct slot *s)
{
	memset(&s->waiting, 0, sizeof(s->waiting));
	s->running = 0;
	s->listen_fd = -1;
}

struct store {
	unsigned n;
	int efd;
	pthread_mutex_t open_lock; /* serialises slot claiming */
	/* held while the hand-off runs; a committer only ever tries it */
	pthread_mutex_t handoff_lock;
	store_handoff_fn handoff;
	void *handoff_ctx;
	atomic_bool handoff_due; /* a commit waits for the hand-off (commit_wake()) */
	struct slot *slots;
	struct {
		char path[256];
		enum store_port_state state;
	} ports[STORE_MAX_PORTS];
	unsigned nports;
};

int store_new(unsigned nslots, struct store **ret)
{
	if (nslots == 0)
		return -EINVAL;
	struct store *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->slots = calloc(nslots, sizeof(*st->slots));
	if (!st->slots) {
		free(st);
		return -ENOMEM;
	}
	st->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (st->efd < 0) {
		int e = errno;
		free(st->slots);
		free(st);
		return -e;
	}
	st->n = nslots;
	pthread_mutex_init(&st->open_lock, NULL);
	pthread_mutex_init(&st->handoff_lock, NULL);
	for (unsigned i = 0; i < nslots; i++) {
		pthread_mutex_init(&st->slots[i].lock, NULL);
		mailbox_reset(&st->slots[i]);
	}
	*ret = st;
	return 0;
}

void store_free(struct store *st)
{
	if (!st)
		return;
	for (unsigned i = 0; i < st->n; i++)
		pthread_mutex_destroy(&st->slots[i].lock);
	pthread_mutex_destroy(&st->open_lock);
	pthread_mutex_destroy(&st->handoff_lock);
	close(st->efd);
	free(st->slots);
	free(st);
}

unsigned store_slot_count(const struct store *st)
{
	return st->n;
}

static void wake(struct store *st)
{
	uint64_t one = 1;
	/* EAGAIN only when the counter is near overflow: the reader is awake anyway. */
	ssize_t w = write(st->efd, &one, sizeof(one));
	(void)w;
}

/*
 * A commit: the reader's work done here (the hand-off), else the reader woken. Commits of
 * several workers at once are combined: one that finds a hand-off running leaves
 * handoff_due and returns; the worker running it calls fn again until nothing is due, and
 * looks once more after letting go of the lock, so no commit is left without a hand-off or
 * a wake-up. fn works on every commit so far (the reader reads all slots).
 */
static void commit_wake(struct store *st)
{
	atomic_store(&st->handoff_due, true);
	while (atomic_load(&st->handoff_due)) {
		/* busy: another worker is handing off (it sees handoff_due), or the hook is
		 * being changed (store_set_handoff() wakes the reader) */
		if (pthread_mutex_trylock(&st->handoff_lock) != 0)
			return;
		bool done = st->handoff != NULL;
		while (done && atomic_exchange(&st->handoff_due, false))
			done = st->handoff(st->handoff_ctx);
		pthread_mutex_unlock(&st->handoff_lock);
		if (!done) {
			wake(st);
			return;
		}
	}
}

void store_set_handoff(struct store *st, store_handoff_fn fn, void *ctx)
{
	pthread_mutex_lock(&st->handoff_lock);
	st->handoff = fn;
	st->handoff_ctx = ctx;
	pthread_mutex_unlock(&st->handoff_lock);
	/* a commit that found the lock taken by this call is the reader's */
	wake(st);
}

static struct slot *get(struct store *st, int slot)
{
	if (slot < 0 || (unsigned)slot >= st->n)
		return NULL;
	return &st->slots[slot];
}

int store_open(struct store *st, const char *key, int *ret_slot)
{
	if (!key || strlen(key) >= STORE_KEY_LEN)
		return -EINVAL;
	int found = -1, empty = -1;
	pthread_mutex_lock(&st->open_lock);
	for (unsigned i = 0; i < st->n; i++) {
		struct slot *s = &st->slots[i];
		pthread_mutex_lock(&s->lock);
		enum store_state state = s->rec.state;
		bool same = state != STORE_EMPTY && strcmp(s->rec.info.key, key) == 0;
		pthread_mutex_unlock(&s->lock);
		if (same && found < 0)
			found = (int)i;
		if (state == STORE_EMPTY && empty < 0)
			empty = (int)i;
	}
	int r = 0;
	if (found >= 0) {
		struct slot *s = &st->slots[found];
		pthread_mutex_lock(&s->lock);
		if (s->rec.state == STORE_GONE)
			s->rec.state = s->rec.updated_ms ? STORE_ONLINE : STORE_DETECTING;
		else
			r = -EEXIST; /* a live worker already owns this battery */
		s->rec.seq++;
		pthread_mutex_unlock(&s->lock);
		if (r == 0)
			*ret_slot = found;
	} else if (empty >= 0) {
		struct slot *s = &st->slots[empty];
		pthread_mutex_lock(&s->lock);
		uint64_t seq = s->rec.seq;
		memset(&s->rec, 0, sizeof(s->rec));
		s->rec.seq = seq + 1;
		s->rec.state = STORE_DETECTING;
		mailbox_reset(s);
		memcpy(s->rec.info.key, key, strlen(key) + 1);
		pthread_mutex_unlock(&s->lock);
		*ret_slot = empty;
	} else {
		r = -ENOSPC;
	}
	pthread_mutex_unlock(&st->open_lock);
	if (r == 0)
		wake(st);
	return r;
}

static void copy_info(struct store_record *rec, const struct store_info *info)
{
	/* The key is the slot's identity: never changed by an update. */
	char key[STORE_KEY_LEN];
	memcpy(key, rec->info.key, sizeof(key));
	rec->info = *info;
	memcpy(rec->info.key, key, sizeof(key));
}

int store_commit(struct store *st, int slot, const struct bms_snapshot *snap,
		 const struct store_info *info, uint64_t now_ms)
{
	struct slot *s = get(st, slot);
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (s->rec.state == STORE_EMPTY || s->rec.state == STORE_GONE) {
		pthread_mutex_unlock(&s->lock);
		return -ESTALE;
	}
	s->rec.snap = *snap;
	copy_info(&s->rec, info);
	s->rec.updated_ms = now_ms ? now_ms : 1;
	s->rec.state = STORE_ONLINE;
	s->rec.seq++;
	pthread_mutex_unlock(&s->lock);
	commit_wake(st);
	return 0;
}

int store_update_info(struct store *st, int slot, const struct store_info *info)
{
	struct slot *s = get(st, slot);
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (s->rec.state == STORE_EMPTY || s->rec.state == STORE_GONE) {
		pthread_mutex_unlock(&s->lock);
		return -ESTALE;
	}
	copy_info(&s->rec, info);
	s->rec.seq++;
	pthread_mutex_unlock(&s->lock);
	wake(st);
	return 0;
}

int store_close(struct store *st, int slot)
{
	struct slot *s = get(st, slot);
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	int r = 0;
	if (s->rec.state == STORE_EMPTY) {
		r = -ESTALE;
	} else {
		s->rec.state = STORE_GONE;
		s->rec.seq++;
		/* nobody will run what waits: say so rather than leave it pending */
		if (s->rec.cmd.status == STORE_CMD_PENDING ||
		    s->rec.cmd.status == STORE_CMD_RUNNING)
			s->rec.cmd.status = STORE_CMD_CANCELED;
		mailbox_reset(s);
	}
	pthread_mutex_unlock(&s->lock);
	if (r == 0)
		wake(st);
	return r;
}

int store_release(struct store *st, int slot)
{
	struct slot *s = get(st, slot);
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&st->open_lock);
	pthread_mutex_lock(&s->lock);
	int r = 0;
	if (s->rec.state != STORE_GONE) {
		r = -EBUSY;
	} else {
		uint64_t seq = s->rec.seq;
		memset(&s->rec, 0, sizeof(s->rec));
		s->rec.seq = seq + 1;
		mailbox_reset(s);
	}
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&st->open_lock);
	return r;
}

int store_read(struct store *st, int slot, struct store_record *ret)
{
	struct slot *s = get(st, slot);
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	*ret = s->rec;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

const char *store_cmd_status_name(enum store_cmd_status s)
{
	switch (s) {
	case STORE_CMD_NONE:
		return "none";
	case STORE_CMD_PENDING:
		return "pending";
	case STORE_CMD_RUNNING:
		return "running";
	case STORE_CMD_OK:
		return "ok";
	case STORE_CMD_REFUSED:
		return "refused";
	case STORE_CMD_TIMEOUT:
		return "timed out";
	case STORE_CMD_CANCELED:
		return "canceled";
	}
	return "?";
}

static void poke(int fd)
{
	if (fd < 0)
		return;
	uint64_t one = 1;
	/* EAGAIN only near counter overflow: the worker is awake anyway. */
	ssize_t w = write(fd, &one, sizeof(one));
	(void)w;
}

int store_command_post(struct store *st, int slot, enum bms_command command, int32_t value,
		       uint32_t *ret_seq)
{
	struct slot *s = get(st, slot);
	if (!s || command <= BMS_CMD_NONE || command >= BMS_CMD_COUNT)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (s->rec.state != STORE_DETECTING && s->rec.state != STORE_ONLINE) {
		pthread_mutex_unlock(&s->lock);
		return -ESTALE;
	}
	uint32_t seq = ++s->next_seq;
	if (seq == 0) /* 0 means "none": skip it on wrap */
		seq = ++s->next_seq;
	s->waiting = (struct store_command){.command = command, .value = value, .seq = seq};
	s->rec.cmd = (struct store_cmd_state){.cmd = s->waiting, .status = STORE_CMD_PENDING};
	s->rec.seq++;
	/* written under the lock: store_close() cannot unregister the fd (and the
	 * worker close it) between reading and writing it */
	poke(s->listen_fd);
	pthread_mutex_unlock(&s->lock);
	*ret_seq = seq;
	return 0;
}

int store_command_listen(struct store *st, int slot, int fd)
{
	struct slot *s = get(st, slot);
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->listen_fd = fd;
	bool waiting = s->waiting.seq != 0;
	pthread_mutex_unlock(&s->lock);
	if (waiting) /* posted before the worker listened: do not lose it */
		poke(fd);
	return 0;
}

int store_command_take(struct store *st, int slot, struct store_command *ret)
{
	struct slot *s = get(st, slot);
	if (!s)
		return -EINVAL;
	int r = 0;
	pthread_mutex_lock(&s->lock);
	if (s->waiting.seq != 0) {
		*ret = s->waiting;
		s->running = s->waiting.seq;
		memset(&s->waiting, 0, sizeof(s->waiting));
		if (s->rec.cmd.cmd.seq == s->running) {
			s->rec.cmd.status = STORE_CMD_RUNNING;
			s->rec.seq++;
		}
		r = 1;
	}
	pthread_mutex_unlock(&s->lock);
	if (r)
		wake(st);
	return r;
}

int store_command_done(struct store *st, int slot, uint32_t seq, enum store_cmd_status status)
{
	struct slot *s = get(st, slot);
	if (!s || status < STORE_CMD_OK || status > STORE_CMD_CANCELED)
		return -EINVAL;
	bool changed = false;
	pthread_mutex_lock(&s->lock);
	if (seq != 0 && s->running == seq) {
		s->running = 0;
		/* a newer command posted meanwhile is what the record shows */
		if (s->rec.cmd.cmd.seq == seq) {
			s->rec.cmd.status = status;
			s->rec.seq++;
			changed = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (changed)
		wake(st);
	return 0;
}

bool store_record_stale(const struct store_record *r, uint64_t now_ms, uint64_t stale_after_ms)
{
	if (r->updated_ms == 0)
		return false;
	return now_ms >= r->updated_ms && now_ms - r->updated_ms >= stale_after_ms;
}

static int port_find(const struct store *st, const char *path)
{
	for (unsigned i = 0; i < st->nports; i++)
		if (strcmp(st->ports[i].path, path) == 0)
			return (int)i;
	return -1;
}

int store_port_register(struct store *st, const char *path)
{
	if (!path || strlen(path) >= sizeof(st->ports[0].path))
		return -EINVAL;
	int r = 0;
	pthread_mutex_lock(&st->open_lock);
	if (port_find(st, path) < 0) {
		if (st->nports < STORE_MAX_PORTS) {
			unsigned i = st->nports++;
			memcpy(st->ports[i].path, path, strlen(path) + 1);
			st->ports[i].state = STORE_PORT_PENDING;
		} else {
			r = -ENOSPC;
		}
	}
	pthread_mutex_unlock(&st->open_lock);
	return r;
}

void store_port_mark(struct store *st, const char *path, enum store_port_state state)
{
	bool changed = false;
	pthread_mutex_lock(&st->open_lock);
	int i = port_find(st, path);
	if (i >= 0 && st->ports[i].state == STORE_PORT_PENDING && state != STORE_PORT_PENDING) {
		st->ports[i].state = state;
		changed = true;
	}
	pthread_mutex_unlock(&st->open_lock);
	if (changed)
		wake(st);
}

void store_port_remove(struct store *st, const char *path)
{
	pthread_mutex_lock(&st->open_lock);
	int i = port_find(st, path);
	if (i >= 0) {
		st->ports[i] = st->ports[st->nports - 1];
		st->nports--;
	}
	pthread_mutex_unlock(&st->open_lock);
	if (i >= 0)
		wake(st);
}

void store_port_count(struct store *st, unsigned *ret_total, unsigned *ret_pending)
{
	unsigned pending = 0;
	pthread_mutex_lock(&st->open_lock);
	for (unsigned i = 0; i < st->nports; i++)
		pending += st->ports[i].state == STORE_PORT_PENDING;
	*ret_total = st->nports;
	pthread_mutex_unlock(&st->open_lock);
	*ret_pending = pending;
}

int store_fd(const struct store *st)
{
	return st->efd;
}

void store_drain(struct store *st)
{
	uint64_t v;
	ssize_t r = read(st->efd, &v, sizeof(v));
	(void)r;
}
