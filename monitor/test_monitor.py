#!/usr/bin/python3
# Tests of hbmon-monitor without VMs: the parser and the state on crafted frames, then the real thing on a
# veth pair in a private network namespace (run as `unshare -n python3 monitor/test_monitor.py`; the
# namespace and everything in it go away with the process): frames from two "hosts" (two source MACs),
# /metrics, /api/state, the SSE stream, the journal, and a flood from one host while the other hangs.
import importlib.machinery
import importlib.util
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
loader = importlib.machinery.SourceFileLoader('hbmon_monitor', os.path.join(HERE, 'hbmon-monitor'))
spec = importlib.util.spec_from_loader('hbmon_monitor', loader)
mon = importlib.util.module_from_spec(spec)
loader.exec_module(mon)

TYPE_IDS = {v: k for k, v in mon.TYPES.items()}


def frame(type_name, seq, host='vm1', name='demo', reg_id=4, boot=b'\x11' * 16, since=0, src='52:54:00:00:00:01',
          dst='ff:ff:ff:ff:ff:ff', comm='hbctl', value=0, magic=mon.MAGIC, version=1, length=216, extra=b''):
    mac = lambda m: bytes(int(x, 16) for x in m.split(':'))
    payload = struct.pack('>IBBHQ16s64sQII16s32sQQQqQQII', magic, version, TYPE_IDS.get(type_name, 9), length, seq, boot,
                          host.encode(), reg_id, 812, 500, comm.encode(), name.encode(), int(time.time() * 1e9), 1,
                          since, value, 3, 1, 2, 15)
    return mac(dst) + mac(src) + struct.pack('>H', 0x88B5) + payload + extra


class Parser(unittest.TestCase):
    def test_fields(self):
        f = mon.parse_frame(frame('HANG', 12, since=1500))
        self.assertEqual((f['type'], f['seq'], f['hostname'], f['name'], f['comm'], f['since_beat_ms'], f['src']),
                         ('HANG', 12, 'vm1', 'demo', 'hbctl', 1500, '52:54:00:00:00:01'))

    def test_longer_payload_accepted(self):
        self.assertEqual(mon.parse_frame(frame('DATA', 1, length=220, extra=b'abcd'))['type'], 'DATA')

    def test_malformed(self):
        cases = {'short': frame('HANG', 1)[:100], 'magic': frame('HANG', 1, magic=1), 'version': frame('HANG', 1, version=2),
                 'length': frame('HANG', 1, length=300), 'type': frame('BOGUS', 1), 'seq': frame('HANG', 0),
                 'string': frame('HANG', 1, name='x' * 32)}
        for kind, data in cases.items():
            with self.assertRaises(mon.Malformed) as ctx:
                mon.parse_frame(data)
            self.assertEqual(ctx.exception.kind, kind)

    def test_hostile_strings_are_escaped(self):
        f = mon.parse_frame(frame('REGISTER', 1, host='<b>\x07', name='a'))
        self.assertEqual(f['hostname'], '<b>\\x07')


def metric(text, name, **labels):
    import re
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if m and m[1] == name and dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m[2] or '')) == labels:
            return float(m[3])
    return None


