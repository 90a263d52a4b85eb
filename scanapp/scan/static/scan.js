/* Stamp page: get a location fix within 1.5 s (or none), POST the scan, paint the verdict. */
(function () {
  "use strict";
  var root = document.getElementById("scan");
  if (!root || root.getAttribute("data-serial") !== "1" || root.getAttribute("data-done")) return;
  var T = JSON.parse(document.getElementById("scan-text").textContent);
  var lang = root.getAttribute("data-lang");
  var code = root.getAttribute("data-code");
  var WAIT_MS = 1500;

  function deviceId() {
    var key = "scanapp.device", id = null;
    try { id = localStorage.getItem(key); } catch (e) { /* private mode */ }
    if (!id) {
      var bytes = new Uint8Array(16);
      (window.crypto || window.msCrypto).getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      try { localStorage.setItem(key, id); } catch (e) { /* keep for this page only */ }
    }
    return id;
  }
  var device = deviceId();

  function $(id) { return document.getElementById(id); }
  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k] == null ? "" : values[k]; });
  }
  function when(iso) {
    try {
      return new Date(iso).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB",
        { timeZone: "Asia/Ho_Chi_Minh", dateStyle: "medium", timeStyle: "short" });
    } catch (e) { return iso; }
  }

  function place(id, template, p) {
    if (!p) return;
    var name = lang === "vi" ? p.province_name : p.province_name_en;
    $(id).textContent = fmt(template, {
      at: when(p.at), where: name ? fmt(T.first_where, { province: name }) : "" });
  }

  function paint(r) {
    var v = T.verdicts[r.verdict] || T.verdicts.counterfeit;
    var box = $("verdict");
    box.className = "v v-" + r.verdict;
    box.setAttribute("data-verdict", r.verdict);
    $("verdict-icon").textContent = v[0];
    $("verdict-title").textContent = v[1];
    $("verdict-detail").textContent = v[2];
    if (r.scan_count != null) {
      $("counts").hidden = false;
      $("scan-no").textContent = fmt(T.scan_no, { n: r.scan_count });
      place("first-scan", T.first_scan, r.first_scan);
      place("last-scan", T.last_scan, r.last_scan);
      if (r.device_count > 1) $("devices").textContent = fmt(T.devices, { n: r.device_count });
      var notes = [];
      if (r.repeat) notes.push(T.repeat);
      if (r.degraded) notes.push(T.degraded);
      $("note").textContent = notes.join(" ");
    }
  }

  function fail() {
    $("verdict-title").textContent = T.error;
    $("verdict-detail").textContent = "";
  }

  function post(url, body, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.timeout = 15000;
    xhr.onload = function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      done(xhr.status === 200 ? data : null, data);
    };
    xhr.onerror = xhr.ontimeout = function () { done(null, null); };
    xhr.send(JSON.stringify(body));
  }

  var sent = false;
  function send(position) {
    if (sent) return;
    sent = true;
    var body = { code: code, device_id: device, source: "consumer" };
    if (position && position.coords) {
      body.lat = position.coords.latitude;
      body.lon = position.coords.longitude;
      if (position.coords.accuracy != null) body.accuracy_m = Math.min(position.coords.accuracy, 1000000);
    }
    post(root.getAttribute("data-api"), body, function (r) { if (r) paint(r); else fail(); });
  }

  var timer = setTimeout(function () { send(null); }, WAIT_MS);
  if (navigator.geolocation) {
    navigator.geolocation.getCurrentPosition(
      function (pos) { clearTimeout(timer); send(pos); },
      function () { clearTimeout(timer); send(null); },
      { enableHighAccuracy: false, timeout: WAIT_MS - 100, maximumAge: 600000 });
  } else {
    clearTimeout(timer);
    send(null);
  }

  var form = $("pin-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var out = $("pin-result");
      post(root.getAttribute("data-pin-api"), { code: code, pin: $("pin").value, device_id: device },
        function (r, err) {
          if (r) { out.textContent = T.pin[r.result] || r.result; out.setAttribute("data-result", r.result); }
          else { out.textContent = (err && err.message) || T.error; }
        });
    });
  }
})();
