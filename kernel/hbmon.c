// SPDX-License-Identifier: GPL-2.0
/*
 * hbmon - heartbeat monitor for user space applications
 *
 * An application opens /dev/hbmon, registers with a timeout and then sends
 * heartbeats with ioctl(). A missed deadline is a hang: it is logged, the
 * registrant gets the signal it asked for, an admin-mapped restart helper may
 * run and a layer-2 frame tells a health monitor elsewhere on the network.
 * Closing the file without unregistering is a crash and is reported the same
 * way. See hbmon.h for the ioctl ABI, PROTOCOL.md for the frame format and
 * SECURITY.md for what an unprivileged user of the device can and cannot make
 * the kernel do.
 *
 * Design of the watchdog
 * ----------------------
 * Every client owns one hrtimer (CLOCK_MONOTONIC, absolute, no slack). A
 * heartbeat only stores its time: re-arming the timer on every beat would
 * cost an rbtree update and often a clock event reprogram per beat, most of
 * a BEAT's price. The timer stays armed at a deadline that may be stale
 * (earlier than the real one); when it fires, the callback computes the
 * deadline from the last beat and, if that moved, pushes itself forward to
 * it (HRTIMER_RESTART) - the lazy re-arm of a classic watchdog. A client
 * beating every period T with timeout D costs one timer expiry per D, not
 * one re-arm per T, and a deadline is still noticed at hrtimer precision: a
 * timer never fires later than the real deadline, since the deadline only
 * moves forward. The hrtimer core keeps the armed timers of each CPU in a
 * timerqueue, so no code ever walks all clients on a tick. The callback runs
 * in hard interrupt context, so on a deadline it only queues the client's
 * work item on a freezable WQ_HIGHPRI workqueue. The work (process context)
 * re-checks the deadline under the client lock - a beat may have raced with
 * the expiry - and then does what may sleep: logging, the signal, queueing
 * the event. Frames and the restart helper run from a single event work
 * item, so no allocation, socket or netdev reference outlives the event it
 * was made for.
 *
 * What an unprivileged registrant can cause
 * -----------------------------------------
 * - A signal only to its own thread group, and only while that is still the
 *   program (self_exec_id) with the credentials it had at REGISTER: checked
 *   at delivery under the target's exec_update_lock, as kill_pid_usb_asyncio()
 *   and sigio_perm() check the credentials they captured.
 * - The root helper only for a (name, uid) pair root put in helper_map, at
 *   most helper_rate runs per minute per user.
 * - Events (log lines and frames) within per-client and per-user budgets;
 *   HANG and CRASH have their own per-user budget and their own share of the
 *   event queue, so no amount of SEND, REGISTER or UNREGISTER traffic loses
 *   them. A frame's seq is drawn when the event happens, before any point
 *   where it can be dropped, so every lost frame is a gap in seq.
 * - At most max_user_clients registrations per user (of max_clients), and
 *   memory charged to its cgroup (GFP_KERNEL_ACCOUNT).
 *
 * Locking
 * -------
 * client->ioc_lock (mutex) serialises REGISTER and UNREGISTER of one file, so
 * that UNREGISTER can wait for the hang work without a new registration
 * slipping in. hbmon_lock (mutex) protects the client and user lists, the
 * registration counts and unregistration; client->lock (spinlock, never taken
 * from irq context) protects the client's fields. Order: ioc_lock, hbmon_lock,
 * client->lock, then hbmon_ev_lock or a bucket's lock. The hrtimer callback
 * takes no lock: it reads state, last_beat and timeout_ms with READ_ONCE, and
 * a stale read only queues the work, which decides under client->lock.
 * Process context arms the timer only through hbmon_arm(), under
 * client->lock. The hang work takes hbmon_lock, so nobody waits for it
 * (cancel_work_sync) while holding hbmon_lock.
 */

#define pr_fmt(fmt) "[hbmon] " fmt

#include <linux/atomic.h>
#include <linux/cred.h>
#include <linux/ctype.h>
#include <linux/etherdevice.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/if_arp.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/math64.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/pid.h>
#include <linux/pkt_sched.h>
#include <linux/proc_fs.h>
#include <linux/ratelimit.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/signal.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/suspend.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/uidgid.h>
#include <linux/umh.h>
#include <linux/utsname.h>
#include <linux/uuid.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>

#include "hbmon.h"

#define HBMON_VERSION		"1.1.0"
#define HBMON_HELPER_LEN	256
#define HBMON_MAP_LEN		1024
#define HBMON_EV_MAX		4096	/* queued REGISTER, UNREGISTER, RECOVERED, DATA */
#define HBMON_EV_CRIT_MAX	16384	/* queued HANG and CRASH, a share of their own */
#define HBMON_STATE_NONE	0

/*
 * pr_*_ratelimited() would report "func: N callbacks suppressed" without our
 * prefix. These keep every line under "[hbmon] ": each call site counts what
 * it dropped and says so before its next line. Only for lines no single user
 * can trigger at will; per-user event lines go through hbmon_ev_log().
 */
static int hbmon_rl_missed(struct ratelimit_state *rs)
{
	unsigned long flags;
	int missed;

	raw_spin_lock_irqsave(&rs->lock, flags);
	missed = rs->missed;
	rs->missed = 0;
	raw_spin_unlock_irqrestore(&rs->lock, flags);
	return missed;
}

