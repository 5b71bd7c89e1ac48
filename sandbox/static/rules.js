// The side panel: Discord's rules with how this bot fares against them, and the notices (what
// happened that would matter on Discord), newest first.

import { escapeHtml } from "./markdown.js";
import { S } from "./state.js";

const $ = (sel) => document.querySelector(sel);
const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function ackState() {
  const answered = [...S.interactions.values()].filter((i) => i.acknowledged);
  const enforced = S.limits.ack_enforced ? "late answers are refused, as on Discord"
    : "measured, not enforced";
  if (!answered.length) return `No interaction yet; ${enforced}.`;
  const slowest = Math.max(...answered.map((i) => i.ack_latency));
  const count = `${answered.length} answered`;
  return `Slowest answer so far: ${slowest.toFixed(2)} s (${count}); ${enforced}.`;
}

function uploadState() {
  let largest = 0;
  for (const m of S.messages.values()) {
    if (!m.author.bot) continue;
    largest = Math.max(largest, m.attachments.reduce((sum, a) => sum + a.size, 0));
  }
  return largest ? `Largest upload by the bot: ${mib(largest)}.` : "No upload by the bot yet.";
}

function intentState() {
  const b = S.bot;
  if (b.message_content) return "Granted: 🌀 works on members' images too.";
  if (b.refused_message_content) {
    return "Refused: the Portal switch is off here (sandbox.grant_message_content). "
      + "🌀 works only on the bot's own results.";
  }
  if (b.phase === "online") return "Not asked for (discord.message_content_intent is off).";
  return "The bot is not connected yet.";
}

export function renderRules() {
  const rules = [
    [`Answer within ${S.limits.ack_deadline || 3} s`, ackState()],
    ["Interaction tokens last 15 minutes",
      "After that the bot must post in the channel. “⏱ expire token” on a reply fast-forwards."],
    [`Uploads up to ${mib(S.limits.upload_limit || 0)} per message`, uploadState()],
    ["Message Content is a privileged intent", intentState()],
  ];
  $("#rule-list").innerHTML = rules
    .map(([title, state]) => `<li><b>${escapeHtml(title)}</b>`
      + `<span class="state">${escapeHtml(state)}</span></li>`)
    .join("");
}

export function renderNotices(onPick) {
  const list = $("#notices");
  if (!S.notices.length) return;
  list.replaceChildren();
  for (const n of [...S.notices].reverse()) {
    const item = document.createElement("li");
    item.className = n.level;
    item.dataset.rule = n.rule;
    item.innerHTML = `<span class="rule">${escapeHtml(n.rule)}</span>${escapeHtml(n.text)}`;
    if (n.interaction_id || n.message_id) {
      item.style.cursor = "pointer";
      item.onclick = () => onPick(n);
    }
    list.append(item);
  }
}
