/* The host's identity: the host NQN nvme-cli would use and a host ID derived from it. */
#include <ctype.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "tools/initiator/initiator.h"

static char generated[NVME_NQN_LENGTH];
static pthread_once_t generated_once = PTHREAD_ONCE_INIT;

static void generate(void)
{
	uint8_t u[16] = { 0 };
	if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
		u[0] = 1; /* still a valid, if poor, uuid */
	u[6] = (u[6] & 0x0f) | 0x40; /* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(generated, sizeof(generated),
		 "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

void hnvmf_ini_default_hostnqn(char *buf, size_t len)
{
	FILE *f = fopen("/etc/nvme/hostnqn", "re");
	if (f) {
		char line[NVME_NQN_LENGTH + 2] = "";
		bool ok = fgets(line, sizeof(line), f) != NULL;
		fclose(f);
		line[strcspn(line, " \t\r\n")] = 0;
		if (ok && strncmp(line, "nqn.", 4) == 0) {
			snprintf(buf, len, "%s", line);
			return;
		}
	}
	pthread_once(&generated_once, generate);
	snprintf(buf, len, "%s", generated);
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

int hnvmf_ini_uuid_parse(const char *s, uint8_t id[16])
{
	unsigned n = 0;
	const char *p = s;
	for (; *p && n < 32; p++) {
		if (*p == '-')
			continue;
		if (!isxdigit((unsigned char)*p))
			return -1;
		n++;
	}
	if (n < 32)
		return -1;
	unsigned k = 0;
	for (const char *q = s; k < 16; q++) {
		if (*q == '-')
			continue;
		id[k++] = (uint8_t)(hexval((unsigned char)q[0]) << 4 | hexval((unsigned char)q[1]));
		q++;
	}
	return (int)(p - s);
}

void hnvmf_ini_hostid_from_nqn(const char *hostnqn, uint8_t hostid[16])
{
	const char *u = strstr(hostnqn, "uuid:");
	if (u && hnvmf_ini_uuid_parse(u + 5, hostid) > 0)
		return;
	/* No uuid in the NQN: a stable ID from its hash. */
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_Digest(hostnqn, strlen(hostnqn), md, &mdlen, EVP_sha256(), NULL);
	memcpy(hostid, md, 16);
}
