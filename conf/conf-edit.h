/* Editing the operator's configuration files in place (conf/conf-edit.c): one section's keys are
 * set or removed while every other line (comments, blank lines, order, the other sections) keeps
 * its text, and the result replaces the file atomically. Used by the control API to write a
 * change back where the operator keeps it (docs/control.md). */
#ifndef HNVMF_CONF_EDIT_H
#define HNVMF_CONF_EDIT_H

#include <stddef.h>
#include <sys/types.h>

struct hnvmf_conf_kv {
	const char *key;
	const char *value; /* NULL: remove the key */
};

/* In text, the first section headed "[section]": each key of kv replaces the key's first line
 * there ("key = value"; a later line of the same key is dropped) or is appended at the end of the
 * section; a NULL value removes the key's lines. Without such a section, one is appended.
 * *out is malloc'ed. 0, -EINVAL (a key or value that would not read back as one line: a newline,
 * '#' or ';' starting a value, '=' or '[' in a key), or -ENOMEM. */
int hnvmf_conf_edit_section(const char *text, const char *section, const struct hnvmf_conf_kv *kv, size_t n,
			    char **out);

/* In text, the section headed "[header]" (its inner text compared with spaces trimmed): its lines
 * after the header, up to the next header, become body; body NULL deletes the section (its header
 * too). Without such a section, "[header]\n" and body are appended. *out is malloc'ed. 0 or
 * -ENOMEM. */
int hnvmf_conf_replace_section(const char *text, const char *header, const char *body, char **out);

struct hnvmf_conf;
/* Writes the running model c back into its main file c->file, section by section: each
 * [listener], [backend] and [subsystem] section of c is rendered (conf-write.c) and compared with
 * the same rendering of the model the file holds now; an equal one keeps its text (comments
 * included), a different one is replaced in place, a new one appended, one c no longer has
 * deleted; then the file is replaced atomically. The other sections are not changed through the
 * API and keep their text. 0, or -1 with err set (no file: the embedded default; a file that
 * does not load). */
int hnvmf_conf_write_back(const struct hnvmf_conf *c, char *err, size_t errlen);

/* The text hnvmf_conf_write_back would write: c->file's text with c's sections in it. 0, or -1
 * with err set. *out malloc'ed. */
int hnvmf_conf_render_text(const struct hnvmf_conf *c, char **out, char *err, size_t errlen);

struct hnvmf_conf_listener;
struct hnvmf_conf_backend;
struct hnvmf_conf_subsys;
/* In text, the section of the one of l, b, s that is not NULL rendered as the loader reads it
 * back (replaced, or appended when text has none), with extra (one more "key = value" line, or
 * NULL) at its end. *out malloc'ed. 0 or -ENOMEM. */
int hnvmf_conf_set_section(const char *text, const struct hnvmf_conf_listener *l, const struct hnvmf_conf_backend *b,
			   const struct hnvmf_conf_subsys *s, const char *extra, char **out);

/* Replaces path with text: a temporary file in the same directory (".NAME.tmp", which the
 * tenants directory's loader skips), written, fsync'ed, renamed over path, then the directory
 * fsync'ed, so that a crash leaves the old file or the new one, never a mix. 0 or -errno. */
int hnvmf_conf_write_atomic(const char *path, const char *text, mode_t mode);

/* The whole content of path, malloc'ed (NUL-terminated); NULL with errno set. */
char *hnvmf_conf_read_file(const char *path);

#endif