#define hbmon_ratelimited(pr_fn, fmt, ...)					\
do {										\
	static struct ratelimit_state _rs =					\
		RATELIMIT_STATE_INIT_FLAGS(_rs, DEFAULT_RATELIMIT_INTERVAL,	\
					   DEFAULT_RATELIMIT_BURST,		\
					   RATELIMIT_MSG_ON_RELEASE);		\
	int _missed;								\
										\
	if (__ratelimit(&_rs)) {						\
		_missed = hbmon_rl_missed(&_rs);				\
		if (_missed)							\
			pr_fn("%d similar messages suppressed\n", _missed);	\
		pr_fn(fmt, ##__VA_ARGS__);					\
	}									\
} while (0)

#define hbmon_warn_rl(fmt, ...)	hbmon_ratelimited(pr_warn, fmt, ##__VA_ARGS__)

/* ---- module parameters ------------------------------------------------- */

static ushort hbmon_mode = 0600;
module_param_named(mode, hbmon_mode, ushort, 0444);
MODULE_PARM_DESC(mode, "Mode of /dev/hbmon (default 0600; udev may set group and mode)");

/* Fixed at load, like softdog's soft_reboot_cmd: no runtime write retargets a root exec. */
static char hbmon_helper[HBMON_HELPER_LEN] = "/usr/lib/hbmon/hbmon-event";
module_param_string(helper, hbmon_helper, sizeof(hbmon_helper), 0444);
MODULE_PARM_DESC(helper, "Restart helper run as HELPER EVENT PID NAME UID on hang and crash of mapped registrations, absolute path or empty to disable; fixed at load (default /usr/lib/hbmon/hbmon-event)");

static char hbmon_helper_map[HBMON_MAP_LEN];

static char hbmon_iface[IFNAMSIZ];
module_param_string(iface, hbmon_iface, sizeof(hbmon_iface), 0644);
MODULE_PARM_DESC(iface, "Network interface for layer-2 event frames, empty to disable (default empty)");

static char hbmon_dest_mac[18] = "ff:ff:ff:ff:ff:ff";
module_param_string(dest_mac, hbmon_dest_mac, sizeof(hbmon_dest_mac), 0444);
MODULE_PARM_DESC(dest_mac, "Destination MAC of event frames (default ff:ff:ff:ff:ff:ff)");

static ushort hbmon_ethertype = HBMON_ETHERTYPE;
module_param_named(ethertype, hbmon_ethertype, ushort, 0444);
MODULE_PARM_DESC(ethertype, "Ethertype of event frames, >= 0x0600 (default 0x88B5)");

static uint hbmon_rearm_ms = 10000;
module_param_named(rearm_ms, hbmon_rearm_ms, uint, 0644);
MODULE_PARM_DESC(rearm_ms, "While a client stays hung, report it again every max(rearm_ms, timeout) ms; 0 reports once (default 10000)");

static uint hbmon_max_clients = 65536;
module_param_named(max_clients, hbmon_max_clients, uint, 0644);
MODULE_PARM_DESC(max_clients, "Maximum number of registrations (default 65536)");

static uint hbmon_max_user_clients = 4096;
module_param_named(max_user_clients, hbmon_max_user_clients, uint, 0644);
MODULE_PARM_DESC(max_user_clients, "Maximum number of registrations of the files one user opened (default 4096)");

static uint hbmon_client_rate = 10;
module_param_named(client_rate, hbmon_client_rate, uint, 0644);
MODULE_PARM_DESC(client_rate, "REGISTER, UNREGISTER, RECOVERED and DATA events (log line and frame) per second per file (default 10)");

static uint hbmon_user_rate = 50;
module_param_named(user_rate, hbmon_user_rate, uint, 0644);
MODULE_PARM_DESC(user_rate, "REGISTER, UNREGISTER, RECOVERED and DATA events per second per user (default 50)");

static uint hbmon_user_crit_rate = 50;
module_param_named(user_crit_rate, hbmon_user_crit_rate, uint, 0644);
MODULE_PARM_DESC(user_crit_rate, "HANG and CRASH events per second per user, a budget of their own (default 50)");

static uint hbmon_helper_rate = 6;
module_param_named(helper_rate, hbmon_helper_rate, uint, 0644);
MODULE_PARM_DESC(helper_rate, "Restart helper runs per minute per user (default 6)");

/* ---- state ------------------------------------------------------------- */

/* A token bucket: up to @rate tokens, refilled at @rate per period. */
struct hbmon_bucket {
	spinlock_t		lock;
	u32			tokens;
	ktime_t			last;
};

/* What one user (the euid that opened files) may still do. */
struct hbmon_user {
	struct list_head	node;		/* hbmon_users, hbmon_lock */
	kuid_t			uid;
	unsigned int		files;		/* open files, hbmon_lock */
	unsigned int		clients;	/* registrations, hbmon_lock */
	struct hbmon_bucket	events;		/* REGISTER, UNREGISTER, RECOVERED, DATA */
	struct hbmon_bucket	crit;		/* HANG, CRASH */
	struct hbmon_bucket	helper;		/* helper runs */
	atomic_t		missed;		/* events not logged since the last notice */
	unsigned long		notice_at;	/* jiffies of the last such notice */
};

struct hbmon_client {
	struct mutex		ioc_lock;	/* REGISTER / UNREGISTER */
	spinlock_t		lock;
	struct list_head	node;		/* hbmon_clients, hbmon_lock */
	struct hrtimer		timer;
	struct work_struct	hang_work;
	struct hbmon_user	*user;		/* the opener's, for the file's life */
	struct hbmon_bucket	events;		/* this file's event budget */
	/* the rest under lock */
	int			state;		/* HBMON_STATE_* */
	struct pid		*pid;		/* registrant thread group */
	const struct cred	*cred;		/* registrant's credentials at REGISTER */
	u64			exec_id;	/* registrant's self_exec_id at REGISTER */
	bool			sig_warned;	/* a refused signal was logged */
	u32			uid;		/* registrant's euid (init_user_ns) */
	u64			id;
	u32			timeout_ms;
	u32			signal;
	u32			actions;
	ktime_t			last_beat;
	ktime_t			next_report;	/* while HUNG */
	u64			beats;
	u64			misses;
	char			comm[TASK_COMM_LEN];
	char			name[HBMON_NAME_LEN];
};

/* A self-contained copy of what one event reports. */
struct hbmon_event {
	struct list_head	node;
	u8			type;
	bool			l2;		/* send a frame with @seq */
	bool			helper;		/* run the helper */
	bool			log;		/* within the log budget */
	bool			crit;		/* HANG or CRASH */
	bool			dropped;	/* queue full or no memory */
	u64			seq;
	pid_t			pid;
	u32			uid;
	u64			id;
	u32			timeout_ms;
	u32			signal;
	u32			actions;
	u64			real_ns;
	u64			boot_ns;
	u64			since_beat_ms;
	s64			value;
	u64			beats;
	u64			misses;
	char			comm[TASK_COMM_LEN];
	char			name[HBMON_NAME_LEN];
};

static DEFINE_MUTEX(hbmon_lock);
static LIST_HEAD(hbmon_clients);
static LIST_HEAD(hbmon_users);
static unsigned int hbmon_nr_clients;

static DEFINE_SPINLOCK(hbmon_ev_lock);
static LIST_HEAD(hbmon_events);
static unsigned int hbmon_nr_events;		/* queued, not critical */
static unsigned int hbmon_nr_crit;		/* queued HANG and CRASH */
static u64 hbmon_ev_helper_id;			/* registration whose helper runs */

static struct workqueue_struct *hbmon_wq;
static u8 hbmon_dest_addr[ETH_ALEN];
static u8 hbmon_boot_id[16];
static atomic64_t hbmon_next_id = ATOMIC64_INIT(0);
static atomic64_t hbmon_seq = ATOMIC64_INIT(0);
static bool hbmon_suspended;			/* between PM prepare and post */

static struct {
	atomic64_t registrations;
	atomic64_t unregistrations;
	atomic64_t beats;
	atomic64_t hangs;
	atomic64_t recoveries;
	atomic64_t crashes;
	atomic64_t data;
	atomic64_t signals;
	atomic64_t signal_failures;
	atomic64_t frames_sent;
	atomic64_t frames_failed;
	atomic64_t helper_runs;
	atomic64_t helper_failures;
	atomic64_t events_dropped;
	atomic64_t signals_refused;
	atomic64_t events_limited;
	atomic64_t frames_limited;
	atomic64_t frames_dropped;
	atomic64_t helper_limited;
	atomic64_t orphans;
	atomic64_t sends_refused;
} hbmon_stats;

static const char *const hbmon_ev_names[] = {
	[HBMON_EV_REGISTER]	= "register",
	[HBMON_EV_UNREGISTER]	= "unregister",
	[HBMON_EV_HANG]		= "hang",
	[HBMON_EV_RECOVERED]	= "recovered",
	[HBMON_EV_CRASH]	= "crash",
	[HBMON_EV_DATA]		= "data",
};

/* ---- helpers ----------------------------------------------------------- */

/*
 * Copy a string module parameter that root may change through sysfs, without
 * the trailing newline that "echo" leaves.
 */
static void hbmon_param_copy(char *dst, const char *src, size_t size)
{
	size_t len;

	kernel_param_lock(THIS_MODULE);
	strscpy(dst, src, size);
	kernel_param_unlock(THIS_MODULE);
	len = strlen(dst);
	while (len && isspace(dst[len - 1]))
		dst[--len] = '\0';
}

static bool hbmon_l2_enabled(void)
{
	bool on;

	kernel_param_lock(THIS_MODULE);
	on = hbmon_iface[0] && !isspace(hbmon_iface[0]);
	kernel_param_unlock(THIS_MODULE);
	return on;
}

/* Names and comms go into logs, /proc and argv: printable, no blanks. */
static void hbmon_sanitize(char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			*s = '_';
}

static const char *hbmon_actions_str(u32 actions)
{
	switch (actions & HBMON_ACT_MASK) {
	case HBMON_ACT_HELPER:
		return "helper";
	case HBMON_ACT_L2:
		return "l2";
	case HBMON_ACT_HELPER | HBMON_ACT_L2:
		return "helper,l2";
	default:
		return "-";
	}
}

static void hbmon_bucket_init(struct hbmon_bucket *b, u32 tokens)
{
	spin_lock_init(&b->lock);
	b->tokens = tokens;
	b->last = ktime_get();
}

/* Take one token of at most @rate per @period_ms; 0 refuses everything. */
static bool hbmon_bucket_take(struct hbmon_bucket *b, u32 rate, u32 period_ms)
{
	ktime_t now = ktime_get();
	bool ok;
	s64 ms;
	u64 add;

	if (!rate)
		return false;
	spin_lock(&b->lock);
	ms = ktime_ms_delta(now, b->last);
	if (ms >= period_ms || ms < 0) {
		b->tokens = rate;
		b->last = now;
	} else {
		add = div_u64((u64)ms * rate, period_ms);
		if (add) {
			b->tokens = min_t(u64, (u64)b->tokens + add, rate);
			b->last = ktime_add_ms(b->last,
					       div_u64(add * period_ms, rate));
		}
	}
	ok = b->tokens > 0;
	if (ok)
		b->tokens--;
	spin_unlock(&b->lock);
	return ok;
}

/* ---- helper_map: which (name, uid) may ask for the root helper ---------- */

/*
 * "NAME:UID[,NAME:UID...]" (blanks and newlines separate too). NAME is a
 * registration name (printable ASCII, no blanks, no ':' or ','), UID a
 * number in the initial user namespace. Returns the next entry (1), the end
 * (0) or -EINVAL.
 */
static int hbmon_map_next(const char **pos, char *name, u32 *uid)
{
	const char *p = *pos, *start, *colon = NULL;
	char num[12];
	size_t len;

	while (*p == ',' || isspace(*p))
		p++;
	if (!*p)
		return 0;
	start = p;
	for (; *p && *p != ',' && !isspace(*p); p++) {
		if (*p < 0x21 || *p > 0x7e)
			return -EINVAL;
		if (*p == ':')
			colon = p;
	}
	*pos = p;
	if (!colon || colon == start || colon - start >= HBMON_NAME_LEN ||
	    p - colon - 1 < 1 || p - colon - 1 >= sizeof(num))
		return -EINVAL;
	len = colon - start;
	memcpy(name, start, len);
	name[len] = '\0';
	if (strchr(name, ':'))
		return -EINVAL;
	memcpy(num, colon + 1, p - colon - 1);
	num[p - colon - 1] = '\0';
	if (kstrtou32(num, 10, uid))
		return -EINVAL;
	return 1;
}

static int hbmon_map_check(const char *map)
{
	char name[HBMON_NAME_LEN];
	int ret, n = 0;
	u32 uid;

	while ((ret = hbmon_map_next(&map, name, &uid)) > 0)
		n++;
	return ret < 0 ? ret : n;
}

static int hbmon_map_set(const char *val, const struct kernel_param *kp)
{
	int n = hbmon_map_check(val);

	if (n < 0) {
		pr_err("helper_map: expected NAME:UID[,NAME:UID...]\n");
		return n;
	}
	return param_set_copystring(val, kp);
}

static const struct kernel_param_ops hbmon_map_ops = {
	.set	= hbmon_map_set,
	.get	= param_get_string,
};

static struct kparam_string hbmon_map_kps = {
	.maxlen	= sizeof(hbmon_helper_map),
	.string	= hbmon_helper_map,
};

module_param_cb(helper_map, &hbmon_map_ops, &hbmon_map_kps, 0600);
MODULE_PARM_DESC(helper_map, "Registrations that may run the restart helper, NAME:UID[,NAME:UID...]; root only (default empty: none)");

static bool hbmon_helper_mapped(const char *want, u32 want_uid)
{
	char name[HBMON_NAME_LEN];
	const char *p;
	bool found = false;
	u32 uid;

	kernel_param_lock(THIS_MODULE);
	p = hbmon_helper_map;
	while (!found && hbmon_map_next(&p, name, &uid) > 0)
		found = uid == want_uid && !strcmp(name, want);
	kernel_param_unlock(THIS_MODULE);
	return found;
}

/* ---- users ------------------------------------------------------------- */

/* The user entry of @uid, created on first open. Called with hbmon_lock. */
static struct hbmon_user *hbmon_user_get(kuid_t uid)
{
	struct hbmon_user *u;

	lockdep_assert_held(&hbmon_lock);
	list_for_each_entry(u, &hbmon_users, node) {
		if (uid_eq(u->uid, uid)) {
			u->files++;
			return u;
		}
	}
	u = kzalloc(sizeof(*u), GFP_KERNEL_ACCOUNT);
	if (!u)
		return NULL;
	u->uid = uid;
	u->files = 1;
	hbmon_bucket_init(&u->events, READ_ONCE(hbmon_user_rate));
	hbmon_bucket_init(&u->crit, READ_ONCE(hbmon_user_crit_rate));
	hbmon_bucket_init(&u->helper, READ_ONCE(hbmon_helper_rate));
	atomic_set(&u->missed, 0);
	u->notice_at = jiffies - 10 * HZ - 1;
	list_add(&u->node, &hbmon_users);
	return u;
}

/*
 * Kept when its last file closes: the budgets are the user's, not its
 * files' (open, REGISTER, close in a loop must not start from full buckets).
 * Entries exist only for uids that could open the device; freed at unload.
 */
static void hbmon_user_put(struct hbmon_user *u)
{
	mutex_lock(&hbmon_lock);
	u->files--;
	mutex_unlock(&hbmon_lock);
}

static void hbmon_free_users(void)
{
	struct hbmon_user *u, *tmp;

	list_for_each_entry_safe(u, tmp, &hbmon_users, node) {
		list_del(&u->node);
		kfree(u);
	}
}

/* Fill @ev from a registered client. Called with c->lock held. */
static void hbmon_snapshot(struct hbmon_client *c, struct hbmon_event *ev,
			   u8 type, ktime_t now)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->crit = type == HBMON_EV_HANG || type == HBMON_EV_CRASH;
	ev->l2 = c->actions & HBMON_ACT_L2;
	ev->helper = false;
	ev->pid = pid_nr(c->pid);
	ev->uid = c->uid;
	ev->id = c->id;
	ev->timeout_ms = c->timeout_ms;
	ev->signal = c->signal;
	ev->actions = c->actions;
	ev->real_ns = ktime_get_real_ns();
	ev->boot_ns = ktime_get_boottime_ns();
	ev->since_beat_ms = ktime_ms_delta(now, c->last_beat);
	ev->beats = c->beats;
	ev->misses = c->misses;
	memcpy(ev->comm, c->comm, sizeof(ev->comm));
	memcpy(ev->name, c->name, sizeof(ev->name));
}

