// SPDX-License-Identifier: GPL-2.0
/*
 * hbbench - what a heartbeat costs, how late a hang is noticed, and what
 * watching costs when nothing hangs: hbmon against systemd's watchdog on the
 * same machine, in the same run.
 *
 *   hbbench cost [--iterations N] [--rounds R]
 *	ns per BEAT ioctl, per VERSION ioctl into the same device (the syscall
 *	floor), and per sd_notify("WATCHDOG=1") done the way libsystemd does it
 *	(a new socket, SO_SNDBUF, sendmsg to $NOTIFY_SOCKET, close), plus the
 *	same datagram on one reused socket. A child process drains the socket.
 *	The kinds alternate within each round; the median round is reported.
 *   hbbench latency [--clients N] [--timeout-ms T] [--spread-ms S] [--mode beat|sleep]
 *	N processes register with SIGUSR1 at timeouts T + i*S/N at the same
 *	moment, beat once 100 ms later and stop; each measures its deadline
 *	(time before its beat + timeout) to the signal's delivery (sigtimedwait
 *	returning). With --mode sleep, the floor: the same processes, no hbmon,
 *	each sleeping to the same deadline (clock_nanosleep, absolute); what the
 *	machine itself adds between a timer and a process running again.
 *   hbbench sd-latency [--services N] [--watchdog-ms T] [--spread-ms S]
 *	The same for systemd's WatchdogSec=: N transient Type=notify services
 *	(systemd-run) send READY=1 and WATCHDOG=1 once and stop; each measures
 *	deadline (time before that send + WatchdogSec) to SIGABRT's delivery.
 *   hbbench idle [--clients N] [--seconds S] [--hz H] [--timeout-ms T] [--mode beat|none]
 *	N clients on one open file each, beating H times a second (beat) or
 *	waking the same way without a registration (none); the machine's CPU
 *	time from /proc/stat and this process's own, over S seconds. Of
 *	/proc/stat, the idle time is exact under NO_HZ (measured at each idle
 *	entry and exit); user/system/irq are sampled at the tick, which a
 *	client waking in step with the tick escapes, so they are shown only.
 *
 * One JSON object on stdout per run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hbmon-client.h"

static void die(const char *what, int err)
{
	fprintf(stderr, "hbbench: %s: %s\n", what, strerror(err));
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static long long pct(const long long *v, int n, double p)
{
	int i = (int)(p / 100.0 * n + 0.999999) - 1;

	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* ---- cost ---------------------------------------------------------------- */

/* What libsystemd's sd_pid_notify_with_fds() does for one message. */
static int sd_notify_like(const char *state)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec iov = { .iov_base = (void *)state, .iov_len = strlen(state) };
	struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };
	int fd, sndbuf = 8 * 1024 * 1024, cur;
	socklen_t len = sizeof(cur);
	size_t n;

	if (!e || (e[0] != '/' && e[0] != '@'))
		return -EINVAL;
	n = strlen(e);
	if (n >= sizeof(sa.sun_path))
		return -E2BIG;
	memcpy(sa.sun_path, e, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* fd_inc_sndbuf(): read, and raise when smaller. */
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur, &len) == 0 && cur < sndbuf)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return 1;
}

static struct sockaddr_un notify_addr;

static int notify_reused(int fd)
{
	static const char msg[] = "WATCHDOG=1";

	return sendto(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL, (struct sockaddr *)&notify_addr,
		      sizeof(notify_addr)) < 0 ? -errno : 0;
}

enum { K_FLOOR, K_BEAT, K_SD, K_SD_REUSE, K_N };
static const char *const kind_names[K_N] = { "floor_ns", "beat_ns", "sd_notify_ns", "sd_notify_reuse_ns" };

