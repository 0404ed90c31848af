/* SPDX-License-Identifier: MIT */
/* Filling a struct bms_frame_desc (bms/bms.h): the drivers' describe(). */
#include <errno.h>
#include <string.h>

#include "registry.h"

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void bms_desc_init(struct bms_frame_desc *d, enum bms_frame_dir dir, uint16_t command, int address,
		   const char *name)
{
	d->dir = dir;
	d->command = command;
	d->address = address;
	d->continues = false;
	copy_str(d->name, sizeof(d->name), name ? name : "");
	d->n = 0;
}

static struct bms_desc_item *desc_add(struct bms_frame_desc *d, const char *key)
{
	if (d->n >= BMS_DESC_ITEMS)
		return NULL;
	struct bms_desc_item *it = &d->items[d->n++];
	memset(it, 0, sizeof(*it));
	copy_str(it->key, sizeof(it->key), key);
	return it;
}

void bms_desc_num(struct bms_frame_desc *d, const char *key, double value)
{
	struct bms_desc_item *it = desc_add(d, key);
	if (it)
		it->num = value;
}

void bms_desc_text(struct bms_frame_desc *d, const char *key, const char *text, size_t len)
{
	struct bms_desc_item *it = desc_add(d, key);
	if (!it)
		return;
	it->is_text = true;
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < sizeof(it->text) && text[i]; i++) {
		unsigned char c = (unsigned char)text[i];
		it->text[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	it->text[n] = '\0';
}

#define DESCRIBER(n) {&bms_##n, bms_##n##_describe},
static const struct {
	const struct bms_driver *drv;
	int (*fn)(const uint8_t *frame, size_t len, struct bms_frame_desc *d);
} describers[] = {BMS_DRIVER_LIST(DESCRIBER)};
#undef DESCRIBER

int bms_driver_describe(const struct bms_driver *drv, const uint8_t *frame, size_t len,
			struct bms_frame_desc *d)
{
	for (size_t i = 0; i < sizeof(describers) / sizeof(describers[0]); i++)
		if (describers[i].drv == drv)
			return describers[i].fn(frame, len, d);
	return -ENOENT;
}
