/* The wait list of a channel (core/path.h): ios that found no room wait here in FIFO order and
 * are pushed again from a poller of the channel's reactor. */
#include "core/path.h"

/* Pushes waiting ios in order until the owner's push refuses one; returns how many it took.
 * io->next is read before the push: once pushed, the io belongs to its consumer (an I/O server
 * thread may already have linked it into a list of its own, or a backend refused it and the
 * owner linked it into its failed list). */
unsigned hnvmf_waitq_retry(struct hnvmf_waitq *w)
{
	unsigned n = 0;
	while (w->head) {
		struct hnvmf_io *io = w->head, *next = io->next;
		if (!w->push(w, io))
			break;
		w->head = next;
		n++;
	}
	if (!w->head)
		w->tail = NULL;
	return n;
}

/* The waitq's own poller: present only while ios wait. */
static int waitq_poll(struct hnvmf_poller *p)
{
	struct hnvmf_waitq *w = container_of(p, struct hnvmf_waitq, poller);
	int work = (int)hnvmf_waitq_retry(w);
	if (!w->head) {
		hnvmf_reactor_del_poller(w->reactor, &w->poller);
		w->poller_on = false;
	}
	return work + 1;
}

void hnvmf_waitq_init(struct hnvmf_waitq *w, bool (*push)(struct hnvmf_waitq *w, struct hnvmf_io *io),
		      struct hnvmf_reactor *own_poller)
{
	*w = (struct hnvmf_waitq){.push = push, .reactor = own_poller, .poller.fn = waitq_poll};
}

void hnvmf_waitq_submit(struct hnvmf_waitq *w, struct hnvmf_io *io)
{
	io->next = NULL;
	if (!w->head && w->push(w, io))
		return;
	if (w->tail)
		w->tail->next = io;
	else
		w->head = io;
	w->tail = io;
	if (w->reactor && !w->poller_on) {
		w->poller_on = true;
		hnvmf_reactor_add_poller(w->reactor, &w->poller);
	}
}

void hnvmf_waitq_stop(struct hnvmf_waitq *w)
{
	if (w->poller_on)
		hnvmf_reactor_del_poller(w->reactor, &w->poller);
	w->poller_on = false;
}
