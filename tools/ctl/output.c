/* Helpers of hnvmfctl's subcommands (ctl.h): arguments into params, aligned tables. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl/ctl.h"

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "hnvmfctl: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	return CTL_USAGE;
}

static struct json_object *value_of(const char *v)
{
	char *end;
	if (*v >= '0' && *v <= '9') {
		unsigned long long n = strtoull(v, &end, 10);
		if (!*end)
			return json_object_new_uint64(n);
	}
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
		return json_object_new_boolean(1);
	if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
		return json_object_new_boolean(0);
	return json_object_new_string(v);
}

int ctl_kv_params(int argc, char **argv, const char *const *keys, struct json_object *params)
{
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i])
			return ctl_usage_error("'%s': expected KEY=VALUE", argv[i]);
		size_t kl = (size_t)(eq - argv[i]);
		size_t k = 0;
		while (keys[k] && (strlen(keys[k]) != kl || strncmp(keys[k], argv[i], kl) != 0))
			k++;
		if (!keys[k])
			return ctl_usage_error("'%.*s': not a parameter here (--help lists them)", (int)kl, argv[i]);
		json_object_object_add(params, keys[k], value_of(eq + 1));
	}
	return 0;
}

const char *ctl_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "";
	return json_object_get_string(v);
}

int64_t ctl_int(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

struct ctl_table {
	size_t ncols, nrows;
	char **cells; /* nrows + 1 (the header) by ncols */
};

struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers)
{
	struct ctl_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->cells = calloc(ncols, sizeof(char *));
	for (size_t c = 0; t->cells && c < ncols; c++)
		t->cells[c] = strdup(headers[c]);
	return t;
}

void ctl_table_row(struct ctl_table *t, ...)
{
	if (!t || !t->cells)
		return;
	char **cells = realloc(t->cells, (t->nrows + 2) * t->ncols * sizeof(char *));
	if (!cells)
		return;
	t->cells = cells;
	t->nrows++;
	va_list ap;
	va_start(ap, t);
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->nrows * t->ncols + c] = strdup(s ? s : "");
	}
	va_end(ap);
}

void ctl_table_print(struct ctl_table *t)
{
	if (!t)
		return;
	size_t *w = calloc(t->ncols, sizeof(size_t));
	for (size_t r = 0; w && t->cells && r <= t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (s && strlen(s) > w[c])
				w[c] = strlen(s);
		}
	for (size_t r = 0; w && t->cells && r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 < t->ncols)
				printf("%-*s  ", (int)w[c], s ? s : "");
			else
				printf("%s\n", s ? s : "");
		}
	}
	for (size_t i = 0; t->cells && i < (t->nrows + 1) * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
	free(t);
}
