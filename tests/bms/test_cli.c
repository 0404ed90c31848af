/* SPDX-License-Identifier: MIT */
/*
 * The decode and simulate subcommands, run as the real binary: decode of a
 * captured frame prints its values as JSON, a bad frame exits 1 with a
 * reason; simulate answers through a real pseudo-terminal exactly what the
 * state file says, stays silent when not addressed, at the wrong baud, after
 * SIGUSR1, and never lets a corrupted reply through the frame check + parse.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "bms/bms.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"
#include "tests/support/simproc.h"
#include "tools/snapshot_json.h"

static char bin[4096];
static char tmpdir[256];

static int init_suite(void)
{
	const char *b = getenv("SB_BINARY_DIR");
	snprintf(bin, sizeof(bin), "%s/tools/serialbattery", b ? b : ".");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sb-cli-XXXXXX");
	return (access(bin, X_OK) == 0 && mkdtemp(tmpdir)) ? 0 : -1;
}

/* Run argv, capture stdout and stderr (separately), return the exit status. */
static int run(char *const argv[], char *out, size_t outcap, char *err, size_t errcap)
{
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	size_t on = 0, en = 0;
	struct pollfd p[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
	int open_fds = 2;
	while (open_fds > 0) {
		if (poll(p, 2, -1) < 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			char *dst = i ? err : out;
			size_t *n = i ? &en : &on, cap = i ? errcap : outcap;
			ssize_t k = read(p[i].fd, dst + *n, cap - 1 - *n);
			if (k <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
			} else {
				*n += (size_t)k;
			}
		}
	}
	out[on] = '\0';
	err[en] = '\0';
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *vector_hex(const char *family, unsigned nth)
{
	size_t n;
	const struct vec *v = dc_vectors(&n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].family, family) && !strcmp(v[i].direction, "response") &&
		    nth-- == 0)
			return v[i].hex;
	return NULL;
}

static void test_decode(void)
{
	char out[16384], err[4096];
	char *argv[] = {bin,  "decode", "--bms",
			"jk", "--hex",  (char *)vector_hex("jk_serial_4e57", 0),
			NULL};
	CU_ASSERT_FATAL(argv[5] != NULL);
	CU_ASSERT(run(argv, out, sizeof(out), err, sizeof(err)) == 0);
	struct bms_json_state st[1];
	size_t n;
	char why[200] = "";
	CU_ASSERT_FATAL(bms_json_read(out, strlen(out), st, 1, &n, why, sizeof(why)) == 0);
	CU_ASSERT(st[0].snap.voltage_mv == 53590);
	CU_ASSERT(st[0].snap.current_ma == 2080);
	CU_ASSERT(st[0].snap.cell_count == 14 && st[0].snap.cell_mv[8] == 3811);
	CU_ASSERT(st[0].snap.soc_cpct == 1500);
	CU_ASSERT_STRING_EQUAL(st[0].snap.sw_version, "H6.X__S6.1.3S__");

	/* two JK PB frames (status + about), spaces allowed, merged */
	char spaced[2048];
	const char *h = vector_hex("jk_pb_rs485", 1);
	size_t k = 0;
	for (size_t i = 0; h[i] && k + 4 < sizeof(spaced); i += 2) {
		spaced[k++] = h[i];
		spaced[k++] = h[i + 1];
		spaced[k++] = ' ';
	}
	spaced[k] = '\0';
	char *argv2[] = {bin,     "decode", "--bms", "jkpb",
			 "--hex", spaced,   "--hex", (char *)vector_hex("jk_pb_rs485", 2),
			 NULL};
	CU_ASSERT(run(argv2, out, sizeof(out), err, sizeof(err)) == 0);
	CU_ASSERT(strstr(out, "\"voltage_v\": 54.028") != NULL);
	CU_ASSERT(strstr(out, "\"current_a\": -0.727") != NULL);
	CU_ASSERT(strstr(out, "\"model\": \"JK-PB2A16S20P\"") != NULL);
	CU_ASSERT(strstr(out, "\"serial\": \"506177F49000674\"") != NULL);
}

