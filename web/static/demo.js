// Text size buttons of the demo article page (XS to LG), as news sites offer.
(function () {
  "use strict";
  var sizes = ["xs", "sm", "md", "lg"];
  var buttons = document.querySelectorAll(".textsize button");
  function apply(size) {
    sizes.forEach(function (s) { document.documentElement.classList.toggle("text-" + s, s === size); });
    buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.size === size)); });
    try { localStorage.setItem("demo-text-size", size); } catch (e) { /* private mode */ }
  }
  buttons.forEach(function (b) { b.addEventListener("click", function () { apply(b.dataset.size); }); });
  var saved = null;
  try { saved = localStorage.getItem("demo-text-size"); } catch (e) { /* private mode */ }
  apply(sizes.indexOf(saved) >= 0 ? saved : "md");
})();
