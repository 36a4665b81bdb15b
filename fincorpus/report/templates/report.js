// Sort, filter and page the duplicates table, and open whatever a link points at. No libraries, no network.
(function () {
  "use strict";
  var table = document.getElementById("members");
  if (table) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var pageSize = 50, page = 0, matching = rows;
    var controls = {
      source: document.getElementById("filter-source"),
      reason: document.getElementById("filter-reason"),
      min: document.getElementById("filter-min"),
      max: document.getElementById("filter-max"),
      text: document.getElementById("filter-text")
    };
    var status = document.getElementById("members-status");
    var render = function () {
      var pages = Math.max(1, Math.ceil(matching.length / pageSize));
      page = Math.min(page, pages - 1);
      rows.forEach(function (row) { row.hidden = true; });
      matching.slice(page * pageSize, (page + 1) * pageSize).forEach(function (row) { row.hidden = false; });
      status.textContent = matching.length + " of " + rows.length + " rows · page " + (page + 1) + " of " + pages;
    };
    var filter = function () {
      var source = controls.source.value.trim().toLowerCase(), reason = controls.reason.value;
      var min = parseFloat(controls.min.value), max = parseFloat(controls.max.value);
      var text = controls.text.value.trim().toLowerCase();
      matching = rows.filter(function (row) {
        var similarity = parseFloat(row.dataset.similarity);
        return (!source || row.dataset.source.toLowerCase().indexOf(source) >= 0) &&
          (!reason || row.dataset.reason === reason) &&
          (isNaN(min) || similarity >= min) && (isNaN(max) || similarity <= max) &&
          (!text || row.dataset.search.toLowerCase().indexOf(text) >= 0);
      });
      page = 0;
      render();
    };
    Object.keys(controls).forEach(function (key) { controls[key].addEventListener("input", filter); });
    document.getElementById("members-prev").addEventListener("click", function () { page = Math.max(0, page - 1); render(); });
    document.getElementById("members-next").addEventListener("click", function () { page += 1; render(); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell, index) {
      if (!cell.dataset.sort) { return; }
      cell.addEventListener("click", function () {
        var ascending = cell.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) { other.removeAttribute("aria-sort"); });
        cell.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = cell.dataset.sort === "number";
        var key = function (row) {
          var value = row.cells[index].dataset.value || row.cells[index].textContent;
          return numeric ? parseFloat(value) : value;
        };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
        });
        rows.forEach(function (row) { body.appendChild(row); });
        filter();
      });
    });
    filter();
  }
  var reveal = function () {
    var target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    for (var node = target; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") { node.open = true; }
    }
    if (target) { target.scrollIntoView(); }
  };
  window.addEventListener("hashchange", reveal);
  reveal();
})();
