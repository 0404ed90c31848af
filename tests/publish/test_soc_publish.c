/* SPDX-License-Identifier: MIT */
/*
 * soc_source "coulomb" through the real publisher on a private dbus-daemon,
 * on a fake clock: /Soc (and /Capacity, and the SOC the charge rules see)
 * follows the computed SOC while /SocBms shows the BMS's own; the computed
 * SOC survives a publisher restart (state file); the full-charge reset sets
 * it to 100 % and, with write_back, posts the BMS SOC write where the driver
 * has one. A second pack without an entry keeps its BMS's SOC.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus_fixture.h"
#include "charge/charge.h"
#include "common/statefile.h"
#include "common/store.h"
#include "publish/publish.h"
#include "publish/publish_config.h"
#include "tests/support/cunit_main.h"

#define KEY "usb-FTDI_S1-if00"
#define SVC "com.victronenergy.battery.ttyUSB5"
#define FILE_NAME "soc_usb_FTDI_S1_if00.state"
#define KEY2 "usb-FTDI_S2-if00"
#define SVC2 "com.victronenergy.battery.ttyUSB6"

static _Atomic uint64_t fake_now = 7000000;

static struct tb_bus bus;
static struct store *st;
static struct publish *pub;
static struct publish_config pcfg;
static struct charge_config ccfg;
static DBusConnection *cli;
static int slot, slot2;
static int32_t polls;
static char state_dir[64];

static int start_publisher(void)
{
	return tb_publisher_start(bus.address, &pcfg, &ccfg, state_dir, &fake_now, st, &pub);
}

static int suite_init(void)
{
	const struct cfg_section csecs[] = {{.name = "charge",
					     .keys = charge_cfg_keys,
					     .offset = 0,
					     .validate = charge_config_validate},
					    {NULL}};
	const struct cfg_schema csch = {.sections = csecs};
	struct cfg_error err;
	snprintf(state_dir, sizeof(state_dir), "/tmp/sb-socstate-XXXXXX");
	/* the owner's config: only the pack on ttyUSB5 counts, quick full detection; the
	 * charge current follows SOC (ccl_socs 98/95/90/85 %: 0.1/0.2/0.5/1 x 50 A) */
	if (!mkdtemp(state_dir) || tb_config_defaults(&pcfg, &ccfg) < 0 ||
	    cfg_load_string(&csch, &ccfg,
			    "charge = { ccl_soc_enable = true; soc = ( { pack = \"ttyUSB5\"; "
			    "soc_source = \"coulomb\"; "
			    "full_time = 10.0; write_back = true; } ); };",
			    "soc.conf", &err) < 0)
		return -1;
	pcfg.interval_ms = 100;
	pcfg.bank_mode = PUBLISH_BANK_OFF;
	if (tb_bus_start(&bus) < 0 || store_new(2, &st) < 0 || store_open(st, KEY, &slot) < 0 ||
	    store_open(st, KEY2, &slot2) < 0)
		return -1;
	cli = tb_connect(bus.address);
	return cli && start_publisher() == 0 ? 0 : -1;
}

static int suite_clean(void)
{
	return tb_teardown(&pub, &cli, &st, &bus, state_dir);
}

/* A 100 Ah 16s pack at mv, drawing ma, its BMS saying soc_cpct. */
static struct bms_snapshot mk(int32_t mv, int32_t ma, uint16_t soc_cpct)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		  BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS | BMS_V_ALARMS;
	s.voltage_mv = mv;
	s.current_ma = ma;
	s.soc_cpct = soc_cpct;
	s.capacity_full_mah = 100000;
	s.capacity_remain_mah = soc_cpct * 10;
	s.cell_count = 16;
	for (int k = 0; k < 16; k++)
		s.cell_mv[k] = (uint16_t)(mv / 16);
	s.temp_count = 1;
	s.temp_dc[0] = 250;
	s.charge_fet = s.discharge_fet = true;
	return s;
}

static void commit_to(int sl, const char *tty, const struct bms_snapshot *s)
{
	struct store_info info;
	memset(&info, 0, sizeof(info));
	snprintf(info.tty, sizeof(info.tty), "%s", tty);
	snprintf(info.protocol, sizeof(info.protocol), "jbd");
	info.poll_interval_ms = 1000;
	info.cycles_ok = (uint32_t)polls;
	CU_ASSERT_FATAL(store_commit(st, sl, s, &info, atomic_load(&fake_now)) == 0);
}

/* Both packs commit step_ms after the last time; wait until the publisher took them in. */
static void step2(const struct bms_snapshot *s, const struct bms_snapshot *s2, uint64_t step_ms)
{
	atomic_fetch_add(&fake_now, step_ms);
	polls++;
	commit_to(slot, "ttyUSB5", s);
	commit_to(slot2, "ttyUSB6", s2);
	struct tb_val v, v2;
	for (int i = 0; i < 1000; i++) {
		if (tb_get_value(cli, SVC, "/Link/PollCycles", &v) == 0 && v.type == 'i' &&
		    v.i == polls && tb_get_value(cli, SVC2, "/Link/PollCycles", &v2) == 0 &&
		    v2.type == 'i' && v2.i == polls)
			return;
		usleep(5000);
	}
	CU_FAIL_FATAL("publisher did not take the snapshots in");
}

static void expect_d(const char *svc, const char *path, double want)
{
	struct tb_val v;
	int r = tb_get_value(cli, svc, path, &v);
	CU_ASSERT(r == 0 && v.type == 'd' && fabs(v.d - want) < 1e-6);
	if (r != 0 || v.type != 'd' || fabs(v.d - want) >= 1e-6)
		fprintf(stderr, "\n%s %s: type %c %g, want %g\n", svc, path, v.type, v.d, want);
}

