/* The INI driver over inih. inih splits "key = value" and trims; what it cannot give us we do in
 * the line reader we hand it: count lines (its handler gets no line number), parse section
 * headers (it makes no call for a section without keys, and "[a]" twice looks like one
 * section), strip leading blanks (so an indented key is never taken for a continuation line)
 * and strip "#"/";" comments. inih's line buffer is fixed at build time (200 bytes in Debian's
 * build), shorter than a legal NQN (223) or path: a longer line's value is kept here and inih
 * sees the key with a stand-in value. */
#include "conf/conf-internal.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int conf_err_at(struct conf_err *e, const char *file, int line, const char *fmt, ...)
{
	if (e->set)
		return -1;
	e->set = true;
	if (!e->buf || e->len == 0)
		return -1;
	int n = snprintf(e->buf, e->len, "%s:%d: ", file, line);
	if (n < 0 || (size_t)n >= e->len)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

struct ini_state {
	FILE *f;
	const char *file;
	const struct conf_ini_ops *ops;
	void *user;
	struct conf_err *err;
	char *line;
	size_t cap;
	int lineno;
	bool in_section;
	char *long_value; /* the value of the current line when inih could not hold the line */
};

#define CONF_LINE_MAX 16384

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* A comment starts a line, or follows a blank: "port = 4420  # NVMe/TCP". */
static void strip_comment(char *p)
{
	for (char *q = p; *q; q++)
		if ((*q == '#' || *q == ';') && (q == p || is_blank(q[-1]))) {
			*q = '\0';
			return;
		}
}

static int begin_section(struct ini_state *st, char *p)
{
	char *close = strchr(p, ']');
	if (!close)
		return conf_err_at(st->err, st->file, st->lineno, "section header without ']'");
	if (*conf_trim(close + 1))
		return conf_err_at(st->err, st->file, st->lineno, "text after ']' in section header");
	*close = '\0';
	char *kind = conf_trim(p + 1);
	if (!*kind)
		return conf_err_at(st->err, st->file, st->lineno, "empty section header");
	char *name = kind + strcspn(kind, " \t");
	if (*name)
		*name++ = '\0';
	name = conf_trim(name);
	if (st->in_section && st->ops->section_end(st->user) < 0)
		return -1;
	st->in_section = true;
	return st->ops->section_begin(st->user, kind, name, st->lineno);
}

/* fgets-like: one physical line per call, so inih's line count stays ours. */
static char *read_line(char *str, int num, void *stream)
{
	struct ini_state *st = stream;
	if (st->err->set)
		return NULL;
	ssize_t n = getline(&st->line, &st->cap, st->f);
	if (n < 0)
		return NULL;
	st->lineno++;
	while (n > 0 && (st->line[n - 1] == '\n' || st->line[n - 1] == '\r'))
		st->line[--n] = '\0';
	char *p = st->line;
	if (st->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (is_blank(*p))
		p++;
	strip_comment(p);
	p = conf_trim(p);
	if (strlen(p) > CONF_LINE_MAX) {
		conf_err_at(st->err, st->file, st->lineno, "line too long (at most %d characters)", CONF_LINE_MAX);
		return NULL;
	}
	/* inih only learns that a section started; its name is ours. */
	if (*p == '[') {
		if (begin_section(st, p) < 0)
			return NULL;
		snprintf(str, (size_t)num, "[s]\n");
		return str;
	}
	/* inih needs room for the line, "\n" and its terminator. */
	if ((int)strlen(p) + 3 > num) {
		char *eq = strchr(p, '=');
		if (!eq) {
			conf_err_at(st->err, st->file, st->lineno, "syntax error: expected '[section]' or 'key = value'");
			return NULL;
		}
		*eq = '\0';
		char *key = conf_trim(p);
		if ((int)strlen(key) + 8 > num) {
			conf_err_at(st->err, st->file, st->lineno, "key name too long");
			return NULL;
		}
		free(st->long_value);
		st->long_value = strdup(conf_trim(eq + 1));
		if (!st->long_value) {
			conf_err_at(st->err, st->file, st->lineno, "out of memory");
			return NULL;
		}
		snprintf(str, (size_t)num, "%s = -\n", key);
		return str;
	}
	snprintf(str, (size_t)num, "%s\n", p);
	return str;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	(void)section; /* we track sections ourselves */
	struct ini_state *st = user;
	if (st->err->set)
		return 0;
	if (!st->in_section) {
		conf_err_at(st->err, st->file, st->lineno, "'%s' outside of any [section]", key);
		return 0;
	}
	if (!*key) {
		conf_err_at(st->err, st->file, st->lineno, "missing key name before '='");
		return 0;
	}
	if (st->long_value)
		value = st->long_value;
	int r = st->ops->key(st->user, key, value, st->lineno);
	free(st->long_value);
	st->long_value = NULL;
	return r == 0;
}

int conf_ini_parse(const char *file, const struct conf_ini_ops *ops, void *user, struct conf_err *err,
		   int *nlines)
{
	struct ini_state st = { .file = file, .ops = ops, .user = user, .err = err };
	st.f = fopen(file, "re");
	if (!st.f)
		return conf_err_at(err, file, 0, "cannot open: %s", strerror(errno));
	int rc = ini_parse_stream(read_line, &st, on_key, &st);
	if (!err->set && ferror(st.f))
		conf_err_at(err, file, st.lineno, "read error");
	fclose(st.f);
	free(st.line);
	free(st.long_value);
	if (nlines)
		*nlines = st.lineno;
	if (err->set)
		return -1;
	if (rc > 0)
		return conf_err_at(err, file, rc, "syntax error: expected '[section]' or 'key = value'");
	if (rc < 0)
		return conf_err_at(err, file, 0, "out of memory");
	if (st.in_section && ops->section_end(user) < 0)
		return -1;
	return 0;
}

int conf_seen_line(const struct conf_seen *s, const char *key)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->key[i], key) == 0)
			return s->line[i];
	return 0;
}

int conf_key_accept(const struct conf_key *tab, struct conf_seen *seen, const char *section,
		    const char *key, const char *file, int line, struct conf_err *err)
{
	const struct conf_key *k = tab;
	while (k->name && strcmp(k->name, key) != 0)
		k++;
	if (!k->name)
		return conf_err_at(err, file, line, "unknown key '%s' in [%s]", key, section);
	int first = conf_seen_line(seen, k->name);
	if (first && !k->repeatable)
		return conf_err_at(err, file, line, "'%s' given twice in this section (first at line %d)",
				   key, first);
	if (!first && seen->n < CONF_MAX_KEYS) {
		seen->key[seen->n] = k->name;
		seen->line[seen->n++] = line;
	}
	return 0;
}
