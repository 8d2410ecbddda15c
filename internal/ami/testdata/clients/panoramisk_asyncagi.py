"""AsyncAGI with Debian's python3-panoramisk, run by the Go tests.

usage: panoramisk_asyncagi.py PORT USER SECRET EXTEN
Originates PJSIP/EXTEN@carrier into 400@originate, which runs
AGI(agi:async); on AsyncAGIStart it queues GET VARIABLE AGIVAR and
ASYNCAGI BREAK with send_action(..., as_list=False): without it panoramisk
(and its send_agi_command) takes an ack ending in "to queue" as the start
of an Asterisk 11 "SubEvent: Exec" reply, which Asterisk 12 and later
(AsyncAGIExec) never send, and swallows the event. It collects the AsyncAGIExec replies, AsyncAGIEnd and the VarSet of AFTER
(the dialplan after AGI()), hangs up and prints a JSON summary.
"""
import asyncio
import json
import sys
from urllib.parse import unquote

from panoramisk import Manager


async def main():
    port, user, secret, exten = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    loop = asyncio.get_running_loop()
    m = Manager(loop=loop, host='127.0.0.1', port=port, username=user,
                secret=secret, ping_delay=3600, ping_interval=3600)
    out = {}
    booted = loop.create_future()
    started = loop.create_future()
    ended = loop.create_future()
    after = loop.create_future()
    execs = asyncio.Queue()

    def on_event(mgr, ev):
        name = ev.get('Event')
        if name == 'FullyBooted' and not booted.done():
            booted.set_result(True)
        if name == 'AsyncAGIStart' and not started.done():
            started.set_result(dict(ev))
        if name == 'AsyncAGIExec':
            execs.put_nowait(dict(ev))
        if name == 'AsyncAGIEnd' and not ended.done():
            ended.set_result(dict(ev))
        if name == 'VarSet' and ev.get('Variable') == 'AFTER' and not after.done():
            after.set_result(ev.get('Value'))

    m.register_event('*', on_event)
    await m.connect()
    await asyncio.wait_for(booted, 10)
    await asyncio.wait_for(m.send_action({
        'Action': 'Originate', 'Channel': 'PJSIP/%s@carrier' % exten,
        'Context': 'originate', 'Exten': '400', 'Priority': '1',
        'Async': 'true', 'ActionID': 'py-' + exten}), 20)
    start = await asyncio.wait_for(started, 10)
    ch = start['Channel']
    out['channel'] = ch
    out['env'] = unquote(start['Env'])
    r = await asyncio.wait_for(m.send_action({
        'Action': 'AGI', 'Channel': ch, 'Command': 'GET VARIABLE AGIVAR',
        'CommandID': 'py-get'}, as_list=False), 10)
    out['get_response'] = dict(r)
    out['get_exec'] = await asyncio.wait_for(execs.get(), 10)
    r = await asyncio.wait_for(m.send_action({
        'Action': 'AGI', 'Channel': ch, 'Command': 'ASYNCAGI BREAK',
        'CommandID': 'py-break'}, as_list=False), 10)
    out['break_response'] = dict(r)
    out['break_exec'] = await asyncio.wait_for(execs.get(), 10)
    out['end'] = await asyncio.wait_for(ended, 10)
    out['after'] = await asyncio.wait_for(after, 10)
    # An error ends panoramisk's wait even through send_agi_command.
    r = await asyncio.wait_for(m.send_agi_command('PJSIP/nope-00000001', 'NOOP'), 10)
    out['missing'] = dict(r)
    await asyncio.wait_for(m.send_action({'Action': 'Hangup', 'Channel': ch}), 10)
    await asyncio.wait_for(m.send_action({'Action': 'Logoff'}), 10)
    m.close()
    print(json.dumps(out))


asyncio.run(main())
