// The demo page: a chat over a WebSocket (/chat) and a ticker over Server-Sent Events
// (/ticker). Plain browser JavaScript, no build step.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const nameInput = $("name");
  const messages = $("messages");
  const composer = $("composer");
  const textInput = $("text");
  const sendButton = $("send");
  const chatStatus = $("status");
  const errorLine = $("error");

  function setStatus(element, state, text) {
    element.dataset.state = state;
    element.textContent = text;
  }

  function formatTime(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString();
  }

  // -- the name: remembered in this browser, a guest name to begin with ----------------

  const NAME_KEY = "pagesfn-realtime-name";
  nameInput.value =
    localStorage.getItem(NAME_KEY) || `guest-${Math.floor(1000 + Math.random() * 9000)}`;
  nameInput.addEventListener("change", () => {
    const name = nameInput.value.trim();
    if (name) localStorage.setItem(NAME_KEY, name);
  });
  const currentName = () => nameInput.value.trim() || "guest";

  // -- the message list -----------------------------------------------------------------

  function append(item) {
    // Keep the list pinned to the bottom unless the reader has scrolled up.
    const pinned = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    messages.append(item);
    if (pinned) messages.scrollTop = messages.scrollHeight;
  }

  function showMessage({ name, text, time }) {
    const item = document.createElement("li");
    item.className = "message";
    if (name === currentName()) item.classList.add("mine");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = name;
    const when = document.createElement("time");
    when.dateTime = time;
    when.textContent = formatTime(time);
    const body = document.createElement("p");
    body.className = "text";
    body.textContent = text; // textContent, never innerHTML: messages are untrusted
    item.append(who, when, body);
    append(item);
  }

  function showNotice(text, time) {
    const item = document.createElement("li");
    item.className = "notice";
    item.textContent = time ? `${text} · ${formatTime(time)}` : text;
    append(item);
  }

  let errorTimer = null;
  function showError(text) {
    errorLine.textContent = text;
    errorLine.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => (errorLine.hidden = true), 5000);
  }

  // -- the WebSocket, reconnected with backoff when it drops ------------------------------

  let socket = null;
  let attempts = 0;
  let retryTimer = null;

  function connect() {
    clearTimeout(retryTimer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/chat?name=${encodeURIComponent(currentName())}`;
    setStatus(chatStatus, "connecting", attempts ? "reconnecting…" : "connecting…");
    const ws = new WebSocket(url);
    socket = ws;

    ws.addEventListener("open", () => {
      attempts = 0;
      sendButton.disabled = false;
      setStatus(chatStatus, "online", "connected");
    });
    ws.addEventListener("message", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      receive(data);
    });
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      socket = null;
      sendButton.disabled = true;
      // 0.5 s, 1 s, 2 s, ... up to 15 s, with jitter so that a restarted server is not
      // hit by every page at the same instant.
      const delay = Math.min(15000, 500 * 2 ** attempts) * (0.75 + Math.random() / 2);
      attempts += 1;
      setStatus(chatStatus, "offline", `offline · retrying in ${Math.ceil(delay / 1000)} s`);
      retryTimer = setTimeout(connect, delay);
    });
  }

  function receive(data) {
    switch (data.type) {
      case "history":
        messages.replaceChildren();
        data.messages.forEach(showMessage);
        break;
      case "join":
      case "leave":
        showNotice(`${data.name} ${data.type === "join" ? "joined" : "left"}`, data.time);
        setStatus(chatStatus, "online", `connected · ${data.online} online`);
        break;
      case "message":
        showMessage(data);
        break;
      case "error":
        showError(data.error);
        break;
    }
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textInput.value.trim();
    if (!text) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      showError("Not connected; the message was not sent.");
      return;
    }
    socket.send(JSON.stringify({ name: currentName(), text }));
    textInput.value = "";
    textInput.focus();
  });

  // Back online after the network dropped: reconnect now rather than at the next retry.
  window.addEventListener("online", () => {
    if (!socket) connect();
  });

  connect();

  // -- the ticker: EventSource reconnects by itself, sending Last-Event-ID ---------------

  const tickCount = $("tick-count");
  const tickTime = $("tick-time");
  const tickerStatus = $("ticker-status");
  const ticker = new EventSource("/ticker");

  ticker.addEventListener("open", () => setStatus(tickerStatus, "online", "live"));
  ticker.addEventListener("error", () => setStatus(tickerStatus, "offline", "reconnecting…"));
  ticker.addEventListener("tick", (event) => {
    const tick = JSON.parse(event.data);
    tickCount.textContent = tick.count;
    tickTime.dateTime = tick.time;
    tickTime.textContent = formatTime(tick.time);
  });
})();