/* ---- events: frames and the restart helper (process context) ----------- */

static void hbmon_xmit(const struct hbmon_event *ev)
{
	const char *host = init_utsname()->nodename;
	char ifname[IFNAMSIZ];
	struct net_device *dev;
	struct hbmon_frame *f;
	struct sk_buff *skb;
	int err;

	hbmon_param_copy(ifname, hbmon_iface, sizeof(ifname));
	if (!ifname[0])
		goto fail;	/* iface cleared since the event drew its seq */

	dev = dev_get_by_name(&init_net, ifname);
	if (!dev) {
		hbmon_warn_rl("l2: no interface %s\n", ifname);
		goto fail;
	}
	if (!(dev->flags & IFF_UP) ||
	    (dev->type != ARPHRD_ETHER && dev->type != ARPHRD_LOOPBACK) ||
	    dev->mtu < sizeof(*f)) {
		hbmon_warn_rl("l2: interface %s is down or not ethernet\n",
			      ifname);
		goto fail_put;
	}

	skb = alloc_skb(LL_RESERVED_SPACE(dev) + sizeof(*f) +
			dev->needed_tailroom, GFP_KERNEL);
	if (!skb)
		goto fail_put;
	skb_reserve(skb, LL_RESERVED_SPACE(dev));
	skb_reset_network_header(skb);
	f = skb_put_zero(skb, sizeof(*f));

	f->magic = cpu_to_be32(HBMON_FRAME_MAGIC);
	f->version = HBMON_FRAME_VERSION;
	f->type = ev->type;
	f->length = cpu_to_be16(sizeof(*f));
	f->seq = cpu_to_be64(ev->seq);
	memcpy(f->boot_id, hbmon_boot_id, sizeof(f->boot_id));
	memcpy(f->hostname, host, strnlen(host, sizeof(f->hostname)));
	f->reg_id = cpu_to_be64(ev->id);
	f->pid = cpu_to_be32(ev->pid);
	f->timeout_ms = cpu_to_be32(ev->timeout_ms);
	memcpy(f->comm, ev->comm, sizeof(f->comm));
	memcpy(f->name, ev->name, sizeof(f->name));
	f->time_real_ns = cpu_to_be64(ev->real_ns);
	f->time_boot_ns = cpu_to_be64(ev->boot_ns);
	f->since_beat_ms = cpu_to_be64(ev->since_beat_ms);
	f->value = cpu_to_be64((u64)ev->value);
	f->beats = cpu_to_be64(ev->beats);
	f->misses = cpu_to_be64(ev->misses);
	f->actions = cpu_to_be32(ev->actions);
	f->signal = cpu_to_be32(ev->signal);

	skb->dev = dev;
	skb->protocol = htons(hbmon_ethertype);
	skb->priority = TC_PRIO_CONTROL;
	if (dev_hard_header(skb, dev, hbmon_ethertype, hbmon_dest_addr,
			    dev->dev_addr, skb->len) < 0) {
		kfree_skb(skb);
		goto fail_put;
	}
	/* dev_queue_xmit() consumes the skb whatever it returns. */
	err = dev_queue_xmit(skb);
	dev_put(dev);
	if (net_xmit_eval(err)) {
		hbmon_warn_rl("l2: transmit on %s failed: %d\n",
			      ifname, err);
		goto fail;
	}
	atomic64_inc(&hbmon_stats.frames_sent);
	return;

fail_put:
	dev_put(dev);
fail:
	atomic64_inc(&hbmon_stats.frames_failed);
}

