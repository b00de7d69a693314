// Progressive enhancement only: every page works without this file.
// Start Det Fælles Designsystem's components (accordions, alerts, navigation on small screens).
document.addEventListener("DOMContentLoaded", function () {
  if (window.DKFDS && typeof window.DKFDS.init === "function") {
    window.DKFDS.init();
  }
});
