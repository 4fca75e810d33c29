/* Write a pattern, read it back, compare: the data-integrity check shared by hnvmf-perf verify
 * and the integration tests, driven through the asynchronous API on every I/O queue. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "tools/initiator/initiator.h"

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static void block_fill(uint64_t *w, uint32_t words, uint64_t lba, uint64_t seed)
{
	uint64_t x = splitmix64(seed ^ (lba * 0xD6E8FEB86659FD93ull));
	w[0] = lba;
	for (uint32_t i = 1; i < words; i++) {
		x = splitmix64(x);
		w[i] = x;
	}
}

void hnvmf_ini_pattern_fill(void *buf, uint32_t len, uint64_t lba, uint32_t lba_size, uint64_t seed)
{
	for (uint32_t off = 0; off < len; off += lba_size, lba++)
		block_fill((uint64_t *)((uint8_t *)buf + off), lba_size / 8, lba, seed);
}

uint64_t hnvmf_ini_pattern_check(const void *buf, uint32_t len, uint64_t lba, uint32_t lba_size,
				 uint64_t seed, uint64_t *first_bad)
{
	uint64_t bad = 0;
	uint64_t *want = malloc(lba_size);
	if (!want)
		return len / lba_size;
	for (uint32_t off = 0; off < len; off += lba_size, lba++) {
		block_fill(want, lba_size / 8, lba, seed);
		if (memcmp(want, (const uint8_t *)buf + off, lba_size)) {
			if (!bad && first_bad)
				*first_bad = lba;
			bad++;
		}
	}
	free(want);
	return bad;
}

struct vjob {
	struct hnvmf_ini_io io;
	struct vrun *run;
	uint64_t lba;
	uint32_t nlb;
	bool busy;
	void *buf;
};

struct vrun {
	const struct hnvmf_ini_verify_opts *o;
	struct hnvmf_ini_verify_result *res;
	uint64_t next_lba, end_lba;
	unsigned inflight;
	bool writing;
};

static void vjob_done(struct hnvmf_ini_io *io)
{
	struct vjob *j = io->arg;
	struct vrun *v = j->run;
	j->busy = false;
	v->inflight--;
	if (io->status) {
		if (!v->res->status)
			v->res->status = io->status;
		return;
	}
	if (v->writing) {
		v->res->writes++;
		return;
	}
	v->res->reads++;
	uint64_t first = 0;
	uint64_t bad = hnvmf_ini_pattern_check(j->buf, j->nlb * v->o->lba_size, j->lba, v->o->lba_size,
					       v->o->seed, &first);
	if (bad && !v->res->bad_blocks)
		v->res->first_bad_lba = first;
	v->res->bad_blocks += bad;
}

static int vjob_submit(struct hnvmf_ini_queue *q, struct vjob *j, struct vrun *v)
{
	const struct hnvmf_ini_verify_opts *o = v->o;
	uint64_t left = v->end_lba - v->next_lba;
	uint32_t max_nlb = o->io_size / o->lba_size;
	j->run = v;
	j->lba = v->next_lba;
	j->nlb = left < max_nlb ? (uint32_t)left : max_nlb;
	uint32_t len = j->nlb * o->lba_size;
	memset(&j->io, 0, sizeof(j->io));
	hnvmf_sqe_rw(&j->io.sqe, v->writing, o->nsid, j->lba, j->nlb);
	j->io.data = j->buf;
	j->io.len = len;
	j->io.dir = v->writing ? HNVMF_INI_TO_CTRL : HNVMF_INI_FROM_CTRL;
	j->io.done = vjob_done;
	j->io.arg = j;
	if (v->writing)
		hnvmf_ini_pattern_fill(j->buf, len, j->lba, o->lba_size, o->seed);
	else
		memset(j->buf, 0xA5, len); /* stale buffer contents must not pass the check */
	int r = hnvmf_ini_submit(q, &j->io);
	if (r)
		return r;
	j->busy = true;
	v->inflight++;
	v->next_lba += j->nlb;
	return 0;
}

static int run_phase(struct hnvmf_ini_ctrl *c, struct vjob *jobs, struct vrun *v)
{
	const struct hnvmf_ini_verify_opts *o = v->o;
	int tmo = o->timeout_ms > 0 ? o->timeout_ms : HNVMF_INI_TIMEOUT_MS;
	uint64_t last_progress = hnvmf_ini_now_ns();
	v->next_lba = o->slba;
	v->end_lba = o->slba + o->nblocks;
	while ((v->next_lba < v->end_lba && !v->res->status) || v->inflight) {
		int progress = 0;
		for (unsigned qi = 0; qi < c->nr_io; qi++) {
			struct hnvmf_ini_queue *q = c->io[qi];
			for (unsigned k = 0; k < o->qd && v->next_lba < v->end_lba && !v->res->status; k++) {
				struct vjob *j = &jobs[qi * o->qd + k];
				if (j->busy)
					continue;
				int r = vjob_submit(q, j, v);
				if (r == -EBUSY)
					break;
				if (r)
					return v->res->status = r;
			}
			int r = hnvmf_ini_queue_process(q);
			if (r < 0)
				return v->res->status = r; /* its commands completed with r */
			progress += r;
		}
		uint64_t now = hnvmf_ini_now_ns();
		if (progress) {
			last_progress = now;
			continue;
		}
		if (now - last_progress > (uint64_t)tmo * 1000000ull)
			return v->res->status = -ETIMEDOUT; /* the queues still own the jobs: caller closes */
		struct pollfd pf[64];
		unsigned n = c->nr_io < 64 ? c->nr_io : 64;
		for (unsigned qi = 0; qi < n; qi++) {
			pf[qi].fd = hnvmf_ini_queue_fd(c->io[qi]);
			pf[qi].events = POLLIN | (hnvmf_ini_queue_send_pending(c->io[qi]) ? POLLOUT : 0);
		}
		poll(pf, n, 10);
		int ka = hnvmf_ini_keep_alive_if_due(c);
		if (ka)
			return v->res->status = ka;
	}
	return v->res->status;
}

int hnvmf_ini_verify(struct hnvmf_ini_ctrl *c, const struct hnvmf_ini_verify_opts *o,
		     struct hnvmf_ini_verify_result *res)
{
	memset(res, 0, sizeof(*res));
	if (!c->nr_io || !o->qd || !o->lba_size || o->lba_size % 8 || o->io_size < o->lba_size ||
	    o->io_size % o->lba_size)
		return -EINVAL;
	unsigned njobs = c->nr_io * o->qd;
	struct vjob *jobs = calloc(njobs, sizeof(*jobs));
	if (!jobs)
		return -ENOMEM;
	int r = 0;
	for (unsigned i = 0; i < njobs && !r; i++) {
		jobs[i].buf = aligned_alloc(4096, (o->io_size + 4095) / 4096 * 4096);
		if (!jobs[i].buf)
			r = -ENOMEM;
	}
	struct vrun v = { .o = o, .res = res };
	if (!r && o->write) {
		v.writing = true;
		r = run_phase(c, jobs, &v);
	}
	if (!r && o->read) {
		v.writing = false;
		r = run_phase(c, jobs, &v);
	}
	if (r && v.inflight) {
		/* The queues still reference the jobs: fail them before the buffers go. */
		for (unsigned qi = 0; qi < c->nr_io; qi++)
			hnvmf_ini_queue_close(c->io[qi]);
		c->nr_io = 0;
	}
	for (unsigned i = 0; i < njobs; i++)
		free(jobs[i].buf);
	free(jobs);
	if (r)
		return r < 0 ? r : -EIO;
	return res->bad_blocks ? -EIO : 0;
}
