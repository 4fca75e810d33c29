/* Tenant admission (target/tenant.c), one rule at a time, on hand-built queues and controllers:
 * the tenant's mode, the DAM whitelist, authentication (DH-HMAC-CHAP, TLS, or pending), the SLA's
 * queue count, the dam_fallback (pqm / refuse), hosts without a tenant file, discovery
 * controllers, the decision taken when a pending exchange succeeds, and the notices (the fallback
 * reason once per controller, queues beyond the SLA). The Connect-level behaviour (a refused
 * Connect, DAM after an I/O queue's DH-HMAC-CHAP) is in test_auth.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "target/tenant.h"

#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-555555555555"

static int pending_marker; /* stands for an exchange state: admission only tests sq->auth != NULL */

struct fix {
	struct hnvmf_conf conf;
	int whitelist[2];
	struct hnvmf_tgt tgt;
	struct hnvmf_subsys subsys;
	struct hnvmf_conf_tenant tenant;
	struct hnvmf_ctrl ctrl;
	struct hnvmf_sq sq;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	f->whitelist[0] = 5;
	f->whitelist[1] = 7;
	f->conf.dam_whitelist = f->whitelist;
	f->conf.ndam_whitelist = 2;
	f->conf.default_mode = HNVMF_CONF_MODE_PQM;
	f->tgt.conf = &f->conf;
	pthread_mutex_init(&f->tgt.lock, NULL);
	snprintf(f->subsys.nqn, sizeof(f->subsys.nqn), "nqn.2026-01.io.hnvmf:tenant-test");
	snprintf(f->tenant.hostnqn, sizeof(f->tenant.hostnqn), "%s", HOSTNQN);
	f->tenant.mode = HNVMF_CONF_MODE_DAM;
	f->tenant.permission_level = 7;
	f->tenant.dam_fallback = HNVMF_DAM_FALLBACK_PQM;
	f->ctrl.cntlid = 9;
	f->ctrl.tgt = &f->tgt;
	f->ctrl.subsys = &f->subsys;
	f->ctrl.tenant = &f->tenant;
	snprintf(f->ctrl.hostnqn, sizeof(f->ctrl.hostnqn), "%s", HOSTNQN);
	f->sq.tgt = &f->tgt;
	f->sq.ctrl = &f->ctrl;
	f->sq.qid = 1;
	f->sq.mode = HNVMF_PATH_DIRECT;
	f->sq.dam_unit = -1;
	struct hnvmf_engine_opts eo = {.dam_max_queues = 0}; /* DAM capacity unlimited */
	assert_int_equal(hnvmf_engine_create(&eo, &f->tgt.engine), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	pthread_mutex_destroy(&f->tgt.lock);
	hnvmf_engine_destroy(f->tgt.engine);
	free(f);
	return 0;
}

/* Admission's verdict: the status, and the mode when admitted (-1 when refused). */
static int admit(struct fix *f, uint16_t *status)
{
	enum hnvmf_path_mode m = (enum hnvmf_path_mode) - 1;
	*status = hnvmf_tenant_admit(&f->sq, &m);
	return *status ? -1 : (int)m;
}

static int admitted_mode(struct fix *f)
{
	uint16_t st;
	int m = admit(f, &st);
	assert_int_equal(st, 0);
	return m;
}

static void assert_refused(struct fix *f)
{
	uint16_t st;
	assert_int_equal(admit(f, &st), -1);
	assert_int_equal(hnvmf_status_sct(st), NVME_SCT_CMD_SPECIFIC);
	assert_int_equal(hnvmf_status_sc(st), NVME_SC_CONNECT_INVALID_HOST);
	assert_true(st & NVME_SC_DNR); /* the host must not retry the same Connect */
}

static void test_no_tenant_file(void **state)
{
	struct fix *f = *state;
	f->ctrl.tenant = NULL;
	f->sq.authenticated = true;
	const enum hnvmf_conf_mode modes[] = {HNVMF_CONF_MODE_PQM, HNVMF_CONF_MODE_BASELINE,
					      HNVMF_CONF_MODE_DIRECT};
	const enum hnvmf_path_mode paths[] = {HNVMF_PATH_PQM, HNVMF_PATH_BASELINE, HNVMF_PATH_DIRECT};
	for (size_t i = 0; i < 3; i++) {
		f->conf.default_mode = modes[i];
		assert_int_equal(admitted_mode(f), paths[i]);
	}
	/* DAM needs a tenant (a permission level): never granted by default. */
	f->conf.default_mode = HNVMF_CONF_MODE_DAM;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM);
}

static void test_non_dam_tenants(void **state)
{
	struct fix *f = *state;
	f->tenant.dam_fallback = HNVMF_DAM_FALLBACK_REFUSE; /* only about DAM: never refuses these */
	f->tenant.permission_level = 1;
	f->tenant.mode = HNVMF_CONF_MODE_BASELINE;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_BASELINE);
	f->tenant.mode = HNVMF_CONF_MODE_PQM;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM);
	f->sq.authenticated = true;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM);
}

