// Live pages: regions marked data-live="SECONDS" are re-read from the server in place.
// Progressive enhancement: without JavaScript the pages work and a reload shows the same.
// A button pauses and resumes it (WCAG 2.2.2); nothing refreshes while the tab is hidden.
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-live]");
  if (!regions.length || !window.fetch || !window.DOMParser) { return; }
  var seconds = Math.max(1, parseInt(regions[0].getAttribute("data-live"), 10) || 30);
  var paused = false;
  var button = document.createElement("button");
  button.type = "button";
  button.className = "live-toggle";
  button.setAttribute("aria-pressed", "false");
  var labels = {
    pause: document.documentElement.getAttribute("data-live-pause") || "Pause auto-refresh",
    resume: document.documentElement.getAttribute("data-live-resume") || "Resume auto-refresh"
  };
  button.textContent = labels.pause;
  button.addEventListener("click", function () {
    paused = !paused;
    button.textContent = paused ? labels.resume : labels.pause;
    button.setAttribute("aria-pressed", paused ? "true" : "false");
  });
  regions[0].parentNode.insertBefore(button, regions[0]);

  function refresh() {
    if (paused || document.hidden) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        regions.forEach(function (region) {
          var next = fresh.getElementById(region.id);
          if (next && next.innerHTML !== region.innerHTML && !region.contains(document.activeElement)) {
            region.innerHTML = next.innerHTML;
          }
        });
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  window.setInterval(refresh, seconds * 1000);
})();
