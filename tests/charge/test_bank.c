/* SPDX-License-Identifier: MIT */
/*
 * Bank rules at their boundaries: charge results are built directly (what
 * charge_step() would give per pack), times are explicit.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "charge/bank.h"
#include "tests/support/cunit_main.h"

#define EPS 1e-9

static const struct bank_config cfg = {.share_current = 2.0, .share_fall_time = 60.0};

/* An online pack asking cvl V, ccl/dcl A, drawing current_a. */
static struct bank_pack_in pack(double cvl, double ccl, double dcl, double current_a)
{
	struct bank_pack_in p;
	memset(&p, 0, sizeof(p));
	p.link = BANK_ONLINE;
	p.have_res = true;
	p.res.connected = true;
	p.res.cvl_valid = true;
	p.res.cvl_v = cvl;
	p.res.cvl_absorb_v = cvl;
	p.res.ccl_a = ccl;
	p.res.dcl_a = dcl;
	p.res.allow_charge = ccl > 0;
	p.res.allow_discharge = dcl > 0;
	p.res.battery_low_voltage_v = 44.8;
	snprintf(p.res.mode, sizeof(p.res.mode), "Bulk");
	p.current_valid = true;
	p.current_a = current_a;
	p.fets_valid = true;
	p.charge_fet = p.discharge_fet = true;
	return p;
}

static void label(struct bank_pack_in *p, unsigned i)
{
	snprintf(p->label, sizeof(p->label), "%u (ttyUSB%u)", i + 1, i);
}

/* 60/40 split, both packs 50 A: the bank may ask 83.33 A (pack 1 then takes 50 A). */
static void test_split_60_40(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, 30), pack(55.2, 50, 100, 20)};
	struct bank_result r;
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_TRUE(r.shares_used[0]);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 83.33, EPS);
	/* neither pack exceeds its own CCL at the bank CCL */
	CU_ASSERT_TRUE(r.ccl_a * 0.6 <= 50.0 + EPS);
	CU_ASSERT_TRUE(r.ccl_a * 0.4 <= 50.0 + EPS);
	CU_ASSERT_TRUE(r.ccl_a < 100.0); /* the old sum would overload pack 1 */
	/* no discharge seen yet: DCL from the even-split fallback */
	CU_ASSERT_FALSE(r.shares_used[1]);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 200.0, EPS);

	/* a smaller limit on the pack that takes less can still be the binding one */
	in[1].res.ccl_a = 20; /* 20 / 0.4 = 50 < 50 / 0.6 */
	label(&in[1], 1);
	snprintf(in[1].res.charge_limitation, sizeof(in[1].res.charge_limitation), "SoC 97%%");
	bank_step(&cfg, in, 2, &st, 2000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50.0, EPS);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Pack 2 (ttyUSB1): SoC 97%");
}

/* Below the threshold the split means nothing: even split n x min until measured. */
static void test_fallback_without_shares(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, 1.0), pack(55.2, 30, 100, 0.9)};
	struct bank_result r;
	bank_step(&cfg, in, 2, &st, 1000, &r); /* 1.9 A < 2 A threshold */
	CU_ASSERT_FALSE(r.shares_used[0]);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 60.0, EPS); /* 2 x min(50, 30) */
	in[0].current_a = 1.1;                      /* 2.0 A: still not above */
	bank_step(&cfg, in, 2, &st, 2000, &r);
	CU_ASSERT_FALSE(r.shares_used[0]);
	in[0].current_a = 1.2; /* 2.1 A: measured */
	bank_step(&cfg, in, 2, &st, 3000, &r);
	CU_ASSERT_TRUE(r.shares_used[0]);
}

