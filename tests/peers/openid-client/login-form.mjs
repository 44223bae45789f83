// Finds the login form in an HTML page the way a person would: the form that has a
// password box. Tolerant of markup style (quotes, case, attribute order, entities), so the
// relying party does not depend on how the broker writes its page.

const NAMED_ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes the character references that appear in attribute values and text. */
export function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref) => {
    let code;
    if (ref[0] === '#') {
      code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

/** The attributes of one start tag's inside (`name a=1 b="2"`), names lower-cased. */
function parseAttributes(inside) {
  const attrs = new Map();
  const re = /([^\s"'=<>\/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const m of inside.matchAll(re)) {
    const name = m[1].toLowerCase();
    if (!attrs.has(name)) attrs.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attrs;
}

/** The tags of `html` in order, without comments and the bodies of script/style. */
function tags(html) {
  const cleaned = html
    .replace(/<!--[\s\S]*?(-->|$)/g, '')
    .replace(/<(script|style)\b[^>]*>[\s\S]*?(<\/\1\s*>|$)/gi, '');
  const out = [];
  for (const m of cleaned.matchAll(/<(\/?)([a-z][a-z0-9-]*)\b([^>]*)>?/gi)) {
    out.push({ name: (m[1] + m[2]).toLowerCase(), attrs: parseAttributes(m[3]) });
  }
  return out;
}

/**
 * The first form in `html` with a password input, or null.
 * Returns { action: URL, method, hidden: [[name, value]], loginField, passwordField }.
 */
export function findLoginForm(html, pageUrl) {
  const forms = [];
  let current = null;
  for (const tag of tags(html)) {
    if (tag.name === 'form') {
      current = { form: tag, inputs: [] };
      forms.push(current);
    } else if (tag.name === '/form') {
      current = null;
    } else if ((tag.name === 'input' || tag.name === 'button') && current) {
      current.inputs.push(tag);
    }
  }
  for (const { form, inputs } of forms) {
    const type = (t) => (t.attrs.get('type') || (t.name === 'button' ? 'submit' : 'text')).toLowerCase();
    const password = inputs.find((t) => t.name === 'input' && type(t) === 'password' && t.attrs.get('name'));
    if (!password) continue;
    const texts = inputs.filter((t) => t.name === 'input' && ['text', 'email'].includes(type(t)) && t.attrs.get('name'));
    const login = texts.find((t) => t.attrs.get('name') === 'login') ?? texts[0];
    if (!login) continue;
    const hidden = inputs
      .filter((t) => t.name === 'input' && type(t) === 'hidden' && t.attrs.get('name'))
      .map((t) => [t.attrs.get('name'), t.attrs.get('value') ?? '']);
    const action = form.attrs.get('action');
    return {
      action: action ? new URL(action, pageUrl) : new URL(pageUrl),
      method: (form.attrs.get('method') || 'get').toLowerCase(),
      hidden,
      loginField: login.attrs.get('name'),
      passwordField: password.attrs.get('name'),
    };
  }
  return null;
}

/** The page's visible text, whitespace collapsed: for failure messages and error checks. */
export function visibleText(html) {
  return decodeEntities(
    html
      .replace(/<!--[\s\S]*?(-->|$)/g, ' ')
      .replace(/<(script|style|head)\b[^>]*>[\s\S]*?(<\/\1\s*>|$)/gi, ' ')
      .replace(/<[^>]*>/g, ' '),
  )
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The text of the page's error message — the first element marked `role="alert"` or with
 * class `error` — or null when the page shows none.
 */
export function errorText(html) {
  // Start tags one by one (an element's match must not swallow the elements inside it).
  for (const m of html.matchAll(/<([a-z][a-z0-9]*)\b([^>]*)>/gi)) {
    const attrs = parseAttributes(m[2]);
    const classes = (attrs.get('class') ?? '').toLowerCase().split(/\s+/);
    if ((attrs.get('role') ?? '').toLowerCase() !== 'alert' && !classes.includes('error')) continue;
    const rest = html.slice(m.index + m[0].length);
    const close = rest.search(new RegExp(`</${m[1]}\\s*>`, 'i'));
    const text = visibleText(close < 0 ? rest : rest.slice(0, close));
    if (text) return text;
  }
  return null;
}
