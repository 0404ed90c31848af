/* SPDX-License-Identifier: MIT */
/*
 * The poll-cycle bookkeeping the core does for every driver (bms.h,
 * struct bms_held): cycle numbers and the static steps (BMS_STEP_STATIC).
 * Pure: the worker, the CLI and the tests share it, so all of them skip and
 * carry static data the same way.
 */
#include <string.h>

#include "bms.h"

void bms_held_reset(struct bms_held *h)
{
	memset(h, 0, sizeof(*h));
}

uint32_t bms_held_next_cycle(struct bms_held *h)
{
	/* never 0 again after a wrap: 0 means "not a poll cycle" */
	if (++h->cycle == 0)
		h->cycle = 1;
	return h->cycle;
}

static const struct bms_step *static_step(const struct bms_driver *drv, unsigned step)
{
	if (!drv->steps || step >= drv->nsteps || step >= 32)
		return NULL;
	const struct bms_step *s = &drv->steps[step];
	return (s->flags & BMS_STEP_STATIC) ? s : NULL;
}

bool bms_step_due(const struct bms_driver *drv, unsigned step, const struct bms_held *h)
{
	const struct bms_step *s = static_step(drv, step);
	if (!s)
		return true;
	if (h->steps_done & (1u << step)) /* held: only a refresh asks again */
		return s->refresh > 0 && h->cycle % s->refresh == 0;
	return h->cycle <= 1 || s->every <= 1 || h->cycle % s->every == 0;
}

void bms_held_keep(const struct bms_driver *drv, unsigned step, struct bms_held *h,
		   const struct bms_snapshot *snap)
{
	const struct bms_step *s = static_step(drv, step);
	if (!s)
		return;
	h->steps_done |= 1u << step;
	uint32_t bits = s->fills & snap->valid;
	bms_snapshot_copy_fields(&h->snap, snap, bits);
	h->valid |= bits;
}

void bms_held_keep_setup(struct bms_held *h, const struct bms_snapshot *snap)
{
	bms_snapshot_copy_fields(&h->snap, snap, snap->valid);
	h->valid |= snap->valid;
}

void bms_held_apply(const struct bms_held *h, struct bms_snapshot *snap)
{
	bms_snapshot_copy_fields(snap, &h->snap, h->valid);
}

void bms_held_seed(const struct bms_driver *drv, struct bms_held *h,
		   const struct bms_snapshot *snap)
{
	for (unsigned i = 0; drv->steps && i < drv->nsteps && i < 32; i++) {
		const struct bms_step *s = static_step(drv, i);
		if (s && s->fills && (snap->valid & s->fills) == s->fills)
			bms_held_keep(drv, i, h, snap);
	}
}
