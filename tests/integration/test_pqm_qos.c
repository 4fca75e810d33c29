/* PQM QoS through the daemon: a tenant whose file limits it to LIMIT IOPS, driven at high queue
 * depth on two I/O queues for about RUN_S seconds, completes no more than LIMIT × the time it ran
 * plus one bucket (10 ms of tokens) and one io per I/O server (two servers may both let an io
 * through on the same tokens). Then a reload raises the limit and the same connection, without
 * reconnecting, completes more than the old limit allowed; a reservation beyond the capacity
 * measured meanwhile is logged as overcommitted at the next reload. Counts are behaviour: the run's length
 * is measured, never asserted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:qos"
#define HOSTNQN "nqn.2026-01.io.hnvmf.test:limited"
#define LIMIT 2000
#define RAISED 1000000
#define CMAX 2
#define QUEUES 2
#define DEPTH 64
#define RUN_NS 2000000000ull

static const char conf_template[] =
	"[global]\n"
	"default_mode = pqm\n"
	"tenants_dir = tenants\n"
	"control_socket = @DIR@/ctl.sock\n"
	"[pqm]\n"
	"cmax = 2\n"
	HNVMF_CONF_LISTENER_IO
	HNVMF_CONF_RAM("ram0", "16M")
	"block_size = 4096\n"
	HNVMF_CONF_SUBSYSTEM_RAM0(SUBNQN);

static struct hnvmf_harness H;

static void write_tenant(unsigned max_iops, unsigned long long reserved_iops)
{
	char file[512];
	snprintf(file, sizeof(file),
		 "[tenant]\nhostnqn = " HOSTNQN "\nsubsystems = " SUBNQN "\nmax_iops = %u\nreserved_iops = %llu\n",
		 max_iops, reserved_iops);
	assert_int_equal(hnvmf_harness_write_file(&H, "tenants/limited.conf", file), 0);
}

struct slot {
	struct hnvmf_ini_io io;
	bool busy;
};

static struct slot slots[QUEUES][DEPTH];
static uint64_t completed, failed;

static void io_done(struct hnvmf_ini_io *io)
{
	struct slot *s = io->arg;
	s->busy = false;
	if (io->status)
		failed++;
	else
		completed++;
}

/* 4 KiB reads at depth DEPTH on every queue for RUN_NS; returns the ios completed and, in
 * *elapsed_ns, from the first submission to the last completion. */
static uint64_t drive(struct hnvmf_ini_ctrl *c, uint64_t nblocks, uint64_t *elapsed_ns)
{
	completed = failed = 0;
	uint64_t t0 = hnvmf_ini_now_ns(), lba = 0;
	bool submitting = true;
	for (;;) {
		unsigned busy = 0;
		submitting = submitting && hnvmf_ini_now_ns() - t0 < RUN_NS;
		for (unsigned q = 0; q < QUEUES; q++) {
			for (unsigned i = 0; i < DEPTH; i++) {
				struct slot *s = &slots[q][i];
				if (!s->busy && submitting) {
					memset(&s->io, 0, sizeof(s->io));
					hnvmf_sqe_rw(&s->io.sqe, false, 1, lba, 1);
					lba = (lba + 1) % nblocks;
					s->io.len = 4096;
					s->io.dir = HNVMF_INI_FROM_CTRL;
					s->io.done = io_done;
					s->io.arg = s;
					assert_int_equal(hnvmf_ini_submit(c->io[q], &s->io), 0);
					s->busy = true;
				}
				busy += s->busy;
			}
			assert_true(hnvmf_ini_queue_process(c->io[q]) >= 0);
		}
		if (!busy)
			break;
		hnvmf_ini_queue_wait(c->io[0], 1);
	}
	*elapsed_ns = hnvmf_ini_now_ns() - t0;
	assert_int_equal(failed, 0);
	return completed;
}

/* The most a tenant limited to limit IOPS may complete in elapsed_ns. */
static uint64_t bound(uint64_t limit, uint64_t elapsed_ns)
{
	return (uint64_t)((double)limit * (double)elapsed_ns / 1e9) + limit / 100 + CMAX;
}

static void test_limit_then_reload(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_harness_prepare(&H), 0);
	write_tenant(LIMIT, 0);
	assert_int_equal(hnvmf_harness_start(&H, conf_template), 0);

	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = QUEUES;
	o.io_depth = DEPTH + 1;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, HOSTNQN, &o, &c), 0);
	assert_int_equal(c->nr_io, QUEUES);
	struct hnvmf_ini_ns_info ns;
	assert_int_equal(hnvmf_ini_ns_info(c, 1, &ns), 0);
	assert_int_equal(ns.lba_size, 4096);

	uint64_t elapsed, n = drive(c, ns.nsze, &elapsed);
	print_message("limited to %d IOPS: %llu ios in %.2f s\n", LIMIT, (unsigned long long)n, (double)elapsed / 1e9);
	assert_true(n > 0);
	assert_true(n <= bound(LIMIT, elapsed));

	/* Raise the limit; the same controller and queues go on. */
	write_tenant(RAISED, 0);
	char out[1024];
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "true");
	n = drive(c, ns.nsze, &elapsed);
	print_message("raised to %d IOPS: %llu ios in %.2f s\n", RAISED, (unsigned long long)n, (double)elapsed / 1e9);
	assert_true(n > bound(LIMIT, elapsed));

	/* The pool has measured its capacity under that load: a reservation beyond it is logged as
	 * overcommitted at the reload, and the tenant is still served. */
	write_tenant(RAISED, 1000000000000ull);
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "true");
	assert_true(hnvmf_harness_log_wait(&H, "reservations overcommitted", 5000));
	char buf[4096];
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 1, buf, sizeof(buf)), 0);

	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_int_equal(hnvmf_harness_stop(&H), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_limit_then_reload)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
