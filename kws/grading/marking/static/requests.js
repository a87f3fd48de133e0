// The queue of regrade requests on `kws mark`'s page (kws/grading/marking/requests_api.py).
// Keys: r opens and closes it; j/k the next and previous request; t types the reply; p types
// new points; m answers "the mark stands"; g answers with the points typed; Esc leaves a field
// or closes the queue. The students' reasons are set as text, never as HTML.
"use strict";

(() => {
  const TOKEN = document.querySelector('meta[name="kws-token"]').content;
  const TYPED = ["text", "number", "search"];
  const queue = { open: false, items: [], index: 0, replies: new Map(), sending: false };
  let panel = null;

  function made(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function build() {  // the panel, drawn once, hidden until r
    panel = made("aside", { id: "requests", role: "dialog", "aria-label": "regrade requests" });
    panel.hidden = true;
    const title = made("h2", {}, "Regrade requests ");
    title.append(made("span", { id: "request-count" }));
    const keys = made("p", { class: "keys" },
      "j/k next and previous · t reply · p new points · m keep the mark · g give the points · Esc close");
    const card = made("div", { id: "request-card" });
    card.append(
      made("div", { id: "request-head" }),
      made("blockquote", { id: "request-reason" }),
      made("textarea", { id: "request-reply", rows: "4", placeholder: "your reply, which the student reads (t)" }),
      made("input", { id: "request-points", type: "number", step: "0.5", placeholder: "new points (p)",
        "aria-label": "the points the question counts from now on" }),
      made("button", { id: "request-keep", type: "button" }, "keep the mark (m)"),
      made("button", { id: "request-give", type: "button" }, "give these points (g)"),
    );
    panel.append(title, keys, card, made("p", { id: "request-status", role: "status" }));
    document.body.append(panel);
    field("reply").addEventListener("input", () => {
      const shown = queue.items[queue.index];
      if (shown) queue.replies.set(idOf(shown), field("reply").value);
    });
    field("keep").addEventListener("click", () => send(true));
    field("give").addEventListener("click", () => send(false));
  }

  const field = (name) => document.getElementById(`request-${name}`);
  const idOf = (request) => `${request.alias}\n${request.question}`;

  function tell(text, ok) {
    field("status").textContent = text;
    field("status").className = ok ? "ok" : "";
  }

  function nameOf(alias) {  // the page's own choice: aliases unless names are shown
    const page = typeof state === "undefined" ? null : state;  // mark.js's
    return page && page.settings.names && page.names && page.names[alias] ? page.names[alias] : alias;
  }

  function draw() {
    const count = queue.items.length;
    field("count").textContent = count ? `${queue.index + 1} of ${count}` : "";
    panel.dataset.count = String(count);
    field("card").hidden = count === 0;
    if (count === 0) return;
    const request = queue.items[queue.index];
    const now = request.points === null || request.points === undefined
      ? "not marked yet" : `${request.points} of ${request.most}`;
    field("head").textContent = `${nameOf(request.alias)} · ${request.question} · now ${now}`;
    field("reason").textContent = request.reason;  // the student's text: inert
    field("reply").value = queue.replies.get(idOf(request)) || "";
    field("points").value = "";
  }

  async function load() {
    const response = await fetch("/api/requests");
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) { tell(data.error || "the requests cannot be read"); return; }
    show(data.requests);
  }

  function show(requests) {
    const before = queue.items[queue.index];
    queue.items = requests;
    const still = before ? requests.findIndex((r) => idOf(r) === idOf(before)) : -1;
    queue.index = Math.max(0, Math.min(still >= 0 ? still : queue.index, requests.length - 1));
    draw();
    if (!requests.length) tell("no open request", true);
  }

  async function send(keep) {
    const request = queue.items[queue.index];
    if (!request || queue.sending) return;
    const reply = field("reply").value.trim();
    const points = field("points").value.trim();
    if (!reply) { tell("write a reply first (t): the student reads it"); return; }
    if (!keep && points === "") { tell("type the new points first (p)"); return; }
    const body = { alias: request.alias, question: request.question, reply,
      grader: (document.getElementById("grader") || { value: "" }).value.trim() };
    if (keep) body.keep = true; else body.points = Number(points);
    queue.sending = true;
    panel.dataset.pending = "1";
    try {
      const response = await fetch("/api/requests/answer", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-KWS-Token": TOKEN },
        body: JSON.stringify(body),
      });
      const data = await response.json().catch(() => ({ error: response.statusText }));
      if (!response.ok) { tell(data.error || response.statusText); return; }  // the reply stays
      queue.replies.delete(idOf(request));
      show(data.requests);
      tell(`answered ${nameOf(request.alias)} · ${request.question}` +
        (keep ? " (the mark stands)" : ` (now ${Number(points)})`) +
        (data.requests.length ? "" : "; no open request left"), true);
    } catch (error) {
      tell(`not sent (${error.message}): the reply stays here`);
    } finally {
      queue.sending = false;
      panel.dataset.pending = "0";
    }
  }

  function toggle() {
    queue.open = !queue.open;
    panel.hidden = !queue.open;
    if (queue.open) load();
  }

  // In the capture phase, before the page's own keys (mark.js): while the queue is open, the
  // marking keys do nothing behind it.
  function onKey(event) {
    const focused = document.activeElement;
    const typing = focused.tagName === "TEXTAREA" || (focused.tagName === "INPUT" && TYPED.includes(focused.type));
    if (typing) {
      if (panel.contains(focused) && (event.key === "Escape" || (event.key === "Enter" && focused.tagName === "INPUT"))) {
        focused.blur();
        event.preventDefault();
        event.stopImmediatePropagation();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (!queue.open) {
      if (event.key !== "r") return;
      toggle();
    } else if (event.key === "r" || event.key === "Escape") {
      toggle();
    } else if (["j", "ArrowDown", "ArrowRight"].includes(event.key)) {
      queue.index = Math.min(queue.index + 1, Math.max(queue.items.length - 1, 0));
      draw();
    } else if (["k", "ArrowUp", "ArrowLeft"].includes(event.key)) {
      queue.index = Math.max(queue.index - 1, 0);
      draw();
    } else if (event.key === "t") {
      field("reply").focus();
    } else if (event.key === "p") {
      field("points").focus();
    } else if (event.key === "m") {
      send(true);
    } else if (event.key === "g") {
      send(false);
    } else if (event.key === "Tab") {
      return;
    }
    if (focused.tagName === "SELECT") focused.blur();
    event.preventDefault();
    event.stopImmediatePropagation();
  }

  build();
  window.addEventListener("keydown", onKey, true);
})();
