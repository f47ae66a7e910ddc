# Writes ansible-playbook's recap as JSON to $HBMON_STATS_FILE, for the differential suite (ansible-core has no
# json stdout callback of its own; ansible.posix's is not installed): {"stats": the recap per host, "plays":
# the same counts per play name}, the second counted from the results as the strategy counts them (a failure a
# block's rescue takes over is `rescued`, not `failures`), so that a run of several cases' plays can be split by
# case (the suite checks that the plays add up to the recap).
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
    name: hbmon_stats
    type: aggregate
    short_description: the recap as JSON in $HBMON_STATS_FILE
    description: the per-host recap, overall and per play, for the differential suite
    requirements: []
'''

KEYS = ('ok', 'changed', 'failures', 'skipped', 'unreachable', 'rescued', 'ignored')


def _rescued(task):
    """Whether a block with a rescue section encloses the task in its block section (the strategy's
    is_any_block_rescuing: the failure is then counted as rescued)."""
    child, parent = task, task._parent
    while parent is not None:
        if getattr(parent, 'rescue', None) and any(t._uuid == child._uuid for t in parent.block):
            return True
        child, parent = parent, parent._parent
    return False


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'hbmon_stats'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.plays = {}
        self.play = ''

    def _count(self, result, *keys):
        host = result._host.get_name()
        counts = self.plays.setdefault(self.play, {}).setdefault(host, dict.fromkeys(KEYS, 0))
        for key in keys:
            counts[key] += 1

    def v2_playbook_on_play_start(self, play):
        self.play = play.get_name()

    def v2_runner_on_ok(self, result):
        self._count(result, 'ok', *(('changed',) if result._result.get('changed', False) else ()))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if ignore_errors:
            self._count(result, 'ok', 'ignored', *(('changed',) if result._result.get('changed', False) else ()))
        elif _rescued(result._task):
            self._count(result, 'rescued')
        else:
            self._count(result, 'failures')

    def v2_runner_on_skipped(self, result):
        self._count(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._count(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('HBMON_STATS_FILE')
        if not path:
            return
        with open(path, 'w') as f:
            json.dump({'stats': {h: stats.summarize(h) for h in sorted(stats.processed.keys())}, 'plays': self.plays}, f)
