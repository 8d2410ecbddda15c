// The IVR of the AGI peer tests on npm ding-dong 0.1.7: a FastAGI server
// for one call, with the library's own command helpers; each parsed reply
// ({code, result, value}) is written, as JSON, to the transcript file
// named by agi_arg_2. agi_arg_1 is where to record.
// usage: NODE_PATH=internal/testpeer/npm/node_modules node ivr_dingdong.js PORT
const AGIServer = require('ding-dong');
const fs = require('fs');
const port = Number(process.argv[2]);
let server;
const handler = async (context) => {
  const vars = await context.onEvent('variables');
  const out = fs.openSync(vars.agi_arg_2, 'w');
  const log = (r) => { fs.writeSync(out, JSON.stringify(r) + '\n'); return r; };
  fs.writeSync(out, 'env request=' + vars.agi_request + ' channel=' + vars.agi_channel + '\n');
  log(await context.answer());
  log(await context.streamFile('beep', '#'));
  const r = log(await context.getData('beep', 5000, 3));
  log(await context.sayNumber(42, ''));
  log(await context.setVariable('IVRVAR', 'hello world'));
  log(await context.getVariable('IVRVAR'));
  log(await context.exec('Playback', 'beep'));
  log(await context.recordFile(vars.agi_arg_1, 'wav', '#', 1));
  log(await context.databasePut('ivr', 'dingdong', r.result));
  log(await context.databaseGet('ivr', 'dingdong'));
  log(await context.hangup());
  fs.closeSync(out);
  await context.end();
  server.close();
};
server = new AGIServer(handler).start(port, '127.0.0.1');
server.on('listening', () => console.log('ready'));