static void hbmon_run_helper(const struct hbmon_event *ev)
{
	char pid[16], uid[16], name[HBMON_NAME_LEN];
	char env_id[32], env_comm[32], env_since[48], env_timeout[32];
	char env_uid[32];
	char *argv[] = { hbmon_helper, (char *)hbmon_ev_names[ev->type], pid,
			 name, uid, NULL };
	char *envp[] = { "HOME=/", "PATH=/sbin:/bin:/usr/sbin:/usr/bin",
			 env_id, env_comm, env_since, env_timeout, env_uid,
			 NULL };
	int err;

	/* hbmon_helper is read-only after load (checked absolute in init). */
	if (!hbmon_helper[0])
		return;

	snprintf(pid, sizeof(pid), "%d", ev->pid);
	snprintf(uid, sizeof(uid), "%u", ev->uid);
	memcpy(name, ev->name, sizeof(name));
	snprintf(env_id, sizeof(env_id), "HBMON_ID=%llu", ev->id);
	snprintf(env_comm, sizeof(env_comm), "HBMON_COMM=%s", ev->comm);
	snprintf(env_since, sizeof(env_since), "HBMON_SINCE_BEAT_MS=%llu",
		 ev->since_beat_ms);
	snprintf(env_timeout, sizeof(env_timeout), "HBMON_TIMEOUT_MS=%u",
		 ev->timeout_ms);
	snprintf(env_uid, sizeof(env_uid), "HBMON_UID=%u", ev->uid);

	/* UMH_WAIT_EXEC: argv and envp live on this stack until exec. */
	err = call_usermodehelper(hbmon_helper, argv, envp, UMH_WAIT_EXEC);
	if (err) {
		atomic64_inc(&hbmon_stats.helper_failures);
		hbmon_warn_rl("helper %s %s %s %s %s failed: %d\n",
			      hbmon_helper, argv[1], pid, name, uid, err);
		return;
	}
	atomic64_inc(&hbmon_stats.helper_runs);
}

static void hbmon_ev_workfn(struct work_struct *work)
{
	struct hbmon_event *ev;

	for (;;) {
		spin_lock(&hbmon_ev_lock);
		ev = list_first_entry_or_null(&hbmon_events,
					      struct hbmon_event, node);
		if (ev) {
			list_del(&ev->node);
			if (ev->crit)
				hbmon_nr_crit--;
			else
				hbmon_nr_events--;
			/* UNREGISTER waits for a helper run of its own. */
			hbmon_ev_helper_id = ev->helper ? ev->id : 0;
		}
		spin_unlock(&hbmon_ev_lock);
		if (!ev)
			break;

		if (ev->l2)
			hbmon_xmit(ev);
		if (ev->helper)
			hbmon_run_helper(ev);
		kfree(ev);
		cond_resched();
	}
	spin_lock(&hbmon_ev_lock);
	hbmon_ev_helper_id = 0;
	spin_unlock(&hbmon_ev_lock);
}

static DECLARE_WORK(hbmon_ev_work, hbmon_ev_workfn);

/*
 * Decide what of an event happens, draw its seq and queue it. Called with
 * c->lock held, so that the events of one client enter the queue in the
 * order of its state changes (a HANG never leaves after the RECOVERED or
 * UNREGISTER that followed it). @q is a queue entry allocated before the
 * lock; it is used (and set to NULL) when the event needs the event work.
 *
 * Budgets: HANG and CRASH take from the user's critical bucket only; the
 * others from the file's and then the user's bucket. A refused event is not
 * logged and its frame is lost - after drawing its seq, so the loss shows as
 * a gap. Returns -EAGAIN for a refused DATA event (SEND then fails and
 * nothing is drawn), 1 when the event work must run, else 0.
 */
static int hbmon_ev_admit(struct hbmon_client *c, struct hbmon_event *ev,
			  struct hbmon_event **q, bool l2_on)
{
	struct hbmon_user *u = c->user;
	bool ok, frame;

	lockdep_assert_held(&c->lock);
	if (ev->crit)
		ok = hbmon_bucket_take(&u->crit, READ_ONCE(hbmon_user_crit_rate),
				       MSEC_PER_SEC);
	else
		ok = hbmon_bucket_take(&c->events, READ_ONCE(hbmon_client_rate),
				       MSEC_PER_SEC) &&
		     hbmon_bucket_take(&u->events, READ_ONCE(hbmon_user_rate),
				       MSEC_PER_SEC);
	if (!ok) {
		if (ev->type == HBMON_EV_DATA) {
			atomic64_inc(&hbmon_stats.sends_refused);
			return -EAGAIN;
		}
		atomic64_inc(&hbmon_stats.events_limited);
		atomic_inc(&u->missed);
	}
	ev->log = ok;

	if (ev->helper && !hbmon_bucket_take(&u->helper,
					     READ_ONCE(hbmon_helper_rate),
					     60 * MSEC_PER_SEC)) {
		ev->helper = false;
		atomic64_inc(&hbmon_stats.helper_limited);
	}

	frame = ev->l2 && l2_on;
	ev->l2 = false;
	if (!frame && !ev->helper)
		return 0;

	/* seq under the queue lock: frames leave in seq order. */
	spin_lock(&hbmon_ev_lock);
	if (frame) {
		ev->seq = atomic64_inc_return(&hbmon_seq);
		if (ok)
			ev->l2 = true;
		else
			atomic64_inc(&hbmon_stats.frames_limited);
	}
	if (!ev->l2 && !ev->helper) {
		spin_unlock(&hbmon_ev_lock);
		return 0;
	}
	if (!*q || (ev->crit ? hbmon_nr_crit >= HBMON_EV_CRIT_MAX :
			       hbmon_nr_events >= HBMON_EV_MAX)) {
		spin_unlock(&hbmon_ev_lock);
		ev->dropped = true;
		atomic64_inc(&hbmon_stats.events_dropped);
		if (ev->l2)
			atomic64_inc(&hbmon_stats.frames_dropped);
		return 0;
	}
	**q = *ev;
	list_add_tail(&(*q)->node, &hbmon_events);
	if (ev->crit)
		hbmon_nr_crit++;
	else
		hbmon_nr_events++;
	spin_unlock(&hbmon_ev_lock);
	*q = NULL;
	return 1;
}

/* After hbmon_ev_admit(), without locks: the log line, and the work. */
static void hbmon_ev_done(struct hbmon_user *u, const struct hbmon_event *ev,
			  int admitted)
{
	int missed;

	if (admitted > 0)
		queue_work(hbmon_wq, &hbmon_ev_work);
	if (ev->dropped)
		hbmon_warn_rl("event queue full, %s event dropped\n",
			      hbmon_ev_names[ev->type]);
	if (!ev->log)
		return;

	/* At most one notice per user every 10 s, itself no flood. */
	if (atomic_read(&u->missed) &&
	    time_after(jiffies, READ_ONCE(u->notice_at) + 10 * HZ)) {
		WRITE_ONCE(u->notice_at, jiffies);
		missed = atomic_xchg(&u->missed, 0);
		if (missed)
			pr_warn("uid=%u: %d events over the rate limit not logged\n",
				ev->uid, missed);
	}

	switch (ev->type) {
	case HBMON_EV_REGISTER:
		pr_info("register pid=%d comm=%s name=%s timeout_ms=%u signal=%u actions=%s id=%llu uid=%u\n",
			ev->pid, ev->comm, ev->name, ev->timeout_ms,
			ev->signal, hbmon_actions_str(ev->actions), ev->id,
			ev->uid);
		break;
	case HBMON_EV_UNREGISTER:
		pr_info("unregister pid=%d comm=%s name=%s beats=%llu misses=%llu id=%llu\n",
			ev->pid, ev->comm, ev->name, ev->beats, ev->misses,
			ev->id);
		break;
	case HBMON_EV_HANG:
		pr_warn("hang pid=%d comm=%s name=%s since_beat_ms=%llu timeout_ms=%u misses=%llu signal=%u id=%llu\n",
			ev->pid, ev->comm, ev->name, ev->since_beat_ms,
			ev->timeout_ms, ev->misses, ev->signal, ev->id);
		break;
	case HBMON_EV_RECOVERED:
		pr_info("recovered pid=%d comm=%s name=%s silent_ms=%llu misses=%llu id=%llu\n",
			ev->pid, ev->comm, ev->name, ev->since_beat_ms,
			ev->misses, ev->id);
		break;
	case HBMON_EV_CRASH:
		pr_warn("crash pid=%d comm=%s name=%s since_beat_ms=%llu beats=%llu misses=%llu id=%llu\n",
			ev->pid, ev->comm, ev->name, ev->since_beat_ms,
			ev->beats, ev->misses, ev->id);
		break;
	case HBMON_EV_DATA: {
		struct timespec64 ts = ns_to_timespec64(ev->real_ns);

		pr_info("data pid=%d comm=%s name=%s value=%lld time=%lld.%06ld\n",
			ev->pid, ev->comm, ev->name[0] ? ev->name : "-",
			ev->value, (long long)ts.tv_sec,
			ts.tv_nsec / NSEC_PER_USEC);
		break;
	}
	}
}

