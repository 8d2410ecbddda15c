// AMI flow with npm asterisk-manager 0.2.0, run by the Go tests.
// usage: node asterisk_manager_flow.js PORT USER SECRET EXTEN
// Same flow as panoramisk_flow.py; prints a JSON summary.
const AsteriskManager = require('asterisk-manager');
const [port, user, secret, exten] = [Number(process.argv[2]), process.argv[3], process.argv[4], process.argv[5]];
const out = { events: [], channels_seen: [] };
const ami = new AsteriskManager(port, '127.0.0.1', user, secret, true);
let channel = null;
let booted = false;
const fail = (why) => { out.error = String(why); console.log(JSON.stringify(out)); process.exit(1); };
setTimeout(() => fail('timeout'), 25000).unref();
ami.on('error', fail);
const act = (a) => new Promise((resolve, reject) => ami.action(a, (err, res) => err ? reject(JSON.stringify(err)) : resolve(res)));
let resolveOrig, resolveHangup;
const origDone = new Promise((r) => { resolveOrig = r; });
const hangupDone = new Promise((r) => { resolveHangup = r; });
ami.on('managerevent', (e) => {
  if (e.channel && !out.channels_seen.includes(e.channel)) out.channels_seen.push(e.channel);
  if (e.event === 'FullyBooted' && !booted) { booted = true; start().catch(fail); }
  if (e.event === 'OriginateResponse' && e.actionid === 'am-' + exten) resolveOrig(e);
  if (channel && e.channel === channel) {
    out.events.push(e.event);
    if (e.event === 'Cdr') out.cdr = e;
    if (e.event === 'Hangup') resolveHangup(e);
  }
});
async function start() {
  out.booted = true;
  out.originate = await act({ action: 'originate', channel: 'PJSIP/' + exten + '@carrier', context: 'originate',
    exten: '100', priority: 1, callerid: 'Node <4343>', async: 'true', actionid: 'am-' + exten });
  const or = await origDone;
  out.originate_response = or;
  channel = or.channel;
  out.channel = channel;
  out.ping = await act({ action: 'ping' });
  out.command = await act({ action: 'command', command: 'core show channels' });
  out.hangup = await act({ action: 'hangup', channel: channel });
  out.hangup_event = await hangupDone;
  out.logoff = await act({ action: 'logoff' });
  ami.disconnect();
  console.log(JSON.stringify(out));
  process.exit(0);
}
