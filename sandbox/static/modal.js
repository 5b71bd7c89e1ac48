// A form (modal) the bot opened in answer to this member's interaction, as Discord shows it: its
// title, its fields (short or paragraph text inputs, string selects, each under its label, with
// the bot's placeholder, prefilled value and limits), Submit and Cancel. Submit sends what the
// fields hold, by name (the server builds the MODAL_SUBMIT from it, as Discord would); Cancel,
// like closing it on Discord, sends nothing. Text goes in as textContent or through markdown.js.

import { markdown } from "./markdown.js";
import { names } from "./state.js";

const TEXT_INPUT = 4;
const PARAGRAPH = 2;
const $ = (sel) => document.querySelector(sel);

function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

function textInput(c) {
  const input = node(c.style === PARAGRAPH ? "textarea" : "input");
  if (c.style !== PARAGRAPH) input.type = "text";
  input.value = c.value ?? "";
  if (c.placeholder) input.placeholder = c.placeholder;
  if (c.min_length !== undefined && c.min_length !== null) input.minLength = c.min_length;
  if (c.max_length !== undefined && c.max_length !== null) input.maxLength = c.max_length;
  input.required = c.required !== false; // Discord's default
  return input;
}

function stringSelect(c) {
  const select = node("select");
  const required = c.required !== false;
  select.multiple = (c.max_values ?? 1) > 1;
  select.required = required && (c.min_values ?? 1) > 0;
  const options = c.options || [];
  if (!select.multiple) {
    const none = node("option", "", c.placeholder || "Make a selection");
    none.value = "";
    none.disabled = select.required;
    none.selected = !options.some((o) => o.default);
    select.append(none);
  }
  for (const o of options) {
    const option = node("option", "", `${o.emoji?.name ? `${o.emoji.name} ` : ""}${o.label}`);
    option.value = o.value;
    option.selected = Boolean(o.default);
    if (o.description) option.title = o.description;
    select.append(option);
  }
  return select;
}

function fieldNode(item) {
  const box = node("label", "modal-field");
  box.dataset.field = item.name;
  const c = item.component;
  const input = c.type === TEXT_INPUT ? textInput(c) : stringSelect(c);
  const title = node("span", "modal-label", item.label || item.name);
  if (input.required) title.append(node("span", "req", "*"));
  box.append(title);
  if (item.description) box.append(node("span", "modal-desc", item.description));
  box.append(input);
  return { box, value: () => (c.type === TEXT_INPUT ? input.value
    : [...input.selectedOptions].map((o) => o.value).filter(Boolean)) };
}

export function closeModal() {
  $("#modal-layer").hidden = true;
  $("#modal-fields").replaceChildren();
  $("#modal-form").onsubmit = null;
}

// interaction: the interaction view (its `modal`: sandbox/forms.py modal_view);
// submit(interactionId, values) -> a promise that rejects with the reason it was refused.
export function openModal(interaction, submit) {
  const { modal } = interaction;
  const fields = [];
  const box = $("#modal-fields");
  box.replaceChildren();
  for (const item of modal.items) {
    if (item.kind === "field") {
      const field = fieldNode(item);
      fields.push([item.name, field.value]);
      box.append(field.box);
    } else if (item.kind === "text") {
      const text = node("div", "content modal-text");
      text.innerHTML = markdown(item.content, names()); // markdown() escapes the text first
      box.append(text);
    } else {
      box.append(node("div", "note", `(a field of type ${item.type} the sandbox cannot show)`));
    }
  }
  $("#modal-title").textContent = modal.title;
  $("#modal-error").textContent = "";
  const form = $("#modal-form");
  form.dataset.interaction = interaction.id;
  form.onsubmit = async (event) => {
    event.preventDefault();
    const invalid = form.querySelector(":invalid");
    if (invalid) {
      const name = invalid.closest(".modal-field")?.dataset.field || "";
      $("#modal-error").textContent = `${name}: ${invalid.validationMessage}`;
      invalid.focus();
      return;
    }
    try {
      await submit(interaction.id, Object.fromEntries(fields.map(([name, value]) => [name, value()])));
      closeModal();
    } catch (err) {
      $("#modal-error").textContent = err.message;
    }
  };
  $("#modal-layer").hidden = false;
  box.querySelector("input, textarea, select")?.focus();
}

export function setupModal() {
  $("#modal-cancel").onclick = closeModal;
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#modal-layer").hidden) closeModal();
  });
}
