/* Helpers of hnvmfctl's subcommands (ctl.h): arguments into params, aligned tables. */
#include <errno.h>
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

/* v as a JSON value of type t, or NULL when it is not one. */
static struct json_object *value_of(const char *v, enum ctl_type t)
{
	if (!*v)
		return json_object_new_string("");
	switch (t) {
	case CTL_NUMBER: {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(v, &end, 10);
		return *v >= '0' && *v <= '9' && !*end && !errno ? json_object_new_uint64(n) : NULL;
	}
	case CTL_BOOL:
		if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
			return json_object_new_boolean(1);
		if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
			return json_object_new_boolean(0);
		return NULL;
	case CTL_STRING:
		break;
	}
	return json_object_new_string(v);
}

int ctl_kv_params(int argc, char **argv, const struct ctl_key *keys, struct json_object *params)
{
	static const char *const type_names[] = {[CTL_STRING] = "text", [CTL_NUMBER] = "a number",
						 [CTL_BOOL] = "yes or no"};
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i])
			return ctl_usage_error("'%s': expected KEY=VALUE", argv[i]);
		size_t kl = (size_t)(eq - argv[i]);
		size_t k = 0;
		while (keys[k].name && (strlen(keys[k].name) != kl || strncmp(keys[k].name, argv[i], kl) != 0))
			k++;
		if (!keys[k].name)
			return ctl_usage_error("'%.*s': not a parameter here (--help lists them)", (int)kl, argv[i]);
		struct json_object *v = value_of(eq + 1, keys[k].type);
		if (!v)
			return ctl_usage_error("'%s': %s is %s", argv[i], keys[k].name, type_names[keys[k].type]);
		json_object_object_add(params, keys[k].name, v);
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
