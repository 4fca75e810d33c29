/* Intrusive doubly linked list (circular, with a head node). */
#ifndef HNVMF_LIST_H
#define HNVMF_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct hnvmf_list {
	struct hnvmf_list *prev, *next;
};

#define HNVMF_LIST_INIT(name) { &(name), &(name) }
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void hnvmf_list_init(struct hnvmf_list *h) { h->prev = h->next = h; }
static inline bool hnvmf_list_empty(const struct hnvmf_list *h) { return h->next == h; }
static inline void hnvmf_list_add_tail(struct hnvmf_list *h, struct hnvmf_list *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}
/* Moves every entry of from, in order, to the tail of h; from is left empty. */
static inline void hnvmf_list_splice_tail(struct hnvmf_list *h, struct hnvmf_list *from)
{
	if (hnvmf_list_empty(from))
		return;
	from->next->prev = h->prev;
	h->prev->next = from->next;
	from->prev->next = h;
	h->prev = from->prev;
	hnvmf_list_init(from);
}
/* Moves the entries of from up to and including last (one of them), in order, to right after
 * pos (an entry of another list). */
static inline void hnvmf_list_splice_front_after(struct hnvmf_list *pos, struct hnvmf_list *from,
						 struct hnvmf_list *last)
{
	struct hnvmf_list *first = from->next;
	from->next = last->next;
	last->next->prev = from;
	last->next = pos->next;
	pos->next->prev = last;
	pos->next = first;
	first->prev = pos;
}
static inline void hnvmf_list_del(struct hnvmf_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}
#define hnvmf_list_for_each_safe(pos, tmp, head)                                                   \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
