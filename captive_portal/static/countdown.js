// Progressive enhancement: counts the time left down once a second (the page works without it).
(function () {
  var el = document.getElementById("left");
  if (!el) return;
  var end = Date.now() + 1000 * parseInt(el.dataset.seconds, 10);
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var s = Math.max(0, Math.round((end - Date.now()) / 1000));
    el.textContent = Math.floor(s / 3600) + ":" + pad(Math.floor(s % 3600 / 60)) + ":" + pad(s % 60);
    if (s === 0) { window.location.reload(); return; }
    window.setTimeout(tick, 1000);
  }
  tick();
})();
