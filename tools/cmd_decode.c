/* SPDX-License-Identifier: MIT */
/*
 * serialbattery decode --bms NAME --hex HEX [--hex HEX ...] | --file F
 *
 * Runs captured frames through the core's candidate scan over the driver's
 * frame_check (bms_frame_find) + parse, exactly as the worker does, and
 * prints the merged snapshot as JSON: the way a user turns a frame from a
 * bug report into values. A frame that does not decode
 * prints one line naming why and the command exits 1.
 *
 * The reason is computed from the driver's own functions, so a new driver
 * gets it for free: NEED_MORE means truncated (or a length field claiming
 * more); INVALID with a start that does not look like any reply the driver's
 * simulator produces means a wrong header, otherwise a checksum or length
 * mismatch; a frame every request step's parse refuses (-EPROTO) answers a
 * different command or address.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/sim/sim.h"
#include "tools.h"
#include "tools/snapshot_json.h"

#define DEC_MAX 8192
#define DEC_MAX_STEPS 32

static void decode_usage(FILE *out)
{
	fputs("usage: serialbattery decode --bms NAME (--hex HEX ... | --file FILE) [--address N]\n"
	      "\n"
	      "Decode captured reply frames with the NAME driver and print the merged\n"
	      "snapshot as JSON. HEX may contain spaces or colons; FILE has one frame per\n"
	      "line ('#' starts a comment). Several frames (e.g. JK PB status + about)\n"
	      "merge into one snapshot. Exit 1 with one line of reason for a bad frame.\n"
	      "  --address N  unit address for addressed drivers (default: the driver's first)\n"
	      "drivers:",
	      out);
	for (size_t i = 0; bms_drivers[i]; i++)
		fprintf(out, " %s", bms_drivers[i]->name);
	fputc('\n', out);
}

/* Hex with optional spaces, colons, commas or a 0x prefix per byte. */
static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *ret_n)
{
	size_t n = 0;
	int hi = -1;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == ':' || c == ',' || c == '\r' || c == '\n')
			continue;
		if (c == '0' && (p[1] == 'x' || p[1] == 'X') && hi < 0) {
			p++;
			continue;
		}
		int d = (c >= '0' && c <= '9')   ? c - '0'
			: (c >= 'a' && c <= 'f') ? c - 'a' + 10
			: (c >= 'A' && c <= 'F') ? c - 'A' + 10
						 : -1;
		if (d < 0)
			return -EINVAL;
		if (hi < 0) {
			hi = d;
			continue;
		}
		if (n >= cap)
			return -E2BIG;
		out[n++] = (uint8_t)(hi * 16 + d);
		hi = -1;
	}
	if (hi >= 0)
		return -EINVAL;
	*ret_n = n;
	return 0;
}

/* Does buf start like some reply the driver's simulator gives? */
static bool looks_like_reply(const struct bms_driver *drv, uint8_t address, const uint8_t *buf,
			     size_t len)
{
	static const enum bms_req_kind kinds[] = {BMS_REQ_PROBE, BMS_REQ_POLL};
	struct bms_snapshot zero;
	uint8_t req[512], rep[DEC_MAX];
	memset(&zero, 0, sizeof(zero));
	zero.cell_count = 4;
	zero.temp_count = 2;
	bool like = false;
	for (size_t k = 0; k < 2 && !like; k++) {
		void *st = calloc(1, drv->state_size ? drv->state_size : 1);
		if (!st || (drv->init && drv->init(st, address) < 0)) {
			free(st);
			return true; /* cannot tell: do not claim a header problem */
		}
		for (unsigned step = 0; step < DEC_MAX_STEPS && !like; step++) {
			struct bms_request rq = {.kind = kinds[k], .step = step, .cycle = 1};
			int n = drv->build_request(st, &rq, req, sizeof(req));
			if (n <= 0)
				break;
			int m = bms_sim_respond(drv, &zero, address, req, (size_t)n, rep,
						sizeof(rep));
			if (m < 0)
				like = true;
			/* the first frame of the reply, skipping stray leading bytes */
			size_t start, flen;
			if (m > 0 &&
			    bms_frame_find(drv, rep, (size_t)m, &start, &flen) == BMS_FIND_VALID) {
				size_t h = flen < 2 ? flen : 2;
				if (len >= h && memcmp(buf, rep + start, h) == 0)
					like = true;
			}
		}
		free(st);
	}
	return like;
}

static const char *find_reason(const struct bms_driver *drv, uint8_t address, const uint8_t *buf,
			       size_t len, enum bms_find f)
{
	if (len == 0)
		return "empty frame";
	if (f == BMS_FIND_NEED_MORE)
		return "length: the frame is truncated (its length or fixed size says more bytes "
		       "follow)";
	if (!looks_like_reply(drv, address, buf, len))
		return "header: it does not start like a reply of this driver (wrong --bms?)";
	return "checksum (or length field) mismatch";
}

/*
 * Which request does a frame answer? The driver declares its requests (the
 * poll steps, until build_request returns 0, then the probe), and parse takes
 * the request descriptor and checks the frame against it (register, command,
 * start address echoed by the reply). So the step is found from the frame by
 * offering it once to each declared request, each with a freshly initialised
 * state: no earlier step is replayed to put the driver in the right mood (the
 * drivers keep no "what did I ask" state any more). Every static step is due
 * in cycle 1. The first request whose parse accepts the first frame wins;
 * the following frames (multi-frame replies, the JK PB ACK) go to the same
 * request and state.
 */
