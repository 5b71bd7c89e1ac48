// Calls to the sandbox server: each action a member can take becomes what Discord would send.

async function answer(resp) {
  let data = {};
  try {
    data = await resp.json();
  } catch {
    data = {};
  }
  if (!resp.ok) throw new Error(data.error || `${resp.status} ${resp.statusText}`);
  return data;
}

export async function postJson(path, body) {
  const resp = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return answer(resp);
}

export async function postForm(path, form) {
  return answer(await fetch(path, { method: "POST", body: form }));
}