/* Never above the sum, also when a pack's share is near 0. */
static void test_never_above_sum(void)
{
	struct bank_state st;
	bank_state_init(&st);
	/* pack 2 takes nothing: 50 / 1.0 = 50, 50 / floor would be huge */
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, 10), pack(55.2, 10, 100, 0)};
	struct bank_result r;
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_TRUE(r.ccl_a <= 60.0 + EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50.0, EPS);
	/* shares summing above 1 (a share that is still decaying) can only lower it */
	struct bank_pack_in one[1] = {pack(55.2, 40, 40, 10)};
	bank_state_init(&st);
	bank_step(&cfg, one, 1, &st, 1000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 40.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 40.0, EPS);
	/* rounded down, never up: 12.355 A -> 12.35 A */
	one[0].res.ccl_a = 12.355;
	bank_step(&cfg, one, 1, &st, 2000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 12.35, EPS);
}

/* A pack in parallel whose own CCL is 0 takes the bank's to 0; with its FET off it cannot. */
static void test_pack_ccl_zero(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, 30), pack(55.2, 50, 100, 20)};
	struct bank_result r;
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_TRUE(r.ccl_a > 0);
	in[1].res.ccl_a = 0; /* e.g. -5 degC or a cell at 3.52 V */
	in[1].res.allow_charge = false;
	bank_step(&cfg, in, 2, &st, 1100, &r); /* the same step: no timer */
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0.0, EPS);
	CU_ASSERT_FALSE(r.allow_charge);
	CU_ASSERT_TRUE(r.allow_discharge);
	CU_ASSERT_EQUAL(r.blocking_charge, 1);
	/* also without measured shares */
	bank_state_init(&st);
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0.0, EPS);
	/* DCL 0 the same way */
	in[1].res.ccl_a = 50;
	in[1].res.dcl_a = 0;
	bank_step(&cfg, in, 2, &st, 2000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 0.0, EPS);
	CU_ASSERT_TRUE(r.ccl_a > 0);
	/* its charge FET off: no current can flow into it */
	in[1].res.dcl_a = 100;
	in[1].res.ccl_a = 0;
	in[1].charge_fet = false;
	in[1].current_a = 0;
	bank_step(&cfg, in, 2, &st, 3000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50.0, EPS);
}

/* A stale pack: CCL 0 by the comms-loss rule, so the bank's is 0; its held DCL counts. */
static void test_stale_pack(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, -60), pack(52.95, 50, 100, -40)};
	struct bank_result r;
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 52.95, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 166.66, EPS); /* 100 / 0.6 */
	in[1].link = BANK_STALE;
	in[1].current_valid = false;
	in[1].res.stale = true;
	in[1].res.ccl_a = 0;
	in[1].res.dcl_a = 50;   /* held at a fraction by the charge rules */
	in[1].res.cvl_v = 55.2; /* whatever it says now: never higher than its last */
	bank_step(&cfg, in, 2, &st, 12000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 125.0, EPS); /* 50 / 0.4 */
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 52.95, EPS);
	CU_ASSERT_EQUAL(r.stale, 1);
	CU_ASSERT_EQUAL(r.bms_cable_alarm, 1);
}

/* The pack holding the bank CVL down goes stale, then gone: the bank CVL does not rise. */
static void test_held_cvl(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, 6), pack(52.95, 50, 100, 4)};
	struct bank_result r;
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 52.95, EPS);
	in[1].link = BANK_STALE;
	in[1].res.cvl_v = in[1].res.cvl_absorb_v = 55.2;
	bank_step(&cfg, in, 2, &st, 11000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 52.95, EPS);
	/* lost: no valid CVL of its own any more */
	in[1].link = BANK_OFFLINE;
	in[1].res.cvl_valid = false;
	bank_step(&cfg, in, 2, &st, 70000, &r);
	CU_ASSERT_TRUE(r.cvl_valid);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 52.95, EPS);
	/* a lower one while away is taken */
	in[1].link = BANK_STALE;
	in[1].res.cvl_valid = true;
	in[1].res.cvl_v = in[1].res.cvl_absorb_v = 52.5;
	bank_step(&cfg, in, 2, &st, 71000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 52.5, EPS);
	/* back online: its own CVL again */
	in[1].link = BANK_ONLINE;
	in[1].res.cvl_v = in[1].res.cvl_absorb_v = 54.0;
	bank_step(&cfg, in, 2, &st, 72000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.0, EPS);
}

