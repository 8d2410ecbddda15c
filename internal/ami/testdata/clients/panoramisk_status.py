"""Status actions with Debian's python3-panoramisk, run by the Go tests.

usage: panoramisk_status.py PORT USER SECRET
Sends CoreSettings and CoreStatus (plain responses), PJSIPShowEndpoints
and PJSIPShowContacts (event lists, which panoramisk gathers until their
...Complete event) as a client library's first example does, and prints
what it got as JSON.
"""
import asyncio
import json
import sys

from panoramisk import Manager


async def main():
    port, user, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    loop = asyncio.get_running_loop()
    m = Manager(loop=loop, host='127.0.0.1', port=port, username=user,
                secret=secret, ping_delay=3600, ping_interval=3600)
    await m.connect()
    out = {}
    for name in ('CoreSettings', 'CoreStatus', 'PJSIPShowEndpoints', 'PJSIPShowContacts'):
        resp = await asyncio.wait_for(m.send_action({'Action': name}), 10)
        if isinstance(resp, list):
            out[name] = [dict(r) for r in resp]
        else:
            out[name] = dict(resp)
    m.close()
    print(json.dumps(out))


asyncio.run(main())
