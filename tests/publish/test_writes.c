/* SPDX-License-Identifier: MIT */
/*
 * The /Settings writes to the BMS (issue 17) in the publisher, against a real
 * dbus-daemon and the real store. The test plays the worker's side of the
 * command mailbox (it takes each posted command and reports an outcome: the
 * fault a test needs, a refusal or an acknowledgement the next poll
 * contradicts) and commits the snapshots a poll would. Time is a fake clock;
 * waits have a failure deadline only.
 */
#include <glob.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus_fixture.h"
#include "charge/charge.h"
#include "common/store.h"
#include "publish/publish.h"
#include "publish/publish_config.h"
#include "tests/support/cunit_main.h"

#define SVC "com.victronenergy.battery.ttyUSB0"
#define SVC_JK "com.victronenergy.battery.ttyUSB1"
#define WAIT_MS 15000

static _Atomic uint64_t fake_now = 1000000;

static struct tb_bus bus;
static struct store *st;
static struct publish *pub;
static struct publish_config pcfg;
static struct charge_config ccfg;
static DBusConnection *cli;
static int slot = -1, cmd_fd = -1;
static char state_dir[64];
static struct bms_snapshot snap; /* what the pack's BMS reports */

static void commit_as(int s, const char *tty, const char *proto)
{
	atomic_fetch_add(&fake_now, 1000); /* a poll later */
	CU_ASSERT(tb_commit(st, s, tty, proto, 0, &snap, atomic_load(&fake_now)) == 0);
}

/* A poll of the Daly pack, showing the FETs as its BMS now holds them. */
static void poll_daly(void)
{
	commit_as(slot, "ttyUSB0", "daly");
}

static int32_t get_int(const char *path)
{
	struct tb_val v;
	if (tb_get_value(cli, SVC, path, &v) != 0 || v.type != 'i')
		return -1000;
	return v.i;
}

static int set_int(const char *svc, const char *path, int32_t value)
{
	struct tb_val v = {.type = 'i', .i = value};
	return tb_set_value(cli, svc, path, &v);
}

/* The worker's side: the next command posted, within the deadline; false when none came. */
static bool take(struct store_command *ret)
{
	for (int i = 0; i < WAIT_MS / 50; i++) {
		if (store_command_take(st, slot, ret) == 1)
			return true;
		struct pollfd pfd = {cmd_fd, POLLIN, 0};
		if (poll(&pfd, 1, 50) > 0) {
			uint64_t x;
			if (read(cmd_fd, &x, sizeof(x)) < 0)
				return false;
		}
	}
	return false;
}

static uint32_t last_seq(void)
{
	struct store_record r;
	CU_ASSERT_FATAL(store_read(st, slot, &r) == 0);
	return r.cmd.cmd.seq;
}

static int suite_clean(void)
{
	publish_free(pub);
	pub = NULL;
	if (cli)
		tb_disconnect(cli);
	cli = NULL;
	store_free(st);
	st = NULL;
	if (cmd_fd >= 0)
		close(cmd_fd);
	cmd_fd = -1;
	tb_bus_stop(&bus);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int suite_init_steps(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/sb-writes-XXXXXX");
	if (!mkdtemp(state_dir) || tb_config_defaults(&pcfg, &ccfg) < 0)
		return -1;
	pcfg.interval_ms = 100;
	pcfg.bank_mode = PUBLISH_BANK_OFF;
	cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cmd_fd < 0 || tb_bus_start(&bus) < 0 || store_new(4, &st) < 0 ||
	    store_open(st, "usb-FTDI_W1-if00", &slot) < 0 ||
	    store_command_listen(st, slot, cmd_fd) < 0)
		return -1;
	cli = tb_connect(bus.address);
	if (!cli)
		return -1;
	return tb_publisher_start(bus.address, &pcfg, &ccfg, state_dir, &fake_now, st, &pub);
}

static int suite_init(void)
{
	int r = suite_init_steps();
	if (r < 0)
		suite_clean();
	return r;
}

static void pack_snapshot(void)
{
	memset(&snap, 0, sizeof(snap));
	snap.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		     BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS;
	snap.voltage_mv = 53000;
	snap.current_ma = 2000;
	snap.soc_cpct = 6000;
	snap.capacity_full_mah = 100000;
	snap.capacity_remain_mah = 60000;
	snap.cell_count = 16;
	for (int k = 0; k < 16; k++)
		snap.cell_mv[k] = 3310;
	snap.temp_count = 1;
	snap.temp_dc[0] = 250;
	snap.charge_fet = snap.discharge_fet = true;
}

