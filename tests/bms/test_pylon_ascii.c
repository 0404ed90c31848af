/* SPDX-License-Identifier: MIT */
/*
 * bms/pylon_ascii.c against every captured '~' frame (Seplos v2, PACE,
 * Pylontech, Daren; KS48100's '>' frames are tests/bms/test_dr1363.c's): the
 * frame check, corrupted and truncated frames, requests byte for byte, the
 * header and INFO decoded to the values their sources state, and the return
 * code of a refusing reply.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/pylon_ascii.h"
#include "tests/bms/protocol_vectors.h"
#include "tests/support/cunit_main.h"

#include "tests/bms/vectors/pylon_ascii.inc"

#define NV PYLON_ASCII_VECTOR_COUNT

static void test_families_covered(void)
{
	size_t seplos = 0, pace = 0, pylontech = 0, daren = 0;
	for (size_t i = 0; i < NV; i++) {
		seplos += pvec_is(&pylon_ascii_vectors[i], "seplos_v2", NULL);
		pace += pvec_is(&pylon_ascii_vectors[i], "pace", NULL);
		pylontech += pvec_is(&pylon_ascii_vectors[i], "pylontech", NULL);
		daren += pvec_is(&pylon_ascii_vectors[i], "daren", NULL);
	}
	CU_ASSERT(seplos > 0);
	CU_ASSERT(pace > 0);
	CU_ASSERT(pylontech > 0);
	CU_ASSERT(daren > 0);
	/* a new '~' family in tests/vectors/ must be looked at here */
	CU_ASSERT_EQUAL(seplos + pace + pylontech + daren, NV);
}

/* The LENGTH examples of the fact sheet, and CHKSUM's. */
static void test_length_and_chksum(void)
{
	CU_ASSERT_EQUAL(bms_pylon_length(0), 0x0000);
	CU_ASSERT_EQUAL(bms_pylon_length(2), 0xE002);
	CU_ASSERT_EQUAL(bms_pylon_length(150), 0x1096);
	CU_ASSERT_EQUAL(bms_pylon_length(122), 0xF07A);
	CU_ASSERT_EQUAL(bms_pylon_length(98), 0x8062);
	const uint8_t body[] = "20004642E00200";
	CU_ASSERT_EQUAL(bms_pylon_chksum(body, sizeof(body) - 1), 0xFD37);
}

static void test_every_frame_valid(void)
{
	uint8_t buf[400];
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &pylon_ascii_vectors[i];
		/* garbage first, a '~' among it: the scan must skip both */
		memcpy(buf, "\x00~2\xff", 4);
		size_t n = pvec_frame(v, buf + 4, sizeof(buf) - 4), len = 0;
		int rc = bms_pylon_check(NULL, buf + 4, n, &len);
		if (rc != 1)
			fprintf(stderr, "\n    %s #%zu: check %d\n", v->family, i, rc);
		CU_ASSERT_EQUAL(rc, 1);
		CU_ASSERT_EQUAL(len, n);
		size_t start = 99;
		len = 0;
		CU_ASSERT_EQUAL(bms_pylon_find(NULL, buf, n + 4, &start, &len), BMS_FIND_VALID);
		CU_ASSERT_EQUAL(start, 4);
		CU_ASSERT_EQUAL(len, n);
		struct bms_pylon_frame f;
		CU_ASSERT_EQUAL(bms_pylon_decode(NULL, buf + 4, n, &f), 0);
		CU_ASSERT_EQUAL(f.info_chars, n - BMS_PYLON_OVERHEAD);
	}
}

