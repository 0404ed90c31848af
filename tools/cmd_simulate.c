/* SPDX-License-Identifier: MIT */
/*
 * serialbattery simulate: emulate one BMS, or several on one bus, on a
 * pseudo-terminal, answering requests exactly as the device does through
 * the family's simulator (bms/sim/). Docs: docs/SIMULATOR.md.
 *
 * Why a pty and not a mock: the worker opens the link like any tty (termios,
 * baud, VMIN/VTIME), so the whole serial path is exercised. On Linux
 * tcgetattr() on the master reports the termios the slave side set, which is
 * how a request sent at the wrong baud is detected and ignored, as a real
 * device would fail to decode it.
 *
 * A request is what arrived in one burst: bytes are collected until the line
 * is quiet for SIM_GAP_MS. The reply is computed from the state in force at
 * that moment (timed states), possibly corrupted, then written in one go or,
 * with --pace, at the line rate: a byte (or a chunk of N bytes) every 10 (8E1:
 * 11) bit times, as a UART delivers it, so a reader pays what it pays on a real
 * line (a poll() woken per arriving chunk).
 * A write the simulator implements (JBD MOSFET control) changes the unit's
 * live copy of that state, until the next timed state takes over.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bms/bms.h"
#include "bms/sim/sim.h"
#include "common/sbtime.h"
#include "tools.h"
#include "tools/snapshot_json.h"

#define SIM_MAX_UNITS 16
#define SIM_GAP_MS 5
#define SIM_REQ_MAX 512
#define SIM_REPLY_MAX 8192

struct sim_unit {
	uint8_t address;
	const char *state_file;
	double silent_after_s; /* < 0: never */
	struct bms_json_state *states;
	size_t nstates;
	const struct bms_snapshot *src; /* the timed state live was copied from */
	struct bms_snapshot live;       /* what the device answers from (writes land here) */
};

struct sim {
	const struct bms_driver *drv;
	const struct bms_sim *sim;
	struct sim_unit units[SIM_MAX_UNITS];
	size_t nunits;
	unsigned baud;
	double corrupt_rate;
	uint64_t rng;
	uint64_t start_ms;
	bool silence_toggled; /* SIGUSR1 */
	unsigned pace;        /* bytes per write at the line rate; 0 = the whole reply at once */
	bool verbose;
	unsigned long requests, replies, ignored_baud, corrupted;
};

static void sim_usage(FILE *out)
{
	fputs("usage: serialbattery simulate --bms NAME --link PATH [options]\n"
	      "\n"
	      "Emulate a BMS on a pseudo-terminal whose slave is symlinked at PATH.\n"
	      "Prints 'PATH ready' on stdout once the link exists; SIGINT/SIGTERM end it\n"
	      "and remove the link; SIGUSR1 toggles silence (stop/resume answering).\n"
	      "  --state FILE        state file (JSON, docs/SIMULATOR.md); default: a 16S pack\n"
	      "  --address SPEC      a battery on the bus, repeatable (several packs on one\n"
	      "                      bus): N[,state=FILE][,silent-after=S]\n"
	      "                      default: the driver's first address\n"
	      "  --baud N            line speed the device uses (default: the driver's first);\n"
	      "                      requests sent at another speed are not answered\n"
	      "  --pace MODE         line: replies at the line rate, one byte per character\n"
	      "                      time as a UART delivers them; N: N bytes per write at\n"
	      "                      that rate (a FIFO, a USB packet); off (default): each\n"
	      "                      reply in one write (an adapter that buffers a packet)\n"
	      "  --corrupt-rate R    flip one byte of a reply with probability R (0..1)\n"
	      "  --silent-after S    stop answering S seconds after start (all batteries\n"
	      "                      without their own silent-after)\n"
	      "  --seed N            random seed for --corrupt-rate (default 1)\n"
	      "  --verbose           log each request and reply on stderr\n",
	      out);
}

static speed_t baud_to_speed(unsigned baud)
{
	switch (baud) {
	case 1200:
		return B1200;
	case 2400:
		return B2400;
	case 4800:
		return B4800;
	case 9600:
		return B9600;
	case 19200:
		return B19200;
	case 38400:
		return B38400;
	case 57600:
		return B57600;
	case 115200:
		return B115200;
	case 230400:
		return B230400;
	}
	return 0;
}

/* xorshift64*: reproducible with --seed, independent of libc's rand(). */
static double sim_random(struct sim *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (double)((s->rng * 2685821657736338717ull) >> 11) / (double)(1ull << 53);
}

