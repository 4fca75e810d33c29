/* hnvmfctl: sends one command to hnvmfd's control socket and prints the answer.
 *   hnvmfctl [-s SOCKET] state | stats | sla | pqm | pqm-c N | reload | log-level [LEVEL] | version
 * Exit status: 0 when the daemon answered without "error:", 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/hnvmf/hnvmf.sock"

static int usage(void)
{
	fprintf(stderr, "usage: hnvmfctl [-s SOCKET] state | stats | sla | pqm | pqm-c N | reload | log-level [LEVEL] | version\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_SOCKET;
	int i = 1;
	if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
		path = argv[i + 1];
		i += 2;
	}
	if (i >= argc || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
		return usage();
	char line[512] = "";
	size_t off = 0;
	for (; i < argc; i++) {
		int n = snprintf(line + off, sizeof(line) - off, "%s%s", off ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - off - 1)
			return usage();
		off += (size_t)n;
	}
	line[off++] = '\n';

	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return usage();
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "hnvmfctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (write(fd, line, off) != (ssize_t)off) {
		fprintf(stderr, "hnvmfctl: write: %s\n", strerror(errno));
		return 1;
	}
	char buf[4096];
	ssize_t n;
	int failed = 0, first = 1;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (first && n >= 6 && strncmp(buf, "error:", 6) == 0)
			failed = 1;
		first = 0;
		fwrite(buf, 1, (size_t)n, stdout);
	}
	close(fd);
	return failed || first;
}
