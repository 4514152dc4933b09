/**
 * The one HTML shell of every page: the script (./browser/app.ts) reads the path, opens the
 * event stream and renders. No inline script or style (the Content-Security-Policy forbids them).
 */
const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function pageHtml(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · cutover war room</title>
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<a class="skip" href="#app">Skip to content</a>
<header><a href="/">Cutovers</a> <span id="conn" role="status" aria-live="polite">connecting…</span></header>
<main id="app" tabindex="-1"><p>Loading…</p></main>
<div id="toast" role="status" aria-live="assertive"></div>
<dialog id="confirm" aria-labelledby="confirm-title">
<form method="dialog">
<h2 id="confirm-title"></h2>
<p id="confirm-text"></p>
<label id="reason-label" for="reason" hidden>Reason (required)</label>
<textarea id="reason" rows="3" maxlength="200" hidden></textarea>
<div class="buttons"><button value="cancel" id="confirm-cancel">Cancel</button> <button value="ok" id="confirm-ok" class="danger">Confirm</button></div>
</form>
</dialog>
</body>
</html>
`;
}
