/* SPDX-License-Identifier: MIT */
/*
 * serialbattery decode --bms NAME (--hex HEX ... | --file F) [--address N] [--frames]
 *
 * Turns a capture into values: one hex string holding a whole poll, several
 * --hex, or a file with one frame or one exchange per line, requests
 * interleaved, in any order (tools/decode.h does the work). Prints the merged
 * snapshot as JSON; with --frames first one line per frame (offset,
 * direction, command, what it carried or why it was refused). Exit 1 only
 * when no frame of the protocol was found or a frame's checksum failed; 2
 * for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "tools.h"
#include "tools/decode.h"
#include "tools/snapshot_json.h"

#define DEC_MAX_BYTES (1u << 20) /* a whole capture */
#define DEC_MAX_SEGS 4096

static void decode_usage(FILE *out)
{
	fputs("usage: serialbattery decode --bms NAME (--hex HEX ... | --file FILE) [--address N]\n"
	      "                            [--frames]\n"
	      "\n"
	      "Decode a capture with the NAME driver and print the merged snapshot as JSON.\n"
	      "The capture may be one hex string holding a whole poll, several --hex, or a\n"
	      "FILE ('-' = stdin) with one frame or one exchange per line ('#' starts a\n"
	      "comment); requests may be interleaved and frames may come in any order.\n"
	      "HEX may contain spaces, colons, commas or 0x prefixes.\n"
	      "  --address N  unit of an addressed protocol (default: that of the first reply)\n"
	      "  --frames     first one line per frame: offset, direction, command, and what\n"
	      "               it carried (JSON) or why it was refused\n"
	      "Exit 1 when no frame of the protocol was found or a checksum failed.\n"
	      "drivers:",
	      out);
	for (size_t i = 0; bms_drivers[i]; i++)
		fprintf(out, " %s", bms_drivers[i]->name);
	fputc('\n', out);
}

/* Hex with optional spaces, colons, commas or a 0x prefix per byte, appended to out. */
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

struct capture {
	uint8_t *bytes;
	size_t used;
	struct decode_segment seg[DEC_MAX_SEGS];
	size_t nseg;
};

static int add_segment(struct capture *c, const char *hex, unsigned no)
{
	size_t n = 0;
	if (c->nseg >= DEC_MAX_SEGS) {
		fprintf(stderr, "decode: more than %d frames or lines\n", DEC_MAX_SEGS);
		return 2;
	}
	int r = parse_hex(hex, c->bytes + c->used, DEC_MAX_BYTES - c->used, &n);
	if (r < 0) {
		fprintf(stderr, "decode: input %u: %s\n", no,
			r == -E2BIG ? "the capture is too long"
				    : "not hex (odd digit count or a non-hex character)");
		return 2;
	}
	if (n == 0)
		return 0;
	c->seg[c->nseg].buf = c->bytes + c->used;
	c->seg[c->nseg].len = n;
	c->nseg++;
	c->used += n;
	return 0;
}

static int read_file(struct capture *c, const char *file, unsigned *no)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	if (!f) {
		fprintf(stderr, "decode: %s: %s\n", file, strerror(errno));
		return 2;
	}
	char *line = NULL;
	size_t cap = 0;
	int bad = 0;
	while (!bad && getline(&line, &cap, f) > 0) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		bad = add_segment(c, line, ++*no);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return bad;
}

int cmd_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{"bms", required_argument, NULL, 'b'},
		{"hex", required_argument, NULL, 'x'},
		{"file", required_argument, NULL, 'f'},
		{"address", required_argument, NULL, 'a'},
		{"frames", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *name = NULL, *file = NULL;
	const char *hexes[256];
	size_t nhex = 0;
	long address = -1;
	bool frames = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "b:x:f:a:Fh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			name = optarg;
			break;
		case 'x':
			if (nhex >= sizeof(hexes) / sizeof(hexes[0])) {
				fputs("decode: too many --hex (use --file)\n", stderr);
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
		case 'F':
			frames = true;
			break;
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

	struct capture *cap = calloc(1, sizeof(*cap));
	if (cap)
		cap->bytes = malloc(DEC_MAX_BYTES);
	if (!cap || !cap->bytes) {
		if (cap)
			free(cap);
		fputs("decode: out of memory\n", stderr);
		return 2;
	}
	unsigned no = 0;
	int rc = 0;
	for (size_t i = 0; i < nhex && !rc; i++)
		rc = add_segment(cap, hexes[i], ++no);
	if (file && !rc)
		rc = read_file(cap, file, &no);

	struct decode_result *res = NULL;
	if (!rc && cap->nseg == 0) {
		fputs("decode: the input holds no bytes\n", stderr);
		rc = 1;
	}
	if (!rc) {
		res = calloc(1, sizeof(*res));
		int r = res ? decode_capture(drv, (int)address, cap->seg, cap->nseg,
					     frames ? stdout : NULL, res)
			    : -ENOMEM;
		if (r < 0) {
			fprintf(stderr, "decode: %s\n", strerror(-r));
			rc = 2;
		}
	}
	if (!rc && res->checksum_errors) {
		fprintf(stderr, "decode: %s\n", res->first_error);
		rc = 1;
	} else if (!rc && res->frames == 0) {
		if (res->truncated)
			fputs("decode: length: the frame is truncated (its length or fixed size "
			      "says more bytes follow)\n",
			      stderr);
		else
			fprintf(stderr,
				"decode: header: no frame of the %s protocol in the input (wrong "
				"--bms?)\n",
				drv->name);
		rc = 1;
	}
	if (!rc && (snapshot_json_write(stdout, &res->snap) < 0 || fputc('\n', stdout) == EOF))
		rc = 1;
	free(res);
	free(cap->bytes);
	free(cap);
	return rc;
}
