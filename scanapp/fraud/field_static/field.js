// Field pages: the phone's position into the form (the fields stay editable: typing works
// without this script, without a position, and when the phone refuses).
(function () {
  "use strict";
  document.querySelectorAll("[data-locate]").forEach(function (button) {
    var form = button.form;
    var status = form.querySelector("[data-locate-status]");
    function say(text) { if (status) { status.textContent = text; } }
    function locate(quiet) {
      if (!navigator.geolocation) { say(button.getAttribute("data-failed")); return; }
      if (!quiet) { say(button.getAttribute("data-busy")); }
      navigator.geolocation.getCurrentPosition(function (pos) {
        form.querySelector("input[name=lat]").value = pos.coords.latitude.toFixed(6);
        form.querySelector("input[name=lon]").value = pos.coords.longitude.toFixed(6);
        var acc = form.querySelector("input[name=accuracy_m]");
        if (acc) { acc.value = Math.round(pos.coords.accuracy); }
        say(button.getAttribute("data-done").replace("{m}", Math.round(pos.coords.accuracy)));
      }, function () {
        if (!quiet) { say(button.getAttribute("data-failed")); }
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    }
    button.hidden = false;
    button.addEventListener("click", function () { locate(false); });
    // Ask once on load when the fields are empty: the inspector is standing at the place.
    if (!form.querySelector("input[name=lat]").value) { locate(true); }
  });
})();
