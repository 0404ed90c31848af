/* SPDX-License-Identifier: MIT */
/*
 * The capture decoder (tools/decode.h).
 *
 * Frames are found as the worker finds them (bms_frame_find over the
 * driver's frame_check). The driver's describe() says what each one is; a
 * reply is decoded by parse() under a BMS_REQ_READ of its command, a
 * multi-frame reply by feeding its frames in turn while parse asks for more.
 * The driver state lives for the whole capture, and the capture is decoded
 * twice: a silent first pass teaches the state what a later frame may need
 * from an earlier one in the poll (Daly's cell and sensor counts from 0x94
 * bound 0x95/0x96), so the order of the frames in the capture does not
 * matter. Only the second pass is reported and merged.
 *
 * Exit status policy (the CLI's): a capture is bad only when no frame of
 * the protocol is in it or a frame start failed its checksum; a frame that
 * does not fit (another unit's, a broken multi-frame sequence) is reported
 * and left out, never an error.
 */
#include "decode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bms/fields.h"
#include "bms/sim/sim.h"
#include "bms/snapshot_json.h"

#define DEC_REQ_CAP 512
#define DEC_SIM_CAP 8192
#define DEC_MAX_STEPS 32

struct dec {
	const struct bms_driver *drv;
	void *st;
	int address;
	bool address_auto; /* take the unit of the first reply */
	bool address_set;
	FILE *out; /* NULL in the silent pass */
	struct decode_result *res;
	/* the open multi-frame reply */
	bool open;
	struct bms_request req;
	uint16_t cmd;
	unsigned parts;
	size_t open_off;
	struct bms_snapshot part; /* what the open reply decoded so far */
	uint8_t reqbuf[DEC_REQ_CAP];
};

static int dec_init_state(struct dec *d)
{
	memset(d->st, 0, d->drv->state_size ? d->drv->state_size : 1);
	uint8_t a = d->address < 0 ? 0 : (uint8_t)d->address;
	return d->drv->init ? d->drv->init(d->st, a) : 0;
}

/* ---- output ---- */

static void put_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void line_head(struct dec *d, size_t off, const struct bms_frame_desc *desc)
{
	fprintf(d->out, "@%zu %s 0x%02x %s", off,
		desc->dir == BMS_DIR_REQUEST ? "request" : "reply", desc->command, desc->name);
	if (desc->address >= 0)
		fprintf(d->out, " (address %d)", desc->address);
}

/*
 * The JSON object of what a frame carried: the snapshot fields in `bits`
 * of s (the codec's own keys and units), then the describe() items.
 */
static void line_values(struct dec *d, const struct bms_snapshot *s, uint32_t bits,
			const struct bms_frame_desc *desc)
{
	char buf[BMS_JSON_LINE_MAX];
	struct bms_snapshot only = *s;
	only.valid = s->valid & bits;
	bool any = false;
	fputs(": {", d->out);
	if (only.valid && bms_json_format(&only, buf, sizeof(buf)) == 0) {
		size_t n = strlen(buf);
		if (n > 2) { /* "{...}" without the braces */
			fwrite(buf + 1, 1, n - 2, d->out);
			any = true;
		}
	}
	for (unsigned i = 0; i < desc->n && i < BMS_DESC_ITEMS; i++) {
		const struct bms_desc_item *it = &desc->items[i];
		fputs(any ? ", " : "", d->out);
		put_json_string(d->out, it->key);
		fputs(": ", d->out);
		if (it->is_text)
			put_json_string(d->out, it->text);
		else if (it->num != it->num)
			fputs("null", d->out);
		else
			fprintf(d->out, "%.10g", it->num);
		any = true;
	}
	fputs("}\n", d->out);
}

static void line_refused(struct dec *d, size_t off, const struct bms_frame_desc *desc,
			 const char *why)
{
	if (!d->out)
		return;
	line_head(d, off, desc);
	fprintf(d->out, ": refused: %s\n", why);
}

/* ---- skipped bytes ---- */

/* Does p start like a frame of drv, judged by its first two bytes against
 * the requests it builds and the replies its simulator gives? */
