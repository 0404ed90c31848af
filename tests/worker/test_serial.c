/* SPDX-License-Identifier: MIT */
/* The port layer on real pseudo-terminals and the state file (plausibility:
 * tests/bms/test_plausible.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "common/sbtime.h"
#include "tests/support/cunit_main.h"
#include "tests/worker/wtest.h"
#include "worker/detect.h"
#include "worker/serial.h"

static void test_open_raw_and_framing(void)
{
	int fds0 = wt_count_fds();
	char slave[64];
	int m = wt_pty(slave, sizeof(slave));
	CU_ASSERT_FATAL(m >= 0);
	struct worker_port p;
	CU_ASSERT_FATAL(worker_port_open(slave, -1, &p) == 0);
	int fl = fcntl(p.fd, F_GETFD);
	CU_ASSERT(fl >= 0 && (fl & FD_CLOEXEC));
	CU_ASSERT(fcntl(p.fd, F_GETFL) & O_NONBLOCK);

	/* Some pty implementations refuse parity (EINVAL); a real UART takes it. */
	int r8e1 = worker_port_set_line(&p, 9600, BMS_8E1);
	CU_ASSERT(r8e1 == 0 || r8e1 == -EINVAL);
	struct termios t;
	CU_ASSERT_FATAL(tcgetattr(p.fd, &t) == 0);
	if (r8e1 == 0) {
		CU_ASSERT(cfgetospeed(&t) == B9600);
		CU_ASSERT((t.c_cflag & PARENB) && !(t.c_cflag & PARODD));
	}
	CU_ASSERT(worker_port_set_line(&p, 9600, BMS_8N1) == 0);
	CU_ASSERT_FATAL(tcgetattr(p.fd, &t) == 0);
	CU_ASSERT(cfgetospeed(&t) == B9600);
	CU_ASSERT(!(t.c_cflag & PARENB));
	CU_ASSERT((t.c_cflag & CSIZE) == CS8);
	CU_ASSERT(!(t.c_lflag & (ICANON | ECHO | ISIG)));
	CU_ASSERT(!(t.c_iflag & (IXON | ICRNL)));

	CU_ASSERT(worker_port_set_line(&p, 115200, BMS_8N1) == 0);
	CU_ASSERT_FATAL(tcgetattr(p.fd, &t) == 0);
	CU_ASSERT(cfgetospeed(&t) == B115200);
	CU_ASSERT(!(t.c_cflag & PARENB));
	CU_ASSERT(worker_port_set_line(&p, 12345, BMS_8N1) == -EINVAL);

	/* write reaches the other side untouched (0x0d, 0x11 survive raw mode) */
	const uint8_t msg[] = {0x4e, 0x57, 0x0d, 0x0a, 0x11, 0x13, 0x00, 0xff};
	CU_ASSERT(worker_port_write(&p, msg, sizeof(msg), time_mono_ms() + 5000) == 0);
	uint8_t got[16];
	size_t n = 0;
	while (n < sizeof(msg)) {
		ssize_t k = read(m, got + n, sizeof(got) - n);
		CU_ASSERT_FATAL(k > 0);
		n += (size_t)k;
	}
	CU_ASSERT(memcmp(got, msg, sizeof(msg)) == 0);

	/* and back: one read() returns everything that waits */
	CU_ASSERT(write(m, msg, sizeof(msg)) == (ssize_t)sizeof(msg));
	uint8_t buf[64];
	int r = worker_port_read(&p, buf, sizeof(buf), time_mono_ms() + 5000);
	CU_ASSERT(r == (int)sizeof(msg));
	CU_ASSERT(memcmp(buf, msg, sizeof(msg)) == 0);

	worker_port_close(&p);
	close(m);
	CU_ASSERT(wt_count_fds() == fds0);
}

static void test_vmin_batching(void)
{
	char slave[64];
	int m = wt_pty(slave, sizeof(slave));
	CU_ASSERT_FATAL(m >= 0);
	struct worker_port p;
	CU_ASSERT_FATAL(worker_port_open(slave, -1, &p) == 0);
	CU_ASSERT(worker_port_set_vmin(&p, 10) == 0);
	uint8_t buf[64];
	CU_ASSERT(write(m, "abcd", 4) == 4);
	/* four bytes wait but VMIN is 10: poll() stays quiet until the deadline */
	CU_ASSERT(worker_port_read(&p, buf, sizeof(buf), time_mono_ms() + 100) == -ETIMEDOUT);
	CU_ASSERT(write(m, "efghij", 6) == 6);
	CU_ASSERT(worker_port_read(&p, buf, sizeof(buf), time_mono_ms() + 10000) == 10);
	CU_ASSERT(memcmp(buf, "abcdefghij", 10) == 0);
	/* read_now ignores VMIN */
	CU_ASSERT(write(m, "xy", 2) == 2);
	int k = 0;
	for (int i = 0; i < 1000 && k == 0; i++)
		k = worker_port_read_now(&p, buf, sizeof(buf));
	CU_ASSERT(k == 2);
	worker_port_close(&p);
	close(m);
}