static void test_decode_bad(void)
{
	char out[16384], err[4096], bad[2048];
	snprintf(bad, sizeof(bad), "%s", vector_hex("jk_serial_4e57", 0));
	size_t l = strlen(bad);
	bad[l - 1] = bad[l - 1] == '0' ? '1' : '0'; /* checksum */
	char *argv[] = {bin, "decode", "--bms", "jk", "--hex", bad, NULL};
	CU_ASSERT(run(argv, out, sizeof(out), err, sizeof(err)) == 1);
	CU_ASSERT(strstr(err, "checksum") != NULL);
	CU_ASSERT(out[0] == '\0');

	bad[40] = '\0'; /* truncated */
	CU_ASSERT(run(argv, out, sizeof(out), err, sizeof(err)) == 1);
	CU_ASSERT(strstr(err, "truncated") != NULL);

	/* a JK frame given to the JK PB driver */
	char *argv2[] = {bin,    "decode", "--bms",
			 "jkpb", "--hex",  (char *)vector_hex("jk_serial_4e57", 1),
			 NULL};
	CU_ASSERT(run(argv2, out, sizeof(out), err, sizeof(err)) == 1);
	CU_ASSERT(strstr(err, "header") != NULL);

	/* a valid ACK for another unit: no request of ours */
	char *argv3[] = {bin,         "decode", "--bms", "jkpb",
			 "--address", "2",      "--hex", (char *)vector_hex("jk_pb_rs485", 0),
			 NULL};
	CU_ASSERT(run(argv3, out, sizeof(out), err, sizeof(err)) ==
		  0); /* no ACK: data alone is fine */
	char *argv4[] = {bin, "decode", "--bms", "nosuch", "--hex", "00", NULL};
	CU_ASSERT(run(argv4, out, sizeof(out), err, sizeof(err)) == 2);
}

/* ---- decode: a whole capture (issue 15 item 1) ---- */

/* The R24TS capture: 13 Daly replies to 0x90..0x98 in one string. */
static const char *daly_poll(void)
{
	return vector_hex("daly", 6);
}

static void check_r24ts(const char *out)
{
	struct bms_json_state st[1];
	size_t n;
	char why[200] = "";
	/* the snapshot is the last line */
	static char last[65536];
	snprintf(last, sizeof(last), "%s", out);
	size_t l = strlen(last);
	while (l && last[l - 1] == '\n')
		last[--l] = '\0';
	const char *nl = strrchr(last, '\n');
	const char *json = nl ? nl + 1 : last;
	CU_ASSERT_FATAL(bms_json_read(json, strlen(json), st, 1, &n, why, sizeof(why)) == 0);
	const struct bms_snapshot *s = &st[0].snap;
	CU_ASSERT(s->voltage_mv == 53000);
	CU_ASSERT(s->soc_cpct == 5120);
	CU_ASSERT(s->cell_count == 14 && s->cell_mv[0] == 3790 && s->cell_mv[13] == 3791);
	CU_ASSERT(s->temp_count == 2 && s->temp_dc[0] == 160 && s->temp_dc[1] == 160);
	CU_ASSERT((s->valid & BMS_V_FETS) && s->charge_fet && s->discharge_fet);
	CU_ASSERT(s->capacity_remain_mah == 40960);
	CU_ASSERT((s->valid & BMS_V_COUNTS) && s->cells_reported == 14 && s->temps_reported == 2);
	CU_ASSERT(s->valid & BMS_V_ALARMS);
}

