// SPDX-License-Identifier: GPL-2.0
/*
 * hbmon-listen - the health monitor's receiver of hbmon layer-2 event frames
 *
 *   hbmon-listen -i IFACE [--ethertype 0x88B5] [--strict] [--count N]
 *                [--timeout S] [--type hang,crash,...] [--pid PID] [--outgoing]
 *
 * Opens a packet socket on IFACE, filtered on the ethertype, and prints one
 * JSON object per event frame on stdout (line-buffered). Frames that are not
 * valid hbmon frames are reported on stderr and skipped; with --strict the
 * first one ends the program with exit status 2.
 *
 * Exit status: 0 after --count events, on SIGINT/SIGTERM, or at --timeout
 * when no --count was given; 1 on an error; 2 on a malformed frame with
 * --strict; 3 when --timeout expired before --count events arrived.
 *
 * Needs CAP_NET_RAW. See PROTOCOL.md for the frame.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hbmon.h"

static const char *prog = "hbmon-listen";
static volatile sig_atomic_t stop;

static const char *const type_names[] = {
	[HBMON_EV_REGISTER]	= "REGISTER",
	[HBMON_EV_UNREGISTER]	= "UNREGISTER",
	[HBMON_EV_HANG]		= "HANG",
	[HBMON_EV_RECOVERED]	= "RECOVERED",
	[HBMON_EV_CRASH]	= "CRASH",
	[HBMON_EV_DATA]		= "DATA",
};
#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s -i IFACE [--ethertype 0x88B5] [--strict] [--count N] [--timeout S]\n"
		"       [--type TYPE[,TYPE...]] [--pid PID] [--outgoing]\n"
		"  --type      only print (and count) these event types: register, unregister,\n"
		"              hang, recovered, crash, data\n"
		"  --pid       only print (and count) events of this registrant pid\n"
		"  --outgoing  also see frames this host sends on IFACE\n",
		prog);
}

/* JSON string of at most @max bytes of @s (stops at NUL). */
static void json_str(const char *key, const char *s, size_t max)
{
	size_t i;

	printf("\"%s\":\"", key);
	for (i = 0; i < max && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch > 0x7e)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	printf("\"");
}

static void mac_str(char *buf, const unsigned char *m)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* fields of a packed struct: never through a typed pointer */
static uint64_t get64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static uint32_t get32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return ntohl(v);
}

