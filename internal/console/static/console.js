// osccr console: redraws a page's live regions from its JSON endpoint (data-live on <main>),
// without reloading. A region is replaced only when its HTML changed, so focus and selection
// survive a poll. A change of the service's role (a promotion) reloads the page; a service
// that is gone goes back to the list.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  if (!main) return;
  var url = main.getAttribute("data-live");
  var role = main.getAttribute("data-role") || "";
  var every = parseInt(main.getAttribute("data-poll"), 10) || 2000;
  var last = {};
  var n = 0;

  function poll() {
    n++;
    // The per-index table asks the follower cluster: every third poll is enough.
    var u = url + (n % 3 === 0 ? "?indexes=1" : "");
    fetch(u, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (res) {
        if (res.status === 401) { window.location.href = "/signin?next=" + encodeURIComponent(window.location.pathname); return null; }
        if (res.status === 404) { window.location.href = "/"; return null; }
        if (!res.ok) return null;
        return res.json();
      })
      .then(function (data) {
        if (!data) return;
        if (role && data.role && data.role !== role) { window.location.reload(); return; }
        var html = data.html || {};
        Object.keys(html).forEach(function (id) {
          var el = document.getElementById(id);
          if (el && last[id] !== html[id]) { el.innerHTML = html[id]; last[id] = html[id]; }
        });
        main.setAttribute("data-updated", String(Date.now()));
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, n === 0 ? Math.min(every, 1000) : every);
})();
