/* SPDX-License-Identifier: MIT */
/*
 * /History paths through the real publisher on a private dbus-daemon: the
 * value of each path after a scripted sequence of snapshots, persistence in
 * the state directory across a publisher restart, at most one write a minute
 * (driven by a fake clock), and /History/Clear by group.
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

#define KEY "usb-FTDI_H1-if00"
#define SVC "com.victronenergy.battery.ttyUSB7"
#define FILE_NAME "history_usb_FTDI_H1_if00.state"

static _Atomic uint64_t fake_now = 5000000;

static struct tb_bus bus;
static struct store *st;
static struct publish *pub;
static struct publish_config pcfg;
static struct charge_config ccfg;
static DBusConnection *cli;
static int slot;
static int32_t polls;
static char state_dir[64];

static int start_publisher(void)
{
	return tb_publisher_start(bus.address, &pcfg, &ccfg, state_dir, &fake_now, st, &pub);
}

static int suite_init(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/sb-histstate-XXXXXX");
	if (!mkdtemp(state_dir) || tb_config_defaults(&pcfg, &ccfg) < 0)
		return -1;
	pcfg.interval_ms = 100;
	pcfg.bank_mode = PUBLISH_BANK_OFF;
	if (tb_bus_start(&bus) < 0 || store_new(2, &st) < 0 || store_open(st, KEY, &slot) < 0)
		return -1;
	cli = tb_connect(bus.address);
	return cli && start_publisher() == 0 ? 0 : -1;
}

static int suite_clean(void)
{
	return tb_teardown(&pub, &cli, &st, &bus, state_dir);
}

/* 50.00 V, 16 cells 3.125 V (C3 3.100, C7 3.150), 25/26 degC, 100 Ah pack, 5 cycles. */
static struct bms_snapshot mk(int32_t ma, uint16_t soc_cpct)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		  BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS | BMS_V_ALARMS;
	s.voltage_mv = 50000;
	s.current_ma = ma;
	s.soc_cpct = soc_cpct;
	s.capacity_full_mah = 100000;
	s.capacity_remain_mah = soc_cpct * 10;
	s.cycles = 5;
	s.cell_count = 16;
	for (int k = 0; k < 16; k++)
		s.cell_mv[k] = 3125;
	s.cell_mv[2] = 3100;
	s.cell_mv[6] = 3150;
	s.temp_count = 2;
	s.temp_dc[0] = 250;
	s.temp_dc[1] = 260;
	s.charge_fet = s.discharge_fet = true;
	return s;
}

/* Commit s step_ms after the last one and wait until the publisher has taken it in. */
static void step(const struct bms_snapshot *s, uint64_t step_ms)
{
	atomic_fetch_add(&fake_now, step_ms);
	struct store_info info;
	memset(&info, 0, sizeof(info));
	snprintf(info.tty, sizeof(info.tty), "ttyUSB7");
	snprintf(info.protocol, sizeof(info.protocol), "jbd");
	info.poll_interval_ms = 1000;
	info.cycles_ok = (uint32_t)++polls;
	CU_ASSERT_FATAL(store_commit(st, slot, s, &info, atomic_load(&fake_now)) == 0);
	struct tb_val v;
	for (int i = 0; i < 1000; i++) {
		if (tb_get_value(cli, SVC, "/Link/PollCycles", &v) == 0 && v.type == 'i' &&
		    v.i == polls)
			return;
		usleep(5000);
	}
	CU_FAIL_FATAL("publisher did not take the snapshot in");
}

static void expect_d(const char *path, double want)
{
	struct tb_val v;
	int r = tb_get_value(cli, SVC, path, &v);
	CU_ASSERT(r == 0 && v.type == 'd' && fabs(v.d - want) < 1e-6);
	if (r != 0 || v.type != 'd' || fabs(v.d - want) >= 1e-6)
		fprintf(stderr, "\n%s: type %c %g, want %g\n", path, v.type, v.d, want);
}

static void expect_i(const char *path, int32_t want)
{
	struct tb_val v;
	int r = tb_get_value(cli, SVC, path, &v);
	CU_ASSERT(r == 0 && v.type == 'i' && v.i == want);
	if (r != 0 || v.type != 'i' || v.i != want)
		fprintf(stderr, "\n%s: type %c %d, want %d\n", path, v.type, v.i, want);
}

static void expect_invalid(const char *path)
{
	struct tb_val v;
	CU_ASSERT(tb_get_value(cli, SVC, path, &v) == 0 && v.type == 'x');
}

static void read_file(char *buf, size_t cap)
{
	buf[0] = 0;
	CU_ASSERT(statefile_read(state_dir, FILE_NAME, buf, cap, NULL) == 0);
}

