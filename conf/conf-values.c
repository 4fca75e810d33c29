/* Value parsers for the configuration: each either accepts the whole value or says why not. */
#include "conf/conf-internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A function rather than a snprintf macro: messages quote values and may be cut short, which is
 * fine for a message. */
static int __attribute__((format(printf, 2, 3))) why_set(char *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, CONF_WHY_MAX, fmt, ap);
	va_end(ap);
	return -1;
}
#define WHY(...) why_set(why, __VA_ARGS__)

char *conf_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* Leading digits only: strtoull alone would take "-1", " 1" and "0x10". */
static int parse_digits(const char *v, uint64_t *out, const char **end)
{
	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	char *e;
	unsigned long long x = strtoull(v, &e, 10);
	if (errno == ERANGE)
		return -1;
	*out = x;
	*end = e;
	return 0;
}

int conf_parse_uint(const char *v, uint64_t min, uint64_t max, uint64_t *out, char *why)
{
	uint64_t x;
	const char *end;
	if (parse_digits(v, &x, &end) < 0 || *end)
		return WHY("'%s' is not a number", v);
	if (x < min || x > max)
		return WHY("%" PRIu64 " is out of range (%" PRIu64 "..%" PRIu64 ")", x, min, max);
	*out = x;
	return 0;
}

int conf_parse_int(const char *v, int64_t min, int64_t max, int64_t *out, char *why)
{
	bool neg = *v == '-';
	uint64_t x;
	const char *end;
	if (parse_digits(v + neg, &x, &end) < 0 || *end || x > (uint64_t)INT64_MAX)
		return WHY("'%s' is not a number", v);
	int64_t s = neg ? -(int64_t)x : (int64_t)x;
	if (s < min || s > max)
		return WHY("%" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")", s, min, max);
	*out = s;
	return 0;
}

int conf_parse_bool(const char *v, bool *out, char *why)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return WHY("'%s' is not yes or no", v);
}

int conf_parse_size(const char *v, uint64_t *out, char *why)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 },    { "K", 10 },   { "M", 20 },   { "G", 30 },   { "T", 40 },
		{ "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 },
	};
	uint64_t x;
	const char *end;
	if (parse_digits(v, &x, &end) < 0)
		return WHY("'%s' is not a size (e.g. 4096, 512M, 1G)", v);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (units[i].shift && x > (UINT64_MAX >> units[i].shift))
			return WHY("'%s' is too large", v);
		*out = x << units[i].shift;
		return 0;
	}
	return WHY("'%s' has an unknown unit (use K, M, G or T)", v);
}

int conf_parse_enum(const char *v, const char *const *names, int *out, char *why)
{
	char list[CONF_WHY_MAX / 2] = "";
	for (int i = 0; names[i]; i++) {
		if (strcmp(v, names[i]) == 0)
			return *out = i, 0;
		size_t n = strlen(list);
		snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", names[i]);
	}
	return WHY("'%s' is not one of: %s", v, list);
}

int conf_parse_addr(const char *v, char *why)
{
	unsigned char buf[16];
	if (inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1)
		return 0;
	return WHY("'%s' is not a numeric IPv4 or IPv6 address", v);
}

static bool is_hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

int conf_parse_uuid(const char *v, uint8_t out[16], char *why)
{
	/* 8-4-4-4-12 hex digits */
	static const size_t groups[] = { 8, 4, 4, 4, 12 };
	const char *p = v;
	char hex[33];
	size_t h = 0;
	for (size_t g = 0; g < 5; g++) {
		if (!is_hex_run(p, groups[g]))
			return WHY("'%s' is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", v);
		memcpy(hex + h, p, groups[g]);
		h += groups[g];
		p += groups[g];
		if (g < 4 && *p++ != '-')
			return WHY("'%s' is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", v);
	}
	if (*p)
		return WHY("'%s' is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", v);
	hex[32] = '\0';
	return conf_parse_hex(hex, out, 16, why);
}

int conf_parse_hex(const char *v, uint8_t *out, size_t n, char *why)
{
	if (strlen(v) != 2 * n || !is_hex_run(v, 2 * n))
		return WHY("'%s' is not %zu hex digits", v, 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned b;
		sscanf(v + 2 * i, "%2x", &b);
		out[i] = (uint8_t)b;
	}
	return 0;
}

