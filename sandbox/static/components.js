// A message's components as Discord draws them: the classic rows of buttons and selects under
// the content, or, for a Components V2 message (no content, no embeds), the whole message as a
// tree of containers, sections, text, media galleries, thumbnails, files, separators and rows.
// Message data goes in as text (textContent) or through markdown.js, which escapes it; media and
// links come only from the message's attachments (served by this page) or http(s).

import { markdown } from "./markdown.js";
import { names } from "./state.js";

const STYLES = { 1: "primary", 2: "secondary", 3: "success", 4: "danger", 5: "link", 6: "premium" };
const ROW = 1;
const BUTTON = 2;
const STRING_SELECT = 3;
const SECTION = 9;
const TEXT_DISPLAY = 10;
const THUMBNAIL = 11;
const MEDIA_GALLERY = 12;
const FILE = 13;
const SEPARATOR = 14;
const CONTAINER = 17;

function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

// An attachment of this page, or an http(s) address; anything else (javascript:, data:) is "".
export function safeUrl(url) {
  if (typeof url !== "string" || !url) return "";
  if (url.startsWith("/attachments/")) return url;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : "";
  } catch {
    return "";
  }
}

// Hidden (blurred) until clicked, as Discord does; the click that reveals does nothing else.
function spoil(box) {
  box.classList.add("spoiler");
  box.append(node("span", "spoiler-tag", "SPOILER"));
  box.addEventListener("click", (event) => {
    if (!box.classList.contains("spoiler")) return;
    event.preventDefault();
    event.stopPropagation();
    box.classList.replace("spoiler", "revealed");
  }, { capture: true });
  return box;
}

function buttonNode(c, msg, actions) {
  const label = `${c.emoji?.name ? `${c.emoji.name} ` : ""}${c.label || ""}`.trim();
  const btn = node("button", `btn ${STYLES[c.style] || "secondary"}`, label);
  btn.type = "button";
  btn.disabled = Boolean(c.disabled);
  btn.dataset.customId = c.custom_id || "";
  if (c.style === 5) {
    const url = safeUrl(c.url);
    btn.title = url;
    btn.disabled ||= !url;
    btn.onclick = () => window.open(url, "_blank", "noopener");
  } else if (c.style === 6) {
    btn.disabled = true; // a premium (SKU) button: nothing to buy here
  } else {
    btn.onclick = () => actions.button(msg, c.custom_id);
  }
  return btn;
}

// A string select: one choice is sent when made; several when the menu is left, as Discord
// sends them when it closes.
function selectNode(c, msg, actions) {
  const select = node("select", "select");
  const multiple = (c.max_values ?? 1) > 1;
  select.multiple = multiple;
  select.disabled = Boolean(c.disabled);
  select.dataset.customId = c.custom_id || "";
  const options = c.options || [];
  if (!multiple) {
    const hint = node("option", "", c.placeholder || "Make a selection");
    hint.value = "";
    hint.disabled = true;
    hint.selected = !options.some((o) => o.default);
    select.append(hint);
  } else if (c.placeholder) {
    select.title = c.placeholder;
  }
  for (const o of options) {
    const option = node("option", "", `${o.emoji?.name ? `${o.emoji.name} ` : ""}${o.label}`);
    option.value = o.value;
    option.selected = Boolean(o.default);
    if (o.description) option.title = o.description;
    select.append(option);
  }
  const send = () => {
    const values = [...select.selectedOptions].map((o) => o.value).filter(Boolean);
    if (values.length >= (c.min_values ?? 1)) actions.select(msg, c.custom_id, values);
  };
  let changed = false;
  select.onchange = () => {
    if (multiple) changed = true;
    else send();
  };
  select.onblur = () => {
    if (changed) send();
    changed = false;
  };
  return select;
}

function rowNode(row, msg, actions) {
  const line = node("div", "row");
  for (const c of row.components || []) {
    if (c.type === BUTTON) line.append(buttonNode(c, msg, actions));
    else if (c.type === STRING_SELECT) line.append(selectNode(c, msg, actions));
    else line.append(unsupported(c));
  }
  return line;
}

function attachmentAt(msg, url) {
  return msg.attachments.find((a) => a.url === url);
}

