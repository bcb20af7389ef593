// The call page: click a line to play the recording from it; the line being played is highlighted.
(function () {
  "use strict";
  function ready() {
    var player = document.getElementById("player");
    if (!player) { return; }
    var lines = Array.prototype.slice.call(document.querySelectorAll("tr.line"));
    lines.forEach(function (row) {
      var button = row.querySelector("button.play");
      if (!button) { return; }
      button.addEventListener("click", function () {
        player.currentTime = parseFloat(row.dataset.start);
        var playing = player.play();
        if (playing && playing.catch) { playing.catch(function () {}); }
      });
    });
    var current = null;
    player.addEventListener("timeupdate", function () {
      var t = player.currentTime, found = null;
      for (var i = 0; i < lines.length; i++) {
        if (t >= parseFloat(lines[i].dataset.start) && t < parseFloat(lines[i].dataset.end)) { found = lines[i]; }
      }
      if (found !== current) {
        if (current) { current.classList.remove("playing"); }
        if (found) { found.classList.add("playing"); }
        current = found;
      }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
}());