static double time_kind(int kind, int hb, int sock, long iterations)
{
	__u32 v;
	long long t0 = now_ns();
	int err = 0;
	long i;

	for (i = 0; i < iterations && !err; i++) {
		switch (kind) {
		case K_FLOOR:
			err = ioctl(hb, HBMON_IOC_VERSION, &v) < 0 ? errno : 0;
			break;
		case K_BEAT:
			err = ioctl(hb, HBMON_IOC_BEAT, NULL) < 0 ? errno : 0;
			break;
		case K_SD:
			err = sd_notify_like("WATCHDOG=1");
			err = err < 0 ? -err : 0;
			break;
		default:
			err = -notify_reused(sock);
		}
	}
	if (err)
		die(kind_names[kind], err);
	return (double)(now_ns() - t0) / (double)iterations;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_cost(long iterations, int rounds)
{
	char path[64];
	double r[K_N][64];
	int hb, rx, tx, k, i, err;
	pid_t drain;

	if (rounds < 1 || rounds > 64)
		die("--rounds must be 1 to 64", EINVAL);
	hb = hbmon_open();
	if (hb < 0)
		die("open /dev/hbmon", -hb);
	snprintf(path, sizeof(path), "/tmp/hbbench-%d.sock", (int)getpid());
	unlink(path);
	notify_addr.sun_family = AF_UNIX;
	strcpy(notify_addr.sun_path, path);
	rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rx < 0 || bind(rx, (struct sockaddr *)&notify_addr, sizeof(notify_addr)) < 0)
		die("bind the notify socket", errno);
	setenv("NOTIFY_SOCKET", path, 1);
	/* The listener reads every datagram, as PID 1 would (without parsing). */
	drain = fork();
	if (drain == 0) {
		char buf[4096];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);

		for (;;)
			if (recv(rx, buf, sizeof(buf), 0) < 0 && errno != EINTR)
				_exit(0);
	}
	close(rx);
	tx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	err = hbmon_register(hb, "hbbench", HBMON_TIMEOUT_MAX_MS, 0, 0);
	if (err)
		die("register", -err);
	/* Warm up every path once, then alternate the kinds within each round. */
	for (k = 0; k < K_N; k++)
		time_kind(k, hb, tx, iterations / 10 + 1);
	for (i = 0; i < rounds; i++)
		for (k = 0; k < K_N; k++)
			r[k][i] = time_kind((k + i) % K_N, hb, tx, iterations);
	/* r[k][i] holds kind (k + i) % K_N: put each kind's rounds together. */
	{
		double by[K_N][64];

		for (i = 0; i < rounds; i++)
			for (k = 0; k < K_N; k++)
				by[(k + i) % K_N][i] = r[k][i];
		memcpy(r, by, sizeof(by));
	}
	hbmon_unregister(hb);
	close(hb);
	kill(drain, SIGKILL);
	waitpid(drain, NULL, 0);
	unlink(path);

	printf("{\"bench\":\"cost\",\"iterations\":%ld,\"rounds\":%d", iterations, rounds);
	for (k = 0; k < K_N; k++) {
		qsort(r[k], rounds, sizeof(double), cmp_d);
		printf(",\"%s\":%.1f,\"%s_min\":%.1f,\"%s_max\":%.1f", kind_names[k], r[k][rounds / 2],
		       kind_names[k], r[k][0], kind_names[k], r[k][rounds - 1]);
	}
	printf("}\n");
	return 0;
}

/* ---- latency --------------------------------------------------------------- */

struct late {
	int index;
	int err;
	long long late_ns;
};

