// Progressive enhancement of the proposal form (web/templates/initiatives-new.html): as amounts are typed, the
// overview of budget and tranches per source is recomputed in the browser. The server computes the same figures at
// every round trip and the rules decide on submit; without this file the form works the same.
(function () {
  "use strict";
  // Kroner, Danish format, to øre as an integer (no float): "1.234.567,50" -> 123456750; blank -> 0; null if malformed.
  function ore(text) {
    var s = text.replace(/[\s\u00a0]/g, "").replace(/kr\.?$/, "");
    if (s === "") return 0;
    var m = /^(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?$/.exec(s);
    if (!m) return null;
    var kr = m[1].replace(/\./g, "");
    if (kr.length > 13) return null;
    var frac = (m[2] || "") + "00";
    return Number(kr) * 100 + Number(frac.slice(0, 2));
  }
  function kr(o) {
    var whole = String(Math.floor(o / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
    var rest = o % 100;
    return whole + (rest ? "," + (rest < 10 ? "0" : "") + rest : "") + " kr.";
  }
  function update(form) {
    form.querySelectorAll("tr[data-source]").forEach(function (row) {
      var id = row.getAttribute("data-source");
      var bad = false, budget = 0, sum = 0;
      form.querySelectorAll("input[data-budget]").forEach(function (el) {
        if (el.getAttribute("data-budget") !== id) return;
        var v = ore(el.value);
        if (v === null) bad = true; else budget += v;
      });
      form.querySelectorAll("input[data-tranche]").forEach(function (el) {
        if (el.getAttribute("data-tranche") !== id) return;
        var v = ore(el.value);
        if (v === null) bad = true; else sum += v;
      });
      row.querySelector("[data-sum=budget]").textContent = kr(budget);
      row.querySelector("[data-sum=tranches]").textContent = kr(sum);
      var status = row.querySelector("[data-sum=status]");
      if (status.querySelector(".form-error-message")) return; // the server's message stays until the next submit
      status.textContent = bad ? "Et beløb kan ikke læses" : (budget !== sum ? "Raterne giver ikke budgettet" : "Stemmer");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.proposal-form");
    if (!form) return;
    form.addEventListener("input", function (e) {
      if (e.target.matches("input[data-budget], input[data-tranche]")) update(form);
    });
  });
})();
