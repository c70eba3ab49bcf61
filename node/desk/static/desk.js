// The desk's one script, served by the desk itself (never by a node). Every page works
// without it; it adds keyboard shortcuts, saved views and the review page's live preview.
"use strict";
(function () {
  const csrf = document.body.dataset.csrf;
  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

  // The queue: j/k or arrows move, Enter or o opens, x ticks, / searches.
  const rows = Array.from(document.querySelectorAll("#queue tr.row"));
  let current = -1;
  function select(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, n) => r.classList.toggle("current", n === current));
    rows[current].querySelector("a.open").focus();
  }

  // Saved views: the queue's query, kept in this browser only; never a report's text.
  const views = document.getElementById("views");
  const KEY = "banscan-desk-views";
  function savedViews() {
    try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }
  function showViews() {
    const list = document.getElementById("view-list");
    list.replaceChildren();
    savedViews().forEach((v, n) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/" + v.query;
      a.textContent = v.name;
      const drop = document.createElement("button");
      drop.type = "button";
      drop.className = "secondary";
      drop.textContent = "×";
      drop.setAttribute("aria-label", "× " + v.name);
      drop.addEventListener("click", () => {
        const all = savedViews();
        all.splice(n, 1);
        localStorage.setItem(KEY, JSON.stringify(all));
        showViews();
      });
      li.append(a, " ", drop);
      list.append(li);
    });
  }
  if (views) {
    views.hidden = false;
    showViews();
    document.getElementById("view-save").addEventListener("click", () => {
      const name = document.getElementById("view-name").value.trim();
      if (!name) return;
      const query = new URLSearchParams(location.search);
      query.delete("q"); // a search is words from reports: not kept
      const all = savedViews().filter((v) => v.name !== name);
      all.push({ name: name, query: "?" + query.toString() });
      localStorage.setItem(KEY, JSON.stringify(all));
      showViews();
    });
  }

  // The review page: the live preview, rendered by the desk from the draft as typed.
  const draft = document.getElementById("draft");
  let timer = null;
  async function refresh() {
    const body = new URLSearchParams(new FormData(draft));
    const answer = await fetch(draft.dataset.preview, {
      method: "POST", body: body, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin",
    });
    if (!answer.ok) return;
    const parts = await answer.json();
    document.getElementById("preview-signed").innerHTML = parts.signed;
    const frame = document.getElementById("preview-public");  // the site's own markup, redrawn
    frame.src = frame.src.split("?")[0] + "?v=" + Date.now();
    const diff = document.getElementById("preview-diff");
    if (diff) diff.innerHTML = parts.diff;
    document.querySelectorAll(".tag.unreviewed").forEach((tag) => {
      tag.hidden = !parts.unreviewed.includes(tag.id.replace("mark-", ""));
    });
  }
  if (draft) {
    draft.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 250); });
    draft.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(refresh, 50); });
    const audience = document.getElementById("f-audience");
    audience.addEventListener("change", () => {
      document.getElementById("audience-warning").hidden = audience.value === "public";
    });
  }

  // Keys: in the queue j/k/o/x, on a report p r a d n h, everywhere u (back) and ? (help).
  const focusOn = (id) => { const el = document.getElementById(id); if (el) { el.focus(); return true; } return false; };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const k = event.key;
    let handled = true;
    if (rows.length && (k === "j" || k === "ArrowDown")) select(current + 1);
    else if (rows.length && (k === "k" || k === "ArrowUp")) select(current - 1);
    else if (rows.length && (k === "o" || k === "Enter") && current >= 0) location.href = rows[current].dataset.href;
    else if (rows.length && k === "x" && current >= 0) { const box = rows[current].querySelector("input"); box.checked = !box.checked; }
    else if (k === "/") handled = focusOn("q");
    else if (k === "p") handled = focusOn("publish");
    else if (k === "r") handled = focusOn("reject-reason");
    else if (k === "a") handled = focusOn("question");
    else if (k === "d") handled = focusOn("dup-of");
    else if (k === "n") handled = focusOn("note");
    else if (k === "e") handled = focusOn(draft ? draft.querySelector("input[type=text],textarea").id : "");
    else if (k === "h") { const l = document.getElementById("history-link"); if (l) location.href = l.href; else handled = false; }
    else if (k === "u") location.href = "/";
    else handled = false;
    if (handled) event.preventDefault();
  });
})();