/*
 * A clean UNREGISTER supersedes a HANG whose helper has not run yet: no
 * service is restarted for a registration that stopped cleanly. A helper
 * already running for it is waited for, so none starts after UNREGISTER.
 */
static void hbmon_cancel_helper(u64 id)
{
	struct hbmon_event *ev;
	bool busy;

	spin_lock(&hbmon_ev_lock);
	list_for_each_entry(ev, &hbmon_events, node)
		if (ev->id == id)
			ev->helper = false;
	busy = hbmon_ev_helper_id == id;
	spin_unlock(&hbmon_ev_lock);
	if (busy)
		flush_work(&hbmon_ev_work);
}

/* ---- the watchdog ------------------------------------------------------ */

static enum hrtimer_restart hbmon_timer_fn(struct hrtimer *timer)
{
	struct hbmon_client *c = container_of(timer, struct hbmon_client,
					      timer);
	ktime_t due;

	/* Beats since the timer was armed moved the deadline: follow it. */
	if (READ_ONCE(c->state) == HBMON_STATE_OK) {
		due = ktime_add_ms(READ_ONCE(c->last_beat),
				   READ_ONCE(c->timeout_ms));
		if (ktime_before(ktime_get(), due)) {
			hrtimer_set_expires(timer, due);
			return HRTIMER_RESTART;
		}
	}
	/* Hard irq context: everything else happens in hbmon_hang_workfn(). */
	queue_work(hbmon_wq, &c->hang_work);
	return HRTIMER_NORESTART;
}

/*
 * Arm the timer at @at, from process context with c->lock held. The callback
 * may be running on another CPU and about to push the timer forward itself,
 * so wait for it first: a queued timer must not be moved under the hrtimer
 * core. The callback takes no lock, so waiting under c->lock cannot deadlock,
 * and every other arming holds c->lock, so nothing queues the timer between
 * the cancel and the start.
 */
static void hbmon_arm(struct hbmon_client *c, ktime_t at)
{
	lockdep_assert_held(&c->lock);
	hrtimer_cancel(&c->timer);
	hrtimer_start(&c->timer, at, HRTIMER_MODE_ABS);
}

/* kill_as_cred_perm(): what the registrant could signal itself. */
static bool hbmon_cred_may_signal(const struct cred *reg,
				  const struct cred *tcred)
{
	return uid_eq(reg->euid, tcred->suid) ||
	       uid_eq(reg->euid, tcred->uid) ||
	       uid_eq(reg->uid, tcred->suid) ||
	       uid_eq(reg->uid, tcred->uid);
}

/*
 * Signal the registrant's thread group, only while it is still the program
 * that registered (no execve since: self_exec_id) and the registrant's
 * credentials at REGISTER could signal it. exec_update_lock, held for
 * reading, keeps an execve (which takes it for writing while it switches
 * program and credentials) out between the check and the signal; when it is
 * taken, an exec is under way and the identity is changing: refused.
 * Returns 0, -ESRCH, or -EPERM with @why set.
 */
static int hbmon_signal(struct pid *pid, const struct cred *cred, u64 exec_id,
			u32 sig, const char **why)
{
	struct task_struct *task;
	int err = 0;

	task = get_pid_task(pid, PIDTYPE_TGID);
	if (!task)
		return -ESRCH;
	if (!down_read_trylock(&task->signal->exec_update_lock)) {
		*why = "execve in progress";
		err = -EPERM;
		goto out;
	}
	rcu_read_lock();
	if (READ_ONCE(task->self_exec_id) != exec_id) {
		*why = "it executed another program";
		err = -EPERM;
	} else if (!hbmon_cred_may_signal(cred, __task_cred(task))) {
		*why = "its credentials changed";
		err = -EPERM;
	}
	rcu_read_unlock();
	if (!err)
		err = kill_pid(pid, sig, 1);
	up_read(&task->signal->exec_update_lock);
out:
	put_task_struct(task);
	return err;
}

/* The registrant's thread group has exited (its pid may still be held). */
static bool hbmon_registrant_gone(struct pid *pid)
{
	struct task_struct *task = get_pid_task(pid, PIDTYPE_TGID);
	bool gone;

	if (!task)
		return true;
	gone = !atomic_read(&task->signal->live);
	put_task_struct(task);
	return gone;
}

/*
 * Take a client out of the registrations. Called with hbmon_lock and c->lock
 * held; the caller puts the returned pid and cred after unlocking, and
 * cancels the timer and the hang work where it may sleep.
 */
static void hbmon_detach(struct hbmon_client *c, struct pid **pid,
			 const struct cred **cred)
{
	lockdep_assert_held(&hbmon_lock);
	lockdep_assert_held(&c->lock);
	WRITE_ONCE(c->state, HBMON_STATE_NONE);
	*pid = c->pid;
	*cred = c->cred;
	c->pid = NULL;
	c->cred = NULL;
	list_del_init(&c->node);
	hbmon_nr_clients--;
	c->user->clients--;
}

/*
 * The descriptor outlived its registrant (fork, SCM_RIGHTS, a leaked fd):
 * report the CRASH once and drop the registration, instead of reporting a
 * hang of a dead process forever.
 */
static void hbmon_orphan(struct hbmon_client *c, struct pid *was)
{
	const struct cred *cred = NULL;
	struct hbmon_event *q, ev;
	struct pid *pid = NULL;
	bool l2_on = hbmon_l2_enabled();
	int admitted = 0;

	q = kmalloc(sizeof(*q), GFP_KERNEL);
	mutex_lock(&hbmon_lock);
	spin_lock(&c->lock);
	if (c->state != HBMON_STATE_NONE && c->pid == was) {
		hbmon_snapshot(c, &ev, HBMON_EV_CRASH, ktime_get());
		ev.helper = c->actions & HBMON_ACT_HELPER;
		hbmon_detach(c, &pid, &cred);
		admitted = hbmon_ev_admit(c, &ev, &q, l2_on);
	}
	spin_unlock(&c->lock);
	mutex_unlock(&hbmon_lock);
	kfree(q);
	if (!pid)
		return;
	/* We are the hang work: the timer may still be armed, never re-armed. */
	hrtimer_try_to_cancel(&c->timer);
	put_pid(pid);
	put_cred(cred);
	atomic64_inc(&hbmon_stats.crashes);
	atomic64_inc(&hbmon_stats.orphans);
	hbmon_ev_done(c->user, &ev, admitted);
}

