// grange ui: live updates over Server-Sent Events, log paging, artifact previews.
// Served as a static file (the pages' Content-Security-Policy allows no inline script).
"use strict";
(function () {
  var main = document.getElementById("main");
  if (!main) return;

  // The log panes are swapped only when another attempt's logs replace them
  // (withLogs): otherwise the stream appends to them.
  function swapRegions(withLogs) {
    return fetch(location.href, { credentials: "same-origin", headers: { "X-Grange-Live": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (el) {
          var name = el.getAttribute("data-live");
          if (name === "logs" && !withLogs) return;
          var fresh = doc.querySelector('[data-live="' + name + '"]');
          if (fresh) el.replaceWith(document.importNode(fresh, true));
        });
      });
  }

  function appendLog(msg) {
    var pre = document.querySelector('pre[data-stream-name="' + msg.stream + '"]');
    if (!pre) return;
    var end = parseInt(pre.getAttribute("data-end"), 10);
    if (msg.start !== end) return; // a gap or an overlap: the next event realigns
    var stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(msg.text));
    pre.setAttribute("data-end", String(end + msg.length));
    var size = document.querySelector('[data-size="' + msg.stream + '"]');
    if (size) size.textContent = msg.size + " bytes";
    if (stick) pre.scrollTop = pre.scrollHeight;
  }

  function reloadCard(slot) {
    document.querySelectorAll('iframe[data-testid="card-frame"]').forEach(function (frame) {
      if (frame.getAttribute("data-slot") === slot) {
        var url = new URL(frame.getAttribute("src"), location.href);
        url.searchParams.set("t", String(Date.now()));
        frame.setAttribute("src", url.pathname + url.search);
      }
    });
  }

  var stream = main.getAttribute("data-stream");
  var indicator = document.querySelector(".live");
  var connections = 0;

  // One stream at a time; after an error it is opened again (in 3 s) with the log
  // offsets the page has now, and the page fetches itself once (what it missed).
  function connect() {
    var url = new URL(stream, location.href);
    document.querySelectorAll("pre[data-stream-name]").forEach(function (pre) {
      url.searchParams.set(pre.getAttribute("data-stream-name"), pre.getAttribute("data-end"));
    });
    var source = new EventSource(url.pathname + url.search);
    var again = connections > 0;
    connections += 1;
    source.addEventListener("open", function () {
      if (indicator) indicator.classList.add("on");
      if (again) swapRegions();
    });
    source.addEventListener("error", function () {
      if (indicator) indicator.classList.remove("on");
      source.close();
      setTimeout(connect, 3000);
    });
    source.addEventListener("changed", function (e) {
      var msg = JSON.parse(e.data);
      if (!msg.logs) { swapRegions(false); return; }
      // another attempt started: its logs replace the panes, and the stream starts
      // again from their ends, for that attempt
      source.close();
      swapRegions(true).then(function () {
        var url = new URL(stream, location.href);
        url.searchParams.set("shown", String(msg.attempt));
        url.searchParams.delete("d");
        stream = url.pathname + url.search;
        connect();
      });
    });
    source.addEventListener("log", function (e) { appendLog(JSON.parse(e.data)); });
    source.addEventListener("card", function (e) { reloadCard(JSON.parse(e.data).slot); });
    source.addEventListener("end", function () {
      source.close();
      if (indicator) indicator.classList.remove("on");
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }
  if (stream && window.EventSource) connect();

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement)) return;
    if (target.matches("button.more")) {
      var name = target.getAttribute("data-more");
      var start = parseInt(target.getAttribute("data-start"), 10);
      var length = Math.min(start, 262144);
      var pre = document.querySelector('pre[data-stream-name="' + name + '"]');
      var api = new URL(main.getAttribute("data-logs") + "/" + name, location.href);
      api.searchParams.set("start", String(start - length));
      api.searchParams.set("length", String(length));
      var region = document.querySelector('[data-live="logs"]');
      var attempt = (region || main).getAttribute("data-attempt");
      if (attempt) api.searchParams.set("attempt", attempt);
      fetch(api.pathname + api.search, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (msg) {
          pre.insertBefore(document.createTextNode(msg.text), pre.firstChild);
          pre.setAttribute("data-start", String(msg.start));
          target.setAttribute("data-start", String(msg.start));
          if (msg.start <= 0) target.remove();
          else target.textContent = "load earlier output (" + msg.start + " bytes)";
        });
    } else if (target.matches("button.preview")) {
      var frame = document.querySelector("iframe.preview-frame");
      if (frame) {
        frame.hidden = false;
        frame.setAttribute("src", target.getAttribute("data-preview"));
      }
    }
  });
})();
