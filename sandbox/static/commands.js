// Slash commands, built from the definitions the bot synced to the local Discord: the palette
// (hidden-by-permission commands shown greyed, with why), a form per (sub)command with the synced
// types, choices, ranges and descriptions, and live autocomplete answered by the bot.

import { postForm, postJson } from "./api.js";
import { escapeHtml } from "./markdown.js";
import { S, missingPermissions } from "./state.js";

const T = { SUB: 1, GROUP: 2, STRING: 3, INTEGER: 4, BOOLEAN: 5, USER: 6, CHANNEL: 7, ROLE: 8,
  MENTIONABLE: 9, NUMBER: 10, ATTACHMENT: 11 };
const $ = (sel) => document.querySelector(sel);
let current = null; // { path, command, options }
let report = () => {};

// Every runnable (sub)command: { path: "quota set", command (top level), spec (leaf) }.
function leaves() {
  const out = [];
  for (const command of S.commands) {
    if ((command.type || 1) !== 1) continue;
    const walk = (spec, path) => {
      const subs = (spec.options || []).filter((o) => o.type === T.SUB || o.type === T.GROUP);
      if (!subs.length) out.push({ path, command, spec });
      for (const sub of subs) walk(sub, `${path} ${sub.name}`);
    };
    walk(command, command.name);
  }
  return out;
}

export function renderPalette(filter = "") {
  const list = $("#palette-list");
  list.replaceChildren();
  for (const leaf of leaves().filter((l) => l.path.startsWith(filter.trim()))) {
    const item = document.createElement("li");
    item.dataset.command = leaf.path;
    const about = escapeHtml(leaf.spec.description || "");
    item.innerHTML = `/${escapeHtml(leaf.path)}<small>${about}</small>`;
    const missing = missingPermissions(leaf.command);
    if (missing) {
      item.classList.add("denied");
      const why = `Discord hides this from you: it needs ${missing} (default_member_permissions)`;
      item.insertAdjacentHTML("beforeend", `<span class="why">${escapeHtml(why)}</span>`);
    } else {
      item.onclick = () => openForm(leaf);
    }
    list.append(item);
  }
  if (!list.children.length) {
    list.innerHTML = S.commands.length ? "<li>no such command</li>"
      : "<li>The bot has not synced any command yet.</li>";
  }
}

export function showPalette(filter = "") {
  renderPalette(filter);
  $("#palette").hidden = false;
}

export function hidePalette() {
  $("#palette").hidden = true;
}

function closeForm() {
  current = null;
  $("#command-form").hidden = true;
}

function range(option) {
  const lo = option.min_value ?? option.min_length;
  const hi = option.max_value ?? option.max_length;
  if (lo === undefined && hi === undefined) return "";
  return `${lo ?? ""}–${hi ?? ""}`;
}

function select(items, required) {
  const box = document.createElement("select");
  box.innerHTML = (required ? "" : '<option value="">—</option>') + items
    .map(([value, label]) => `<option value="${escapeHtml(value)}">${escapeHtml(label)}</option>`)
    .join("");
  return box;
}

function inputFor(option) {
  const members = S.world.members.filter((m) => !m.bot).map((m) => [m.id, m.name]);
  const required = Boolean(option.required);
  if (option.choices?.length) return select(option.choices.map((c) => [c.value, c.name]), required);
  switch (option.type) {
    case T.BOOLEAN: return select([["true", "true"], ["false", "false"]], required);
    case T.USER: case T.MENTIONABLE: return select(members, required);
    case T.CHANNEL: return select(S.world.channels.map((c) => [c.id, `#${c.name}`]), required);
    case T.ROLE: return select(S.world.roles.map((r) => [r.id, r.name]), required);
    default: break;
  }
  const input = document.createElement("input");
  input.autocomplete = "off";
  if (option.type === T.ATTACHMENT) {
    input.type = "file";
    input.accept = "image/*,video/mp4,video/webm,video/quicktime";
  } else if (option.type === T.INTEGER || option.type === T.NUMBER) {
    input.type = "number";
    input.step = option.type === T.INTEGER ? "1" : "any";
    if (option.min_value !== undefined) input.min = option.min_value;
    if (option.max_value !== undefined) input.max = option.max_value;
    input.placeholder = range(option);
  } else {
    input.type = "text";
    if (option.min_length !== undefined) input.minLength = option.min_length;
    if (option.max_length !== undefined) input.maxLength = option.max_length;
    input.placeholder = option.autocomplete ? "type to get suggestions" : "";
  }
  return input;
}

