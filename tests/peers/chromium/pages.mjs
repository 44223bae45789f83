// Walks the broker's pages in Debian's headless Chromium as a user would, and checks each one
// with axe-core (npm, by Deque) injected into the page, under the page's own CSP:
//
//   node pages.mjs PLAN.json
//
// PLAN: {"shots": DIR, "suffix": "light", "steps": [{"name", "goto"?: URL, "click"?: NAME,
//        "fill"?: {LABEL: VALUE}, "submit"?: NAME, "repeat_until_status"?: N}]}
// Each step navigates (`goto`), or fills fields by their label and presses the button or link
// whose accessible name is `submit`/`click`; then the page it lands on is checked and saved as
// DIR/<name>-<suffix>.png. Prints one JSON object per step:
//   {name, status, url, title, h1, header, logo_loaded, stylesheets, body_background,
//    csp_violations, axe: [{id, impact, nodes}], focus: [{what, outline}], tabbed}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { launchChromium } from './launch.mjs';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
  const page = await context.newPage();
  const violations = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  let last = null;
  const track = (r) => { if (r.request().isNavigationRequest() && r.request().frame() === page.mainFrame()) last = r; };
  page.on('response', track);

  for (const step of plan.steps) {
    violations.length = 0;
    const act = async () => {
      if (step.goto) {
        await page.goto(step.goto, { waitUntil: 'load', timeout: 20000 });
      }
      for (const [label, value] of Object.entries(step.fill ?? {})) {
        await page.getByLabel(label, { exact: true }).fill(value);
      }
      const press = step.submit ?? step.click;
      if (press) {
        const target = page.getByRole(step.click ? 'link' : 'button', { name: press });
        await Promise.all([page.waitForNavigation({ waitUntil: 'load', timeout: 20000 }), target.click()]);
      }
    };
    await act();
    for (let i = 0; step.repeat_until_status && last?.status() !== step.repeat_until_status && i < 15; i++) {
      await act();
    }
    await page.waitForLoadState('networkidle', { timeout: 10000 }).catch(() => {});

    const facts = await page.evaluate(() => {
      const logo = document.querySelector('header img');
      const h1 = document.querySelector('h1');
      return {
        title: document.title,
        h1: h1 ? h1.innerText.trim() : null,
        header: document.querySelector('header')?.innerText.trim() ?? null,
        logo_loaded: !!logo && logo.complete && logo.naturalWidth > 0,
        stylesheets: [...document.styleSheets].map((s) => { try { return s.cssRules.length; } catch { return -1; } }),
        body_background: getComputedStyle(document.body).backgroundColor,
        lang: document.documentElement.lang,
      };
    });

    // axe-core, all WCAG 2.x A/AA rules and its best practices (landmarks, one h1, …).
    await page.evaluate(axeSource);
    const axe = await page.evaluate(async () => {
      const r = await window.axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      });
      return {
        violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) })),
        passes: r.passes.map((p) => p.id),
      };
    });

    // Keyboard: every control is reachable with Tab and shows a focus ring.
    const focus = [];
    const controls = await page.evaluate(() =>
      document.querySelectorAll('main a[href], main button, main input:not([type=hidden])').length);
    await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
    for (let i = 0; i < controls + 2; i++) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body || !el.closest('main')) return null;
        const s = getComputedStyle(el);
        return {
          what: `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} ${(el.innerText || el.value || el.name || '').trim().slice(0, 40)}`,
          outline: `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`,
        };
      });
      if (f && !focus.some((x) => x.what === f.what)) focus.push(f);
    }

    await page.screenshot({ path: `${plan.shots}/${step.name}-${plan.suffix}.png`, fullPage: true });
    console.log(JSON.stringify({
      name: step.name,
      status: last?.status() ?? 0,
      url: page.url(),
      ...facts,
      csp_violations: [...violations],
      axe: axe.violations,
      axe_passes: axe.passes,
      focus,
      controls,
    }));
  }
} finally {
  await browser.close();
}