/* One request through the serial transport, answered with n bytes of reply on the master. */
static int exchange(struct worker_transport *t, int m, const uint8_t *req, size_t n,
		    uint64_t wait_ms, uint8_t *ret_vmin)
{
	static const uint8_t reply[] = "0123456789";
	uint8_t buf[64];
	if (worker_transport_write(t, req, 4, time_mono_ms() + 5000) < 0)
		return -EIO;
	size_t k = 0;
	while (k < 4) {
		ssize_t r = read(m, buf, 4 - k); /* the request, drained */
		if (r <= 0)
			return -EIO;
		k += (size_t)r;
	}
	if (write(m, reply, n) != (ssize_t)n)
		return -EIO;
	int r = worker_transport_read(t, buf, sizeof(buf), time_mono_ms() + wait_ms);
	struct termios tio;
	if (tcgetattr(t->ops->fd(t), &tio) < 0)
		return -errno;
	*ret_vmin = tio.c_cc[VMIN];
	return r;
}

/* The serial backend learns each request's reply length and batches the next read by it. */
static void test_transport_learns_reply_length(void)
{
	char slave[64];
	int m = wt_pty(slave, sizeof(slave));
	CU_ASSERT_FATAL(m >= 0);
	struct worker_transport *t;
	CU_ASSERT_FATAL(worker_transport_open(&worker_serial_ops, slave, -1, &t) == 0);
	struct worker_line line = {.baud = 115200, .framing = BMS_8N1};
	CU_ASSERT(worker_transport_configure(t, &line) == 0);
	CU_ASSERT(worker_transport_wire_ms(t, 1152) == 100);
	const uint8_t a[4] = {0xdd, 0xa5, 0x03, 0x77}, b[4] = {0xdd, 0xa5, 0x04, 0x77};
	uint8_t vmin = 0;

	/* nothing known: bytes are taken as they come */
	CU_ASSERT(exchange(t, m, a, 10, 5000, &vmin) == 10);
	CU_ASSERT(vmin == 1);
	worker_transport_reply_done(t, 10);
	/* the same request again: poll() wakes once, for the whole reply */
	CU_ASSERT(exchange(t, m, a, 10, 5000, &vmin) == 10);
	CU_ASSERT(vmin == 10);
	worker_transport_reply_done(t, 10);
	/* another request has its own length, and does not erase the first */
	CU_ASSERT(exchange(t, m, b, 3, 5000, &vmin) == 3);
	CU_ASSERT(vmin == 1);
	worker_transport_reply_done(t, 3);
	CU_ASSERT(exchange(t, m, a, 10, 5000, &vmin) == 10);
	CU_ASSERT(vmin == 10);
	worker_transport_reply_done(t, 10);
	/* a shorter reply than learned: taken at the deadline, and the length forgotten */
	CU_ASSERT(exchange(t, m, a, 4, 100, &vmin) == 4);
	CU_ASSERT(vmin == 1);
	CU_ASSERT(exchange(t, m, a, 4, 5000, &vmin) == 4);
	CU_ASSERT(vmin == 1);
	worker_transport_close(t);
	close(m);
}

/* Write req through t and drain it on the master, as the BMS receives it. */
static int send_req(struct worker_transport *t, int m, const uint8_t *req, size_t n)
{
	if (worker_transport_write(t, req, n, time_mono_ms() + 5000) < 0)
		return -EIO;
	uint8_t buf[64];
	size_t k = 0;
	while (k < n) {
		ssize_t r = read(m, buf, n - k);
		if (r <= 0)
			return -EIO;
		k += (size_t)r;
	}
	return 0;
}

/*
 * Timed reads (issue 20): once a request's reply length is known, a reply
 * that is there whole costs one sleep and one read, no poll() on the port
 * (which the tty would wake per arriving chunk); a reply that came in part
 * is taken in part, completed through poll(), and teaches the latency anew;
 * silence still times out. Counted by the transport, not timed.
 */