static void test_decode_capture(void)
{
	static char out[65536], err[4096];
	const char *poll = daly_poll();
	CU_ASSERT_FATAL(poll != NULL && strlen(poll) == 13 * 26);

	/* one hex string holding the whole poll */
	char *a1[] = {bin, "decode", "--bms", "daly", "--hex", (char *)poll, NULL};
	CU_ASSERT(run(a1, out, sizeof(out), err, sizeof(err)) == 0);
	check_r24ts(out);

	/* the replies in reverse order (0x98 first, 0x90 last; 0x95's frames in order) */
	char rev[13 * 26 + 1], *w = rev;
	static const int order[] = {12, 11, 10, 5, 6, 7, 8, 9, 4, 3, 2, 1, 0};
	for (size_t i = 0; i < 13; i++) {
		memcpy(w, poll + order[i] * 26, 26);
		w += 26;
	}
	*w = '\0';
	char *a2[] = {bin, "decode", "--bms", "daly", "--hex", rev, NULL};
	CU_ASSERT(run(a2, out, sizeof(out), err, sizeof(err)) == 0);
	check_r24ts(out);

	/* a file, one exchange per line (the request, then its reply), with comments */
	char path[512];
	snprintf(path, sizeof(path), "%s/capture.txt", tmpdir);
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("# a Daly poll as a logic analyser gives it\n", f);
	for (size_t i = 0; i < 13; i++) {
		char cmd[3] = {poll[i * 26 + 4], poll[i * 26 + 5], 0};
		unsigned c = (unsigned)strtoul(cmd, NULL, 16);
		unsigned sum = (0xA5 + 0x40 + c + 0x08 + 8 * 0xAA) & 0xFF;
		bool first = i == 0 || memcmp(poll + (i - 1) * 26 + 4, cmd, 2) != 0;
		if (first)
			fprintf(f, "A5 40 %02X 08 AA AA AA AA AA AA AA AA %02X ", c, sum);
		fprintf(f, "%.26s%s", poll + i * 26,
			i + 1 < 13 && memcmp(poll + (i + 1) * 26 + 4, cmd, 2) == 0 ? "" : "\n");
	}
	fclose(f);
	char *a3[] = {bin, "decode", "--bms", "daly", "--file", path, "--frames", NULL};
	CU_ASSERT(run(a3, out, sizeof(out), err, sizeof(err)) == 0);
	check_r24ts(out);
	/* one line per frame: 9 requests and 13 replies, offsets counting the requests */
	unsigned lines = 0, requests = 0;
	for (const char *p = out; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (p[0] == '@') {
			lines++;
			const char *sp = memchr(p, ' ', n);
			if (sp && !strncmp(sp + 1, "request", 7))
				requests++;
		}
		p += n + (e ? 1 : 0);
	}
	CU_ASSERT(lines == 22);
	CU_ASSERT(requests == 9);
	CU_ASSERT(strncmp(out, "@0 request 0x90", 15) == 0);
	CU_ASSERT(strstr(out, "\n@13 reply 0x90") != NULL);

	/* 0x91 and 0x92, which the poll does not use, are decoded, never refused */
	CU_ASSERT(strstr(out, "refused") == NULL);
	CU_ASSERT(strstr(out, "reply 0x91") != NULL && strstr(out, "reply 0x92") != NULL);
}

static void test_decode_capture_errors(void)
{
	static char out[65536], err[4096];
	const char *poll = daly_poll();
	CU_ASSERT_FATAL(poll != NULL);
	char bad[13 * 26 + 64];

	/* a checksum failure anywhere: exit 1, the offset named */
	snprintf(bad, sizeof(bad), "%s", poll);
	bad[3 * 26 + 10] = bad[3 * 26 + 10] == '0' ? '1' : '0'; /* inside the 0x93 reply */
	char *a1[] = {bin, "decode", "--bms", "daly", "--hex", bad, NULL};
	CU_ASSERT(run(a1, out, sizeof(out), err, sizeof(err)) == 1);
	CU_ASSERT(strstr(err, "checksum") != NULL && strstr(err, "39") != NULL);

	/* another board's reply and a display's request: reported, not an error */
	snprintf(bad, sizeof(bad), "%s%s%s", "A502900802140000754503788A",
		 "A58090080000000000000000BD", poll);
	char *a2[] = {bin, "decode",   "--bms", "daly", "--address",
		      "1", "--frames", "--hex", bad,    NULL};
	CU_ASSERT(run(a2, out, sizeof(out), err, sizeof(err)) == 0);
	CU_ASSERT(strstr(out, "@0 reply 0x90") != NULL && strstr(out, "foreign") != NULL);
	CU_ASSERT(strstr(out, "@13 request 0x90") != NULL);
	check_r24ts(out);

	/* noise and a cut-off frame at the end: reported, not an error */
	snprintf(bad, sizeof(bad), "0102%sA50190", poll);
	char *a3[] = {bin, "decode", "--bms", "daly", "--frames", "--hex", bad, NULL};
	CU_ASSERT(run(a3, out, sizeof(out), err, sizeof(err)) == 0);
	CU_ASSERT(strstr(out, "@0 -: skipped 2 bytes of noise") != NULL);
	CU_ASSERT(strstr(out, "truncated") != NULL);
	check_r24ts(out);
}

