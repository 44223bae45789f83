// Opens a URL in Debian's headless Chromium and reports the connector chooser as JSON:
//
//   node chooser.mjs URL SCREENSHOT.png
//
// Prints `{"status", "title", "buttons": [text of each connector link], "url"}` and saves a
// full-page screenshot. playwright-core only drives the browser; the browser is
// /usr/bin/chromium from apt (CHROMIUM overrides the path).
import { launchChromium } from './launch.mjs';

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error('usage: node chooser.mjs URL SCREENSHOT.png');
  process.exit(2);
}

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  const response = await page.goto(url, { waitUntil: 'load', timeout: 20000 });
  const buttons = await page.locator('a.theme-btn-provider').allInnerTexts();
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({
    status: response?.status() ?? 0,
    title: await page.title(),
    buttons: buttons.map((t) => t.trim()),
    url: page.url(),
  }));
} finally {
  await browser.close();
}
