// SPDX-License-Identifier: GPL-2.0
/*
 * hbctl - control and test tool for the hbmon kernel module
 *
 *   hbctl -l [MODULE.ko [PARAM=VALUE...]]  load (insmod MODULE.ko, or modprobe hbmon)
 *   hbctl -u                               unload (rmmod hbmon)
 *   hbctl -s [VALUE]                       send VALUE (asks for it when missing)
 *   hbctl status                           print /proc/hbmon
 *   hbctl version                          API version of the loaded module
 *   hbctl demo --timeout MS [options]      a monitored process (see usage)
 *   hbctl selftest                         register, beat, status, unregister
 *   hbctl probe                            bad-input cases, one JSON line each
 *   hbctl swarm --clients N --hz H --seconds S [--timeout MS]
 *
 * The device path can be overridden with the HBMON_DEVICE environment
 * variable. Machine-readable output is one JSON object per line on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hbmon-client.h"

static const char *prog = "hbctl";

static const char *device_path(void)
{
	const char *p = getenv("HBMON_DEVICE");

	return p && *p ? p : HBMON_DEVICE;
}

/*
 * Every descriptor on /dev/hbmon is opened with O_CLOEXEC (hbmon_open_path()
 * in hbmon-client.h): the seed article's FD_CLOEXEC note. A registration
 * belongs to the process that made it; if the descriptor survived execve()
 * (hbctl -l runs insmod, for one), the new program would hold the file open,
 * the kernel would not see our crash until it exits, and it could keep the
 * registration alive after we are gone.
 */
static int open_device(void)
{
	int fd = hbmon_open_path(device_path());

	if (fd < 0)
		fprintf(stderr, "%s: open %s: %s\n", prog, device_path(),
			strerror(-fd));
	return fd;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void ts_add_ns(struct timespec *ts, long long ns)
{
	ns += ts->tv_nsec;
	ts->tv_sec += ns / 1000000000LL;
	ts->tv_nsec = ns % 1000000000LL;
}

static void sleep_until(const struct timespec *ts)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ts, NULL) == EINTR)
		;
}

/* @s as the inside of a JSON string (names are printable ASCII, see hbmon.h) */
static const char *json_esc(const char *s)
{
	static char buf[2 * HBMON_NAME_LEN * 3];
	size_t n = 0;

	for (; *s && n < sizeof(buf) - 7; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)ch;
		} else if (ch < 0x20 || ch > 0x7e) {
			n += (size_t)snprintf(buf + n, 7, "\\u%04x", ch);
		} else {
			buf[n++] = (char)ch;
		}
	}
	buf[n] = '\0';
	return buf;
}

static const char *errno_name(int e)
{
	static char buf[16];

	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EBADF: return "EBADF";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case ENOTCONN: return "ENOTCONN";
	default:
		snprintf(buf, sizeof(buf), "%d", e);
		return buf;
	}
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ABRT", SIGABRT }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CONT", SIGCONT }, { "STOP", SIGSTOP },
};

/* "TERM", "SIGTERM", "15", "none" or "0". Returns -1 when unknown. */
static int parse_signal(const char *s)
{
	char *end;
	long v;
	size_t i;

	if (!strcasecmp(s, "none"))
		return 0;
	v = strtol(s, &end, 10);
	if (*s && !*end)
		return v >= 0 && v <= 64 ? (int)v : -1;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcasecmp(s, signals[i].name))
			return signals[i].sig;
	return -1;
}

