#include "transport/transport.h"

#include <stddef.h>

const struct hnvmf_transport_ops *hnvmf_transport_get(enum hnvmf_trtype t)
{
	switch (t) {
	case HNVMF_TRTYPE_TCP:
		return &hnvmf_tcp_transport;
	case HNVMF_TRTYPE_RDMA:
#ifdef HNVMF_WITH_RDMA
		return &hnvmf_rdma_transport;
#else
		return NULL; /* built without libibverbs/librdmacm (HNVMF_RDMA) */
#endif
	}
	return NULL;
}