static void hbmon_hang_workfn(struct work_struct *work)
{
	struct hbmon_client *c = container_of(work, struct hbmon_client,
					      hang_work);
	bool l2_on = hbmon_l2_enabled();
	const struct cred *cred;
	struct hbmon_event *q, ev;
	const char *why = NULL;
	unsigned int rearm;
	struct pid *pid;
	bool warned;
	int admitted;
	u64 exec_id;
	ktime_t now;
	ktime_t due;
	u32 sig;
	int err;

	now = ktime_get();
	/*
	 * Suspending: user space is frozen and cannot beat. Keep the timer
	 * going; on resume every deadline starts over.
	 */
	if (READ_ONCE(hbmon_suspended)) {
		spin_lock(&c->lock);
		if (c->state != HBMON_STATE_NONE)
			hbmon_arm(c, ktime_add_ms(now, c->timeout_ms));
		spin_unlock(&c->lock);
		return;
	}
	q = kmalloc(sizeof(*q), GFP_KERNEL);
	spin_lock(&c->lock);
	if (c->state == HBMON_STATE_NONE)
		goto unlock;
	if (c->state == HBMON_STATE_OK)
		due = ktime_add_ms(c->last_beat, c->timeout_ms);
	else
		due = c->next_report;
	if (ktime_before(now, due)) {
		/* A beat came in after the timer fired: it does not re-arm. */
		if (due != KTIME_MAX)
			hbmon_arm(c, due);
		goto unlock;
	}
	if (hbmon_registrant_gone(c->pid)) {
		pid = c->pid;
		spin_unlock(&c->lock);
		kfree(q);
		hbmon_orphan(c, pid);
		return;
	}

	c->misses++;
	WRITE_ONCE(c->state, HBMON_STATE_HUNG);
	/* Re-arm far enough ahead that one hung process is no log storm. */
	rearm = READ_ONCE(hbmon_rearm_ms);
	if (rearm) {
		c->next_report = ktime_add_ms(now, max(rearm, c->timeout_ms));
		hbmon_arm(c, c->next_report);
	} else {
		c->next_report = KTIME_MAX;
	}
	hbmon_snapshot(c, &ev, HBMON_EV_HANG, now);
	ev.helper = c->actions & HBMON_ACT_HELPER;
	admitted = hbmon_ev_admit(c, &ev, &q, l2_on);
	pid = get_pid(c->pid);
	cred = get_cred(c->cred);
	exec_id = c->exec_id;
	sig = c->signal;
	spin_unlock(&c->lock);
	kfree(q);

	atomic64_inc(&hbmon_stats.hangs);
	hbmon_ev_done(c->user, &ev, admitted);
	if (sig) {
		err = hbmon_signal(pid, cred, exec_id, sig, &why);
		if (!err) {
			atomic64_inc(&hbmon_stats.signals);
		} else {
			if (err == -EPERM)
				atomic64_inc(&hbmon_stats.signals_refused);
			else
				atomic64_inc(&hbmon_stats.signal_failures);
			spin_lock(&c->lock);
			warned = c->sig_warned || c->id != ev.id;
			c->sig_warned = true;
			spin_unlock(&c->lock);
			/* Once per registration: the registrant chose the rate. */
			if (!warned && err == -EPERM)
				pr_warn("signal %u to pid %d refused: %s since it registered (id=%llu)\n",
					sig, ev.pid, why, ev.id);
			else if (!warned)
				pr_warn("signal %u to pid %d failed: %d (id=%llu)\n",
					sig, ev.pid, err, ev.id);
		}
	}
	put_cred(cred);
	put_pid(pid);
	return;

unlock:
	spin_unlock(&c->lock);
	kfree(q);
}

/* ---- ioctl ------------------------------------------------------------- */

static int hbmon_check_register(const struct hbmon_register *reg, char *name)
{
	size_t i, len;

	if (reg->timeout_ms < HBMON_TIMEOUT_MIN_MS ||
	    reg->timeout_ms > HBMON_TIMEOUT_MAX_MS)
		return -EINVAL;
	if (reg->signal && !valid_signal(reg->signal))
		return -EINVAL;
	if (reg->actions & ~HBMON_ACT_MASK)
		return -EINVAL;
	if (reg->reserved)
		return -EINVAL;

	len = strnlen(reg->name, sizeof(reg->name));
	if (len == sizeof(reg->name))
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (reg->name[i] < 0x21 || reg->name[i] > 0x7e)
			return -EINVAL;
	memcpy(name, reg->name, len);
	name[len] = '\0';
	return 0;
}

static int hbmon_register(struct hbmon_client *c, void __user *argp)
{
	struct hbmon_register reg;
	struct hbmon_event *q, ev;
	char name[HBMON_NAME_LEN];
	char comm[TASK_COMM_LEN];
	struct hbmon_user *u = c->user;
	int admitted = 0;
	bool l2_on;
	ktime_t now;
	u32 uid;
	int err;

	if (copy_from_user(&reg, argp, sizeof(reg)))
		return -EFAULT;
	err = hbmon_check_register(&reg, name);
	if (err)
		return err;
	get_task_comm(comm, current);
	hbmon_sanitize(comm);
	if (!name[0])
		strscpy(name, comm, sizeof(name));
	uid = from_kuid_munged(&init_user_ns, current_euid());
	/* The root helper only for what root mapped to this user. */
	if ((reg.actions & HBMON_ACT_HELPER) && !hbmon_helper_mapped(name, uid))
		return -EPERM;

	q = kmalloc(sizeof(*q), GFP_KERNEL_ACCOUNT);
	l2_on = hbmon_l2_enabled();
	mutex_lock(&c->ioc_lock);
	mutex_lock(&hbmon_lock);
	spin_lock(&c->lock);
	if (c->state != HBMON_STATE_NONE) {
		err = -EBUSY;
		goto unlock;
	}
	if (hbmon_nr_clients >= READ_ONCE(hbmon_max_clients)) {
		err = -ENOSPC;
		goto unlock;
	}
	if (u->clients >= READ_ONCE(hbmon_max_user_clients)) {
		err = -EDQUOT;
		goto unlock;
	}
	c->pid = get_pid(task_tgid(current));
	c->cred = get_current_cred();
	c->exec_id = READ_ONCE(current->self_exec_id);
	c->sig_warned = false;
	c->uid = uid;
	c->id = atomic64_inc_return(&hbmon_next_id);
	WRITE_ONCE(c->timeout_ms, reg.timeout_ms);
	c->signal = reg.signal;
	c->actions = reg.actions;
	memcpy(c->comm, comm, sizeof(c->comm));
	strscpy(c->name, name, sizeof(c->name));
	c->beats = 0;
	c->misses = 0;
	now = ktime_get();
	WRITE_ONCE(c->last_beat, now);
	WRITE_ONCE(c->state, HBMON_STATE_OK);
	hbmon_arm(c, ktime_add_ms(now, c->timeout_ms));
	hbmon_snapshot(c, &ev, HBMON_EV_REGISTER, now);
	admitted = hbmon_ev_admit(c, &ev, &q, l2_on);
	spin_unlock(&c->lock);
	list_add_tail(&c->node, &hbmon_clients);
	hbmon_nr_clients++;
	u->clients++;
	mutex_unlock(&hbmon_lock);
	mutex_unlock(&c->ioc_lock);
	kfree(q);

	atomic64_inc(&hbmon_stats.registrations);
	hbmon_ev_done(u, &ev, admitted);
	return 0;

unlock:
	spin_unlock(&c->lock);
	mutex_unlock(&hbmon_lock);
	mutex_unlock(&c->ioc_lock);
	kfree(q);
	return err;
}

static int hbmon_beat(struct hbmon_client *c)
{
	bool hung = READ_ONCE(c->state) == HBMON_STATE_HUNG;
	struct hbmon_event *q = NULL, ev;
	bool recovered = false;
	bool l2_on = false;
	int admitted = 0;
	ktime_t now;

again:
	/*
	 * Only a beat that ends a hang needs an event: the allocation and the
	 * parameter lock (a mutex) stay off the path of every other beat.
	 */
	if (hung) {
		q = kmalloc(sizeof(*q), GFP_KERNEL_ACCOUNT);
		l2_on = hbmon_l2_enabled();
	}
	now = ktime_get();
	spin_lock(&c->lock);
	if (c->state == HBMON_STATE_HUNG && !hung) {
		/* The hang was declared since we looked: prepare its event. */
		spin_unlock(&c->lock);
		hung = true;
		goto again;
	}
	if (c->state == HBMON_STATE_NONE) {
		spin_unlock(&c->lock);
		kfree(q);
		return -ENOTCONN;
	}
	if (c->pid != task_tgid(current)) {
		spin_unlock(&c->lock);
		kfree(q);
		return -EPERM;
	}
	if (c->state == HBMON_STATE_HUNG) {
		WRITE_ONCE(c->state, HBMON_STATE_OK);
		hbmon_snapshot(c, &ev, HBMON_EV_RECOVERED, now);
		admitted = hbmon_ev_admit(c, &ev, &q, l2_on);
		recovered = true;
		/* The timer waits for next_report, later or never. */
		hbmon_arm(c, ktime_add_ms(now, c->timeout_ms));
	}
	WRITE_ONCE(c->last_beat, now);
	c->beats++;
	/* Otherwise the timer catches up when it fires: hbmon_timer_fn(). */
	spin_unlock(&c->lock);
	kfree(q);

	atomic64_inc(&hbmon_stats.beats);
	if (recovered) {
		atomic64_inc(&hbmon_stats.recoveries);
		hbmon_ev_done(c->user, &ev, admitted);
	}
	return 0;
}

