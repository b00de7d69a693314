// Progressive enhancement only: the meeting page prints as it is from the browser's own menu. With this file, its
// "Udskriv" button appears and opens the print dialog.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-print]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { window.print(); });
  });
});