function openForm(leaf) {
  hidePalette();
  $("#composer-text").value = "";
  current = leaf;
  $("#command-title").textContent = `/${leaf.path}`;
  $("#command-desc").textContent = leaf.spec.description || "";
  $("#command-error").textContent = "";
  const box = $("#command-options");
  box.replaceChildren();
  for (const option of leaf.spec.options || []) {
    const label = document.createElement("label");
    label.className = "opt";
    label.dataset.option = option.name;
    label.innerHTML = `<span class="opt-name">${escapeHtml(option.name)}`
      + `${option.required ? '<span class="req">*</span>' : ""}</span>`
      + `<span class="opt-desc">${escapeHtml(option.description || "")}</span>`;
    const input = inputFor(option);
    input.name = option.name;
    input.required = Boolean(option.required);
    label.append(input);
    if (option.autocomplete) wireAutocomplete(label, input, option);
    box.append(label);
  }
  $("#command-form").hidden = false;
  $("#run-command").textContent = `Run /${leaf.path}`;
  box.querySelector("input, select")?.focus();
}

// Typed values of the filled-in options (files are sent apart).
function values() {
  const out = {};
  for (const option of current.spec.options || []) {
    const input = $(`#command-options [name="${option.name}"]`);
    if (!input || option.type === T.ATTACHMENT || input.value === "") continue;
    const raw = input.value;
    out[option.name] = option.type === T.INTEGER ? parseInt(raw, 10)
      : option.type === T.NUMBER ? parseFloat(raw)
        : option.type === T.BOOLEAN ? raw === "true" : raw;
  }
  return out;
}

function wireAutocomplete(label, input, option) {
  const list = document.createElement("ul");
  list.className = "ac-list";
  list.hidden = true;
  label.append(list);
  let timer = null;
  let asked = 0;
  const ask = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++asked;
      const options = { ...values(), [option.name]: input.value };
      try {
        const data = await postJson("/api/autocomplete", {
          user: S.me, channel: S.channel, name: current.path, options, focused: option.name,
        });
        if (mine !== asked) return; // a newer keystroke asked again
        list.replaceChildren();
        for (const choice of data.choices || []) {
          const item = document.createElement("li");
          item.textContent = choice.name;
          item.dataset.value = choice.value;
          item.onmousedown = (event) => {
            event.preventDefault();
            input.value = choice.value;
            list.hidden = true;
          };
          list.append(item);
        }
        if (data.error) list.innerHTML = `<li>${escapeHtml(data.error)}</li>`;
        list.hidden = !list.children.length;
      } catch (err) {
        report(err.message);
      }
    }, 150);
  };
  input.addEventListener("input", ask);
  input.addEventListener("focus", ask);
  input.addEventListener("blur", () => { list.hidden = true; });
}

async function run(event) {
  event.preventDefault();
  if (!current) return;
  const error = $("#command-error");
  const inputs = [...document.querySelectorAll("#command-options [name]")];
  const bad = inputs.find((i) => !i.checkValidity());
  if (bad) {
    error.textContent = `Discord would not send this: ${bad.name}: ${bad.validationMessage}`;
    return;
  }
  const form = new FormData();
  form.append("user", S.me);
  form.append("channel", S.channel);
  form.append("name", current.path);
  form.append("options", JSON.stringify(values()));
  for (const input of inputs) {
    if (input.type === "file" && input.files.length) {
      form.append(`option:${input.name}`, input.files[0]);
    }
  }
  const button = $("#run-command");
  button.disabled = true;
  try {
    await postForm("/api/command", form);
    closeForm();
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

export function setupCommands(onError) {
  report = onError;
  $("#open-commands").onclick = () => ($("#palette").hidden ? showPalette() : hidePalette());
  $("#close-command").onclick = closeForm;
  $("#command-form").addEventListener("submit", run);
}
