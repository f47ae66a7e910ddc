// SPDX-License-Identifier: GPL-2.0
/*
 * hbmon - heartbeat monitor for user space applications
 *
 * An application opens /dev/hbmon, registers with a timeout and then sends
 * heartbeats with ioctl(). A missed deadline is a hang: it is logged, the
 * registrant gets the signal it asked for, an admin-set restart helper may
 * run and a layer-2 frame tells a health monitor elsewhere on the network.
 * Closing the file without unregistering is a crash and is reported the same
 * way. See hbmon.h for the ioctl ABI and PROTOCOL.md for the frame format.
 *
 * Design of the watchdog
 * ----------------------
 * Every client owns one hrtimer armed at its deadline (CLOCK_MONOTONIC,
 * absolute, no slack). A heartbeat simply re-arms it. The hrtimer core keeps
 * the armed timers of each CPU in a timerqueue (an rbtree ordered by expiry),
 * so with thousands of clients a beat costs O(log n) and an expiry O(1); no
 * code ever walks all clients on a tick, and a deadline is noticed at hrtimer
 * precision instead of a polling period. The timer callback runs in hard
 * interrupt context, so it only queues the client's work item on a WQ_HIGHPRI
 * workqueue. The work (process context) re-checks the deadline under the
 * client lock - a beat may have raced with the expiry - and then does what
 * may sleep: logging, kill_pid(), queueing the event. Frames and the restart
 * helper run from a single event work item, so no allocation, socket or
 * netdev reference outlives the event it was made for.
 *
 * Locking
 * -------
 * hbmon_lock (mutex) protects the client list, registration and
 * unregistration; client->lock (spinlock, never taken from irq context)
 * protects the client's fields. Order: hbmon_lock, then client->lock. The
 * hrtimer callback takes no lock. hbmon_ev_lock protects the event queue.
 */

#define pr_fmt(fmt) "[hbmon] " fmt

#include <linux/atomic.h>
#include <linux/ctype.h>
#include <linux/etherdevice.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/if_arp.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/pid.h>
#include <linux/pkt_sched.h>
#include <linux/proc_fs.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/signal.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/umh.h>
#include <linux/utsname.h>
#include <linux/uuid.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>

#include "hbmon.h"

#define HBMON_VERSION		"1.0.0"
#define HBMON_HELPER_LEN	256
#define HBMON_EV_MAX		4096	/* queued events before dropping */
#define HBMON_STATE_NONE	0

/*
 * pr_*_ratelimited() would report "func: N callbacks suppressed" without our
 * prefix. These keep every line under "[hbmon] ": each call site counts what
 * it dropped and says so before its next line.
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
#define hbmon_info_rl(fmt, ...)	hbmon_ratelimited(pr_info, fmt, ##__VA_ARGS__)

/* ---- module parameters ------------------------------------------------- */

static ushort hbmon_mode = 0600;
module_param_named(mode, hbmon_mode, ushort, 0444);
MODULE_PARM_DESC(mode, "Mode of /dev/hbmon (default 0600)");


static char hbmon_helper[HBMON_HELPER_LEN] = "/usr/lib/hbmon/hbmon-event";
module_param_string(helper, hbmon_helper, sizeof(hbmon_helper), 0644);
MODULE_PARM_DESC(helper, "Restart helper run as HELPER EVENT PID NAME on hang and crash, empty to disable (default /usr/lib/hbmon/hbmon-event)");

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

/* ---- state ------------------------------------------------------------- */

struct hbmon_client {
	spinlock_t		lock;
	struct list_head	node;		/* hbmon_clients, hbmon_lock */
	struct hrtimer		timer;
	struct work_struct	hang_work;
	/* the rest under lock */
	int			state;		/* HBMON_STATE_* */
	struct pid		*pid;		/* registrant thread group */
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
	bool			l2;
	bool			helper;
	pid_t			pid;
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
static unsigned int hbmon_nr_clients;

static DEFINE_SPINLOCK(hbmon_ev_lock);
static LIST_HEAD(hbmon_events);
static unsigned int hbmon_nr_events;

static struct workqueue_struct *hbmon_wq;
static u8 hbmon_dest_addr[ETH_ALEN];
static u8 hbmon_boot_id[16];
static atomic64_t hbmon_next_id = ATOMIC64_INIT(0);
static atomic64_t hbmon_seq = ATOMIC64_INIT(0);

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

/* Fill @ev from a registered client. Called with c->lock held. */
static void hbmon_snapshot(struct hbmon_client *c, struct hbmon_event *ev,
			   u8 type, ktime_t now)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->l2 = c->actions & HBMON_ACT_L2;
	ev->helper = false;
	ev->pid = pid_nr(c->pid);
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
		return;

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
	f->seq = cpu_to_be64(atomic64_inc_return(&hbmon_seq));
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
	char path[HBMON_HELPER_LEN];
	char pid[16], name[HBMON_NAME_LEN];
	char env_id[32], env_comm[32], env_since[48], env_timeout[32];
	char *argv[] = { path, (char *)hbmon_ev_names[ev->type], pid, name,
			 NULL };
	char *envp[] = { "HOME=/", "PATH=/sbin:/bin:/usr/sbin:/usr/bin",
			 env_id, env_comm, env_since, env_timeout, NULL };
	int err;