static bool looks_like_frame(const struct bms_driver *drv, int address, const uint8_t *p,
			     size_t len)
{
	static const enum bms_req_kind kinds[] = {BMS_REQ_PROBE, BMS_REQ_POLL};
	if (len < 2)
		return false;
	struct bms_snapshot zero;
	memset(&zero, 0, sizeof(zero));
	zero.cell_count = 4;
	zero.temp_count = 2;
	uint8_t *rep = malloc(DEC_SIM_CAP);
	void *st = calloc(1, drv->state_size ? drv->state_size : 1);
	bool like = false;
	uint8_t a = address < 0 ? (drv->addresses ? drv->addresses[0] : 0) : (uint8_t)address;
	for (size_t k = 0; rep && st && k < 2 && !like; k++) {
		if (drv->init && drv->init(st, a) < 0)
			break;
		for (unsigned step = 0; step < DEC_MAX_STEPS && !like; step++) {
			uint8_t req[DEC_REQ_CAP];
			struct bms_request rq = {.kind = kinds[k], .step = step, .cycle = 1};
			int n = drv->build_request(st, &rq, req, sizeof(req));
			if (n <= 0)
				break;
			if (memcmp(p, req, 2) == 0)
				like = true;
			int m = bms_sim_respond(drv, &zero, a, req, (size_t)n, rep, DEC_SIM_CAP);
			size_t start, flen;
			if (m > 0 &&
			    bms_frame_find(drv, rep, (size_t)m, &start, &flen) == BMS_FIND_VALID &&
			    memcmp(p, rep + start, 2) == 0)
				like = true;
		}
	}
	free(rep);
	free(st);
	return like;
}

static void note_error(struct decode_result *res, const char *fmt, size_t off)
{
	if (!res->first_error[0])
		snprintf(res->first_error, sizeof(res->first_error), fmt, off);
}

/* Bytes [off, off+len) that make no frame: a damaged frame, or noise. */
static void skipped(struct dec *d, const uint8_t *p, size_t len, size_t off, bool truncated)
{
	if (len == 0)
		return;
	if (truncated) {
		if (d->out)
			fprintf(d->out,
				"@%zu -: refused: truncated: %zu bytes start a frame that does not "
				"end in the capture\n",
				off, len);
		d->res->noise_bytes += (unsigned)len;
		d->res->truncated++;
		return;
	}
	for (size_t i = 0; i + 1 < len; i++) {
		if (!looks_like_frame(d->drv, d->address, p + i, len - i))
			continue;
		if (d->out) {
			if (i)
				fprintf(d->out, "@%zu -: skipped %zu bytes of noise\n", off, i);
			fprintf(d->out,
				"@%zu -: refused: checksum (or length) mismatch in a frame "
				"start (%zu bytes)\n",
				off + i, len - i);
		}
		d->res->checksum_errors++;
		note_error(d->res, "checksum (or length field) mismatch at byte %zu", off + i);
		d->res->noise_bytes += (unsigned)i;
		return;
	}
	if (d->out)
		fprintf(d->out, "@%zu -: skipped %zu bytes of noise\n", off, len);
	d->res->noise_bytes += (unsigned)len;
}

/* ---- replies ---- */

static const char *parse_reason(int r)
{
	switch (r) {
	case -EBADMSG:
		return "the driver's own check failed (checksum or shape)";
	case -EREMOTEIO:
		return "the BMS's error reply";
	case -EPERM:
		return "the BMS refused a write";
	case -EOPNOTSUPP:
		return "the driver cannot read this command";
	default:
		return "does not fit (impossible values, or out of sequence)";
	}
}

/* Close the open reply: merge what it decoded (a driver commits a
 * multi-frame reply only when whole, so a partial one adds nothing of it). */
static void close_open(struct dec *d, bool whole)
{
	if (!d->open)
		return;
	d->open = false;
	if (d->part.valid) {
		bms_snapshot_copy_fields(&d->res->snap, &d->part, d->part.valid);
		if (d->part.valid & BMS_V_TEMPS)
			d->res->snap.temp_count = d->part.temp_count;
	}
	if (whole)
		d->res->replies_decoded++;
	else if (d->out)
		fprintf(d->out, "@%zu -: reply 0x%02x ended after %u frame%s (incomplete)%s\n",
			d->open_off, d->cmd, d->parts, d->parts == 1 ? "" : "s",
			d->part.valid ? "" : ": nothing of it used");
}

