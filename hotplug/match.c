/* SPDX-License-Identifier: MIT */
/*
 * The pure half of discovery: which ttys are ours, and what an adapter is
 * called. No I/O, no libudev: the supervisor feeds it properties read by
 * watch.c, the tests feed it tables.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "hotplug/hotplug.h"

static bool empty(const char *s)
{
	return !s || !*s;
}

static bool glob_match(const char *pattern, const char *s, bool casefold)
{
	if (empty(s))
		return false;
	return fnmatch(pattern, s, casefold ? FNM_CASEFOLD : 0) == 0;
}

static bool is_hex4(const char *s, size_t n)
{
	if (n != 4)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "1a86:7523" or "1a86:*" */
static bool is_vid_pid(const char *rule)
{
	const char *colon = strchr(rule, ':');
	if (!colon || !is_hex4(rule, (size_t)(colon - rule)))
		return false;
	return strcmp(colon + 1, "*") == 0 || is_hex4(colon + 1, strlen(colon + 1));
}

static const char *after_prefix(const char *rule, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(rule, prefix, n) == 0 ? rule + n : NULL;
}

int hotplug_rule_check(const char *rule)
{
	if (empty(rule))
		return -EINVAL;
	if (is_vid_pid(rule))
		return 0;
	static const char *const prefixes[] = {"serial=", "path=", "vendor=", "model=", NULL};
	for (const char *const *pf = prefixes; *pf; pf++) {
		const char *v = after_prefix(rule, *pf);
		if (v)
			return *v ? 0 : -EINVAL;
	}
	if (strncmp(rule, "/dev/", 5) == 0 && rule[5])
		return 0;
	return -EINVAL;
}

bool hotplug_rule_match(const char *rule, const struct hotplug_props *p)
{
	const char *v;
	if (empty(rule))
		return false;
	if (is_vid_pid(rule)) {
		if (empty(p->vendor_id) || empty(p->model_id))
			return false;
		if (strncasecmp(rule, p->vendor_id, 4) != 0 || strlen(p->vendor_id) != 4)
			return false;
		return rule[5] == '*' || strcasecmp(rule + 5, p->model_id) == 0;
	}
	if ((v = after_prefix(rule, "serial=")))
		return glob_match(v, p->serial, false);
	if ((v = after_prefix(rule, "path=")))
		return glob_match(v, p->path, false);
	if ((v = after_prefix(rule, "vendor=")))
		return glob_match(v, p->vendor, true);
	if ((v = after_prefix(rule, "model=")))
		return glob_match(v, p->model, true);
	if (strncmp(rule, "/dev/", 5) == 0)
		return glob_match(rule, p->devname, false);
	return false;
}

static bool any_rule(const struct cfg_slist *l, const struct hotplug_props *p)
{
	for (unsigned i = 0; i < l->n; i++)
		if (hotplug_rule_match(l->v[i], p))
			return true;
	return false;
}

/*
 * Victron ships its USB interfaces as FTDI chips with their own strings:
 * the VE.Direct cable reports ID_VENDOR "VictronEnergy_BV" and ID_MODEL
 * "VE_Direct_cable", the MK3-USB "VictronEnergy" / "MK3-USB_Interface".
 * The vendor string alone catches the rest of the family (VE.Can USB,
 * later revisions); the model globs catch resellers' re-branded strings.
 */
bool hotplug_is_victron(const struct hotplug_props *p)
{
	static const char *const models[] = {"VE_Direct*", "VE.Direct*", "MK2*USB*", "MK3*USB*",
					     "VE_Bus*",    "VE_Can*",    NULL};
	if (glob_match("Victron*", p->vendor, true))
		return true;
	for (const char *const *m = models; *m; m++)
		if (glob_match(*m, p->model, true))
			return true;
	return false;
}

