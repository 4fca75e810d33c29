/* The control socket against slow clients: every request has control_timeout_ms ([limits]) from
 * its connection to its answer, and a client that drips its line a byte at a time, or sends
 * nothing, neither keeps its connection past that nor holds up another client's request, even
 * when more such clients are connected than the daemon serves at once. The stream's framing:
 * requests one after the other, answered in order; a bad or oversized one ends the connection. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

#define DEADLINE_MS 1000

static const char conf_template[] =
	"[global]\n"
	"control_socket = @DIR@/ctl.sock\n"
	"[limits]\n"
	"control_timeout_ms = 1000\n"
	HNVMF_CONF_IO_RAM0("16M", HNVMF_HARNESS_SUBNQN)
	"allow_any_host = yes\n";

static struct hnvmf_harness H;

HNVMF_HARNESS_GROUP_FIXTURES(H, conf_template)

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int ctl_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", H.dir);
	/* The daemon binds the control socket just after its listeners: allow it a moment. */
	for (int t = 0; t < 200; t++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		usleep(10000);
	}
	fail_msg("cannot connect to %s", sa.sun_path);
	return -1;
}

#define VERSION_REQ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hnvmf_get_version\"}"

/* Reads one answer (the daemon ends each with a newline) into out; its length, 0 when none came. */
static size_t read_answer(int fd, char *out, size_t cap)
{
	size_t off = 0;
	ssize_t r;
	while (off + 1 < cap && (off == 0 || out[off - 1] != '\n') &&
	       (r = recv(fd, out + off, cap - 1 - off, 0)) > 0)
		off += (size_t)r;
	out[off] = '\0';
	return off;
}

/* hnvmf_get_version on a new connection; returns the milliseconds until the whole answer was
 * read, or -1 when none came within 5 s. */
static int timed_version(void)
{
	uint64_t t0 = now_ms();
	int fd = ctl_connect();
	struct timeval tv = {.tv_sec = 5};
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(send(fd, VERSION_REQ, strlen(VERSION_REQ), MSG_NOSIGNAL), (ssize_t)strlen(VERSION_REQ));
	char out[256];
	size_t n = read_answer(fd, out, sizeof(out));
	close(fd);
	if (n == 0 || !strstr(out, "\"result\":{\"version\":"))
		return -1;
	return (int)(now_ms() - t0);
}

/* A client that sends one byte every 900 ms (inside a string: never a whole request) until the
 * daemon closes it. */
struct dripper {
	int fd;
	uint64_t t0, closed_after_ms; /* 0: still open when it gave up (12 s) */
};

static void *drip(void *arg)
{
	struct dripper *d = arg;
	while (now_ms() - d->t0 < 12000) {
		struct pollfd p = {.fd = d->fd, .events = POLLIN};
		int rc = poll(&p, 1, 900);
		char c;
		if ((rc > 0 && recv(d->fd, &c, 1, MSG_DONTWAIT) <= 0) || send(d->fd, "x", 1, MSG_NOSIGNAL) != 1) {
			d->closed_after_ms = now_ms() - d->t0;
			break;
		}
	}
	return NULL;
}

static void test_dripping_client_is_cut_and_blocks_nobody(void **state)
{
	(void)state;
	struct dripper d = {.t0 = now_ms()};
	d.fd = ctl_connect();
	static const char start[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"";
	assert_int_equal(send(d.fd, start, strlen(start), MSG_NOSIGNAL), (ssize_t)strlen(start));
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, drip, &d), 0);
	usleep(200000);
	int ms = timed_version();
	print_message("another client's answer after %d ms\n", ms);
	pthread_join(th, NULL);
	close(d.fd);
	print_message("the dripping client was closed after %llu ms\n", (unsigned long long)d.closed_after_ms);
	assert_true(ms >= 0 && ms < DEADLINE_MS / 2);
	assert_true(d.closed_after_ms > 0 && d.closed_after_ms < DEADLINE_MS + 500);
	assert_true(hnvmf_harness_log_wait(&H, "control socket: a request took longer than 1000 ms", 2000));
}