static void report_latency(const char *bench, struct late *res, int n, const char *extra)
{
	long long *v = calloc(n, sizeof(*v));
	int i, got = 0, errs = 0;

	for (i = 0; i < n; i++) {
		if (res[i].err)
			errs++;
		else
			v[got++] = res[i].late_ns;
	}
	qsort(v, got, sizeof(*v), cmp_ll);
	printf("{\"bench\":\"%s\",\"count\":%d,\"received\":%d,\"errors\":%d", bench, n, got, errs);
	if (got)
		printf(",\"min_ms\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f", v[0] / 1e6,
		       pct(v, got, 50) / 1e6, pct(v, got, 99) / 1e6, v[got - 1] / 1e6);
	printf("%s}\n", extra);
	free(v);
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = read(fd, (char *)buf + done, len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

/*
 * One client: open, say ready, wait for the common start, register, beat once
 * 100 ms later and stop. The timer, armed at REGISTER, fires at the stale
 * deadline and follows the beat (the lazy re-arm) before the real one.
 */
static void latency_child(int i, int timeout_ms, int ready, int go, int out, int done, int sleep_only)
{
	struct timespec wait = { .tv_sec = timeout_ms / 1000 + 30 };
	struct late res = { .index = i };
	siginfo_t si;
	sigset_t set;
	long long t = 0;
	char c = 0;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = sleep_only ? -1 : hbmon_open();
	if (write(ready, &c, 1) != 1)
		_exit(2);
	/* Everyone starts at once: the parent closes the pipe. */
	if (read(go, &c, 1) < 0)
		res.err = errno;
	if (!res.err && !sleep_only)
		res.err = fd < 0 ? -fd : -hbmon_register(fd, NULL, (unsigned int)timeout_ms, SIGUSR1, 0);
	if (!res.err) {
		usleep(100000);
		t = now_ns();
		if (!sleep_only)
			res.err = -hbmon_beat(fd);
	}
	if (!res.err && sleep_only) {
		struct timespec at = { .tv_sec = (t + timeout_ms * 1000000LL) / 1000000000LL,
				       .tv_nsec = (t + timeout_ms * 1000000LL) % 1000000000LL };

		while ((res.err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL)) == EINTR)
			;
	} else if (!res.err && sigtimedwait(&set, &si, &wait) != SIGUSR1) {
		res.err = errno ? errno : EIO;
	}
	res.late_ns = now_ns() - (t + timeout_ms * 1000000LL);
	if (write(out, &res, sizeof(res)) != sizeof(res))
		_exit(2);
	/*
	 * Unregister and exit only when every client has its signal: a
	 * thousand exits would otherwise take the CPU from the deliveries
	 * still being measured.
	 */
	if (read(done, &c, 1) < 0)
		_exit(2);
	if (fd >= 0)
		hbmon_unregister(fd);
	_exit(0);
}

static int cmd_latency(int clients, int timeout_ms, int spread_ms, int sleep_only)
{
	struct late *res = calloc(clients, sizeof(*res));
	int go[2], out[2], ready[2], done[2], i;
	char extra[128], c;

	if (pipe(go) || pipe(out) || pipe(ready) || pipe(done))
		die("pipe", errno);
	for (i = 0; i < clients; i++) {
		pid_t p = fork();

		if (p < 0)
			die("fork", errno);
		if (p == 0) {
			close(go[1]);
			close(out[0]);
			close(ready[0]);
			close(done[1]);
			latency_child(i, timeout_ms + (int)((long long)spread_ms * i / clients), ready[1], go[0],
				      out[1], done[0], sleep_only);
		}
	}
	close(go[0]);
	close(out[1]);
	close(ready[1]);
	close(done[0]);
	/* Forking a thousand processes takes seconds under TCG: start when all are there. */
	for (i = 0; i < clients; i++)
		if (read_full(ready[0], &c, 1))
			die("a client died before it was ready", EIO);
	close(go[1]);
	for (i = 0; i < clients; i++) {
		struct late r;

		if (read_full(out[0], &r, sizeof(r)))
			die("a client died without a result", EIO);
		res[r.index] = r;
	}
	close(done[1]);
	while (wait(NULL) > 0)
		;
	snprintf(extra, sizeof(extra), ",\"timeout_ms\":%d,\"spread_ms\":%d", timeout_ms, spread_ms);
	report_latency(sleep_only ? "sleep-latency" : "latency", res, clients, extra);
	free(res);
	return 0;
}

/* ---- systemd's watchdog ------------------------------------------------------ */

static volatile sig_atomic_t aborted;
static long long abort_ns;

static void on_abort(int sig)
{
	(void)sig;
	abort_ns = now_ns();
	aborted = 1;
}

/* Run by systemd as a Type=notify service: ping once, stop, catch SIGABRT. */
static int cmd_sd_client(const char *out, int watchdog_ms)
{
	struct sigaction sa = { .sa_handler = on_abort };
	sigset_t block, old;
	char tmp[600];
	long long t;
	FILE *f;
	int err;

	/* Blocked until sigsuspend(), so it cannot arrive between the test and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGABRT);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGABRT, &sa, NULL);
	t = now_ns();
	err = sd_notify_like("READY=1\nWATCHDOG=1");
	if (err < 0)
		die("sd_notify", -err);
	while (!aborted)
		sigsuspend(&old);
	/* Written aside and renamed: the reader never sees a half-written file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	f = fopen(tmp, "w");
	if (!f)
		die(tmp, errno);
	fprintf(f, "%lld\n", abort_ns - (t + watchdog_ms * 1000000LL));
	if (fclose(f) || rename(tmp, out))
		die(out, errno);
	return 0;
}

static int cmd_sd_latency(int services, int watchdog_ms, int spread_ms, const char *self)
{
	struct late *res = calloc(services, sizeof(*res));
	char dir[] = "/run/hbbench-XXXXXX", cmd[1024], path[600], extra[160];
	long long started = now_ns(), budget;
	int i;

	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	for (i = 0; i < services; i++) {
		int ms = watchdog_ms + (int)((long long)spread_ms * i / services);

		snprintf(cmd, sizeof(cmd),
			 "systemd-run --quiet --collect --unit=hbbench-wd-%d-%d -p Type=notify -p NotifyAccess=main "
			 "-p WatchdogSec=%dms %s sd-client %s/%d %d",
			 (int)getpid(), i, ms, self, dir, i, ms);
		if (system(cmd) != 0)
			die("systemd-run", EIO);
	}
	/* Every service has fired or failed by its deadline plus a generous margin. */
	budget = (long long)(watchdog_ms + spread_ms + 20000) * 1000000LL;
	for (i = 0; i < services; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%d", dir, i);
		res[i].index = i;
		while (!(f = fopen(path, "r")) && now_ns() - started < budget)
			usleep(50000);
		if (!f)
			res[i].err = ETIMEDOUT;
		else if (fscanf(f, "%lld", &res[i].late_ns) != 1)
			res[i].err = EIO;
		if (f)
			fclose(f);
		unlink(path);
	}
	rmdir(dir);
	snprintf(extra, sizeof(extra), ",\"watchdog_ms\":%d,\"spread_ms\":%d", watchdog_ms, spread_ms);
	report_latency("sd-latency", res, services, extra);
	free(res);
	return 0;
}

/* ---- idle overhead ------------------------------------------------------------ */

struct cpu {
	unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
};

static struct cpu read_cpu(void)
{
	struct cpu c = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &c.user, &c.nice, &c.system, &c.idle,
			 &c.iowait, &c.irq, &c.softirq, &c.steal) != 8)
		die("/proc/stat", EIO);
	fclose(f);
	return c;
}