static void test_sequence(void)
{
	/* first snapshot at 50 % SOC, idle: extremes known, nothing integrated yet */
	struct bms_snapshot s = mk(0, 5000);
	step(&s, 1000);
	struct tb_val v;
	CU_ASSERT_FATAL(tb_get_value(cli, SVC, "/History/MinimumVoltage", &v) == 0);
	expect_d("/History/MinimumVoltage", 50.0);
	expect_d("/History/MinimumCellVoltage", 3.1);
	expect_d("/History/MaximumCellVoltage", 3.15);
	expect_d("/History/MinimumTemperature", 25.0);
	expect_d("/History/MaximumTemperature", 26.0);
	expect_d("/History/DeepestDischarge", -50.0);
	expect_invalid("/History/TimeSinceLastFullCharge");
	expect_i("/History/ChargeCycles", 5);
	expect_i("/History/CanBeCleared", 1);

	/* 10 s of 36 A discharge at 50 V: 0.1 Ah, 1.8 kW x 10 s = 0.005 kWh */
	s = mk(-36000, 4000);
	s.voltage_mv = 49000;
	s.temp_dc[1] = 310;
	for (int k = 0; k < 10; k++) {
		s.voltage_mv = 50000 - (k == 0 ? 1000 : 0);
		step(&s, 1000);
	}
	expect_d("/History/TotalAhDrawn", -0.1);
	expect_d("/History/LastDischarge", -0.1);
	expect_d("/History/AverageDischarge", -0.02); /* 0.1 Ah / 5 cycles */
	expect_d("/History/DeepestDischarge", -60.0);
	expect_d("/History/MinimumVoltage", 49.0);
	expect_d("/History/MaximumTemperature", 31.0);
	expect_d("/History/DischargedEnergy", 0.005);
	expect_d("/History/ChargedEnergy", 0.0);

	/* a new discharge restarts LastDischarge; charging does not count */
	s = mk(36000, 4000);
	step(&s, 1000);
	s = mk(-36000, 4000);
	for (int k = 0; k < 5; k++)
		step(&s, 1000);
	expect_d("/History/LastDischarge", -0.05);
	expect_d("/History/TotalAhDrawn", -0.15);

	/* low cell voltage alarm: two rising edges, a held alarm counts once */
	int lows[] = {2, 2, 0, 1, 2};
	for (int k = 0; k < 5; k++) {
		s = mk(0, 4000);
		s.alarm[BMS_ALARM_LOW_CELL_VOLTAGE] = (uint8_t)lows[k];
		step(&s, 1000);
	}
	expect_i("/History/LowVoltageAlarms", 2);
	expect_i("/History/HighVoltageAlarms", 0);

	/* SOC 0 twice in a row is one full discharge; re-armed only above 15 % */
	uint16_t socs[] = {0, 0, 1000, 0, 2000, 0};
	for (int k = 0; k < 6; k++) {
		s = mk(0, socs[k]);
		step(&s, 1000);
	}
	expect_i("/History/FullDischarges", 2);
	expect_d("/History/DeepestDischarge", -100.0);

	/* a full charge: one sync, the clock since it runs in whole minutes */
	s = mk(0, 10000);
	step(&s, 1000);
	expect_i("/History/AutomaticSyncs", 1);
	expect_i("/History/TimeSinceLastFullCharge", 0);
	step(&s, 61000);
	step(&s, 60000);
	expect_i("/History/AutomaticSyncs", 1);
	expect_i("/History/TimeSinceLastFullCharge", 120);
	s = mk(0, 9900);
	step(&s, 1000);
	s = mk(0, 10000);
	step(&s, 1000);
	expect_i("/History/AutomaticSyncs", 2);
	expect_i("/History/TimeSinceLastFullCharge", 0);

	/* the BMS's own protection counters win over our edge count */
	s.prot_events[BMS_PROT_CELL_UV] = 7;
	s.valid |= BMS_V_PROT_EVENTS;
	step(&s, 1000);
	expect_i("/History/LowVoltageAlarms", 7);
}

/* The file is written at most once a minute of the (fake) clock. */
static void test_once_a_minute(void)
{
	char before[1024], after[1024];
	struct bms_snapshot s = mk(-36000, 5000);
	step(&s, 61000); /* a minute after the last write: this one writes */
	read_file(before, sizeof(before));
	CU_ASSERT(strstr(before, "total_ah ") != NULL);
	for (int k = 0; k < 59; k++) {
		step(&s, 1000); /* each changes TotalAhDrawn */
		read_file(after, sizeof(after));
		CU_ASSERT(strcmp(before, after) == 0);
	}
	step(&s, 1000);
	read_file(after, sizeof(after));
	CU_ASSERT(strcmp(before, after) != 0);
}

