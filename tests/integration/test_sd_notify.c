/* hnvmfd under systemd's notify protocol (sd_notify(3)), against a datagram socket the test reads
 * as systemd would (NOTIFY_SOCKET): READY=1 comes once the I/O listener accepts connections, with
 * a STATUS= line; WATCHDOG=1 comes when WATCHDOG_USEC is set; a reload says RELOADING=1 and
 * READY=1 again; SIGTERM says STOPPING=1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

static struct hnvmf_harness H;
static int sock = -1;
static pthread_t reader;
static atomic_bool stop_reader;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char received[1 << 16]; /* every datagram, one after the other, each ending in '\n' */
static size_t nreceived;
static int ready_port_state = -1; /* at the first READY=1: 1 the I/O port accepted, 0 it refused */

static bool port_accepts(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void *read_notifications(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_reader)) {
		char buf[4096];
		ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue; /* the receive timeout: look at stop_reader again */
		buf[n] = '\0';
		/* READY=1 must mean "serving": check at once, before the daemon can catch up. */
		int accepts = -1;
		if (strstr(buf, "READY=1"))
			accepts = port_accepts(H.port);
		pthread_mutex_lock(&lock);
		if (ready_port_state < 0)
			ready_port_state = accepts;
		nreceived += (size_t)snprintf(received + nreceived, sizeof(received) - nreceived, "%s\n", buf);
		if (nreceived >= sizeof(received))
			nreceived = sizeof(received) - 1;
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

/* How many times needle was received so far. */
static int count_of(const char *needle)
{
	int count = 0;
	pthread_mutex_lock(&lock);
	for (const char *p = received; (p = strstr(p, needle)); p += strlen(needle))
		count++;
	pthread_mutex_unlock(&lock);
	return count;
}

/* How many times needle was received, waiting up to 10 s for at least want of them. */
static int wait_for(const char *needle, int want)
{
	for (int i = 0; i < 1000 && count_of(needle) < want; i++)
		usleep(10000);
	return count_of(needle);
}

static int setup(void **state)
{
	(void)state;
	if (hnvmf_harness_prepare(&H) != 0)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify.sock", H.dir);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_usec = 100000};
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		return -1;
	if (pthread_create(&reader, NULL, read_notifications, NULL) != 0)
		return -1;
	/* The daemon inherits these from the harness's fork; 50 ms: a ping every 12.5 ms. */
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	setenv("WATCHDOG_USEC", "50000", 1);
	return hnvmf_harness_start(&H, NULL);
}

static int teardown(void **state)
{
	(void)state;
	if (hnvmf_harness_alive(&H))
		hnvmf_harness_stop(&H);
	atomic_store(&stop_reader, true);
	pthread_join(reader, NULL);
	close(sock);
	return 0;
}

static void test_ready_once_listening(void **state)
{
	(void)state;
	assert_int_equal(wait_for("READY=1", 1), 1);
	pthread_mutex_lock(&lock);
	int accepted = ready_port_state;
	pthread_mutex_unlock(&lock);
	assert_int_equal(accepted, 1);
}

static void test_status_line(void **state)
{
	(void)state;
	/* the harness's configuration: an I/O and a discovery listener, no host connected */
	assert_true(wait_for("STATUS=2 listeners, 0 controllers, 0 tenants", 1) >= 1);
}

/* The status follows the daemon: a host's controller appears in it, and leaves it. */
static void test_status_follows_controllers(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, HNVMF_HARNESS_SUBNQN,
						"nqn.2026-01.io.hnvmf.test:notify", &o, &c), 0);
	assert_int_equal(wait_for("STATUS=2 listeners, 1 controller, 0 tenants", 1), 1);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_true(wait_for("STATUS=2 listeners, 0 controllers, 0 tenants", 2) >= 2);
}

static void test_watchdog(void **state)
{
	(void)state;
	assert_true(wait_for("WATCHDOG=1", 3) >= 3);
}

static void test_reload(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_harness_signal(&H, SIGHUP), 0);
	assert_true(wait_for("RELOADING=1", 1) >= 1);
	assert_true(wait_for("READY=1", 2) >= 2);
}

static void test_stopping_on_sigterm(void **state)
{
	(void)state;
	assert_int_equal(count_of("STOPPING=1"), 0);
	assert_int_equal(hnvmf_harness_stop(&H), 0);
	assert_int_equal(wait_for("STOPPING=1", 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_once_listening),
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_status_follows_controllers),
		cmocka_unit_test(test_watchdog),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_stopping_on_sigterm),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
