// Live pages: the element marked data-live is replaced by each "live"
// event the page's own address streams (server-sent events). Forms
// marked data-confirm ask first.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const live = document.querySelector("[data-live]");
  if (live && window.EventSource) {
    const events = new EventSource(location.pathname + location.search);
    events.addEventListener("live", (e) => {
      live.innerHTML = e.data;
      live.dataset.updated = String(Date.now());
    });
    events.addEventListener("signedout", () => {
      events.close();
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    });
  }
});
document.addEventListener("submit", (e) => {
  const ask = e.target.dataset && e.target.dataset.confirm;
  if (ask && !window.confirm(ask)) {
    e.preventDefault();
  }
});
