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
