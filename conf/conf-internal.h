/* Internal to conf/: the error sink, the line-counting INI driver, value parsers and the
 * model's growable arrays. Nothing outside conf/ includes this. */
#ifndef HNVMF_CONF_INTERNAL_H
#define HNVMF_CONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

/* ---- errors: the first one wins, in the form "file:line: what is wrong" ---- */
struct conf_err {
	char *buf;
	size_t len;
	bool set;
};
/* Records "file:line: msg" unless an error is already recorded; always returns -1. */
int conf_err_at(struct conf_err *e, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- the INI driver: inih does the key = value splitting; we count lines and parse the
 * section headers ourselves, because inih's handler gets neither a line number nor a call for
 * a section without keys. ---- */
struct conf_ini_ops {
	/* "[kind name]" at line; name is "" when absent. */
	int (*section_begin)(void *user, const char *kind, const char *name, int line);
	/* The current section is complete (next header or end of file): check required keys. */
	int (*section_end)(void *user);
	/* A key in the current section (never called outside a section). */
	int (*key)(void *user, const char *key, const char *value, int line);
};
/* Parses file; returns 0, or -1 with err set. *nlines receives the file's line count. */
int conf_ini_parse(const char *file, const struct conf_ini_ops *ops, void *user, struct conf_err *err,
		   int *nlines);

/* ---- keys seen in the current section: duplicate detection and line numbers for checks done
 * at the section's end ---- */
#define CONF_MAX_KEYS 32
struct conf_seen {
	const char *key[CONF_MAX_KEYS]; /* static strings from a key table */
	int line[CONF_MAX_KEYS];
	int n;
};
int conf_seen_line(const struct conf_seen *s, const char *key); /* 0 when not given */

/* A table of the keys a section accepts. */
struct conf_key {
	const char *name;
	bool repeatable;
};
/* Finds key in the table (NULL-name terminated); returns its entry or NULL. Records it in seen
 * and refuses a second occurrence of a non-repeatable key. Returns -1 with err set on error. */
int conf_key_accept(const struct conf_key *tab, struct conf_seen *seen, const char *section,
		    const char *key, const char *file, int line, struct conf_err *err);

/* "tenant KEY" a line for every key a tenant file accepts (hnvmf_conf_list_keys). */
void conf_list_tenant_keys(FILE *f);

/* ---- value parsers: return 0, or -1 with a short reason in why (no file:line) ---- */
#define CONF_WHY_MAX 512
int conf_parse_uint(const char *v, uint64_t min, uint64_t max, uint64_t *out, char *why);
int conf_parse_int(const char *v, int64_t min, int64_t max, int64_t *out, char *why);
int conf_parse_bool(const char *v, bool *out, char *why);
/* Byte size with an optional K/M/G/T (or KiB/MiB/GiB/TiB) suffix, powers of 1024. */
int conf_parse_size(const char *v, uint64_t *out, char *why);
/* One of names[] (NULL terminated); *out is its index. */
int conf_parse_enum(const char *v, const char *const *names, int *out, char *why);
int conf_parse_addr(const char *v, char *why); /* numeric IPv4 or IPv6 */
int conf_check_nqn(const char *v, char *why);
int conf_check_name(const char *v, char *why); /* listener/backend names: [A-Za-z0-9_.-]{1,63} */
int conf_parse_hex(const char *v, uint8_t *out, size_t n, char *why);
int conf_parse_uuid(const char *v, uint8_t out[16], char *why);
int conf_copy(char *dst, size_t dstlen, const char *v, char *why); /* refuses truncation */

/* Splits a comma-separated list in place into trimmed items; returns how many (0 for an empty
 * list) or -1 when an item is empty ("a,,b") or there are more than max. */
int conf_split_list(char *s, char **items, int max);
char *conf_trim(char *s);

/* Resolves path relative to dir (the directory of the file that names it) into out. */
int conf_resolve_path(const char *dir, const char *path, char *out, size_t outlen, char *why);
/* The directory part of a file path ("." when it has none). */
void conf_dirname(const char *file, char *out, size_t outlen);

/* ---- growable arrays ---- */
/* Makes room for one more element of size sz in *arr holding *n; returns the new element,
 * zeroed, and increments *n; NULL on out of memory. */
void *conf_grow(void *arr_ptr, size_t *n, size_t sz);

/* ---- identifiers ---- */
/* Fills nguid and uuid of ns from the subsystem NQN and nsid (unless given: all-zero = derive). */
void conf_derive_ns_ids(const char *subnqn, struct hnvmf_conf_ns *ns);
/* "HNVMF" + 15 hex digits derived from the NQN: stable across restarts and hosts. */
void conf_derive_serial(const char *subnqn, char serial[21]);
/* The [global] and [pqm] defaults (shared by the embedded default and a loaded file). */
void conf_set_global_defaults(struct hnvmf_conf *c);

/* Mode names for messages and parsing, indexed by enum hnvmf_conf_mode. */
extern const char *const conf_mode_names[];

#endif