/* Float only when every pack floats; out of float when one asks. */
static void test_float_all(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, 6), pack(55.2, 50, 100, 4)};
	struct bank_result r;
	/* pack 1 done: float 53.6, but pack 2 still absorbing */
	in[0].res.float_mode = true;
	in[0].res.cvl_v = 53.6;
	in[0].res.cvl_absorb_v = 55.2;
	snprintf(in[0].res.mode, sizeof(in[0].res.mode), "Float");
	snprintf(in[1].res.mode, sizeof(in[1].res.mode), "Absorption");
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_FALSE(r.float_mode);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	CU_ASSERT_STRING_EQUAL(r.mode, "Absorption");
	/* the floating pack's own over-voltage control still caps it */
	in[0].res.cvl_absorb_v = 54.9;
	bank_step(&cfg, in, 2, &st, 2000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.9, EPS);
	/* both done */
	in[1].res.float_mode = true;
	in[1].res.cvl_v = 53.7;
	snprintf(in[1].res.mode, sizeof(in[1].res.mode), "Float");
	bank_step(&cfg, in, 2, &st, 3000, &r);
	CU_ASSERT_TRUE(r.float_mode);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 53.6, EPS);
	CU_ASSERT_STRING_EQUAL(r.mode, "Float");
	/* pack 2 asks for bulk: the bank leaves float in the same step */
	in[1].res.float_mode = false;
	in[1].res.cvl_v = in[1].res.cvl_absorb_v = 55.2;
	snprintf(in[1].res.mode, sizeof(in[1].res.mode), "Bulk");
	bank_step(&cfg, in, 2, &st, 4000, &r);
	CU_ASSERT_FALSE(r.float_mode);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.9, EPS);
	CU_ASSERT_STRING_EQUAL(r.mode, "Bulk");
}

/* An offline pack: its share is gone (limits lower), it stays listed until forgotten. */
static void test_offline_listed(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, 30), pack(52.95, 50, 100, 20)};
	label(&in[0], 0);
	label(&in[1], 1);
	struct bank_result r;
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_EQUAL(r.offline, 0);
	CU_ASSERT_EQUAL(r.bms_cable_alarm, 0);
	in[1].link = BANK_OFFLINE;
	in[1].current_valid = false;
	in[1].res.ccl_a = in[1].res.dcl_a = 0;
	in[1].res.connected = false;
	for (uint64_t t = 2000; t < 3600000; t += 600000) {
		bank_step(&cfg, in, 2, &st, t, &r);
		CU_ASSERT_EQUAL(r.members, 2);
		CU_ASSERT_EQUAL(r.online, 1);
		CU_ASSERT_EQUAL(r.offline, 1);
		CU_ASSERT_EQUAL(r.bms_cable_alarm, 1);
		CU_ASSERT_STRING_EQUAL(r.offline_text, "Pack 2 (ttyUSB1) offline");
		CU_ASSERT_PTR_NOT_NULL(strstr(r.charge_limitation, "Pack 2 (ttyUSB1) offline"));
		/* pack 1 takes it all now: its own limit, not 50 / 0.6 */
		CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50.0, EPS);
		CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 52.95, EPS);
	}
	/* the owner forgets it */
	bank_forget(&st, 1);
	in[1].link = BANK_ABSENT;
	bank_step(&cfg, in, 2, &st, 3600000, &r);
	CU_ASSERT_EQUAL(r.members, 1);
	CU_ASSERT_EQUAL(r.offline, 0);
	CU_ASSERT_EQUAL(r.bms_cable_alarm, 0);
	CU_ASSERT_STRING_EQUAL(r.offline_text, "");
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
}