static int parse_uint(const char *s, const char *what, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || *s == '-' || v > max) {
		fprintf(stderr, "%s: bad %s: %s\n", prog, what, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, const char *what, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || !*s || *end || v < 0) {
		fprintf(stderr, "%s: bad %s: %s\n", prog, what, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- -l / -u: the seed's load and unload, without a shell --------------- */

static int run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "%s: exec %s: %s\n", prog, argv[0], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmd_load(int argc, char **argv)
{
	char **args = calloc((size_t)argc + 3, sizeof(*args));
	int i, n = 0, rc;

	if (!args)
		return 1;
	if (argc > 0 && strstr(argv[0], ".ko")) {
		args[n++] = "insmod";
	} else {
		args[n++] = "modprobe";
		args[n++] = "hbmon";
	}
	for (i = 0; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	printf("loading hbmon\n");
	rc = run(args);
	free(args);
	if (rc) {
		fprintf(stderr, "%s: loading hbmon failed (%d)\n", prog, rc);
		return 1;
	}
	printf("hbmon loaded successfully\n");
	return 0;
}

static int cmd_unload(void)
{
	char *args[] = { "rmmod", "hbmon", NULL };

	printf("unloading hbmon\n");
	if (run(args)) {
		fprintf(stderr, "%s: unloading hbmon failed\n", prog);
		return 1;
	}
	printf("hbmon unloaded successfully\n");
	return 0;
}

/* ---- -s: the seed's send_data ------------------------------------------- */

static int cmd_send(const char *arg)
{
	char line[64];
	long long v;
	char *end;
	int fd, err;

	if (!arg) {
		printf("Enter value: ");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "%s: no value\n", prog);
			return 1;
		}
		line[strcspn(line, "\r\n")] = '\0';
		arg = line;
	}
	errno = 0;
	v = strtoll(arg, &end, 0);
	if (errno || !*arg || *end) {
		fprintf(stderr, "%s: not an integer: %s\n", prog, arg);
		return 1;
	}

	fd = open_device();
	if (fd < 0)
		return 2;
	err = hbmon_send(fd, v);
	close(fd);
	if (err) {
		fprintf(stderr, "%s: send: %s\n", prog, strerror(-err));
		return 1;
	}
	printf("sent %lld\n", v);
	return 0;
}

static int cmd_status(void)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(HBMON_PROC, "r");

	if (!f) {
		fprintf(stderr, "%s: %s: %s (is hbmon loaded?)\n", prog, HBMON_PROC,
			strerror(errno));
		return 2;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}

static int cmd_version(void)
{
	int fd = open_device(), v;

	if (fd < 0)
		return 2;
	v = hbmon_api_version(fd);
	close(fd);
	if (v < 0) {
		fprintf(stderr, "%s: version: %s\n", prog, strerror(-v));
		return 1;
	}
	printf("{\"api_version\":%d,\"tool_api_version\":%d}\n", v,
	       HBMON_API_VERSION);
	return v == HBMON_API_VERSION ? 0 : 1;
}

/* ---- demo: a monitored process that can stop beating on purpose --------- */

static volatile sig_atomic_t demo_sig;
static struct timespec demo_sig_ts;

static void demo_handler(int sig)
{
	/* clock_gettime() is async-signal-safe. */
	clock_gettime(CLOCK_MONOTONIC, &demo_sig_ts);
	demo_sig = sig;
}

static void demo_usage(void)
{
	fprintf(stderr,
		"usage: %s demo --timeout MS [--hang-after S] [--hang-for S] [--signal SIG]\n"
		"         [--name NAME] [--interval MS] [--helper] [--l2] [--exit-after S]\n"
		"         [--survive] [--no-unregister]\n"
		"  Registers, then beats every --interval ms (default timeout/4).\n"
		"  --hang-after S   stop beating S seconds after registering (0: never beat)\n"
		"  --hang-for S     resume beating S seconds after stopping (tests RECOVERED)\n"
		"  --signal SIG     signal asked for on a hang (name or number, default none)\n"
		"  --exit-after S   unregister cleanly and exit 0 after S seconds\n"
		"  --no-unregister  with --exit-after: exit without unregistering (CRASH)\n"
		"  --survive        report the hang signal and keep running; otherwise the\n"
		"                   process dies of it, as a supervised service would\n",
		prog);
}

static int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "hang-after", required_argument, NULL, 'a' },
		{ "hang-for", required_argument, NULL, 'f' },
		{ "signal", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{ "helper", no_argument, NULL, 'H' },
		{ "l2", no_argument, NULL, 'L' },
		{ "exit-after", required_argument, NULL, 'x' },
		{ "survive", no_argument, NULL, 'S' },
		{ "no-unregister", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long timeout = 0, interval = 0;
	double hang_after = -1, hang_for = -1, exit_after = -1;
	double t0, last_beat = 0, stopped_at = 0;
	const char *name = "demo";
	unsigned int actions = 0;
	int sig = 0, survive = 0, unreg = 1;
	int fd, err, c, beating = 1;
	unsigned long long beats = 0;
	struct hbmon_status st;
	struct timespec next;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_uint(optarg, "timeout", UINT32_MAX, &timeout))
				return 2;
			break;
		case 'a':
			if (parse_seconds(optarg, "hang-after", &hang_after))
				return 2;
			break;
		case 'f':
			if (parse_seconds(optarg, "hang-for", &hang_for))
				return 2;
			break;
		case 's':
			sig = parse_signal(optarg);
			if (sig < 0) {
				fprintf(stderr, "%s: bad signal: %s\n", prog, optarg);
				return 2;
			}
			break;
		case 'n':
			name = optarg;
			break;
		case 'i':
			if (parse_uint(optarg, "interval", 3600000, &interval))
				return 2;
			break;
		case 'H':
			actions |= HBMON_ACT_HELPER;
			break;
		case 'L':
			actions |= HBMON_ACT_L2;
			break;
		case 'x':
			if (parse_seconds(optarg, "exit-after", &exit_after))
				return 2;
			break;
		case 'S':
			survive = 1;
			break;
		case 'N':
			unreg = 0;
			break;
		default:
			demo_usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (!timeout || optind != argc) {
		demo_usage();
		return 2;
	}
	if (!interval)
		interval = timeout / 4 ? timeout / 4 : 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sig && sig != SIGKILL && sig != SIGSTOP) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = demo_handler;
		sigemptyset(&sa.sa_mask);
		if (sigaction(sig, &sa, NULL) < 0) {
			perror("sigaction");
			return 1;
		}
	}

	fd = open_device();
	if (fd < 0)
		return 2;
	err = hbmon_register(fd, name, (unsigned int)timeout, sig, actions);
	t0 = now_ms();
	last_beat = t0;
	if (err) {
		fprintf(stderr, "%s: register: %s\n", prog, strerror(-err));
		return 1;
	}
	memset(&st, 0, sizeof(st));
	hbmon_status(fd, &st);
	printf("{\"event\":\"registered\",\"pid\":%d,\"name\":\"%s\",\"id\":%llu,"
	       "\"timeout_ms\":%lu,\"interval_ms\":%lu,\"signal\":%d,\"actions\":%u}\n",
	       (int)getpid(), json_esc(name), (unsigned long long)st.id, timeout, interval,
	       sig, actions);
	if (hang_after == 0) {
		beating = 0;
		stopped_at = t0;
		printf("{\"event\":\"stopped_beating\",\"t_ms\":0.000,\"beats\":0}\n");
	}

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		double t;

		ts_add_ns(&next, (long long)interval * 1000000LL);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR && !demo_sig)
			;

		if (demo_sig) {
			int s = demo_sig;
			double at = demo_sig_ts.tv_sec * 1e3 +
				    demo_sig_ts.tv_nsec / 1e6;

			demo_sig = 0;
			printf("{\"event\":\"signal\",\"signal\":%d,\"since_last_beat_ms\":%.3f,"
			       "\"late_ms\":%.3f,\"beats\":%llu}\n",
			       s, at - last_beat, at - last_beat - (double)timeout,
			       beats);
			if (!survive) {
				signal(s, SIG_DFL);
				raise(s);
				return 128 + s;	/* a signal whose default is to ignore */
			}
		}

		t = now_ms();
		if (exit_after >= 0 && t - t0 >= exit_after * 1e3) {
			if (unreg) {
				err = hbmon_unregister(fd);
				printf("{\"event\":\"unregistered\",\"errno\":\"%s\",\"beats\":%llu}\n",
				       errno_name(-err), beats);
			} else {
				printf("{\"event\":\"exit_without_unregister\",\"beats\":%llu}\n",
				       beats);
			}
			close(fd);
			return err ? 1 : 0;
		}
		if (beating && hang_after > 0 && t - t0 >= hang_after * 1e3) {
			beating = 0;
			stopped_at = t;
			printf("{\"event\":\"stopped_beating\",\"t_ms\":%.3f,\"since_last_beat_ms\":%.3f,\"beats\":%llu}\n",
			       t - t0, t - last_beat, beats);
		}
		if (!beating && hang_for >= 0 && t - stopped_at >= hang_for * 1e3) {
			beating = 1;
			hang_after = -1;
			printf("{\"event\":\"resumed_beating\",\"t_ms\":%.3f,\"silent_ms\":%.3f}\n",
			       t - t0, t - last_beat);
		}
		if (beating) {
			double before = now_ms();

			err = hbmon_beat(fd);
			if (err) {
				fprintf(stderr, "%s: beat: %s\n", prog, strerror(-err));
				return 1;
			}
			/* The kernel stamped the beat between these two. */
			last_beat = (before + now_ms()) / 2;
			beats++;
		}
	}
}