	hbmon_param_copy(path, hbmon_helper, sizeof(path));
	if (!path[0])
		return;
	if (path[0] != '/') {
		atomic64_inc(&hbmon_stats.helper_failures);
		hbmon_warn_rl("helper %s is not an absolute path\n", path);
		return;
	}

	snprintf(pid, sizeof(pid), "%d", ev->pid);
	memcpy(name, ev->name, sizeof(name));
	snprintf(env_id, sizeof(env_id), "HBMON_ID=%llu", ev->id);
	snprintf(env_comm, sizeof(env_comm), "HBMON_COMM=%s", ev->comm);
	snprintf(env_since, sizeof(env_since), "HBMON_SINCE_BEAT_MS=%llu",
		 ev->since_beat_ms);
	snprintf(env_timeout, sizeof(env_timeout), "HBMON_TIMEOUT_MS=%u",
		 ev->timeout_ms);

	/* UMH_WAIT_EXEC: argv and envp live on this stack until exec. */
	err = call_usermodehelper(path, argv, envp, UMH_WAIT_EXEC);
	if (err) {
		atomic64_inc(&hbmon_stats.helper_failures);
		hbmon_warn_rl("helper %s %s %s %s failed: %d\n",
			      path, argv[1], pid, name, err);
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
			hbmon_nr_events--;
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
}

static DECLARE_WORK(hbmon_ev_work, hbmon_ev_workfn);

/* Queue the asynchronous part of an event. Process context only. */
static void hbmon_emit(const struct hbmon_event *src)
{
	struct hbmon_event *ev;

	if (!src->l2 && !src->helper)
		return;

	ev = kmemdup(src, sizeof(*ev), GFP_KERNEL);
	if (!ev)
		goto drop;

	spin_lock(&hbmon_ev_lock);
	if (hbmon_nr_events >= HBMON_EV_MAX) {
		spin_unlock(&hbmon_ev_lock);
		kfree(ev);
		goto drop;
	}
	list_add_tail(&ev->node, &hbmon_events);
	hbmon_nr_events++;
	spin_unlock(&hbmon_ev_lock);

	queue_work(hbmon_wq, &hbmon_ev_work);
	return;

drop:
	atomic64_inc(&hbmon_stats.events_dropped);
	hbmon_warn_rl("event queue full, %s event dropped\n",
		      hbmon_ev_names[src->type]);
}

/* ---- the watchdog ------------------------------------------------------ */

static enum hrtimer_restart hbmon_timer_fn(struct hrtimer *timer)
{
	struct hbmon_client *c = container_of(timer, struct hbmon_client,
					      timer);