static void test_corrupt_rejected(void)
{
	uint8_t buf[400];
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &pylon_ascii_vectors[i];
		size_t n = pvec_frame(v, buf, sizeof(buf));
		for (size_t k = 0; k < n; k++) {
			for (int bit = 0; bit < 8; bit++) {
				buf[k] ^= (uint8_t)(1u << bit);
				size_t len = 0;
				int rc = bms_pylon_check(NULL, buf, n, &len);
				if (rc == 1)
					fprintf(stderr, "\n    %s #%zu byte %zu bit %d accepted\n",
						v->family, i, k, bit);
				CU_ASSERT(rc != 1);
				struct bms_pylon_frame f;
				CU_ASSERT_EQUAL(bms_pylon_decode(NULL, buf, n, &f), -EBADMSG);
				buf[k] ^= (uint8_t)(1u << bit);
			}
		}
		/* the checksum of another frame: consistent characters, wrong sum */
		uint8_t save = buf[n - 2];
		buf[n - 2] = save == '0' ? '1' : '0';
		uint8_t info[200];
		CU_ASSERT_EQUAL(bms_pylon_reply(NULL, buf[2] == '5' ? 0x25 : 0x20, 0, buf, n, info,
						sizeof(info), NULL),
				-EBADMSG);
		buf[n - 2] = save;
	}
}

static void test_truncated(void)
{
	uint8_t buf[400];
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &pylon_ascii_vectors[i];
		size_t n = pvec_frame(v, buf, sizeof(buf));
		for (size_t k = 1; k < n; k++) {
			uint8_t *p = malloc(k); /* exact size: ASan sees a read past the end */
			CU_ASSERT_FATAL(p != NULL);
			memcpy(p, buf, k);
			size_t len = 0, start = 99;
			CU_ASSERT_EQUAL(bms_pylon_check(NULL, p, k, &len), 0);
			CU_ASSERT_EQUAL(bms_pylon_find(NULL, p, k, &start, &len),
					BMS_FIND_NEED_MORE);
			CU_ASSERT_EQUAL(start, 0);
			struct bms_pylon_frame f;
			CU_ASSERT_EQUAL(bms_pylon_decode(NULL, p, k, &f), -EBADMSG);
			free(p);
		}
	}
}

static void test_back_to_back(void)
{
	uint8_t stream[4096];
	size_t at = 0, starts[NV], lens[NV];
	for (size_t i = 0; i < NV; i++) {
		stream[at++] = '\n'; /* a stray line feed between frames */
		starts[i] = at;
		lens[i] = pvec_frame(&pylon_ascii_vectors[i], stream + at, sizeof(stream) - at);
		at += lens[i];
	}
	size_t pos = 0;
	for (size_t i = 0; i < NV; i++) {
		size_t start = 0, len = 0;
		CU_ASSERT_EQUAL_FATAL(bms_pylon_find(NULL, stream + pos, at - pos, &start, &len),
				      BMS_FIND_VALID);
		CU_ASSERT_EQUAL(pos + start, starts[i]);
		CU_ASSERT_EQUAL(len, lens[i]);
		pos += start + len;
	}
	CU_ASSERT_EQUAL(pos, at);
}

/* "2.0 (0x20)" or "0x25": the byte after the 0x. */
static uint8_t ver_of(const struct pvec *v)
{
	const struct pvec_expect *e = pvec_get(v, "ver");
	CU_ASSERT_FATAL(e && e->str && strstr(e->str, "0x"));
	return (uint8_t)strtoul(strstr(e->str, "0x") + 2, NULL, 16);
}

/* Every captured request rebuilt from its stated header and its INFO bytes. */
static void test_requests_byte_for_byte(void)
{
	uint8_t want[64], got[64], info[16];
	size_t checked = 0;
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &pylon_ascii_vectors[i];
		if (strcmp(v->direction, "request"))
			continue;
		size_t n = pvec_frame(v, want, sizeof(want));
		struct bms_pylon_frame f;
		CU_ASSERT_FATAL(bms_pylon_decode(NULL, want, n, &f) == 0);
		int ni = bms_pylon_info(&f, info, sizeof(info));
		CU_ASSERT_FATAL(ni >= 0);
		uint8_t ver = ver_of(v);
		uint8_t adr = (uint8_t)pvec_get(v, "adr")->num;
		uint8_t cid1 = (uint8_t)pvec_get(v, "cid1")->num;
		uint8_t cid2 = (uint8_t)pvec_get(v, "cid2")->num;
		CU_ASSERT_EQUAL(f.ver, ver);
		CU_ASSERT_EQUAL(f.adr, adr);
		CU_ASSERT_EQUAL(f.cid1, cid1);
		CU_ASSERT_EQUAL(f.cid2, cid2);
		int rc =
			bms_pylon_request(ver, adr, cid1, cid2, info, (size_t)ni, got, sizeof(got));
		CU_ASSERT_EQUAL(rc, (int)n);
		CU_ASSERT(rc > 0 && memcmp(got, want, n) == 0);
		/* the stated INFO, where the source states it */
		const struct pvec_expect *e = pvec_get(v, "info");
		if (e && e->str)
			CU_ASSERT(ni == 1 && info[0] == strtoul(e->str, NULL, 16));
		checked++;
	}
	CU_ASSERT(checked > 0);
}

