// The sandbox page: a snapshot then live events from the server (SSE), the channel view, the
// composer, the forms the bot opens, and the actions a member can take (act as Alice or Ada;
// switch channels).

import { postForm, postJson } from "./api.js";
import { hidePalette, renderPalette, setupCommands, showPalette } from "./commands.js";
import { escapeHtml } from "./markdown.js";
import { openModal, setupModal } from "./modal.js";
import { renderMessage } from "./render.js";
import { renderNotices, renderRules } from "./rules.js";
import { S, byId, visible } from "./state.js";

const $ = (sel) => document.querySelector(sel);
const PHASES = {
  waiting: "waiting for the bot to log in…",
  starting: "starting: opening its store, its workers load their models…",
  connecting: "commands synced; connecting to the gateway…",
  reconnecting: "reconnecting…",
  online: "online",
};

function toast(text) {
  const box = $("#toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

async function act(promise) {
  try {
    await promise;
  } catch (err) {
    toast(err.message);
  }
}

// --- actions on messages -------------------------------------------------------------------------

function closeMenus() {
  document.querySelectorAll(".menu").forEach((m) => m.remove());
}

const actions = {
  button: (msg, customId) => act(postJson("/api/button",
    { user: S.me, message_id: msg.id, custom_id: customId })),
  select: (msg, customId, values) => act(postJson("/api/select",
    { user: S.me, message_id: msg.id, custom_id: customId, values })),
  react: (msg, emoji) => act(postJson("/api/reaction", { user: S.me, message_id: msg.id, emoji })),
  expire: (interactionId) => act(postJson("/api/expire-token", { interaction_id: interactionId })),
  appsMenu(msg, node) {
    closeMenus();
    const menu = document.createElement("div");
    menu.className = "menu";
    menu.innerHTML = '<div class="menu-title">Apps</div>';
    const commands = S.commands.filter((c) => c.type === 3);
    for (const command of commands) {
      const item = document.createElement("button");
      item.type = "button";
      item.textContent = command.name;
      item.onclick = () => {
        closeMenus();
        act(postJson("/api/context-menu", { user: S.me, name: command.name, message_id: msg.id }));
      };
      menu.append(item);
    }
    if (!commands.length) {
      menu.insertAdjacentHTML("beforeend", '<div class="menu-title">none synced</div>');
    }
    node.append(menu);
  },
};

document.addEventListener("click", (event) => {
  if (!event.target.closest(".menu, .apps")) closeMenus();
});

// --- rendering -----------------------------------------------------------------------------------

function nearBottom() {
  const box = $("#messages");
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

// Follow new messages while the reader is at the bottom (also when an image loads and grows one).
let stick = true;
function follow() {
  if (stick) $("#messages").scrollTop = $("#messages").scrollHeight;
}

function upsert(msg) {
  const box = $("#messages");
  const old = box.querySelector(`.msg[data-id="${msg.id}"]`);
  if (!visible(msg)) {
    old?.remove();
    return;
  }
  const node = renderMessage(msg, actions);
  if (old) {
    old.replaceWith(node);
    return;
  }
  const after = [...box.children].find((n) => byId(n.dataset.id, msg.id) > 0);
  box.insertBefore(node, after || null);
}

function renderMessages() {
  const box = $("#messages");
  box.replaceChildren();
  [...S.messages.values()].sort((a, b) => byId(a.id, b.id)).forEach(upsert);
  stick = true;
  follow();
}

function renderChannels() {
  const list = $("#channels");
  list.replaceChildren();
  for (const c of S.world.channels) {
    const item = document.createElement("li");
    item.textContent = c.name;
    item.dataset.channel = c.id;
    item.classList.toggle("current", c.id === S.channel);
    item.onclick = () => {
      S.channel = c.id;
      renderChannels();
      renderMessages();
    };
    list.append(item);
  }
  const channel = S.world.channels.find((c) => c.id === S.channel);
  $("#channel-name").textContent = channel?.name || "";
  $("#guild-name").textContent = S.world.guild.name || "";
}

function renderPersonas() {
  const box = $("#personas");
  box.replaceChildren();
  for (const p of S.personas) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="radio" name="persona" value="${p.id}"> ${escapeHtml(p.name)} `
      + `<small>${escapeHtml(p.role)}</small>`;
    const radio = label.querySelector("input");
    radio.checked = p.id === S.me;
    radio.onchange = () => {
      S.me = p.id;
      renderMessages();
      if (!$("#palette").hidden) renderPalette();
    };
    box.append(label);
  }
}

function renderBot() {
  const status = $("#bot-status");
  const phase = S.bot.phase || "waiting";
  status.dataset.phase = phase;
  status.textContent = phase === "stopped" ? `stopped (exit ${S.bot.exit_code})`
    : `${S.bot.name || "bot"}: ${PHASES[phase] || phase}`;
  const list = $("#models");
  const here = S.models.available.map((m) => `<li>✓ ${escapeHtml(m)}</li>`);
  const missing = S.models.missing.map((m) => `<li class="missing">✗ ${escapeHtml(m.name)}: `
    + `${escapeHtml(m.reason)}; <code>${escapeHtml(m.fix)}</code></li>`);
  list.innerHTML = here.concat(missing).join("");
}

function pickNotice(notice) {
  const target = [...S.messages.values()].find((m) => m.id === notice.message_id
    || (notice.interaction_id && m.interaction?.id === notice.interaction_id));
  if (!target) return;
  if (target.channel_id !== S.channel) {
    S.channel = target.channel_id;
    renderChannels();
    renderMessages();
  }
  $(`.msg[data-id="${target.id}"]`)?.scrollIntoView({ block: "center" });
}

function renderAll() {
  renderChannels();
  renderPersonas();
  renderBot();
  renderMessages();
  renderRules();
  renderNotices(pickNotice);
}

// --- events from the server ----------------------------------------------------------------------

// A form the bot opened for this member opens once, when it arrives (not again on a reconnect:
// Discord forgets an open form too).
const formsSeen = new Set();

function maybeOpenForm(interaction) {
  if (!interaction.modal || formsSeen.has(interaction.id)) return;
  formsSeen.add(interaction.id);
  if (interaction.user_id !== S.me) return;
  openModal(interaction, (id, values) => postJson("/api/modal",
    { user: S.me, interaction_id: id, values }));
}

function rerenderInteraction(id) {
  for (const m of S.messages.values()) if (m.interaction?.id === id) upsert(m);
}

function apply(event) {
  switch (event.type) {
    case "snapshot":
      Object.assign(S, {
        world: event.world, personas: event.personas, bot: event.bot, commands: event.commands,
        notices: event.notices, models: event.models, limits: event.limits,
        messages: new Map(event.messages.map((m) => [m.id, m])),
        interactions: new Map(event.interactions.map((i) => [i.id, i])),
      });
      event.interactions.filter((i) => i.modal).forEach((i) => formsSeen.add(i.id));
      if (!S.personas.some((p) => p.id === S.me)) S.me = S.personas[0]?.id;
      if (!S.world.channels.some((c) => c.id === S.channel)) S.channel = S.world.channels[0]?.id;
      renderAll();
      return;
    case "message":
      S.messages.set(event.message.id, event.message);
      upsert(event.message);
      renderRules();
      break;
    case "delete":
      S.messages.delete(event.id);
      $(`.msg[data-id="${event.id}"]`)?.remove();
      break;
    case "interaction":
      S.interactions.set(event.interaction.id, event.interaction);
      rerenderInteraction(event.interaction.id);
      maybeOpenForm(event.interaction);
      renderRules();
      break;
    case "commands":
      S.commands = event.commands;
      if (!$("#palette").hidden) renderPalette();
      break;
    case "bot":
      S.bot = event.bot;
      renderBot();
      renderRules();
      return;
    case "notice":
      S.notices.push(event.notice);
      renderNotices(pickNotice);
      if (event.notice.interaction_id) rerenderInteraction(event.notice.interaction_id);
      if (S.messages.has(event.notice.message_id)) upsert(S.messages.get(event.notice.message_id));
      break;
    default:
      return;
  }
  follow();
}

function connect() {
  const source = new EventSource("/api/events");
  const state = $("#connection");
  source.onopen = () => {
    state.dataset.state = "live";
    state.textContent = "live";
  };
  source.onmessage = (e) => apply(JSON.parse(e.data));
  source.onerror = () => {
    state.dataset.state = "lost";
    state.textContent = "connection to the sandbox lost; retrying…";
  };
}

// --- the composer --------------------------------------------------------------------------------

function setupComposer() {
  const text = $("#composer-text");
  const file = $("#composer-file");
  const chip = $("#composer-chip");
  file.onchange = () => {
    chip.hidden = !file.files.length;
    chip.textContent = file.files.length ? `🖼 ${file.files[0].name}` : "";
  };
  text.addEventListener("input", () => {
    if (text.value.startsWith("/")) showPalette(text.value.slice(1));
    else hidePalette();
  });
  $("#composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (text.value.startsWith("/")) {
      showPalette(text.value.slice(1));
      return;
    }
    const form = new FormData();
    form.append("user", S.me);
    form.append("channel", S.channel);
    form.append("content", text.value);
    if (file.files.length) form.append("file0", file.files[0]);
    try {
      await postForm("/api/message", form);
      text.value = "";
      file.value = "";
      chip.hidden = true;
    } catch (err) {
      toast(err.message);
    }
  });
}

// Only the reader's own scrolling (wheel, keys, scrollbar) stops the following; layout changes
// (an image loading, the command form opening) keep it.
let gesture = 0;
const touched = () => { gesture = Date.now(); };
$("#messages").addEventListener("wheel", touched, { passive: true });
$("#messages").addEventListener("pointerdown", touched);
document.addEventListener("keydown", (e) => {
  if (!e.target.closest("input, select, textarea")) touched();
});
$("#messages").addEventListener("scroll", () => {
  if (Date.now() - gesture < 1000) stick = nearBottom();
});
$("#messages").addEventListener("load", follow, true); // load events do not bubble: capture
new ResizeObserver(follow).observe($("#messages"));
setupCommands(toast);
setupComposer();
setupModal();
connect();