static void test_idle_clients_beyond_the_slots(void **state)
{
	(void)state;
	/* More silent clients than are served at once: the last wait in the backlog, and a real
	 * request behind them is answered once the first ones ran out of time. */
	enum { IDLE = 12 };
	int fds[IDLE];
	uint64_t t0 = now_ms();
	for (int i = 0; i < IDLE; i++)
		fds[i] = ctl_connect();
	int ms = timed_version();
	print_message("answer behind %d idle clients after %d ms\n", IDLE, ms);
	assert_true(ms >= 0 && ms < 2 * DEADLINE_MS + 500);
	/* And every idle one is closed by the daemon, none kept past its time. */
	for (int i = 0; i < IDLE; i++) {
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		int left = (int)(3 * DEADLINE_MS + 500 - (int)(now_ms() - t0));
		assert_int_equal(poll(&p, 1, left > 0 ? left : 0), 1);
		char c;
		assert_int_equal(recv(fds[i], &c, 1, 0), 0);
		close(fds[i]);
	}
}

/* The stream carries requests one after the other, with nothing between them: several in one
 * write, one split over several writes, each answered in order on the same connection. A
 * request that is not JSON, or longer than 1 MiB, is answered with its error and the connection
 * closed: where the next request would start cannot be known. */
static void test_stream_framing(void **state)
{
	(void)state;
	int fd = ctl_connect();
	struct timeval tv = {.tv_sec = 5};
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	static const char three[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hnvmf_get_version\"}"
				    "{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"method\":\"log_get_print_level\"}\n"
				    "{\"jsonrpc\":\"2.0\",\"id\":3,\"meth";
	assert_int_equal(send(fd, three, strlen(three), MSG_NOSIGNAL), (ssize_t)strlen(three));
	usleep(100000);
	static const char rest[] = "od\":\"nope\"}";
	assert_int_equal(send(fd, rest, strlen(rest), MSG_NOSIGNAL), (ssize_t)strlen(rest));
	char out[4096];
	size_t off = 0;
	for (int n = 0; n < 3;) {
		size_t got = read_answer(fd, out + off, sizeof(out) - off);
		assert_true(got > 0);
		for (size_t i = off; i < off + got; i++)
			n += out[i] == '\n';
		off += got;
	}
	const char *a1 = strstr(out, "\"id\":1,\"result\":{\"version\":");
	const char *a2 = strstr(out, "\"id\":\"two\",\"result\":\"info\"");
	const char *a3 = strstr(out, "\"id\":3,\"error\":{\"code\":-32601");
	assert_true(a1 && a2 && a3 && a1 < a2 && a2 < a3);
	/* not JSON: a parse error, then the end of the connection */
	assert_int_equal(send(fd, "version\n", 8, MSG_NOSIGNAL), 8);
	assert_true(read_answer(fd, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "\"id\":null,\"error\":{\"code\":-32700"));
	assert_int_equal(recv(fd, out, 1, 0), 0);
	close(fd);

	/* 1 MiB and more of one request (a string that never ends): refused, then closed */
	fd = ctl_connect();
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	static char big[(1 << 20) + 4096];
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"", 34);
	size_t sent = 0;
	while (sent < sizeof(big)) {
		ssize_t w = send(fd, big + sent, sizeof(big) - sent, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the daemon closed after refusing: the rest is unread */
		sent += (size_t)w;
	}
	assert_true(read_answer(fd, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "\"error\":{\"code\":-32600,\"message\":\"request too large"));
	char c;
	assert_true(recv(fd, &c, 1, 0) <= 0);
	close(fd);
	assert_true(timed_version() >= 0); /* and the daemon serves on */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dripping_client_is_cut_and_blocks_nobody),
		cmocka_unit_test(test_idle_clients_beyond_the_slots),
		cmocka_unit_test(test_stream_framing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
