/* Names of NVMe completion statuses, as the NVMe Base and NVMe over Fabrics specifications
 * write them ("Invalid Field in Command", "LBA Out of Range", "Connect Invalid Host"), for
 * messages of the target and of the hosts: one table for the whole project. */
#ifndef HNVMF_NVME_STATUS_H
#define HNVMF_NVME_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The name of a status field value (phase bit removed; DNR, More and CRD are ignored), or NULL
 * when the table does not know it. Command-specific codes 80h-9Fh mean one thing for a Fabrics
 * command (Connect, Property Get/Set, Authentication) and another for an I/O command: fabrics
 * selects the Fabrics meaning. */
const char *hnvmf_status_name(uint16_t status, bool fabrics);
/* "Name (SCT 0xT SC 0xCC[, DNR])", or "SCT 0xT SC 0xCC[, DNR]" for an unknown code, into buf;
 * returns buf. */
const char *hnvmf_status_str(uint16_t status, bool fabrics, char *buf, size_t len);

#endif
