/* hnvmf-perf entry point: parse, dispatch to the subcommand. */
#include <signal.h>
#include <stdio.h>

#include "tools/perf/perf.h"

int main(int argc, char **argv)
{
	static struct perf_opts o; /* large: 64 host NQNs */
	char err[256];
	int r = perf_parse_args(argc, argv, &o, err, sizeof(err));
	if (r > 0)
		return 0;
	if (r < 0) {
		fprintf(stderr, "hnvmf-perf: %s\n", err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	switch (o.cmd) {
	case PERF_DISCOVER:
		return perf_cmd_discover(&o);
	case PERF_IDENTIFY:
		return perf_cmd_identify(&o);
	case PERF_READ:
		return perf_cmd_read(&o);
	case PERF_WRITE:
		return perf_cmd_write(&o);
	case PERF_VERIFY:
		return perf_cmd_verify(&o);
	case PERF_PERF:
		return perf_cmd_perf(&o);
	}
	return 2;
}
