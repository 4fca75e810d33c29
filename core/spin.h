/* Adaptive idle spin: whether a thread that just ran out of work polls for more before it sleeps.
 *
 * Spinning after the last work pays only when the next work comes within the spin window: then
 * it saves the wake-up (an eventfd write by the sender, a context switch and the sleeper's
 * return from poll/epoll). When the gaps between works are longer than the window every spin is
 * wasted CPU, and with several threads on one CPU their yielding spins hand the CPU from spinner
 * to spinner: at 10 % load the daemon burned its whole core (issue 13). So each polling thread
 * keeps one of these, owned by that thread alone (no atomics), and asks it once per idle period:
 *
 *   at the first idle turn after work:   spinning = hnvmf_spin_begin(&sp);
 *   on each idle turn:                    if (spinning && idle_ns < sp.window_ns) poll on
 *                                         else sleep
 *   at the first work after an idle turn: hnvmf_spin_end(&sp, gap_ns)   (gap: last work to now)
 *
 * An idle period is a hit when it ended within the window. The thread spins while at least
 * HNVMF_SPIN_MIN_HITS of the last 8 recorded periods were hits; otherwise it sleeps at once,
 * except that every HNVMF_SPIN_PROBE-th idle period spins anyway (a probe), so that a rising
 * load is noticed. Only spun periods are recorded: a slept period's length includes the
 * wake-up, which may itself be longer than the window, so it does not say whether a spin would
 * have caught the work (and recording only its hits would bias the history towards spinning).
 * A fresh policy starts with all hits: it spins as the fixed spin did until the load says
 * otherwise. Cost: a few integer operations per idle period. */
#ifndef HNVMF_CORE_SPIN_H
#define HNVMF_CORE_SPIN_H

#include <stdbool.h>
#include <stdint.h>

#define HNVMF_SPIN_MIN_HITS 4 /* of the last 8 recorded idle periods */
#define HNVMF_SPIN_PROBE 8    /* while sleeping at once, spin one idle period in this many */

struct hnvmf_spin {
	uint64_t window_ns; /* idle_spin_us; 0: never spin */
	uint8_t hist;       /* the last 8 recorded idle periods, newest in bit 0: 1 = hit */
	uint8_t skipped;    /* idle periods slept at once since the last spin */
	bool spun;          /* the current idle period spins */
};

static inline void hnvmf_spin_init(struct hnvmf_spin *sp, uint64_t window_ns)
{
	sp->window_ns = window_ns;
	sp->hist = 0xff;
	sp->skipped = 0;
	sp->spun = false;
}

/* Whether spinning pays off now: at least HNVMF_SPIN_MIN_HITS hits among the last 8. */
static inline bool hnvmf_spin_paying(const struct hnvmf_spin *sp)
{
	return __builtin_popcount(sp->hist) >= HNVMF_SPIN_MIN_HITS;
}

/* Called once, at the first idle turn after work: true if this idle period spins. */
static inline bool hnvmf_spin_begin(struct hnvmf_spin *sp)
{
	sp->spun = false;
	if (!sp->window_ns)
		return false;
	if (hnvmf_spin_paying(sp) || ++sp->skipped >= HNVMF_SPIN_PROBE) {
		sp->skipped = 0;
		sp->spun = true;
	}
	return sp->spun;
}

/* Called at the first work after an idle period that began gap_ns after the last work. */
static inline void hnvmf_spin_end(struct hnvmf_spin *sp, uint64_t gap_ns)
{
	if (sp->spun)
		sp->hist = (uint8_t)(sp->hist << 1 | (gap_ns < sp->window_ns));
	sp->spun = false;
}

#endif