static const struct bms_snapshot *default_state(void)
{
	static struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CELLS | BMS_V_TEMPS;
	s.voltage_mv = 53120;
	s.current_ma = 5000;
	s.power_mw = 265600;
	s.soc_cpct = 8000;
	s.soh_cpct = 10000;
	s.capacity_full_mah = 280000;
	s.capacity_design_mah = 280000;
	s.capacity_remain_mah = 224000;
	s.cycles = 12;
	s.cell_count = 16;
	for (int i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3315 + i % 3);
	s.temp_count = 2;
	s.temp_dc[0] = 210;
	s.temp_dc[1] = 220;
	s.mosfet_temp_dc = 250;
	s.charge_fet = true;
	s.discharge_fet = true;
	s.balancer_enabled = true;
	s.max_charge_ma = 100000;
	s.max_discharge_ma = 150000;
	strcpy(s.serial, "SIM0001");
	strcpy(s.model, "simulated");
	strcpy(s.hw_version, "1.0");
	strcpy(s.sw_version, "1.0");
	return &s;
}

static int parse_unit(struct sim *s, const char *spec)
{
	if (s->nunits >= SIM_MAX_UNITS) {
		fprintf(stderr, "simulate: at most %d batteries\n", SIM_MAX_UNITS);
		return -E2BIG;
	}
	struct sim_unit *u = &s->units[s->nunits];
	memset(u, 0, sizeof(*u));
	u->silent_after_s = -2; /* -2: inherit --silent-after */
	char *copy = strdup(spec), *save = NULL;
	if (!copy)
		return -ENOMEM;
	int r = 0;
	char *tok = strtok_r(copy, ",", &save);
	char *end;
	long a = tok ? strtol(tok, &end, 0) : -1;
	if (!tok || *end || a < 0 || a > 255) {
		fprintf(stderr, "simulate: bad address in '%s'\n", spec);
		r = -EINVAL;
		goto out;
	}
	u->address = (uint8_t)a;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strncmp(tok, "state=", 6)) {
			/* lives as long as the process */
			u->state_file = strdup(tok + 6);
			if (!u->state_file) {
				r = -ENOMEM;
				goto out;
			}
		} else if (!strncmp(tok, "silent-after=", 13)) {
			u->silent_after_s = strtod(tok + 13, &end);
			if (*end || u->silent_after_s < 0) {
				fprintf(stderr, "simulate: bad silent-after in '%s'\n", spec);
				r = -EINVAL;
				goto out;
			}
		} else {
			fprintf(stderr, "simulate: unknown '%s' in --address '%s'\n", tok, spec);
			r = -EINVAL;
			goto out;
		}
	}
	s->nunits++;
out:
	free(copy);
	return r;
}

static int load_states(struct sim_unit *u, const char *file)
{
	u->states = calloc(BMS_JSON_MAX_STATES, sizeof(*u->states));
	if (!u->states)
		return -ENOMEM;
	if (!file) {
		u->states[0].snap = *default_state();
		u->nstates = 1;
		return 0;
	}
	char err[256] = "";
	int r = snapshot_json_load(file, u->states, BMS_JSON_MAX_STATES, &u->nstates, err,
				   sizeof(err));
	if (r < 0)
		fprintf(stderr, "simulate: %s: %s\n", file, err[0] ? err : strerror(-r));
	return r;
}

static bool unit_silent(const struct sim *s, const struct sim_unit *u, uint64_t now_ms)
{
	bool silent = u->silent_after_s >= 0 &&
		      (double)(now_ms - s->start_ms) >= u->silent_after_s * 1000.0;
	return silent != s->silence_toggled;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = {fd, POLLOUT, 0};
				poll(&pfd, 1, 100);
				continue;
			}
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "simulate: %s %zu:", what, n);
	for (size_t i = 0; i < n && i < 64; i++)
		fprintf(stderr, " %02x", p[i]);
	fputs(n > 64 ? " ...\n" : "\n", stderr);
}

/*
 * Write the reply at the line rate: chunk k goes out k chunk times after the
 * first, each time by an absolute deadline so the rate does not drift.
 */
