// The part of Discord's markdown the bot writes: **bold**, *italic*, `code`, ```blocks```,
// headings (# to ###) and subtext (-#) at a line's start, mentions (<@id>, <@&id>, <#id>) and
// timestamps (<t:unix:style>). Text is escaped first.

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
  ["hour", 3600], ["minute", 60], ["second", 1]];

export function timestamp(unix, style) {
  const date = new Date(unix * 1000);
  if (style === "R") {
    const delta = unix - Date.now() / 1000;
    const [unit, size] = UNITS.find(([, s]) => Math.abs(delta) >= s) || ["second", 1];
    return relative.format(Math.round(delta / size), unit);
  }
  const formats = {
    t: { timeStyle: "short" }, T: { timeStyle: "medium" }, d: { dateStyle: "short" },
    D: { dateStyle: "long" }, F: { dateStyle: "full", timeStyle: "short" },
  };
  return date.toLocaleString("en", formats[style] || { dateStyle: "long", timeStyle: "short" });
}

// names: { users: Map(id -> name), roles: Map, channels: Map }
export function markdown(text, names) {
  const blocks = [];
  let html = escapeHtml(text || "").replace(/```(?:\w*\n)?([\s\S]*?)```/g, (_, code) => {
    blocks.push(`<pre>${code}</pre>`);
    return `\u0000${blocks.length - 1}\u0000`;
  });
  html = html
    .replace(/`([^`\n]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<em>$2</em>")
    .replace(/&lt;@!?(\d+)&gt;/g, (_, id) => mention("@", names.users.get(id) || "unknown user"))
    .replace(/&lt;@&amp;(\d+)&gt;/g, (_, id) => mention("@", names.roles.get(id) || "role"))
    .replace(/&lt;#(\d+)&gt;/g, (_, id) => mention("#", names.channels.get(id) || "channel"))
    .replace(/&lt;t:(-?\d+)(?::([tTdDfFR]))?&gt;/g,
      (_, unix, style) => `<code>${escapeHtml(timestamp(Number(unix), style))}</code>`)
    // a heading is a block of its own: its line break goes with it (the text is pre-wrap)
    .replace(/^(#{1,3}) (.+)(?:\n|$)/gm,
      (_, marks, line) => `<span class="md-h${marks.length}">${line}</span>`)
    .replace(/^-# (.+)(?:\n|$)/gm, '<span class="md-sub">$1</span>');
  return html.replace(/\u0000(\d+)\u0000/g, (_, i) => blocks[Number(i)]);
}

function mention(sigil, name) {
  return `<span class="mention">${sigil}${escapeHtml(name)}</span>`;
}