static void test_dam_needs_authentication(void **state)
{
	struct fix *f = *state;
	/* Whitelisted, nothing proves the identity. */
	assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM);
	f->tenant.dam_fallback = HNVMF_DAM_FALLBACK_REFUSE;
	assert_refused(f);
	/* DH-HMAC-CHAP done on the queue. */
	f->sq.authenticated = true;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_DAM);
	/* Or TLS (a PSK). */
	f->sq.authenticated = false;
	f->sq.tls = true;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_DAM);
	/* The other whitelisted level too. */
	f->tenant.permission_level = 5;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_DAM);
}

static void test_dam_needs_whitelist(void **state)
{
	struct fix *f = *state;
	f->sq.authenticated = true;
	f->tenant.permission_level = 6;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM);
	f->tenant.dam_fallback = HNVMF_DAM_FALLBACK_REFUSE;
	assert_refused(f);
	/* An empty whitelist admits nobody. */
	f->tenant.permission_level = 7;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_DAM);
	f->conf.ndam_whitelist = 0;
	assert_refused(f);
}

/* An exchange pending at Connect: provisional PQM, whatever the fallback; the decision comes
 * when the exchange succeeds. */
static void test_pending_exchange_decided_later(void **state)
{
	struct fix *f = *state;
	f->sq.auth = &pending_marker;
	f->tenant.dam_fallback = HNVMF_DAM_FALLBACK_REFUSE;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM);
	f->sq.mode = HNVMF_PATH_PQM;
	f->sq.authenticated = true;
	assert_int_equal(hnvmf_tenant_admit_authenticated(&f->sq), 0);
	assert_int_equal(f->sq.mode, HNVMF_PATH_DAM);

	/* Not whitelisted: a refusing tenant is refused at Connect even while pending. */
	f->sq.authenticated = false;
	f->tenant.permission_level = 1;
	assert_refused(f);
	/* ... and a pqm one is served through PQM, after authentication too. */
	f->tenant.dam_fallback = HNVMF_DAM_FALLBACK_PQM;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM);
	f->sq.authenticated = true;
	f->sq.mode = HNVMF_PATH_DIRECT;
	assert_int_equal(hnvmf_tenant_admit_authenticated(&f->sq), 0);
	assert_int_equal(f->sq.mode, HNVMF_PATH_PQM);

	/* A tenant file changed to refuse between Connect and success: refused then. */
	f->tenant.dam_fallback = HNVMF_DAM_FALLBACK_REFUSE;
	f->sq.mode = HNVMF_PATH_PQM;
	assert_int_not_equal(hnvmf_tenant_admit_authenticated(&f->sq), 0);
	assert_int_equal(f->sq.mode, HNVMF_PATH_PQM); /* untouched */
}

static void test_sla_queue_count(void **state)
{
	struct fix *f = *state;
	f->sq.authenticated = true;
	f->tenant.max_queues = 2;
	f->tenant.dam_fallback = HNVMF_DAM_FALLBACK_REFUSE; /* beyond the SLA is PQM, never refused */
	for (uint16_t qid = 0; qid <= 4; qid++) {
		f->sq.qid = qid;
		assert_int_equal(admitted_mode(f), qid <= 2 ? HNVMF_PATH_DAM : HNVMF_PATH_PQM);
	}
	f->tenant.max_queues = 0; /* no limit */
	f->sq.qid = 100;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_DAM);
	/* A pending queue beyond the SLA learns it when it authenticates. */
	f->tenant.max_queues = 2;
	f->sq.qid = 3;
	f->sq.auth = &pending_marker;
	f->sq.authenticated = false;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM);
	f->sq.authenticated = true;
	f->sq.mode = HNVMF_PATH_DIRECT;
	assert_int_equal(hnvmf_tenant_admit_authenticated(&f->sq), 0);
	assert_int_equal(f->sq.mode, HNVMF_PATH_PQM);
}

static void test_discovery_direct(void **state)
{
	struct fix *f = *state;
	f->subsys.discovery = true;
	f->tenant.dam_fallback = HNVMF_DAM_FALLBACK_REFUSE;
	f->tenant.permission_level = 1;
	f->sq.qid = 0;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_DIRECT);
}

/* A SIGHUP re-points ctrl->tenant: admission reads the current one. */
static void test_reloaded_tenant(void **state)
{
	struct fix *f = *state;
	f->sq.authenticated = true;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_DAM);
	struct hnvmf_conf_tenant t2 = f->tenant;
	t2.mode = HNVMF_CONF_MODE_BASELINE;
	f->ctrl.tenant = &t2;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_BASELINE);
}

