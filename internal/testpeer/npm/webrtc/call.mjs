// entVoice testpeer: opens the WebRTC phone page in Debian's chromium
// (playwright-core, no browser download) with a fake microphone and the
// permission prompt answered, waits for window.result and prints it as JSON.
//   node call.mjs URL USER_DATA_DIR [TIMEOUT_MS]
import { chromium } from "playwright-core";

const [url, dataDir, timeout = "60000"] = process.argv.slice(2);
const ctx = await chromium.launchPersistentContext(dataDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  ignoreHTTPSErrors: true,
  args: [
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--ignore-certificate-errors", "--autoplay-policy=no-user-gesture-required",
  ],
});
let out;
try {
  const page = await ctx.newPage();
  page.on("console", (m) => process.stderr.write(`console: ${m.text()}\n`));
  await page.goto(url);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: Number(timeout) });
  out = await page.evaluate(() => window.result);
} catch (e) {
  out = { error: String(e) };
} finally {
  await ctx.close();
}
process.stdout.write(JSON.stringify(out) + "\n");
