/* Formatted text appended to a bounded buffer: control-socket answers and statistics. Output
 * past the end is dropped (the buffer stays NUL terminated). */
#ifndef HNVMF_STRBUF_H
#define HNVMF_STRBUF_H

#include <stddef.h>

struct hnvmf_strbuf {
	char *buf;
	size_t cap;
	size_t len;
};

static inline struct hnvmf_strbuf hnvmf_strbuf(char *buf, size_t cap)
{
	if (cap)
		buf[0] = '\0';
	return (struct hnvmf_strbuf){.buf = buf, .cap = cap, .len = 0};
}

void hnvmf_strbuf_printf(struct hnvmf_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
