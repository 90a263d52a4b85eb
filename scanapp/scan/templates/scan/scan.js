/* Record the scan once: a location fix within 1.5 s (or none), POST to this page, swap in
   the verdict the server renders. The verdict shown before is the code's standing. */
(function () {
  "use strict";
  var root = document.getElementById("scan");
  var data = JSON.parse(document.getElementById("scan-data").textContent);
  var WAIT_MS = 1500;
  function $(id) { return document.getElementById(id); }
  var device = null;
  try { device = localStorage.getItem("scanapp.device"); } catch (e) { /* private mode */ }
  if (!device) {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    device = Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
    try { localStorage.setItem("scanapp.device", device); } catch (e) { /* this page only */ }
  }
  var field = document.querySelector("#report-form [name=device_id]");
  if (field) field.value = device;

  function post(url, body, headers, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Content-Type", "application/json");
    for (var k in headers) xhr.setRequestHeader(k, headers[k]);
    xhr.timeout = 20000;
    xhr.onload = function () { done(xhr.status, xhr.responseText); };
    xhr.onerror = xhr.ontimeout = function () { done(0, ""); };
    xhr.send(JSON.stringify(body));
  }

  var sent = false;
  function send(pos) {
    if (sent) return;
    sent = true;
    var body = { device_id: device };
    if (pos && pos.coords) {
      body.lat = pos.coords.latitude;
      body.lon = pos.coords.longitude;
      if (pos.coords.accuracy != null) body.accuracy_m = Math.min(pos.coords.accuracy, 1000000);
    }
    post(data.post, body,
      { "Accept": "text/html", "X-Scan-Fragment": "1" }, function (status, html) {
        if (status !== 200 || !html) return; /* the standing shown stays; nothing lost */
        var box = $("result");
        if (box.innerHTML === html) return;
        var before = $("verdict").getAttribute("data-title");
        box.innerHTML = html;
        var after = $("verdict").getAttribute("data-title");
        /* The tab title starts with the verdict: keep it in step. */
        if (before && after && document.title.indexOf(before) === 0) {
          document.title = after + document.title.slice(before.length);
        }
      });
  }
  if (root.getAttribute("data-record")) {
    var timer = setTimeout(send, WAIT_MS);
    if (navigator.geolocation) {
      navigator.geolocation.getCurrentPosition(
        function (p) { clearTimeout(timer); send(p); },
        function () { clearTimeout(timer); send(null); },
        { enableHighAccuracy: false, timeout: WAIT_MS - 100, maximumAge: 600000 });
    } else { clearTimeout(timer); send(null); }
  }

  var photo = $("r-photo");
  if (photo) photo.addEventListener("change", function () {
    var big = photo.files[0] && photo.files[0].size > 8 * 1024 * 1024;
    photo.setCustomValidity(big ? photo.getAttribute("data-too-big") : "");
    if (big) photo.reportValidity();
  });

  var form = $("pin-form");
  if (form) form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var out = $("pin-result");
    post(form.getAttribute("data-api"), { code: data.code, pin: $("pin").value, device_id: device },
      { "Accept": "application/json" }, function (status, text) {
        var r = null;
        try { r = JSON.parse(text); } catch (e) { /* not JSON */ }
        if (status === 200 && r) {
          out.textContent = data.pin[r.result] || r.result;
          out.setAttribute("data-result", r.result);
        } else { out.textContent = (r && r.message) || data.pin.error; }
      });
  });
})();