/* ---- selftest: what the deploy's verify step runs ----------------------- */

static int cmd_selftest(void)
{
	struct hbmon_status st;
	int fd, err, v, i;

	fd = open_device();
	if (fd < 0)
		return 2;
#define FAIL(...) do { fprintf(stderr, "selftest: " __VA_ARGS__); close(fd); return 1; } while (0)
	v = hbmon_api_version(fd);
	if (v != HBMON_API_VERSION)
		FAIL("api version %d, expected %d\n", v, HBMON_API_VERSION);
	err = hbmon_register(fd, "hbctl-selftest", 5000, 0, 0);
	if (err)
		FAIL("register: %s\n", strerror(-err));
	for (i = 0; i < 3; i++) {
		err = hbmon_beat(fd);
		if (err)
			FAIL("beat: %s\n", strerror(-err));
	}
	err = hbmon_status(fd, &st);
	if (err)
		FAIL("status: %s\n", strerror(-err));
	if (st.state != HBMON_STATE_OK || st.beats != 3 || st.misses != 0 ||
	    st.timeout_ms != 5000 || st.time_left_ms <= 0 || st.time_left_ms > 5000)
		FAIL("unexpected status state=%u beats=%llu misses=%llu timeout=%u left=%lld\n",
		     st.state, (unsigned long long)st.beats,
		     (unsigned long long)st.misses, st.timeout_ms,
		     (long long)st.time_left_ms);
	err = hbmon_unregister(fd);
	if (err)
		FAIL("unregister: %s\n", strerror(-err));
	err = hbmon_status(fd, &st);
	if (err != -ENOTCONN)
		FAIL("status after unregister: %s, expected ENOTCONN\n",
		     errno_name(-err));
#undef FAIL
	close(fd);
	printf("selftest: ok (api %d)\n", v);
	return 0;
}