class State(unittest.TestCase):
    def setUp(self):
        import prometheus_client
        self.m = mon.Monitor(registry=prometheus_client.CollectorRegistry())

    def feed(self, *frames):
        for f in frames:
            self.m.on_frame(mon.parse_frame(f))

    def metrics(self):
        return self.m.metrics.expose()[0].decode()

    def test_lifecycle_and_counters(self):
        self.feed(frame('REGISTER', 1), frame('HANG', 2, since=600), frame('HANG', 3, since=10600), frame('RECOVERED', 4),
                  frame('HANG', 5), frame('CRASH', 6))
        text = self.metrics()
        self.assertEqual(metric(text, 'hbmon_hangs_total', host='vm1', app='demo'), 3)
        self.assertEqual(metric(text, 'hbmon_hang_onsets_total', host='vm1', app='demo'), 2)
        self.assertEqual(metric(text, 'hbmon_recoveries_total', host='vm1', app='demo'), 1)
        self.assertEqual(metric(text, 'hbmon_crashes_total', host='vm1', app='demo'), 1)
        self.assertEqual(metric(text, 'hbmon_registered_applications', host='vm1'), 0)
        self.assertEqual(metric(text, 'hbmon_hung_applications', host='vm1'), 0)

    def test_hung_gauges(self):
        self.feed(frame('REGISTER', 1), frame('HANG', 2, since=2000))
        text = self.metrics()
        self.assertEqual(metric(text, 'hbmon_hung_applications', host='vm1'), 1)
        self.assertEqual(metric(text, 'hbmon_application_hung', host='vm1', app='demo'), 1)
        self.assertGreaterEqual(metric(text, 'hbmon_application_silent_seconds', host='vm1', app='demo'), 2)
        snap = self.m.snapshot()
        self.assertEqual(snap['hosts'][0]['registrations'][0]['state'], 'hung')

    def test_gaps_duplicates_and_restarts(self):
        self.feed(frame('REGISTER', 10), frame('DATA', 11, reg_id=0, name=''), frame('DATA', 15, reg_id=0, name=''),
                  frame('DATA', 15, reg_id=0, name=''), frame('DATA', 3, boot=b'\x22' * 16, reg_id=0, name=''),
                  frame('DATA', 5, boot=b'\x22' * 16, reg_id=0, name=''))
        text = self.metrics()
        # The first frame seen starts the count (the monitor did not listen before); 12..14 and 4 are lost.
        self.assertEqual(metric(text, 'hbmon_lost_frames_total', host='vm1'), 4)
        self.assertEqual(metric(text, 'hbmon_monitor_duplicate_frames_total', host='vm1'), 1)
        self.assertEqual(metric(text, 'hbmon_host_restarts_total', host='vm1'), 1)
        events = self.m.snapshot()['events']
        types = [e['type'] for e in events]
        # Gaps within a second are one LOST event: 3 then 1 missing, in 2 gaps.
        self.assertEqual(types.count('LOST'), 1)
        lost = [e for e in events if e['type'] == 'LOST'][0]
        self.assertEqual((lost['count'], lost['gaps']), (4, 2))
        self.assertIn('RESTART', types)

    def test_lost_windows_journaled_once_with_their_count(self):
        import prometheus_client
        now = [1000.0]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'journal.jsonl')
            m = mon.Monitor(path, registry=prometheus_client.CollectorRegistry(), clock=lambda: now[0])
            m.on_frame(mon.parse_frame(frame('DATA', 1, reg_id=0, name='')), received=now[0])
            for seq in range(3, 2001, 2):  # a flood: every other frame lost
                m.on_frame(mon.parse_frame(frame('DATA', seq, reg_id=0, name='')), received=now[0])
            now[0] += 0.5
            m.on_frame(mon.parse_frame(frame('HANG', 2005)), received=now[0])  # 2001..2004 lost, same second
            m.tick(now[0])
            with open(path) as f:
                self.assertEqual([json.loads(line)['type'] for line in f].count('LOST'), 0, 'the second is not over')
            now[0] += 1.0
            m.tick(now[0])
            with open(path) as f:
                lost = [json.loads(line) for line in f if '"LOST"' in line]
            self.assertEqual(len(lost), 1)
            self.assertEqual((lost[0]['count'], lost[0]['gaps'], lost[0]['first'], lost[0]['last']), (1004, 1000, 2, 2004))
            page = [e for e in m.snapshot()['events'] if e['type'] in ('LOST', 'HANG')]
            self.assertEqual([e['type'] for e in page], ['LOST', 'HANG'])
            m.journal.file.close()

    def test_application_cap(self):
        import prometheus_client
        m = mon.Monitor(max_apps_per_host=2, registry=prometheus_client.CollectorRegistry())
        for i in range(5):
            m.on_frame(mon.parse_frame(frame('HANG', i + 1, name=f'app{i}', reg_id=i + 1)))
        self.assertEqual(sorted(a['app'] for a in m.snapshot()['hosts'][0]['apps']), ['_other', 'app0', 'app1'])

    def test_journal_bounded_and_rate_limited(self):
        import prometheus_client
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'journal.jsonl')
            m = mon.Monitor(path, journal_max_bytes=20000, journal_rate=5, registry=prometheus_client.CollectorRegistry())
            m.on_frame(mon.parse_frame(frame('HANG', 1)))
            for i in range(2, 3000):
                m.on_frame(mon.parse_frame(frame('DATA', i, reg_id=0, name='')))
            m.on_frame(mon.parse_frame(frame('CRASH', 3000)))
            m.commit()
            self.assertLessEqual(m.journal.size(), 2 * 20000 + 1000)
            records = []
            for p in (path + '.1', path):
                if os.path.exists(p):
                    with open(p) as f:
                        records += [json.loads(line) for line in f]
            self.assertIn('CRASH', [r['type'] for r in records])
            self.assertLess(sum(r['type'] == 'DATA' for r in records), 100)
            self.assertGreater(m.hosts['vm1']['journal_suppressed'], 2800)
            # A restarted monitor shows the journal's last events.
            m2 = mon.Monitor(path, registry=prometheus_client.CollectorRegistry())
            self.assertEqual(m2.snapshot()['events'][-1]['type'], 'CRASH')
            m.journal.file.close()
            m2.journal.file.close()