static void expect_same(const char *path, const struct tb_val *want)
{
	struct tb_val v;
	CU_ASSERT(tb_get_value(cli, SVC, path, &v) == 0 && v.type == want->type && v.i == want->i &&
		  fabs(v.d - want->d) < 1e-9);
}

static const char *const kept[] = {
	"/History/TotalAhDrawn",       "/History/DeepestDischarge",   "/History/DischargedEnergy",
	"/History/ChargedEnergy",      "/History/MinimumVoltage",     "/History/MaximumVoltage",
	"/History/MinimumCellVoltage", "/History/MaximumTemperature", "/History/FullDischarges",
	"/History/AutomaticSyncs",     "/History/LowVoltageAlarms",   "/History/LastDischarge",
};
#define NKEPT (sizeof(kept) / sizeof(kept[0]))

/* Values survive a publisher restart (saved at stop, loaded at start). */
static void test_restart(void)
{
	struct bms_snapshot s = mk(0, 5000);
	step(&s, 1000); /* changed since the last write, within the minute */
	struct tb_val was[NKEPT];
	for (size_t k = 0; k < NKEPT; k++)
		CU_ASSERT_FATAL(tb_get_value(cli, SVC, kept[k], &was[k]) == 0 &&
				was[k].type != 'x');
	publish_free(pub);
	pub = NULL;
	CU_ASSERT_FATAL(start_publisher() == 0);
	/* a different snapshot: only what it extends may change, nothing resets */
	step(&s, 1000);
	for (size_t k = 0; k < NKEPT; k++)
		expect_same(kept[k], &was[k]);
}

static void clear(int32_t group)
{
	struct tb_val w;
	memset(&w, 0, sizeof(w));
	w.type = 'i';
	w.i = group;
	CU_ASSERT(tb_set_value(cli, SVC, "/History/Clear", &w) == 0);
	expect_i("/History/Clear", 0);
}

static void test_clear_groups(void)
{
	char text[1024];
	clear(7); /* energy */
	expect_d("/History/ChargedEnergy", 0);
	expect_d("/History/DischargedEnergy", 0);
	CU_ASSERT(tb_get_value(cli, SVC, "/History/TotalAhDrawn", &(struct tb_val){0}) == 0);
	struct tb_val v;
	CU_ASSERT(tb_get_value(cli, SVC, "/History/TotalAhDrawn", &v) == 0 && v.d < 0);
	read_file(text, sizeof(text)); /* the file at once, not a minute later */
	CU_ASSERT(strstr(text, "discharged_kwh 0\n") != NULL);

	clear(2); /* capacity */
	expect_d("/History/TotalAhDrawn", 0);
	expect_d("/History/LastDischarge", 0);
	expect_invalid("/History/DeepestDischarge");
	expect_i("/History/FullDischarges", 0);
	CU_ASSERT(tb_get_value(cli, SVC, "/History/MinimumVoltage", &v) == 0 && v.type == 'd');

	clear(3); /* voltage */
	expect_invalid("/History/MinimumVoltage");
	expect_invalid("/History/MaximumCellVoltage");
	CU_ASSERT(tb_get_value(cli, SVC, "/History/MinimumTemperature", &v) == 0 && v.type == 'd');

	clear(6); /* temperature */
	expect_invalid("/History/MaximumTemperature");

	clear(4); /* time */
	expect_invalid("/History/TimeSinceLastFullCharge");
	expect_i("/History/AutomaticSyncs", 0);

	/* our own alarm count clears; a BMS counter is the BMS's */
	struct bms_snapshot s = mk(0, 5000);
	s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 2;
	step(&s, 1000);
	expect_i("/History/HighVoltageAlarms", 1);
	clear(5);
	expect_i("/History/HighVoltageAlarms", 0);

	/* the next snapshot brings the extremes back */
	step(&s, 1000);
	expect_d("/History/MinimumVoltage", 50.0);
	clear(1);
	expect_invalid("/History/MinimumVoltage");
	expect_d("/History/ChargedEnergy", 0);
	read_file(text, sizeof(text));
	CU_ASSERT(strstr(text, "have_v 0\n") != NULL);

	/* and the cleared state is what a restart brings back */
	publish_free(pub);
	pub = NULL;
	CU_ASSERT_FATAL(start_publisher() == 0);
	step(&s, 1000);
	expect_d("/History/TotalAhDrawn", 0);
	expect_i("/History/FullDischarges", 0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"each path from a scripted sequence", test_sequence},
		{"the file is written at most once a minute", test_once_a_minute},
		{"a restart keeps the history", test_restart},
		{"Clear by group, and the file with it", test_clear_groups},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("history", suite_init, suite_clean, tests);
}