/* ---- simulate through a pty ---- */

struct simproc {
	struct sb_simproc proc;
	char link[300];
};

static int sim_start(struct simproc *sp, char *const extra[])
{
	char *argv[32];
	int n = 0;
	snprintf(sp->link, sizeof(sp->link), "%s/link", tmpdir);
	argv[n++] = bin;
	argv[n++] = "simulate";
	argv[n++] = "--link";
	argv[n++] = sp->link;
	for (int i = 0; extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	return sb_simproc_start(&sp->proc, argv, NULL);
}

static int sim_stop(struct simproc *sp)
{
	return sb_simproc_stop(&sp->proc);
}

static int open_link(const char *path, speed_t speed)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct termios t;
	tcgetattr(fd, &t);
	cfmakeraw(&t);
	cfsetispeed(&t, speed);
	cfsetospeed(&t, speed);
	tcsetattr(fd, TCSANOW, &t);
	return fd;
}

/*
 * One poll cycle over the link. Returns 0 when every step completed, else
 * -ETIMEDOUT (silence: nothing within quiet_ms; generous where a reply is due) or
 * the parse error. quiet_ms bounds how long silence is awaited.
 */
static int cycle(int fd, const struct bms_driver *drv, uint8_t addr, struct bms_snapshot *snap,
		 int quiet_ms)
{
	_Alignas(8) uint8_t st[1024];
	uint8_t req[256], buf[4096];
	memset(st, 0, sizeof(st));
	CU_ASSERT_FATAL(drv->state_size <= sizeof(st));
	if (drv->init && drv->init(st, addr) < 0)
		return -EINVAL;
	struct bms_request rq = {.kind = BMS_REQ_POLL, .cycle = 1};
	for (rq.step = 0;; rq.step++) {
		int n = drv->build_request(st, &rq, req, sizeof(req));
		if (n <= 0)
			return n;
		tcflush(fd, TCIFLUSH);
		if (write(fd, req, (size_t)n) != n)
			return -EIO;
		size_t have = 0;
		int r = -ETIMEDOUT;
		for (;;) {
			struct pollfd p = {fd, POLLIN, 0};
			if (poll(&p, 1, quiet_ms) <= 0)
				break;
			ssize_t k = read(fd, buf + have, sizeof(buf) - have);
			if (k <= 0)
				break;
			have += (size_t)k;
			r = dc_feed(drv, st, &rq, buf, have, snap);
			if (r == 0 || (r < 0 && r != -ENODATA) || have == sizeof(buf))
				break;
			r = -ETIMEDOUT;
		}
		if (r != 0)
			return r;
	}
}

static const char state_json[] =
	"{\"voltage_v\": 52.5, \"current_a\": -12.5, \"power_w\": -656.25, \"soc_pct\": 66,\n"
	" \"soh_pct\": 97, \"capacity_remaining_ah\": 184.8, \"capacity_full_ah\": 280,\n"
	" \"capacity_design_ah\": 280, \"cycles\": 33,\n"
	" \"cell_voltages_v\": [3.28, 3.281, 3.282, 3.283, 3.28, 3.28, 3.28, 3.28,\n"
	"                     3.28, 3.28, 3.28, 3.28, 3.28, 3.28, 3.28, 3.292],\n"
	" \"temperatures_c\": [21.5, 22.5], \"mosfet_temp_c\": 30.1, \"charge_fet\": true,\n"
	" \"discharge_fet\": true, \"balancing\": [], \"balancer_enabled\": true,\n"
	" \"alarms\": {\"HighCellVoltage\": 2}, \"max_charge_current_a\": 100,\n"
	" \"max_discharge_current_a\": 150, \"serial\": \"SIMPB01\", \"model\": "
	"\"JK-PB2A16S20P\",\n"
	" \"hw_version\": \"19A\", \"sw_version\": \"19.27\",\n"
	" \"states\": [{\"t\": 0}, {\"t\": 100000, \"soc_pct\": 10}]}\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