	/* Hard irq context: everything else happens in hbmon_hang_workfn(). */
	queue_work(hbmon_wq, &c->hang_work);
	return HRTIMER_NORESTART;
}

static void hbmon_hang_workfn(struct work_struct *work)
{
	struct hbmon_client *c = container_of(work, struct hbmon_client,
					      hang_work);
	ktime_t now = ktime_get();
	struct hbmon_event ev;
	struct pid *pid;
	unsigned int rearm;
	ktime_t due;
	u32 sig;
	int err;

	spin_lock(&c->lock);
	if (c->state == HBMON_STATE_NONE)
		goto unlock;
	if (c->state == HBMON_STATE_OK)
		due = ktime_add_ms(c->last_beat, c->timeout_ms);
	else
		due = c->next_report;
	if (ktime_before(now, due))
		goto unlock;	/* a beat came in after the timer fired */

	c->misses++;
	c->state = HBMON_STATE_HUNG;
	/* Re-arm far enough ahead that one hung process is no log storm. */
	rearm = READ_ONCE(hbmon_rearm_ms);
	if (rearm) {
		c->next_report = ktime_add_ms(now, max(rearm, c->timeout_ms));
		hrtimer_start(&c->timer, c->next_report, HRTIMER_MODE_ABS);
	} else {
		c->next_report = KTIME_MAX;
	}
	hbmon_snapshot(c, &ev, HBMON_EV_HANG, now);
	ev.helper = c->actions & HBMON_ACT_HELPER;
	pid = get_pid(c->pid);
	sig = c->signal;
	spin_unlock(&c->lock);

	atomic64_inc(&hbmon_stats.hangs);
	hbmon_warn_rl("hang pid=%d comm=%s name=%s since_beat_ms=%llu timeout_ms=%u misses=%llu signal=%u id=%llu\n",
		      ev.pid, ev.comm, ev.name, ev.since_beat_ms,
		      ev.timeout_ms, ev.misses, sig, ev.id);
	if (sig) {
		/* The registrant's thread group only, via the held pid. */
		err = kill_pid(pid, sig, 1);
		if (err) {
			atomic64_inc(&hbmon_stats.signal_failures);
			hbmon_warn_rl("signal %u to pid %d failed: %d\n",
				      sig, ev.pid, err);
		} else {
			atomic64_inc(&hbmon_stats.signals);
		}
	}
	put_pid(pid);
	hbmon_emit(&ev);
	return;

unlock:
	spin_unlock(&c->lock);
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
	char name[HBMON_NAME_LEN];
	char comm[TASK_COMM_LEN];
	struct hbmon_event ev;
	ktime_t now;
	int err;

	if (copy_from_user(&reg, argp, sizeof(reg)))
		return -EFAULT;
	err = hbmon_check_register(&reg, name);
	if (err)
		return err;
	get_task_comm(comm, current);
	hbmon_sanitize(comm);

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
	c->pid = get_pid(task_tgid(current));
	c->id = atomic64_inc_return(&hbmon_next_id);
	c->timeout_ms = reg.timeout_ms;
	c->signal = reg.signal;
	c->actions = reg.actions;
	memcpy(c->comm, comm, sizeof(c->comm));
	strscpy(c->name, name[0] ? name : comm, sizeof(c->name));
	c->beats = 0;
	c->misses = 0;
	now = ktime_get();
	c->last_beat = now;
	c->state = HBMON_STATE_OK;
	hrtimer_start(&c->timer, ktime_add_ms(now, c->timeout_ms),
		      HRTIMER_MODE_ABS);
	hbmon_snapshot(c, &ev, HBMON_EV_REGISTER, now);
	spin_unlock(&c->lock);
	list_add_tail(&c->node, &hbmon_clients);
	hbmon_nr_clients++;
	mutex_unlock(&hbmon_lock);

	atomic64_inc(&hbmon_stats.registrations);
	hbmon_info_rl("register pid=%d comm=%s name=%s timeout_ms=%u signal=%u actions=%s id=%llu\n",
		      ev.pid, ev.comm, ev.name, ev.timeout_ms, ev.signal,
		      hbmon_actions_str(ev.actions), ev.id);
	hbmon_emit(&ev);
	return 0;

unlock:
	spin_unlock(&c->lock);
	mutex_unlock(&hbmon_lock);
	return err;
}

static int hbmon_beat(struct hbmon_client *c)
{
	ktime_t now = ktime_get();
	struct hbmon_event ev;
	bool recovered = false;

	spin_lock(&c->lock);
	if (c->state == HBMON_STATE_NONE) {
		spin_unlock(&c->lock);
		return -ENOTCONN;
	}
	if (c->pid != task_tgid(current)) {
		spin_unlock(&c->lock);
		return -EPERM;
	}
	if (c->state == HBMON_STATE_HUNG) {
		c->state = HBMON_STATE_OK;
		hbmon_snapshot(c, &ev, HBMON_EV_RECOVERED, now);
		recovered = true;
	}
	c->last_beat = now;
	c->beats++;
	hrtimer_start(&c->timer, ktime_add_ms(now, c->timeout_ms),
		      HRTIMER_MODE_ABS);
	spin_unlock(&c->lock);

	atomic64_inc(&hbmon_stats.beats);
	if (recovered) {
		atomic64_inc(&hbmon_stats.recoveries);
		hbmon_info_rl("recovered pid=%d comm=%s name=%s silent_ms=%llu misses=%llu id=%llu\n",
			      ev.pid, ev.comm, ev.name, ev.since_beat_ms,
			      ev.misses, ev.id);
		hbmon_emit(&ev);
	}
	return 0;
}

static int hbmon_unregister(struct hbmon_client *c)
{
	struct pid *pid = NULL;
	struct hbmon_event ev;
	int err = 0;

	mutex_lock(&hbmon_lock);
	spin_lock(&c->lock);
	if (c->state == HBMON_STATE_NONE) {
		err = -ENOTCONN;
	} else if (c->pid != task_tgid(current)) {
		err = -EPERM;
	} else {
		hbmon_snapshot(c, &ev, HBMON_EV_UNREGISTER, ktime_get());
		c->state = HBMON_STATE_NONE;
		pid = c->pid;
		c->pid = NULL;
	}
	spin_unlock(&c->lock);
	if (err) {
		mutex_unlock(&hbmon_lock);
		return err;
	}
	list_del_init(&c->node);
	hbmon_nr_clients--;
	/* Under hbmon_lock, so that a new REGISTER cannot lose its timer. */
	hrtimer_cancel(&c->timer);
	mutex_unlock(&hbmon_lock);
	put_pid(pid);

	atomic64_inc(&hbmon_stats.unregistrations);
	hbmon_info_rl("unregister pid=%d comm=%s name=%s beats=%llu misses=%llu id=%llu\n",
		      ev.pid, ev.comm, ev.name, ev.beats, ev.misses,
		      ev.id);
	hbmon_emit(&ev);
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
	struct hbmon_send snd;
	struct hbmon_event ev;
	struct timespec64 ts;

	if (copy_from_user(&snd, argp, sizeof(snd)))
		return -EFAULT;
	if (snd.reserved)
		return -EINVAL;

	spin_lock(&c->lock);
	if (c->state != HBMON_STATE_NONE) {
		hbmon_snapshot(c, &ev, HBMON_EV_DATA, ktime_get());
		spin_unlock(&c->lock);
	} else {
		spin_unlock(&c->lock);
		memset(&ev, 0, sizeof(ev));
		ev.type = HBMON_EV_DATA;
		ev.pid = task_tgid_nr(current);
		get_task_comm(ev.comm, current);
		hbmon_sanitize(ev.comm);
		ev.real_ns = ktime_get_real_ns();
		ev.boot_ns = ktime_get_boottime_ns();
	}
	/* A DATA event is always sent as a frame when iface is set. */
	ev.l2 = true;
	ev.value = snd.value;
	ts = ns_to_timespec64(ev.real_ns);

	atomic64_inc(&hbmon_stats.data);
	hbmon_info_rl("data pid=%d comm=%s name=%s value=%lld time=%lld.%06ld\n",
		      ev.pid, ev.comm, ev.name[0] ? ev.name : "-",
		      ev.value, (long long)ts.tv_sec,
		      ts.tv_nsec / NSEC_PER_USEC);
	hbmon_emit(&ev);
	return 0;
}

static long hbmon_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct hbmon_client *c = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case HBMON_IOC_VERSION:
		return put_user(HBMON_API_VERSION, (__u32 __user *)argp);
	case HBMON_IOC_REGISTER:
		return hbmon_register(c, argp);
	case HBMON_IOC_BEAT:
		return hbmon_beat(c);
	case HBMON_IOC_UNREGISTER:
		return hbmon_unregister(c);
	case HBMON_IOC_STATUS:
		return hbmon_status(c, argp);
	case HBMON_IOC_SEND:
		return hbmon_send(c, argp);
	default:
		return -ENOTTY;
	}
}

