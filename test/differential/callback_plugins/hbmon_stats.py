# Writes ansible-playbook's recap as JSON to $HBMON_STATS_FILE, for the differential suite (ansible-core has no
# json stdout callback of its own; ansible.posix's is not installed).
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
    name: hbmon_stats
    type: aggregate
    short_description: the recap as JSON in $HBMON_STATS_FILE
    description: the per-host recap, for the differential suite
    requirements: []
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'hbmon_stats'
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('HBMON_STATS_FILE')
        if not path:
            return
        with open(path, 'w') as f:
            json.dump({h: stats.summarize(h) for h in sorted(stats.processed.keys())}, f)