static void reply(struct dec *d, const uint8_t *f, size_t len, size_t off,
		  const struct bms_frame_desc *desc)
{
	const struct bms_driver *drv = d->drv;
	if (d->address_auto && !d->address_set && desc->address >= 0 &&
	    (drv->flags & BMS_F_ADDRESSED)) {
		/* the unit of the first reply is the one decoded */
		d->address = desc->address;
		d->address_set = true;
		d->res->address = d->address;
		if (dec_init_state(d) < 0)
			d->address_auto = false;
	}
	bool cont = d->open && (desc->command == d->cmd || desc->continues);
	if (d->open && !cont)
		close_open(d, false);
	if (!cont) {
		memset(&d->req, 0, sizeof(d->req));
		d->req.kind = BMS_REQ_READ;
		d->req.reg = desc->command;
		d->req.cycle = 1;
		int n = drv->build_request(d->st, &d->req, d->reqbuf, sizeof(d->reqbuf));
		if (n < 0) {
			d->res->refused++;
			line_refused(d, off, desc, parse_reason(n));
			return;
		}
		memset(&d->part, 0, sizeof(d->part));
		d->cmd = desc->command;
		d->parts = 0;
		d->open_off = off;
	}
	struct bms_snapshot before = d->part;
	int r = drv->parse(d->st, &d->req, f, len, &d->part);
	if (r == BMS_FOREIGN) {
		d->part = before; /* the contract says untouched; make sure */
		d->res->foreign++;
		if (d->out) {
			line_head(d, off, desc);
			fputs(": foreign: for another unit or another master, skipped\n", d->out);
		}
		return; /* an open reply stays open: its next frame may follow */
	}
	if (r < 0) {
		d->part = before;
		d->res->refused++;
		line_refused(d, off, desc, parse_reason(r));
		if (cont) {
			/* a broken sequence: the whole reply goes */
			memset(&d->part, 0, sizeof(d->part));
			close_open(d, false);
		}
		return;
	}
	d->open = true;
	d->parts++;
	/* what this frame added: bits that were not there, or changed */
	uint32_t added = d->part.valid & ~before.valid;
	if (r == 0)
		added = d->part.valid; /* a whole reply shows all it carried */
	if (d->out) {
		line_head(d, off, desc);
		line_values(d, &d->part, r == 0 ? added : 0, desc);
	}
	if (r == 0)
		close_open(d, true);
}

static void frame(struct dec *d, const uint8_t *f, size_t len, size_t off)
{
	struct bms_frame_desc desc;
	d->res->frames++;
	if (bms_driver_describe(d->drv, f, len, &desc) < 0) {
		bms_desc_init(&desc, BMS_DIR_REPLY, 0, -1, "?");
		d->res->refused++;
		line_refused(d, off, &desc,
			     "passes the frame check but is no frame the protocol "
			     "defines");
		return;
	}
	if (desc.dir == BMS_DIR_REQUEST) {
		d->res->requests++;
		if (d->out) {
			line_head(d, off, &desc);
			line_values(d, &d->part, 0, &desc);
		}
		return; /* a request between the frames of a reply leaves it open */
	}
	reply(d, f, len, off, &desc);
}

static void pass(struct dec *d, const struct decode_segment *segs, size_t nseg)
{
	size_t base = 0;
	for (size_t s = 0; s < nseg; s++) {
		const uint8_t *buf = segs[s].buf;
		size_t len = segs[s].len, pos = 0;
		while (pos < len) {
			size_t start = 0, flen = 0;
			enum bms_find f =
				bms_frame_find(d->drv, buf + pos, len - pos, &start, &flen);
			if (f == BMS_FIND_INVALID) {
				skipped(d, buf + pos, len - pos, base + pos, false);
				break;
			}
			if (f == BMS_FIND_NEED_MORE) {
				if (start > len - pos)
					start = len - pos;
				skipped(d, buf + pos, start, base + pos, false);
				skipped(d, buf + pos + start, len - pos - start, base + pos + start,
					true);
				break;
			}
			if (start > len - pos || flen == 0 || flen > len - pos - start)
				break; /* a driver bug: never trust the bounds it gave */
			skipped(d, buf + pos, start, base + pos, false);
			frame(d, buf + pos + start, flen, base + pos + start);
			pos += start + flen;
		}
		base += len;
	}
	close_open(d, false);
}

int decode_capture(const struct bms_driver *drv, int address, const struct decode_segment *segs,
		   size_t nseg, FILE *frames, struct decode_result *res)
{
	struct dec *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->st = calloc(1, drv->state_size ? drv->state_size : 1);
	if (!d->st) {
		free(d);
		return -ENOMEM;
	}
	d->drv = drv;
	d->address_auto = address < 0 && (drv->flags & BMS_F_ADDRESSED);
	d->address = address >= 0 ? address : (drv->addresses ? drv->addresses[0] : -1);
	int r = dec_init_state(d);
	if (r < 0)
		goto out;
	/* pass 1, silent: learn what later frames need from earlier ones */
	struct decode_result scratch;
	memset(&scratch, 0, sizeof(scratch));
	d->res = &scratch;
	pass(d, segs, nseg);
	/* pass 2, reported, with the state pass 1 left (the unit it chose too) */
	memset(res, 0, sizeof(*res));
	res->address = drv->addresses || (drv->flags & BMS_F_ADDRESSED) ? d->address : -1;
	d->res = res;
	d->out = frames;
	d->address_auto = false;
	d->open = false;
	pass(d, segs, nseg);
	if (drv->finish && res->snap.valid)
		drv->finish(d->st, &res->snap);
	r = 0;
out:
	free(d->st);
	free(d);
	return r;
}