// One picture or video (a gallery item, a thumbnail), from the message's attachments or http(s).
function mediaNode(media, description, spoiler, msg, cls) {
  const box = node("div", `media ${cls}`);
  const url = safeUrl(media?.url);
  if (!url) {
    box.classList.add("missing");
    box.textContent = "🖼 no such attachment";
    return box;
  }
  const att = attachmentAt(msg, url);
  const type = att?.content_type || media.content_type || "";
  let shown;
  if (type.startsWith("video/")) {
    shown = node("video");
    Object.assign(shown, { src: url, controls: true, loop: true, muted: true });
  } else {
    shown = node("img");
    shown.src = url;
    shown.alt = description || att?.filename || "image";
  }
  if (description) shown.title = description;
  box.append(shown);
  return spoiler ? spoil(box) : box;
}

function galleryNode(c, msg) {
  const items = (c.items || []).slice(0, 10); // Discord shows at most 10
  const grid = node("div", `gallery n${items.length}`);
  for (const item of items) {
    grid.append(mediaNode(item.media, item.description, item.spoiler, msg, "gallery-item"));
  }
  return grid;
}

function fileNode(c, msg) {
  const url = safeUrl(c.file?.url);
  const att = attachmentAt(msg, url);
  const box = node("div", "file");
  const name = att?.filename || c.name || "file";
  const link = node("a", "", `📄 ${name}`);
  if (url) {
    link.href = url;
    link.download = name;
  }
  box.append(link);
  if (att) box.append(node("small", "", ` ${(att.size / 1024).toFixed(0)} KiB`));
  return c.spoiler ? spoil(box) : box;
}

function sectionNode(c, msg, actions) {
  const section = node("div", "section");
  const texts = node("div", "section-text");
  for (const part of c.components || []) texts.append(componentNode(part, msg, actions));
  section.append(texts);
  const accessory = c.accessory;
  if (accessory?.type === BUTTON) section.append(buttonNode(accessory, msg, actions));
  else if (accessory?.type === THUMBNAIL) section.append(thumbnailNode(accessory, msg));
  else if (accessory) section.append(unsupported(accessory));
  return section;
}

function thumbnailNode(c, msg) {
  return mediaNode(c.media, c.description, c.spoiler, msg, "thumb");
}

function textNode(c) {
  const text = node("div", "content text-display");
  text.innerHTML = markdown(c.content || "", names()); // markdown() escapes the text first
  return text;
}

function separatorNode(c) {
  const sep = node("div", `separator spacing-${c.spacing === 2 ? "large" : "small"}`);
  if (c.divider !== false) sep.append(node("hr"));
  return sep;
}

function containerNode(c, msg, actions) {
  const box = node("div", "container");
  if (c.accent_color !== undefined && c.accent_color !== null) {
    box.classList.add("accent");
    box.style.borderLeftColor = `#${Number(c.accent_color).toString(16).padStart(6, "0")}`;
  }
  for (const part of c.components || []) box.append(componentNode(part, msg, actions));
  return c.spoiler ? spoil(box) : box;
}

function unsupported(c) {
  return node("div", "note", `(a component of type ${c.type} that the sandbox does not draw)`);
}

function componentNode(c, msg, actions) {
  switch (c.type) {
    case ROW: return rowNode(c, msg, actions);
    case BUTTON: return buttonNode(c, msg, actions);
    case STRING_SELECT: return selectNode(c, msg, actions);
    case SECTION: return sectionNode(c, msg, actions);
    case TEXT_DISPLAY: return textNode(c);
    case THUMBNAIL: return thumbnailNode(c, msg);
    case MEDIA_GALLERY: return galleryNode(c, msg);
    case FILE: return fileNode(c, msg);
    case SEPARATOR: return separatorNode(c);
    case CONTAINER: return containerNode(c, msg, actions);
    default: return unsupported(c);
  }
}

// The rows under a classic message's content, embeds and attachments.
export function classicComponents(msg, actions) {
  const box = node("div", "components");
  for (const row of msg.components) box.append(rowNode(row, msg, actions));
  return box;
}

// A Components V2 message: its components are all there is to it.
export function v2Components(msg, actions) {
  const box = node("div", "v2");
  for (const c of msg.components) box.append(componentNode(c, msg, actions));
  return box;
}
