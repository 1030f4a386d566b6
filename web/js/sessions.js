// Sessions: where the user is logged in, ending any of them, and logging out everywhere else.

import { api } from "./api.js";
import { announce, h, heading, icon, replace, skeletonRows } from "./dom.js";
import { dateTime, shortDateTime } from "./format.js";
import { busy, errorText, formError } from "./forms.js";
import { errorState } from "./list.js";

const MOBILE_SYSTEMS = /\b(Android|iOS|iPadOS)\b/;

function sessionItem(item, onEnd) {
  const end = item.current
    ? null
    : h("button", {
        type: "button",
        class: "btn btn-secondary btn-small",
        text: "End",
        "aria-label": `End the session on ${item.device}`,
      });
  end?.addEventListener("click", () => onEnd(item, end));
  return h(
    "li",
    { class: "session-row", dataset: { testid: "session", current: String(item.current) } },
    h("span", { class: "session-icon" }, icon(MOBILE_SYSTEMS.test(item.device) ? "phone" : "laptop")),
    h(
      "div",
      { class: "session-main" },
      h(
        "div",
        { class: "session-name" },
        h("span", { text: item.device }),
        item.current ? h("span", { class: "badge badge-current", text: "This device" }) : null,
      ),
      h("p", {
        class: "session-sub",
        text: `${item.current ? "Active now" : `Last active ${shortDateTime(item.last_used_at)}`} · Logged in ${dateTime(item.created_at)}`,
      }),
    ),
    end,
  );
}

export function renderSessions(main, ctx) {
  const problem = formError();
  const done = h("p", { class: "notice", role: "status", hidden: true });
  const slot = h("div", {}, skeletonRows(2));
  const everywhere = h("button", {
    type: "button",
    class: "btn btn-secondary btn-block",
    text: "Log out everywhere else",
    hidden: true,
  });
  const footer = h(
    "div",
    { class: "sessions-footer", hidden: true },
    h("p", { class: "hint", text: "Lost a phone, or used a shared computer? End every session but this one." }),
    everywhere,
  );

  const say = (text) => {
    done.textContent = text;
    done.hidden = false;
    announce(text);
  };

  async function load() {
    let items;
    try {
      ({ items } = await api("/api/sessions", { signal: ctx.signal }));
    } catch (error) {
      if (ctx.signal.aborted || error?.status === 401) return;
      replace(slot, errorState("We couldn't load your sessions", error, load));
      return;
    }
    if (ctx.signal.aborted) return;
    // this device first, then the others as the API orders them (most recently used first)
    const ordered = [...items.filter((item) => item.current), ...items.filter((item) => !item.current)];
    const others = ordered.length - items.filter((item) => item.current).length;
    replace(
      slot,
      h("ul", { class: "list sessions", "aria-label": "Your sessions" }, ordered.map((item) => sessionItem(item, endOne))),
      others === 0 ? h("p", { class: "hint only-here", text: "You are not logged in anywhere else." }) : null,
    );
    footer.hidden = others === 0;
    everywhere.hidden = others === 0;
  }

  async function endOne(item, button) {
    problem.clear();
    done.hidden = true;
    busy(button, true, "Ending…");
    try {
      await api(`/api/sessions/${encodeURIComponent(item.id)}`, { method: "DELETE", signal: ctx.signal });
      say(`The session on ${item.device} has ended.`);
    } catch (error) {
      busy(button, false);
      if (error?.code !== "session_not_found") {
        problem.show(errorText(error));
        return;
      }
      say("That session had already ended.");
    }
    await load();
  }

  everywhere.addEventListener("click", async () => {
    problem.clear();
    done.hidden = true;
    busy(everywhere, true, "Logging out…");
    try {
      await api("/api/sessions", { method: "DELETE", signal: ctx.signal });
      busy(everywhere, false);
      say("You are logged out everywhere else. This device stays logged in.");
    } catch (error) {
      busy(everywhere, false);
      problem.show(errorText(error));
      return;
    }
    await load();
  });

  main.append(
    h(
      "section",
      { class: "screen narrow" },
      h("a", { class: "back-link", href: "#/security" }, icon("back"), "Security"),
      h(
        "div",
        { class: "screen-header" },
        heading("Sessions"),
        h("p", { text: "Where you are logged in. End any session you do not recognise." }),
      ),
      h("div", { class: "card" }, done, problem.element, slot, footer),
    ),
  );
  load();
  return { title: "Sessions" };
}