static void test_builder_limits(void)
{
	static uint8_t info[2048], out[4200];
	CU_ASSERT_EQUAL(bms_pylon_request(0x20, 0, 0x46, 0x42, info, 2048, out, sizeof(out)),
			-EINVAL);
	int n = bms_pylon_request(0x20, 0, 0x46, 0x42, info, 2047, out, sizeof(out));
	CU_ASSERT_EQUAL(n, 18 + 4094);
	size_t len = 0;
	CU_ASSERT_EQUAL(bms_pylon_check(NULL, out, (size_t)n, &len), 1);
	CU_ASSERT_EQUAL(bms_pylon_request(0x20, 0, 0x46, 0x42, info, 1, out, 19), -ENOBUFS);
	CU_ASSERT_EQUAL(bms_pylon_request(0x20, 0, 0x46, 0x42, NULL, 0, out, 18), 18);
	CU_ASSERT_EQUAL(memcmp(out, "~200046420000FDAE\r", 18), 0);
}

/* Replies: RTN 0 and INFO decoded to the stated cells, a mismatched header refused. */
static void test_replies_decode(void)
{
	uint8_t buf[400], info[200];
	size_t replies = 0, with_cells = 0;
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &pylon_ascii_vectors[i];
		if (strcmp(v->direction, "response"))
			continue;
		size_t n = pvec_frame(v, buf, sizeof(buf));
		struct bms_pylon_frame f;
		CU_ASSERT_FATAL(bms_pylon_decode(NULL, buf, n, &f) == 0);
		uint8_t rtn = 0xAA;
		int ni = bms_pylon_reply(NULL, f.ver, f.adr, buf, n, info, sizeof(info), &rtn);
		CU_ASSERT_EQUAL(ni, (int)f.info_chars / 2);
		CU_ASSERT_EQUAL(rtn, 0xAA); /* untouched on success */
		/* CID1 0x46 (LiFePO4 battery), Daren's own 0x4A */
		CU_ASSERT(f.cid1 == (pvec_is(v, "daren", NULL) ? 0x4A : 0x46));
		const struct pvec_expect *e = pvec_get(v, "info_length");
		if (e)
			CU_ASSERT_EQUAL(f.info_chars, (size_t)e->num);
		e = pvec_get(v, "cid2_return_code");
		if (e)
			CU_ASSERT_EQUAL(f.cid2, e->num);
		e = pvec_get(v, "bus_id");
		if (e)
			CU_ASSERT_EQUAL(f.adr, e->num);

		/* telemetry: DATAFLAG, pack, cell count, then the cells in mV (Daren's SOC
		 * and voltage come first: its driver's test reads those) */
		const struct pvec_expect *cells = pvec_get(v, "cell_voltages_v");
		if (cells && ni > 3 && !pvec_is(v, "daren", NULL)) {
			CU_ASSERT_EQUAL(info[2], cells->n);
			for (unsigned c = 0; c < cells->n && 4 + 2 * c < (unsigned)ni; c++)
				CU_ASSERT_EQUAL((info[3 + 2 * c] << 8) | info[4 + 2 * c],
						lround(cells->arr[c] * 1000));
			with_cells++;
		}
		/* text replies: the stated name is in the INFO bytes */
		e = pvec_get(v, "device_name");
		if (!e)
			e = pvec_get(v, "hardware_version");
		if (e && e->str)
			CU_ASSERT(memmem(info, (size_t)ni, e->str, strlen(e->str)) != NULL);

		CU_ASSERT_EQUAL(bms_pylon_reply(NULL, (uint8_t)(f.ver + 1), f.adr, buf, n, info,
						sizeof(info), &rtn),
				-EPROTO);
		CU_ASSERT_EQUAL(bms_pylon_reply(NULL, f.ver, (uint8_t)(f.adr + 1), buf, n, info,
						sizeof(info), &rtn),
				-EPROTO);
		if (ni > 0)
			CU_ASSERT_EQUAL(bms_pylon_reply(NULL, f.ver, f.adr, buf, n, info,
							(size_t)ni - 1, &rtn),
					-ENOBUFS);
		replies++;
	}
	CU_ASSERT(replies > 0);
	CU_ASSERT(with_cells >= 6); /* Seplos x2, PACE, Pylontech x3 */
}

