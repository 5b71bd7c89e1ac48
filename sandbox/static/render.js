// One message as Discord shows it: author, content, images, embeds, buttons, reactions (or, for a
// Components V2 message, its component tree: components.js); plus what
// the sandbox adds: who used which command, how fast the bot answered, the message's progress
// edits, and the rules it ran into.

import { classicComponents, v2Components } from "./components.js";
import { escapeHtml, markdown } from "./markdown.js";
import { S, names, noticesFor, userName } from "./state.js";

function el(tag, cls, html) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (html !== undefined) node.innerHTML = html;
  return node;
}

function seconds(s) {
  return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
}

// "↳ Alice used /dream · answered in 0.01 s · expire token"
function contextLine(msg, actions) {
  const meta = msg.interaction;
  const rec = S.interactions.get(meta.id);
  const who = `<b>${escapeHtml(userName(meta.user_id))}</b>`;
  let what = meta.kind === "modal" ? "submitted a form" : "pressed a button";
  if (meta.name && meta.command_type === 1) {
    what = `used <code>/${escapeHtml(rec?.name || meta.name)}</code>`;
  } else if (meta.name) {
    what = `used <code>${escapeHtml(meta.name)}</code>`;
  }
  const line = el("div", "context", `↳ ${who} ${what}`);
  if (rec) {
    const limit = S.limits.ack_deadline || 3;
    let ack = el("span", "ack warn", " · waiting for the bot's answer");
    if (rec.acknowledged) {
      const took = rec.ack_latency;
      const level = took > limit ? "error" : took > (limit * 2) / 3 ? "warn" : "ok";
      ack = el("span", `ack ${level}`, ` · answered in ${seconds(took)} (${rec.callback})`);
      ack.title = `Discord allows ${limit} s to answer or defer`;
    }
    line.append(ack);
    if (rec.expired) {
      line.append(el("span", "ack warn", " · token expired"));
    } else {
      const expire = el("button", "linkish expire", " · ⏱ expire token");
      expire.type = "button";
      expire.title = "Fast-forward past Discord's 15-minute interaction token";
      expire.onclick = () => actions.expire(meta.id);
      line.append(expire);
    }
  }
  return line;
}

function embedNode(embed) {
  const box = el("div", "embed");
  if (embed.color !== undefined && embed.color !== null) {
    box.style.borderLeftColor = `#${Number(embed.color).toString(16).padStart(6, "0")}`;
  }
  const main = el("div", "embed-main");
  const n = names();
  if (embed.title) main.append(el("div", "embed-title", escapeHtml(embed.title)));
  if (embed.description) {
    main.append(el("div", "embed-desc content", markdown(embed.description, n)));
  }
  if (embed.fields?.length) {
    const fields = el("div", "embed-fields");
    for (const f of embed.fields) {
      const field = el("div", f.inline ? "field inline" : "field");
      field.append(el("div", "fname", escapeHtml(f.name)));
      field.append(el("div", "fvalue", markdown(f.value, n)));
      fields.append(field);
    }
    main.append(fields);
  }
  if (embed.image?.url) {
    const img = el("img", "embed-image");
    img.src = embed.image.url;
    img.alt = "embed image";
    main.append(img);
  }
  if (embed.footer?.text) main.append(el("div", "embed-footer", escapeHtml(embed.footer.text)));
  box.append(main);
  if (embed.thumbnail?.url) {
    const thumb = el("img", "embed-thumb");
    thumb.src = embed.thumbnail.url;
    thumb.alt = "thumbnail";
    box.append(thumb);
  }
  return box;
}

function attachmentsNode(msg) {
  const shown = new Set(msg.embeds.flatMap((e) => [e.image?.url, e.thumbnail?.url]));
  const box = el("div", "attachments");
  for (const a of msg.attachments) {
    if (shown.has(a.url)) continue; // an embed shows it (image or thumbnail), as in Discord
    if (a.content_type.startsWith("image/")) {
      const img = el("img");
      img.src = a.url;
      img.alt = a.filename;
      img.title = `${a.filename} · ${(a.size / 1024).toFixed(0)} KiB`;
      box.append(img);
    } else if (a.content_type.startsWith("video/")) {
      const video = el("video");
      Object.assign(video, { src: a.url, controls: true, loop: true, muted: true });
      video.title = `${a.filename} · ${(a.size / 1024).toFixed(0)} KiB`;
      box.append(video);
    } else {
      box.append(el("span", "file", `📄 ${escapeHtml(a.filename)} (${a.size} bytes)`));
    }
  }
  return box;
}