/* ---- file operations --------------------------------------------------- */

static int hbmon_open(struct inode *inode, struct file *file)
{
	struct hbmon_client *c;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	spin_lock_init(&c->lock);
	INIT_LIST_HEAD(&c->node);
	hrtimer_init(&c->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	c->timer.function = hbmon_timer_fn;
	INIT_WORK(&c->hang_work, hbmon_hang_workfn);
	c->state = HBMON_STATE_NONE;
	file->private_data = c;
	return nonseekable_open(inode, file);
}

static int hbmon_release(struct inode *inode, struct file *file)
{
	struct hbmon_client *c = file->private_data;
	struct pid *pid = NULL;
	struct hbmon_event ev;
	bool crashed;

	mutex_lock(&hbmon_lock);
	spin_lock(&c->lock);
	crashed = c->state != HBMON_STATE_NONE;
	if (crashed) {
		hbmon_snapshot(c, &ev, HBMON_EV_CRASH, ktime_get());
		ev.helper = c->actions & HBMON_ACT_HELPER;
		c->state = HBMON_STATE_NONE;
		pid = c->pid;
		c->pid = NULL;
	}
	spin_unlock(&c->lock);
	if (crashed) {
		list_del_init(&c->node);
		hbmon_nr_clients--;
	}
	mutex_unlock(&hbmon_lock);

	/*
	 * State is NONE: the work no longer re-arms the timer. Cancel the
	 * timer, then a work it may have queued.
	 */
	hrtimer_cancel(&c->timer);
	cancel_work_sync(&c->hang_work);
	put_pid(pid);

	if (crashed) {
		atomic64_inc(&hbmon_stats.crashes);
		hbmon_warn_rl("crash pid=%d comm=%s name=%s since_beat_ms=%llu beats=%llu misses=%llu id=%llu\n",
			      ev.pid, ev.comm, ev.name, ev.since_beat_ms,
			      ev.beats, ev.misses, ev.id);
		hbmon_emit(&ev);
	}
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
	u32 timeout, sig, actions;
	char comm[TASK_COMM_LEN];
	char name[HBMON_NAME_LEN];
	s64 left;
	pid_t pid;
	int state;
	u64 id;

	if (v == &hbmon_clients) {
		seq_printf(m, "hbmon %s api=%d clients=%u registrations=%llu unregistrations=%llu beats=%llu hangs=%llu recoveries=%llu crashes=%llu data=%llu signals=%llu signal_failures=%llu frames_sent=%llu frames_failed=%llu helper_runs=%llu helper_failures=%llu events_dropped=%llu\n",
			   HBMON_VERSION, HBMON_API_VERSION, hbmon_nr_clients,
			   HBMON_STAT(registrations),
			   HBMON_STAT(unregistrations), HBMON_STAT(beats),
			   HBMON_STAT(hangs), HBMON_STAT(recoveries),
			   HBMON_STAT(crashes), HBMON_STAT(data),
			   HBMON_STAT(signals), HBMON_STAT(signal_failures),
			   HBMON_STAT(frames_sent), HBMON_STAT(frames_failed),
			   HBMON_STAT(helper_runs),
			   HBMON_STAT(helper_failures),
			   HBMON_STAT(events_dropped));
		seq_puts(m, "id pid comm name state timeout_ms since_beat_ms time_left_ms beats misses signal actions\n");
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
	spin_unlock(&c->lock);

	seq_printf(m, "%llu %d %s %s %s %u %llu %lld %llu %llu %u %s\n",
		   id, pid, comm, name,
		   state == HBMON_STATE_HUNG ? "hung" : "ok",
		   timeout, since, left, beats, misses, sig,
		   hbmon_actions_str(actions));
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
	generate_random_uuid(hbmon_boot_id);

	hbmon_wq = alloc_workqueue("hbmon", WQ_HIGHPRI, 0);
	if (!hbmon_wq)
		return -ENOMEM;

	if (!proc_create_seq("hbmon", 0444, NULL, &hbmon_seq_ops)) {
		err = -ENOMEM;
		goto err_wq;
	}

	hbmon_misc.mode = hbmon_mode;
	err = misc_register(&hbmon_misc);
	if (err) {
		pr_err("cannot register /dev/hbmon: %d\n", err);
		goto err_proc;
	}

	pr_info("loaded version %s api %d minor %d mode %#o ethertype %#06x\n",
		HBMON_VERSION, HBMON_API_VERSION, hbmon_misc.minor,
		hbmon_mode, hbmon_ethertype);
	return 0;

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
	remove_proc_entry("hbmon", NULL);
	/* Runs what the last releases queued, then stops. */
	destroy_workqueue(hbmon_wq);
	hbmon_free_events();
	pr_info("unloaded\n");
}

module_init(hbmon_init);
module_exit(hbmon_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("hbmon project");
MODULE_DESCRIPTION("Heartbeat monitor for user space applications");
MODULE_VERSION(HBMON_VERSION);
