"use strict";
(function () {
  function text(id) { var el = document.getElementById(id); return el ? el.textContent : null; }
  function download(id, name) {
    var data = text(id);
    if (data === null) { return; }
    var url = URL.createObjectURL(new Blob([data], { type: "application/json" }));
    var a = document.createElement("a");
    a.href = url; a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }
  var report = JSON.parse(text("unwedge-report") || "{}");
  var stem = "unwedge-" + String(report.host || "host").replace(/[^A-Za-z0-9_.-]/g, "_") + "-" + String(report.taken_at || "").replace(/[^0-9TZ]/g, "");
  function on(id, f) { var el = document.getElementById(id); if (el) { el.addEventListener("click", f); } }
  on("dl-report", function () { download("unwedge-report", stem + ".json"); });
  on("dl-snapshot", function () { download("unwedge-snapshot", stem + "-snapshots.json"); });
  on("print", function () { window.print(); });
  var open = true;
  on("toggle", function () {
    open = !open;
    document.querySelectorAll("main details").forEach(function (d) { d.open = open; });
    this.textContent = open ? "Collapse details" : "Expand details";
  });
  // Printing shows everything, whatever was collapsed on screen.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  document.documentElement.setAttribute("data-js", "ok");
})();
