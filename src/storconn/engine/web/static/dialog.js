/* storconn web admin: a form opens in a native <dialog> over the list it belongs to.
 *
 * Ours (no build step). Progressive enhancement: a link marked `data-dialog` is a link to the
 * form's own page (Manage Domain, a storage connection) and stays one without JavaScript, with a
 * modifier key, or on a page without the dialog. Otherwise htmx loads the form into the page's
 * <dialog id="manage-dialog"> (the server answers the fragment alone for HX-Request) and the
 * dialog opens modal. It lives outside the table, so the rows' poll never closes or resets it;
 * the clicks are caught on the document, so rows the poll replaced keep opening it.
 *
 * - A refusal (4xx) for a form in a dialog is shown: htmx drops 4xx answers by default, but ours
 *   are the form again with the field named, or the engine's message (elements in [data-refusals]).
 * - Focus: the first field on open; after a refusal the first invalid field, else the message;
 *   on close, back to the link that opened it (the same link in new rows if the poll replaced it).
 * - After a save the server sends the notice to the page's status region and the event
 *   "storconn-saved": the dialog closes and the rows are fetched again.
 * - A poll that replaces the rows gives focus back to the same link or button in the new rows.
 */
(function () {
  "use strict";

  // A field the browser can judge (required, min, max) is named by the browser before htmx sends
  // anything; without this, htmx would silently not send the form.
  if (window.htmx) window.htmx.config.reportValidityOfForms = true;

  var opener = null; // {href, link}: what opened the dialog, to give focus back to
  var kept = null; // a selector for the focused element of rows being replaced

  function dialog() {
    return document.getElementById("manage-dialog");
  }

  function body() {
    return document.getElementById("dialog-body");
  }

  function closest(node, selector) {
    return node && node.closest ? node.closest(selector) : null;
  }

  function focusFirstField() {
    var field = body().querySelector(
      "input:not([type=hidden]):not(:disabled), select:not(:disabled), textarea:not(:disabled)"
    );
    if (field) field.focus();
  }

  function focusProblem() {
    var target =
      body().querySelector('[aria-invalid="true"]') || body().querySelector("#problem .notice");
    if (target) target.focus();
  }

  function giveFocusBack() {
    var active = document.activeElement;
    if (!opener || dialog().open || (active && active !== document.body)) return; // the user moved on
    var link = opener.link.isConnected
      ? opener.link
      : document.querySelector('a[data-dialog][href="' + CSS.escape(opener.href) + '"]');
    if (link) link.focus();
  }

  var loading = false; // a second click while the form loads opens nothing twice

  function open(link) {
    var d = dialog();
    if (loading) return;
    loading = true;
    opener = { href: link.getAttribute("href"), link: link };
    window.htmx
      .ajax("GET", opener.href, { source: d, target: body(), swap: "innerHTML" })
      .then(function () {
        loading = false;
        if (!body().querySelector("form")) {
          window.location.assign(opener.href); // refused (the domain is gone): its page says why
          return;
        }
        if (!d.open) d.showModal();
        focusFirstField();
      }, function () {
        loading = false;
        window.location.assign(opener.href);
      });
  }

  function refreshRows() {
    document.querySelectorAll("[data-rows], tbody[hx-get]").forEach(function (rows) {
      var url = rows.getAttribute("data-rows") || rows.getAttribute("hx-get");
      window.htmx
        .ajax("GET", url, { source: rows, target: rows, swap: "innerHTML" })
        .then(giveFocusBack);
    });
  }

  document.addEventListener("click", function (event) {
    var d = dialog();
    if (!d || !window.htmx) return;
    var link = closest(event.target, "a[data-dialog]");
    if (link && !d.open) {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
        return; // a new tab or window: the form's own page
      }
      event.preventDefault();
      open(link);
      return;
    }
    if (closest(event.target, "[data-dialog-close]") && d.contains(event.target)) d.close();
  });

  // Escape, Cancel or the close button: the form goes (its ids with it) and focus goes back.
  // "close" does not bubble: caught on its way down.
  document.addEventListener(
    "close",
    function (event) {
      if (event.target !== dialog()) return;
      body().replaceChildren();
      giveFocusBack();
    },
    true
  );

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var status = detail.xhr.status;
    var asker = detail.requestConfig ? detail.requestConfig.elt : null; // the form or its Test button
    if (status >= 400 && status < 500 && closest(asker, "[data-refusals]")) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
    kept = null;
    var active = document.activeElement;
    var d = dialog();
    if (!active || active === document.body || !detail.target.contains(active)) return;
    if (d && d.contains(detail.target)) return;
    if (active.getAttribute("href")) {
      kept = '[href="' + CSS.escape(active.getAttribute("href")) + '"]';
    } else if (active.getAttribute("aria-label")) {
      kept = '[aria-label="' + CSS.escape(active.getAttribute("aria-label")) + '"]';
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var selector = kept;
    kept = null;
    if (!selector || (document.activeElement && document.activeElement !== document.body)) return;
    var again = event.detail.target.querySelector(selector);
    if (again) again.focus({ preventScroll: true });
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var d = dialog();
    if (!d || !d.open || !d.contains(event.detail.target)) return;
    if (event.detail.xhr && event.detail.xhr.status >= 400) {
      focusProblem();
    } else if (event.detail.target === body()) {
      focusFirstField(); // the form for another storage type
    }
  });

  document.addEventListener("storconn-saved", function () {
    var d = dialog();
    if (d && d.open) d.close();
    refreshRows();
  });
})();
