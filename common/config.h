/* SPDX-License-Identifier: MIT */
/*
 * Table-driven configuration over libconfig.
 *
 * Every module owns a section: a C struct plus a const table of keys
 * {path, type, offset, min, max, default, doc}. config/ lists the sections
 * of the configuration file in one schema (config/schema.c). The same tables
 * drive loading, range checks, defaults, `--dump-config` and docs/CONFIG.md.
 *
 * Defaults are written as libconfig text ("3.45", "true", "\"jk\"",
 * "[0.0, 0.25, 1.0]") and parsed by the same code as the file, so a default
 * can never bypass a range check.
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_STR 128     /* capacity of a string value incl. NUL */
#define CFG_LIST_MAX 16 /* capacity of a number list (tables) */
#define CFG_SLIST_MAX 8 /* capacity of a string list */

/* Fixed-capacity lists stored in config structs. */
struct cfg_dlist {
	unsigned n;
	double v[CFG_LIST_MAX];
};
struct cfg_ilist {
	unsigned n;
	int64_t v[CFG_LIST_MAX];
};
struct cfg_slist {
	unsigned n;
	char v[CFG_SLIST_MAX][CFG_STR];
};

enum cfg_type {
	CFG_BOOL,        /* bool */
	CFG_INT,         /* int64_t, range [min, max] */
	CFG_DOUBLE,      /* double, range [min, max]; an integer in the file is accepted */
	CFG_STRING,      /* char[CFG_STR] */
	CFG_ENUM,        /* int, the index of the string in key->choices */
	CFG_DOUBLE_LIST, /* struct cfg_dlist, each element in [min, max] */
	CFG_INT_LIST,    /* struct cfg_ilist, each element in [min, max] */
	CFG_STRING_LIST, /* struct cfg_slist */
	CFG_GROUP_LIST,  /* array of elem_size structs, each read with sub; count at count_offset */
};

struct cfg_key {
	const char *path; /* dotted, relative to the section: "max_cell_voltage" */
	enum cfg_type type;
	size_t offset; /* offsetof() in the section struct */
	double min, max;
	const char *def; /* default as libconfig text; NULL = empty/zero (lists, strings) */
	const char *doc; /* one or two sentences, with the unit */
	const char *const *choices; /* CFG_ENUM: NULL-terminated */
	/* CFG_GROUP_LIST */
	const struct cfg_key *sub; /* keys of one element, terminated by {NULL} */
	size_t elem_size;
	size_t max_count;
	size_t count_offset; /* unsigned count, offsetof() in the section struct */
};

/* What a section's validate callback found wrong. */
struct cfg_invalid {
	char key[128]; /* relative to the section, as in the file: "lost_after", "ports[1].bms" */
	char msg[256]; /* the reason, without the key */
};

/* Fill ret with key and the formatted reason; returns -EINVAL (for `return cfg_invalid(...)`). */
int cfg_invalid(struct cfg_invalid *ret, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct cfg_section {
	const char *name; /* top-level group name in the file, e.g. "charge" */
	const char *doc;
	const struct cfg_key *keys; /* terminated by {NULL} */
	size_t offset;              /* offsetof() the section struct in the root struct */
	/* Optional cross-key validation after loading; on error fills ret (see
	 * cfg_invalid()) and returns negative. The loader turns ret->key into
	 * "section.key" and the line where the file sets it. */
	int (*validate)(const void *section, struct cfg_invalid *ret);
};

struct cfg_schema {
	const struct cfg_section *sections; /* terminated by {NULL} */
	/* Optional validation across sections, after theirs; ret->key is the
	 * full path ("charge.soc[1].soc_source"), whose line the loader finds. */
	int (*validate)(const void *root, struct cfg_invalid *ret);
};

/* Where an error was found. */
struct cfg_error {
	char file[256];
	int line; /* 0 when unknown */
	char key[128];
	char msg[256];
};

/* Fill root with every default. Returns 0, or negative (a bad default: a bug) with err set. */
int cfg_defaults(const struct cfg_schema *schema, void *root, struct cfg_error *err);

/*
 * Defaults, then the file. On error returns -EINVAL (bad value, range, type,
 * unknown key, failed cross-key check, parse error) or -ENOENT/-errno (cannot
 * read) and fills err with the first error; root is then unspecified: load
 * into a scratch struct and copy on success.
 *
 * Every error names the file and the line of the key it is about. A key the
 * schema does not know is an error ("unknown, did you mean 'x'?" when a known
 * key of the same section is a near miss): a misspelt key must never leave
 * its default silently in force. Integers are read as 64 bits whether or not
 * they carry libconfig's L suffix, so 4294967297 is out of range, never 1.
 */
int cfg_load_file(const struct cfg_schema *schema, void *root, const char *path,
		  struct cfg_error *err);
/* Same, from text (tests). name is used in messages. */
int cfg_load_string(const struct cfg_schema *schema, void *root, const char *text, const char *name,
		    struct cfg_error *err);

/* "file:line: key: msg" into buf. */
void cfg_error_format(const struct cfg_error *err, char *buf, size_t len);

/* Print root as a libconfig file (every key, with docs as comments when with_docs). */
void cfg_dump(const struct cfg_schema *schema, const void *root, FILE *out, bool with_docs);
/* Markdown reference of every key (docs/CONFIG.md body). */
void cfg_markdown(const struct cfg_schema *schema, FILE *out);

/*
 * True when every key of keys[] has the same value in a and b (two structs of
 * the section the table describes). Compares values, never padding: a struct
 * copy may leave padding bytes different, so memcmp() would see changes that
 * are not there.
 */
bool cfg_keys_equal(const struct cfg_key *keys, const void *a, const void *b);

/* Number of keys in the schema (group-list elements count once per sub-key). */
size_t cfg_key_count(const struct cfg_schema *schema);

#endif