/*
 * serial-starter's VE_SERVICE: empty and "default" mean "a plain USB serial
 * port, probe it" and "rs485" means "a generic RS485 adapter": the ports BMS
 * cables are plugged into, so they stay ours. "sbattery" is the name
 * dbus-serialbattery users pin ports with. Everything else, "ignore"
 * included, assigns the port to someone else (vedirect, mkx, gps, cgwacs...).
 */
static bool ve_service_foreign(const char *s)
{
	static const char *const ours[] = {"default", "rs485", "sbattery", "serialbattery", NULL};
	if (empty(s))
		return false;
	for (const char *const *o = ours; *o; o++)
		if (strcmp(s, *o) == 0)
			return false;
	return true;
}

static bool pinned_by_config(const struct hotplug_props *p, const struct hotplug_pin *pins,
			     size_t npins)
{
	for (size_t i = 0; pins && i < npins; i++) {
		const struct hotplug_pin *pc = &pins[i];
		if (!empty(pc->path) && !empty(p->devname) && strcmp(pc->path, p->devname) == 0)
			return true;
		if (!empty(pc->match) &&
		    ((!empty(p->serial) && strcmp(pc->match, p->serial) == 0) ||
		     (!empty(p->path) && strcmp(pc->match, p->path) == 0)))
			return true;
	}
	return false;
}

enum hotplug_verdict hotplug_port_match(const struct hotplug_props *p,
					const struct hotplug_config *cfg,
					const struct hotplug_pin *pins, size_t npins,
					const char **ret_reason)
{
	const char *why;
	enum hotplug_verdict v;
	if (pinned_by_config(p, pins, npins)) {
		why = "listed in serial.ports";
		v = HOTPLUG_CLAIM;
	} else if (cfg && any_rule(&cfg->exclude, p)) {
		why = "matches a udev.exclude rule";
		v = HOTPLUG_IGNORE;
	} else if (!empty(p->sb_claim) && strcmp(p->sb_claim, "ignore") == 0) {
		why = "udev property SERIALBATTERY=ignore";
		v = HOTPLUG_IGNORE;
	} else if (!empty(p->sb_claim) && strcmp(p->sb_claim, "claim") == 0) {
		why = "udev property SERIALBATTERY=claim";
		v = HOTPLUG_CLAIM;
	} else if (hotplug_is_victron(p)) {
		why = "a Victron interface (VE.Direct/MK3), left to Venus OS";
		v = HOTPLUG_IGNORE;
	} else if (ve_service_foreign(p->ve_service)) {
		why = "VE_SERVICE assigns it to another service";
		v = HOTPLUG_IGNORE;
	} else if (cfg && any_rule(&cfg->include, p)) {
		why = "matches a udev.include rule";
		v = HOTPLUG_CLAIM;
	} else if ((!cfg || cfg->claim_usb) && !empty(p->id_bus) && strcmp(p->id_bus, "usb") == 0) {
		why = "a USB serial adapter";
		v = HOTPLUG_CLAIM;
	} else {
		why = cfg && !cfg->claim_usb ? "claim_usb is off and no include rule matches"
					     : "not a USB serial adapter";
		v = HOTPLUG_IGNORE;
	}
	if (ret_reason)
		*ret_reason = why;
	return v;
}

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int put(size_t len, int n)
{
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int hotplug_identity_by_path(const struct hotplug_props *p, char *buf, size_t len)
{
	if (!empty(p->path))
		return put(len, snprintf(buf, len, "path-%s", p->path));
	if (!empty(p->devname))
		return put(len, snprintf(buf, len, "%s", basename_of(p->devname)));
	return -ENOENT;
}

int hotplug_identity(const struct hotplug_props *p, char *buf, size_t len)
{
	if (!empty(p->serial) && !empty(p->serial_short)) {
		/* The interface number tells the ports of an FT4232/CP2105 apart. */
		if (!empty(p->iface_num) && strcmp(p->iface_num, "00") != 0)
			return put(len, snprintf(buf, len, "%s-if%s", p->serial, p->iface_num));
		return put(len, snprintf(buf, len, "%s", p->serial));
	}
	return hotplug_identity_by_path(p, buf, len);
}