/* The paths exist where the driver has the write, with their start values. */
static void test_paths(void)
{
	pack_snapshot();
	poll_daly();
	CU_ASSERT_FATAL(tb_until_i(cli, SVC, "/Settings/ForceChargingOff", 0));
	CU_ASSERT(get_int("/Settings/ForceDischargingOff") == 0);
	CU_ASSERT(get_int("/Settings/ResetSocTo") == 100);
	CU_ASSERT(get_int("/Settings/ResetSocToApply") == 0);
	CU_ASSERT(get_int("/Settings/HasSettings") == 1);
	CU_ASSERT(get_int("/Link/Writes") == 0 && get_int("/Link/WriteErrors") == 0);
	CU_ASSERT(tb_until_s(cli, SVC, "/Settings/LastWriteError", ""));
	struct tb_val v;
	/* Daly has no balancer write */
	CU_ASSERT(tb_get_value(cli, SVC, "/Settings/TurnBalancingOff", &v) != 0);
	/* a JK PB pack: no write at all, so none of the paths and no settings page */
	int jk;
	CU_ASSERT_FATAL(store_open(st, "usb-FTDI_W2-if00", &jk) == 0);
	commit_as(jk, "ttyUSB1", "jkpb");
	CU_ASSERT_FATAL(tb_until_i(cli, SVC_JK, "/Settings/HasSettings", 0));
	CU_ASSERT(tb_get_value(cli, SVC_JK, "/Settings/ForceChargingOff", &v) != 0);
	CU_ASSERT(tb_get_value(cli, SVC_JK, "/Settings/LastWriteError", &v) != 0);
	CU_ASSERT(store_close(st, jk) == 0);
}

/* The BMS refuses: the path keeps its value, the reason is shown and counted. */
static void test_refused(void)
{
	CU_ASSERT(set_int(SVC, "/Settings/ForceChargingOff", 1) == 0);
	struct store_command c;
	CU_ASSERT_FATAL(take(&c));
	CU_ASSERT(c.command == BMS_CMD_CHARGE_FET && c.value == 0); /* the FET off */
	CU_ASSERT(store_command_done(st, slot, c.seq, STORE_CMD_REFUSED) == 0);
	CU_ASSERT(tb_until_s(cli, SVC, "/Settings/LastWriteError",
			     "ForceChargingOff 1: refused by the BMS"));
	CU_ASSERT(get_int("/Link/WriteErrors") == 1 && get_int("/Link/Writes") == 1);
	CU_ASSERT(get_int("/Settings/ForceChargingOff") == 0);
}

/* Acknowledged, but the next poll shows the FET on: not confirmed, path unchanged. */
static void test_ack_not_shown(void)
{
	CU_ASSERT(set_int(SVC, "/Settings/ForceChargingOff", 1) == 0);
	struct store_command c;
	CU_ASSERT_FATAL(take(&c));
	CU_ASSERT(store_command_done(st, slot, c.seq, STORE_CMD_OK) == 0);
	usleep(100000);
	poll_daly(); /* the FET still on */
	CU_ASSERT(
		tb_until_s(cli, SVC, "/Settings/LastWriteError",
			   "ForceChargingOff 1: not confirmed: the BMS acknowledged, but its next "
			   "poll shows the charge FET on"));
	CU_ASSERT(get_int("/Link/WriteErrors") == 2);
	CU_ASSERT(get_int("/Settings/ForceChargingOff") == 0);
}

/*
 * Taken and shown: the path reads 1 and charging stops. The BMS's app
 * switches the FET on: the force has ended. 0 with no force of ours then
 * sends nothing, whatever the FET.
 */
static void test_force_holds_and_ends(void)
{
	CU_ASSERT(set_int(SVC, "/Settings/ForceChargingOff", 1) == 0);
	struct store_command c;
	CU_ASSERT_FATAL(take(&c));
	CU_ASSERT(store_command_done(st, slot, c.seq, STORE_CMD_OK) == 0);
	usleep(100000);
	snap.charge_fet = false;
	poll_daly();
	CU_ASSERT(tb_until_i(cli, SVC, "/Settings/ForceChargingOff", 1));
	CU_ASSERT(tb_until_i(cli, SVC, "/Io/AllowToCharge", 0));
	CU_ASSERT(tb_until_s(cli, SVC, "/Settings/LastWriteError", ""));
	snap.charge_fet = true; /* someone else */
	poll_daly();
	CU_ASSERT(tb_until_i(cli, SVC, "/Settings/ForceChargingOff", 0));
	/* the BMS's protection opens the FET: 0 from us must not switch it on */
	snap.charge_fet = false;
	poll_daly();
	uint32_t seq = last_seq();
	int32_t done = get_int("/Link/Writes");
	CU_ASSERT(set_int(SVC, "/Settings/ForceChargingOff", 0) == 0);
	CU_ASSERT(tb_until_i(cli, SVC, "/Link/Writes", done + 1));
	CU_ASSERT(last_seq() == seq); /* nothing was posted */
	snap.charge_fet = true;
	poll_daly();
}