static void test_coulomb_soc(void)
{
	/* 52.0 V, 36 A discharge; the BMS says 50 % and never changes its mind */
	struct bms_snapshot s = mk(52000, -36000, 5000), other = mk(52000, -36000, 5000);
	step2(&s, &other, 1000);
	expect_d(SVC, "/Soc", 50.0); /* no saved SOC: it starts from the BMS's */
	expect_d(SVC, "/SocBms", 50.0);
	/* 100 s at 36 A = 1 Ah of 100 */
	for (int k = 0; k < 100; k++)
		step2(&s, &other, 1000);
	expect_d(SVC, "/Soc", 49.0);
	expect_d(SVC, "/SocBms", 50.0);
	expect_d(SVC, "/Capacity", 49.0);
	expect_d(SVC, "/ConsumedAmphours", -51.0);
	/* the pack without an entry shows its BMS's SOC */
	expect_d(SVC2, "/Soc", 50.0);
	expect_d(SVC2, "/SocBms", 50.0);
	expect_d(SVC, "/Info/MaxChargeCurrent", 50.0);
	/* the charge rules read the same SOC: the BMS says 90 % (CCL 25 A if it counted) */
	s = mk(52000, -36000, 9000);
	other = mk(52000, -36000, 9000);
	step2(&s, &other, 1000);
	expect_d(SVC, "/SocBms", 90.0);
	expect_d(SVC, "/Soc", 48.99);
	expect_d(SVC, "/Info/MaxChargeCurrent", 50.0);
	expect_d(SVC2, "/Info/MaxChargeCurrent", 25.0);
}

static void test_survives_restart(void)
{
	char text[64] = "";
	/* stop writes the file whatever the 15 s rule says */
	publish_free(pub);
	pub = NULL;
	CU_ASSERT(statefile_read(state_dir, FILE_NAME, text, sizeof(text), NULL) == 0);
	CU_ASSERT_STRING_EQUAL(text, "soc=48.99\n");
	CU_ASSERT_FATAL(start_publisher() == 0);
	/* the BMS still says 90 %: the saved 48.99 wins. The new publisher starts from the
	 * store's last sample, so the second since then is counted once, not lost */
	struct tb_val v;
	for (int i = 0; i < 1000 && tb_get_value(cli, SVC, "/Soc", &v) != 0; i++)
		usleep(5000);
	expect_d(SVC, "/Soc", 48.99);
	expect_d(SVC, "/SocBms", 90.0);
	struct bms_snapshot s = mk(52000, -36000, 9000), other = mk(52000, -36000, 9000);
	step2(&s, &other, 1000);
	expect_d(SVC, "/Soc", 48.98);
	step2(&s, &other, 1000);
	expect_d(SVC, "/Soc", 48.97);
}

static void test_full_reset(void)
{
	/* at the CVL (16 x 3.45 V) with 2 A: the tail (5 A) for full_time 10 s */
	struct bms_snapshot s = mk(55200, 2000, 9000), other = mk(52000, 0, 5000);
	step2(&s, &other, 1000); /* the charge result now has the CVL the rule compares with */
	for (int k = 0; k < 9; k++)
		step2(&s, &other, 1000);
	struct tb_val v;
	CU_ASSERT(tb_get_value(cli, SVC, "/Soc", &v) == 0 && v.type == 'd' && v.d < 99.0);
	step2(&s, &other, 1000);
	expect_d(SVC, "/Soc", 100.0);
	expect_d(SVC, "/SocBms", 90.0);
	expect_d(SVC, "/Capacity", 100.0);
	step2(&s, &other, 1000);
	/* write_back: the SOC write goes to the worker where the driver has one */
	struct store_record rec;
	CU_ASSERT_FATAL(store_read(st, slot, &rec) == 0);
	const struct bms_driver *drv = bms_driver_find("jbd");
	if (drv && bms_driver_supports(drv, BMS_CMD_SOC)) {
		CU_ASSERT(rec.cmd.cmd.command == BMS_CMD_SOC && rec.cmd.cmd.value == 10000);
	} else {
		CU_ASSERT(rec.cmd.status == STORE_CMD_NONE);
	}
	CU_ASSERT_FATAL(store_read(st, slot2, &rec) == 0);
	CU_ASSERT(rec.cmd.status == STORE_CMD_NONE);
}

/* No capacity from the BMS and none configured: nothing to count with, the BMS's SOC shows. */
static void test_no_capacity(void)
{
	struct bms_snapshot s = mk(52000, -36000, 7000), other = mk(52000, 0, 5000);
	s.valid &= ~(uint32_t)(BMS_V_CAP_FULL | BMS_V_CAP_REMAIN);
	step2(&s, &other, 1000);
	expect_d(SVC, "/Soc", 70.0);
	expect_d(SVC, "/SocBms", 70.0);
	struct tb_val v;
	CU_ASSERT(tb_get_value(cli, SVC, "/Capacity", &v) == 0 && v.type == 'x');
	/* the capacity back: counting goes on from 100 % (the reset) over the 2 s since the
	 * last sample it counted (2 A then -36 A: -34 As, 0.0094 %), then 36 As a second */
	s = mk(52000, -36000, 7000);
	step2(&s, &other, 1000);
	expect_d(SVC, "/Soc", 99.99);
	step2(&s, &other, 1000);
	expect_d(SVC, "/Soc", 99.98);
	expect_d(SVC, "/SocBms", 70.0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"coulomb /Soc and /SocBms", test_coulomb_soc},
		{"survives a publisher restart", test_survives_restart},
		{"full reset", test_full_reset},
		{"no capacity", test_no_capacity},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("soc_publish", suite_init, suite_clean, tests);
}
