"""AMI flow with Debian's python3-panoramisk, run by the Go tests.

usage: panoramisk_flow.py PORT USER SECRET EXTEN
Logs in, waits for FullyBooted, originates PJSIP/EXTEN@carrier into
100@originate (Async), reads Status and `core show channels`, hangs the call
up by name, waits for its Cdr and Hangup events, logs off, and prints a JSON
summary on stdout.
"""
import asyncio
import json
import sys

from panoramisk import Manager


async def main():
    port, user, secret, exten = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    loop = asyncio.get_running_loop()
    m = Manager(loop=loop, host='127.0.0.1', port=port, username=user,
                secret=secret, ping_delay=3600, ping_interval=3600)
    out = {'events': [], 'channels_seen': []}
    booted = loop.create_future()
    hung = loop.create_future()
    state = {'channel': None, 'cdr': None}

    def on_event(mgr, ev):
        name = ev.get('Event')
        ch = ev.get('Channel', '')
        if ch and ch not in out['channels_seen']:
            out['channels_seen'].append(ch)
        if name == 'FullyBooted' and not booted.done():
            booted.set_result(True)
        if state['channel'] and ch == state['channel']:
            out['events'].append(name)
            if name == 'Cdr':
                state['cdr'] = dict(ev)
            if name == 'Hangup' and not hung.done():
                hung.set_result(dict(ev))

    m.register_event('*', on_event)
    await m.connect()
    out['booted'] = await asyncio.wait_for(booted, 10)
    res = await asyncio.wait_for(m.send_action({
        'Action': 'Originate', 'Channel': 'PJSIP/%s@carrier' % exten,
        'Context': 'originate', 'Exten': '100', 'Priority': '1',
        'CallerID': '"Py" <4242>', 'Async': 'true', 'ActionID': 'py-' + exten}), 20)
    # Async originate: panoramisk returns the ack and the OriginateResponse.
    out['originate'] = [dict(r) for r in res]
    state['channel'] = res[-1]['Channel']
    out['channel'] = state['channel']
    st = await asyncio.wait_for(m.send_action({'Action': 'Status'}), 10)
    out['status'] = [r.get('Channel') for r in st if r.get('Event') == 'Status']
    out['status_complete'] = dict(st[-1])
    cmd = await asyncio.wait_for(m.send_command('core show channels'), 10)
    out['command'] = dict(cmd)
    # Repeated Output: headers arrive as a list.
    output = cmd.get('Output', [])
    out['command_output'] = output if isinstance(output, list) else [output]
    h = await asyncio.wait_for(m.send_action({'Action': 'Hangup', 'Channel': state['channel']}), 10)
    out['hangup'] = dict(h)
    out['hangup_event'] = await asyncio.wait_for(hung, 10)
    out['cdr'] = state['cdr']
    bye = await asyncio.wait_for(m.send_action({'Action': 'Logoff'}), 10)
    out['logoff'] = dict(bye)
    m.close()
    print(json.dumps(out))


asyncio.run(main())