/* A share that rises is taken at once; one that falls decays with share_fall_time. */
static void test_share_smoothing(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, 25), pack(55.2, 50, 100, 25)};
	struct bank_result r;
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 100.0, EPS);
	in[0].current_a = 30; /* 60/40 */
	in[1].current_a = 20;
	bank_step(&cfg, in, 2, &st, 2000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 83.33, EPS); /* at once */
	in[0].current_a = 25; /* back to 50/50: pack 1's share falls slowly */
	in[1].current_a = 25;
	bank_step(&cfg, in, 2, &st, 3000, &r);
	CU_ASSERT_TRUE(r.ccl_a > 83.33 && r.ccl_a < 84.0);
	bank_step(&cfg, in, 2, &st, 3000 + 600000, &r); /* ten time constants */
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 100.0, 0.02);
	/* a stale pack freezes the shares: no sample from a partial bank */
	in[1].link = BANK_STALE;
	in[1].current_valid = false;
	in[0].current_a = 50;
	bank_step(&cfg, in, 2, &st, 700000, &r);
	CU_ASSERT_TRUE(st.m[0].share[0].value < 0.51);
}

/* Nothing in parallel: no limits are published (never a 0 the rules did not compute). */
static void test_nothing_connected(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[1] = {pack(55.2, 50, 100, 0)};
	in[0].link = BANK_OFFLINE;
	in[0].have_res = false;
	label(&in[0], 0);
	struct bank_result r;
	bank_step(&cfg, in, 1, &st, 1000, &r);
	CU_ASSERT_FALSE(r.limits_valid);
	CU_ASSERT_FALSE(r.cvl_valid);
	CU_ASSERT_EQUAL(r.offline, 1);
	CU_ASSERT_STRING_EQUAL(r.offline_text, "Pack 1 (ttyUSB0) offline");
}

/* A pack that goes silent with its charge FET last seen off: the FET may be on
 * again by now, so its CCL 0 (missing data) takes the bank's to 0. */
static void test_stale_fet_not_trusted(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, 30), pack(55.2, 50, 100, 20)};
	struct bank_result r;
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 83.33, EPS);
	in[1].link = BANK_STALE;
	in[1].current_valid = false;
	in[1].res.stale = true;
	in[1].res.ccl_a = 0;
	in[1].charge_fet = false; /* its last word, now stale */
	bank_step(&cfg, in, 2, &st, 12000, &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0.0, EPS);
	CU_ASSERT_FALSE(r.allow_charge);
	/* the same pack online with its FET off carries nothing: not the bank's limit */
	in[1].link = BANK_ONLINE;
	in[1].res.stale = false;
	in[1].current_valid = true;
	in[1].current_a = 0;
	bank_step(&cfg, in, 2, &st, 13000, &r);
	CU_ASSERT_TRUE(r.ccl_a > 0);
}

/* Current circulating between packs: pack 1 takes 60 A of a 50 A bank
 * current; at the bank's CCL it must stay within its own 50 A. */
static void test_circulating_share(void)
{
	struct bank_state st;
	bank_state_init(&st);
	struct bank_pack_in in[2] = {pack(55.2, 50, 100, 60), pack(55.2, 50, 100, -10)};
	struct bank_result r;
	bank_step(&cfg, in, 2, &st, 1000, &r);
	CU_ASSERT_TRUE(r.shares_used[0]);
	CU_ASSERT_TRUE(r.ccl_a * 60.0 / 50.0 <= 50.0 + 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 41.66, EPS); /* 50 / 1.2, rounded down */
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"60/40 split", test_split_60_40},
		{"fallback without shares", test_fallback_without_shares},
		{"never above sum", test_never_above_sum},
		{"pack ccl 0", test_pack_ccl_zero},
		{"stale pack", test_stale_pack},
		{"held cvl", test_held_cvl},
		{"float only when all float", test_float_all},
		{"offline listed until forgotten", test_offline_listed},
		{"share smoothing", test_share_smoothing},
		{"nothing connected", test_nothing_connected},
		{"stale fet not trusted", test_stale_fet_not_trusted},
		{"circulating share", test_circulating_share},
		{NULL, NULL},
	};
	return sb_add_suite("bank", tests);
}