static void test_timed_read(void)
{
	char slave[64];
	int m = wt_pty(slave, sizeof(slave));
	CU_ASSERT_FATAL(m >= 0);
	struct worker_transport *t;
	CU_ASSERT_FATAL(worker_transport_open(&worker_serial_ops, slave, -1, &t) == 0);
	CU_ASSERT_FATAL(worker_transport_configure(t, &(struct worker_line){9600, BMS_8N1}) == 0);
	const uint8_t req[4] = {0xdd, 0xa5, 0x03, 0x77};
	static const uint8_t reply[] = "0123456789abcdefghij";
	uint8_t buf[64];
	struct worker_transport_stats s0;

	/* unknown: read as it comes (poll), and the reply's end teaches the latency */
	CU_ASSERT_FATAL(send_req(t, m, req, 4) == 0);
	CU_ASSERT_FATAL(write(m, reply, 20) == 20);
	CU_ASSERT(worker_transport_read(t, buf, sizeof(buf), time_mono_ms() + 5000) == 20);
	worker_transport_reply_done(t, 20);
	CU_ASSERT(t->stats.sleeps == 0 && t->stats.polls == 1);
	CU_ASSERT(t->stats.latency_learned == 1);

	/* known, and there whole: one sleep, one read, no poll */
	for (int i = 0; i < 3; i++) {
		s0 = t->stats;
		CU_ASSERT_FATAL(send_req(t, m, req, 4) == 0);
		CU_ASSERT_FATAL(write(m, reply, 20) == 20);
		CU_ASSERT(worker_transport_read(t, buf, sizeof(buf), time_mono_ms() + 5000) == 20);
		CU_ASSERT(memcmp(buf, reply, 20) == 0);
		worker_transport_reply_done(t, 20);
		CU_ASSERT(t->stats.sleeps == s0.sleeps + 1);
		CU_ASSERT(t->stats.reads == s0.reads + 1);
		CU_ASSERT(t->stats.polls == s0.polls);
		CU_ASSERT(t->stats.short_reads == s0.short_reads);
		CU_ASSERT(t->stats.latency_learned ==
			  s0.latency_learned); /* nothing seen to learn */
		CU_ASSERT(t->rx_end_ms != 0);
	}

	/* late: a part at the wake, the rest through poll(); the reply completes
	 * and its end is measured */
	s0 = t->stats;
	CU_ASSERT_FATAL(send_req(t, m, req, 4) == 0);
	CU_ASSERT_FATAL(write(m, reply, 8) == 8);
	CU_ASSERT(worker_transport_read(t, buf, sizeof(buf), time_mono_ms() + 5000) == 8);
	CU_ASSERT(t->stats.short_reads == s0.short_reads + 1);
	CU_ASSERT_FATAL(write(m, reply + 8, 12) == 12);
	CU_ASSERT(worker_transport_read(t, buf + 8, sizeof(buf) - 8, time_mono_ms() + 5000) == 12);
	CU_ASSERT(memcmp(buf, reply, 20) == 0);
	worker_transport_reply_done(t, 20);
	CU_ASSERT(t->stats.polls == s0.polls + 1);
	CU_ASSERT(t->stats.latency_learned == s0.latency_learned + 1);
	/* and the next one is timed again, whole in one read */
	s0 = t->stats;
	CU_ASSERT_FATAL(send_req(t, m, req, 4) == 0);
	CU_ASSERT_FATAL(write(m, reply, 20) == 20);
	CU_ASSERT(worker_transport_read(t, buf, sizeof(buf), time_mono_ms() + 5000) == 20);
	worker_transport_reply_done(t, 20);
	CU_ASSERT(t->stats.sleeps == s0.sleeps + 1 && t->stats.polls == s0.polls);

	/* silence: the timed sleep, then poll() until the deadline, as before */
	s0 = t->stats;
	CU_ASSERT_FATAL(send_req(t, m, req, 4) == 0);
	CU_ASSERT(worker_transport_read(t, buf, sizeof(buf), time_mono_ms() + 50) == -ETIMEDOUT);
	CU_ASSERT(t->stats.sleeps == s0.sleeps + 1);
	CU_ASSERT(t->stats.short_reads == s0.short_reads + 1);
	CU_ASSERT(t->stats.polls > s0.polls);

	worker_transport_close(t);
	close(m);
}

