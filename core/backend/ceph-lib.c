/* librados and librbd loaded at first use (see ceph-lib.h). */
#include "core/backend/ceph-lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct hnvmf_ceph_lib hnvmf_ceph;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256]; /* empty: loaded */

static bool load_syms(void *h, const char *soname)
{
	if (!h) {
		snprintf(load_error, sizeof(load_error), "cannot load %s: %s", soname, dlerror());
		return false;
	}
#define LOAD_FN(f)                                                                                 \
	if (!(*(void **)&hnvmf_ceph.f = dlsym(h, #f))) {                                            \
		snprintf(load_error, sizeof(load_error), "%s: no symbol %s", soname, #f);           \
		return false;                                                                       \
	}
	if (strstr(soname, "rados")) {
		HNVMF_RADOS_FNS(LOAD_FN)
	} else {
		HNVMF_RBD_FNS(LOAD_FN)
	}
#undef LOAD_FN
	return true;
}

static void load_libs(void)
{
	/* librbd needs librados: loaded first, global, so librbd's references resolve to it. */
	if (load_syms(dlopen("librados.so.2", RTLD_NOW | RTLD_GLOBAL), "librados.so.2"))
		load_syms(dlopen("librbd.so.1", RTLD_NOW | RTLD_LOCAL), "librbd.so.1");
}

int hnvmf_ceph_load(char *err, size_t errlen)
{
	pthread_once(&once, load_libs);
	if (load_error[0]) {
		snprintf(err, errlen, "%s", load_error);
		return -1;
	}
	return 0;
}
