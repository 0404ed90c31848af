/* SPDX-License-Identifier: MIT */
/* The battery path set and how a snapshot fills it (internal to publish/). */
#ifndef SB_PUBLISH_PATHS_H
#define SB_PUBLISH_PATHS_H

#include <stdbool.h>
#include <stdint.h>

#include "charge/charge.h"
#include "common/store.h"
#include "publish/busitem.h"
#include "publish/history.h"

/* Add every path of a pack (ncells cell paths) or of the aggregate (ncells 0, aggregate true). */
int publish_paths_build(struct publish_tree *t, unsigned ncells, bool aggregate);
/*
 * The same, with the /Settings write paths the pack's driver supports (drv
 * NULL: none) and a /TimeToSoC/<p> path for each point (NULL or empty: none).
 */
int publish_paths_build_pack(struct publish_tree *t, unsigned ncells, bool aggregate,
			     const struct bms_driver *drv, const struct cfg_ilist *soc_points);
/* The write paths' values (those not registered are skipped): publish.c's "writes". */
void publish_paths_writes(struct publish_tree *t, bool charge_off, bool discharge_off,
			  bool balancing_off, int32_t soc_target, const char *error, uint32_t done,
			  uint32_t errors);

/*
 * Names: /ProductName the BMS's model, else product_name, else "<family>
 * BMS"; /Serial where the family has a real one; and, while the owner has
 * given no custom_name, a /CustomName that tells packs of one family apart
 * ("JBD BMS (ttyUSB1)").
 */
void publish_paths_names(struct publish_tree *t, const struct store_record *rec,
			 const char *product_name, const char *custom_name);

/*
 * The configured deadbands on the measurement paths that have one (after
 * the build; 0: none). Never on limits, alarms or /Io.
 */
struct publish_config;
void publish_paths_bands(struct publish_tree *t, const struct publish_config *cfg);

/* Values that do not depend on the snapshot. */
void publish_paths_fixed(struct publish_tree *t, const char *connection);

/*
 * Fill a pack's tree from its record and charge result. info_paths false: the
 * /Info limits are published invalid (the aggregate is the BMS).
 */
void publish_paths_fill(struct publish_tree *t, const struct store_record *rec,
			const struct charge_result *res, const struct publish_history *h,
			bool info_paths);

/*
 * The alarms (bits of enum bms_alarm) that mean something for this record:
 * those its driver reports and those our rules compute. The others are
 * published invalid.
 */
uint32_t publish_paths_alarm_mask(const struct store_record *rec);

/* Power in W, positive = charging (from the BMS or V x I); false when unknown. */
bool publish_snap_power(const struct bms_snapshot *s, double *ret_w);

/* Limits and their descriptions (shared by packs and aggregate). */
void publish_paths_limits(struct publish_tree *t, const struct charge_result *res, bool valid);

#endif
