#!/usr/bin/python3
"""The IVR of the AGI peer tests on Debian's python3-panoramisk (1.4): its
FastAGI server (panoramisk.fast_agi.Application) serves one call on route
"ivr" and writes each parsed reply, as JSON, to the transcript file named
by agi_arg_2. agi_arg_1 is where to record.
usage: ivr_panoramisk.py PORT"""
import asyncio, json, sys
from panoramisk.fast_agi import Application

done = None

async def ivr(request):
    h = request.headers
    with open(h['agi_arg_2'], 'w') as out:
        out.write('env request=%s channel=%s script=%s\n' % (h['agi_request'], h['agi_channel'], h['agi_network_script']))
        async def cmd(c):
            r = await request.send_command(c)
            out.write(json.dumps(r, sort_keys=True) + '\n')
            out.flush()
            return r
        await cmd('ANSWER')
        await cmd('STREAM FILE beep "#"')
        r = await cmd('GET DATA beep 5000 3')
        digits = r['result'][0]
        await cmd('SAY NUMBER 42 ""')
        await cmd('SET VARIABLE IVRVAR "hello world"')
        await cmd('GET VARIABLE IVRVAR')
        await cmd('EXEC Playback beep')
        await cmd('GOSUB ivr-sub s 1 from-pano')
        await cmd('GET VARIABLE GOSUBVAR')
        await cmd('RECORD FILE %s wav "#" 1000' % h['agi_arg_1'])
        await cmd('DATABASE PUT ivr panoramisk %s' % digits)
        await cmd('DATABASE GET ivr panoramisk')
        await cmd('HANGUP')
    done.set_result(True)

async def main():
    global done
    done = asyncio.get_running_loop().create_future()
    app = Application(loop=asyncio.get_running_loop())
    app.add_route('ivr', ivr)
    server = await asyncio.start_server(app.handler, '127.0.0.1', int(sys.argv[1]))
    print('ready', flush=True)
    await done
    await asyncio.sleep(0.1)  # let the handler close the socket
    server.close()

asyncio.run(main())
