// Labelled fields with their own error line, and problem+json errors mapped onto them.

import { h, replace } from "./dom.js";
import { capitalized, groupRupees } from "./format.js";

let fieldCount = 0;

/** A sentence from an API message: capital first letter, full stop at the end, ₹ grouped. */
export function sentence(text) {
  const trimmed = groupRupees(String(text || "").trim());
  if (!trimmed) return "";
  const first = capitalized(trimmed);
  return /[.!?…]$/.test(first) ? first : `${first}.`;
}

/**
 * A labelled input. Options: name, label, type, autocomplete, inputmode, hint,
 * optional, maxlength, multiline, prefix (e.g. "₹"), revealable (show/hide password).
 */
export function field(options) {
  fieldCount += 1;
  const id = `f-${options.name}-${fieldCount}`;
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [options.hint || options.maxlength ? hintId : null, errorId].filter(Boolean).join(" ");

  const attrs = {
    id,
    name: options.name,
    class: "input",
    autocomplete: options.autocomplete || "off",
    inputmode: options.inputmode,
    maxlength: options.maxlength,
    spellcheck: options.spellcheck === undefined ? null : String(options.spellcheck),
    autocapitalize: options.autocapitalize,
    "aria-describedby": describedBy,
    "aria-invalid": "false",
    required: options.optional ? null : true,
  };
  const input = options.multiline
    ? h("textarea", { ...attrs, rows: 2 })
    : h("input", { ...attrs, type: options.type || "text" });

  const label = h(
    "label",
    { htmlFor: id },
    options.label,
    options.optional ? h("span", { class: "optional", text: " (optional)" }) : null,
  );
  const error = h("p", { id: errorId, class: "field-error" });

  const row = h("div", { class: options.prefix ? "input-row amount-row" : "input-row" });
  if (options.prefix) row.append(h("span", { class: "currency", "aria-hidden": "true", text: options.prefix }));
  row.append(input);
  if (options.revealable) row.append(revealButton(input, id));

  let counter = null;
  let hint = null;
  if (options.hint || options.maxlength) {
    hint = h("div", { class: "hint-row", id: hintId });
    if (options.hint) hint.append(h("span", { class: "hint", text: options.hint }));
    if (options.maxlength) {
      counter = h("span", { class: "hint", "aria-hidden": "true" });
      const update = () => {
        counter.textContent = `${input.value.length}/${options.maxlength}`;
      };
      input.addEventListener("input", update);
      update();
      hint.append(counter);
    }
  }

  const wrapper = h("div", { class: "field" }, label, row, hint, error);

  const control = {
    name: options.name,
    wrapper,
    input,
    get value() {
      return input.value;
    },
    set value(text) {
      input.value = text;
      input.dispatchEvent(new Event("input"));
    },
    setError(message) {
      error.textContent = message || "";
      input.setAttribute("aria-invalid", message ? "true" : "false");
    },
    get hasError() {
      return input.getAttribute("aria-invalid") === "true";
    },
  };
  // an error goes away as soon as the person starts fixing it
  input.addEventListener("input", () => {
    if (control.hasError) control.setError("");
  });
  return control;
}

function revealButton(input, id) {
  const button = h("button", {
    type: "button",
    class: "input-toggle",
    "aria-controls": id,
    "aria-pressed": "false",
    "aria-label": "Show password",
    text: "Show",
  });
  button.addEventListener("click", () => {
    const reveal = input.type === "password";
    input.type = reveal ? "text" : "password";
    button.textContent = reveal ? "Hide" : "Show";
    button.setAttribute("aria-pressed", String(reveal));
    button.setAttribute("aria-label", reveal ? "Hide password" : "Show password");
  });
  return button;
}

/** A form-level message (role=alert so it is read out when it appears). */
export function formError() {
  const element = h("div", { class: "form-error", role: "alert" });
  return {
    element,
    /** Show `message`, followed by any nodes (a link to where it can be put right). */
    show(message, ...nodes) {
      replace(element, message || "", ...nodes);
    },
    clear() {
      element.textContent = "";
    },
  };
}

/** The fields of one form, by name. */
export class Fields {
  constructor(controls) {
    this.controls = Object.fromEntries(controls.map((control) => [control.name, control]));
  }

  get(name) {
    return this.controls[name];
  }

  clear() {
    for (const control of Object.values(this.controls)) control.setError("");
  }

  /** Show `{name: message}`; focus the first field in error. Returns whether any was shown. */
  show(messages) {
    let first = null;
    for (const control of Object.values(this.controls)) {
      const message = messages[control.name];
      if (message) {
        control.setError(message);
        first = first || control;
      }
    }
    first?.input.focus();
    return first !== null;
  }

  /**
   * Map a problem's `errors[]` (and, failing that, its `code`) onto the fields.
   * `messages` turns a code into words; `codeFields` names the field of a code
   * that comes without `errors[]` (e.g. `email_taken` -> "email").
   */
  showProblem(error, { messages = {}, codeFields = {} } = {}) {
    const found = {};
    for (const item of error.errors || []) {
      const name = String(item.field || "").split(".")[0];
      if (!this.controls[name] || found[name]) continue;
      found[name] = messages[item.code] || sentence(item.message) || "Check this field.";
    }
    const name = codeFields[error.code];
    if (name && this.controls[name] && !found[name]) {
      found[name] = messages[error.code] || sentence(error.problem?.detail);
    }
    return this.show(found);
  }
}

/** A failure in words, for a form-level message or an error state. */
export function errorText(error) {
  if (error?.name === "OfflineError") return "You are offline. Check your connection and try again.";
  if (error?.status === 503 || error?.status === 502 || error?.status === 504) {
    return "Tijori is having trouble, try again shortly.";
  }
  if (error?.status === 429) return "Too many requests. Please wait a moment and try again.";
  if (error?.problem?.detail) return sentence(error.problem.detail);
  return "Something went wrong. Please try again.";
}

/** Put a submit button into its busy state and back. */
export function busy(button, isBusy, busyText) {
  if (!button.dataset.label) button.dataset.label = button.textContent;
  button.disabled = isBusy;
  button.setAttribute("aria-busy", String(isBusy));
  if (isBusy) {
    button.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), busyText);
  } else {
    button.textContent = button.dataset.label;
  }
}
