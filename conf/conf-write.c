/* The configuration writer (conf-edit.h): one function renders a section of the model as the
 * loader reads it back (conf-main.c), and hnvmf_conf_write_back puts the sections that differ
 * from the file's into it. */
#include "conf/conf-edit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/conf.h"

enum section_kind { SECT_LISTENER, SECT_BACKEND, SECT_SUBSYSTEM, SECT_NKINDS };

/* A growing text; NULL after an allocation failed. */
struct text {
	char *s;
	size_t len, cap;
	bool failed;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
	if (t->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || t->len + (size_t)n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 512;
		while (n >= 0 && cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *p = n < 0 ? NULL : realloc(t->s, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->s = p;
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static size_t section_count(const struct hnvmf_conf *c, enum section_kind k)
{
	return k == SECT_LISTENER ? c->nlisteners : k == SECT_BACKEND ? c->nbackends : c->nsubsystems;
}

static void hex(struct text *t, const uint8_t *b, bool uuid)
{
	for (int i = 0; i < 16; i++)
		add(t, "%s%02x", uuid && (i == 4 || i == 6 || i == 8 || i == 10) ? "-" : "", b[i]);
}

/* Section i of kind k: its header's inner text into header, its body (malloc'ed) returned, or
 * NULL when out of memory. Every value is written out, defaults included, so that the loader
 * reads back the same model. */
static char *render(const struct hnvmf_conf *c, enum section_kind k, size_t i, char *header, size_t hlen)
{
	struct text t = {0};
	add(&t, "%s", "");
	if (k == SECT_LISTENER) {
		const struct hnvmf_conf_listener *l = &c->listeners[i];
		snprintf(header, hlen, "listener %s", l->name);
		add(&t, "transport = %s\naddress = %s\nport = %u\n", l->trtype == HNVMF_TRTYPE_TCP ? "tcp" : "rdma",
		    l->addr, l->port);
		add(&t, "tls = %s\ndiscovery = %s\n", l->tls ? "yes" : "no", l->discovery ? "yes" : "no");
	} else if (k == SECT_BACKEND) {
		const struct hnvmf_conf_backend *b = &c->backends[i];
		static const char *const types[] = {"ram", "null", "file", "rbd"};
		snprintf(header, hlen, "backend %s", b->name);
		add(&t, "type = %s\n", types[b->type]);
		if (b->type == HNVMF_CONF_BACKEND_FILE)
			add(&t, "path = %s\ndirect = %s\n", b->path, b->direct ? "yes" : "no");
		if (b->type == HNVMF_CONF_BACKEND_RBD) {
			add(&t, "ceph_conf = %s\npool = %s\nimage = %s\n", b->ceph_conf, b->pool, b->image);
			if (b->client[0])
				add(&t, "client = %s\n", b->client);
			if (b->rados_namespace[0])
				add(&t, "rados_namespace = %s\n", b->rados_namespace);
			if (b->rbd_timeout_s)
				add(&t, "rbd_timeout_s = %u\n", b->rbd_timeout_s);
		}
		add(&t, "size = %llu\nblock_size = %u\nreadonly = %s\n", (unsigned long long)b->size, b->block_size,
		    b->readonly ? "yes" : "no");
	} else {
		const struct hnvmf_conf_subsys *s = &c->subsystems[i];
		snprintf(header, hlen, "subsystem %s", s->nqn);
		if (s->serial[0]) /* else the loader derives it */
			add(&t, "serial = %s\n", s->serial);
		if (s->model[0])
			add(&t, "model = %s\n", s->model);
		add(&t, "allow_any_host = %s\n", s->allow_any_host ? "yes" : "no");
		for (size_t h = 0; h < s->nhosts; h++)
			add(&t, "host = %s\n", s->hosts[h]);
		for (size_t n = 0; n < s->nns; n++) {
			add(&t, "namespace = %u:%s, nguid=", s->ns[n].nsid, s->ns[n].backend);
			hex(&t, s->ns[n].nguid, false);
			add(&t, ", uuid=");
			hex(&t, s->ns[n].uuid, true);
			add(&t, ", ana_group=%u\n", s->ns[n].anagrpid);
		}
		for (unsigned g = 1; g <= HNVMF_CONF_MAX_ANA_GROUPS; g++)
			if (s->ana_state[g])
				add(&t, "ana_state = %u:%s\n", g, hnvmf_conf_ana_state_name(s->ana_state[g]));
		for (size_t l = 0; l < s->nlisteners; l++)
			add(&t, "%s%s%s", l ? ", " : "listeners = ", s->listeners[l], l + 1 == s->nlisteners ? "\n" : "");
	}
	add(&t, "\n"); /* a blank line before whatever follows */
	if (t.failed) {
		free(t.s);
		return NULL;
	}
	return t.s;
}

/* The index of the section of kind k named header in c, or the count. */
static size_t find(const struct hnvmf_conf *c, enum section_kind k, const char *header)
{
	char h[HNVMF_NQN_MAX + 32];
	size_t n = section_count(c, k);
	for (size_t i = 0; i < n; i++) {
		char *b = render(c, k, i, h, sizeof(h));
		free(b);
		if (strcmp(h, header) == 0)
			return i;
	}
	return n;
}

/* text (the file as it is, whose model is old) with c's sections: changed ones replaced, new ones
 * appended, gone ones deleted. 0 or -ENOMEM; *out malloc'ed. */
static int merge(const struct hnvmf_conf *c, const struct hnvmf_conf *old, const char *text0, char **out)
{
	char *text = strdup(text0);
	int rc = text ? 0 : -ENOMEM;
	char h[HNVMF_NQN_MAX + 32], oh[HNVMF_NQN_MAX + 32];
	for (int k = 0; k < SECT_NKINDS && rc == 0; k++) {
		/* changed and new sections */
		for (size_t i = 0; i < section_count(c, (enum section_kind)k) && rc == 0; i++) {
			char *body = render(c, (enum section_kind)k, i, h, sizeof(h)), *was = NULL, *next = NULL;
			size_t j = find(old, (enum section_kind)k, h);
			if (body && j < section_count(old, (enum section_kind)k))
				was = render(old, (enum section_kind)k, j, oh, sizeof(oh));
			if (!body || (j < section_count(old, (enum section_kind)k) && !was))
				rc = -ENOMEM;
			else if (!was || strcmp(was, body) != 0)
				rc = hnvmf_conf_replace_section(text, h, body, &next);
			if (next) {
				free(text);
				text = next;
			}
			free(body);
			free(was);
		}
		/* sections the running model no longer has */
		for (size_t j = 0; j < section_count(old, (enum section_kind)k) && rc == 0; j++) {
			char *was = render(old, (enum section_kind)k, j, oh, sizeof(oh)), *next = NULL;
			if (!was)
				rc = -ENOMEM;
			else if (find(c, (enum section_kind)k, oh) == section_count(c, (enum section_kind)k))
				rc = hnvmf_conf_replace_section(text, oh, NULL, &next);
			if (next) {
				free(text);
				text = next;
			}
			free(was);
		}
	}
	if (rc) {
		free(text);
		return rc;
	}
	*out = text;
	return 0;
}

int hnvmf_conf_render_text(const struct hnvmf_conf *c, char **out, char *err, size_t errlen)
{
	if (!c->file[0]) {
		snprintf(err, errlen, "the daemon runs the embedded default: there is no file to write to "
				      "(start it with -c FILE)");
		return -1;
	}
	char *text = hnvmf_conf_read_file(c->file);
	if (!text) {
		snprintf(err, errlen, "%s: %s", c->file, strerror(errno));
		return -1;
	}
	struct hnvmf_conf *old;
	char why[1024];
	if (hnvmf_conf_load(c->file, &old, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "the file as it is now does not load, not overwriting it: %s", why);
		free(text);
		return -1;
	}
	int rc = merge(c, old, text, out);
	hnvmf_conf_free(old);
	free(text);
	if (rc) {
		snprintf(err, errlen, "%s: %s", c->file, strerror(-rc));
		return -1;
	}
	return 0;
}

int hnvmf_conf_set_section(const char *text, const struct hnvmf_conf_listener *l, const struct hnvmf_conf_backend *b,
			   const struct hnvmf_conf_subsys *s, const char *extra, char **out)
{
	struct hnvmf_conf *one = calloc(1, sizeof(*one)); /* a model of that one section: render() reads it */
	if (!one)
		return -ENOMEM;
	enum section_kind k = l ? SECT_LISTENER : b ? SECT_BACKEND : SECT_SUBSYSTEM;
	one->listeners = (struct hnvmf_conf_listener *)l;
	one->nlisteners = l != NULL;
	one->backends = (struct hnvmf_conf_backend *)b;
	one->nbackends = b != NULL;
	one->subsystems = (struct hnvmf_conf_subsys *)s;
	one->nsubsystems = s != NULL;
	char h[HNVMF_NQN_MAX + 32];
	char *body = render(one, k, 0, h, sizeof(h));
	free(one);
	if (!body)
		return -ENOMEM;
	if (extra) { /* before render()'s closing blank line */
		size_t bl = strlen(body), el = strlen(extra);
		char *nb = realloc(body, bl + el + 1);
		if (!nb) {
			free(body);
			return -ENOMEM;
		}
		body = nb;
		memcpy(body + bl - 1, extra, el);
		memcpy(body + bl - 1 + el, "\n", 2);
	}
	int rc = hnvmf_conf_replace_section(text, h, body, out);
	free(body);
	return rc;
}

int hnvmf_conf_write_back(const struct hnvmf_conf *c, char *err, size_t errlen)
{
	char *text;
	if (hnvmf_conf_render_text(c, &text, err, errlen) != 0)
		return -1;
	struct stat st;
	mode_t mode = stat(c->file, &st) == 0 ? st.st_mode & 07777 : 0600; /* the operator's mode */
	int rc = hnvmf_conf_write_atomic(c->file, text, mode);
	free(text);
	if (rc) {
		snprintf(err, errlen, "%s: %s", c->file, strerror(-rc));
		return -1;
	}
	return 0;
}
