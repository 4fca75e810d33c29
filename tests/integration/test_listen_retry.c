/* Start-up that does not give up: a listener whose port is held by someone else at start does not
 * stop the daemon. The other listener serves (connect and I/O) meanwhile, the held one is retried
 * with a logged back-off, and once the port is free the daemon listens there too. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:retry"
#define HOSTNQN "nqn.2026-01.io.hnvmf.test:retry"

/* Two plain I/O listeners; the second one's port (@DISC_PORT@ here) is held by the test. */
static const char conf_template[] =
	"[listener free]\n"
	"address = 127.0.0.1\n"
	"port = @PORT@\n"
	"[listener held]\n"
	"address = 127.0.0.1\n"
	"port = @DISC_PORT@\n"
	HNVMF_CONF_RAM("ram0", "16M")
	HNVMF_CONF_SUBSYSTEM_RAM0(SUBNQN)
	"allow_any_host = yes\n";

static struct hnvmf_harness H;

/* A listening socket on 127.0.0.1:port, as another program holding the port would have. */
static int hold_port(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1) != 0) {
		print_error("cannot hold port %u: %s\n", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Connect, write a block, read it back, disconnect. */
static int connect_and_io(uint16_t port)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	struct hnvmf_ini_ctrl *c = NULL;
	int rc = hnvmf_ini_ctrl_connect("127.0.0.1", port, SUBNQN, HOSTNQN, &o, &c);
	if (rc)
		return rc;
	uint8_t out[512], in[512];
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + port);
	rc = hnvmf_ini_write(c, 0, 1, 5, 1, out, sizeof(out));
	if (!rc)
		rc = hnvmf_ini_read(c, 0, 1, 5, 1, in, sizeof(in));
	if (!rc && memcmp(in, out, sizeof(in)) != 0)
		rc = -EIO;
	int drc = hnvmf_ini_ctrl_disconnect(c);
	return rc ? rc : drc;
}

static void test_held_port_retried_while_other_serves(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_harness_prepare(&H), 0);
	int held = hold_port(H.disc_port);
	assert_true(held >= 0);
	/* the harness waits for @PORT@ only: the daemon must come up with the other port taken */
	assert_int_equal(hnvmf_harness_start(&H, conf_template), 0);
	assert_true(hnvmf_harness_log_wait(&H, "listener held (tcp 127.0.0.1:", 5000));
	assert_true(hnvmf_harness_log_wait(&H, "cannot listen yet", 1000));
	/* the free listener serves while the held one waits; a second failed attempt is logged */
	assert_int_equal(connect_and_io(H.port), 0);
	assert_true(hnvmf_harness_log_wait(&H, "retrying in 2000 ms", 5000));
	assert_true(hnvmf_harness_alive(&H));

	close(held);
	/* the next attempt comes within the back-off (at most 30 s); a generous deadline */
	int rc = -1;
	for (int i = 0; i < 600 && rc != 0; i++) {
		rc = connect_and_io(H.disc_port);
		if (rc)
			usleep(100000);
	}
	assert_int_equal(rc, 0);
	char needle[64];
	snprintf(needle, sizeof(needle), "tcp: listening on 127.0.0.1 port %u\n", H.disc_port);
	assert_true(hnvmf_harness_log_wait(&H, needle, 1000));
	assert_int_equal(connect_and_io(H.port), 0);
	assert_int_equal(hnvmf_harness_stop(&H), 0);
}

/* Held for the whole run: the daemon still stops cleanly (nothing to stop_listen there). */
static void test_still_held_at_stop(void **state)
{
	(void)state;
	memset(&H, 0, sizeof(H));
	assert_int_equal(hnvmf_harness_prepare(&H), 0);
	int held = hold_port(H.disc_port);
	assert_true(held >= 0);
	assert_int_equal(hnvmf_harness_start(&H, conf_template), 0);
	assert_int_equal(connect_and_io(H.port), 0);
	assert_int_equal(hnvmf_harness_stop(&H), 0);
	close(held);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_held_port_retried_while_other_serves),
		cmocka_unit_test(test_still_held_at_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