static void test_simulate_roundtrip(void)
{
	char state[300];
	snprintf(state, sizeof(state), "%s/state.json", tmpdir);
	write_file(state, state_json);
	struct bms_json_state want[4];
	size_t nw;
	CU_ASSERT_FATAL(snapshot_json_load(state, want, 4, &nw, NULL, 0) == 0);

	struct simproc sp;
	char *extra[] = {"--bms", "jkpb", "--state", state, "--address", "3", NULL};
	CU_ASSERT_FATAL(sim_start(&sp, extra) == 0);
	const struct bms_driver *drv = bms_driver_find("jkpb");
	int fd = open_link(sp.link, B115200);
	CU_ASSERT_FATAL(fd >= 0);
	struct bms_snapshot got;
	memset(&got, 0, sizeof(got));
	CU_ASSERT(cycle(fd, drv, 3, &got, 5000) == 0);
	const struct bms_snapshot *w = &want[0].snap;
	CU_ASSERT(got.voltage_mv == w->voltage_mv);
	CU_ASSERT(got.current_ma == w->current_ma);
	CU_ASSERT(got.power_mw == w->power_mw);
	CU_ASSERT(got.soc_cpct == w->soc_cpct);
	CU_ASSERT(got.soh_cpct == w->soh_cpct);
	CU_ASSERT(got.capacity_remain_mah == w->capacity_remain_mah);
	CU_ASSERT(got.cycles == 33);
	CU_ASSERT(got.cell_count == 16 && got.cell_mv[15] == 3292);
	CU_ASSERT(got.temp_count == 2 && got.temp_dc[1] == 225);
	CU_ASSERT(got.mosfet_temp_dc == 301);
	CU_ASSERT(got.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] == 2);
	CU_ASSERT(got.max_discharge_ma == 150000);
	CU_ASSERT_STRING_EQUAL(got.serial, "SIMPB01");
	CU_ASSERT_STRING_EQUAL(got.model, "JK-PB2A16S20P");

	/* another address: silence */
	memset(&got, 0, sizeof(got));
	CU_ASSERT(cycle(fd, drv, 4, &got, 300) == -ETIMEDOUT);

	/* SIGUSR1 toggles silence */
	kill(sp.proc.pid, SIGUSR1);
	CU_ASSERT(cycle(fd, drv, 3, &got, 300) == -ETIMEDOUT);
	kill(sp.proc.pid, SIGUSR1);
	CU_ASSERT(cycle(fd, drv, 3, &got, 5000) == 0);

	/* wrong baud: the device cannot hear us */
	close(fd);
	fd = open_link(sp.link, B9600);
	CU_ASSERT(cycle(fd, drv, 3, &got, 300) == -ETIMEDOUT);
	close(fd);
	CU_ASSERT(sim_stop(&sp) == 0);
	CU_ASSERT(access(sp.link, F_OK) != 0); /* link removed */
}

/* Two packs on one bus, one goes silent; and the JK 0x4E57 simulator. */
static void test_simulate_bus(void)
{
	char state[300], spec2[400];
	snprintf(state, sizeof(state), "%s/state2.json", tmpdir);
	write_file(state, "{\"voltage_v\": 26.6, \"cell_voltages_v\": [3.3, 3.3, 3.3, 3.3, 3.3, "
			  "3.3, 3.3, 3.3]}");
	snprintf(spec2, sizeof(spec2), "2,state=%s,silent-after=0", state);
	struct simproc sp;
	char *extra[] = {"--bms", "jkpb", "--address", "1", "--address", spec2, NULL};
	CU_ASSERT_FATAL(sim_start(&sp, extra) == 0);
	const struct bms_driver *drv = bms_driver_find("jkpb");
	int fd = open_link(sp.link, B115200);
	CU_ASSERT_FATAL(fd >= 0);
	struct bms_snapshot got;
	memset(&got, 0, sizeof(got));
	CU_ASSERT(cycle(fd, drv, 1, &got, 5000) == 0);
	CU_ASSERT(got.cell_count == 16); /* the default state */
	CU_ASSERT(cycle(fd, drv, 2, &got, 300) == -ETIMEDOUT);
	close(fd);
	CU_ASSERT(sim_stop(&sp) == 0);

	char *extra2[] = {"--bms", "jk", NULL};
	CU_ASSERT_FATAL(sim_start(&sp, extra2) == 0);
	fd = open_link(sp.link, B115200);
	memset(&got, 0, sizeof(got));
	CU_ASSERT(cycle(fd, bms_driver_find("jk"), 0, &got, 5000) == 0);
	CU_ASSERT(got.voltage_mv == 53120 && got.cell_count == 16);
	close(fd);
	CU_ASSERT(sim_stop(&sp) == 0);
}

