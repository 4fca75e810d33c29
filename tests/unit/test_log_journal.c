/* core/log.c under journald: when stderr is the stream $JOURNAL_STREAM names, a line goes to
 * sd_journal_sendv (wrapped here, -Wl,--wrap) with its priority, its message and the structured
 * fields the call site passed, and nothing is written to stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"

static char fields[8][512];
static int nfields;

int __wrap_sd_journal_sendv(const struct iovec *iov, int n);
int __wrap_sd_journal_sendv(const struct iovec *iov, int n)
{
	nfields = n;
	for (int i = 0; i < n && i < 8; i++)
		snprintf(fields[i], sizeof(fields[i]), "%.*s", (int)iov[i].iov_len, (const char *)iov[i].iov_base);
	return 0;
}

static bool has(const char *f)
{
	for (int i = 0; i < nfields; i++)
		if (strcmp(fields[i], f) == 0)
			return true;
	return false;
}

static void structured_fields(void **state)
{
	(void)state;
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(STDERR_FILENO);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	struct stat st;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	char env[64];
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);

	struct hnvmf_log_fields f = {.hostnqn = "nqn.2026-01.io.hnvmf:h", .subnqn = "nqn.2026-01.io.hnvmf:s",
				     .cntlid = 3, .qid = 1};
	hnvmf_log_f(HNVMF_LOG_NOTICE, &f, "queue %d refused", 1);
	int n = nfields;
	assert_true(has("PRIORITY=5"));
	assert_true(has("MESSAGE=queue 1 refused"));
	assert_true(has("HOSTNQN=nqn.2026-01.io.hnvmf:h"));
	assert_true(has("SUBNQN=nqn.2026-01.io.hnvmf:s"));
	assert_true(has("CNTLID=3"));
	assert_true(has("QID=1"));
	assert_int_equal(n, 6);
	/* Without fields: priority and message only. */
	log_warn("plain %s", "line");
	assert_int_equal(nfields, 2);
	assert_true(has("PRIORITY=4"));
	assert_true(has("MESSAGE=plain line"));
	/* Above the level: nothing. */
	nfields = 0;
	log_debug("hidden");
	assert_int_equal(nfields, 0);

	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	assert_int_equal(ftell(tmp), 0);
	fseek(tmp, 0, SEEK_END);
	assert_int_equal(ftell(tmp), 0); /* nothing went to stderr */
	fclose(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(structured_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