def in_private_netns():
    try:
        with open('/proc/self/ns/net') as _:
            pass
        return os.environ.get('HBMON_MONITOR_NETNS') == '1'
    except OSError:
        return False


@unittest.skipUnless(in_private_netns(), 'needs a private network namespace: HBMON_MONITOR_NETNS=1 unshare -n')
class Live(unittest.TestCase):
    """The monitor process on veth0; two senders on veth1 with their own MACs, as two hosts would be."""

    @classmethod
    def setUpClass(cls):
        run = lambda *a: subprocess.run(a, check=True)
        run('ip', 'link', 'set', 'lo', 'up')
        run('ip', 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1')
        run('ip', 'link', 'set', 'veth0', 'up')
        run('ip', 'link', 'set', 'veth1', 'up')
        cls.dir = tempfile.mkdtemp()
        cls.port = 19120
        cls.proc = subprocess.Popen([sys.executable, os.path.join(HERE, 'hbmon-monitor'), '-i', 'veth0', '--listen', f'127.0.0.1:{cls.port}',
                                     '--journal', os.path.join(cls.dir, 'journal.jsonl'), '--host-rate', '500'],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        cls.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        cls.tx.bind(('veth1', 0))
        for _ in range(100):
            try:
                cls.get('/healthz')
                break
            except OSError:
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(10)
        cls.proc.stdout.close()
        cls.tx.close()
        subprocess.run(['rm', '-rf', cls.dir])

    @classmethod
    def get(cls, path, timeout=5):
        with urllib.request.urlopen(f'http://127.0.0.1:{cls.port}{path}', timeout=timeout) as r:
            return r.read().decode(), r.headers

    def wait_metric(self, name, want, timeout=5, **labels):
        end = time.time() + timeout
        while True:
            value = metric(self.get('/metrics')[0], name, **labels)
            if value == want or time.time() > end:
                return value
            time.sleep(0.05)

    def test_1_frames_metrics_state_page(self):
        a, b = '52:54:00:aa:00:01', '52:54:00:bb:00:02'
        for f in (frame('REGISTER', 1, host='alpha', src=a), frame('REGISTER', 1, host='beta', src=b, name='web', boot=b'\x33' * 16),
                  frame('HANG', 2, host='alpha', src=a, since=1200), frame('HANG', 5, host='beta', src=b, name='web', boot=b'\x33' * 16)):
            self.tx.send(f)
        self.assertEqual(self.wait_metric('hbmon_hangs_total', 1, host='alpha', app='demo'), 1)
        self.assertEqual(self.wait_metric('hbmon_lost_frames_total', 3, host='beta'), 3)
        self.assertEqual(self.wait_metric('hbmon_hung_applications', 1, host='beta'), 1)
        state = json.loads(self.get('/api/state')[0])
        self.assertEqual([h['name'] for h in state['hosts']], ['alpha', 'beta'])
        page, headers = self.get('/')
        self.assertIn('hbmon fleet', page)
        self.assertIn("default-src 'self'", headers['Content-Security-Policy'])
        self.assertIn('EventSource', self.get('/app.js')[0])
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(urllib.request.Request(f'http://127.0.0.1:{self.port}/api/state', method='POST'), timeout=5)

    def test_2_stream_pushes_within_a_second(self):
        got = []
        conn = urllib.request.urlopen(f'http://127.0.0.1:{self.port}/events', timeout=10)

        def read():
            try:
                for line in conn:
                    if line.startswith(b'data: '):
                        got.append((time.time(), json.loads(line[6:])))
            except (OSError, ValueError):
                pass  # closed below
        threading.Thread(target=read, daemon=True).start()
        time.sleep(0.5)
        sent = time.time()
        self.tx.send(frame('CRASH', 3, host='alpha', src='52:54:00:aa:00:01'))
        end = time.time() + 3
        while time.time() < end and not any(t > sent and any(e['type'] == 'CRASH' for e in s['events']) for t, s in got):
            time.sleep(0.02)
        arrived = [t for t, s in got if t > sent and any(e['type'] == 'CRASH' for e in s['events'])]
        conn.close()
        self.assertTrue(arrived, 'no pushed state with the CRASH')
        self.assertLess(arrived[0] - sent, 1.0)

    def test_3_own_frames_and_other_ethertypes(self):
        # What the monitor host's own module sends leaves by the same interface: outgoing, and seen.
        own = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        own.bind(('veth0', 0))
        own.send(frame('HANG', 7, host='self', src='52:54:00:ee:00:05', boot=b'\x66' * 16))
        other = bytearray(frame('HANG', 8, host='self', src='52:54:00:ee:00:05', boot=b'\x66' * 16))
        other[12:14] = b'\x08\x00'  # IPv4: not ours, ignored without a word
        self.tx.send(bytes(other))
        own.close()
        self.assertEqual(self.wait_metric('hbmon_hangs_total', 1, host='self', app='demo'), 1)
        time.sleep(0.3)
        text = self.get('/metrics')[0]
        self.assertEqual(metric(text, 'hbmon_frames_total', host='self', type='HANG'), 1)
        self.assertIsNone(metric(text, 'hbmon_monitor_malformed_frames_total', reason='magic'))

    def test_4_flood_from_one_host_does_not_hide_another(self):
        flood_src, calm_src = '52:54:00:cc:00:03', '52:54:00:dd:00:04'
        stop = threading.Event()
        sent = [0]

        def flood():
            tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            tx.bind(('veth1', 0))
            seq = 1
            while not stop.is_set():
                tx.send(frame('DATA', seq, host='flooder', src=flood_src, reg_id=0, name='', boot=b'\x44' * 16))
                seq += 1
            sent[0] = seq - 1
            tx.close()
        t = threading.Thread(target=flood)
        t.start()
        time.sleep(1.5)
        t0 = time.time()
        self.tx.send(frame('REGISTER', 1, host='calm', src=calm_src, boot=b'\x55' * 16))
        self.tx.send(frame('HANG', 2, host='calm', src=calm_src, boot=b'\x55' * 16, since=900))
        value = self.wait_metric('hbmon_hangs_total', 1, host='calm', app='demo')
        seen = time.time() - t0
        page_t0 = time.time()
        self.get('/')
        page_s = time.time() - page_t0
        stop.set()
        t.join()
        time.sleep(1.5)
        text = self.get('/metrics')[0]
        flooded = metric(text, 'hbmon_frames_total', host='flooder', type='DATA') or 0
        lost = metric(text, 'hbmon_lost_frames_total', host='flooder') or 0
        drops = metric(text, 'hbmon_monitor_socket_drops_total', host='flooder') or 0
        print(f'\n  flood: {sent[0]} frames sent, {flooded:.0f} read (--host-rate 500), {lost:.0f} counted lost (seq gaps), '
              f'{drops:.0f} dropped by the kernel at its socket; '
              f'the other host\'s HANG in /metrics after {seen:.2f} s, page served in {page_s:.3f} s', file=sys.stderr)
        self.assertEqual(value, 1)
        self.assertLess(seen, 3)
        self.assertLess(page_s, 1)
        self.assertGreater(sent[0], flooded)
        self.assertGreater(drops, 0)


if __name__ == '__main__':
    unittest.main(verbosity=2)