static int idle_beat, idle_hz, idle_threads = 4;
static long long idle_end;
static int *idle_fds, idle_clients;
static long long idle_errors;

/* Like hbctl swarm: a few threads, each beating its clients spread over the period. */
static void *idle_thread(void *arg)
{
	int t = (int)(long)arg, i;
	long long period = 1000000000LL / idle_hz, tick = period < 10000000LL ? period : 10000000LL;
	long long start = now_ns(), next = start, *due;
	int mine = 0;

	due = calloc(idle_clients, sizeof(*due));
	for (i = t; i < idle_clients; i += idle_threads)
		due[i] = start + period * i / idle_clients;
	for (;;) {
		struct timespec ts;

		next += tick;
		ts.tv_sec = next / 1000000000LL;
		ts.tv_nsec = next % 1000000000LL;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		if (next >= idle_end)
			break;
		for (i = t; i < idle_clients; i += idle_threads) {
			if (due[i] > next)
				continue;
			due[i] += period;
			mine++;
			if (idle_beat && hbmon_beat(idle_fds[i]))
				__atomic_add_fetch(&idle_errors, 1, __ATOMIC_RELAXED);
		}
	}
	free(due);
	return (void *)(long)mine;
}

static int cmd_idle(int clients, int seconds, int hz, int timeout_ms, int beat)
{
	pthread_t th[16];
	struct rusage r0, r1;
	struct cpu a, b;
	long long wakes = 0, t0, t1;
	double tck = (double)sysconf(_SC_CLK_TCK);
	int i, err;

	struct rlimit rl = { clients + 64, clients + 64 };

	setrlimit(RLIMIT_NOFILE, &rl);
	idle_fds = calloc(clients, sizeof(int));
	idle_clients = clients;
	idle_hz = hz;
	idle_beat = beat;
	for (i = 0; i < clients; i++) {
		idle_fds[i] = hbmon_open();
		if (idle_fds[i] < 0)
			die("open /dev/hbmon", -idle_fds[i]);
		if (beat) {
			err = hbmon_register(idle_fds[i], NULL, (unsigned int)timeout_ms, 0, 0);
			if (err)
				die("register", -err);
		}
	}
	getrusage(RUSAGE_SELF, &r0);
	a = read_cpu();
	t0 = now_ns();
	idle_end = t0 + seconds * 1000000000LL;
	for (i = 0; i < idle_threads; i++)
		pthread_create(&th[i], NULL, idle_thread, (void *)(long)i);
	for (i = 0; i < idle_threads; i++) {
		void *n;

		pthread_join(th[i], &n);
		wakes += (long)n;
	}
	t1 = now_ns();
	b = read_cpu();
	getrusage(RUSAGE_SELF, &r1);
	for (i = 0; i < clients; i++) {
		if (beat)
			hbmon_unregister(idle_fds[i]);
		close(idle_fds[i]);
	}
#define MS(f) ((double)(b.f - a.f) * 1000.0 / tck)
#define TV(t) ((double)(t).tv_sec * 1000.0 + (double)(t).tv_usec / 1000.0)
	printf("{\"bench\":\"idle\",\"mode\":\"%s\",\"clients\":%d,\"hz\":%d,\"timeout_ms\":%d,\"seconds\":%.3f,"
	       "\"beats\":%lld,\"errors\":%lld,\"cpu_user_ms\":%.0f,\"cpu_system_ms\":%.0f,\"cpu_irq_ms\":%.0f,"
	       "\"cpu_softirq_ms\":%.0f,\"cpu_idle_ms\":%.0f,\"proc_user_ms\":%.1f,\"proc_system_ms\":%.1f,"
	       "\"cpus\":%ld}\n",
	       beat ? "beat" : "none", clients, hz, timeout_ms, (t1 - t0) / 1e9, beat ? wakes : 0, idle_errors,
	       MS(user) + MS(nice), MS(system), MS(irq), MS(softirq), MS(idle) + MS(iowait),
	       TV(r1.ru_utime) - TV(r0.ru_utime), TV(r1.ru_stime) - TV(r0.ru_stime), sysconf(_SC_NPROCESSORS_ONLN));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iterations", 1, NULL, 'i' }, { "rounds", 1, NULL, 'r' },	{ "clients", 1, NULL, 'c' },
		{ "services", 1, NULL, 'c' },	{ "timeout-ms", 1, NULL, 't' }, { "watchdog-ms", 1, NULL, 't' },
		{ "spread-ms", 1, NULL, 's' },	{ "seconds", 1, NULL, 'S' },	{ "hz", 1, NULL, 'z' },
		{ "mode", 1, NULL, 'm' },	{ NULL, 0, NULL, 0 },
	};
	long iterations = 100000;
	int rounds = 7, clients = 1000, timeout = -1, spread = 5000, seconds = 60, hz = 10, beat = 1, sleep = 0, o;
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "sd-client") && argc == 4)
		return cmd_sd_client(argv[2], atoi(argv[3]));
	if (argc < 2)
		cmd = "";
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'i': iterations = atol(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'c': clients = atoi(optarg); break;
		case 't': timeout = atoi(optarg); break;
		case 's': spread = atoi(optarg); break;
		case 'S': seconds = atoi(optarg); break;
		case 'z': hz = atoi(optarg); break;
		case 'm':
			beat = strcmp(optarg, "none") != 0;
			sleep = !strcmp(optarg, "sleep");
			break;
		default: return 2;
		}
	}
	if (iterations < 1 || clients < 1 || spread < 0 || seconds < 1 || hz < 1) {
		fprintf(stderr, "hbbench: bad arguments\n");
		return 2;
	}
	if (!strcmp(cmd, "cost"))
		return cmd_cost(iterations, rounds);
	if (!strcmp(cmd, "latency"))
		return cmd_latency(clients, timeout < 0 ? 2000 : timeout, spread, sleep);
	if (!strcmp(cmd, "sd-latency")) {
		char self[512];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n < 0)
			die("/proc/self/exe", errno);
		self[n] = 0;
		return cmd_sd_latency(clients, timeout < 0 ? 2000 : timeout, spread, self);
	}
	if (!strcmp(cmd, "idle"))
		return cmd_idle(clients, seconds, hz, timeout < 0 ? 1000 : timeout, beat);
	fprintf(stderr, "usage: hbbench cost|latency|sd-latency|idle [options] (see the top of hbbench.c)\n");
	return 2;
}
