// Inspectors' workspace: small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Filter selects apply at once (the Filter button remains for keyboards and old tablets).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // Hovering or tapping a timeline row highlights its point on the map, and back.
  function highlight(n, on) {
    document.querySelectorAll('[data-scan="' + n + '"]').forEach(function (el) {
      el.classList.toggle("active", on);
    });
  }
  document.querySelectorAll("[data-scan]").forEach(function (el) {
    var n = el.getAttribute("data-scan");
    el.addEventListener("mouseenter", function () { highlight(n, true); });
    el.addEventListener("mouseleave", function () { highlight(n, false); });
  });
  // Deciding a case is not undone lightly: ask before a closing status, in the page's
  // language (the option carries its own question).
  var form = document.querySelector("form.case-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      var select = form.querySelector("select[name=status]");
      var option = select.options[select.selectedIndex];
      var question = option && option.getAttribute("data-confirm");
      if (question && !window.confirm(question)) {
        event.preventDefault();
      }
    });
  }
})();