/* NVMe Base spec 4.5 (NQN): "nqn.yyyy-mm.reverse-domain[:anything]" or the UUID form
 * "nqn.2014-08.org.nvmexpress:uuid:<uuid>"; at most 223 bytes of UTF-8. We insist on printable
 * ASCII without blanks, which every real NQN is and which keeps messages and logs sane. */
int conf_check_nqn(const char *v, char *why)
{
	static const char uuid_prefix[] = "nqn.2014-08.org.nvmexpress:uuid:";
	size_t n = strlen(v);
	if (n >= HNVMF_NQN_MAX)
		return WHY("NQN is %zu bytes long (at most %d)", n, HNVMF_NQN_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)v[i]))
			return WHY("NQN '%s' contains a blank or control character", v);
	if (strncmp(v, uuid_prefix, sizeof(uuid_prefix) - 1) == 0) {
		uint8_t u[16];
		char why2[CONF_WHY_MAX];
		if (conf_parse_uuid(v + sizeof(uuid_prefix) - 1, u, why2) < 0)
			return WHY("NQN '%s': the part after ':uuid:' is not a UUID", v);
		return 0;
	}
	/* "nqn." 4 digits "-" 2 digits "." then the reverse domain name */
	if (strncmp(v, "nqn.", 4) != 0 || n < 13 || !isdigit((unsigned char)v[4]) ||
	    !isdigit((unsigned char)v[5]) || !isdigit((unsigned char)v[6]) ||
	    !isdigit((unsigned char)v[7]) || v[8] != '-' || !isdigit((unsigned char)v[9]) ||
	    !isdigit((unsigned char)v[10]) || v[11] != '.' || v[12] == ':' || v[12] == '.')
		return WHY("'%s' is not an NQN (nqn.yyyy-mm.reverse.domain:name)", v);
	int month = (v[9] - '0') * 10 + (v[10] - '0');
	if (month < 1 || month > 12)
		return WHY("NQN '%s': month %02d in the date is not 01..12", v, month);
	return 0;
}

int conf_check_name(const char *v, char *why)
{
	size_t n = strlen(v);
	if (n == 0)
		return WHY("empty name");
	if (n >= HNVMF_NAME_MAX)
		return WHY("name '%s' is longer than %d characters", v, HNVMF_NAME_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("_.-", v[i]))
			return WHY("name '%s' may only hold letters, digits, '_', '.' and '-'", v);
	return 0;
}

int conf_copy(char *dst, size_t dstlen, const char *v, char *why)
{
	size_t n = strlen(v);
	if (n >= dstlen)
		return WHY("value is %zu characters long (at most %zu)", n, dstlen - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

int conf_split_list(char *s, char **items, int max)
{
	s = conf_trim(s);
	if (!*s)
		return 0;
	int n = 0;
	for (;;) {
		char *comma = strchr(s, ',');
		if (comma)
			*comma = '\0';
		char *item = conf_trim(s);
		if (!*item || n == max)
			return -1;
		items[n++] = item;
		if (!comma)
			return n;
		s = comma + 1;
	}
}

void conf_dirname(const char *file, char *out, size_t outlen)
{
	const char *slash = strrchr(file, '/');
	if (!slash)
		snprintf(out, outlen, ".");
	else if (slash == file)
		snprintf(out, outlen, "/");
	else
		snprintf(out, outlen, "%.*s", (int)(slash - file), file);
}

int conf_resolve_path(const char *dir, const char *path, char *out, size_t outlen, char *why)
{
	int n;
	if (!*path)
		return WHY("empty path");
	if (path[0] == '/' || !*dir)
		n = snprintf(out, outlen, "%s", path);
	else
		n = snprintf(out, outlen, "%s/%s", dir, path);
	if (n < 0 || (size_t)n >= outlen)
		return WHY("path '%s' is too long", path);
	return 0;
}

void *conf_grow(void *arr_ptr, size_t *n, size_t sz)
{
	void **arr = arr_ptr;
	char *p = realloc(*arr, (*n + 1) * sz);
	if (!p)
		return NULL;
	*arr = p;
	memset(p + *n * sz, 0, sz);
	return p + (*n)++ * sz;
}
