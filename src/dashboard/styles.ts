/** The page's one stylesheet: large type for a projector, one column on a phone, visible focus. */
export const STYLES = `
:root { color-scheme: dark; --bg: #101418; --panel: #1a2028; --fg: #e8edf2; --muted: #9aa7b4;
  --ok: #3fb950; --warn: #d29922; --bad: #f85149; --info: #58a6ff; --line: #2d3643; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 18px/1.45 system-ui, sans-serif; }
a { color: var(--info); }
:focus-visible { outline: 3px solid var(--info); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; }
header { display: flex; justify-content: space-between; padding: 8px 16px; border-bottom: 1px solid var(--line); }
main { padding: 12px 16px; max-width: 1600px; margin: 0 auto; }
h1 { font-size: 1.4rem; margin: 0.2em 0; } h2 { font-size: 1.15rem; margin: 0.3em 0; }
.phase { font-size: clamp(2.4rem, 8vw, 5.5rem); font-weight: 800; letter-spacing: -0.02em; margin: 0; }
.phase.bad { color: var(--bad); } .phase.ok { color: var(--ok); } .phase.warn { color: var(--warn); }
.next { font-size: 1.3rem; color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 480px), 1fr)); gap: 12px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
.state-Succeeded, .Passed, .Successful, .ok { color: var(--ok); }
.state-Running, .state-AwaitingApproval, .state-Waiting, .RemediationNeeded, .Inconclusive, .warn { color: var(--warn); }
.state-Failed, .Failed, .Error, .bad { color: var(--bad); }
.state-Pending, .state-Skipped, .muted { color: var(--muted); }
ol.timeline { list-style: none; padding: 0; margin: 0; }
ol.timeline li { display: grid; grid-template-columns: 7em 1fr auto; gap: 8px; padding: 6px 0; border-bottom: 1px solid var(--line); }
ol.timeline li.current { background: #222b36; }
.time { font-variant-numeric: tabular-nums; color: var(--muted); }
button { font: inherit; padding: 6px 12px; border-radius: 6px; border: 1px solid var(--line); background: #243040; color: var(--fg); cursor: pointer; min-height: 44px; }
button:hover { background: #2d3b4f; } button.danger { background: #5a1d1d; border-color: var(--bad); }
.actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; }
.notice { border-left: 4px solid var(--warn); padding: 6px 10px; background: #2a2414; }
svg.bar { width: 100%; height: 12px; } svg.chart { width: 100%; max-width: 360px; height: 60px; }
details summary { cursor: pointer; }
#toast { position: fixed; bottom: 12px; right: 12px; max-width: min(90vw, 560px); }
#toast p { margin: 4px 0; padding: 10px 14px; border-radius: 6px; background: var(--panel); border: 1px solid var(--line); }
#toast p.ok { border-color: var(--ok); } #toast p.bad { border-color: var(--bad); color: var(--fg); }
dialog { background: var(--panel); color: var(--fg); border: 1px solid var(--line); border-radius: 8px; max-width: min(92vw, 560px); }
dialog textarea { width: 100%; font: inherit; }
.buttons { display: flex; justify-content: flex-end; gap: 8px; margin-top: 8px; }
@media (max-width: 600px) { body { font-size: 16px; } ol.timeline li { grid-template-columns: 5em 1fr; } ol.timeline li > :nth-child(3) { grid-column: 2; } }
`;
