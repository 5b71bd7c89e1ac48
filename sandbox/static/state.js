// What the page knows, all of it from the local Discord (via the server's event stream).

export const S = {
  world: { guild: {}, channels: [], roles: [], members: [] },
  personas: [],
  me: null, // the persona (member id) the page acts as
  channel: null, // the channel shown
  bot: {},
  commands: [],
  messages: new Map(), // id -> message view
  interactions: new Map(), // id -> interaction view
  notices: [],
  models: { available: [], missing: [] },
  limits: {},
};

const PERMISSION_NAMES = [[8n, "Administrator"], [32n, "Manage Server"], [16n, "Manage Channels"],
  [8192n, "Manage Messages"], [268435456n, "Manage Roles"]];

export function names() {
  const users = new Map(S.world.members.map((m) => [m.id, m.name]));
  const roles = new Map(S.world.roles.map((r) => [r.id, r.name]));
  const channels = new Map(S.world.channels.map((c) => [c.id, c.name]));
  return { users, roles, channels };
}

export function member(id) {
  return S.world.members.find((m) => m.id === id);
}

export function userName(id) {
  return member(id)?.name || "someone";
}

export function permissionNames(bits) {
  const want = BigInt(bits);
  const named = PERMISSION_NAMES.filter(([bit]) => want & bit).map(([, name]) => name);
  return named.length ? named.join(", ") : `permissions ${want}`;
}

// Discord hides a command from members who lack its default_member_permissions.
export function missingPermissions(command) {
  const needed = command.default_member_permissions;
  if (needed === null || needed === undefined || needed === "") return null;
  const have = BigInt(member(S.me)?.permissions || "0");
  const want = BigInt(needed);
  if ((have & 8n) === 8n || (have & want) === want) return null;
  return permissionNames(want);
}

export function visible(msg) {
  if (msg.channel_id !== S.channel) return false;
  return !msg.ephemeral || !msg.interaction || msg.interaction.user_id === S.me;
}

export function noticesFor(msg) {
  const iid = msg.interaction?.id;
  return S.notices.filter((n) => (iid && n.interaction_id === iid) || n.message_id === msg.id);
}

export function byId(a, b) {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