/* A device that refuses answers with RTN in CID2 and no INFO. */
static void test_return_code(void)
{
	uint8_t frame[32], info[8];
	static const uint8_t codes[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x90, 0x91};
	for (size_t i = 0; i < sizeof(codes); i++) {
		int n = bms_pylon_request(0x20, 0x00, 0x46, codes[i], NULL, 0, frame,
					  sizeof(frame));
		CU_ASSERT_FATAL(n == 18);
		uint8_t rtn = 0;
		CU_ASSERT_EQUAL(
			bms_pylon_reply(NULL, 0x20, 0x00, frame, 18, info, sizeof(info), &rtn),
			-EREMOTEIO);
		CU_ASSERT_EQUAL(rtn, codes[i]);
	}
	/* the same as the captured OK reply to a protocol-version query */
	CU_ASSERT_EQUAL(bms_pylon_request(0x20, 0x00, 0x46, 0x00, NULL, 0, frame, sizeof(frame)),
			18);
	CU_ASSERT_EQUAL(memcmp(frame, "~200046000000FDB4\r", 18), 0);
	CU_ASSERT_EQUAL(bms_pylon_reply(NULL, 0x20, 0x00, frame, 18, info, sizeof(info), NULL), 0);
}

/*
 * Request or reply from CID2 alone: the return codes are replies, every
 * command the families use (and every other value) a request.
 */
static void test_is_reply(void)
{
	static const uint8_t rtn[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x90, 0x91};
	static const uint8_t cmd[] = {0x42, 0x44, 0x45, 0x47, 0x4F, 0x51, 0x92, 0x93,
				      0x99, 0x9A, 0x9B, 0xB1, 0xC1, 0xC2, 0xD0, 0xEE};
	unsigned replies = 0;
	for (unsigned c = 0; c < 256; c++)
		replies += bms_pylon_is_reply((uint8_t)c);
	CU_ASSERT_EQUAL(replies, sizeof(rtn));
	for (size_t i = 0; i < sizeof(rtn); i++)
		CU_ASSERT(bms_pylon_is_reply(rtn[i]));
	for (size_t i = 0; i < sizeof(cmd); i++)
		CU_ASSERT(!bms_pylon_is_reply(cmd[i]));
	/* every captured frame: requests carry a command, replies a return code */
	for (size_t i = 0; i < NV; i++) {
		uint8_t buf[512];
		size_t n = pvec_frame(&pylon_ascii_vectors[i], buf, sizeof(buf));
		struct bms_pylon_frame f;
		CU_ASSERT_FATAL(bms_pylon_decode(NULL, buf, n, &f) == 0);
		bool request = !strcmp(pylon_ascii_vectors[i].direction, "request");
		CU_ASSERT(bms_pylon_is_reply(f.cid2) == !request);
	}
}

/*
 * The reply checks every '~' driver shares, in their order: no command of ours
 * -EPROTO; a request on the line or another ADR's reply (of any family)
 * someone else's; another family's reply at our ADR a refusal (-EPROTO), not
 * BMS_FOREIGN; our family's RTN -EREMOTEIO; else 0.
 */
