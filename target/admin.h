/* target/ internal: admin-command pieces shared by the NVM controller (admin-cmd.c) and the
 * discovery controller (discovery.c). */
#ifndef HNVMF_ADMIN_H
#define HNVMF_ADMIN_H

#include "target/nvmf.h"

void hnvmf_admin_identify_ctrl(struct hnvmf_req *req);
void hnvmf_admin_set_features(struct hnvmf_req *req);
void hnvmf_admin_get_features(struct hnvmf_req *req);
void hnvmf_admin_keep_alive(struct hnvmf_req *req);
void hnvmf_admin_aer(struct hnvmf_req *req);
/* Set Features may carry data (Timestamp, Host Behavior): accept up to 4 KiB of it. */
void hnvmf_admin_set_features_data(struct hnvmf_req *req);

/* What the NVM and discovery controllers parse alike: the keep-alive refresh that any admin
 * command is, the CSTS.RDY gate, Identify and Get Log Page (with each controller's own handlers),
 * Set/Get Features, Keep Alive and Asynchronous Event Request. Returns true when it decided
 * (with *status, 0 when a handler was chosen). */
struct hnvmf_admin_handlers {
	void (*identify)(struct hnvmf_req *req);
	void (*get_log)(struct hnvmf_req *req);
};
bool hnvmf_admin_parse_common(struct hnvmf_req *req, const struct hnvmf_admin_handlers *h,
			      uint16_t *status);

/* Get Log Page: offset and length requested, and the copy of a log's window into the request. */
uint64_t hnvmf_log_offset(const struct hnvmf_req *req);
uint32_t hnvmf_log_len(const struct hnvmf_req *req);
void hnvmf_log_copy(struct hnvmf_req *req, const void *log, size_t total);

#endif