static int hbmon_unregister(struct hbmon_client *c)
{
	bool l2_on = hbmon_l2_enabled();
	const struct cred *cred = NULL;
	struct hbmon_event *q, ev;
	struct pid *pid = NULL;
	int admitted = 0;
	int err = 0;

	q = kmalloc(sizeof(*q), GFP_KERNEL_ACCOUNT);
	mutex_lock(&c->ioc_lock);
	mutex_lock(&hbmon_lock);
	spin_lock(&c->lock);
	if (c->state == HBMON_STATE_NONE) {
		err = -ENOTCONN;
	} else if (c->pid != task_tgid(current)) {
		err = -EPERM;
	} else {
		hbmon_snapshot(c, &ev, HBMON_EV_UNREGISTER, ktime_get());
		hbmon_detach(c, &pid, &cred);
		admitted = hbmon_ev_admit(c, &ev, &q, l2_on);
	}
	spin_unlock(&c->lock);
	mutex_unlock(&hbmon_lock);
	if (!err) {
		/*
		 * Nothing of this registration happens after we return: no
		 * timer, no hang work (its signal is sent or never will be),
		 * no helper run that has not started.
		 */
		hrtimer_cancel(&c->timer);
		cancel_work_sync(&c->hang_work);
		hbmon_cancel_helper(ev.id);
	}
	mutex_unlock(&c->ioc_lock);
	kfree(q);
	if (err)
		return err;
	put_pid(pid);
	put_cred(cred);

	atomic64_inc(&hbmon_stats.unregistrations);
	hbmon_ev_done(c->user, &ev, admitted);
	return 0;
}