static int write_paced(const struct sim *s, int fd, const uint8_t *p, size_t n)
{
	unsigned bits = bms_driver_framing(s->drv) == BMS_8E1 ? 11 : 10;
	uint64_t char_ns = (uint64_t)bits * 1000000000ull / s->baud;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t start = (uint64_t)t0.tv_sec * 1000000000ull + (uint64_t)t0.tv_nsec;
	for (size_t off = 0; off < n; off += s->pace) {
		uint64_t at = start + off * char_ns;
		struct timespec ts = {(time_t)(at / 1000000000ull), (long)(at % 1000000000ull)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		int r = write_all(fd, p + off, n - off < s->pace ? n - off : s->pace);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Answer one request burst. */
static void handle_request(struct sim *s, int master, const uint8_t *req, size_t n)
{
	s->requests++;
	if (s->verbose)
		hexdump("request", req, n);
	struct termios tio;
	if (tcgetattr(master, &tio) == 0 && (cfgetospeed(&tio) != baud_to_speed(s->baud) ||
					     cfgetispeed(&tio) != baud_to_speed(s->baud))) {
		/* a real device sees garbage at the wrong speed and stays silent */
		s->ignored_baud++;
		if (s->verbose)
			fputs("simulate: wrong line speed, not answered\n", stderr);
		return;
	}
	uint64_t now = time_mono_ms();
	static uint8_t reply[SIM_REPLY_MAX];
	size_t rlen = 0;
	for (size_t i = 0; i < s->nunits; i++) {
		struct sim_unit *u = &s->units[i];
		if (unit_silent(s, u, now))
			continue;
		const struct bms_snapshot *st =
			bms_json_at(u->states, u->nstates, now - s->start_ms);
		if (!st)
			continue;
		if (st != u->src) {
			u->src = st;
			u->live = *st;
		}
		/* leading garbage (an echo, noise) must not hide the request */
		int m = 0;
		for (size_t off = 0; off < n && m == 0; off++)
			m = s->sim->respond(&u->live, u->address, req + off, n - off, reply + rlen,
					    sizeof(reply) - rlen);
		if (m > 0)
			rlen += (size_t)m;
	}
	if (rlen == 0)
		return;
	if (s->corrupt_rate > 0 && sim_random(s) < s->corrupt_rate) {
		size_t at = (size_t)(sim_random(s) * (double)rlen);
		if (at >= rlen)
			at = rlen - 1;
		reply[at] ^= (uint8_t)(1u + (unsigned)(sim_random(s) * 255.0));
		s->corrupted++;
	}
	if (s->verbose)
		hexdump("reply", reply, rlen);
	int w = s->pace ? write_paced(s, master, reply, rlen) : write_all(master, reply, rlen);
	if (w == 0)
		s->replies++;
}

static int sim_run(struct sim *s, const char *link)
{
	int r = 0, master = -1, slave = -1, sfd = -1;
	bool linked = false;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		r = -errno;
		perror("simulate: signalfd");
		goto out;
	}

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		r = -errno;
		perror("simulate: posix_openpt");
		goto out;
	}
	const char *name = ptsname(master);
	if (!name) {
		r = -errno;
		goto out;
	}
	/* keep the slave open ourselves: no hangup on the master while no client has it */
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		r = -errno;
		perror("simulate: open slave");
		goto out;
	}
	struct termios tio;
	if (tcgetattr(slave, &tio) == 0) {
		cfmakeraw(&tio);
		cfsetispeed(&tio, baud_to_speed(s->baud));
		cfsetospeed(&tio, baud_to_speed(s->baud));
		tcsetattr(slave, TCSANOW, &tio);
	}
	struct stat lst;
	if (lstat(link, &lst) == 0 && S_ISLNK(lst.st_mode))
		unlink(link);
	if (symlink(name, link) < 0) {
		r = -errno;
		fprintf(stderr, "simulate: symlink %s -> %s: %s\n", link, name, strerror(errno));
		goto out;
	}
	linked = true;
	s->start_ms = time_mono_ms();
	printf("%s ready\n", link);
	fflush(stdout);

	uint8_t req[SIM_REQ_MAX];
	size_t rn = 0;
	for (;;) {
		struct pollfd pfd[2] = {{master, POLLIN, 0}, {sfd, POLLIN, 0}};
		int k = poll(pfd, 2, rn ? SIM_GAP_MS : -1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGUSR1) {
					s->silence_toggled = !s->silence_toggled;
					fprintf(stderr, "simulate: silence %s\n",
						s->silence_toggled ? "toggled on" : "toggled off");
					continue;
				}
				break; /* SIGINT, SIGTERM */
			}
		}
		if (k == 0) {
			handle_request(s, master, req, rn);
			rn = 0;
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			ssize_t got = read(master, req + rn, sizeof(req) - rn);
			if (got < 0 && errno != EINTR && errno != EAGAIN && errno != EIO) {
				r = -errno;
				break;
			}
			if (got > 0)
				rn += (size_t)got;
			if (rn == sizeof(req)) { /* a flood, not a request */
				handle_request(s, master, req, rn);
				rn = 0;
			}
		} else if (pfd[0].revents & (POLLHUP | POLLERR)) {
			/* cannot happen while we hold the slave; avoid a busy loop anyway */
			struct pollfd w = {sfd, POLLIN, 0};
			poll(&w, 1, 50);
		}
	}
	fprintf(stderr, "simulate: %lu requests, %lu replies, %lu ignored (baud), %lu corrupted\n",
		s->requests, s->replies, s->ignored_baud, s->corrupted);