/* Two quick writes to two paths: one command at a time, neither replaces the other. */
static void test_one_at_a_time(void)
{
	CU_ASSERT(set_int(SVC, "/Settings/ForceChargingOff", 1) == 0);
	CU_ASSERT(set_int(SVC, "/Settings/ForceDischargingOff", 1) == 0);
	struct store_command c1, c2;
	CU_ASSERT_FATAL(take(&c1));
	CU_ASSERT(c1.command == BMS_CMD_CHARGE_FET && c1.value == 0);
	CU_ASSERT(last_seq() == c1.seq); /* the second waits */
	CU_ASSERT(store_command_done(st, slot, c1.seq, STORE_CMD_OK) == 0);
	usleep(100000);
	snap.charge_fet = false;
	poll_daly();
	CU_ASSERT_FATAL(take(&c2));
	CU_ASSERT(c2.command == BMS_CMD_DISCHARGE_FET && c2.value == 0);
	CU_ASSERT(store_command_done(st, slot, c2.seq, STORE_CMD_OK) == 0);
	usleep(100000);
	snap.discharge_fet = false;
	poll_daly();
	CU_ASSERT(tb_until_i(cli, SVC, "/Settings/ForceChargingOff", 1));
	CU_ASSERT(tb_until_i(cli, SVC, "/Settings/ForceDischargingOff", 1));
	/* the forces are in the state dir */
	char pattern[128], text[128] = "";
	snprintf(pattern, sizeof(pattern), "%s/writes_*W1*.state", state_dir);
	glob_t g;
	CU_ASSERT_FATAL(glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc == 1);
	FILE *f = fopen(g.gl_pathv[0], "r");
	globfree(&g);
	CU_ASSERT_FATAL(f != NULL);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	CU_ASSERT(strstr(text, "charge_off=1") && strstr(text, "discharge_off=1"));
	/* 0: our own forces undone, the FETs sent on */
	CU_ASSERT(set_int(SVC, "/Settings/ForceDischargingOff", 0) == 0);
	CU_ASSERT_FATAL(take(&c1));
	CU_ASSERT(c1.command == BMS_CMD_DISCHARGE_FET && c1.value == 1);
	CU_ASSERT(store_command_done(st, slot, c1.seq, STORE_CMD_OK) == 0);
	CU_ASSERT(tb_until_i(cli, SVC, "/Settings/ForceDischargingOff", 0));
	snap.discharge_fet = true;
	CU_ASSERT(set_int(SVC, "/Settings/ForceChargingOff", 0) == 0);
	CU_ASSERT_FATAL(take(&c1));
	CU_ASSERT(c1.command == BMS_CMD_CHARGE_FET && c1.value == 1);
	CU_ASSERT(store_command_done(st, slot, c1.seq, STORE_CMD_TIMEOUT) == 0);
	CU_ASSERT(tb_until_s(cli, SVC, "/Settings/LastWriteError",
			     "ForceChargingOff 0: not confirmed: the BMS did not answer in time"));
	CU_ASSERT(get_int("/Settings/ForceChargingOff") == 1); /* still ours, unchanged */
	CU_ASSERT(set_int(SVC, "/Settings/ForceChargingOff", 0) == 0);
	CU_ASSERT_FATAL(take(&c1));
	CU_ASSERT(store_command_done(st, slot, c1.seq, STORE_CMD_OK) == 0);
	CU_ASSERT(tb_until_i(cli, SVC, "/Settings/ForceChargingOff", 0));
	snap.charge_fet = true;
	poll_daly();
}