/* ---- probe: bad input, each case with its documented errno -------------- */

static int probe_pass, probe_fail;

static void probe_report(const char *name, int expect, int got)
{
	int ok = expect == got;

	printf("{\"case\":\"%s\",\"expect\":\"%s\",", name, errno_name(expect));
	printf("\"got\":\"%s\",\"ok\":%s}\n", errno_name(got), ok ? "true" : "false");
	if (ok)
		probe_pass++;
	else
		probe_fail++;
}

/* errno of one ioctl, 0 on success */
static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? errno : 0;
}

static struct hbmon_register good_reg(void)
{
	struct hbmon_register r;

	memset(&r, 0, sizeof(r));
	r.timeout_ms = 60000;
	strcpy(r.name, "hbctl-probe");
	return r;
}

static void probe_register(int fd, const char *name, int expect,
			   struct hbmon_register r)
{
	probe_report(name, expect, xioctl(fd, HBMON_IOC_REGISTER, &r));
}

static int cmd_probe(void)
{
	long pagesz = sysconf(_SC_PAGESIZE);
	struct hbmon_register r;
	struct hbmon_status st;
	struct hbmon_send snd;
	void *ro, *gone;
	__u32 ver = 0;
	int fd, e;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open_device();
	if (fd < 0)
		return 2;
	ro = mmap(NULL, (size_t)pagesz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gone = mmap(NULL, (size_t)pagesz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED || gone == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	munmap(gone, (size_t)pagesz);	/* now a pointer to nothing */

	e = xioctl(fd, HBMON_IOC_VERSION, &ver);
	probe_report("version_ok", 0, e == 0 && ver != HBMON_API_VERSION ? EPROTO : e);
	probe_report("version_null", EFAULT, xioctl(fd, HBMON_IOC_VERSION, NULL));
	probe_report("version_readonly", EFAULT, xioctl(fd, HBMON_IOC_VERSION, ro));

	probe_report("unknown_nr", ENOTTY, xioctl(fd, _IO(HBMON_IOC_MAGIC, 0x7f), NULL));
	probe_report("unknown_magic", ENOTTY, xioctl(fd, _IO('x', 0x42), NULL));
	probe_report("unknown_raw", ENOTTY, xioctl(fd, 0x1234, NULL));
	probe_report("register_wrong_size", ENOTTY,
		     xioctl(fd, _IOW(HBMON_IOC_MAGIC, 0x41, __u32), &ver));
	probe_report("register_wrong_dir", ENOTTY,
		     xioctl(fd, _IOR(HBMON_IOC_MAGIC, 0x41, struct hbmon_register), &st));

	probe_report("beat_before_register", ENOTCONN, xioctl(fd, HBMON_IOC_BEAT, NULL));
	probe_report("unregister_before_register", ENOTCONN,
		     xioctl(fd, HBMON_IOC_UNREGISTER, NULL));
	probe_report("status_before_register", ENOTCONN, xioctl(fd, HBMON_IOC_STATUS, &st));

	probe_report("register_null", EFAULT, xioctl(fd, HBMON_IOC_REGISTER, NULL));
	probe_report("register_ptr_1", EFAULT, xioctl(fd, HBMON_IOC_REGISTER, (void *)1));
	probe_report("register_ptr_unmapped", EFAULT, xioctl(fd, HBMON_IOC_REGISTER, gone));
	probe_report("register_ptr_kernel", EFAULT,
		     xioctl(fd, HBMON_IOC_REGISTER, (void *)(uintptr_t)~(uintptr_t)0xfff));

	r = good_reg(); r.timeout_ms = 0;
	probe_register(fd, "register_timeout_zero", EINVAL, r);
	r = good_reg(); r.timeout_ms = HBMON_TIMEOUT_MIN_MS - 1;
	probe_register(fd, "register_timeout_below_min", EINVAL, r);
	r = good_reg(); r.timeout_ms = HBMON_TIMEOUT_MAX_MS + 1;
	probe_register(fd, "register_timeout_above_max", EINVAL, r);
	r = good_reg(); r.timeout_ms = UINT32_MAX;
	probe_register(fd, "register_timeout_huge", EINVAL, r);
	r = good_reg(); r.signal = 65;
	probe_register(fd, "register_signal_65", EINVAL, r);
	r = good_reg(); r.signal = (__u32)-1;
	probe_register(fd, "register_signal_negative", EINVAL, r);
	r = good_reg(); r.actions = 1U << 7;
	probe_register(fd, "register_actions_unknown", EINVAL, r);
	r = good_reg(); r.reserved = 1;
	probe_register(fd, "register_reserved_nonzero", EINVAL, r);
	r = good_reg(); memset(r.name, 'a', sizeof(r.name));
	probe_register(fd, "register_name_unterminated", EINVAL, r);
	r = good_reg(); strcpy(r.name, "a b");
	probe_register(fd, "register_name_blank", EINVAL, r);
	r = good_reg(); strcpy(r.name, "a\nb");
	probe_register(fd, "register_name_control", EINVAL, r);
	/* No helper_map entry names hbctl-probe: the root helper is refused. */
	r = good_reg(); r.actions = HBMON_ACT_HELPER;
	probe_register(fd, "register_helper_unmapped", EPERM, r);
	{
		int rdonly = open(device_path(), O_RDONLY | O_CLOEXEC);

		r = good_reg();
		probe_report("register_rdonly", EBADF,
			     rdonly < 0 ? errno : xioctl(rdonly, HBMON_IOC_REGISTER, &r));
		if (rdonly >= 0)
			close(rdonly);
	}

	probe_report("send_null", EFAULT, xioctl(fd, HBMON_IOC_SEND, NULL));
	memset(&snd, 0, sizeof(snd));
	snd.reserved = 1;
	probe_report("send_reserved_nonzero", EINVAL, xioctl(fd, HBMON_IOC_SEND, &snd));
	snd.reserved = 0;
	snd.value = -42;
	probe_report("send_unregistered_ok", 0, xioctl(fd, HBMON_IOC_SEND, &snd));

	/* a good registration, then misuse of it */
	r = good_reg();
	probe_register(fd, "register_ok", 0, r);
	probe_register(fd, "register_double", EBUSY, r);
	probe_report("status_null", EFAULT, xioctl(fd, HBMON_IOC_STATUS, NULL));
	probe_report("status_readonly", EFAULT, xioctl(fd, HBMON_IOC_STATUS, ro));
	probe_report("beat_ok", 0, xioctl(fd, HBMON_IOC_BEAT, NULL));
	probe_report("beat_ignores_arg", 0, xioctl(fd, HBMON_IOC_BEAT, (void *)1));
	memset(&st, 0, sizeof(st));
	e = xioctl(fd, HBMON_IOC_STATUS, &st);
	probe_report("status_ok", 0, e == 0 && (st.beats != 2 || st.misses) ? EPROTO : e);

	/* a forked child inherits the descriptor but is not the registrant */
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(xioctl(fd, HBMON_IOC_BEAT, NULL));
	if (pid > 0) {
		int status = 0;

		waitpid(pid, &status, 0);
		probe_report("beat_from_child", EPERM,
			     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		pid = fork();
		if (pid == 0)
			_exit(xioctl(fd, HBMON_IOC_UNREGISTER, NULL));
		if (pid > 0) {
			waitpid(pid, &status, 0);
			probe_report("unregister_from_child", EPERM,
				     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
	}

	snd.value = 42;
	probe_report("send_registered_ok", 0, xioctl(fd, HBMON_IOC_SEND, &snd));
	probe_report("unregister_ok", 0, xioctl(fd, HBMON_IOC_UNREGISTER, NULL));
	probe_report("unregister_double", ENOTCONN, xioctl(fd, HBMON_IOC_UNREGISTER, NULL));
	probe_report("beat_after_unregister", ENOTCONN, xioctl(fd, HBMON_IOC_BEAT, NULL));
	r = good_reg();
	probe_register(fd, "reregister_ok", 0, r);
	probe_report("reregister_unregister_ok", 0, xioctl(fd, HBMON_IOC_UNREGISTER, NULL));

	close(fd);
	printf("{\"summary\":\"probe\",\"pass\":%d,\"fail\":%d}\n", probe_pass, probe_fail);
	return probe_fail ? 1 : 0;
}

/* ---- swarm: many clients beating, no false hang allowed ----------------- */

/*
 * Each client is one open file with its own registration. A few threads
 * share the clients (a thread per client would measure the scheduler, not
 * hbmon: 1000 threads waking 10 times a second swamp one emulated CPU). A
 * thread wakes every tick and beats each of its clients whose slot came;
 * the slots are spread over the period so the beats arrive evenly.
 */
struct swarm_client {
	int index;
	int fd;
	int reg_err;
	int beat_errs;
	int status_err;
	long long next_ns;
	double last_ms;
	unsigned long long beats;
	unsigned long long misses;
	double max_gap_ms;
};

struct swarm_thread {
	pthread_t thread;
	struct swarm_client *clients;
	unsigned long count;
};

static unsigned long sw_hz, sw_timeout, sw_clients;
static double sw_seconds;
static pthread_barrier_t sw_barrier;

static long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static void *swarm_thread(void *arg)
{
	struct swarm_thread *th = arg;
	long long period = 1000000000LL / (long long)sw_hz;
	long long tick = period < 10000000LL ? period : 10000000LL;
	struct timespec next;
	struct hbmon_status st;
	char name[HBMON_NAME_LEN];
	long long start, end;
	unsigned long j;

	pthread_barrier_wait(&sw_barrier);
	clock_gettime(CLOCK_MONOTONIC, &next);
	start = ts_ns(&next);
	end = start + (long long)(sw_seconds * 1e9);
	for (j = 0; j < th->count; j++) {
		struct swarm_client *c = &th->clients[j];

		snprintf(name, sizeof(name), "swarm-%d", c->index);
		c->reg_err = -hbmon_register(c->fd, name, (unsigned int)sw_timeout, 0, 0);
		c->last_ms = now_ms();
		c->next_ns = start + period * c->index / (long long)sw_clients;
	}
	for (;;) {
		long long now;

		ts_add_ns(&next, tick);
		sleep_until(&next);
		now = ts_ns(&next);
		if (now >= end)
			break;
		for (j = 0; j < th->count; j++) {
			struct swarm_client *c = &th->clients[j];
			double t;

			if (c->reg_err || c->next_ns > now)
				continue;
			t = now_ms();
			if (t - c->last_ms > c->max_gap_ms)
				c->max_gap_ms = t - c->last_ms;
			if (hbmon_beat(c->fd))
				c->beat_errs++;
			else
				c->beats++;
			c->last_ms = t;
			while (c->next_ns <= now)
				c->next_ns += period;
		}
	}
	for (j = 0; j < th->count; j++) {
		struct swarm_client *c = &th->clients[j];

		if (c->reg_err)
			continue;
		c->status_err = -hbmon_status(c->fd, &st);
		if (!c->status_err)
			c->misses = st.misses;
		hbmon_unregister(c->fd);
	}
	return NULL;
}

static int cmd_swarm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "clients", required_argument, NULL, 'c' },
		{ "hz", required_argument, NULL, 'z' },
		{ "seconds", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long clients = 1000, nthreads = 10;
	struct swarm_thread *th;
	unsigned long long beats = 0, misses = 0;
	int reg_errs = 0, beat_errs = 0, status_errs = 0, hung = 0, false_hangs = 0, late = 0;
	struct swarm_client *cl;
	pthread_attr_t attr;
	struct rlimit rl;
	double max_gap = 0, t0;
	unsigned long i, started = 0;
	int c;

	sw_hz = 10;
	sw_seconds = 30;
	sw_timeout = 1000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_uint(optarg, "clients", 100000, &clients))
				return 2;
			break;
		case 'z':
			if (parse_uint(optarg, "hz", 1000, &sw_hz))
				return 2;
			break;
		case 's':
			if (parse_seconds(optarg, "seconds", &sw_seconds))
				return 2;
			break;
		case 't':
			if (parse_uint(optarg, "timeout", UINT32_MAX, &sw_timeout))
				return 2;
			break;
		case 'T':
			if (parse_uint(optarg, "threads", 1000, &nthreads))
				return 2;
			break;
		default:
			fprintf(stderr, "usage: %s swarm --clients N --hz H --seconds S [--timeout MS] [--threads T]\n",
				prog);
			return 2;
		}
	}
	if (!clients || !sw_hz || !nthreads || optind != argc) {
		fprintf(stderr, "%s: swarm: need --clients, --hz and --threads >= 1\n", prog);
		return 2;
	}
	if (nthreads > clients)
		nthreads = clients;
	sw_clients = clients;

	/* one descriptor per client */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < clients + 64) {
		rl.rlim_cur = rl.rlim_max < clients + 64 ? rl.rlim_max : clients + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	cl = calloc(clients, sizeof(*cl));
	if (!cl)
		return 1;
	for (i = 0; i < clients; i++) {
		cl[i].index = (int)i;
		cl[i].fd = open_device();
		if (cl[i].fd < 0) {
			fprintf(stderr, "%s: swarm: open failed at client %lu\n", prog, i);
			return 1;
		}
	}

	th = calloc(nthreads, sizeof(*th));
	if (!th)
		return 1;
	/* contiguous shares; the first ones take the remainder */
	for (i = 0, started = 0; i < nthreads; i++) {
		th[i].clients = &cl[started];
		th[i].count = clients / nthreads + (i < clients % nthreads);
		started += th[i].count;
	}
	pthread_barrier_init(&sw_barrier, NULL, (unsigned int)nthreads + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&th[i].thread, &attr, swarm_thread, &th[i])) {
			fprintf(stderr, "%s: swarm: cannot start thread %lu\n", prog, i);
			return 1;	/* the barrier would never open */
		}
	}
	pthread_barrier_wait(&sw_barrier);
	t0 = now_ms();
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i].thread, NULL);
	free(th);

	for (i = 0; i < clients; i++) {
		struct swarm_client *s = &cl[i];

		close(s->fd);
		reg_errs += s->reg_err != 0;
		beat_errs += s->beat_errs;
		status_errs += s->status_err != 0;
		beats += s->beats;
		misses += s->misses;
		if (s->max_gap_ms > max_gap)
			max_gap = s->max_gap_ms;
		if (s->max_gap_ms >= (double)sw_timeout)
			late++;
		if (s->misses) {
			hung++;
			/* a hang is false when the client never went quiet that long */
			if (s->max_gap_ms < (double)sw_timeout)
				false_hangs++;
		}
	}
	printf("{\"clients\":%lu,\"hz\":%lu,\"seconds\":%.3f,\"timeout_ms\":%lu,"
	       "\"elapsed_ms\":%.1f,\"beats\":%llu,\"register_errors\":%d,"
	       "\"beat_errors\":%d,\"status_errors\":%d,\"misses\":%llu,"
	       "\"hung_clients\":%d,\"late_clients\":%d,\"false_hangs\":%d,"
	       "\"max_beat_gap_ms\":%.3f,\"ok\":%s}\n",
	       clients, sw_hz, sw_seconds, sw_timeout, now_ms() - t0, beats,
	       reg_errs, beat_errs, status_errs, misses, hung, late, false_hangs,
	       max_gap,
	       !reg_errs && !beat_errs && !status_errs && !false_hangs ? "true" : "false");
	free(cl);
	return !reg_errs && !beat_errs && !status_errs && !false_hangs ? 0 : 1;
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: %s -l [MODULE.ko [PARAM=VALUE...]] | -u | -s [VALUE]\n"
		"       %s status | version | selftest | probe\n"
		"       %s demo --timeout MS [--hang-after S] [--signal SIG] [...]\n"
		"       %s swarm --clients N --hz H --seconds S [--timeout MS]\n"
		"environment: HBMON_DEVICE overrides %s\n",
		prog, prog, prog, prog, HBMON_DEVICE);
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage();
		return 1;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-l"))
		return cmd_load(argc - 2, argv + 2);
	if (!strcmp(cmd, "-u") && argc == 2)
		return cmd_unload();
	if (!strcmp(cmd, "-s") && argc <= 3)
		return cmd_send(argc == 3 ? argv[2] : NULL);
	if (!strcmp(cmd, "status") && argc == 2)
		return cmd_status();
	if (!strcmp(cmd, "version") && argc == 2)
		return cmd_version();
	if (!strcmp(cmd, "selftest") && argc == 2)
		return cmd_selftest();
	if (!strcmp(cmd, "probe") && argc == 2)
		return cmd_probe();
	if (!strcmp(cmd, "demo"))
		return cmd_demo(argc - 1, argv + 1);
	if (!strcmp(cmd, "swarm"))
		return cmd_swarm(argc - 1, argv + 1);
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage();
		return 0;
	}
	usage();
	return 1;
}