static void test_timeout_wake_hangup(void)
{
	int fds0 = wt_count_fds();
	char slave[64];
	int m = wt_pty(slave, sizeof(slave));
	CU_ASSERT_FATAL(m >= 0);
	int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CU_ASSERT_FATAL(wake >= 0);
	struct worker_port p;
	CU_ASSERT_FATAL(worker_port_open(slave, wake, &p) == 0);
	uint8_t buf[16];
	CU_ASSERT(worker_port_read(&p, buf, sizeof(buf), time_mono_ms() + 50) == -ETIMEDOUT);
	CU_ASSERT(worker_port_idle(&p, time_mono_ms() + 20) == 0);

	/* input does not end an idle wait, only the deadline does */
	CU_ASSERT(write(m, "zz", 2) == 2);
	CU_ASSERT(worker_port_idle(&p, time_mono_ms() + 20) == 0);

	/* the wake fd ends any wait at once, even one with a far deadline */
	uint64_t one = 1;
	CU_ASSERT(write(wake, &one, sizeof(one)) == sizeof(one));
	CU_ASSERT(worker_port_idle(&p, time_mono_ms() + 3600000) == -ECANCELED);
	CU_ASSERT(worker_port_read(&p, buf, sizeof(buf), time_mono_ms() + 3600000) == -ECANCELED);
	uint64_t v;
	CU_ASSERT(read(wake, &v, sizeof(v)) == sizeof(v));

	/* master closed = adapter pulled: every wait says -ENODEV */
	close(m);
	CU_ASSERT(worker_port_idle(&p, time_mono_ms() + 3600000) == -ENODEV);
	CU_ASSERT(worker_port_read(&p, buf, sizeof(buf), time_mono_ms() + 3600000) == -ENODEV);
	worker_port_close(&p);
	close(wake);
	CU_ASSERT(wt_count_fds() == fds0);

	CU_ASSERT(worker_port_open("/dev/nonexistent-sb-port", -1, &p) == -ENODEV);
	CU_ASSERT(worker_port_open("/dev/null", -1, &p) == -ENOTTY);
	CU_ASSERT(wt_count_fds() == fds0);
}

static void test_wire_time(void)
{
	CU_ASSERT(worker_wire_ms(9600, BMS_8N1, 96) == 100);
	CU_ASSERT(worker_wire_ms(115200, BMS_8N1, 21) == 2);
	CU_ASSERT(worker_wire_ms(9600, BMS_8E1, 96) == 110);
	CU_ASSERT(worker_wire_ms(0, BMS_8N1, 96) == 0);
}

static void test_remember(void)
{
	if (!bms_drivers[0]) {
		CU_PASS("no driver registered yet");
		return;
	}
	char dir[] = "/tmp/sbw-state-XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	char sd[64];
	snprintf(sd, sizeof(sd), "%s/sub", dir); /* created on demand */
	const char *id = "usb-1a86_USB_Serial-if00/../x";
	const struct bms_driver *d = bms_drivers[0];
	const struct bms_driver *got;
	uint32_t baud;
	uint8_t addr;
	CU_ASSERT(worker_remember_load(sd, id, &got, &baud, &addr) == -ENOENT);
	CU_ASSERT(worker_remember_save(sd, id, d, 115200, 3) == 0);
	CU_ASSERT(worker_remember_load(sd, id, &got, &baud, &addr) == 0);
	CU_ASSERT(got == d && baud == 115200 && addr == 3);
	/* the identity never escapes the detect/ directory */
	char path[256];
	snprintf(path, sizeof(path), "%s/detect/usb-1a86_USB_Serial-if00_.._x", sd);
	struct stat stt;
	CU_ASSERT(stat(path, &stt) == 0);
	/* an unchanged protocol is not rewritten (flash wear on a GX device) */
	struct stat before = stt;
	CU_ASSERT(worker_remember_save(sd, id, d, 115200, 3) == 0);
	CU_ASSERT(stat(path, &stt) == 0);
	CU_ASSERT(stt.st_ino == before.st_ino);
	/* garbage in the file is ignored */
	FILE *f = fopen(path, "we");
	CU_ASSERT_FATAL(f != NULL);
	fputs("nosuchdriver 9600 1\n", f);
	fclose(f);
	CU_ASSERT(worker_remember_load(sd, id, &got, &baud, &addr) < 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/detect", sd);
	rmdir(path);
	rmdir(sd);
	rmdir(dir);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"open_raw_and_framing", test_open_raw_and_framing},
		{"vmin_batching", test_vmin_batching},
		{"transport_learns_reply_length", test_transport_learns_reply_length},
		{"timed_read", test_timed_read},
		{"timeout_wake_hangup", test_timeout_wake_hangup},
		{"wire_time", test_wire_time},
		{"remember", test_remember},
		{NULL, NULL},
	};
	return sb_add_suite("worker_serial", tests);
}