/* ResetSocTo then ResetSocToApply: one SOC write, the apply path reads 0. */
static void test_soc(void)
{
	CU_ASSERT(set_int(SVC, "/Settings/ResetSocTo", 101) != 0); /* out of range */
	CU_ASSERT(set_int(SVC, "/Settings/ResetSocTo", 30) == 0);
	CU_ASSERT(set_int(SVC, "/Settings/ResetSocToApply", 1) == 0);
	struct store_command c;
	CU_ASSERT_FATAL(take(&c));
	CU_ASSERT(c.command == BMS_CMD_SOC && c.value == 3000);
	CU_ASSERT(get_int("/Settings/ResetSocToApply") == 0);
	CU_ASSERT(get_int("/Settings/ResetSocTo") == 30);
	int32_t done = get_int("/Link/Writes");
	CU_ASSERT(store_command_done(st, slot, c.seq, STORE_CMD_REFUSED) == 0);
	CU_ASSERT(tb_until_i(cli, SVC, "/Link/Writes", done + 1));
	CU_ASSERT(tb_until_s(cli, SVC, "/Settings/LastWriteError",
			     "ResetSocTo 30: refused by the BMS"));
	CU_ASSERT(set_int(SVC, "/Settings/ResetSocToApply", 7) == 0); /* any non-zero applies */
	CU_ASSERT_FATAL(take(&c));
	CU_ASSERT(c.command == BMS_CMD_SOC && c.value == 3000);
	CU_ASSERT(store_command_done(st, slot, c.seq, STORE_CMD_OK) == 0);
	CU_ASSERT(tb_until_i(cli, SVC, "/Link/Writes", done + 2));
	CU_ASSERT(tb_until_s(cli, SVC, "/Settings/LastWriteError", ""));
}

/*
 * A pack that goes away and comes back in the same run (replugged) keeps our
 * force as the BMS still holds it: nothing is sent, undone or repeated.
 */
static void test_returning_pack_keeps_force(void)
{
	CU_ASSERT(set_int(SVC, "/Settings/ForceChargingOff", 1) == 0);
	struct store_command c;
	CU_ASSERT_FATAL(take(&c));
	CU_ASSERT(store_command_done(st, slot, c.seq, STORE_CMD_OK) == 0);
	usleep(100000);
	snap.charge_fet = false;
	poll_daly();
	CU_ASSERT_FATAL(tb_until_i(cli, SVC, "/Settings/ForceChargingOff", 1));
	/* unplugged: the service goes once the comms-loss policy ran its course */
	CU_ASSERT(store_close(st, slot) == 0);
	atomic_fetch_add(&fake_now, 600000);
	struct tb_val v;
	bool gone = false;
	for (int i = 0; i < WAIT_MS / 20 && !gone; i++) {
		gone = tb_get_value(cli, SVC, "/Connected", &v) != 0;
		if (!gone)
			usleep(20000);
	}
	CU_ASSERT_FATAL(gone);
	int again;
	CU_ASSERT_FATAL(store_open(st, "usb-FTDI_W1-if00", &again) == 0 && again == slot);
	CU_ASSERT(store_command_listen(st, slot, cmd_fd) == 0);
	uint32_t seq = last_seq();
	poll_daly(); /* the FET still off */
	CU_ASSERT(tb_until_i(cli, SVC, "/Settings/ForceChargingOff", 1));
	CU_ASSERT(tb_until_i(cli, SVC, "/Io/AllowToCharge", 0));
	CU_ASSERT(last_seq() == seq); /* nothing sent */
	/* and 0 undoes it as ours */
	CU_ASSERT(set_int(SVC, "/Settings/ForceChargingOff", 0) == 0);
	CU_ASSERT_FATAL(take(&c));
	CU_ASSERT(c.command == BMS_CMD_CHARGE_FET && c.value == 1);
	CU_ASSERT(store_command_done(st, slot, c.seq, STORE_CMD_OK) == 0);
	CU_ASSERT(tb_until_i(cli, SVC, "/Settings/ForceChargingOff", 0));
	snap.charge_fet = true;
	poll_daly();
}

/* A pack that went stale takes no write: refused at once (SetValue 2), reported. */
static void test_not_online(void)
{
	int32_t errors = get_int("/Link/WriteErrors");
	atomic_fetch_add(&fake_now, 20000); /* no poll for 20 s: stale */
	CU_ASSERT(tb_until_s(cli, SVC, "/ConnectionInformation", "No data (stale)"));
	CU_ASSERT(set_int(SVC, "/Settings/ForceDischargingOff", 1) == 2);
	CU_ASSERT(tb_until_s(cli, SVC, "/Settings/LastWriteError",
			     "ForceDischargingOff 1: refused: the pack is not online"));
	CU_ASSERT(get_int("/Link/WriteErrors") == errors + 1);
	CU_ASSERT(get_int("/Settings/ForceDischargingOff") == 0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"paths", test_paths},
		{"refused", test_refused},
		{"ack_not_shown", test_ack_not_shown},
		{"force_holds_and_ends", test_force_holds_and_ends},
		{"one_at_a_time", test_one_at_a_time},
		{"soc", test_soc},
		{"returning_pack_keeps_force", test_returning_pack_keeps_force},
		{"not_online", test_not_online},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("publish_writes", suite_init, suite_clean, tests);
}
