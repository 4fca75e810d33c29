/* The control socket's text protocol (target/control.c): the input is one request as hnvmfctl
 * would send it ("state", "pqm-c N", "reload" ...), sent to the
 * real control thread of the fuzz environment's target over its unix socket; the answer is read
 * to the end. The control thread starts once per process (it is how the parser is reached:
 * there is no daemon, only the target library). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf/conf.h"
#include "target/control.h"
#include "target/nvmf.h"
#include "transport/transport.h"
#include "tests/fuzz/fuzz-env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hnvmf_control *ctl;
static char sock_dir[64], sock_path[108];

/* "reload": what hnvmfd does up to the swap (re-reading the tenants directory). */
static int reload(char *msg, size_t len)
{
	struct hnvmf_conf_tenant *t;
	size_t n;
	if (hnvmf_conf_load_tenants(fuzz_env_tgt()->conf, &t, &n, msg, len) != 0)
		return -1;
	hnvmf_conf_free_tenants(t, n);
	return 0;
}

static void stop(void)
{
	hnvmf_control_stop(ctl); /* removes the socket */
	rmdir(sock_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_env_init();
	if (!ctl) {
		snprintf(sock_dir, sizeof(sock_dir), "/tmp/hnvmf-fuzz-ctl-XXXXXX");
		if (!mkdtemp(sock_dir))
			abort();
		snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", sock_dir);
		/* As in hnvmfd: SIGPIPE is blocked in every thread, so the control thread's write to a
		 * client that left fails with EPIPE instead of killing the process. */
		sigset_t pipe;
		sigemptyset(&pipe);
		sigaddset(&pipe, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &pipe, NULL);
		/* "stats": the TCP transport's request counts, as hnvmfd answers it. */
		if (hnvmf_control_start(fuzz_env_tgt(), sock_path, reload, hnvmf_tcp_transport.describe_requests,
					&ctl) != 0)
			abort();
		atexit(stop);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		abort();
	/* The request, then end of stream: the server never waits for more than was sent. */
	for (size_t off = 0; off < size;) {
		ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) /* libFuzzer's timeout timer (SIGALRM) */
			continue;
		if (n <= 0)
			break; /* the server read its line, answered and closed: the rest is unread */
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		;
	close(fd);
	return 0;
}