/* Every reply corrupted: a cycle either fails or yields exactly the state. */
static void test_simulate_corrupt(void)
{
	static const char *const names[] = {"jk", "jkpb"};
	for (size_t d = 0; d < 2; d++) {
		struct simproc sp;
		char *extra[] = {"--bms", (char *)names[d], "--corrupt-rate", "1", "--seed", "7",
				 NULL};
		CU_ASSERT_FATAL(sim_start(&sp, extra) == 0);
		const struct bms_driver *drv = bms_driver_find(names[d]);
		int fd = open_link(sp.link, B115200);
		CU_ASSERT_FATAL(fd >= 0);
		unsigned ok = 0;
		for (int i = 0; i < 15; i++) {
			struct bms_snapshot got;
			memset(&got, 0, sizeof(got));
			int r = cycle(fd, drv, drv->addresses ? drv->addresses[0] : 0, &got, 200);
			if (r == 0) {
				ok++;
				CU_ASSERT(got.voltage_mv == 53120);
				CU_ASSERT(got.cell_count == 16);
				for (unsigned c = 0; c < 16; c++)
					CU_ASSERT(got.cell_mv[c] == 3315 + c % 3);
			}
		}
		fprintf(stderr,
			"  [%s: %u of 15 corrupted cycles still whole: the flip hit a "
			"byte outside any frame]\n",
			names[d], ok);
		close(fd);
		CU_ASSERT(sim_stop(&sp) == 0);
	}
}

/*
 * --pace: the reply goes out at the line rate (a byte, or N bytes, per
 * character time) and is the same reply; a pace that is no byte count is
 * refused before the link exists.
 */
static void test_simulate_paced(void)
{
	const struct bms_driver *drv = bms_driver_find("jbd");
	CU_ASSERT_FATAL(drv != NULL);
	char *paces[] = {"line", "7"};
	for (size_t i = 0; i < 2; i++) {
		struct simproc sp;
		char *extra[] = {"--bms", "jbd", "--pace", paces[i], NULL};
		CU_ASSERT_FATAL(sim_start(&sp, extra) == 0);
		int fd = open_link(sp.link, B9600);
		CU_ASSERT_FATAL(fd >= 0);
		struct bms_snapshot got;
		memset(&got, 0, sizeof(got));
		CU_ASSERT(cycle(fd, drv, 0, &got, 5000) == 0);
		CU_ASSERT(got.voltage_mv == 53120 && got.cell_count == 16);
		CU_ASSERT(got.cell_mv[1] == 3316);
		close(fd);
		CU_ASSERT(sim_stop(&sp) == 0);
	}
	char *bad[] = {"0", "fast", "-3"};
	for (size_t i = 0; i < 3; i++) {
		struct simproc sp;
		char *extra[] = {"--bms", "jbd", "--pace", bad[i], NULL};
		CU_ASSERT(sim_start(&sp, extra) < 0);
	}
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"decode", test_decode},
		{"decode_bad", test_decode_bad},
		{"decode_capture", test_decode_capture},
		{"decode_capture_errors", test_decode_capture_errors},
		{"simulate_roundtrip", test_simulate_roundtrip},
		{"simulate_bus", test_simulate_bus},
		{"simulate_paced", test_simulate_paced},
		{"simulate_corrupt", test_simulate_corrupt},
		{NULL, NULL},
	};
	if (init_suite() != 0) {
		fprintf(stderr, "test_cli: %s missing or no temp dir\n", bin);
		return -1;
	}
	return sb_add_suite("cli", tests);
}