static int has_nul(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

/* NULL when valid, else why not. */
static const char *check_frame(const unsigned char *pkt, ssize_t len, uint16_t ethertype)
{
	const struct hbmon_frame *f = (const void *)(pkt + ETH_HLEN);
	struct hbmon_frame copy;
	uint16_t flen;

	if (len < ETH_HLEN)
		return "shorter than an ethernet header";
	if (((pkt[12] << 8) | pkt[13]) != ethertype)
		return "wrong ethertype";
	if (len < ETH_HLEN + HBMON_FRAME_LEN)
		return "shorter than an hbmon frame";
	memcpy(&copy, f, sizeof(copy));
	if (get32(&copy.magic) != HBMON_FRAME_MAGIC)
		return "bad magic";
	if (copy.version != HBMON_FRAME_VERSION)
		return "unknown version";
	flen = ntohs(copy.length);
	if (flen < HBMON_FRAME_LEN || flen > len - ETH_HLEN)
		return "bad length";
	if (copy.type == 0 || copy.type >= NTYPES)
		return "unknown event type";
	if (!has_nul(copy.comm, sizeof(copy.comm)) || !has_nul(copy.name, sizeof(copy.name)))
		return "unterminated comm or name";
	if (get64(&copy.seq) == 0)
		return "sequence number 0";
	return NULL;
}

static void print_frame(const unsigned char *pkt, const struct sockaddr_ll *sll)
{
	struct hbmon_frame f;
	struct timespec now;
	char src[18], dst[18];
	const unsigned char *b;

	memcpy(&f, pkt + ETH_HLEN, sizeof(f));
	mac_str(dst, pkt);
	mac_str(src, pkt + 6);
	b = f.boot_id;
	clock_gettime(CLOCK_REALTIME, &now);

	printf("{\"type\":\"%s\",\"type_id\":%u,\"seq\":%" PRIu64 ",",
	       type_names[f.type], f.type, get64(&f.seq));
	printf("\"boot_id\":\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\",",
	       b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	       b[10], b[11], b[12], b[13], b[14], b[15]);
	json_str("hostname", f.hostname, sizeof(f.hostname));
	printf(",\"id\":%" PRIu64 ",\"pid\":%" PRIu32 ",", get64(&f.reg_id), get32(&f.pid));
	json_str("comm", f.comm, sizeof(f.comm));
	putchar(',');
	json_str("name", f.name, sizeof(f.name));
	printf(",\"timeout_ms\":%" PRIu32 ",\"time_real_ns\":%" PRIu64
	       ",\"time_boot_ns\":%" PRIu64 ",\"since_beat_ms\":%" PRIu64
	       ",\"value\":%" PRId64 ",\"beats\":%" PRIu64 ",\"misses\":%" PRIu64
	       ",\"actions\":%" PRIu32 ",\"signal\":%" PRIu32,
	       get32(&f.timeout_ms), get64(&f.time_real_ns), get64(&f.time_boot_ns),
	       get64(&f.since_beat_ms), (int64_t)get64(&f.value), get64(&f.beats),
	       get64(&f.misses), get32(&f.actions), get32(&f.signal));
	printf(",\"src\":\"%s\",\"dst\":\"%s\",\"outgoing\":%s,\"recv_real_ns\":%" PRIu64 "}\n",
	       src, dst, sll->sll_pkttype == PACKET_OUTGOING ? "true" : "false",
	       (uint64_t)((uint64_t)now.tv_sec * 1000000000U + (uint64_t)now.tv_nsec));
}

static int parse_types(const char *arg, unsigned int *mask)
{
	char *s = strdup(arg), *tok, *save = NULL;
	size_t i;

	if (!s)
		return -1;
	*mask = 0;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 1; i < NTYPES; i++)
			if (!strcasecmp(tok, type_names[i]))
				break;
		if (i == NTYPES) {
			fprintf(stderr, "%s: unknown event type: %s\n", prog, tok);
			free(s);
			return -1;
		}
		*mask |= 1U << i;
	}
	free(s);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "ethertype", required_argument, NULL, 'e' },
		{ "strict", no_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "type", required_argument, NULL, 'T' },
		{ "pid", required_argument, NULL, 'p' },
		{ "outgoing", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *iface = NULL;
	unsigned long ethertype = HBMON_ETHERTYPE, count = 0, seen = 0, malformed = 0;
	unsigned int types = ~0U;
	long want_pid = -1;
	double timeout = -1;
	int strict = 0, outgoing = 0, fd, c;
	struct timespec start;
	struct sockaddr_ll sll;
	struct sigaction sa;
	unsigned char pkt[2048];
	char *end;

	while ((c = getopt_long(argc, argv, "i:e:sc:t:T:p:oh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			iface = optarg;
			break;
		case 'e':
			ethertype = strtoul(optarg, &end, 0);
			if (*end || ethertype < 0x600 || ethertype > 0xffff) {
				fprintf(stderr, "%s: bad ethertype: %s\n", prog, optarg);
				return 1;
			}
			break;
		case 's':
			strict = 1;
			break;
		case 'c':
			count = strtoul(optarg, &end, 10);
			if (*end || !*optarg) {
				fprintf(stderr, "%s: bad count: %s\n", prog, optarg);
				return 1;
			}
			break;
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || !*optarg || timeout < 0) {
				fprintf(stderr, "%s: bad timeout: %s\n", prog, optarg);
				return 1;
			}
			break;
		case 'T':
			if (parse_types(optarg, &types))
				return 1;
			break;
		case 'p':
			want_pid = strtol(optarg, &end, 10);
			if (*end || !*optarg || want_pid < 0) {
				fprintf(stderr, "%s: bad pid: %s\n", prog, optarg);
				return 1;
			}
			break;
		case 'o':
			outgoing = 1;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 1;
		}
	}
	if (!iface || optind != argc) {
		usage();
		return 1;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* Protocol 0: no frame is queued before bind(), i.e. before the filter. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return 1;
	}
	{
		/* accept when the ethertype at offset 12 matches */
		struct sock_filter code[] = {
			BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ethertype, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, 0xffff),
			BPF_STMT(BPF_RET | BPF_K, 0),
		};
		struct sock_fprog fprog = { .len = 4, .filter = code };

		if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0) {
			fprintf(stderr, "%s: SO_ATTACH_FILTER: %s\n", prog, strerror(errno));
			return 1;
		}
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	/* bound to the ethertype the kernel filters; ETH_P_ALL also sees our own */
	sll.sll_protocol = htons(outgoing ? ETH_P_ALL : (uint16_t)ethertype);
	sll.sll_ifindex = (int)if_nametoindex(iface);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "%s: no interface %s\n", prog, iface);
		return 1;
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "%s: bind %s: %s\n", prog, iface, strerror(errno));
		return 1;
	}
	fprintf(stderr, "%s: listening on %s for ethertype 0x%04lx\n", prog, iface, ethertype);
	clock_gettime(CLOCK_MONOTONIC, &start);

	while (!stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		const char *why;
		int wait_ms = -1;
		ssize_t n;
		int r;

		if (timeout >= 0) {
			struct timespec now;
			double left;

			clock_gettime(CLOCK_MONOTONIC, &now);
			left = timeout * 1e3 - ((now.tv_sec - start.tv_sec) * 1e3 +
						(now.tv_nsec - start.tv_nsec) / 1e6);
			if (left <= 0)
				break;
			wait_ms = left > 1e9 ? 1000000000 : (int)left + 1;
		}
		r = poll(&pfd, 1, wait_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			return 1;
		}
		if (r == 0)
			continue;

		n = recvfrom(fd, pkt, sizeof(pkt), MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "%s: recvfrom: %s\n", prog, strerror(errno));
			return 1;
		}
		if (from.sll_pkttype == PACKET_OUTGOING && !outgoing)
			continue;
		if (n > (ssize_t)sizeof(pkt))
			n = sizeof(pkt);	/* longer than any hbmon frame: checked below */
		why = check_frame(pkt, n, (uint16_t)ethertype);
		if (why) {
			char src[18];

			if (n < ETH_HLEN)
				strcpy(src, "?");
			else
				mac_str(src, pkt + 6);
			malformed++;
			fprintf(stderr, "%s: malformed frame from %s (%zd bytes): %s\n",
				prog, src, n, why);
			if (strict)
				return 2;
			continue;
		}
		{
			const struct hbmon_frame *f = (const void *)(pkt + ETH_HLEN);
			__be32 pid;

			if (!(types & (1U << f->type)))
				continue;
			memcpy(&pid, &f->pid, sizeof(pid));
			if (want_pid >= 0 && ntohl(pid) != (uint32_t)want_pid)
				continue;
		}
		print_frame(pkt, &from);
		seen++;
		if (count && seen >= count)
			return 0;
	}
	if (!stop && count && seen < count) {
		fprintf(stderr, "%s: timeout after %lu of %lu events\n", prog, seen, count);
		return 3;
	}
	return 0;
}