out:
	if (linked)
		unlink(link);
	if (slave >= 0)
		close(slave);
	if (master >= 0)
		close(master);
	if (sfd >= 0)
		close(sfd);
	return r;
}

int cmd_simulate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"bms", required_argument, NULL, 'b'},
		{"link", required_argument, NULL, 'l'},
		{"state", required_argument, NULL, 's'},
		{"address", required_argument, NULL, 'a'},
		{"baud", required_argument, NULL, 'B'},
		{"corrupt-rate", required_argument, NULL, 'c'},
		{"pace", required_argument, NULL, 'p'},
		{"silent-after", required_argument, NULL, 'S'},
		{"seed", required_argument, NULL, 'r'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct sim s;
	const char *name = NULL, *link = NULL, *state = NULL;
	double silent_after = -1;
	char *end;
	int c;
	memset(&s, 0, sizeof(s));
	s.rng = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "b:l:s:a:B:c:S:r:p:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			name = optarg;
			break;
		case 'l':
			link = optarg;
			break;
		case 's':
			state = optarg;
			break;
		case 'a':
			if (parse_unit(&s, optarg) < 0)
				return 2;
			break;
		case 'B':
			s.baud = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !baud_to_speed(s.baud)) {
				fprintf(stderr, "simulate: unsupported --baud '%s'\n", optarg);
				return 2;
			}
			break;
		case 'p':
			if (!strcmp(optarg, "line")) {
				s.pace = 1;
			} else if (!strcmp(optarg, "off")) {
				s.pace = 0;
			} else {
				unsigned long v = strtoul(optarg, &end, 10);
				if (*end || v == 0 || v > SIM_REPLY_MAX) {
					fprintf(stderr,
						"simulate: --pace is line, off or a byte count\n");
					return 2;
				}
				s.pace = (unsigned)v;
			}
			break;
		case 'c':
			s.corrupt_rate = strtod(optarg, &end);
			if (*end || s.corrupt_rate < 0 || s.corrupt_rate > 1) {
				fprintf(stderr, "simulate: --corrupt-rate is 0..1\n");
				return 2;
			}
			break;
		case 'S':
			silent_after = strtod(optarg, &end);
			if (*end || silent_after < 0) {
				fprintf(stderr, "simulate: bad --silent-after '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			s.rng = strtoull(optarg, &end, 0);
			if (*end) {
				fprintf(stderr, "simulate: bad --seed '%s'\n", optarg);
				return 2;
			}
			if (s.rng == 0)
				s.rng = 0x9E3779B97F4A7C15ull; /* xorshift needs a non-zero state */
			break;
		case 'v':
			s.verbose = true;
			break;
		case 'h':
			sim_usage(stdout);
			return 0;
		default:
			sim_usage(stderr);
			return 2;
		}
	}
	if (!name || !link || optind < argc) {
		sim_usage(stderr);
		return 2;
	}
	s.drv = bms_driver_find(name);
	if (!s.drv) {
		fprintf(stderr, "simulate: unknown BMS '%s'\n", name);
		return 2;
	}
	s.sim = bms_sim_find(s.drv->name);
	if (!s.sim) {
		fprintf(stderr, "simulate: the %s driver has no simulator\n", name);
		return 2;
	}
	if (s.baud == 0)
		s.baud = bms_driver_bauds(s.drv)[0];
	if (!baud_to_speed(s.baud)) {
		fprintf(stderr, "simulate: unsupported baud %u\n", s.baud);
		return 2;
	}
	if (s.nunits == 0) {
		char def[8];
		snprintf(def, sizeof(def), "%u", s.drv->addresses ? s.drv->addresses[0] : 0);
		if (parse_unit(&s, def) < 0)
			return 2;
	}
	if (s.nunits > 1 && !(s.drv->flags & BMS_F_ADDRESSED)) {
		fprintf(stderr, "simulate: %s has no bus addresses: one battery per link\n", name);
		return 2;
	}
	for (size_t i = 0; i < s.nunits; i++) {
		struct sim_unit *u = &s.units[i];
		if (u->silent_after_s == -2)
			u->silent_after_s = silent_after;
		if (load_states(u, u->state_file ? u->state_file : state) < 0)
			return 2;
	}
	int r = sim_run(&s, link);
	for (size_t i = 0; i < s.nunits; i++)
		free(s.units[i].states);
	return r < 0 ? 1 : 0;
}
