/* The configuration loader (conf/): the input is a main file and one tenant file, separated by
 * the first NUL byte. They are written as <dir>/hnvmf.conf and <dir>/tenants.d/t.conf, so a main
 * file with "tenants_dir = tenants.d" loads the tenant too; then the tenants are loaded again as
 * a reload (SIGHUP) would. The files live in one directory made per process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char main_path[256], tenant_path[256];

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	if (n && fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
	chmod(path, 0600); /* tenant secrets in files must be owner-only */
}

static void cleanup(void)
{
	unlink(main_path);
	unlink(tenant_path);
	char d[256];
	snprintf(d, sizeof(d), "%s", tenant_path);
	*strrchr(d, '/') = '\0';
	rmdir(d);
	*strrchr(d, '/') = '\0';
	rmdir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!main_path[0]) {
		char dir[] = "/tmp/hnvmf-fuzz-conf-XXXXXX";
		if (!mkdtemp(dir))
			abort();
		snprintf(main_path, sizeof(main_path), "%s/hnvmf.conf", dir);
		snprintf(tenant_path, sizeof(tenant_path), "%s/tenants.d", dir);
		mkdir(tenant_path, 0700);
		snprintf(tenant_path, sizeof(tenant_path), "%s/tenants.d/t.conf", dir);
		atexit(cleanup);
	}
	const uint8_t *nul = memchr(data, 0, size);
	size_t main_len = nul ? (size_t)(nul - data) : size;
	write_file(main_path, data, main_len);
	if (nul)
		write_file(tenant_path, nul + 1, size - main_len - 1);
	else
		unlink(tenant_path);

	struct hnvmf_conf *c = NULL;
	char err[1024];
	if (hnvmf_conf_load(main_path, &c, err, sizeof(err)) == 0) {
		struct hnvmf_conf_tenant *t = NULL;
		size_t n = 0;
		if (hnvmf_conf_load_tenants(c, &t, &n, err, sizeof(err)) == 0)
			hnvmf_conf_free_tenants(t, n);
		hnvmf_conf_free(c);
	}
	return 0;
}
