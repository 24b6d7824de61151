// govledger console: progressive enhancement only; every page works without it.
"use strict";

function startVerify(form) {
  const button = document.getElementById("verify-button");
  const box = document.getElementById("verify-progress");
  const bar = document.getElementById("verify-bar");
  const count = document.getElementById("verify-count");
  const out = document.getElementById("verify-result");
  const names = JSON.parse(out.dataset.breakNames || "{}");
  const statusUrl = form.dataset.statusUrl;

  function show(run) {
    if (!run) return;
    box.hidden = run.finished;
    bar.max = Math.max(run.total, 1);
    bar.value = run.done;
    count.textContent = `${run.done.toLocaleString()} / ${run.total.toLocaleString()} 条`;
    if (!run.finished) return;
    button.disabled = false;
    const r = run.result || {};
    const p = document.createElement("p");
    if (r.ok) {
      p.className = "ok";
      p.textContent = `校验通过：第 ${r.from_position} 至 ${r.head_position} 条（本次 ${r.count} 条）`;
      const verified = document.getElementById("verified-position");
      if (verified) verified.textContent = r.head_position.toLocaleString();
      const left = document.getElementById("unverified");
      if (left) left.textContent = "0";
    } else if (r.failure) {
      p.className = "error";
      p.textContent = `校验失败：第 ${r.failure.position} 条${names[r.failure.kind] || r.failure.kind}（${r.failure.detail}）`;
    } else {
      p.className = "error";
      p.textContent = `校验未完成：${r.error || "未知错误"}`;
    }
    out.replaceChildren(p);
  }

  async function poll() {
    const reply = await fetch(statusUrl, { headers: { Accept: "application/json" } });
    const run = await reply.json();
    show(run);
    if (run && !run.finished) setTimeout(poll, 300);
  }

  button.disabled = true;
  out.replaceChildren();
  fetch(form.action, {
    method: "POST",
    headers: { Accept: "application/json", "X-CSRF-Token": form.dataset.csrf },
  })
    .then((reply) => reply.json())
    .then((run) => { show(run); if (!run.finished) poll(); })
    .catch(() => { button.disabled = false; out.textContent = "无法启动校验"; });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("verify-form");
  if (form) {
    form.addEventListener("submit", (event) => { event.preventDefault(); startVerify(form); });
  }
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll("input.pick:not(:disabled)")) box.checked = all.checked;
    });
  }
});