static void test_reply_check(void)
{
	static const struct bms_pylon_family fam = {0x20, 0x46, 0x46, 256};
	struct {
		uint8_t ver, adr, cid1, cid2;
		bool cmd_ok;
		int want;
	} cases[] = {
		{0x20, 2, 0x46, 0x00, true, 0},           {0x20, 2, 0x46, 0x00, false, -EPROTO},
		{0x20, 2, 0x46, 0x42, true, BMS_FOREIGN}, /* a request: our echo */
		{0x25, 2, 0x46, 0x42, true, BMS_FOREIGN}, /* another master's request */
		{0x20, 3, 0x46, 0x00, true, BMS_FOREIGN}, /* another pack */
		{0x25, 3, 0x46, 0x01, true, BMS_FOREIGN}, /* another family's pack elsewhere */
		{0x25, 2, 0x46, 0x01, true, -EPROTO},     /* a PACE pack refusing our VER */
		{0x22, 2, 0x4A, 0x00, true, -EPROTO},     /* a Daren reply */
		{0x20, 2, 0x4A, 0x00, true, -EPROTO},     /* another CID1 */
		{0x20, 2, 0x46, 0x90, true, -EREMOTEIO},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t frame[32], info[8];
		int n = bms_pylon_request(cases[i].ver, cases[i].adr, cases[i].cid1, cases[i].cid2,
					  NULL, 0, frame, sizeof(frame));
		CU_ASSERT_FATAL(n == 18);
		struct bms_pylon_frame f;
		CU_ASSERT_FATAL(bms_pylon_decode(NULL, frame, 18, &f) == 0);
		CU_ASSERT_EQUAL(bms_pylon_reply_check(&fam, 2, cases[i].cmd_ok, &f), cases[i].want);
		CU_ASSERT_EQUAL(bms_pylon_parse_reply(&fam, 2, cases[i].cmd_ok, frame, 18, info,
						      sizeof(info)),
				cases[i].want);
	}
}

/* Frames the rules refuse although their CHKSUM adds up. */
static void test_rule_breakers(void)
{
	size_t len = 0;
	/* a LENGTH whose LCHKSUM is wrong (E002 -> D002), CHKSUM fixed up to match */
	uint8_t f1[] = "~20004642D00200FD38\r";
	CU_ASSERT_EQUAL(bms_pylon_check(NULL, f1, 20, &len), -1);
	/* an odd LENID (F001 announces one INFO character): INFO is bytes */
	uint8_t f2[] = "~20004642F0010FD3?\r";
	CU_ASSERT_EQUAL(bms_pylon_check(NULL, f2, 19, &len), -1);
	/* a non-hex character in INFO, caught before the frame is complete */
	uint8_t f3[] = "~20004642E002G0";
	CU_ASSERT_EQUAL(bms_pylon_check(NULL, f3, 15, &len), -1);
	/* KS48100's '>' is a frame only when asked for */
	uint8_t f4[] = ">20004642E00200FD37\r";
	struct bms_pylon_spec gt = {.soi = '>'};
	CU_ASSERT_EQUAL(bms_pylon_check(NULL, f4, 20, &len), -1);
	CU_ASSERT_EQUAL(bms_pylon_check(&gt, f4, 20, &len), 1);
	/* upper case only: "fd37" would read as FD37 whatever its case bits */
	uint8_t f5[] = "~20004642E00200fd37\r";
	CU_ASSERT_EQUAL(bms_pylon_check(NULL, f5, 20, &len), -1);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"families_covered", test_families_covered},
		{"length_and_chksum", test_length_and_chksum},
		{"every_frame_valid", test_every_frame_valid},
		{"corrupt_rejected", test_corrupt_rejected},
		{"truncated", test_truncated},
		{"back_to_back", test_back_to_back},
		{"requests_byte_for_byte", test_requests_byte_for_byte},
		{"builder_limits", test_builder_limits},
		{"replies_decode", test_replies_decode},
		{"return_code", test_return_code},
		{"is_reply", test_is_reply},
		{"reply_check", test_reply_check},
		{"rule_breakers", test_rule_breakers},
		{NULL, NULL},
	};
	return sb_add_suite("pylon_ascii", tests);
}