static int hbmon_status(struct hbmon_client *c, void __user *argp)
{
	struct hbmon_status st;
	ktime_t now = ktime_get();

	memset(&st, 0, sizeof(st));
	spin_lock(&c->lock);
	if (c->state == HBMON_STATE_NONE) {
		spin_unlock(&c->lock);
		return -ENOTCONN;
	}
	st.state = c->state;
	st.timeout_ms = c->timeout_ms;
	st.signal = c->signal;
	st.actions = c->actions;
	st.time_left_ms = ktime_ms_delta(ktime_add_ms(c->last_beat,
						      c->timeout_ms), now);
	st.since_beat_ms = ktime_ms_delta(now, c->last_beat);
	st.beats = c->beats;
	st.misses = c->misses;
	st.id = c->id;
	spin_unlock(&c->lock);

	if (copy_to_user(argp, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

static int hbmon_send(struct hbmon_client *c, void __user *argp)
{
	bool l2_on = hbmon_l2_enabled();
	struct hbmon_event *q, ev;
	struct hbmon_send snd;
	int admitted;

	if (copy_from_user(&snd, argp, sizeof(snd)))
		return -EFAULT;
	if (snd.reserved)
		return -EINVAL;

	q = l2_on ? kmalloc(sizeof(*q), GFP_KERNEL_ACCOUNT) : NULL;
	spin_lock(&c->lock);
	if (c->state != HBMON_STATE_NONE) {
		hbmon_snapshot(c, &ev, HBMON_EV_DATA, ktime_get());
	} else {
		memset(&ev, 0, sizeof(ev));
		ev.type = HBMON_EV_DATA;
		ev.pid = task_tgid_nr(current);
		ev.uid = from_kuid_munged(&init_user_ns, current_euid());
		get_task_comm(ev.comm, current);
		hbmon_sanitize(ev.comm);
		ev.real_ns = ktime_get_real_ns();
		ev.boot_ns = ktime_get_boottime_ns();
	}
	/* A DATA event is always sent as a frame when iface is set. */
	ev.l2 = true;
	ev.value = snd.value;
	admitted = hbmon_ev_admit(c, &ev, &q, l2_on);
	spin_unlock(&c->lock);
	kfree(q);
	if (admitted < 0)
		return admitted;

	atomic64_inc(&hbmon_stats.data);
	hbmon_ev_done(c->user, &ev, admitted);
	return 0;
}

static long hbmon_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct hbmon_client *c = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case HBMON_IOC_VERSION:
		return put_user(HBMON_API_VERSION, (__u32 __user *)argp);
	case HBMON_IOC_STATUS:
		return hbmon_status(c, argp);
	case HBMON_IOC_REGISTER:
	case HBMON_IOC_BEAT:
	case HBMON_IOC_UNREGISTER:
	case HBMON_IOC_SEND:
		/* What changes state needs the file open for writing. */
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		break;
	default:
		return -ENOTTY;
	}

	switch (cmd) {
	case HBMON_IOC_REGISTER:
		return hbmon_register(c, argp);
	case HBMON_IOC_BEAT:
		return hbmon_beat(c);
	case HBMON_IOC_UNREGISTER:
		return hbmon_unregister(c);
	default:
		return hbmon_send(c, argp);
	}
}

/* ---- file operations --------------------------------------------------- */

static int hbmon_open(struct inode *inode, struct file *file)
{
	struct hbmon_client *c;

	c = kzalloc(sizeof(*c), GFP_KERNEL_ACCOUNT);
	if (!c)
		return -ENOMEM;
	mutex_lock(&hbmon_lock);
	c->user = hbmon_user_get(current_euid());
	mutex_unlock(&hbmon_lock);
	if (!c->user) {
		kfree(c);
		return -ENOMEM;
	}
	mutex_init(&c->ioc_lock);
	spin_lock_init(&c->lock);
	INIT_LIST_HEAD(&c->node);
	hrtimer_init(&c->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	c->timer.function = hbmon_timer_fn;
	INIT_WORK(&c->hang_work, hbmon_hang_workfn);
	hbmon_bucket_init(&c->events, READ_ONCE(hbmon_client_rate));
	c->state = HBMON_STATE_NONE;
	file->private_data = c;
	return nonseekable_open(inode, file);
}

static int hbmon_release(struct inode *inode, struct file *file)
{
	struct hbmon_client *c = file->private_data;
	bool l2_on = hbmon_l2_enabled();
	const struct cred *cred = NULL;
	struct hbmon_event *q, ev;
	struct pid *pid = NULL;
	int admitted = 0;
	bool crashed;

	/* Not charged: a CRASH must not fail on the dying task's cgroup. */
	q = kmalloc(sizeof(*q), GFP_KERNEL);
	mutex_lock(&hbmon_lock);
	spin_lock(&c->lock);
	crashed = c->state != HBMON_STATE_NONE;
	if (crashed) {
		hbmon_snapshot(c, &ev, HBMON_EV_CRASH, ktime_get());
		ev.helper = c->actions & HBMON_ACT_HELPER;
		hbmon_detach(c, &pid, &cred);
		admitted = hbmon_ev_admit(c, &ev, &q, l2_on);
	}
	spin_unlock(&c->lock);
	mutex_unlock(&hbmon_lock);
	kfree(q);

	/*
	 * State is NONE: the work no longer re-arms the timer. Cancel the
	 * timer, then a work it may have queued.
	 */
	hrtimer_cancel(&c->timer);
	cancel_work_sync(&c->hang_work);
	put_pid(pid);
	put_cred(cred);

	if (crashed) {
		atomic64_inc(&hbmon_stats.crashes);
		hbmon_ev_done(c->user, &ev, admitted);
	}
	hbmon_user_put(c->user);
	mutex_destroy(&c->ioc_lock);
	kfree(c);
	return 0;
}

static const struct file_operations hbmon_fops = {
	.owner		= THIS_MODULE,
	.open		= hbmon_open,
	.release	= hbmon_release,
	.unlocked_ioctl	= hbmon_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice hbmon_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "hbmon",
	.fops	= &hbmon_fops,
};

/* ---- suspend: frozen applications cannot beat -------------------------- */

/* Every deadline starts over: one full timeout after resume. */
static void hbmon_restart_deadlines(void)
{
	struct hbmon_client *c;
	ktime_t now = ktime_get();
	u32 rearm = READ_ONCE(hbmon_rearm_ms);

	mutex_lock(&hbmon_lock);
	list_for_each_entry(c, &hbmon_clients, node) {
		spin_lock(&c->lock);
		if (c->state == HBMON_STATE_OK) {
			WRITE_ONCE(c->last_beat, now);
			hbmon_arm(c, ktime_add_ms(now, c->timeout_ms));
		} else if (c->state == HBMON_STATE_HUNG && rearm) {
			c->next_report = ktime_add_ms(now,
						      max(rearm, c->timeout_ms));
			hbmon_arm(c, c->next_report);
		}
		spin_unlock(&c->lock);
	}
	mutex_unlock(&hbmon_lock);
}

static int hbmon_pm_notify(struct notifier_block *nb, unsigned long action,
			   void *data)
{
	switch (action) {
	case PM_HIBERNATION_PREPARE:
	case PM_SUSPEND_PREPARE:
		WRITE_ONCE(hbmon_suspended, true);
		break;
	case PM_POST_HIBERNATION:
	case PM_POST_RESTORE:
	case PM_POST_SUSPEND:
		/* Before the flag drops, so no hang work reports the freeze. */
		hbmon_restart_deadlines();
		WRITE_ONCE(hbmon_suspended, false);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block hbmon_pm_nb = {
	.notifier_call = hbmon_pm_notify,
};

/* ---- /proc/hbmon ------------------------------------------------------- */

static void *hbmon_seq_start(struct seq_file *m, loff_t *pos)
{
	mutex_lock(&hbmon_lock);
	return seq_list_start_head(&hbmon_clients, *pos);
}

static void *hbmon_seq_next(struct seq_file *m, void *v, loff_t *pos)
{
	return seq_list_next(v, &hbmon_clients, pos);
}

static void hbmon_seq_stop(struct seq_file *m, void *v)
{
	mutex_unlock(&hbmon_lock);
}

#define HBMON_STAT(f)	((u64)atomic64_read(&hbmon_stats.f))

static int hbmon_seq_show(struct seq_file *m, void *v)
{
	struct hbmon_client *c;
	ktime_t now = ktime_get();
	u64 beats, misses, since;
	u32 timeout, sig, actions, uid;
	char comm[TASK_COMM_LEN];
	char name[HBMON_NAME_LEN];
	s64 left;
	pid_t pid;
	int state;
	u64 id;

	if (v == &hbmon_clients) {
		seq_printf(m, "hbmon %s api=%d clients=%u registrations=%llu unregistrations=%llu beats=%llu hangs=%llu recoveries=%llu crashes=%llu data=%llu signals=%llu signal_failures=%llu frames_sent=%llu frames_failed=%llu helper_runs=%llu helper_failures=%llu events_dropped=%llu seq=%llu frames_limited=%llu frames_dropped=%llu events_limited=%llu sends_refused=%llu helper_limited=%llu signals_refused=%llu orphans=%llu\n",
			   HBMON_VERSION, HBMON_API_VERSION, hbmon_nr_clients,
			   HBMON_STAT(registrations),
			   HBMON_STAT(unregistrations), HBMON_STAT(beats),
			   HBMON_STAT(hangs), HBMON_STAT(recoveries),
			   HBMON_STAT(crashes), HBMON_STAT(data),
			   HBMON_STAT(signals), HBMON_STAT(signal_failures),
			   HBMON_STAT(frames_sent), HBMON_STAT(frames_failed),
			   HBMON_STAT(helper_runs),
			   HBMON_STAT(helper_failures),
			   HBMON_STAT(events_dropped),
			   (u64)atomic64_read(&hbmon_seq),
			   HBMON_STAT(frames_limited),
			   HBMON_STAT(frames_dropped),
			   HBMON_STAT(events_limited),
			   HBMON_STAT(sends_refused),
			   HBMON_STAT(helper_limited),
			   HBMON_STAT(signals_refused),
			   HBMON_STAT(orphans));
		seq_puts(m, "id pid comm name state timeout_ms since_beat_ms time_left_ms beats misses signal actions uid\n");
		return 0;
	}

	c = list_entry(v, struct hbmon_client, node);
	spin_lock(&c->lock);
	id = c->id;
	pid = pid_nr(c->pid);
	memcpy(comm, c->comm, sizeof(comm));
	memcpy(name, c->name, sizeof(name));
	state = c->state;
	timeout = c->timeout_ms;
	since = ktime_ms_delta(now, c->last_beat);
	left = ktime_ms_delta(ktime_add_ms(c->last_beat, c->timeout_ms), now);
	beats = c->beats;
	misses = c->misses;
	sig = c->signal;
	actions = c->actions;
	uid = c->uid;
	spin_unlock(&c->lock);

	seq_printf(m, "%llu %d %s %s %s %u %llu %lld %llu %llu %u %s %u\n",
		   id, pid, comm, name,
		   state == HBMON_STATE_HUNG ? "hung" : "ok",
		   timeout, since, left, beats, misses, sig,
		   hbmon_actions_str(actions), uid);
	return 0;
}

static const struct seq_operations hbmon_seq_ops = {
	.start	= hbmon_seq_start,
	.next	= hbmon_seq_next,
	.stop	= hbmon_seq_stop,
	.show	= hbmon_seq_show,
};

/* ---- init / exit ------------------------------------------------------- */

static void hbmon_free_events(void)
{
	struct hbmon_event *ev, *tmp;

	spin_lock(&hbmon_ev_lock);
	list_for_each_entry_safe(ev, tmp, &hbmon_events, node) {
		list_del(&ev->node);
		kfree(ev);
	}
	hbmon_nr_events = 0;
	hbmon_nr_crit = 0;
	spin_unlock(&hbmon_ev_lock);
}

static int __init hbmon_init(void)
{
	int err;

	/* The ABI: same layout for 32-bit and 64-bit user space. */
	BUILD_BUG_ON(sizeof(struct hbmon_register) != 48);
	BUILD_BUG_ON(sizeof(struct hbmon_status) != 56);
	BUILD_BUG_ON(sizeof(struct hbmon_send) != 16);
	BUILD_BUG_ON(sizeof(struct hbmon_frame) != HBMON_FRAME_LEN);
	BUILD_BUG_ON(offsetof(struct hbmon_frame, signal) != 212);

	if (hbmon_mode & ~0777) {
		pr_err("mode %#o is not a permission mode\n", hbmon_mode);
		return -EINVAL;
	}
	if (hbmon_ethertype < ETH_P_802_3_MIN) {
		pr_err("ethertype %#06x is below 0x0600\n", hbmon_ethertype);
		return -EINVAL;
	}
	if (!mac_pton(hbmon_dest_mac, hbmon_dest_addr)) {
		pr_err("dest_mac %s is not a MAC address\n", hbmon_dest_mac);
		return -EINVAL;
	}
	if (hbmon_helper[0] && hbmon_helper[0] != '/') {
		pr_err("helper %s is not an absolute path\n", hbmon_helper);
		return -EINVAL;
	}
	generate_random_uuid(hbmon_boot_id);

	/* Freezable: no hang is reported for applications frozen by suspend. */
	hbmon_wq = alloc_workqueue("hbmon", WQ_HIGHPRI | WQ_FREEZABLE, 0);
	if (!hbmon_wq)
		return -ENOMEM;

	if (!proc_create_seq("hbmon", 0444, NULL, &hbmon_seq_ops)) {
		err = -ENOMEM;
		goto err_wq;
	}

	err = register_pm_notifier(&hbmon_pm_nb);
	if (err)
		goto err_proc;

	hbmon_misc.mode = hbmon_mode;
	err = misc_register(&hbmon_misc);
	if (err) {
		pr_err("cannot register /dev/hbmon: %d\n", err);
		goto err_pm;
	}

	pr_info("loaded version %s api %d minor %d mode %#o ethertype %#06x\n",
		HBMON_VERSION, HBMON_API_VERSION, hbmon_misc.minor,
		hbmon_mode, hbmon_ethertype);
	return 0;

err_pm:
	unregister_pm_notifier(&hbmon_pm_nb);
err_proc:
	remove_proc_entry("hbmon", NULL);
err_wq:
	destroy_workqueue(hbmon_wq);
	return err;
}

static void __exit hbmon_exit(void)
{
	/* No file is open: each one holds a module reference. */
	misc_deregister(&hbmon_misc);
	unregister_pm_notifier(&hbmon_pm_nb);
	remove_proc_entry("hbmon", NULL);
	/* Runs what the last releases queued, then stops. */
	destroy_workqueue(hbmon_wq);
	hbmon_free_events();
	hbmon_free_users();
	pr_info("unloaded\n");
}

module_init(hbmon_init);
module_exit(hbmon_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("hbmon project");
MODULE_DESCRIPTION("Heartbeat monitor for user space applications");
MODULE_VERSION(HBMON_VERSION);
