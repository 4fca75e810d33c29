/* Section-level editing of INI text and atomic file replacement (conf-edit.h). */
#include "conf/conf-edit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A growing output text. */
struct out {
	char *s;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 4096;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *p = realloc(o->s, cap);
		if (!p) {
			o->failed = true;
			return;
		}
		o->s = p;
		o->cap = cap;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void put_kv(struct out *o, const struct hnvmf_conf_kv *kv)
{
	put(o, kv->key, strlen(kv->key));
	put(o, " = ", 3);
	put(o, kv->value, strlen(kv->value));
	put(o, "\n", 1);
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* The section name of a header line "[name]" (spaces allowed inside the brackets' edges), or
 * NULL when the line is not a header. */
static bool is_header(const char *line, const char *end, const char **name, size_t *len)
{
	const char *p = skip_ws(line, end);
	if (p >= end || *p != '[')
		return false;
	const char *close = memchr(p, ']', (size_t)(end - p));
	if (!close)
		return false;
	const char *a = skip_ws(p + 1, close);
	const char *b = close;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	*name = a;
	*len = (size_t)(b - a);
	return true;
}

/* The index in kv of the key the line sets, or n. */
static size_t line_key(const char *line, const char *end, const struct hnvmf_conf_kv *kv, size_t n)
{
	const char *p = skip_ws(line, end);
	const char *eq = memchr(p, '=', (size_t)(end - p));
	if (!eq)
		return n;
	const char *k = eq;
	while (k > p && (k[-1] == ' ' || k[-1] == '\t'))
		k--;
	for (size_t i = 0; i < n; i++)
		if (strlen(kv[i].key) == (size_t)(k - p) && memcmp(kv[i].key, p, (size_t)(k - p)) == 0)
			return i;
	return n;
}

static bool valid(const struct hnvmf_conf_kv *kv)
{
	if (!kv->key[0] || strpbrk(kv->key, "=[]#;\n\r \t"))
		return false;
	if (!kv->value)
		return true;
	return !strpbrk(kv->value, "\n\r") && kv->value[0] != '#' && kv->value[0] != ';';
}

int hnvmf_conf_edit_section(const char *text, const char *section, const struct hnvmf_conf_kv *kv, size_t n,
			    char **out)
{
	for (size_t i = 0; i < n; i++)
		if (!valid(&kv[i]))
			return -EINVAL;
	bool *done = calloc(n ? n : 1, sizeof(bool));
	if (!done)
		return -ENOMEM;
	struct out o = {0};
	put(&o, "", 0);
	enum { BEFORE, IN, AFTER } state = BEFORE;
	const char *p = text;
	size_t last_len = 0; /* o.len after the section's last non-blank line */
	while (*p) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		const char *next = nl ? nl + 1 : end;
		const char *name;
		size_t nlen;
		if (is_header(p, end, &name, &nlen)) {
			if (state == IN) { /* the section ends: what was not replaced goes at its end */
				char *rest = strdup(o.s + last_len);
				o.len = last_len;
				for (size_t i = 0; i < n; i++)
					if (!done[i] && kv[i].value)
						put_kv(&o, &kv[i]);
				put(&o, rest ? rest : "", rest ? strlen(rest) : 0);
				free(rest);
				o.failed |= !rest;
				for (size_t i = 0; i < n; i++)
					done[i] = true;
				state = AFTER;
			} else if (state == BEFORE && nlen == strlen(section) && memcmp(name, section, nlen) == 0) {
				state = IN;
			}
		} else if (state == IN) {
			size_t k = line_key(p, end, kv, n);
			if (k < n) {
				if (!done[k] && kv[k].value)
					put_kv(&o, &kv[k]);
				done[k] = true;
				last_len = o.len;
				p = next;
				continue;
			}
		}
		put(&o, p, (size_t)(next - p));
		if (!nl)
			put(&o, "\n", 1);
		if (state == IN && *skip_ws(p, end) != '\0' && skip_ws(p, end) != end)
			last_len = o.len;
		p = next;
	}
	if (state == IN) {
		char *rest = strdup(o.s + last_len);
		o.len = last_len;
		for (size_t i = 0; i < n; i++)
			if (!done[i] && kv[i].value)
				put_kv(&o, &kv[i]);
		put(&o, rest ? rest : "", rest ? strlen(rest) : 0);
		o.failed |= !rest;
		free(rest);
	} else if (state == BEFORE) {
		if (o.len)
			put(&o, "\n", 1);
		put(&o, "[", 1);
		put(&o, section, strlen(section));
		put(&o, "]\n", 2);
		for (size_t i = 0; i < n; i++)
			if (kv[i].value)
				put_kv(&o, &kv[i]);
	}
	free(done);
	if (o.failed) {
		free(o.s);
		return -ENOMEM;
	}
	*out = o.s;
	return 0;
}

/* The trimmed inner text of a header line equals header. */
static bool header_is(const char *line, const char *end, const char *header)
{
	const char *name;
	size_t len;
	return is_header(line, end, &name, &len) && len == strlen(header) && memcmp(name, header, len) == 0;
}

/* Puts a removed or rewritten section's trailing blank lines and comments (run..end): the comments
 * belong to the next section; a blank line only where the output does not end with one. */
static void put_run(struct out *o, const char *run, const char *end)
{
	bool blank_before = o->len == 0 || (o->len >= 2 && o->s[o->len - 1] == '\n' && o->s[o->len - 2] == '\n');
	while (blank_before && run < end) {
		const char *nl = memchr(run, '\n', (size_t)(end - run));
		const char *le = nl ? nl : end;
		if (skip_ws(run, le) != le && *skip_ws(run, le) != '\r')
			break;
		run = nl ? nl + 1 : end;
	}
	put(o, run, (size_t)(end - run));
}

/* A blank line or a comment. */
static bool is_filler(const char *line, const char *end)
{
	const char *q = skip_ws(line, end);
	return q == end || *q == '#' || *q == ';' || *q == '\r';
}

int hnvmf_conf_replace_section(const char *text, const char *header, const char *body, char **out)
{
	struct out o = {0};
	put(&o, "", 0);
	bool in = false, found = false;
	const char *run = NULL; /* in the section: where its trailing blank lines and comments start */
	const char *p = text;
	for (; *p;) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		const char *next = nl ? nl + 1 : end;
		const char *name;
		size_t nlen;
		bool hdr = is_header(p, end, &name, &nlen);
		if (hdr && in) {
			/* the blank lines and comments before the next header belong to what follows */
			if (run)
				put_run(&o, run, p);
			in = false;
		}
		if (hdr && !found && header_is(p, end, header)) {
			found = in = true;
			run = NULL;
			if (body) {
				put(&o, p, (size_t)(next - p));
				if (!nl)
					put(&o, "\n", 1);
				put(&o, body, strlen(body));
			}
			p = next;
			continue;
		}
		if (in) {
			if (!is_filler(p, end))
				run = NULL;
			else if (!run)
				run = p;
		} else {
			put(&o, p, (size_t)(next - p));
			if (!nl)
				put(&o, "\n", 1);
		}
		p = next;
	}
	if (in && run && body)
		put_run(&o, run, p);
	if (!found && body) {
		if (o.len && !(o.len >= 2 && o.s[o.len - 1] == '\n' && o.s[o.len - 2] == '\n'))
			put(&o, "\n", 1);
		put(&o, "[", 1);
		put(&o, header, strlen(header));
		put(&o, "]\n", 2);
		put(&o, body, strlen(body));
	}
	if (o.failed) {
		free(o.s);
		return -ENOMEM;
	}
	*out = o.s;
	return 0;
}

int hnvmf_conf_write_atomic(const char *path, const char *text, mode_t mode)
{
	char dir[4096], tmp[8192];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	int n = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, base);
	if (n < 0 || (size_t)n >= sizeof(tmp) || !*base)
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text), off = 0;
	int rc = 0;
	while (off < len && rc == 0) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = w < 0 ? -errno : -EIO;
		else
			off += (size_t)w;
	}
	/* the mode asked for, whatever the umask took away */
	if (rc == 0 && (fchmod(fd, mode) || fsync(fd)))
		rc = -errno;
	if (close(fd) && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	rc = fsync(dfd) ? -errno : 0;
	close(dfd);
	return rc;
}

char *hnvmf_conf_read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	struct out o = {0};
	put(&o, "", 0);
	char buf[4096];
	size_t r;
	while ((r = fread(buf, 1, sizeof(buf), f)) > 0)
		put(&o, buf, r);
	int err = ferror(f) ? EIO : 0;
	fclose(f);
	if (o.failed || err) {
		free(o.s);
		errno = err ? err : ENOMEM;
		return NULL;
	}
	return o.s;
}
