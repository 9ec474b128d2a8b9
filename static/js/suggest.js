// Search boxes with an htmx suggestion list (the header search and every graph search box):
// arrows move through the suggestions, Enter opens the selected one, Escape closes the list.
// In a graph search box Enter with nothing selected picks the first suggestion for what the box
// holds (once it has arrived) instead of submitting the form, which would leave the graph page.
// Also keeps each checkbox dropdown's summary ("All kinds", "2 kinds") true to its boxes.
(function () {
  "use strict";

  var BOXES = ".global-search, .graph-search";

  function listOf(input) {
    var box = input.closest(BOXES);
    return box ? box.querySelector(".suggestions") : null;
  }

  function options(list) {
    return Array.prototype.slice.call(list.querySelectorAll("[role=option]"));
  }

  function select(input, list, index) {
    var items = options(list);
    items.forEach(function (item, i) {
      if (!item.id) item.id = list.id + "-option-" + i;
      item.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0 && items[index]) {
      input.setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function selectedIndex(list) {
    var items = options(list);
    for (var i = 0; i < items.length; i++) {
      if (items[i].getAttribute("aria-selected") === "true") return i;
    }
    return -1;
  }

  function open(item) {
    var link = item && item.querySelector("a");
    if (link) link.click();
  }

  function onKey(event) {
    var input = event.target;
    if (!input.matches || !input.matches(".global-search input[type=search], .graph-search input[type=search]")) return;
    var list = listOf(input);
    if (!list) return;
    var items = options(list);
    var current = selectedIndex(list);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!items.length) return;
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      var next = current + step;
      if (next >= items.length) next = 0;
      if (next < 0) next = items.length - 1;
      select(input, list, next);
    } else if (event.key === "Enter") {
      var inGraph = !!input.closest(".graph-search");
      if (current >= 0) {
        event.preventDefault();
        open(items[current]);
      } else if (inGraph) {
        event.preventDefault();
        // Ask again for what the box holds now: the list on screen may answer an older query.
        list.setAttribute("data-pick-first", "true");
        if (window.htmx) window.htmx.trigger(input.closest("form"), "search");
      }
    } else if (event.key === "Escape") {
      list.innerHTML = "";
      input.removeAttribute("aria-activedescendant");
    }
  }

  function onSwap(event) {
    var list = event.detail && event.detail.target;
    if (!list || !list.classList || !list.classList.contains("suggestions")) return;
    var box = list.closest(BOXES);
    var input = box && box.querySelector("input[type=search]");
    if (input) input.removeAttribute("aria-activedescendant");
    if (list.getAttribute("data-pick-first") === "true") {
      list.removeAttribute("data-pick-first");
      open(options(list)[0]);
    }
  }

  function summarise(details) {
    var summary = details.querySelector("summary");
    var boxes = Array.prototype.slice.call(details.querySelectorAll("input[type=checkbox]"));
    if (!summary || !boxes.length) return;
    var ticked = boxes.filter(function (box) {
      return box.checked;
    }).length;
    var noun = details.getAttribute("data-noun") || "item";
    var nouns = details.getAttribute("data-nouns") || noun + "s";
    if (ticked === boxes.length || (ticked === 0 && details.hasAttribute("data-none-is-all"))) {
      summary.textContent = "All " + nouns;
    } else {
      summary.textContent = ticked + " " + (ticked === 1 ? noun : nouns);
    }
  }

  function onChange(event) {
    var details = event.target.closest && event.target.closest("details[data-noun]");
    if (details) summarise(details);
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("htmx:afterSwap", onSwap);
  document.addEventListener("change", onChange);
})();
