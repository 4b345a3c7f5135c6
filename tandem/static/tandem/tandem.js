// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("submit", function (event) {
  // Guard against double submits: disable the button once the form is on its way.
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.dataset.allowResubmit !== undefined) return;
  const buttons = form.querySelectorAll("button[type=submit], input[type=submit]");
  window.setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
});

// On a phone the main menu folds behind a "Menu" button (without JavaScript it stays open).
document.addEventListener("DOMContentLoaded", function () {
  const button = document.querySelector(".menu-toggle");
  if (!button) return;
  button.hidden = false;
  document.documentElement.classList.add("js-menu");
  button.addEventListener("click", function () {
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
  });
});

// Menu groups ("More", "Account") are <details>: they work without JavaScript. With it, only
// one is open at a time, and Escape or a click elsewhere closes them (Escape returns focus).
document.addEventListener("toggle", function (event) {
  const group = event.target;
  if (!(group instanceof HTMLDetailsElement) || !group.classList.contains("menu-group")) return;
  if (!group.open) return;
  document.querySelectorAll("details.menu-group[open]").forEach(function (other) {
    if (other !== group) other.open = false;
  });
}, true);
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  document.querySelectorAll("details.menu-group[open]").forEach(function (group) {
    group.open = false;
    if (group.contains(document.activeElement)) group.querySelector("summary").focus();
  });
});
document.addEventListener("click", function (event) {
  document.querySelectorAll("details.menu-group[open]").forEach(function (group) {
    if (!group.contains(event.target)) group.open = false;
  });
});

// Tables: every table sits in a scroll region a keyboard can reach (tabindex, role, name),
// and on a phone each cell shows its column header (CSS turns rows into cards under 48rem).
function tandemTables(root) {
  root.querySelectorAll("main table").forEach(function (table, index) {
    let wrap = table.parentElement;
    if (!wrap.classList.contains("table-wrap")) {
      wrap = document.createElement("div");
      wrap.className = "table-wrap";
      table.parentNode.insertBefore(wrap, table);
      wrap.appendChild(table);
    }
    if (!wrap.hasAttribute("tabindex")) wrap.setAttribute("tabindex", "0");
    if (!wrap.hasAttribute("role")) wrap.setAttribute("role", "region");
    if (!wrap.hasAttribute("aria-label") && !wrap.hasAttribute("aria-labelledby")) {
      const caption = table.querySelector("caption");
      const heading = table.getAttribute("aria-label") || (caption && caption.textContent.trim());
      let name = heading;
      if (!name) {
        const section = wrap.closest("section, .panel, main");
        const h = section && section.querySelector("h1, h2, h3");
        name = h ? h.textContent.trim() : "Table " + (index + 1);
      }
      wrap.setAttribute("aria-label", name + " (table)");
    }
    const headers = Array.from(table.querySelectorAll("thead th")).map(function (th) {
      return th.textContent.trim();
    });
    if (!headers.length || table.classList.contains("no-cards")) return;
    table.classList.add("cards-on-phone");
    table.querySelectorAll("tbody tr").forEach(function (row) {
      let column = 0;
      Array.from(row.children).forEach(function (cell) {
        const label = headers[column];
        if (label && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", label);
        column += cell.colSpan || 1;
      });
    });
  });
}
document.addEventListener("DOMContentLoaded", function () { tandemTables(document); });
document.addEventListener("htmx:afterSwap", function (event) { tandemTables(event.target); });

// A failed form: the error summary takes focus so a screen reader and the eye land on it.
// Forms whose template has no summary get one built from their field errors.
function tandemErrorSummary() {
  let summary = document.querySelector(".error-summary");
  if (!summary) {
    const invalid = Array.from(document.querySelectorAll("main [aria-invalid=true]"));
    if (!invalid.length) return;
    summary = document.createElement("div");
    summary.className = "error-summary";
    summary.setAttribute("tabindex", "-1");
    summary.setAttribute("role", "alert");
    const title = document.createElement("h2");
    title.textContent = invalid.length === 1 ? "There is a problem with this form"
      : "There are " + invalid.length + " problems with this form";
    const list = document.createElement("ul");
    invalid.forEach(function (field) {
      const label = document.querySelector("label[for='" + field.id + "']");
      const errors = field.closest(".field, p, div") &&
        field.closest(".field, p, div").querySelector(".errorlist");
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "#" + field.id;
      link.textContent = (label ? label.textContent.trim() + ": " : "") +
        (errors ? errors.textContent.trim() : "check this field");
      item.appendChild(link);
      list.appendChild(item);
    });
    summary.append(title, list);
    const form = invalid[0].closest("form");
    form.parentNode.insertBefore(summary, form);
  }
  summary.focus();
}
document.addEventListener("DOMContentLoaded", tandemErrorSummary);

// Folded sections: a link to #section (or to anything inside one) opens it; on a wide
// screen the sections marked data-open-wide start open.
function tandemOpenTarget() {
  const id = decodeURIComponent(window.location.hash.slice(1));
  const target = id && document.getElementById(id);
  const fold = target && target.closest("details");
  if (fold) fold.open = true;
}
document.addEventListener("DOMContentLoaded", function () {
  if (window.matchMedia("(min-width: 64rem)").matches) {
    document.querySelectorAll("details.fold[data-open-wide]").forEach(function (d) { d.open = true; });
  }
  tandemOpenTarget();
});
window.addEventListener("hashchange", tandemOpenTarget);