function reactionsNode(msg, actions) {
  const box = el("div", "reactions");
  for (const r of msg.reactions) {
    const mine = r.users.includes(S.me);
    const label = `${escapeHtml(r.emoji)} ${r.count}`;
    const chip = el("button", mine ? "reaction mine" : "reaction", label);
    chip.type = "button";
    chip.title = r.users.map(userName).join(", ");
    chip.onclick = () => actions.react(msg, r.emoji);
    box.append(chip);
  }
  return box;
}

function historyNode(msg) {
  const box = el("details", "history");
  box.append(el("summary", "", `${msg.history.length} versions (the bot's edits)`));
  const list = el("ol");
  for (const v of msg.history) {
    const files = v.files.length ? ` [${v.files.join(", ")}]` : "";
    list.append(el("li", "", escapeHtml((v.content || "(no text)") + files)));
  }
  box.append(list);
  return box;
}

function actionsNode(msg, actions) {
  const bar = el("div", "actions");
  const spiral = el("button", "react-spiral", "🌀");
  spiral.type = "button";
  spiral.title = "React with 🌀";
  spiral.onclick = () => actions.react(msg, "🌀");
  const apps = el("button", "apps", "Apps ▾");
  apps.type = "button";
  apps.title = "Message commands (right-click → Apps in Discord)";
  apps.onclick = (event) => actions.appsMenu(msg, event.currentTarget.closest(".msg"));
  bar.append(spiral, apps);
  return bar;
}

export function renderMessage(msg, actions) {
  const node = el("article", "msg");
  node.dataset.id = msg.id;
  node.classList.toggle("bot", msg.author.bot);
  node.classList.toggle("ephemeral", msg.ephemeral);
  node.classList.toggle("loading", msg.loading);
  node.append(el("div", "avatar", escapeHtml(msg.author.name.slice(0, 1).toUpperCase())));
  const body = el("div", "body");
  if (msg.interaction) body.append(contextLine(msg, actions));
  if (msg.reply_to) {
    const target = S.messages.get(msg.reply_to);
    const about = target ? `${userName(target.author.id)}'s message` : "a deleted message";
    body.append(el("div", "context", `↱ replying to ${escapeHtml(about)}`));
  }
  const when = new Date(msg.timestamp).toLocaleTimeString([], { timeStyle: "short" });
  const head = el("header", "", `<span class="author">${escapeHtml(msg.author.name)}</span>`
    + (msg.author.bot ? '<span class="tag">APP</span>' : "") + `<time>${when}</time>`
    + (msg.edited ? '<span class="edited">(edited)</span>' : ""));
  body.append(head);
  if (msg.content && !msg.v2) body.append(el("div", "content", markdown(msg.content, names())));
  if (msg.loading) body.append(el("div", "thinking", `${escapeHtml(msg.author.name)} is thinking`));
  if (msg.v2) {
    // no content or embeds; attachments show only where a component places them, as on Discord
    body.append(v2Components(msg, actions));
  } else {
    if (msg.attachments.length) body.append(attachmentsNode(msg));
    for (const embed of msg.embeds) body.append(embedNode(embed));
    if (msg.components.length) body.append(classicComponents(msg, actions));
  }
  if (msg.reactions.length) body.append(reactionsNode(msg, actions));
  if (msg.history.length > 1) body.append(historyNode(msg));
  if (msg.ephemeral) body.append(el("div", "note ephemeral-note", "Only you can see this"));
  if (msg.hidden_from_bot) {
    body.append(el("div", "note warn",
      "The bot gets this message without its text and image: no Message Content intent."));
  }
  for (const n of noticesFor(msg)) body.append(el("div", `note ${n.level}`, escapeHtml(n.text)));
  node.append(body, actionsNode(msg, actions));
  return node;
}