static int decode_one(const struct bms_driver *drv, uint8_t address, const uint8_t *buf, size_t len,
		      struct bms_snapshot *snap, const char **ret_reason)
{
	static const enum bms_req_kind kinds[] = {BMS_REQ_POLL, BMS_REQ_PROBE};
	size_t start, flen;
	enum bms_find f = bms_frame_find(drv, buf, len, &start, &flen);
	if (f != BMS_FIND_VALID) {
		*ret_reason = find_reason(drv, address, buf, len, f);
		return -EBADMSG;
	}
	uint8_t req[512];
	int last = -EPROTO;
	void *st = calloc(1, drv->state_size ? drv->state_size : 1);
	if (!st)
		return -ENOMEM;
	for (size_t k = 0; k < 2; k++) {
		for (unsigned step = 0; step < DEC_MAX_STEPS; step++) {
			struct bms_request rq = {.kind = kinds[k], .step = step, .cycle = 1};
			memset(st, 0, drv->state_size ? drv->state_size : 1);
			int n = drv->init ? drv->init(st, address) : 0;
			if (n >= 0)
				n = drv->build_request(st, &rq, req, sizeof(req));
			if (n <= 0)
				break;
			struct bms_snapshot tmp = *snap;
			size_t pos = 0;
			int r = -EPROTO;
			bool any = false;
			while (pos < len) {
				f = bms_frame_find(drv, buf + pos, len - pos, &start, &flen);
				if (f != BMS_FIND_VALID)
					break;
				r = drv->parse(st, &rq, buf + pos + start, flen, &tmp);
				if (r < 0)
					break;
				any = true;
				pos += start + flen;
				if (r == 0)
					break;
			}
			if (any && r >= 0 && drv->finish)
				drv->finish(st, &tmp);
			if (any && r >= 0) {
				free(st);
				*snap = tmp;
				return 0;
			}
			last = r;
		}
	}
	free(st);
	*ret_reason = last == -EBADMSG
			      ? "checksum: parse rejected the frame"
			      : "command/address: the frame does not answer any request of "
				"this driver at this address (or holds impossible values)";
	return last;
}

static int decode_input(const struct bms_driver *drv, uint8_t address, const char *hex, unsigned no,
			struct bms_snapshot *snap)
{
	static uint8_t buf[DEC_MAX];
	size_t n;
	int r = parse_hex(hex, buf, sizeof(buf), &n);
	if (r < 0) {
		fprintf(stderr, "decode: frame %u: %s\n", no,
			r == -E2BIG ? "too long"
				    : "not hex (odd digit count or a non-hex character)");
		return 1;
	}
	const char *reason = "unknown";
	if (decode_one(drv, address, buf, n, snap, &reason) < 0) {
		fprintf(stderr, "decode: frame %u (%zu bytes): %s\n", no, n, reason);
		return 1;
	}
	return 0;
}

int cmd_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{"bms", required_argument, NULL, 'b'},  {"hex", required_argument, NULL, 'x'},
		{"file", required_argument, NULL, 'f'}, {"address", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	const char *name = NULL, *file = NULL;
	const char *hexes[64];
	size_t nhex = 0;
	long address = -1;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "b:x:f:a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			name = optarg;
			break;
		case 'x':
			if (nhex >= sizeof(hexes) / sizeof(hexes[0])) {
				fputs("decode: too many --hex\n", stderr);
				return 2;
			}
			hexes[nhex++] = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'a': {
			char *end;
			address = strtol(optarg, &end, 0);
			if (*end || address < 0 || address > 255) {
				fprintf(stderr, "decode: bad --address '%s'\n", optarg);
				return 2;
			}
			break;
		}
		case 'h':
			decode_usage(stdout);
			return 0;
		default:
			decode_usage(stderr);
			return 2;
		}
	}
	if (!name || (nhex == 0 && !file) || optind < argc) {
		decode_usage(stderr);
		return 2;
	}
	const struct bms_driver *drv = bms_driver_find(name);
	if (!drv) {
		fprintf(stderr, "decode: unknown BMS '%s'\n", name);
		decode_usage(stderr);
		return 2;
	}
	if (address < 0)
		address = drv->addresses ? drv->addresses[0] : 0;

	struct bms_snapshot snap;
	memset(&snap, 0, sizeof(snap));
	unsigned no = 0;
	int bad = 0;
	for (size_t i = 0; i < nhex && !bad; i++)
		bad = decode_input(drv, (uint8_t)address, hexes[i], ++no, &snap);
	if (file && !bad) {
		FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
		if (!f) {
			fprintf(stderr, "decode: %s: %s\n", file, strerror(errno));
			return 2;
		}
		char *line = NULL;
		size_t cap = 0;
		while (!bad && getline(&line, &cap, f) > 0) {
			char *hash = strchr(line, '#');
			if (hash)
				*hash = '\0';
			if (strspn(line, " \t\r\n") == strlen(line))
				continue;
			bad = decode_input(drv, (uint8_t)address, line, ++no, &snap);
		}
		free(line);
		if (f != stdin)
			fclose(f);
		if (no == 0) {
			fprintf(stderr, "decode: %s: no frame\n", file);
			return 1;
		}
	}
	if (bad)
		return 1;
	if (snapshot_json_write(stdout, &snap) < 0 || fputc('\n', stdout) == EOF)
		return 1;
	return 0;
}
