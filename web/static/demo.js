// The demo article page: its own words in the language chosen with
// ?lang= (the widget follows the page's lang), and text size buttons (XS
// to LG), as news sites offer.
(function () {
  "use strict";
  var WORDS = {
    fr: { skip: "Aller à l\u2019article", sections: "Rubriques", world: "Monde", politics: "Politique", business: "Économie", sport: "Sport", culture: "Culture",
      language: "Langue", label: "Dernière minute", textSize: "Taille du texte", footer: "Page de démonstration servie par Flashwire. Les alertes de dernière minute s\u2019affichent dans le bandeau." },
    de: { skip: "Zum Artikel springen", sections: "Ressorts", world: "Welt", politics: "Politik", business: "Wirtschaft", sport: "Sport", culture: "Kultur",
      language: "Sprache", label: "Eilmeldung", textSize: "Schriftgröße", footer: "Eine Demoseite von Flashwire. Eilmeldungen erscheinen im Banner." },
    es: { skip: "Ir al artículo", sections: "Secciones", world: "Internacional", politics: "Política", business: "Economía", sport: "Deportes", culture: "Cultura",
      language: "Idioma", label: "Última hora", textSize: "Tamaño del texto", footer: "Página de demostración servida por Flashwire. Las alertas de última hora aparecen en el aviso." },
    ru: { skip: "Перейти к статье", sections: "Разделы", world: "В мире", politics: "Политика", business: "Экономика", sport: "Спорт", culture: "Культура",
      language: "Язык", label: "Срочно", textSize: "Размер текста", footer: "Демонстрационная страница Flashwire. Срочные новости появляются в баннере." },
    uk: { skip: "Перейти до статті", sections: "Розділи", world: "Світ", politics: "Політика", business: "Економіка", sport: "Спорт", culture: "Культура",
      language: "Мова", label: "Терміново", textSize: "Розмір тексту", footer: "Демонстраційна сторінка Flashwire. Термінові новини з\u2019являються в банері." },
    fa: { skip: "رفتن به متن خبر", sections: "بخش‌ها", world: "جهان", politics: "سیاست", business: "اقتصاد", sport: "ورزش", culture: "فرهنگ",
      language: "زبان", label: "خبر فوری", textSize: "اندازهٔ متن", footer: "صفحهٔ نمایشی Flashwire. هشدارهای خبر فوری در نوار بالای صفحه نمایش داده می‌شوند." }
  };
  var lang = new URLSearchParams(location.search).get("lang") || "en", words = WORDS[lang];
  if (words) {
    document.documentElement.lang = lang;
    document.documentElement.dir = /^(ar|fa|he|ur)$/.test(lang) ? "rtl" : "ltr";
    document.querySelectorAll("[data-t]").forEach(function (e) { e.textContent = words[e.dataset.t]; });
    document.querySelectorAll("[data-t-label]").forEach(function (e) { e.setAttribute("aria-label", words[e.dataset.tLabel]); });
  }
  document.querySelectorAll(".languages a").forEach(function (a) {
    if (a.hreflang === document.documentElement.lang) a.setAttribute("aria-current", "page");
  });

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
