// The user of a device flow, in Debian's headless Chromium: opens the verification page,
// types the user code, signs in on the broker's form, and approves (or cancels) on the
// approval page. Prints {title, heading, text, url} of the page it ends on as JSON and saves
// a screenshot.
//
//   DEVICE_PASSWORD=… node device.mjs VERIFICATION_URI USER_CODE EMAIL approve|deny SCREENSHOT.png
import { launchChromium } from './launch.mjs';

const [uri, userCode, email, decision, screenshot] = process.argv.slice(2);
if (!screenshot || !['approve', 'deny'].includes(decision)) {
  console.error('usage: node device.mjs VERIFICATION_URI USER_CODE EMAIL approve|deny SCREENSHOT.png');
  process.exit(2);
}

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(uri, { waitUntil: 'load', timeout: 20000 });
  await page.getByLabel('Code').fill(userCode);
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Continue' }).click()]);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(process.env.DEVICE_PASSWORD ?? '');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('h1:text("Grant access")', { timeout: 20000 });
  const button = decision === 'approve' ? 'Grant access' : 'Cancel';
  await page.getByRole('button', { name: button }).click();
  await page.waitForSelector('h1:text-matches("Device")', { timeout: 20000 });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({
    title: await page.title(),
    heading: (await page.locator('h1').innerText()).trim(),
    text: (await page.locator('main').innerText()).trim(),
    url: page.url(),
  }));
} finally {
  await browser.close();
}