/* Capacity 1: the first I/O queue takes the unit (even with its exchange pending, so that a
 * refusal is the Connect's status); a second falls back to PQM with the reason, or is refused
 * with Connect Invalid Parameters, DNR; released units are granted again. */
static void test_capacity(void **state)
{
	struct fix *f = *state;
	hnvmf_engine_destroy(f->tgt.engine);
	struct hnvmf_engine_opts eo = {.dam_max_queues = 1};
	assert_int_equal(hnvmf_engine_create(&eo, &f->tgt.engine), 0);
	f->sq.auth = &pending_marker;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM); /* provisional, unit held */
	assert_int_equal(hnvmf_dam_usage(f->tgt.engine).used, 1);
	f->sq.authenticated = true;
	assert_int_equal(hnvmf_tenant_admit_authenticated(&f->sq), 0);
	assert_int_equal(f->sq.mode, HNVMF_PATH_DAM);
	assert_null(f->sq.path_why);

	struct hnvmf_sq second = f->sq;
	second.qid = 2;
	second.dam_unit = -1;
	enum hnvmf_path_mode m;
	assert_int_equal(hnvmf_tenant_admit(&second, &m), 0);
	assert_int_equal(m, HNVMF_PATH_PQM);
	assert_string_equal(second.path_why, "dam: no capacity");
	assert_int_equal(second.dam_unit, -1);
	f->tenant.dam_fallback = HNVMF_DAM_FALLBACK_REFUSE;
	uint16_t st = hnvmf_tenant_admit(&second, &m);
	assert_int_equal(hnvmf_status_sct(st), NVME_SCT_CMD_SPECIFIC);
	assert_int_equal(hnvmf_status_sc(st), NVME_SC_CONNECT_INVALID_PARAM);
	assert_true(st & NVME_SC_DNR);

	hnvmf_tenant_release_dam(&f->sq);
	assert_int_equal(f->sq.dam_unit, -1);
	assert_int_equal(hnvmf_dam_usage(f->tgt.engine).used, 0);
	assert_int_equal(hnvmf_tenant_admit(&second, &m), 0);
	assert_int_equal(m, HNVMF_PATH_DAM);
	assert_null(second.path_why);
	assert_int_equal(hnvmf_dam_usage(f->tgt.engine).used, 1);
	hnvmf_tenant_release_dam(&second);
	/* The admin queue takes no unit. */
	f->sq.qid = 0;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_DAM);
	assert_int_equal(hnvmf_dam_usage(f->tgt.engine).used, 0);
}

/* Runs fn with stderr captured; returns how many captured lines contain needle. */
static int count_log_lines(struct fix *f, void (*fn)(struct fix *), const char *needle)
{
	char path[] = "/tmp/hnvmf-test-tenant-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn(f);
	dup2(saved, STDERR_FILENO);
	close(saved);
	FILE *in = fdopen(fd, "r");
	rewind(in);
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof(line), in))
		if (strstr(line, needle) && strstr(line, HOSTNQN))
			n++;
	fclose(in);
	unlink(path);
	return n;
}

static void connect_all_queues(struct fix *f)
{
	for (uint16_t qid = 0; qid <= 3; qid++) {
		f->sq.qid = qid;
		assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM);
	}
}

static void test_fallback_notice_once_per_controller(void **state)
{
	struct fix *f = *state;
	hnvmf_log_set_level(HNVMF_LOG_NOTICE);
	/* Not authenticated, fallback pqm: one notice for the controller (its admin queue). */
	assert_int_equal(count_log_lines(f, connect_all_queues, "PQM"), 1);
	/* Not whitelisted: the notice names the reason. */
	f->sq.authenticated = true;
	f->tenant.permission_level = 2;
	assert_int_equal(count_log_lines(f, connect_all_queues, "whitelist"), 1);
	hnvmf_log_set_level(HNVMF_LOG_WARN);
}

static void connect_beyond_sla(struct fix *f)
{
	f->sq.qid = 3;
	assert_int_equal(admitted_mode(f), HNVMF_PATH_PQM);
}

static void test_beyond_sla_notice(void **state)
{
	struct fix *f = *state;
	hnvmf_log_set_level(HNVMF_LOG_NOTICE);
	f->sq.authenticated = true;
	f->tenant.max_queues = 2;
	assert_int_equal(count_log_lines(f, connect_beyond_sla, "beyond the SLA"), 1);
	hnvmf_log_set_level(HNVMF_LOG_WARN);
}

int main(void)
{
	hnvmf_log_set_level(HNVMF_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_tenant_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_dam_tenants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dam_needs_authentication, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dam_needs_whitelist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_exchange_decided_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sla_queue_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovery_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reloaded_tenant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallback_notice_once_per_controller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_beyond_sla_notice, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
