/* read, write and verify: single synchronous transfers and the pattern check. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/perf/perf.h"

static void hexdump(const uint8_t *b, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		printf("%08zx ", off);
		for (size_t i = 0; i < 16; i++)
			printf(off + i < n ? " %02x" : "   ", off + i < n ? b[off + i] : 0);
		printf("  |");
		for (size_t i = 0; i < 16 && off + i < n; i++)
			putchar(isprint(b[off + i]) ? b[off + i] : '.');
		printf("|\n");
	}
}

/* Connects one I/O queue and looks up the namespace; checks the range. */
static int setup_io(const struct perf_opts *o, struct hnvmf_ini_ctrl **c, struct hnvmf_ini_ns_info *ni,
		    size_t *len)
{
	if (perf_connect(o, 0, o->subnqn, 1, 4, c))
		return -1;
	char sb[96];
	int r = hnvmf_ini_ns_info(*c, o->nsid, ni);
	if (r) {
		fprintf(stderr, "hnvmf-perf: namespace %u: %s\n", o->nsid, hnvmf_ini_status_str(r, sb, sizeof(sb)));
		return -1;
	}
	if (o->count > UINT32_MAX / ni->lba_size || o->count > 65536) {
		fprintf(stderr, "hnvmf-perf: --count %" PRIu64 " is too large for one command\n", o->count);
		return -1;
	}
	*len = o->count * ni->lba_size;
	return 0;
}

static int do_rw(const struct perf_opts *o, bool write)
{
	struct hnvmf_ini_ctrl *c = NULL;
	struct hnvmf_ini_ns_info ni;
	size_t len;
	uint8_t *buf = NULL;
	int ret = 1;
	char sb[96];
	if (setup_io(o, &c, &ni, &len))
		goto out;
	buf = calloc(1, len);
	if (!buf)
		goto out;
	if (write) {
		memset(buf, o->pattern, len);
		if (o->data_file[0]) {
			FILE *f = fopen(o->data_file, "rb");
			if (!f) {
				fprintf(stderr, "hnvmf-perf: %s: %s\n", o->data_file, strerror(errno));
				goto out;
			}
			memset(buf, 0, len);
			size_t got = fread(buf, 1, len, f);
			fclose(f);
			if (got < len)
				fprintf(stderr, "hnvmf-perf: %s: %zu bytes, the rest of the %zu written as zeros\n",
					o->data_file, got, len);
		}
		int r = hnvmf_ini_write(c, 0, o->nsid, o->slba, (uint32_t)o->count, buf, (uint32_t)len);
		if (r) {
			fprintf(stderr, "hnvmf-perf: write: %s\n", hnvmf_ini_status_str(r, sb, sizeof(sb)));
			goto out;
		}
		printf("wrote %zu bytes at lba %" PRIu64 "\n", len, o->slba);
	} else {
		int r = hnvmf_ini_read(c, 0, o->nsid, o->slba, (uint32_t)o->count, buf, (uint32_t)len);
		if (r) {
			fprintf(stderr, "hnvmf-perf: read: %s\n", hnvmf_ini_status_str(r, sb, sizeof(sb)));
			goto out;
		}
		if (o->data_file[0]) {
			FILE *f = fopen(o->data_file, "wb");
			if (!f || fwrite(buf, 1, len, f) != len) {
				fprintf(stderr, "hnvmf-perf: %s: %s\n", o->data_file, strerror(errno));
				if (f)
					fclose(f);
				goto out;
			}
			fclose(f);
		} else {
			hexdump(buf, len);
		}
	}
	ret = 0;
out:
	free(buf);
	if (c && perf_disconnect(c))
		ret = 1;
	return ret;
}

int perf_cmd_read(const struct perf_opts *o) { return do_rw(o, false); }
int perf_cmd_write(const struct perf_opts *o) { return do_rw(o, true); }

static int verify_ns(const struct perf_opts *o, struct hnvmf_ini_ctrl *c, uint32_t nsid)
{
	char sb[96];
	struct hnvmf_ini_ns_info ni;
	int r = hnvmf_ini_ns_info(c, nsid, &ni);
	if (r) {
		fprintf(stderr, "hnvmf-perf: namespace %u: %s\n", nsid, hnvmf_ini_status_str(r, sb, sizeof(sb)));
		return 1;
	}
	uint64_t count = o->count;
	if (!count) {
		count = (64ull << 20) / ni.lba_size;
		if (o->slba >= ni.nsze)
			count = 1; /* let the target report the range error */
		else if (count > ni.nsze - o->slba)
			count = ni.nsze - o->slba;
	}
	if (o->io_size % ni.lba_size) {
		fprintf(stderr, "hnvmf-perf: --io-size %u is not a multiple of the %u-byte block\n",
			o->io_size, ni.lba_size);
		return 1;
	}
	uint64_t mdts = hnvmf_ini_max_transfer(c);
	if (mdts && o->io_size > mdts) {
		fprintf(stderr, "hnvmf-perf: --io-size %u exceeds the controller's largest transfer (%" PRIu64 " bytes, MDTS)\n",
			o->io_size, mdts);
		return 1;
	}
	struct hnvmf_ini_verify_opts vo = {
		.nsid = nsid, .slba = o->slba, .nblocks = count, .lba_size = ni.lba_size,
		.io_size = o->io_size, .qd = o->qd, .seed = o->seed, .write = true, .read = true,
		.timeout_ms = o->timeout_ms,
	};
	struct hnvmf_ini_verify_result res;
	uint64_t t0 = hnvmf_ini_now_ns();
	r = hnvmf_ini_verify(c, &vo, &res);
	double s = (double)(hnvmf_ini_now_ns() - t0) / 1e9;
	printf("nsid %u: lba %" PRIu64 "+%" PRIu64 " (%u-byte blocks), %u-byte I/O, %u queue(s) x qd %u: "
	       "%" PRIu64 " writes, %" PRIu64 " reads, %" PRIu64 " bad blocks, %.2f s\n",
	       nsid, o->slba, count, ni.lba_size, o->io_size, c->nr_io, o->qd, res.writes, res.reads,
	       res.bad_blocks, s);
	if (res.bad_blocks)
		printf("nsid %u: first bad block at lba %" PRIu64 "\n", nsid, res.first_bad_lba);
	if (res.status)
		printf("nsid %u: command failed: %s\n", nsid, hnvmf_ini_status_str(res.status, sb, sizeof(sb)));
	return r ? 1 : 0;
}

int perf_cmd_verify(const struct perf_opts *o)
{
	struct hnvmf_ini_ctrl *c;
	if (perf_connect(o, 0, o->subnqn, o->queues, o->qd, &c))
		return 1;
	int ret = 0;
	if (c->nr_io < o->queues)
		printf("hnvmf-perf: %u of %u I/O queues granted\n", c->nr_io, o->queues);
	if (o->nsid) {
		ret = verify_ns(o, c, o->nsid);
	} else {
		uint32_t nsids[1024];
		unsigned n = 0;
		char sb[96];
		int r = hnvmf_ini_active_ns(c, nsids, 1024, &n);
		if (r || !n) {
			fprintf(stderr, "hnvmf-perf: no active namespace (%s)\n",
				r ? hnvmf_ini_status_str(r, sb, sizeof(sb)) : "empty list");
			ret = 1;
		}
		for (unsigned i = 0; i < n && c->nr_io; i++)
			ret |= verify_ns(o, c, nsids[i]);
	}
	if (perf_disconnect(c))
		ret = 1;
	printf("verify: %s\n", ret ? "FAILED" : "OK");
	return ret;
}
