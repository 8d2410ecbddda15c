// AMI flow with npm asterisk-ami-client 1.1.5, run by the Go tests.
// usage: node ami_client_flow.js PORT USER SECRET EXTEN
// Same flow as panoramisk_flow.py; prints a JSON summary.
const AmiClient = require('asterisk-ami-client');
const [port, user, secret, exten] = [Number(process.argv[2]), process.argv[3], process.argv[4], process.argv[5]];
const out = { events: [], channels_seen: [] };
const client = new AmiClient({ reconnect: false, keepAlive: false, emitEventsByTypes: true });
let channel = null;
const fail = (why) => { out.error = String(why && why.stack || why); console.log(JSON.stringify(out)); process.exit(1); };
setTimeout(() => fail('timeout'), 25000).unref();
let resolveOrig, resolveHangup, resolveBoot;
const origDone = new Promise((r) => { resolveOrig = r; });
const hangupDone = new Promise((r) => { resolveHangup = r; });
const booted = new Promise((r) => { resolveBoot = r; });
client.on('event', (e) => {
  if (e.Channel && !out.channels_seen.includes(e.Channel)) out.channels_seen.push(e.Channel);
  if (e.Event === 'FullyBooted') resolveBoot(true);
  if (e.Event === 'OriginateResponse' && e.ActionID === 'ac-' + exten) resolveOrig(e);
  if (channel && e.Channel === channel) {
    out.events.push(e.Event);
    if (e.Event === 'Cdr') out.cdr = e;
    if (e.Event === 'Hangup') resolveHangup(e);
  }
});
(async () => {
  await client.connect(user, secret, { host: '127.0.0.1', port });
  out.booted = await Promise.race([booted, new Promise((r) => setTimeout(() => r(false), 3000))]);
  out.originate = await client.action({ Action: 'Originate', Channel: 'PJSIP/' + exten + '@carrier', Context: 'originate',
    Exten: '100', Priority: 1, CallerID: 'Ami <4444>', Async: 'true', ActionID: 'ac-' + exten }, true);
  const or = await origDone;
  out.originate_response = or;
  channel = or.Channel;
  out.channel = channel;
  out.status = await client.action({ Action: 'Status', ActionID: 'st' }, true);
  out.command = await client.action({ Action: 'Command', Command: 'core show channels' }, true);
  out.hangup = await client.action({ Action: 'Hangup', Channel: channel }, true);
  out.hangup_event = await hangupDone;
  client.disconnect();
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch(fail);
